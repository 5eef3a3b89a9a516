"""Plain-array files: CSV/TSV with a header of lead names, and NumPy ``.npy`` / ``.npz``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.errors import RecordFormatError
from ecglab.records.record import STANDARD_12_LEADS, Record

# Header words, split at anything not a letter: 'Time (s)' -> time, s; 'time_ms' -> time, ms.
_TIME_WORDS = {"time", "t", "elapsed"}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
               "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3}
_INDEX_WORDS = {"sample", "samples", "index", "idx", "unnamed"}  # 'Unnamed: 0' is pandas' unnamed index column
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 8192


def read_csv(path: str | Path, fs: float | None = None) -> Record:
    """One column per lead under a header of lead names, separated by ``,`` ``;`` tab or ``|``
    (sniffed; ``;`` and tab files may write decimal commas). An optional time column ('time',
    'Time (s)', 'time_ms', 't [ms]') gives fs; a sample-number column is dropped."""
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        sample = handle.read(_SNIFF_CHARS).rsplit("\n", 1)[0]  # whole lines only
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","  # one column, or nothing the sniffer can tell apart: a single lead
    decimal = "," if delimiter != "," and re.search(r"\d,\d", sample) else "."
    try:
        table = pd.read_csv(path, sep=delimiter, decimal=decimal)
    except Exception as exc:
        raise RecordFormatError(f"{path}: not a readable CSV ({exc}). "
                                "Expected a header of lead names, one column per lead.") from None
    if table.empty:
        raise RecordFormatError(f"{path}: the CSV holds no samples.")
    if all(_is_number(c) for c in table.columns):
        raise RecordFormatError(f"{path}: the first row holds numbers, not lead names; expected a header row such as "
                                "'I,II,III,aVR,…' (or 'time,I,II,…') above the samples.")
    time_cols = [c for c in table.columns if _time_unit(c) is not None]
    index_cols = [c for c in table.columns if _words(c) and set(_words(c)) <= _INDEX_WORDS]
    if time_cols and fs is None:
        fs = _rate_from_times(path, time_cols[0], table[time_cols[0]], _time_unit(time_cols[0]))
    table = table.drop(columns=time_cols + index_cols)
    if fs is None:
        raise RecordFormatError(f"{path}: the CSV has no time column, so its sampling rate is unknown; pass fs (--fs).")
    text = [str(c) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        raise RecordFormatError(f"{path}: every lead column must be numeric (voltages in mV); columns {text} are not "
                                f"(read with delimiter {delimiter!r} and decimal {decimal!r}).")
    return Record(table.to_numpy(dtype=np.float32).T, fs, [str(c) for c in table.columns], {"record_id": path.stem})


def _words(column) -> list[str]:
    return re.findall(r"[a-z]+", str(column).lower())


def _time_unit(column) -> float | None:
    """Seconds per unit of a time column ('Time (s)' 1, 'time_ms' 0.001), None for other columns."""
    words = _words(column)
    if not words or not set(words) <= _TIME_WORDS | set(_TIME_UNITS):
        return None
    return next((_TIME_UNITS[w] for w in words if w in _TIME_UNITS), 1.0)


def _rate_from_times(path: Path, column, values: pd.Series, seconds_per_unit: float) -> float:
    """Samples over the time span, which averages out times printed with few decimals (1/360 s as
    0.003, 0.006, 0.008 ...). Recorders sample at whole rates, so a rate within what the printed
    resolution can tell apart from a whole number is that number; otherwise 7 significant digits."""
    try:
        times = values.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise RecordFormatError(f"{path}: the time column {column!r} must hold numbers.") from None
    steps = np.diff(times)
    if len(times) < 2 or not np.all(steps > 0):
        raise RecordFormatError(f"{path}: the time column {column!r} must increase from row to row; "
                                "found repeated or decreasing times.")
    span = (times[-1] - times[0]) * seconds_per_unit
    fs = (len(times) - 1) / span
    resolution = _printed_resolution(times) * seconds_per_unit
    whole = round(fs)
    if whole > 0 and abs(fs - whole) <= fs * resolution / span + 1e-9 * fs:
        return float(whole)
    return float(f"{fs:.7g}")


def _printed_resolution(values: np.ndarray) -> float:
    """The smallest power of ten the values are multiples of (0.001 for 0.002, 0.004, 0.006)."""
    for decimals in range(10):
        scaled = values * 10.0**decimals
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6):
            return 10.0**-decimals
    return 1e-10


def read_numpy(path: str | Path, fs: float | None = None, leads: list[str] | None = None) -> Record:
    """``.npy`` of shape (n_leads, n_samples), or ``.npz`` with ``signal`` and optional ``fs``, ``leads``."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                signal = archive["signal"]
                fs = float(archive["fs"]) if fs is None and "fs" in archive else fs
                leads = [str(x) for x in archive["leads"]] if leads is None and "leads" in archive else leads
        else:
            signal = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise RecordFormatError(f"{path}: not a readable NumPy file ({exc}).") from None
    if signal.ndim > 2:
        signal = np.squeeze(signal, axis=tuple(i for i in range(signal.ndim - 2) if signal.shape[i] == 1))
    if signal.ndim > 2:
        raise RecordFormatError(f"{path}: expected one record of shape (n_leads, n_samples), found shape {signal.shape}.")
    if signal.ndim == 2 and signal.shape[0] > signal.shape[1]:
        signal = signal.T  # (n_samples, n_leads) is the common mistake; leads are always the shorter side
    if fs is None:
        raise RecordFormatError(f"{path}: NumPy files carry no sampling rate; pass fs (--fs).")
    n_leads = 1 if signal.ndim == 1 else signal.shape[0]
    if leads is None:
        if n_leads != 12:
            raise RecordFormatError(f"{path}: {n_leads} leads but no lead names; pass them (--leads I,II,...).")
        leads = STANDARD_12_LEADS
    return Record(signal, fs, list(leads), {"record_id": path.stem})


def _is_number(text) -> bool:
    try:
        float(str(text).replace(",", "."))
    except ValueError:
        return False
    return True
