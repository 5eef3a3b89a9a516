"""``ecglab models``: the model zoo."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command(epilog="Example:\n\n    ecglab models")
    def models():
        """List the registered models."""
        from ecglab.models import list_models

        for name in list_models():
            print(name)
