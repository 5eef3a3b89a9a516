"""How large one record may be, checked from what a file declares, before anything is decoded.

A 1 MB compressed archive or a header line can declare gigabytes; readers compare the declared
size with :class:`InputLimits` first and raise :class:`~ecglab.errors.InputTooLargeError`
without allocating it. The defaults are generous for a 24 h Holter record (3 leads × 24 h at
500 Hz is 130 M values); ``ECGLAB_MAX_VALUES`` and ``ECGLAB_MAX_LEADS`` change them for a
process, and the server passes tighter ones per request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ecglab.errors import ConfigError, InputTooLargeError


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number.") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r}: expected a positive number.")
    return value


@dataclass(frozen=True)
class InputLimits:
    """``max_values``: leads × samples of one record; ``max_leads``: signals of one record;
    ``how_to_raise``: what the message tells the user who meets them (an option, a variable)."""

    max_values: int = 200_000_000
    max_leads: int = 64
    how_to_raise: str = "ECGLAB_MAX_VALUES and ECGLAB_MAX_LEADS raise the limits"

    @classmethod
    def from_env(cls) -> InputLimits:
        return cls(max_values=_env_int("ECGLAB_MAX_VALUES", cls.max_values),
                   max_leads=_env_int("ECGLAB_MAX_LEADS", cls.max_leads))

    def check(self, n_leads: int, n_samples: int, source: str) -> None:
        """Refuse a record that declares more leads or values than allowed, naming both sizes."""
        if n_leads > self.max_leads:
            raise InputTooLargeError(f"{source}: declares {n_leads:,} signals; at most {self.max_leads:,} are read "
                                     f"({self.how_to_raise}).")
        if n_leads * n_samples > self.max_values:
            raise InputTooLargeError(f"{source}: declares {n_leads:,} leads × {n_samples:,} samples = "
                                     f"{n_leads * n_samples:,} values; at most {self.max_values:,} are read "
                                     f"({self.how_to_raise}).")


def resolve_limits(limits: InputLimits | None) -> InputLimits:
    """The limits a reader applies: those given, else the process's (environment or defaults)."""
    return limits if limits is not None else InputLimits.from_env()
