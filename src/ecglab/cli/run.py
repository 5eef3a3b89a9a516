"""``ecglab demo | train | evaluate``: training and evaluation runs."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
