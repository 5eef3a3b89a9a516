"""``ecglab prepare``: any dataset into the PreparedDataset format."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperCommand

FLAGS = ("--force", "--strict", "--help")  # the options of prepare that take no value


class PrepareCommand(TyperCommand):
    """``ecglab prepare NAME …``: the options after NAME are that builder's own (its signature, with
    help from its docstring), added when the command line names the dataset, so that
    ``ecglab prepare NAME --help`` lists them and a mistyped one is a usage error."""

    def parse_args(self, ctx, args):
        self.params = [p for p in self.params if not getattr(p, "builder_option", False)]
        name = _dataset_name(args)
        if name is not None:  # an unknown name is an error that lists the datasets
            self.params = self.params + builder_params(name)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        own = {p.name for p in self.params if getattr(p, "builder_option", False)}
        given = {k: ctx.params.pop(k) for k in list(ctx.params) if k in own}
        ctx.meta["builder_options"] = {k: v for k, v in given.items() if v is not None}
        return super().invoke(ctx)

    def format_help(self, ctx, formatter):
        from ecglab.datasets.core.registry import get_builder
        from ecglab.datasets.core.sources import DATASET_MODULES

        if not any(getattr(p, "builder_option", False) for p in self.params):
            listed = "\n\n".join(f"    {name:<13} {get_builder(name).description}" for name in DATASET_MODULES)
            self.epilog = f"{EXAMPLES}\n\nDatasets (`ecglab prepare NAME --help` lists NAME's options):\n\n{listed}"
        super().format_help(ctx, formatter)
        self.epilog = EXAMPLES


def builder_params(name: str) -> list:
    """The options of dataset ``name``'s builder, in a help panel of their own: made by Typer itself from
    a stand-in function whose signature is the builder's options, so they parse and print like the rest."""
    from ecglab.datasets.core.registry import get_builder
    from ecglab.datasets.core.signature import builder_options

    options = builder_options(get_builder(name).fn)
    stand_in = lambda **given: given  # noqa: E731
    stand_in.__signature__ = inspect.Signature([inspect.Parameter(
        o.name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[o.type],
        default=typer.Option(None, o.flag, help=o.help, rich_help_panel=f"Options of {name}")) for o in options])
    stand_in.__annotations__ = {o.name: Optional[o.type] for o in options}
    app = typer.Typer(add_completion=False)
    app.command()(stand_in)
    params = typer.main.get_command(app).params
    for param in params:
        param.builder_option = True
    return params


def _dataset_name(args: list[str]) -> str | None:
    """The first argument that is neither an option nor an option's value."""
    words = iter(args)
    for word in words:
        if not word.startswith("-"):
            return word
        if "=" not in word and word not in FLAGS:
            next(words, None)
    return None


EXAMPLES = ("Examples:\n\n"
            "    ecglab prepare synthetic --out data/synth --task record --n 2000 --fs 100\n\n"
            "    ecglab prepare synthetic --out data/beats --task beat --seed 1\n\n"
            "    ecglab prepare ptbxl --source ptb-xl/ --out data/ptbxl --task superdiagnostic --fs 100\n\n"
            "    ecglab prepare mitbih --source mitdb/ --add svdb=svdb/ --beats context --out data/beats\n\n"
            "    ecglab prepare cinc --source training/ --out data/cinc --split georgia\n\n"
            "    ecglab prepare mimic-iv-ecg --source mimic-iv-ecg/ --out data/mimic-1 --task machine --shard 1/4\n\n"
            "    ecglab prepare folder --source my_ecgs/ --out data/mine --fs 250")


def register(app: typer.Typer) -> None:
    from ecglab.datasets.core.sources import DATASET_MODULES

    @app.command(cls=PrepareCommand, epilog=EXAMPLES)
    def prepare(
        ctx: typer.Context,
        name: str = typer.Argument(..., help=f"dataset: {', '.join(DATASET_MODULES)}; its options follow it "
                                             "(ecglab prepare NAME --help)"),
        out: Path = typer.Option(..., "--out", help="directory to write the prepared dataset into"),
        source: Optional[Path] = typer.Option(None, "--source", help="the dataset's files, in their release layout"),
        force: bool = typer.Option(False, "--force", help="rebuild even if an identical preparation exists"),
        strict: bool = typer.Option(False, "--strict", help="stop at the first unreadable record instead of skipping it"),
        workers: int = typer.Option(0, help="processes for reading (0 = one per core)"),
    ):
        """Prepare a dataset once into a fast memory-mapped form that training reads."""
        from ecglab.datasets.core.registry import prepare as run_prepare

        options = ctx.meta.get("builder_options", {})
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
        from ecglab.datasets.core.streaming import merge_shards

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
        screen.print(f"written to {dataset.path}", highlight=False, soft_wrap=True)  # a path to copy, unbroken
