"""The ``ecglab`` command line: a thin skin over the Python API.

Each command group lives in its own module with a ``register(app)`` function. Modules import
only typer at the top; torch, lightning and friends are imported inside the commands, so that
``ecglab --help`` answers fast.
"""

from __future__ import annotations

import sys

import typer

from ecglab.cli import evaluate_beats, experiments, measure, prepare, run, use, zoo
from ecglab.cli.common import run_app

app = typer.Typer(
    name="ecglab",
    help="Automated ECG classification: prepare datasets, train and compare models, evaluate, predict, serve.\n\n"
         "Quick start: `ecglab demo` trains a ResNet1d on built-in synthetic 12-lead ECGs and reports its metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

for module in (prepare, run, use, zoo, experiments, evaluate_beats, measure):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    return run_app(app, argv if argv is not None else sys.argv[1:])


