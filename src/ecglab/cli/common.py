"""What every command shares: the user-error handler and console output."""

from __future__ import annotations

import sys
import warnings

import typer

from ecglab.errors import EcglabError, EcglabNote, Interrupted


def run_app(app: typer.Typer, argv: list[str]) -> int:
    """Run the Typer app and return the exit code.

    Typer (standalone mode) answers usage mistakes itself: message, usage line, exit 2. A user
    mistake inside a command is an :class:`EcglabError`: one paragraph on stderr, exit 2; an
    interrupted run says how to continue it and exits 130.
    """
    with warnings.catch_warnings():
        warnings.showwarning = _show_note
        return _run(app, argv)


def _show_note(message, category, filename, lineno, file=None, line=None) -> None:
    """Our notes as one line for the user; anything else as Python shows it."""
    if issubclass(category, EcglabNote):
        print("note: " + " ".join(str(message).split()), file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _run(app: typer.Typer, argv: list[str]) -> int:
    try:
        app(args=argv, prog_name="ecglab", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Interrupted as exc:
        _fail(str(exc))
        return 130
    except EcglabError as exc:
        _fail(str(exc))
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _fail(message: str) -> None:
    print("error: " + " ".join(message.split()), file=sys.stderr)  # one paragraph; the terminal wraps it


def console():
    from rich.console import Console

    return Console()


def parse_list(value: str | None) -> list[str] | None:
    """'I,II,V1' -> ['I', 'II', 'V1']; None stays None."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def examples(*commands: str, note: str = "") -> str:
    """A command's help epilog: each example command indented on its own paragraph, then ``note``."""
    heading = "Example:" if len(commands) == 1 else "Examples:"
    return "\n\n".join([heading, *(f"    {command}" for command in commands), *([note] if note else [])])
