"""``ecglab prepare``: any dataset into the PreparedDataset format."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command(
        epilog="Examples:\n\n"
               "    ecglab prepare synthetic --out data/synth --task record --n 2000 --fs 100\n\n"
               "    ecglab prepare synthetic --out data/beats --task beat --seed 1\n\n"
               "    ecglab prepare ptbxl --source ptb-xl/ --out data/ptbxl --task superdiagnostic --fs 100\n\n"
               "    ecglab prepare cinc --source training/ --out data/cinc --split georgia\n\n"
               "    ecglab prepare mimic-iv-ecg --source mimic-iv-ecg/ --out data/mimic-1 --task machine --shard 1/4\n\n"
               "    ecglab prepare mitbih --source mitdb/ --add svdb=svdb/ --beats context --out data/beats\n\n"
               "    ecglab prepare folder --source my_ecgs/ --out data/mine --fs 250",
    )
    def prepare(
        name: str = typer.Argument(..., help="dataset: synthetic, ptbxl, mitbih, ..."),
        out: Path = typer.Option(..., "--out", help="directory to write the prepared dataset into"),
        source: Optional[Path] = typer.Option(None, "--source", help="the dataset's files, in their release layout"),
        task: Optional[str] = typer.Option(None, help="synthetic: record|beat; ptbxl: all|diagnostic|subdiagnostic|superdiagnostic|form|rhythm; ptbdb: record|beat; cinc: scored|all; mimic-iv-ecg: icd|machine"),
        n: Optional[int] = typer.Option(None, "--n", help="synthetic: number of records (record task) or of patients (beat task)"),
        fs: Optional[float] = typer.Option(None, "--fs", help="sampling rate of the prepared signals (Hz); defaults: ptbxl 100 (100 or 500 read the native files), cinc 500, mimic-iv-ecg 100, folder 500"),
        seed: Optional[int] = typer.Option(None, help="random seed (synthetic data, random splits)"),
        split: Optional[str] = typer.Option(None, help="split protocol, e.g. mitbih: inter|patient|intra; cinc: a source "
                                                       "database to hold out; mimic-iv-ecg: strat_fold|fold|patient"),
        records: Optional[str] = typer.Option(None, help="comma-separated record ids, or a RECORDS file, to prepare a subset"),
        lead: Optional[str] = typer.Option(None, help="lead(s) to keep, comma-separated names (mitbih default MLII; folder "
                                                      "default: the 12 standard leads if every record has them, else the leads all share)"),
        beats: Optional[str] = typer.Option(None, help="beat extraction: kachuee|centred|context (ptbdb also: record, for 12-lead records)"),
        add: Optional[str] = typer.Option(None, help="mitbih: more beat databases whose records train too, "
                                                     "DATABASE=DIR comma-separated (e.g. svdb=svdb/)"),
        min_count: Optional[int] = typer.Option(None, "--min-count", help="drop classes with fewer examples than this"),
        labels: Optional[Path] = typer.Option(None, "--labels", help="labels CSV (folder: record,labels; mimic-iv-ecg: "
                                                                     "MIMIC-IV-ECG-ICD's records_w_diag_icd10.csv, or study_id,icd_codes)"),
        codes: Optional[str] = typer.Option(None, help="label codes or prefixes to keep, comma-separated (e.g. I48,I21)"),
        top_k: Optional[int] = typer.Option(None, "--top-k", help="keep the K most frequent codes"),
        bandpass: Optional[str] = typer.Option(None, help="band-pass filter 'LOW,HIGH' in Hz (either may be empty)"),
        standardize: Optional[str] = typer.Option(None, help="none|record|global (global statistics from the training split only)"),
        dtype: Optional[str] = typer.Option(None, help="float32|float16"),
        shard: Optional[str] = typer.Option(None, help="'i/n': prepare only the i-th of n shards (merge them afterwards)"),
        force: bool = typer.Option(False, "--force", help="rebuild even if an identical preparation exists"),
        strict: bool = typer.Option(False, "--strict", help="stop at the first unreadable record instead of skipping it"),
        workers: int = typer.Option(0, help="processes for reading (0 = one per core)"),
    ):
        """Prepare a dataset once into a fast memory-mapped form that training reads."""
        from ecglab.datasets.registry import prepare as run_prepare

        given = dict(task=task, n=n, fs=fs, seed=seed, split=split, records=records, lead=lead, beats=beats, add=add,
                     min_count=min_count, labels=labels, codes=codes, top_k=top_k, bandpass=bandpass,
                     standardize=standardize, dtype=dtype, shard=shard)
        options = {k: v for k, v in given.items() if v is not None}
        dataset = run_prepare(name, out, source, force=force, strict=strict, workers=workers, **options)
        show_summary(dataset)

    @app.command(
        "prepare-merge",
        epilog="Example (four machines ran `ecglab prepare mimic-iv-ecg … --out data/mimic-I --shard I/4`):\n\n"
               "    ecglab prepare-merge data/mimic-1 data/mimic-2 data/mimic-3 data/mimic-4 --out data/mimic",
    )
    def prepare_merge(
        shards: list[Path] = typer.Argument(..., help="the shard directories written with --shard 1/N … N/N"),
        out: Path = typer.Option(..., "--out", help="directory to write the merged dataset into"),
        force: bool = typer.Option(False, "--force", help="replace an existing dataset at --out"),
    ):
        """Merge the shards of a `prepare … --shard i/n` run into one dataset (global statistics taken here)."""
        from ecglab.datasets.streaming import merge_shards

        show_summary(merge_shards(out, shards, force=force))

    return None


SPLIT_ORDER = ("train", "val", "test")


def show_summary(dataset) -> None:
    """Print a prepared dataset's counts (records, patients, then one row per class; one column per
    split, so that dozens of classes read at any width), its warnings, skipped records, and whether
    it was written now or reused from an earlier identical preparation."""
    from rich.table import Table

    from ecglab.cli.common import console

    screen = console()
    counts = dataset.manifest["split_counts"]
    splits = sorted(counts, key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER))
    screen.print(f"{dataset.name}: {len(dataset)} records, {len(dataset.leads)} leads × {dataset.length} samples "
                 f"at {dataset.fs:g} Hz", style="bold", highlight=False)
    table = Table()
    table.add_column("")
    for split in splits:
        table.add_column(split, justify="right")
    for row in ("records", "patients"):
        table.add_row(row, *[str(counts[split][row]) for split in splits], end_section=row == "patients")
    for cls in dataset.classes:
        table.add_row(cls, *[str(counts[split]["classes"][cls]) for split in splits])
    screen.print(table)
    for warning in dataset.manifest.get("warnings", []):
        screen.print(f"[yellow]warning:[/] {warning}", highlight=False)
    skipped = dataset.manifest.get("skipped", {}).get("count", 0)
    if skipped:
        screen.print(f"[yellow]{skipped} records could not be read and were skipped (all listed in manifest.json):[/]")
        for item in dataset.manifest["skipped"]["items"][:5]:
            screen.print(f"  {item['item']}: {item['reason']}", markup=False, highlight=False)
    if dataset.reused:
        rebuild = "--force rebuilds it" + (", e.g. once the skipped records' files are there" if skipped else "")
        screen.print(f"reused the existing dataset at {dataset.path}: it was prepared with the same arguments from an "
                     f"unchanged source ({rebuild})", highlight=False)
    else:
        screen.print(f"written to {dataset.path}", highlight=False)
