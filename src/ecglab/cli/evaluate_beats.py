"""``ecglab evaluate-beats``: a beat model scored on annotated records as AAMI EC57 asks."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ecglab.cli.common import examples

EXAMPLES = examples(
    "ecglab evaluate-beats mitbih-aami data/mitbih --out ec57/",
    "ecglab evaluate-beats mitbih-aami data/mitbih --use-annotations   (classification alone)",
    "ecglab evaluate-beats mitbih-aami data/svdb   (SVDB's ECG1 stands in for MLII, ECG2 is the chest lead)",
    "ecglab evaluate-beats runs/mitbih-inter-svdb-cv data/mitbih data/svdb   (each record by the fold model "
    "that never saw it)",
)


def register(app: typer.Typer) -> None:
    @app.command("evaluate-beats", epilog=EXAMPLES)
    def evaluate_beats(
        bundle: Path = typer.Argument(..., help="beat model bundle directory, run directory, a shipped model's name, "
                                      "or an `ecglab cv` run directory (each record scored by its fold's model)"),
        directories: List[Path] = typer.Argument(..., help="folders of WFDB records with .atr beat annotations"),
        use_annotations: bool = typer.Option(False, "--use-annotations", help="classify the annotated beats instead of "
                                             "detecting R peaks: scores the classifier alone"),
        out: Optional[Path] = typer.Option(None, "--out", help="folder for ec57.json and ec57.md"),
        leads: Optional[str] = typer.Option(None, "--leads", help="the records' lead names in order, replacing the stored ones"),
    ):
        """Detect, classify and match beats to the annotations within 150 ms (AAMI EC57): QRS detection Se / +P
        and per-class Se / +P / F1, gross and per record, with the confusion matrix. Paced records are left out.
        Given the directory of an `ecglab cv` run, each record is scored by the fold model that held its patient
        out: the pipeline's figures on unseen patients."""
        import json

        from ecglab.cli.common import parse_list
        from ecglab.evaluation.evaluate_beats import ec57_markdown
        from ecglab.evaluation.evaluate_beats import evaluate_beats as run

        report = run(bundle, directories, use_annotations=use_annotations, leads=parse_list(leads))
        markdown = ec57_markdown(report)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "ec57.json").write_text(json.dumps(report, indent=2))
            (out / "ec57.md").write_text(markdown)
        print(markdown.split("## Per record")[0].rstrip())
        if out is not None:
            print(f"\nwrote {out / 'ec57.json'} and {out / 'ec57.md'}")
