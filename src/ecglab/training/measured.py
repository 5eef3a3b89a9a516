"""Measured metadata columns of a prepared dataset (:mod:`ecglab.inference.measured`), computed once.

Delineating a record costs about 0.1 s (12 leads, 10 s, one core), so the measurements of every row are
kept beside the signals they were read from (``measurements.parquet``, stamped in ``measurements.json``
with the delineator's weights and the signals file) and reused by every run, ``ecglab cv`` fold view (its
signals are links to the original's) and bundle evaluation of those signals.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.datasets.core.registry import progress_bar
from ecglab.errors import ConfigError
from ecglab.inference.bundle import WEIGHTS_FILE, resolve_bundle
from ecglab.inference.delineate import DEFAULT_BUNDLE
from ecglab.inference.measured import MEASURED, measured_features, measured_names, measurement_problem
from ecglab.inputs.match import data_preprocessing

CACHE, STAMP = "measurements.parquet", "measurements.json"


def measured_meta(dataset: PreparedDataset, names: list[str], progress: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """``dataset.meta`` with a column for each measurement among ``names`` that it has no column of its own
    for, and the names of those measured columns (a column the dataset has is read, not measured)."""
    wanted = [name for name in measured_names(names) if name not in dataset.meta.columns]
    if not wanted:
        return dataset.meta, []
    problem = measurement_problem(wanted, data_preprocessing(dataset.manifest), dataset.beats is not None)
    if problem:
        raise ConfigError(f"data.meta_features: {problem}")
    table = dataset_measurements(dataset, progress)
    return dataset.meta.assign(**{name: table[name].to_numpy() for name in wanted}), wanted


def dataset_measurements(dataset: PreparedDataset, progress: bool = False) -> pd.DataFrame:
    """Every measurement (:data:`MEASURED`) of every row, NaN where absent; from the cache when it is current."""
    signals = Path(dataset.path / "signals.npy").resolve()
    folder, stamp = signals.parent, _stamp(signals)
    try:
        if json.loads((folder / STAMP).read_text()) == stamp:
            return pd.read_parquet(folder / CACHE)
    except (OSError, ValueError):
        pass  # no cache, or an unreadable one: measure again
    table = _measure_rows(dataset, progress)
    try:
        table.to_parquet(folder / CACHE, index=False)
        (folder / STAMP).write_text(json.dumps(stamp))
    except OSError:
        pass  # a read-only dataset: measured again next time, nothing lost
    return table


def _measure_rows(dataset: PreparedDataset, progress: bool) -> pd.DataFrame:
    preprocessing = data_preprocessing(dataset.manifest)
    values = np.full((len(dataset), len(MEASURED)), np.nan)
    with progress_bar(progress) as bar:
        task = bar.add_task(f"measuring {dataset.path.name}", total=len(dataset))
        for row in range(len(dataset)):
            found, _ = measured_features(np.asarray(dataset.signals[row]), dataset.fs, dataset.leads, list(MEASURED),
                                         preprocessing)
            values[row] = [np.nan if found[name] is None else found[name] for name in MEASURED]
            bar.advance(task)
    return pd.DataFrame(values, columns=list(MEASURED))


def _stamp(signals: Path) -> dict:
    weights = resolve_bundle(DEFAULT_BUNDLE) / WEIGHTS_FILE
    status = signals.stat()
    return {"delineator": hashlib.sha256(weights.read_bytes()).hexdigest(), "signals": [status.st_size, status.st_mtime_ns]}
