"""Readers: every file format becomes a :class:`Record`. The only place that parses ECG files."""

from __future__ import annotations

from pathlib import Path

from ecglab.errors import RecordFormatError
from ecglab.records.record import STANDARD_12_LEADS, Annotations, Record, normalize_lead_name

ACCEPTED_FORMATS = "WFDB (.hea + .dat/.mat), CSV with a header of lead names, NumPy .npy/.npz"


def read_record(path: str | Path, fs: float | None = None, leads: list[str] | None = None) -> Record:
    """Read any supported ECG file; ``fs`` and ``leads`` fill in what a format does not store."""
    path = Path(path)
    if not path.exists() and not path.with_suffix(".hea").exists():
        raise RecordFormatError(f"{path}: no such file. Accepted formats: {ACCEPTED_FORMATS}.")
    if path.is_file() and path.stat().st_size == 0:
        raise RecordFormatError(f"{path}: the file is empty. Accepted formats: {ACCEPTED_FORMATS}.")
    suffix = path.suffix.lower()
    if suffix in (".hea", ".dat", ".mat", "") and path.with_suffix(".hea").exists():
        from ecglab.records.wfdb_reader import read_wfdb

        return read_wfdb(path)
    if suffix in (".npy", ".npz"):
        from ecglab.records.table_reader import read_numpy

        return read_numpy(path, fs=fs, leads=leads)
    if suffix in (".csv", ".txt"):
        from ecglab.records.table_reader import read_csv

        return read_csv(path, fs=fs)
    raise RecordFormatError(f"{path}: unrecognised file type '{suffix}'. Accepted formats: {ACCEPTED_FORMATS}.")


__all__ = ["Annotations", "Record", "STANDARD_12_LEADS", "normalize_lead_name", "read_record", "ACCEPTED_FORMATS"]
