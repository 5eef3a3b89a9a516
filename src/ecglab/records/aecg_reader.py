"""HL7 v3 annotated ECG (aECG, the FDA submission format; HL7 aECG Implementation Guide 2005).

The rhythm waveforms are the ``<sequenceSet>`` directly under the first ``<series>``: one
``TIME_ABSOLUTE``/``TIME_RELATIVE`` sequence whose ``<increment>`` gives the sampling interval,
and one sequence per lead whose value is ``origin + scale × digits`` in the unit of ``scale``.
Derived series (median beats) are ignored. Parsed with defusedxml when it is installed; else with
the standard library after refusing any document type declaration (aECG needs none; entity
declarations are what XML bombs are made of), and ElementTree never fetches external entities.
The file size and each lead's text are bounded by :class:`InputLimits` before numbers are decoded.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ecglab.errors import InputTooLargeError, RecordFormatError
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import Record, normalize_lead_name
from ecglab.records.units import mv_per_unit

_BYTES_PER_VALUE = 2  # the least text one sample takes in <digits>: one digit and a space
_TO_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def read_aecg(path: str | Path, limits: InputLimits | None = None) -> Record:
    path = Path(path)
    limits = resolve_limits(limits)
    size = path.stat().st_size
    if size > _BYTES_PER_VALUE * limits.max_values + (1 << 20):
        raise InputTooLargeError(f"{path}: {size:,} bytes of XML could hold {size // _BYTES_PER_VALUE:,} samples; "
                                 f"at most {limits.max_values:,} values are read ({limits.how_to_raise}).")
    root = _parse(path)
    if _local(root.tag) != "AnnotatedECG":
        raise RecordFormatError(f"{path}: the XML root is <{_local(root.tag)}>, expected <AnnotatedECG> (HL7 aECG).")
    series = _first(root, "series")
    sequence_set = None if series is None else next(
        (s for c in _children(series, "component") for s in _children(c, "sequenceSet")), None)
    if sequence_set is None:
        raise RecordFormatError(f"{path}: no <series>/<component>/<sequenceSet> holding the rhythm waveforms.")
    fs, leads, rows, values = None, [], [], 0
    for component in _children(sequence_set, "component"):
        for sequence in _children(component, "sequence"):
            code = _attr(sequence, "code", "code")
            value = _child(sequence, "value")
            if value is None:
                continue
            if code.startswith("TIME_"):
                fs = _sampling_rate(path, value)
            else:
                leads.append(normalize_lead_name(code))
                rows.append(_lead_values(path, code, value))
                values += len(rows[-1])
                limits.check(len(rows), values // len(rows), str(path))
    if fs is None:
        raise RecordFormatError(f"{path}: no TIME_ABSOLUTE or TIME_RELATIVE sequence, so the sampling rate is unknown.")
    if not rows:
        raise RecordFormatError(f"{path}: the sequenceSet holds no lead sequences.")
    lengths = {lead: len(row) for lead, row in zip(leads, rows)}
    if len(set(lengths.values())) > 1:
        raise RecordFormatError(f"{path}: the leads hold different numbers of samples {lengths}; expected equal lengths.")
    meta = {"record_id": path.stem, "sex": _gender(root), "age": _age(root, series)}
    return Record(np.stack(rows).astype(np.float32), fs, leads, meta)


def _parse(path: Path):
    """The document's root element; a document type declaration is refused unless defusedxml parses."""
    try:
        from defusedxml.ElementTree import parse
    except ImportError:
        parse = ET.parse
        with open(path, "rb") as handle:
            if b"<!DOCTYPE" in handle.read(1 << 16):  # the prolog comes first
                raise RecordFormatError(f"{path}: the XML declares a document type (<!DOCTYPE>); an HL7 aECG needs "
                                        "none, and its entity declarations are refused.")
    try:
        return parse(path).getroot()
    except ET.ParseError as exc:
        raise RecordFormatError(f"{path}: not well-formed XML ({exc}); expected an HL7 aECG document.") from None
    except ValueError as exc:  # defusedxml's refusals of entities and DTDs
        raise RecordFormatError(f"{path}: the XML is refused ({type(exc).__name__}: {exc}).") from None


def _sampling_rate(path: Path, value) -> float:
    increment = _child(value, "increment")
    try:
        step = float(increment.get("value")) * _TO_SECONDS[(increment.get("unit") or "s").lower()]
    except (AttributeError, TypeError, ValueError, KeyError):
        raise RecordFormatError(f"{path}: the time sequence has no usable <increment value=... unit='s'|'ms'>.") from None
    if step <= 0:
        raise RecordFormatError(f"{path}: the sampling interval must be positive, found {step} s.")
    return 1.0 / step


def _lead_values(path: Path, code: str, value) -> np.ndarray:
    digits = _child(value, "digits")
    if digits is None or not (digits.text or "").strip():
        raise RecordFormatError(f"{path}: lead {code} has no <digits>.")
    try:  # parsed by numpy, not split into a list of Python strings of ~50 bytes per sample
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)  # numpy's way of saying it stopped at a non-number
            numbers = np.fromstring(digits.text, dtype=np.float64, sep=" ")
    except (ValueError, DeprecationWarning):
        raise RecordFormatError(f"{path}: lead {code}: <digits> must hold whitespace-separated integers.") from None
    origin, scale = _child(value, "origin"), _child(value, "scale")
    try:
        offset = float(origin.get("value")) if origin is not None else 0.0
        factor = float(scale.get("value")) if scale is not None else 1.0
    except (TypeError, ValueError):
        raise RecordFormatError(f"{path}: lead {code}: <origin>/<scale> values must be numbers.") from None
    unit = next((e.get("unit") for e in (scale, origin) if e is not None and e.get("unit")), "uV")
    if mv_per_unit(unit) is None:
        raise RecordFormatError(f"{path}: lead {code}: unknown voltage unit {unit!r}; expected uV, mV or V.")
    return (offset + factor * numbers) * mv_per_unit(unit)


def _gender(root) -> str | None:
    element = _first(root, "administrativeGenderCode")
    return element.get("code") if element is not None else None


def _age(root, series) -> float | None:
    birth = _first(root, "birthTime")
    low = _first(series, "low")
    try:
        born, taken = _year_fraction(birth.get("value")), _year_fraction(low.get("value"))
    except (AttributeError, TypeError, ValueError):
        return None
    return round(taken - born, 2)


def _year_fraction(stamp: str) -> float:
    """HL7 TS 'YYYYMMDD[hhmmss]' as a fractional year."""
    return int(stamp[:4]) + (int(stamp[4:6] or 1) - 1) / 12 + (int(stamp[6:8] or 1) - 1) / 365.25


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element, name: str):
    return [c for c in element if _local(c.tag) == name]


def _child(element, name: str):
    return next(iter(_children(element, name)), None)


def _first(element, name: str):
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def _attr(element, child: str, attribute: str) -> str:
    found = _child(element, child)
    return (found.get(attribute) or "") if found is not None else ""
