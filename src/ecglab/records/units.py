"""Which channels are voltages, and their scale to mV: the one place readers ask.

A Record's signal is in mV, so a channel in mmHg, bpm, % or any unit that is not a voltage is
left out (named in ``meta["dropped_channels"]`` and in a :class:`DroppedChannelsWarning`), and a
record with no voltage channel is refused. An empty unit means mV: it is the WFDB default
(a header that gives no unit) and what EDF exporters that leave the field blank write for ECG.
Any other unit not listed here (NU, adu, mmHg, ...) is not taken for a voltage.
"""

from __future__ import annotations

import warnings

from ecglab.errors import EcglabNote, RecordFormatError

_TO_MV = {"": 1.0, "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
          "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
          "v": 1e3, "volt": 1e3, "volts": 1e3}


class DroppedChannelsWarning(EcglabNote):
    """Channels of a record that are not voltages were left out of its signal."""


def mv_per_unit(unit) -> float | None:
    """mV per unit of a channel in ``unit``; None for a unit that is not a voltage."""
    return _TO_MV.get(str(unit or "").strip().lower())


def voltage_channels(names: list[str], units: list, source: str) -> tuple[list[int], list[float], dict[str, str]]:
    """Indices and mV scales of the voltage channels, and {name: unit} of those left out (warned).
    A record with no voltage channel is refused, naming every channel and its unit."""
    scales = [mv_per_unit(unit) for unit in units]
    keep = [i for i, scale in enumerate(scales) if scale is not None]
    dropped = {str(names[i]): str(units[i]) for i, scale in enumerate(scales) if scale is None}
    if not keep:
        found = ", ".join(f"{name} ({unit})" for name, unit in dropped.items())
        raise RecordFormatError(f"{source}: no voltage channel; found {found}. Expected at least one ECG channel "
                                "in mV, uV or V.")
    if dropped:
        warnings.warn(f"{source}: left out {len(dropped)} channel(s) that are not voltages: "
                      + ", ".join(f"{name} ({unit})" for name, unit in dropped.items()), DroppedChannelsWarning,
                      stacklevel=3)
    return keep, [scales[i] for i in keep], dropped
