"""What a training run returns: where its report and bundle went, and its test metrics.

Its own module so that fitting (which returns it) and evaluating (which builds it) need not import
each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunResult:
    run_dir: Path
    report: dict  # the whole metrics.json: test, test_tuned, bootstrap, calibration, baseline, …
    bundle_dir: Path
    report_dir: Path

    @property
    def metrics(self) -> dict:
        """Test-split metrics at the default decision rule."""
        return self.report["test"]
