"""What every command shares: the user-error handler and console output."""

from __future__ import annotations

import sys
import textwrap

import click
import typer

from ecglab.errors import EcglabError


def run_app(app: typer.Typer, argv: list[str]) -> int:
    """Run the Typer app; a user mistake becomes one paragraph on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="ecglab", standalone_mode=False)
    except EcglabError as exc:
        _fail(str(exc))
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _fail(message: str) -> None:
    print(textwrap.fill("error: " + message, width=100, break_long_words=False, break_on_hyphens=False), file=sys.stderr)


def console():
    from rich.console import Console

    return Console()


def parse_list(value: str | None) -> list[str] | None:
    """'I,II,V1' -> ['I', 'II', 'V1']; None stays None."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]
