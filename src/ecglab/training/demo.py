"""``ecglab demo``: the whole pipeline on built-in synthetic data, in a few minutes on a laptop CPU."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

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


def run_demo(out: Path, epochs: int | None = None, n: int = 2000, resume: bool = False):
    from ecglab.cli.common import console
    from ecglab.cli.prepare import show_summary
    from ecglab.cli.run import show_result
    from ecglab.training.fit import ensure_dataset, train

    start = time.perf_counter()
    config = validate_config(demo_config(Path(out), epochs, n), source="demo config")
    screen = console()
    screen.rule("1. synthetic data (patients split into train / val / test)")
    show_summary(ensure_dataset(config.data))
    screen.rule(f"2. training {config.model.name} for up to {config.trainer.max_epochs} epochs")
    if not resume and (config.run_dir / "checkpoints").exists():
        import shutil

        shutil.rmtree(config.run_dir)  # the demo always starts clean unless asked to resume
    result = train(config, resume=resume)
    screen.rule("3. test metrics (held-out patients)")
    show_result(result)
    baseline = result.report.get("baseline")
    if baseline:
        screen.print(f"trivial baseline ({baseline['name']}): macro AUROC {baseline['macro_auroc']:.3f} "
                     f"vs {config.model.name} {result.metrics['macro_auroc']:.3f}")
    screen.print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return result
