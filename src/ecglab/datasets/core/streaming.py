"""Streaming preparation for record-level datasets of any size (PTB-XL, CinC, MIMIC-IV-ECG, folders).

A builder describes its source as a :class:`RecordTable` (one row per record: what to read, its
labels and meta, its split) before any signal is read; :func:`write_records` then reads the
records over the process pool of ``ctx.imap`` straight into the preallocated memmap of a
:class:`PreparedWriter`, one chunk at a time, so that a dataset never sits in memory.

After every chunk a small progress file (records done, rows written, records skipped) is saved
in the partial directory; re-running the same command continues where an interrupted run
stopped. A ``--strict`` run that stops at an unreadable record is such an interruption: its
partial directory is kept too, and the error (as that of a Ctrl-C) says where it is and how to
drop it. A refusal the same command would repeat (no record readable, NaN samples) removes it.

``--shard i/n`` prepares one contiguous block of the table (splits are decided on the whole
table first, so every shard agrees), and :func:`merge_shards` joins the shards into the dataset
one machine would have written, taking global standardisation statistics afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ecglab.datasets.core.options import global_statistics, parse_shard
from ecglab.datasets.core.prepared import PreparedDataset, PreparedWriter, check_patient_splits, empty_split_warning
from ecglab.datasets.core.registry import Skipped, progress_bar
from ecglab.errors import DatasetError, Interrupted
from ecglab.inputs.preprocess import Preprocessing, standardize

CHUNK_BYTES = 64 * 2**20  # signal bytes held in memory at once while writing
PROGRESS_FILE = "progress.json"
JOURNAL_FILE = "journal.npy"
_CORE_MANIFEST = {"name", "kind", "classes", "fs", "leads", "length", "n_records", "dtype", "preprocessing",
                  "source", "split_counts", "format_version", "ecglab_version", "prepare", "skipped", "shard",
                  "warnings"}


@dataclass
class RecordTable:
    """A source's records before reading: ``items[i]`` is what ``read`` takes (usually a path),
    ``labels`` (N, C) multi-hot, ``meta`` with record_id, patient_id and split, ``names`` how a
    skipped record is reported (default ``str(item)``)."""

    items: Sequence
    labels: np.ndarray
    meta: pd.DataFrame
    names: Sequence[str] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def block(self, start: int, stop: int) -> "RecordTable":
        names = None if self.names is None else self.names[start:stop]
        return RecordTable(self.items[start:stop], self.labels[start:stop], self.meta.iloc[start:stop], names)


@dataclass
class _Progress:
    """What an interrupted run had finished; saved atomically after every chunk."""

    path: Path
    items_done: int = 0
    rows_written: int = 0
    skipped: list = field(default_factory=list)  # [position, name, reason]
    mean: list | None = None
    std: list | None = None
    standardized_rows: int = 0
    journal: list | None = None  # [first, stop) rows whose raw values JOURNAL_FILE holds

    @classmethod
    def open(cls, directory: Path, resumed: bool) -> "_Progress":
        path = directory / PROGRESS_FILE
        if resumed and path.is_file():
            return cls(path, **json.loads(path.read_text()))
        return cls(path)

    def save(self) -> None:
        state = {k: v for k, v in asdict(self).items() if k != "path"}
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(state))
        os.replace(scratch, self.path)


def chunk_rows(n_leads: int, length: int) -> int:
    return max(1, CHUNK_BYTES // (n_leads * length * 4))


def write_records(ctx, table: RecordTable, read: Callable, *, length: int, spec: Preprocessing,
                  dtype: str = "float32", shard: str | None = None, extra: dict | None = None,
                  **manifest) -> PreparedDataset:
    """Read every record of ``table`` with ``read(item) -> (n_leads, length)`` into a PreparedDataset.

    ``manifest`` holds name, kind, classes, fs, leads and source. Unreadable records are skipped
    and counted; global standardisation (``spec.standardize == "global"``) takes its statistics
    from the rows whose split is ``train``, and in a shard waits for :func:`merge_shards`.
    """
    check_patient_splits(table.meta)  # before hours of reading, not after
    part = parse_shard(shard)
    extra = dict(extra or {})
    if part:
        index, count = part
        start, stop = len(table) * (index - 1) // count, len(table) * index // count
        extra["shard"] = {"index": index, "count": count, "rows": [start, stop]}
        table = table.block(start, stop)
    if len(table) == 0:
        raise DatasetError(f"nothing to prepare: the source lists no usable records{' in shard ' + shard if part else ''}.")
    n_leads, chunk = len(manifest["leads"]), chunk_rows(len(manifest["leads"]), length)
    writer = ctx.writer(len(table), n_leads, length, table.labels.shape[1], dtype=dtype, resume=True)
    progress = _Progress.open(writer.tmp, writer.resumed)
    # keep what the builder skipped before streaming (e.g. unreadable headers), then what an interrupted run skipped
    ctx.skipped[:] = ctx.skipped + [Skipped(name, reason) for _, name, reason in progress.skipped]
    with _stage(writer, progress, manifest["name"], resumable_errors=True):  # a --strict stop at an unreadable record
        _read_into(ctx, writer, table, read, progress, chunk, manifest["name"])
    with _stage(writer, progress, manifest["name"], resumable_errors=False):
        meta = _readable_meta(table, progress)
        if spec.standardize == "global" and not part:
            spec = _standardize_globally(writer, meta, spec, progress, chunk)
    try:
        writer.truncate(progress.rows_written)
        for leftover in (PROGRESS_FILE, JOURNAL_FILE):
            (writer.tmp / leftover).unlink(missing_ok=True)
        return ctx.finish(writer, meta, preprocessing=spec.model_dump(), extra=extra, **manifest)
    except BaseException:  # a refusal (NaN samples, say) or a stop: once truncated, the rows cannot be resumed
        writer.abort()
        raise


@contextlib.contextmanager
def _stage(writer: PreparedWriter, progress: _Progress, name: str, resumable_errors: bool):
    """Ctrl-C keeps the partial directory, and the message says where it is. So does a
    :class:`DatasetError` when ``resumable_errors`` (the same command continues after it); any other
    is a refusal the same command would repeat, and the partial directory goes with it."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"preparing {name} was interrupted. {_kept_for_resuming(writer, progress)}") from None
    except DatasetError as exc:
        if resumable_errors:
            kept = _kept_for_resuming(writer, progress, " (without --strict it skips the unreadable records)")
            raise DatasetError(f"{exc} {kept}") from None
        writer.abort()
        raise


def _readable_meta(table: RecordTable, progress: _Progress) -> pd.DataFrame:
    """The meta rows of the records read; none is an error."""
    kept = np.ones(len(table), dtype=bool)
    kept[[position for position, _, _ in progress.skipped]] = False
    if not kept.any():
        reasons = "; ".join(f"{name}: {reason}" for _, name, reason in progress.skipped[:3])
        raise DatasetError(f"none of the {len(table)} records could be read ({reasons}).")
    return table.meta[kept].reset_index(drop=True)


def _kept_for_resuming(writer: PreparedWriter, progress: _Progress, how: str = "") -> str:
    size = writer.signals.size * writer.signals.itemsize / 2**30
    return (f"The {progress.rows_written} records saved so far stay in {writer.tmp} (its signals.npy is preallocated "
            f"for all records, {size:.2f} GB): the same command continues from there{how}, and --force or deleting "
            "that directory starts afresh.")


def _read_into(ctx, writer: PreparedWriter, table: RecordTable, read: Callable, progress: _Progress,
               chunk: int, name: str) -> None:
    """Fill the writer from ``progress.items_done`` on, saving progress after every flushed chunk."""
    if progress.items_done >= len(table):
        return
    signals: list[np.ndarray] = []
    positions: list[int] = []

    def flush(consumed: int) -> None:
        if signals:
            rows = slice(progress.rows_written, progress.rows_written + len(signals))
            writer.signals[rows] = np.stack(signals)
            writer.labels[rows] = table.labels[positions]
            writer.signals.flush()
            writer.labels.flush()
            progress.rows_written += len(signals)
        progress.items_done = consumed
        progress.save()
        signals.clear()
        positions.clear()

    desc = f"{name}: reading" + (f" (resumed after {progress.items_done} of {len(table)})" if progress.items_done else "")
    with contextlib.closing(ctx.imap(read, table.items, desc, table.names, start=progress.items_done)) as results:
        for position, signal in results:
            if signal is None:
                progress.skipped.append([position, ctx.skipped[-1].item, ctx.skipped[-1].reason])
            else:
                signals.append(signal)
                positions.append(position)
            if len(signals) >= chunk:
                flush(position + 1)
    flush(len(table))


def _standardize_globally(writer: PreparedWriter, meta: pd.DataFrame, spec: Preprocessing,
                          progress: _Progress, chunk: int) -> Preprocessing:
    """Statistics from the training rows, then every written row standardised in place.

    In-place updates are not idempotent, so each chunk's raw values are journalled first: a run
    interrupted mid-chunk restores them on resume instead of standardising that chunk twice.
    """
    n_rows = progress.rows_written
    if progress.mean is None:
        train = np.flatnonzero(meta["split"].astype(str).to_numpy() == "train")
        progress.mean, progress.std = global_statistics(writer.signals, train, chunk)
        progress.save()
    spec = spec.model_copy(update={"mean": progress.mean, "std": progress.std})
    journal = writer.tmp / JOURNAL_FILE
    if progress.journal is not None:
        first, stop = progress.journal
        writer.signals[first:stop] = np.load(journal)
    for first in range(progress.standardized_rows, n_rows, chunk):
        stop = min(n_rows, first + chunk)
        np.save(journal, writer.signals[first:stop])
        progress.journal = [first, stop]
        progress.save()
        writer.signals[first:stop] = standardize(np.asarray(writer.signals[first:stop], dtype=np.float32), spec)
        writer.signals.flush()
        progress.standardized_rows, progress.journal = stop, None
        progress.save()
    return spec


def merge_shards(out: str | Path, shard_dirs: Sequence[str | Path], *, force: bool = False,
                 progress: bool = True) -> PreparedDataset:
    """Join the shards of one ``--shard i/n`` preparation into the dataset a single run would write.

    Every shard 1…n must be there once, prepared with the same arguments from the same source.
    Global standardisation statistics are taken here, from the merged training split.
    """
    out = Path(out)
    shards = sorted((PreparedDataset(Path(d)) for d in shard_dirs), key=lambda d: d.manifest.get("shard", {}).get("index", 0))
    first = _check_shards(shards)
    stamp = json.loads(json.dumps(first["prepare"]))
    stamp["options"]["shard"] = None  # as the unsharded command stamps it, so that one is a cache hit
    if out.exists() and not force:
        existing = PreparedDataset(out)
        if existing.manifest.get("prepare") == stamp:
            existing.reused = True
            return existing
        raise DatasetError(f"{out} already exists and holds another dataset; pass --force to replace it.")
    n_records = sum(len(shard) for shard in shards)
    length, n_leads = first["length"], len(first["leads"])
    writer = PreparedWriter(out, n_records, n_leads, length, len(first["classes"]), dtype=first["dtype"], overwrite=True)
    try:
        return _merge_into(writer, shards, first, stamp, progress)
    except BaseException:  # a merge does not resume: its partial directory is of no use
        writer.abort()
        raise


def _merge_into(writer: PreparedWriter, shards: list[PreparedDataset], first: dict, stamp: dict,
                progress: bool) -> PreparedDataset:
    n_records, n_leads, length = writer.signals.shape
    chunk = chunk_rows(n_leads, length)
    row = 0
    with progress_bar(progress) as bar:
        task = bar.add_task(f"{first['name']}: merging {len(shards)} shards", total=n_records)
        for shard in shards:
            for start in range(0, len(shard), chunk):
                block = slice(start, min(len(shard), start + chunk))
                size = block.stop - block.start
                writer.signals[row:row + size] = shard.signals[block]
                writer.labels[row:row + size] = shard.labels[block]
                row += size
                bar.advance(task, size)
    meta = pd.concat([shard.meta for shard in shards], ignore_index=True)
    spec = Preprocessing.model_validate(first["preprocessing"])
    if spec.standardize == "global":
        spec = _standardize_globally(writer, meta, spec, _Progress(writer.tmp / PROGRESS_FILE, rows_written=n_records), chunk)
        for leftover in (PROGRESS_FILE, JOURNAL_FILE):
            (writer.tmp / leftover).unlink(missing_ok=True)
    skipped = [item for shard in shards for item in shard.manifest["skipped"]["items"]]
    extra = {k: v for k, v in first.items() if k not in _CORE_MANIFEST}
    extra.update(prepare=stamp, skipped={"count": sum(s.manifest["skipped"]["count"] for s in shards), "items": skipped[:1000]})
    # the builder's warnings are the same in every shard; an empty split shows only once they are joined
    split_warning = empty_split_warning(meta, first["source"].get("split") or first.get("protocol"))
    extra["warnings"] = first.get("warnings", []) + ([split_warning] if split_warning else [])
    return writer.finish(meta, name=first["name"], kind=first["kind"], classes=first["classes"], fs=first["fs"],
                         leads=first["leads"], preprocessing=spec.model_dump(), source=first["source"], extra=extra)


def _check_shards(shards: list[PreparedDataset]) -> dict:
    """The first shard's manifest, once every shard is known to belong to the same preparation."""
    if not shards:
        raise DatasetError("no shard directories given; expected the outputs of `ecglab prepare … --shard i/n`.")
    for shard in shards:
        if "shard" not in shard.manifest:
            raise DatasetError(f"{shard.path} is not a shard (it was prepared without --shard i/n).")
    count = shards[0].manifest["shard"]["count"]
    indices = [shard.manifest["shard"]["index"] for shard in shards]
    if indices != list(range(1, count + 1)):
        raise DatasetError(f"expected shards 1…{count} once each; found {indices}.")

    def common(manifest: dict) -> dict:
        stamp = json.loads(json.dumps(manifest.get("prepare", {})))
        stamp.get("options", {}).pop("shard", None)
        return {"prepare": stamp, **{k: manifest[k] for k in ("name", "kind", "classes", "fs", "leads", "length", "dtype")}}

    reference = common(shards[0].manifest)
    for shard in shards[1:]:
        if common(shard.manifest) != reference:
            raise DatasetError(f"{shard.path} was prepared with other arguments, classes or source than "
                               f"{shards[0].path}; shards of one preparation share everything but --shard.")
    return shards[0].manifest
