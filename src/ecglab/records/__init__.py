"""Readers: every file format becomes a :class:`Record`. The only place that parses ECG files."""

from __future__ import annotations

from pathlib import Path

from ecglab.records.detect import ACCEPTED_FORMATS, detect_format, read_detected
from ecglab.records.formats import FORMATS, FileFormat
from ecglab.records.limits import InputLimits
from ecglab.records.record import (LEAD_EQUIVALENTS, STANDARD_12_LEADS, Annotations, Record, accepted_leads,
                                   lead_choices, normalize_lead_name)


def read_record(path: str | Path, fs: float | None = None, leads: list[str] | None = None,
                limits: InputLimits | None = None) -> Record:
    """Read any supported ECG file, its format judged by content. ``fs`` is the rate of formats that
    store none (.npy, CSV without a time column); ``leads`` names the file's leads in order, and
    replaces the names a file stores (an EDF's 'Chan 1', a CSV's 'ch2'); ``limits`` bound what a
    file may declare (default: :meth:`InputLimits.from_env`)."""
    return read_detected(path, detect_format(path), fs=fs, leads=leads, limits=limits)


__all__ = ["Annotations", "LEAD_EQUIVALENTS", "Record", "STANDARD_12_LEADS", "accepted_leads", "lead_choices",
           "normalize_lead_name", "read_record", "ACCEPTED_FORMATS", "FORMATS", "FileFormat", "InputLimits"]
