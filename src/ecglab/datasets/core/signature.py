"""A builder's options as data, read off its signature and docstring: what ``ecglab prepare`` offers
and explains, so that a builder's help cannot drift from what it takes.

A builder documents its own options in a ``Parameters`` section of its docstring (numpy style: the
option's name on one line, its help indented below). Options that mean the same for every source
(``--records``, ``--bandpass``, …) are explained once, in :data:`SHARED_HELP`; a builder's own text
wins where it has one.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass

SHARED_HELP = {
    "fs": "sampling rate of the prepared signals (Hz)",
    "seed": "random seed (random splits, synthetic data)",
    "records": "comma-separated record ids, or a RECORDS file, to prepare a subset",
    "lead": "lead(s) to keep, comma-separated names",
    "min_count": "drop classes with fewer examples than this",
    "bandpass": "band-pass filter 'LOW,HIGH' in Hz (either may be empty)",
    "standardize": "none|record|global (global statistics from the training split only)",
    "dtype": "float32|float16",
    "shard": "'i/n': prepare only the i-th of n shards (merge them afterwards with prepare-merge)",
}


@dataclass(frozen=True)
class BuilderOption:
    name: str  # the builder's parameter; the flag is --name with '-' for '_'
    type: type  # int, float or str
    default: object
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def builder_options(fn) -> list[BuilderOption]:
    """The options of builder ``fn`` (every parameter after the context), in signature order."""
    documented = docstring_parameters(fn.__doc__ or "")
    hints = typing.get_type_hints(fn)
    found = []
    for name, parameter in list(inspect.signature(fn).parameters.items())[1:]:
        text = documented.get(name) or SHARED_HELP.get(name, "")
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        if default is not None:
            text = f"{text} (default {default})"
        found.append(BuilderOption(name, _scalar(hints.get(name, str)), default, text))
    return found


def docstring_parameters(doc: str) -> dict[str, str]:
    """``{name: help}`` from a numpy-style ``Parameters`` section; the help's lines joined."""
    lines = inspect.cleandoc(doc).splitlines()
    try:
        start = next(i for i, line in enumerate(lines[:-1])
                     if line.strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"}) + 2
    except StopIteration:
        return {}
    found, current = {}, None
    for line, following in zip(lines[start:], lines[start + 1:] + [""]):
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            if following.strip() and set(following.strip()) == {"-"}:
                break  # the next section's title
            current = line.split(":")[0].strip()
            found[current] = ""
        elif current is not None:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found


def _scalar(hint) -> type:
    """int, float or str from an annotation such as ``float | None``."""
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return options[0] if options[0] in (int, float) else str
