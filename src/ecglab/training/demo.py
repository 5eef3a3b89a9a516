"""``ecglab demo``: the whole pipeline on built-in synthetic data, in a few minutes on a laptop CPU.

The steps run here; what the user sees of them is the caller's (the command line passes ``show``),
so the core never imports the command line.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Callable

import yaml

from ecglab.training.config import validate_config


def demo_config(out: Path, epochs: int | None = None, n: int = 2000) -> dict:
    raw = yaml.safe_load(resources.files("ecglab.configs").joinpath("demo.yaml").read_text())
    raw["out_dir"] = str(out)
    raw["data"]["path"] = str(out / "demo-data")
    raw["data"]["prepare"]["options"]["n"] = n
    if epochs is not None:
        raw["trainer"]["max_epochs"] = epochs
    return raw


def run_demo(out: Path, epochs: int | None = None, n: int = 2000, resume: bool = False,
             show: Callable[[str, object], None] | None = None):
    """Prepare, train, evaluate and export; returns the RunResult. ``show(stage, payload)`` hears each
    stage as it ends: ``("data", PreparedDataset)``, ``("training", RunConfig)``, ``("result", RunResult)``,
    ``("done", seconds)``."""
    from ecglab.training.fit import ensure_dataset, train

    show = show or (lambda stage, payload: None)
    start = time.perf_counter()
    config = validate_config(demo_config(Path(out), epochs, n), source="demo config")
    show("data", ensure_dataset(config.data))
    show("training", config)
    if not resume and (config.run_dir / "checkpoints").exists():
        import shutil

        shutil.rmtree(config.run_dir)  # the demo always starts clean unless asked to resume
    result = train(config, resume=resume)
    show("result", result)
    show("done", time.perf_counter() - start)
    return result
