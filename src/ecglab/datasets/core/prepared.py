"""The PreparedDataset: a directory every dataset is prepared into once, and training reads fast.

Layout::

    manifest.json   name, kind, classes, fs, leads, length, preprocessing, source, version, counts
    signals.npy     (N, L, T) float32 or float16, opened with mmap_mode="r"
    labels.npy      (N, C) multi-hot uint8 (one-hot for multiclass)
    meta.parquet    record_id, patient_id, split, and whatever else the source has (age, sex, ...)

It is written into a hidden sibling directory and renamed into place at the end, so a crash
never leaves a half-written dataset behind; a dataset it replaces (--force) is moved aside and
deleted only once the new one is in place. Splits are by patient: a patient_id in two splits
is an error, when writing and when opening.
"""

from __future__ import annotations

import json
import mmap
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.version import __version__
from ecglab.errors import DatasetError, LeakageError
from ecglab.inputs.beats import BeatSpec, input_channels

FORMAT_VERSION = 1
TASK_KINDS = ("multiclass", "multilabel")
REQUIRED_META = ("record_id", "patient_id", "split")
STANDARD_SPLITS = ("train", "val", "test")
_RESUME_KEY = "resume_key"


def check_patient_splits(meta: pd.DataFrame) -> None:
    """Raise :class:`LeakageError` if any patient_id occurs in more than one split."""
    missing = [c for c in ("patient_id", "split") if c not in meta.columns]
    if missing:
        raise DatasetError(f"meta is missing columns {missing}; expected {list(REQUIRED_META)}.")
    splits_per_patient = meta.groupby("patient_id")["split"].nunique()
    leaking = splits_per_patient[splits_per_patient > 1]
    if len(leaking):
        examples = []
        for patient in leaking.index[:5]:
            splits = sorted(meta.loc[meta["patient_id"] == patient, "split"].astype(str).unique())
            examples.append(f"{patient} in {splits}")
        raise LeakageError(
            f"{len(leaking)} patients appear in more than one split ({'; '.join(examples)}). "
            "Splits must be by patient so that test figures are not inflated by the same person's ECGs."
        )


def empty_split_warning(meta: pd.DataFrame, rule: str | None = None) -> str | None:
    """A warning naming the standard splits (train, val, test) that hold no row, and why; None if all
    are filled. ``rule`` says how the builder split (its manifest's ``source.split`` or protocol)."""
    counts = meta["split"].astype(str).value_counts()
    empty = [split for split in STANDARD_SPLITS if split not in counts.index]
    if not empty:
        return None
    patients = meta["patient_id"].nunique()
    if patients < len(STANDARD_SPLITS):
        why = (f"there are only {patients} patient{'s' if patients != 1 else ''}, and each patient's records stay in "
               "one split")
    else:
        why = "the split rule" + (f" ({rule})" if rule else "") + " assigned none of the selected records to it"
    found = ", ".join(f"{split} {count}" for split, count in counts.items())
    return (f"split{'s' if len(empty) > 1 else ''} {' and '.join(empty)} {'are' if len(empty) > 1 else 'is'} empty: "
            f"{why} (rows per split: {found}). Training needs train and val, evaluation needs test; "
            "prepare more records or patients (or, where the dataset offers one, another --split).")


class PreparedWriter:
    """Writes a PreparedDataset in chunks into a preallocated memmap, then publishes it atomically.

    Usage: ``w = PreparedWriter(out, n, n_leads, length, classes, ...)``, fill ``w.signals[i]`` and
    ``w.labels[i]``, then ``w.finish(meta, manifest_fields)``. ``w.abort()`` removes the partial files.

    With ``resume_key`` a partial directory left by an interrupted run with the same key and shapes
    is reopened instead of wiped (``w.resumed``); the caller keeps its own progress file in ``w.tmp``.
    ``w.truncate(n)`` keeps the first ``n`` rows when fewer records than preallocated were written.
    """

    def __init__(self, out: str | Path, n_records: int, n_leads: int, length: int, n_classes: int,
                 dtype: str = "float32", overwrite: bool = False, resume_key: str | None = None):
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise DatasetError(f"{self.out} already exists; pass --force to rebuild it.")
        _check_replaceable(self.out)
        if dtype not in ("float32", "float16"):
            raise DatasetError(f"dtype must be float32 or float16, found {dtype!r}.")
        self.tmp = self.partial_dir(self.out)
        shapes = {"signals": ((n_records, n_leads, length), np.dtype(dtype)), "labels": ((n_records, n_classes), np.dtype(np.uint8))}
        self.resumed = resume_key is not None and self._reopen(resume_key, shapes)
        if self.resumed:
            return
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        try:
            self.tmp.mkdir(parents=True)
        except OSError as exc:
            raise DatasetError(f"cannot write a dataset next to {self.out} ({exc.strerror}); choose an --out in a writable folder.") from None
        for name, (shape, kind) in shapes.items():
            setattr(self, name, np.lib.format.open_memmap(self.tmp / f"{name}.npy", mode="w+", dtype=kind, shape=shape))
        if resume_key is not None:
            (self.tmp / _RESUME_KEY).write_text(resume_key)

    @staticmethod
    def partial_dir(out: Path) -> Path:
        """The hidden sibling a dataset is written into before it is renamed to ``out``."""
        out = Path(out)
        return out.parent / f".{out.name}.partial"

    @staticmethod
    def replaced_dir(out: Path) -> Path:
        """The hidden sibling an old dataset is moved to while --force puts the new one in its place."""
        out = Path(out)
        return out.parent / f".{out.name}.replaced"

    def _reopen(self, resume_key: str, shapes: dict) -> bool:
        key_file = self.tmp / _RESUME_KEY
        if not key_file.is_file() or key_file.read_text() != resume_key:
            return False
        try:
            arrays = {name: np.load(self.tmp / f"{name}.npy", mmap_mode="r+") for name in shapes}
        except (OSError, ValueError):
            return False
        if any((arrays[name].shape, arrays[name].dtype) != shapes[name] for name in shapes):
            return False
        self.signals, self.labels = arrays["signals"], arrays["labels"]
        return True

    def truncate(self, n_rows: int) -> None:
        """Keep the first ``n_rows`` records: shrink both files in place (header rewritten, tail cut)."""
        if not 0 < n_rows <= self.signals.shape[0]:
            raise DatasetError(f"cannot keep {n_rows} of {self.signals.shape[0]} rows; at least one record is needed.")
        for name in ("signals", "labels"):
            getattr(self, name).flush()
            delattr(self, name)
            _shrink_npy(self.tmp / f"{name}.npy", n_rows)
            setattr(self, name, np.load(self.tmp / f"{name}.npy", mmap_mode="r+"))

    def finish(self, meta: pd.DataFrame, *, name: str, kind: str, classes: list[str], fs: float,
               leads: list[str], preprocessing: dict | None = None, source: dict | None = None,
               extra: dict | None = None) -> "PreparedDataset":
        n, n_leads, length = self.signals.shape
        _validate(meta, kind, classes, leads, n, n_leads, self.labels.shape[1], (extra or {}).get("beats"))
        check_patient_splits(meta)
        _check_finite(self.signals, meta)
        self.signals.flush()
        self.labels.flush()
        del self.signals, self.labels
        (self.tmp / _RESUME_KEY).unlink(missing_ok=True)
        meta = meta.reset_index(drop=True)
        meta.to_parquet(self.tmp / "meta.parquet", index=False)
        labels = np.load(self.tmp / "labels.npy", mmap_mode="r")
        manifest = {
            "name": name, "kind": kind, "classes": list(classes), "fs": float(fs), "leads": list(leads),
            "length": int(length), "n_records": int(n), "dtype": str(np.load(self.tmp / "signals.npy", mmap_mode="r").dtype),
            "preprocessing": preprocessing or {}, "source": source or {},
            "split_counts": _split_counts(meta, labels, classes),
            "format_version": FORMAT_VERSION, "ecglab_version": __version__, **(extra or {}),
        }
        (self.tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default))
        _publish(self.tmp, self.out)
        return PreparedDataset(self.out)

    def abort(self) -> None:
        for attr in ("signals", "labels"):
            if hasattr(self, attr):
                delattr(self, attr)
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_prepared(out: str | Path, signals: np.ndarray, labels: np.ndarray, meta: pd.DataFrame, *,
                   overwrite: bool = False, dtype: str = "float32", **manifest) -> "PreparedDataset":
    """Write in-memory arrays as a PreparedDataset (small datasets; large ones use PreparedWriter)."""
    signals = np.asarray(signals)
    if signals.ndim != 3:
        raise DatasetError(f"signals must be (N, leads, samples), found shape {signals.shape}.")
    writer = PreparedWriter(out, *signals.shape, np.asarray(labels).shape[1], dtype=dtype, overwrite=overwrite)
    try:
        writer.signals[:] = signals
        writer.labels[:] = labels
        return writer.finish(meta, **manifest)
    except BaseException:
        writer.abort()
        raise


@dataclass
class PreparedDataset:
    """A prepared dataset directory, memory-mapped. ``signals`` and ``labels`` are read lazily."""

    path: Path
    reused: bool = field(default=False, compare=False)  # set by ``prepare`` on a cache hit

    def __post_init__(self):
        self.path = Path(self.path)
        manifest_path = self.path / "manifest.json"
        if not manifest_path.exists():
            raise DatasetError(
                f"{self.path} is not a prepared dataset (no manifest.json). "
                "Create one with `ecglab prepare synthetic --out DIR` or `ecglab prepare NAME --source DIR --out DIR`."
            )
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{manifest_path}: not a readable manifest ({exc}); prepare the dataset again (--force).") from None
        missing = [k for k in MANIFEST_KEYS if k not in self.manifest]
        if missing:
            raise DatasetError(f"{manifest_path}: the manifest lacks {missing}; prepare the dataset again (--force).")
        try:
            self.signals = np.load(self.path / "signals.npy", mmap_mode="r")
            self.labels = np.load(self.path / "labels.npy", mmap_mode="r")
            self.meta = pd.read_parquet(self.path / "meta.parquet")
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.path}: prepared dataset is incomplete or corrupt ({exc}).") from None
        _validate(self.meta, self.kind, self.classes, self.leads, *self.signals.shape[:2], self.labels.shape[1],
                  self.manifest.get("beats"))
        check_patient_splits(self.meta)

    kind = property(lambda self: self.manifest["kind"])
    classes = property(lambda self: list(self.manifest["classes"]))
    fs = property(lambda self: float(self.manifest["fs"]))
    leads = property(lambda self: list(self.manifest["leads"]))
    length = property(lambda self: int(self.manifest["length"]))
    name = property(lambda self: self.manifest["name"])
    beats = property(lambda self: _beat_spec(self.manifest.get("beats")))
    channels = property(lambda self: input_channels(len(self.leads), self.beats))  # what a model reads

    def __len__(self) -> int:
        return self.signals.shape[0]

    @property
    def splits(self) -> list[str]:
        return list(pd.unique(self.meta["split"].astype(str)))

    def split_indices(self, split: str | list[str]) -> np.ndarray:
        """Row indices of one split (or several); an empty or unknown split is an error."""
        wanted = [split] if isinstance(split, str) else list(split)
        index = np.flatnonzero(self.meta["split"].astype(str).isin(wanted).to_numpy())
        if len(index) == 0:
            raise DatasetError(f"{self.path}: split {wanted} is empty; the dataset has splits {self.splits}.")
        return index


def _shrink_npy(path: Path, n_rows: int) -> None:
    """Cut a C-order .npy file to its first ``n_rows`` rows without copying: the header is rewritten
    to the same length (the shorter shape is padded with spaces, as the format allows)."""
    with open(path, "r+b") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
        if fortran:
            raise DatasetError(f"{path}: cannot shrink a Fortran-ordered array.")
        new_shape = (n_rows, *shape[1:])
        text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": new_shape})
        size_bytes = 2 if version == (1, 0) else 4
        prefix = np.lib.format.magic(*version)
        header = (text.ljust(offset - len(prefix) - size_bytes - 1) + "\n").encode("latin1")
        handle.seek(0)
        handle.write(prefix + len(header).to_bytes(size_bytes, "little") + header)
        handle.truncate(offset + int(np.prod(new_shape)) * dtype.itemsize)


MANIFEST_KEYS = ("name", "kind", "classes", "fs", "leads", "length")


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out``. An old dataset there is moved aside first and deleted
    only once the new one is in place: a failure or Ctrl-C at any step leaves one complete dataset
    at ``out`` (the old one if the new could not be put there)."""
    aside = PreparedWriter.replaced_dir(out)
    if aside.exists():  # an earlier run stopped mid-swap: restore its old dataset or drop the spare copy
        if out.exists():
            shutil.rmtree(aside)
        else:
            aside.rename(out)
    if not out.exists():
        tmp.rename(out)
        return
    out.rename(aside)
    try:
        tmp.rename(out)
    except BaseException:
        aside.rename(out)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _check_replaceable(out: Path) -> None:
    """--force rebuilds a prepared dataset; it never deletes a file or a folder of something else."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"--out {out} is a file; expected a directory for the prepared dataset.")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise DatasetError(f"--out {out} is a non-empty folder that is not a prepared dataset; refusing to replace it. "
                           "Choose another --out.")


RESIDENT_BYTES = 64 << 20  # how much of a memmap a pass over it maps before it releases the pages


def release_pages(array: np.ndarray) -> None:
    """Unmap a memmap's pages from this process; anything else is left alone. Pages read or written
    through a file mapping count as the process's resident memory until unmapped, so a pass over a
    large dataset would otherwise hold all of it. The data stay in the file (and the page cache):
    written pages are still written back, and touching them again maps them again."""
    mapping = getattr(array, "_mmap", None)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def _check_finite(signals: np.ndarray, meta: pd.DataFrame, budget_bytes: int = 1 << 17) -> None:
    """NaN or infinite samples would poison training much later; name the records now.

    Reads the memmap in chunks of a fixed byte budget and releases the pages read every
    :data:`RESIDENT_BYTES`, so memory stays constant for any dataset size."""
    rows = max(1, budget_bytes // max(1, int(np.prod(signals.shape[1:]))))
    chunk_bytes = max(1, rows * signals.itemsize * int(np.prod(signals.shape[1:])))
    rows_resident = rows * max(1, RESIDENT_BYTES // chunk_bytes)
    bad = []
    for block in range(0, len(signals), rows_resident):
        for start in range(block, min(block + rows_resident, len(signals)), rows):
            finite = np.isfinite(signals[start:start + rows]).reshape(min(rows, len(signals) - start), -1).all(axis=1)
            bad.extend(start + np.flatnonzero(~finite))
        release_pages(signals)
    if bad:
        names = meta["record_id"].astype(str).iloc[bad[:5]].tolist()
        raise DatasetError(f"{len(bad)} records hold NaN or infinite samples (e.g. {names}); expected finite voltages. "
                           "Fix or exclude those records (loaders skip unreadable records; --strict stops at them).")


def _beat_spec(beats: dict | None) -> BeatSpec | None:
    return BeatSpec.model_validate(beats) if beats else None


def _validate(meta, kind, classes, leads, n, n_channels, n_classes, beats: dict | None = None) -> None:
    if kind not in TASK_KINDS:
        raise DatasetError(f"task kind must be one of {TASK_KINDS}, found {kind!r}.")
    missing = [c for c in REQUIRED_META if c not in meta.columns]
    if missing:
        raise DatasetError(f"meta is missing columns {missing}; expected at least {list(REQUIRED_META)}.")
    if len(meta) != n:
        raise DatasetError(f"meta has {len(meta)} rows but there are {n} signals.")
    if len(classes) != n_classes:
        raise DatasetError(f"{len(classes)} class names for {n_classes} label columns.")
    expected = input_channels(len(leads), _beat_spec(beats))
    if expected != n_channels:
        raise DatasetError(f"{len(leads)} lead names for {n_channels} signal channels (expected {expected}).")


def _split_counts(meta: pd.DataFrame, labels: np.ndarray, classes: list[str]) -> dict:
    counts = {}
    for split in pd.unique(meta["split"].astype(str)):
        rows = np.flatnonzero(meta["split"].astype(str).to_numpy() == split)
        per_class = np.asarray(labels[rows]).sum(axis=0)
        counts[split] = {"records": int(len(rows)), "patients": int(meta["patient_id"].iloc[rows].nunique()),
                         "classes": {c: int(k) for c, k in zip(classes, per_class)}}
    return counts


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")
