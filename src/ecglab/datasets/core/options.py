"""Builder options as the CLI gives them (strings), parsed and checked once, with messages that
name the flag; the label encodings builders write; and the one per-record preparation every
record-level builder shares (:func:`load_signal`: read, select leads, :func:`preprocess`, fix
the length) plus global standardisation statistics, taken from the training split only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.selection import group_split, record_ids
from ecglab.errors import DatasetError, RecordFormatError
from ecglab.inputs.preprocess import Preprocessing, fit_length, preprocess  # fit_length: builders import it from here
from ecglab.records import Record, normalize_lead_name, read_record
from ecglab.inputs.beats import BEAT_PRESETS, BeatSpec

DEFAULT_SEED = 0
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
RECORD_SECONDS = 10.0  # record-level datasets store 10 s per record: longer ones are cut, shorter ones padded


def choice(value: str, allowed, flag: str) -> str:
    """``value`` if it is one of ``allowed``, else an error naming the flag and the choices."""
    if value not in allowed:
        raise DatasetError(f"--{flag} must be one of {', '.join(allowed)}; found {value!r}.")
    return value


def parse_leads(lead: str) -> list[str]:
    """'MLII' or 'I,II,V1' as standard lead names ('avr' becomes 'aVR'); 'MLII,V1/V5' takes V1 or, failing
    it, V5 as the second lead (:func:`ecglab.records.lead_choices`)."""
    leads = [normalize_lead_name(name) for name in str(lead).split(",") if name.strip()]
    if not leads:
        raise DatasetError(f"--lead must name at least one lead (e.g. 'MLII' or 'I,II,V1'); found {lead!r}.")
    if len(set(leads)) != len(leads):
        raise DatasetError(f"--lead names a lead twice: {leads}.")
    return leads


def require_leads(record: Record, leads: list[str]) -> Record:
    """``record`` with exactly ``leads``; a record without one of them is skipped with this reason."""
    missing = record.missing_leads(leads)
    if missing:
        raise RecordFormatError(f"{record.meta.get('record_id', 'record')}: no lead {', '.join(missing)} in this record "
                                f"(it has {', '.join(record.leads)}); records without the --lead asked for are skipped.")
    return record.select_leads(leads)


def parse_bandpass(bandpass: str | None) -> tuple[float | None, float | None] | None:
    """'LOW,HIGH' in Hz (either may be empty: '0.5,' is a high-pass) or None."""
    if bandpass is None:
        return None
    parts = str(bandpass).split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = (float(p) if p.strip() else None for p in parts)
    except ValueError:
        raise DatasetError(f"--bandpass must be 'LOW,HIGH' in Hz, either may be empty (e.g. '0.5,40' or '0.5,'); found {bandpass!r}.") from None
    if low is None and high is None or (low is not None and high is not None and low >= high):
        raise DatasetError(f"--bandpass needs a low edge below the high edge; found {bandpass!r}.")
    return low, high


def beat_spec(method: str) -> BeatSpec:
    """The shared beat segmentation (:mod:`ecglab.inputs.beats`) for ``--beats kachuee|centred|context``."""
    return BEAT_PRESETS[choice(method, tuple(BEAT_PRESETS), "beats")].model_copy()


def one_hot(values, classes: list[str]) -> np.ndarray:
    """(N, C) uint8 labels from a class name per row; a name outside ``classes`` is an error."""
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted({str(v) for v in values if v not in index})
    if unknown:
        raise DatasetError(f"labels {unknown} are not among the classes {classes}.")
    rows = np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    return np.eye(len(classes), dtype=np.uint8)[rows]


def preprocessing(fs: float, bandpass: str | None = None, standardize: str | None = None) -> Preprocessing:
    """The :class:`Preprocessing` spec of ``--fs``, ``--bandpass`` and ``--standardize`` (global
    statistics are filled in once the training split is written)."""
    if not fs or float(fs) <= 0:
        raise DatasetError(f"--fs must be a positive sampling rate in Hz; found {fs!r}.")
    mode = choice(standardize or "none", ("none", "record", "global"), "standardize")
    return Preprocessing(fs=float(fs), bandpass=parse_bandpass(bandpass), standardize=mode)


def parse_dtype(dtype: str | None) -> str:
    return choice(dtype or "float32", ("float32", "float16"), "dtype")


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """'2/4' -> (2, 4): the second of four shards (counted from 1); None prepares everything."""
    if shard is None:
        return None
    try:
        index, count = (int(part) for part in str(shard).split("/"))
    except ValueError:
        index = count = 0
    if not 1 <= index <= count:
        raise DatasetError(f"--shard must be 'I/N' with 1 <= I <= N (e.g. '1/4' … '4/4'); found {shard!r}.")
    return index, count


def parse_codes(codes: str | None) -> list[str]:
    """'I48, I21' -> ['I48', 'I21']."""
    return [code.strip() for code in str(codes or "").split(",") if code.strip()]


def record_length(fs: float) -> int:
    return int(round(RECORD_SECONDS * fs))


def load_signal(path: str | Path, *, leads: list[str], spec: Preprocessing, length: int,
                fs: float | None = None, fill_nan: bool = False) -> np.ndarray:
    """One record as a prepared dataset stores it: ``leads`` in order, resampled, filtered and
    standardised per record by ``spec`` (global standardisation is applied to the whole dataset
    later), then cut or padded to ``length`` samples (:func:`fit_length`). ``fs`` is the rate of
    formats that store none (CSV, .npy). ``fill_nan`` turns NaN samples into 0 instead of skipping."""
    record = require_leads(read_record(path, fs=fs), leads)
    if fill_nan:
        record.signal = np.nan_to_num(record.signal, nan=0.0, posinf=0.0, neginf=0.0)
    record.check_finite()
    per_record = spec.model_copy(update={"standardize": "none"}) if spec.standardize == "global" else spec
    return fit_length(preprocess(record.signal, record.fs, per_record), length)


def multi_hot(label_lists, classes: list[str]) -> np.ndarray:
    """(N, C) uint8 from a list of labels per row; labels outside ``classes`` are ignored."""
    index = {name: i for i, name in enumerate(classes)}
    out = np.zeros((len(label_lists), len(classes)), dtype=np.uint8)
    for row, labels in enumerate(label_lists):
        out[row, [index[label] for label in labels if label in index]] = 1
    return out


def frequent_classes(label_lists, min_count: int | None) -> list[str]:
    """Labels occurring in at least ``min_count`` rows (and at least once), sorted."""
    counts = Counter(label for labels in label_lists for label in set(labels))
    return sorted(label for label, k in counts.items() if k >= max(1, min_count or 0))


def keep_classes(classes: list[str], labels: np.ndarray, min_count: int | None) -> tuple[list[str], np.ndarray]:
    """Drop the columns of ``labels`` with fewer than ``min_count`` positives (a fixed vocabulary
    keeps its empty classes unless ``--min-count`` is given)."""
    if not min_count:
        return classes, labels
    keep = np.asarray(labels).sum(axis=0) >= min_count
    return [c for c, k in zip(classes, keep) if k], np.asarray(labels)[:, keep]


def patient_split(patients, labels: np.ndarray, seed: int | None,
                  fractions: dict[str, float] = SPLIT_FRACTIONS) -> np.ndarray:
    """A split name per row, whole patients to one split (:func:`group_split`), class shares
    balanced on each record's rarest label (the usual stand-in for multilabel stratification)."""
    labels = np.asarray(labels, dtype=bool)
    frequency = labels.sum(axis=0).astype(np.float64)
    rarest = np.where(labels.any(axis=1), np.argmin(np.where(labels, frequency, np.inf), axis=1), -1)
    return group_split(np.asarray(patients).astype(str), rarest, fractions, DEFAULT_SEED if seed is None else int(seed))


def select_records(table: pd.DataFrame, column: str, source: Path, records: str | None) -> pd.DataFrame:
    """The rows of ``table`` named by ``--records`` (ids or a RECORDS file); an unknown id is an error."""
    if records is None:
        return table
    wanted = {_canonical_id(r) for r in record_ids(source, records)}
    ids = table[column].astype(str).map(_canonical_id)
    missing = sorted(wanted - set(ids))
    if missing:
        raise DatasetError(f"--records names {len(missing)} records that are not in {source}: {missing[:5]}.")
    return table[ids.isin(wanted).to_numpy()]


def _canonical_id(value: str) -> str:
    value = str(value).strip()
    return str(int(value)) if value.isdigit() else value


def global_statistics(signals: np.ndarray, rows: np.ndarray, chunk: int) -> tuple[list[float], list[float]]:
    """Per-lead mean and std over ``rows`` of a (N, L, T) array, read ``chunk`` rows at a time."""
    rows = np.sort(np.asarray(rows))
    if len(rows) == 0:
        raise DatasetError("--standardize global needs a training split to take its statistics from; it is empty.")
    total = np.zeros(signals.shape[1])
    squares = np.zeros(signals.shape[1])
    for start in range(0, len(rows), chunk):
        block = np.asarray(signals[rows[start:start + chunk]], dtype=np.float64)
        total += block.sum(axis=(0, 2))
        squares += np.square(block).sum(axis=(0, 2))
    count = len(rows) * signals.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))
    return mean.tolist(), std.tolist()
