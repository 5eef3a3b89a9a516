"""Measured metadata columns of a prepared dataset (:mod:`ecglab.inference.measured`), computed once.

Delineating a 12-lead 10-s record costs about 0.04 s, so the measurements of every stored row are kept beside
the signals they were read from (``measurements.parquet``, stamped in ``measurements.json`` with the
delineator's weights and the measuring code, and the signals file) and reused by every run, ``ecglab cv`` fold
view (its signals are links to the original's) and bundle evaluation of those rows. A bundle scoring data it
preprocesses itself, or trained on rows of another length, measures each row as the Predictor would, afresh.
"""

from __future__ import annotations

import json
import os
import warnings
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.datasets.core.registry import progress_bar
from ecglab.datasets.core.workers import read_batches
from ecglab.errors import ConfigError, DatasetError, EcglabNote
from ecglab.inference.measured import MEASURED, measured_features, measurement_problem, measuring_code_id
from ecglab.inputs.match import data_preprocessing
from ecglab.inputs.preprocess import Preprocessing, preprocess

CACHE, STAMP = "measurements.parquet", "measurements.json"
BATCH_ROWS = 32
MIN_ROWS_FOR_WORKERS = 1000  # below, starting processes (a few seconds each, torch included) costs more than it saves
MAX_WORKERS = 8


def with_measurements(dataset: PreparedDataset, names: list[str], *, progress: bool = False,
                      steps: Preprocessing | None = None, seen_as: Preprocessing | None = None,
                      samples: int | None = None) -> pd.DataFrame:
    """``dataset.meta`` with a column for each measurement of ``names``, taken on the stored rows, or, for a
    bundle, on each row as its model sees it: after ``steps`` the bundle adds, with ``seen_as`` the model's
    preprocessing, cut or padded to its ``samples``."""
    if not names:
        return dataset.meta
    seen_as = seen_as or data_preprocessing(dataset.manifest)
    problem = measurement_problem(names, seen_as, dataset.beats is not None)
    if problem:
        raise ConfigError(f"data.meta_features: {problem}")
    if steps is None and samples in (None, dataset.length):
        table = dataset_measurements(dataset, progress)
    else:
        table = _measure_rows(dataset, names, progress, steps, seen_as, samples)
    return dataset.meta.assign(**{name: table[name].to_numpy() for name in names})


def dataset_measurements(dataset: PreparedDataset, progress: bool = False) -> pd.DataFrame:
    """Every measurement (:data:`MEASURED`) of every stored row, NaN where absent; from the cache when current."""
    signals = Path(dataset.path / "signals.npy").resolve()
    folder = signals.parent
    status = signals.stat()
    stamp = {"code": measuring_code_id(), "signals": [status.st_size, status.st_mtime_ns], "rows": len(dataset)}
    try:
        if json.loads((folder / STAMP).read_text()) == stamp:
            return pd.read_parquet(folder / CACHE)
    except (OSError, ValueError):
        pass  # no cache, or an unreadable one: measure again
    table = _measure_rows(dataset, list(MEASURED), progress, None, data_preprocessing(dataset.manifest), None)
    try:  # the table before its stamp, each whole or not at all: runs measuring at once (one per GPU) cannot mix
        _replace(folder / CACHE, lambda path: table.to_parquet(path, index=False))
        _replace(folder / STAMP, lambda path: path.write_text(json.dumps(stamp)))
    except OSError as exc:
        warnings.warn(f"the measurements of {dataset.path} cannot be kept beside its signals ({exc}); every run "
                      "on it will measure them again.", EcglabNote, stacklevel=2)
    return table


def _replace(path: Path, write) -> None:
    written = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        write(written)
        os.replace(written, path)
    finally:
        written.unlink(missing_ok=True)


def _measure_rows(dataset: PreparedDataset, names: list[str], progress: bool, steps: Preprocessing | None,
                  seen_as: Preprocessing, samples: int | None) -> pd.DataFrame:
    """Rows in batches; a large dataset in processes of one thread each (one per core, at most 8): 1.3x one
    process on 2 cores, start-up included (benchmarks/measure_speed.py), and more on more cores."""
    n = len(dataset)
    # ranks started together (torchrun, SLURM) each measure: one process each, not one per core each. Lightning's own
    # launch starts the other ranks at fit, after rank 0 has measured here, and they read its cache.
    alone = int(os.environ.get("WORLD_SIZE", "1")) <= 1
    workers = min(os.cpu_count() or 1, MAX_WORKERS) if n >= MIN_ROWS_FOR_WORKERS and alone else 1
    # this process measures the dataset it holds; a measuring process opens it once, by its path
    job = partial(_measure_row, str(dataset.path) if workers > 1 else dataset, tuple(names), steps, seen_as, samples)
    batches = ((first, range(first, min(first + BATCH_ROWS, n))) for first in range(0, n, BATCH_ROWS))
    values = np.full((n, len(names)), np.nan)
    with progress_bar(progress) as bar:
        task = bar.add_task(f"measuring {dataset.path.name}", total=n)
        for first, outcomes in read_batches(job, batches, workers):
            for offset, (ok, found) in enumerate(outcomes):
                if not ok:
                    raise DatasetError(f"{dataset.path}: row {first + offset} could not be measured ({found}).")
                values[first + offset] = found
            bar.advance(task, len(outcomes))
    return pd.DataFrame(values, columns=names)


def _measure_row(source: PreparedDataset | str, names: tuple, steps: Preprocessing | None, seen_as: Preprocessing,
                 samples: int | None, row: int) -> list[float]:
    dataset = source if isinstance(source, PreparedDataset) else _opened(source)
    signal = np.asarray(dataset.signals[row], dtype=np.float32)
    if steps is not None:
        signal = preprocess(signal, dataset.fs, steps)
    found, _ = measured_features(signal, dataset.fs, dataset.leads, list(names), seen_as, samples)
    return [np.nan if found[name] is None else found[name] for name in names]


@lru_cache(maxsize=1)
def _opened(path: str) -> PreparedDataset:
    """The dataset, opened once by a measuring process, which keeps torch to one thread (several share the cores)."""
    import torch

    torch.set_num_threads(1)
    return PreparedDataset(path)
