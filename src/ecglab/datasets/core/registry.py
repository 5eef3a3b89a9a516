"""Dataset builders: ``prepare(name, out, source=…, **options)`` turns a source into a PreparedDataset.

Each source module registers one builder with :func:`register_dataset`. A builder receives a
:class:`PrepareContext` that gives it the shared machinery: a process pool with a progress bar
that skips (and counts) unreadable records, and writers that stamp the manifest with the
arguments and a fingerprint of the source (:mod:`ecglab.datasets.core.fingerprint`), so that
re-running the same command is a cache hit, and record its warnings (an empty split, say).
The reading processes are those of :mod:`ecglab.datasets.core.workers`.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ecglab.errors import DatasetError, EcglabError
from ecglab.datasets.core.fingerprint import option_files, source_fingerprint
from ecglab.datasets.core.lock import preparation_lock
from ecglab.datasets.core.prepared import PreparedDataset, PreparedWriter, empty_split_warning, write_prepared
from ecglab.datasets.core.sources import DATASET_MODULES
from ecglab.datasets.core.workers import read_batches


@dataclass(frozen=True)
class DatasetBuilder:
    name: str
    fn: Callable
    description: str
    needs_source: bool = True
    index_files: tuple[str, ...] = ()  # the files that define the source, fingerprinted instead of the whole tree
    version: int = 1  # raised when the builder's output changes, so that caches from before are rebuilt


_BUILDERS: dict[str, DatasetBuilder] = {}


def register_dataset(name: str, description: str, needs_source: bool = True, index_files: tuple[str, ...] = (),
                     version: int = 1):
    """Register a builder. ``index_files``: for a huge release whose index tables list every record
    (MIMIC-IV-ECG's record_list.csv), the cache fingerprints those instead of walking the tree.
    ``version``: raise it when what the builder writes changes (a new column), so old caches are rebuilt."""
    def decorator(fn):
        _BUILDERS[name] = DatasetBuilder(name, fn, description, needs_source, tuple(index_files), version)
        return fn

    return decorator


def get_builder(name: str) -> DatasetBuilder:
    if name not in DATASET_MODULES:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASET_MODULES))}.")
    importlib.import_module(DATASET_MODULES[name])
    return _BUILDERS[name]


@dataclass
class Skipped:
    item: str
    reason: str


@dataclass
class PrepareContext:
    out: Path
    source: Path | None
    force: bool = False
    strict: bool = False
    workers: int = 0
    progress: bool = True
    stamp: dict = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a warning in the manifest (the CLI prints it with the summary)."""
        self.warnings.append(message)

    def map(self, fn: Callable, items: Iterable, desc: str = "reading", names: list[str] | None = None) -> list:
        """``[fn(item) …]`` over a process pool with a progress bar, in input order.

        An item whose call raises an :class:`EcglabError` is reported by name and skipped (its
        result is None), unless ``strict``. ``fn`` must be a module-level function (picklable).
        """
        items = list(items)
        results: list = [None] * len(items)
        with contextlib.closing(self.imap(fn, items, desc, names)) as outcomes:
            for position, value in outcomes:
                results[position] = value
        return results

    def imap(self, fn: Callable, items: Sequence, desc: str = "reading", names: Sequence[str] | None = None,
             start: int = 0) -> Iterator[tuple[int, object]]:
        """Yield ``(position, fn(items[position]))`` for positions ``start…``, in order, as they come.

        Streaming: only a few batches per worker are in flight, so results never pile up in memory
        however many items there are. Skipped items (see :meth:`map`) yield None. A caller that may
        stop early wraps it in ``contextlib.closing`` so that the pool shuts down at once.
        """
        total = len(items) - start
        workers = (self.workers or min(os.cpu_count() or 1, 8)) if total >= 4 else 1
        # batches save inter-process traffic; read in this process, one item at a time holds the least
        batch = max(1, min(16, total // (workers * 8))) if workers > 1 else 1
        batches = read_batches(fn, ((first, items[first:first + batch]) for first in range(start, len(items), batch)),
                               workers)
        with progress_bar(self.progress) as bar, contextlib.closing(batches):
            task = bar.add_task(desc, total=total)
            for first, outcomes in batches:
                for position, outcome in enumerate(outcomes, first):
                    yield position, self._take(outcome, names[position] if names is not None else str(items[position]))
                    bar.advance(task)

    def _take(self, outcome, name: str):
        ok, value = outcome
        if ok:
            return value
        if self.strict:
            raise DatasetError(f"{name}: {value} (--strict makes an unreadable record fatal).")
        self.skipped.append(Skipped(name, value))
        return None

    def _extra(self, extra: dict | None, meta, source: dict | None) -> dict:
        """The manifest fields every builder shares: the stamp, the skipped records, the warnings
        (an empty split is checked on the whole dataset: a shard waits for the merge)."""
        extra = dict(extra or {})
        rule = (source or {}).get("split") or extra.get("protocol")
        split_warning = None if "shard" in extra else empty_split_warning(meta, rule)
        skipped = {"count": len(self.skipped), "items": [s.__dict__ for s in self.skipped[:1000]]}
        return {**extra, "prepare": self.stamp, "skipped": skipped,
                "warnings": self.warnings + ([split_warning] if split_warning else [])}

    def write(self, signals, labels, meta, *, dtype: str = "float32", extra: dict | None = None, **manifest) -> PreparedDataset:
        return write_prepared(self.out, signals, labels, meta, overwrite=True, dtype=dtype,
                              extra=self._extra(extra, meta, manifest.get("source")), **manifest)

    def writer(self, n_records: int, n_leads: int, length: int, n_classes: int, dtype: str = "float32",
               resume: bool = False) -> PreparedWriter:
        """A chunked writer; with ``resume`` (and no ``--force``) it continues an interrupted run of these arguments."""
        key = json.dumps(self.stamp, sort_keys=True) if resume and not self.force else None
        return PreparedWriter(self.out, n_records, n_leads, length, n_classes, dtype=dtype, overwrite=True, resume_key=key)

    def finish(self, writer: PreparedWriter, meta, *, extra: dict | None = None, **manifest) -> PreparedDataset:
        return writer.finish(meta, extra=self._extra(extra, meta, manifest.get("source")), **manifest)


def progress_bar(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), disable=not enabled, transient=False)


def _check_options(builder: DatasetBuilder, options: dict) -> None:
    accepted = [p for p in inspect.signature(builder.fn).parameters if p != "ctx"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        flags = ", ".join("--" + p.replace("_", "-") for p in accepted) or "none"
        raise DatasetError(f"dataset {builder.name!r} does not take {unknown}; its options are: {flags}.")


def prepare(name: str, out: str | Path, source: str | Path | None = None, *, force: bool = False,
            rebuild_if_changed: bool = False,
            strict: bool = False, workers: int = 0, progress: bool = True, **options) -> PreparedDataset:
    """Prepare dataset ``name`` into ``out``; a cache hit when the same arguments and source were used."""
    builder = get_builder(name)
    out = Path(out)
    if builder.needs_source:
        if source is None:
            raise DatasetError(f"dataset {name!r} needs --source DIR pointing at its files as downloaded.")
        source = Path(source)
        if not source.is_dir():
            raise DatasetError(f"--source {source} is not a directory; expected the {name} release layout.")
    _check_options(builder, options)
    # the stamp holds the builder's defaults too, so that a changed default is not served from the cache
    defaults = {k: p.default for k, p in inspect.signature(builder.fn).parameters.items()
                if k != "ctx" and p.default is not inspect.Parameter.empty}
    siblings = (out, PreparedWriter.partial_dir(out), PreparedWriter.replaced_dir(out))
    fingerprint = source_fingerprint(source, builder.index_files, exclude=siblings)
    stamp = {"dataset": name, "version": builder.version, "options": json.loads(json.dumps({**defaults, **options}, default=str)),
             "source": str(source.resolve()) if source else None, "fingerprint": fingerprint, "files": option_files(options)}
    cached = _cached(out, stamp, force, rebuild_if_changed)
    if cached is not None:
        return cached
    with preparation_lock(out):
        # another process may have prepared the same dataset while this one waited for the lock
        cached = _cached(out, stamp, force, rebuild_if_changed)
        if cached is not None:
            return cached
        ctx = PrepareContext(out, source, force, strict, workers, progress, stamp)
        return builder.fn(ctx, **options)


def _cached(out: Path, stamp: dict, force: bool, rebuild_if_changed: bool) -> PreparedDataset | None:
    """The dataset already at ``out`` when it was prepared as ``stamp`` asks; None when it is to be built."""
    if force or not out.exists():
        return None
    try:
        existing = PreparedDataset(out)
    except EcglabError:
        existing = None
    if existing is not None and _same_preparation(existing.manifest.get("prepare") or {}, stamp):
        existing.reused = True
        return existing
    if existing is None or not rebuild_if_changed:
        raise DatasetError(f"{out} already exists and {_stamp_difference(existing, stamp)}; "
                           "pass --force to rebuild it, or choose another --out.")
    return None


def _same_preparation(old: dict, new: dict) -> bool:
    """Same builder, options and source files (by fingerprint): where the source lies, or the path it was
    given by, does not matter."""
    old = {"version": 1, **old}  # caches from before builders had versions
    return {k: v for k, v in old.items() if k != "source"} == {k: v for k, v in new.items() if k != "source"}


def _stamp_difference(existing, stamp: dict) -> str:
    """What differs between an existing dataset's preparation and the one asked for, in words."""
    if existing is None:
        return "is not a prepared dataset"
    old = existing.manifest.get("prepare") or {}
    if old.get("dataset") != stamp["dataset"]:
        return f"holds {old.get('dataset')!r}, not {stamp['dataset']!r}"
    if old.get("version", 1) != stamp["version"]:
        return (f"was prepared by another ecglab (version {old.get('version', 1)} of the {stamp['dataset']} builder, "
                f"now {stamp['version']})")
    before, now = old.get("options", {}), stamp["options"]
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        return "was prepared with " + ", ".join(f"{k}={before.get(k)!r} (now {now.get(k)!r})" for k in changed)
    old_files, new_files = old.get("files", {}), stamp["files"]
    files = sorted(k for k in set(old_files) | set(new_files) if old_files.get(k) != new_files.get(k))
    if files:
        return "was prepared from another version of the file given as " + ", ".join(f"--{k}" for k in files)
    if old.get("source") != stamp["source"]:
        return f"was prepared from {old.get('source')} (now {stamp['source']})"
    return "was prepared from another version of its source (files changed since)"
