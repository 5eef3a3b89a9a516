"""``ecglab demo | train | evaluate``: training and evaluation runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ecglab.cli.common import examples


def register(app: typer.Typer) -> None:
    @app.command(epilog=examples(
        "ecglab demo",
        "ecglab demo --epochs 2 --out runs",
    ))
    def demo(
        out: Path = typer.Option(Path("runs"), help="where the demo's data and run directory go"),
        epochs: Optional[int] = typer.Option(None, help="override the number of training epochs"),
        n: int = typer.Option(2000, "--n", help="number of synthetic records"),
        resume: bool = typer.Option(False, help="continue an interrupted demo run"),
    ):
        """Prepare synthetic 12-lead ECGs, train resnet1d, evaluate on held-out patients, export a bundle."""
        from ecglab.training.demo import run_demo

        run_demo(out, epochs=epochs, n=n, resume=resume, show=_DemoScreen())

    @app.command(epilog=examples(
        "ecglab train configs/mitbih-kachuee.yaml",
        "ecglab train configs/ptbxl-attention.yaml --set trainer.max_epochs=3 --set optim.lr=0.001",
        "ecglab train configs/mitbih-kachuee.yaml --resume    # after a crash: continue from the last checkpoint",
    ))
    def train(
        config: Path = typer.Argument(..., help="YAML run configuration (see configs/)"),
        set_: List[str] = typer.Option([], "--set", help="override a config key: KEY=VALUE, e.g. trainer.max_epochs=5"),
        resume: bool = typer.Option(False, "--resume", help="continue the run from its last checkpoint"),
        devices: Optional[str] = typer.Option(None, help="Lightning devices, e.g. 1, 2 or auto"),
        accelerator: Optional[str] = typer.Option(None, help="cpu | gpu | auto"),
        precision: Optional[str] = typer.Option(None, help="e.g. 32-true, bf16-mixed, 16-mixed"),
        strategy: Optional[str] = typer.Option(None, help="auto | ddp | ddp_spawn …"),
        num_nodes: Optional[int] = typer.Option(None, "--num-nodes", help="machines for multi-node DDP"),
        init_from: Optional[Path] = typer.Option(None, "--init-from", help="start from this bundle (transfer learning)"),
        freeze: Optional[str] = typer.Option(None, help="with --init-from: trunk | none"),
    ):
        """Train a model as a YAML config says; writes checkpoints, logs, a report and a bundle."""
        from ecglab.training.config import load_config
        from ecglab.training.fit import train as run_train

        flags = dict(devices=devices, accelerator=accelerator, precision=precision, strategy=strategy, num_nodes=num_nodes)
        overrides = list(set_) + [f"trainer.{k}={v}" for k, v in flags.items() if v is not None]
        overrides += [f"model.init_from={init_from}"] if init_from else []
        overrides += [f"model.freeze={freeze}"] if freeze else []
        run_config = load_config(config, overrides)
        if run_config.ensemble is not None:
            from ecglab.experiments.ensemble import train_ensemble as run_train
        result = run_train(run_config, resume=resume)
        if result is not None:
            show_result(result)

    @app.command(epilog=examples(
        "ecglab evaluate runs/demo --data runs/demo-data",
        "ecglab evaluate path/to/bundle --data data/ptbxl --split test --out eval/",
    ))
    def evaluate(
        bundle: Path = typer.Argument(..., help="a bundle directory, or a run directory holding bundle/"),
        data: Path = typer.Option(..., "--data", help="prepared dataset to evaluate on"),
        split: str = typer.Option("test", help="split to evaluate"),
        out: Optional[Path] = typer.Option(None, help="report directory (default: next to the bundle)"),
        n_boot: int = typer.Option(200, "--n-boot", min=0, help="bootstrap resamples for confidence intervals"),
    ):
        """Evaluate a trained model on a prepared dataset split: metrics.json, report.md, plots."""
        from ecglab.cli.common import console
        from ecglab.evaluation import format_metrics_table
        from ecglab.training.evaluate import evaluate_bundle

        report, report_dir = evaluate_bundle(bundle, data, split, out, n_boot=n_boot)
        console().print(format_metrics_table(report["test"], report["classes"]))
        console().print(f"report: {report_dir / 'report.md'}")


class _DemoScreen:
    """Prints the demo's stages as :func:`ecglab.training.demo.run_demo` reports them."""

    def __init__(self):
        from ecglab.cli.common import console

        self.screen, self.model = console(), ""

    def __call__(self, stage: str, payload) -> None:
        from ecglab.cli.prepare import show_summary

        if stage == "data":
            self.screen.rule("1. synthetic data (patients split into train / val / test)")
            show_summary(payload)
        elif stage == "training":
            self.model = payload.model.name
            self.screen.rule(f"2. training {self.model} for up to {payload.trainer.max_epochs} epochs")
        elif stage == "result":
            self.screen.rule("3. test metrics (held-out patients)")
            show_result(payload)
            baseline = payload.report.get("baseline")
            if baseline:
                self.screen.print(f"trivial baseline ({baseline['name']}): macro AUROC {baseline['macro_auroc']:.3f} "
                                  f"vs {self.model} {payload.metrics['macro_auroc']:.3f}")
        elif stage == "done":
            self.screen.print(f"demo finished in {payload:.0f} s")


def show_result(result) -> None:
    from ecglab.cli.common import console
    from ecglab.evaluation import format_metrics_table

    out = console()
    out.print(format_metrics_table(result.metrics, result.report["classes"]))
    out.print(f"report:  {result.report_dir / 'report.md'}  (plots beside it)")
    out.print(f"bundle:  {result.bundle_dir}   → ecglab predict {result.bundle_dir} FILE")
    logs = result.run_dir / "logs" if (result.run_dir / "logs").is_dir() else result.run_dir  # an ensemble: member-K/logs
    out.print(f"logs:    {logs}   (tensorboard --logdir {logs})")
