"""``ecglab predict | export | plot | serve``: using a trained model."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
