"""``ecglab measure | evaluate-delineation``: ECG measurements from the delineation model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ecglab.cli.common import examples

UNITS = {"heart_rate_bpm": "bpm", "rr_ms": "ms", "pr_ms": "ms", "p_ms": "ms", "qrs_ms": "ms", "qt_ms": "ms",
         "qtc_bazett_ms": "ms", "qtc_fridericia_ms": "ms", "p_axis_deg": "°", "qrs_axis_deg": "°", "t_axis_deg": "°"}


def register(app: typer.Typer) -> None:
    @app.command(
        epilog=examples(
            "ecglab measure ludb/data/1.hea",
            "ecglab measure ptbxl/records500/00000/00001_hr.hea ecg.npy --fs 500 --json > measurements.jsonl",
        ),
    )
    def measure(
        files: List[Path] = typer.Argument(..., help="ECG files (any supported format) or directories of them"),
        json_output: bool = typer.Option(False, "--json", help="one JSON object per file and line: file, waves, measurements, reasons, beat_counts"),
        bundle: Optional[Path] = typer.Option(None, "--bundle", help="delineation bundle (default: the shipped ludb-delineator)"),
        fs: Optional[float] = typer.Option(None, "--fs", help="sampling rate for files that do not store one"),
        leads: Optional[str] = typer.Option(None, "--leads", help="the files' lead names in order (replacing stored names)"),
    ):
        """Heart rate, PR, QRS, QT/QTc and P/QRS/T axes from the P, QRS and T waves the delineator finds.

        A value that cannot be measured (no P wave in atrial fibrillation, a flat or short record) is
        null, with the reason; waves are in samples of each file's own rate."""
        import json

        from ecglab.cli.common import parse_list
        from ecglab.errors import EcglabError
        from ecglab.measure.api import measure as run
        from ecglab.records import read_record
        from ecglab.records.detect import record_files

        failed = []
        paths = record_files(files)
        for path in paths:
            try:  # one unreadable file must not cost the others their measurements
                result = run(read_record(path, fs=fs, leads=parse_list(leads)), bundle)
            except EcglabError as exc:
                failed.append(path)
                print(json.dumps({"file": str(path), "error": str(exc)}) if json_output else f"error: {exc}",
                      file=sys.stdout if json_output else sys.stderr)
                continue
            result.file = str(path)
            if json_output:
                print(json.dumps(result.to_dict()))
            else:
                show_measurements(result)
        if failed:
            raise EcglabError(f"{len(failed)} of {len(paths)} files could not be measured: {', '.join(map(str, failed))}.")

    @app.command(
        "evaluate-delineation",
        epilog=examples(
            "ecglab evaluate-delineation ludb-delineator ludb/ --prepared data/ludb --split test",
            "ecglab evaluate-delineation runs/unet ludb/ --records 1,2,3 --nk-method none --json",
        ),
    )
    def evaluate_delineation(
        bundle: Path = typer.Argument(..., help="delineation bundle directory or shipped name (ludb-delineator)"),
        source: Path = typer.Argument(..., help="a LUDB-style folder: ludb.csv, RECORDS, data/N.hea + per-lead annotations"),
        records: Optional[str] = typer.Option(None, help="record names (data/1,data/2) or a file listing them; default RECORDS"),
        prepared: Optional[Path] = typer.Option(None, help="a dataset from `ecglab prepare ludb`: score the records of its --split"),
        split: str = typer.Option("test", help="with --prepared: the split to score (the patients the model never saw)"),
        nk_method: str = typer.Option("dwt", "--nk-method", help="neurokit2 ecg_delineate method to compare with, or 'none'"),
        json_output: bool = typer.Option(False, "--json", help="print the full report as JSON instead of tables"),
    ):
        """Score P/QRS/T onsets and offsets (Se, +P within 150 ms, error mean ± SD) against LUDB annotations,
        beside neurokit2, on lead II and on all leads; plus QRS-axis and heart-rate agreement."""
        import json

        from ecglab.datasets.core.selection import record_ids
        from ecglab.errors import EcglabError
        from ecglab.measure.evaluate import evaluate_delineation as run
        from ecglab.measure.evaluate import markdown

        if prepared is not None:
            if records is not None:
                raise EcglabError("give either --records or --prepared/--split, not both.")
            from ecglab.datasets.core.prepared import PreparedDataset

            dataset = PreparedDataset(prepared)
            names = list(dataset.meta["record_id"].iloc[dataset.split_indices(split)])
        else:
            names = record_ids(source, records)
        method = None if nk_method.lower() == "none" else nk_method
        report = run(bundle, source, names, method,
                     progress=lambda k, n, name: print(f"\r{k}/{n} {name}   ", end="", file=sys.stderr))
        print(file=sys.stderr)
        print(json.dumps(report, indent=2) if json_output else markdown(report))


def show_measurements(result) -> None:
    from rich.table import Table

    from ecglab.cli.common import console

    table = Table(title=f"{result.record_id}: {len(result.waves)} waves on {len(result.leads)} leads", title_justify="left")
    for column in ("measurement", "value", "beats", "note"):
        table.add_column(column, justify="right" if column in ("value", "beats") else "left")
    for name, value in result.measurements.items():
        shown = "–" if value is None else f"{value:g} {UNITS[name]}"
        table.add_row(name, shown, str(result.beat_counts.get(name) or ""), result.reasons.get(name, ""))
    console().print(table)
