"""The demo as `make demo` runs it: synthetic data → resnet1d → held-out patients, far above a trivial baseline."""

import json

import numpy as np
import pytest

from ecglab.datasets.synthetic import generate_records
from ecglab.inference.predictor import Predictor
from ecglab.records import STANDARD_12_LEADS, Record
from ecglab.training.demo import run_demo


@pytest.mark.slow
def test_demo_reaches_its_quality_target_and_beats_the_baseline(tmp_path):
    result = run_demo(tmp_path)
    report = json.loads((result.report_dir / "metrics.json").read_text())
    assert report["test"]["macro_auroc"] >= 0.90
    assert report["baseline"]["macro_auroc"] <= report["test"]["macro_auroc"] - 0.15
    assert "Baseline" in (result.report_dir / "report.md").read_text()
    for figure in ("roc.png", "pr.png", "confusion.png", "learning_curves.png"):
        assert (result.report_dir / figure).stat().st_size > 10_000
    # the exported bundle classifies new patients' records from another sampling rate
    signals, labels, _ = generate_records(30, fs=500, seed=99)
    predictor = Predictor.load(result.bundle_dir)
    decisions = np.array([predictor.predict(Record(s, 500, STANDARD_12_LEADS)).decisions for s in signals], dtype=int)
    assert (decisions == labels).all(axis=1).mean() >= 0.6
