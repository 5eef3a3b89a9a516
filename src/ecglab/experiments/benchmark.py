"""``ecglab benchmark``: train and evaluate a list of models on one protocol, then a leaderboard.

    runs/NAME/
      LABEL/              one ordinary run directory per entry (report/, bundle/, predictions.npz …)
      LABEL/timing.json   training wall time of the entry
      leaderboard.md      the entries side by side, bootstrap 95 % CIs on the test split
      leaderboard.csv     the same numbers, one column per value

Resumable: an entry whose bundle and report exist is skipped, provided its saved config.yaml is
the entry's resolved config (a finished entry with another config is an error: its results would
not be this protocol's); one with checkpoints but no bundle (interrupted) continues from its last
checkpoint; the others start. ``--models`` limits what is trained now; the leaderboard always
lists every finished entry.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from ecglab.errors import ConfigError
from ecglab.datasets.core.aami import AAMI_CLASSES
from ecglab.evaluation.tables import aami_scores
from ecglab.evaluation.tables import fmt
from ecglab.experiments.protocol import Benchmark
from ecglab.training.config import RunConfig

LEADERBOARD = "leaderboard"
TIMING = "timing.json"
CI_METRICS = ("macro_auroc", "macro_auprc", "macro_f1")  # the metrics whose CIs the run report bootstraps
EXTRA_METRICS = {"multiclass": ("accuracy", "balanced_accuracy"), "multilabel": ("fmax",)}


def is_finished(config: RunConfig) -> bool:
    return (config.run_dir / "bundle" / "bundle.json").is_file() and (config.run_dir / "report" / "metrics.json").is_file()


def changed_entries(benchmark: Benchmark) -> dict[str, list[str]]:
    """Finished entries whose saved config.yaml is not the entry's resolved config, with the keys that differ."""
    from ecglab.training.fit import config_differences

    changed = {}
    for label, config in benchmark.runs.items():
        if is_finished(config):
            keys = config_differences(config, config.run_dir)
            if keys:
                changed[label] = keys
    return changed


def check_finished_entries(benchmark: Benchmark) -> None:
    """Every finished entry (selected or not: they share the leaderboard) must have the config it resolves to now."""
    changed = changed_entries(benchmark)
    if changed:
        details = "; ".join(f"{label} ({', '.join(keys)})" for label, keys in changed.items())
        runs = " ".join(str(benchmark.runs[label].run_dir) for label in changed)
        raise ConfigError(f"benchmark {benchmark.name!r}: finished entries were trained with another configuration than "
                          f"they resolve to now, so their results are not this protocol's: {details}. Write this variant "
                          f"to another directory (--set out_dir=… or --set name=…), or remove {runs} to train again.")


def run_benchmark(benchmark: Benchmark, progress: bool = True) -> pd.DataFrame:
    """Train every selected unfinished entry, then write and return the leaderboard of every finished entry."""
    from ecglab.training.fit import latest_checkpoint, train

    check_finished_entries(benchmark)
    pending = {label: config for label, config in benchmark.selected_runs.items() if not is_finished(config)}
    with _BenchmarkDisplay(benchmark, pending, progress) as display:
        for position, (label, config) in enumerate(pending.items(), 1):
            display.start(position, label, config)
            if progress:  # one display for the whole benchmark instead of Lightning's per-run bars
                config = config.model_copy(update={"trainer": config.trainer.model_copy(update={"progress": False})})
            resume = latest_checkpoint(config.run_dir / "checkpoints") is not None
            started = time.perf_counter()
            train(config, resume=resume, callbacks=display.callbacks())
            _add_timing(config.run_dir, time.perf_counter() - started)
            display.finish()
    return write_leaderboard(benchmark)


def _add_timing(run_dir: Path, seconds: float) -> None:
    path = run_dir / TIMING
    before = json.loads(path.read_text())["train_seconds"] if path.is_file() else 0.0
    path.write_text(json.dumps({"train_seconds": round(before + seconds, 1)}))


def leaderboard_rows(benchmark: Benchmark) -> pd.DataFrame:
    """One row per finished entry, best test macro AUROC first."""
    rows = [_row(label, config) for label, config in benchmark.runs.items() if is_finished(config)]
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values("macro_auroc", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    return table


def _row(label: str, config: RunConfig) -> dict:
    from ecglab.inference.bundle import load_bundle
    from ecglab.models.summary import count_parameters

    report = json.loads((config.run_dir / "report" / "metrics.json").read_text())
    model, spec = load_bundle(config.run_dir / "bundle")
    test, kind = report["test"], report["kind"]
    timing = config.run_dir / TIMING
    row = {"model": label, "architecture": spec.architecture, "params": count_parameters(model),
           "train_minutes": round(json.loads(timing.read_text())["train_seconds"] / 60, 2) if timing.is_file() else None,
           "n_test": test["n_records"]}
    intervals = report.get("bootstrap", {}).get("metrics", {})
    for name in CI_METRICS:
        ci = intervals.get(name, {})
        row.update({name: test[name], f"{name}_low": ci.get("low"), f"{name}_high": ci.get("high")})
    if "test_tuned" in report:
        row["macro_f1_tuned"] = report["test_tuned"]["macro_f1"]
    row.update({name: test.get(name) for name in EXTRA_METRICS[kind]})
    if kind == "multiclass" and report["classes"] == AAMI_CLASSES:
        for name, scores in aami_scores(test["confusion_matrix"], AAMI_CLASSES).items():  # in percent
            row[f"Se_{name}"] = None if scores["se"] is None else 100 * scores["se"]
            row[f"+P_{name}"] = None if scores["ppv"] is None else 100 * scores["ppv"]
    return row


def write_leaderboard(benchmark: Benchmark) -> pd.DataFrame:
    table = leaderboard_rows(benchmark)
    benchmark.directory.mkdir(parents=True, exist_ok=True)
    table.to_csv(benchmark.directory / f"{LEADERBOARD}.csv", index=False)
    (benchmark.directory / f"{LEADERBOARD}.md").write_text(leaderboard_markdown(benchmark, table))
    return table


def leaderboard_markdown(benchmark: Benchmark, table: pd.DataFrame) -> str:
    first = next(iter(benchmark.runs.values()))
    missing = [label for label, config in benchmark.runs.items() if not is_finished(config)]
    lines = [f"# Benchmark {benchmark.name}", "",
             f"Data: `{first.data.path}`, test split `{first.data.test_split}`. Metrics on the test split; "
             "brackets: percentile bootstrap 95 % CIs over the test rows (records; beats for beat tasks), from each run's report.", ""]
    if missing:
        lines += [f"Not finished yet: {', '.join(missing)}.", ""]
    if not len(table):
        return "\n".join(lines) + "\n"
    columns = ["model", "architecture", "params", "train min"] + [_label(n) for n in CI_METRICS]
    extra = [c for c in ("macro_f1_tuned", "accuracy", "balanced_accuracy", "fmax") if c in table.columns]
    columns += [_label(c) for c in extra]
    rows = []
    for _, row in table.iterrows():
        cells = [f"`{row['model']}`", row["architecture"], f"{int(row['params']):,}", fmt(_value(row["train_minutes"]), 1)]
        cells += [f"{fmt(_value(row[n]))} ({fmt(_value(row[f'{n}_low']))}–{fmt(_value(row[f'{n}_high']))})"
                  for n in CI_METRICS]
        cells += [fmt(_value(row[c])) for c in extra]
        rows.append(cells)
    lines += [_table(columns, rows), ""]
    if "Se_N" in table.columns:
        lines += ["AAMI EC57 per-class sensitivity (Se) and positive predictivity (+P), %, at the argmax decision:", ""]
        header = ["model"] + [f"{kind} {name}" for name in AAMI_CLASSES for kind in ("Se", "+P")]
        aami = [[f"`{row['model']}`"] + [fmt(_value(row[f"{kind}_{name}"]), 1) for name in AAMI_CLASSES
                                         for kind in ("Se", "+P")] for _, row in table.iterrows()]
        lines += [_table(header, aami), ""]
    return "\n".join(lines) + "\n"


def _label(name: str) -> str:
    from ecglab.evaluation.tables import HEADLINE_NAMES

    return HEADLINE_NAMES.get(name, name.replace("_", " ")) if name != "macro_f1_tuned" else "macro F1, tuned thresholds"


def _value(value):
    return None if value is None or pd.isna(value) else float(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


class _BenchmarkDisplay:
    """A rich progress bar over the epochs of every pending entry, advanced by a Lightning callback."""

    def __init__(self, benchmark: Benchmark, pending: dict[str, RunConfig], enabled: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

        self.enabled, self.n_entries, self.n_skipped = enabled, len(pending), len(benchmark.selected) - len(pending)
        self.bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), "epochs",
                            TimeElapsedColumn(), TimeRemainingColumn(), disable=not enabled)
        total = sum(config.trainer.max_epochs for config in pending.values())
        self.task = self.bar.add_task(f"benchmark {benchmark.name}", total=max(total, 1))
        self.label, self.allotted, self.done_in_entry = "", 0, 0

    def __enter__(self):
        self.bar.start()
        if self.n_skipped:
            self.bar.console.print(f"{self.n_skipped} finished entries skipped (bundle and report exist, same config).")
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def start(self, position: int, label: str, config: RunConfig) -> None:
        self.label, self.allotted, self.done_in_entry = f"[{position}/{self.n_entries}] {label}", config.trainer.max_epochs, 0
        self.bar.update(self.task, description=f"{self.label}: starting")

    def epoch_done(self, epoch: int, auroc: float | None) -> None:
        self.done_in_entry += 1
        score = "" if auroc is None else f", val AUROC {auroc:.3f}"
        self.bar.update(self.task, advance=1, description=f"{self.label}: epoch {epoch + 1}{score}")

    def finish(self) -> None:
        self.bar.update(self.task, advance=max(self.allotted - self.done_in_entry, 0))  # early stopping ends sooner
        self.bar.console.print(f"{self.label} done")

    def callbacks(self) -> list:
        if not self.enabled:
            return []
        from lightning.pytorch.callbacks import Callback

        from ecglab.training.module import MONITOR

        display = self

        class EpochProgress(Callback):
            def on_validation_end(self, trainer, pl_module):  # after the module has logged this epoch's metrics
                if trainer.sanity_checking:
                    return
                value = trainer.callback_metrics.get(MONITOR)
                display.epoch_done(trainer.current_epoch, None if value is None else float(value))

        return [EpochProgress()]
