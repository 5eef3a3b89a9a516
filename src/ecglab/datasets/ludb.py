"""Lobachevsky University Electrocardiography Database (Kalyakulina et al., IEEE Access 8, 2020): delineation.

Each record (10 s, 12 leads, 500 Hz) has, per lead, cardiologists' onset, peak and offset of every
P, QRS and T (annotation files named by the lead: ``1.ii``). Besides the usual PreparedDataset
files this builder writes two arrays of the same shape as ``signals.npy`` ``(N, 12, T)``:

- ``waves.npy``: uint8 per-sample class, 0 none, 1 P, 2 QRS, 3 T;
- ``wave_mask.npy``: bool, True inside each lead's annotated span (first onset … last offset).
  The first and last beats of a record are often left unmarked, so labels outside the span are
  unknown, not "none": never train or score there.

``labels.npy`` holds the patient's electrical-axis category from ``ludb.csv`` (normal, vertical,
horizontal, left or right deviation, or "not stated"); ``meta.parquet`` the rhythm and pacing.
Signals are resampled to ``--fs`` (default 250 Hz) and filtered/standardised as asked; wave
boundaries are rescaled to that rate. One patient per record; patients are dealt to
train/val/test 70/15/15, seeded, stratified by rhythm group (sinus, AF/flutter, paced).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.options import fit_length, one_hot, parse_dtype, preprocessing, record_length
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.selection import group_split, record_ids
from ecglab.errors import DatasetError, RecordFormatError
from ecglab.inputs.waves import annotated_span, wave_labels, waves_from_annotation
from ecglab.records import STANDARD_12_LEADS
from ecglab.records.wfdb_reader import _read_annotations, read_wfdb
from ecglab.inputs.preprocess import Preprocessing, preprocess

URL = "https://physionet.org/content/ludb/1.0.1/"
DEFAULT_FS = 250.0
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
PROTOCOL = "patient-held-out (one record per patient, dealt to train/val/test 70/15/15, seeded, stratified by rhythm group)"
AXIS_CLASSES = ["normal", "vertical", "horizontal", "left axis deviation", "right axis deviation", "not stated"]
WAVE_FILES = ("waves.npy", "wave_mask.npy")


def read_patients(source: Path) -> pd.DataFrame:
    """``ludb.csv`` as record_id, rhythm, axis (one of AXIS_CLASSES), paced, age, sex."""
    path = source / "ludb.csv"
    if not path.is_file():
        raise DatasetError(f"{source} has no ludb.csv; expected the LUDB release layout (ludb.csv, data/N.hea …) from {URL}.")
    table = pd.read_csv(path, dtype=str).fillna("")
    axis = table["Electric axis of the heart"].str.replace("Electric axis of the heart:", "").str.strip()
    return pd.DataFrame({
        "record_id": "data/" + table["ID"].str.strip(),
        "rhythm": table["Rhythms"].str.strip().str.replace("\n", "; "),
        "axis": axis.where(axis.isin(AXIS_CLASSES[:-1]), "not stated"),
        "paced": table["Cardiac pacing"].str.strip() != "",
        "age": pd.to_numeric(table["Age"].str.strip(), errors="coerce"),
        "sex": table["Sex"].str.strip().replace("", None),
    })


def rhythm_group(rhythm: str, paced: bool) -> str:
    if paced:
        return "paced"
    return "af/flutter" if ("fibrillation" in rhythm or "flutter" in rhythm) else "sinus"


def read_lead_waves(path: str, leads: list[str]):
    """The record and, per lead, its annotated waves (at the file's rate)."""
    record = read_wfdb(path, annotation_extension=None).select_leads(leads).check_finite()
    waves = []
    for lead in leads:
        annotation = _read_annotations(Path(path), lead.lower())
        if annotation is None:
            raise RecordFormatError(f"{path}: no annotation file for lead {lead} ({Path(path).name}.{lead.lower()}).")
        waves.append(waves_from_annotation(annotation.samples, annotation.symbols, lead))
    return record, waves


def load_delineation(path: str, *, leads: list[str], spec: Preprocessing, length: int):
    """Signal (L, T) at ``spec.fs``, per-sample wave classes (L, T) and the annotated-span mask (L, T)."""
    record, lead_waves = read_lead_waves(path, leads)
    signal = fit_length(preprocess(record.signal, record.fs, spec), length)
    factor = spec.fs / record.fs
    labels = np.zeros((len(leads), length), dtype=np.uint8)
    mask = np.zeros((len(leads), length), dtype=bool)
    for i, waves in enumerate(lead_waves):
        scaled = [w.rescaled(factor) for w in waves]
        labels[i] = wave_labels(scaled, length)
        span = annotated_span(scaled)
        if span is not None:
            mask[i, span[0]:span[1]] = True
    return signal, labels, mask


@register_dataset("ludb", "LUDB (raw WFDB): 12-lead records with per-sample P/QRS/T labels and annotated-span masks")
def prepare_ludb(ctx: PrepareContext, fs: float | None = None, seed: int = 0, records: str | None = None,
                 bandpass: str | None = "0.5,40", standardize: str | None = "record", dtype: str | None = None):
    patients = read_patients(ctx.source)
    names = record_ids(ctx.source, records)
    index = patients[patients["record_id"].isin(names)].reset_index(drop=True)
    if index.empty:
        raise DatasetError(f"none of the {len(names)} records selected ({', '.join(names[:3])} …) is listed in ludb.csv "
                           "(IDs 1…200, record names data/N).")
    unlisted = sorted(set(names) - set(index["record_id"]))
    if unlisted:
        ctx.warn(f"{len(unlisted)} selected records are not in ludb.csv and were left out: {', '.join(unlisted[:10])}.")
    index["patient_id"] = index["record_id"]
    groups = [rhythm_group(r, p) for r, p in zip(index["rhythm"], index["paced"])]
    index["split"] = group_split(index["patient_id"].to_numpy(), np.array(groups), FRACTIONS, seed)
    spec = preprocessing(fs or DEFAULT_FS, bandpass, standardize)
    length = record_length(spec.fs)
    leads = list(STANDARD_12_LEADS)
    read = partial(load_delineation, leads=leads, spec=spec, length=length)
    results = ctx.map(read, [str(ctx.source / n) for n in index["record_id"]], desc="LUDB", names=list(index["record_id"]))
    kept = [i for i, r in enumerate(results) if r is not None]
    if not kept:
        raise DatasetError(f"none of the {len(index)} LUDB records could be read from {ctx.source}.")
    meta = index.iloc[kept].reset_index(drop=True)
    writer = ctx.writer(len(kept), len(leads), length, len(AXIS_CLASSES), dtype=parse_dtype(dtype))
    try:
        for row, i in enumerate(kept):
            writer.signals[row] = results[i][0]
        writer.labels[:] = one_hot(list(meta["axis"]), AXIS_CLASSES)
        for k, name in enumerate(WAVE_FILES):  # beside the standard files, so they are published with them
            np.save(writer.tmp / name, np.stack([results[i][k + 1] for i in kept]))
        source = {"database": "Lobachevsky University Electrocardiography Database v1.0.1 (PhysioNet)", "url": URL,
                  "labels": "electrical-axis category (ludb.csv); per-sample waves in waves.npy, mask in wave_mask.npy"}
        return ctx.finish(writer, meta, name="ludb", kind="multiclass", classes=AXIS_CLASSES, fs=spec.fs, leads=leads,
                          preprocessing=spec.model_dump(), source=source,
                          extra={"protocol": PROTOCOL, "seed": seed, "input": "record",
                                 "waves": {"files": list(WAVE_FILES), "classes": ["none", "P", "QRS", "T"]}})
    except BaseException:
        writer.abort()
        raise


def load_waves(dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(waves, mask)`` of a prepared ``ludb`` dataset, memory-mapped."""
    path = Path(dataset.path)
    missing = [name for name in WAVE_FILES if not (path / name).is_file()]
    if missing:
        raise DatasetError(f"{path} has no {', '.join(missing)}; prepare it with `ecglab prepare ludb`.")
    return tuple(np.load(path / name, mmap_mode="r") for name in WAVE_FILES)
