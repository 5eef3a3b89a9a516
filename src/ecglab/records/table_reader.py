"""Plain-array files: CSV with a header of lead names, and NumPy ``.npy`` / ``.npz``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.errors import RecordFormatError
from ecglab.records.record import STANDARD_12_LEADS, Record

_TIME_COLUMNS = {"time", "t", "sample", "samples", "index", "time_s", "seconds"}


def read_csv(path: str | Path, fs: float | None = None) -> Record:
    """One column per lead with a header of lead names; an optional time column (seconds) gives fs."""
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise RecordFormatError(f"{path}: not a readable CSV ({exc}). Expected a header of lead names, one column per lead.") from None
    if table.empty:
        raise RecordFormatError(f"{path}: the CSV holds no samples.")
    time_cols = [c for c in table.columns if str(c).strip().lower() in _TIME_COLUMNS]
    if time_cols and fs is None and str(time_cols[0]).strip().lower() in {"time", "t", "time_s", "seconds"}:
        steps = np.diff(table[time_cols[0]].to_numpy(dtype=float))
        if len(steps) and np.median(steps) > 0:
            fs = 1.0 / float(np.median(steps))
    table = table.drop(columns=time_cols)
    if fs is None:
        raise RecordFormatError(f"{path}: the CSV has no time column, so its sampling rate is unknown; pass fs (--fs).")
    try:
        signal = table.to_numpy(dtype=np.float32).T
    except ValueError:
        raise RecordFormatError(f"{path}: every column must be numeric (lead voltages in mV).") from None
    return Record(signal, fs, [str(c) for c in table.columns], {"record_id": path.stem})


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
