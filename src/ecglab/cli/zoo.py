"""``ecglab models``: the model zoo."""

from __future__ import annotations

from typing import Optional

import typer

from ecglab.cli.common import examples


def register(app: typer.Typer) -> None:
    @app.command(
        epilog=examples(
            "ecglab models                 # every model, its size, ONNX support, paper",
            "ecglab models xresnet1d101    # one model's hyper-parameters",
        ),
    )
    def models(name: Optional[str] = typer.Argument(None, help="a model name or alias to describe in detail")):
        """List the model zoo, or describe one model's hyper-parameters."""
        if name is None:
            show_zoo()
        else:
            show_model(name)


# the reference column needs about this much room to be read; narrower terminals get the references as a list
WIDE_ENOUGH = 120


def show_zoo() -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ecglab.cli.common import console
    from ecglab.models.summary import BEAT, N_CLASSES, RECORD, model_rows

    out = console()
    rows = model_rows()
    names = [row.name + (f" ({', '.join(row.aliases)})" if row.aliases else "") for row in rows]
    wide = out.width >= WIDE_ENOUGH
    table = Table(title=f"ecglab model zoo (parameters for {N_CLASSES} classes: beat {BEAT[0]}×{BEAT[1]}, "
                        f"12-lead {RECORD[0]}×{RECORD[1]})", box=box.SIMPLE_HEAD)
    # names are what users type: never cut them (nor the counts); only the reference wraps
    table.add_column("model", style="bold", no_wrap=True, min_width=max(map(len, names)))
    table.add_column("family", no_wrap=True)
    table.add_column("beat", justify="right", no_wrap=True)
    table.add_column("12-lead", justify="right", no_wrap=True)
    table.add_column("ONNX", justify="center")
    if wide:
        table.add_column("reference", overflow="fold", ratio=1)
    for row, name in zip(rows, names):
        onnx = "yes" if row.onnx else f"no: {row.onnx_note}"
        table.add_row(name, row.family, f"{row.params_beat:,}", f"{row.params_record:,}", onnx,
                      *([row.reference] if wide else []))
    out.print(table)
    if not wide:
        for row in rows:
            out.print(Text.assemble((row.name, "bold"), ": ", row.reference))
    out.print("`ecglab models NAME` lists a model's hyper-parameters and their defaults.")


def show_model(name: str) -> None:
    from rich.table import Table

    from ecglab.cli.common import console
    from ecglab.models import model_info
    from ecglab.models.summary import model_row

    info = model_info(name)
    row = model_row(info.name)
    out = console()
    out.print(f"[bold]{info.name}[/]" + (f" (aliases: {', '.join(info.aliases)})" if info.aliases else ""))
    out.print(f"reference: {info.reference}")
    out.print(f"family: {info.family}    parameters: {row.params_beat:,} (beat 1×187), {row.params_record:,} (12×1000)")
    out.print("ONNX export: " + ("yes" if info.onnx else f"no ({info.onnx_note})"))
    doc = (info.builder.__doc__ or "").strip()
    if doc:
        out.print(" ".join(doc.split()))
    table = Table(title="hyper-parameters")
    table.add_column("name")
    table.add_column("default")
    for key, default in info.hparams.items():
        table.add_row(key, repr(default))
    out.print(table)
