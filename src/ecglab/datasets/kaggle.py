"""The heartbeat CSVs of Kachuee et al. 2018 (the Kaggle "ECG Heartbeat Categorization Dataset").

Each row is one beat, already cut as in :mod:`ecglab.inputs.beats` (``kachuee``): 187 samples at
125 Hz in [0, 1], zero-padded, then the class label; no header. ``mitbih_train.csv`` and
``mitbih_test.csv`` hold MIT-BIH beats labelled 0-4 (N S V F Q); ``ptbdb_normal.csv`` (label 0)
and ``ptbdb_abnormal.csv`` (label 1, myocardial infarction) hold PTB Diagnostic beats.

The files carry no patient ids, so every row is its own "patient" and the splits are by beat:
beats of one person are in train and in test, which makes the figures optimistic (as published).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.aami import AAMI_CLASSES
from ecglab.datasets.core.options import one_hot, parse_dtype
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.selection import stratified_split
from ecglab.errors import DatasetError
from ecglab.inputs.beats import BeatSpec

N_SAMPLES = 187
PROTOCOL = "intra-patient (no patient ids in the Kaggle CSVs)"
MITBIH_VAL_FRACTIONS = {"train": 0.9, "val": 0.1}
PTBDB_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
PTBDB_CLASSES = ["normal", "abnormal"]


def read_beat_csv(path: Path, labels: tuple[int, ...], expected: str) -> tuple[np.ndarray, np.ndarray]:
    """``(beats (n, 187) float32, labels (n,) int)`` from one CSV; every row's label must be in ``labels``.

    The fast parser reads a well-formed file; a malformed one is re-read row by row to name the
    first bad row and what was expected there.
    """
    if not path.is_file():
        raise DatasetError(f"{path.name} not found in {path.parent}; expected the Kaggle heartbeat CSVs as published.")
    try:
        table = pd.read_csv(path, header=None, dtype=np.float64, engine="c").to_numpy()
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        table = None
    if table is None or table.shape[1] != N_SAMPLES + 1 or not np.isfinite(table).all():
        raise DatasetError(f"{path.name}: {_first_malformed_row(path)}.")
    label = table[:, -1]
    bad = np.flatnonzero(~np.isin(label, labels))
    if len(bad):
        raise DatasetError(f"{path.name} row {bad[0] + 1}: label {label[bad[0]]:g}, expected {expected}.")
    return table[:, :-1].astype(np.float32), label.astype(np.int64)


def _first_malformed_row(path: Path) -> str:
    expected = f"{N_SAMPLES + 1} numbers per row ({N_SAMPLES} samples, then the label)"
    with open(path, newline="") as handle:
        for row_number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != N_SAMPLES + 1:
                return f"row {row_number} has {len(row)} values, expected {expected}"
            for column, value in enumerate(row, start=1):
                try:
                    number = float(value)
                except ValueError:
                    number = None
                if number is None or not np.isfinite(number):
                    return f"row {row_number}, column {column}: {value!r} is not a finite number, expected {expected}"
    return f"the file holds no rows, expected {expected}"


def _row_meta(file: str, n: int) -> pd.DataFrame:
    ids = [f"{file}:{row}" for row in range(1, n + 1)]
    return pd.DataFrame({"record_id": ids, "patient_id": ids, "file": file, "row": np.arange(1, n + 1)})


def _write(ctx: PrepareContext, name: str, beats: np.ndarray, labels: np.ndarray, classes: list[str],
           meta: pd.DataFrame, lead: str, dtype: str | None, seed: int, files: dict[str, int]):
    meta.insert(2, "split", meta.pop("split"))
    return ctx.write(
        beats[:, None, :], one_hot([classes[i] for i in labels], classes), meta, dtype=parse_dtype(dtype), name=name,
        kind="multiclass", classes=classes, fs=BeatSpec().fs, leads=[lead],
        source={"database": "Kaggle ECG Heartbeat Categorization (Kachuee et al. 2018)", "files": files},
        extra={"input": "beat", "beats": BeatSpec(method="kachuee").model_dump(), "protocol": PROTOCOL, "seed": seed},
    )


@register_dataset("mitbih-csv", "Kaggle heartbeat CSVs mitbih_train/test.csv: MIT-BIH beats, classes N S V F Q")
def prepare_mitbih_csv(ctx: PrepareContext, seed: int = 0, dtype: str | None = None):
    """The Kaggle heartbeat CSVs of MIT-BIH beats (classes N S V F Q), as they are split."""
    expected = "0-4 (N, S, V, F, Q)"
    train_beats, train_labels = read_beat_csv(ctx.source / "mitbih_train.csv", tuple(range(5)), expected)
    test_beats, test_labels = read_beat_csv(ctx.source / "mitbih_test.csv", tuple(range(5)), expected)
    meta = pd.concat([_row_meta("mitbih_train.csv", len(train_labels)), _row_meta("mitbih_test.csv", len(test_labels))],
                     ignore_index=True)
    meta["split"] = np.concatenate([stratified_split(train_labels, MITBIH_VAL_FRACTIONS, seed),
                                    np.full(len(test_labels), "test", dtype=object)])
    return _write(ctx, "mitbih-csv", np.concatenate([train_beats, test_beats]), np.concatenate([train_labels, test_labels]),
                  AAMI_CLASSES, meta, "MLII", dtype, seed,
                  {"mitbih_train.csv": len(train_labels), "mitbih_test.csv": len(test_labels)})


@register_dataset("ptbdb-csv", "Kaggle heartbeat CSVs ptbdb_normal/abnormal.csv: PTB beats, normal vs abnormal (MI)")
def prepare_ptbdb_csv(ctx: PrepareContext, seed: int = 0, dtype: str | None = None):
    """The Kaggle heartbeat CSVs of PTB beats, normal vs abnormal (MI)."""
    normal_beats, normal_labels = read_beat_csv(ctx.source / "ptbdb_normal.csv", (0,),
                                                "0 (every row of ptbdb_normal.csv is normal)")
    abnormal_beats, abnormal_labels = read_beat_csv(ctx.source / "ptbdb_abnormal.csv", (1,),
                                                    "1 (every row of ptbdb_abnormal.csv is abnormal)")
    labels = np.concatenate([normal_labels, abnormal_labels])
    meta = pd.concat([_row_meta("ptbdb_normal.csv", len(normal_labels)),
                      _row_meta("ptbdb_abnormal.csv", len(abnormal_labels))], ignore_index=True)
    meta["split"] = stratified_split(labels, PTBDB_FRACTIONS, seed)
    return _write(ctx, "ptbdb-csv", np.concatenate([normal_beats, abnormal_beats]), labels, PTBDB_CLASSES, meta,
                  "II", dtype, seed, {"ptbdb_normal.csv": len(normal_labels), "ptbdb_abnormal.csv": len(abnormal_labels)})
