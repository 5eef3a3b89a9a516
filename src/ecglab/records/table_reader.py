"""Plain-array files: CSV/TSV with a header of lead names, and NumPy ``.npy`` / ``.npz``."""

from __future__ import annotations

import csv
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.errors import InputTooLargeError, RecordFormatError
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import STANDARD_12_LEADS, Record

# Header words, split at anything not a letter: 'Time (s)' -> time, s; 'time_ms' -> time, ms.
_TIME_WORDS = {"time", "t", "elapsed"}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
               "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3}
_INDEX_WORDS = {"sample", "samples", "index", "idx", "unnamed"}  # 'Unnamed: 0' is pandas' unnamed index column
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 8192


def read_csv(path: str | Path, fs: float | None = None, limits: InputLimits | None = None) -> Record:
    """One column per lead under a header of lead names, separated by ``,`` ``;`` tab or ``|``
    (sniffed; ``;`` and tab files may write decimal commas). An optional time column ('time',
    'Time (s)', 'time_ms', 't [ms]') gives fs; a sample-number column is dropped. The columns and
    lines are counted, and bounded by ``limits``, before the values are parsed."""
    path = Path(path)
    sample, delimiter, decimal = _sniff(path)
    columns = _header_columns(sample, delimiter)
    leads = [c for c in columns if not _is_time_or_index(c)]
    if columns and not leads:
        raise RecordFormatError(f"{path}: the table has no lead columns, only {columns}; expected one column per "
                                "lead (e.g. 'time,I,II,III') holding voltages in mV.")
    resolve_limits(limits).check(len(leads), _count_lines(path), str(path))
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
    index_cols = [c for c in table.columns if _is_index(c)]
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


def is_signal_table(path: str | Path) -> bool:
    """Whether a table looks like an ECG rather than a list (labels.csv, an index): a header with at
    least one column that is not time or a sample number, over a first row of numbers only."""
    sample, delimiter, decimal = _sniff(Path(path))
    rows = list(csv.reader(sample.splitlines()[:2], delimiter=delimiter))
    if len(rows) < 2 or not any(not _is_time_or_index(c) for c in rows[0]):
        return False
    return all(_is_number(value.strip(), decimal) for value in rows[1])


def _sniff(path: Path) -> tuple[str, str, str]:
    """The first whole lines of a table, its delimiter and its decimal mark."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        sample = handle.read(_SNIFF_CHARS).rsplit("\n", 1)[0]  # whole lines only
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","  # one column, or nothing the sniffer can tell apart: a single lead
    decimal = "," if delimiter != "," and re.search(r"\d,\d", sample) else "."
    return sample, delimiter, decimal


def _header_columns(sample: str, delimiter: str) -> list[str]:
    first = sample.splitlines()[:1]
    return [c.strip() for c in next(csv.reader(first, delimiter=delimiter), [])] if first else []


def _count_lines(path: Path) -> int:
    """Lines in the file, counted in fixed-size chunks: the bound on its rows before pandas parses it."""
    count = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            count += chunk.count(b"\n")
    return count + 1


def _is_index(column) -> bool:
    return bool(_words(column)) and set(_words(column)) <= _INDEX_WORDS


def _is_time_or_index(column) -> bool:
    return _time_unit(column) is not None or _is_index(column)


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


def read_numpy(path: str | Path, fs: float | None = None, leads: list[str] | None = None,
               limits: InputLimits | None = None) -> Record:
    """``.npy`` of shape (n_leads, n_samples), or ``.npz`` with ``signal`` and optional ``fs``, ``leads``.
    Shapes, dtypes and (for ``.npz``) member sizes are checked from the headers before anything is
    decoded; a ``.npy`` is memory-mapped (copy-on-write), not read into memory twice."""
    path = Path(path)
    limits = resolve_limits(limits)
    try:
        if path.suffix == ".npz":
            signal, fs, leads = _read_npz(path, fs, leads, limits)
        else:
            with open(path, "rb") as handle:
                _check_npy_header(handle, str(path), limits, path.stat().st_size)
            signal = np.load(path, mmap_mode="c", allow_pickle=False)
    except RecordFormatError:
        raise
    except Exception as exc:
        raise RecordFormatError(f"{path}: not a readable NumPy file ({type(exc).__name__}: {exc}).") from None
    if signal.ndim > 2:
        signal = np.squeeze(signal, axis=tuple(i for i in range(signal.ndim - 2) if signal.shape[i] == 1))
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


_NPZ_SMALL_MEMBER = 1 << 20  # fs and leads: a number and a few names


def _read_npz(path: Path, fs, leads, limits: InputLimits):
    """``signal``, ``fs`` and ``leads`` of an archive whose every member is bounded before it is decompressed."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        if "signal" not in members:
            raise RecordFormatError(f"{path}: no 'signal' array in the archive; found {sorted(members)}.")
        for name, info in members.items():
            where = f"{path}: member {info.filename}"
            if name != "signal" and info.file_size > _NPZ_SMALL_MEMBER:
                raise InputTooLargeError(f"{where} declares {info.file_size:,} bytes uncompressed; expected at most "
                                         f"{_NPZ_SMALL_MEMBER:,} (a rate or lead names).")
            with archive.open(info) as member:
                _check_npy_header(member, where, limits if name == "signal" else None, info.file_size)
    with np.load(path, allow_pickle=False) as archive:
        signal = archive["signal"]
        fs = float(archive["fs"]) if fs is None and "fs" in archive else fs
        leads = [str(x) for x in archive["leads"]] if leads is None and "leads" in archive else leads
    return signal, fs, leads


def _check_npy_header(handle, where: str, limits: InputLimits | None, size: int) -> None:
    """The array an .npy header declares: numeric, at most two dimensions that are not 1, within
    ``limits``, and held whole by the ``size`` bytes of the file (or archive member)."""
    version = np.lib.format.read_magic(handle)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(handle)
    if dtype.kind not in "biuf" + ("US" if limits is None else ""):
        raise RecordFormatError(f"{where}: holds {dtype} values; expected numbers (integers or floats).")
    sides = [n for n in shape if n != 1] or [1]
    if limits is not None:
        if len(sides) > 2:
            raise RecordFormatError(f"{where}: expected one record of shape (n_leads, n_samples), found shape {shape}.")
        limits.check(min(sides) if len(sides) == 2 else 1, max(sides), where)
    needed = handle.tell() + math.prod(shape) * dtype.itemsize
    if size < needed:
        raise RecordFormatError(f"{where}: truncated: its header declares shape {shape} of {dtype} ({needed:,} bytes "
                                f"with the header), but it holds {size:,} bytes.")


def _is_number(text, decimal: str = ",") -> bool:
    try:
        float(str(text).replace(decimal, "."))
    except ValueError:
        return False
    return True
