"""PTB Diagnostic ECG Database (Bousseljot et al. 1995), labelled by each header's "Reason for admission".

``--task mi`` (default): myocardial infarction vs healthy control, the binary task of the
transfer experiment of Kachuee et al. 2018; records with another reason, or none, are dropped and
counted. ``--task all``: every reason for admission is a class (``--min-count`` drops rare ones).

``--beats record`` (default): the 12 standard leads (or ``--lead``), the first 10 s resampled to
``--fs`` (default 100 Hz, PTB-XL's low rate): one row per record, as every record dataset here.
``--beats kachuee|centred``: the beats of one lead (default II) at the R peaks the shared detector
finds, cut as the MIT-BIH beats are: 1 x 187 samples at 125 Hz, the input a ``mitbih`` model takes.

Patients are the ``patientNNN`` folders; whole patients are dealt to train/val/test 70/15/15,
seeded, class shares stratified as feasible. Age and sex come from the header comments.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.options import (beat_spec, choice, load_signal, one_hot, parse_bandpass, parse_dtype, parse_leads,
                                     preprocessing, record_length, require_leads)
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.selection import group_split, record_ids
from ecglab.datasets.core.streaming import RecordTable, write_records
from ecglab.errors import DatasetError, RecordFormatError
from ecglab.inputs.preprocess import Preprocessing
from ecglab.records import STANDARD_12_LEADS
from ecglab.records.wfdb_reader import clinical_fields, header_fields, read_wfdb, read_wfdb_header
from ecglab.inputs.beats import BeatSpec, beat_input
from ecglab.signal.rpeaks import detect_r_peaks

URL = "https://physionet.org/content/ptbdb/"
MI, HEALTHY = "Myocardial infarction", "Healthy control"
NO_REASON = "none given"
DEFAULT_FS = 100.0
BEAT_LEAD = "II"
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
PROTOCOL = "patient-held-out (patientNNN folders dealt to train/val/test 70/15/15, seeded, stratified by diagnosis)"


def clinical_info(comments: list[str]) -> dict:
    """Age (float or None), sex ('M', 'F' or None) and diagnosis (the reason for admission, or None)."""
    reason = header_fields(comments).get("reason for admission", "")
    return {**clinical_fields(comments), "diagnosis": None if reason.lower() in ("", "n/a") else reason}


def read_index(ctx: PrepareContext, records: str | None) -> pd.DataFrame:
    """One row per readable header: record_id, patient_id, path, age, sex, diagnosis."""
    names = record_ids(ctx.source, records)
    paths = [str(ctx.source / name) for name in names]
    headers = ctx.map(read_wfdb_header, paths, desc="PTB headers", names=names)
    rows = [{"record_id": name, "patient_id": Path(name).parent.name or name, "path": path,
             "fs_original": header["fs"], "n_samples_original": header["n_samples"], **clinical_info(header["comments"])}
            for name, path, header in zip(names, paths, headers) if header is not None]
    if not rows:
        raise DatasetError(f"none of the {len(names)} PTB headers could be read from {ctx.source}; expected "
                           f"patientNNN/sNNNN_re.hea files ({URL}).")
    return pd.DataFrame(rows)


def label_records(index: pd.DataFrame, task: str, min_count: int | None) -> tuple[pd.DataFrame, list[str], dict]:
    """The records kept for ``task``, its classes, and the reasons for admission of those dropped."""
    diagnosis = index["diagnosis"].fillna(NO_REASON)
    if task == "mi":
        if min_count is not None:
            raise DatasetError("--min-count applies to --task all; --task mi always has the two classes "
                               f"{HEALTHY!r} and {MI!r}.")
        classes = [HEALTHY, MI]
    else:
        counts = diagnosis[diagnosis != NO_REASON].value_counts()
        classes = sorted(name for name, k in counts.items() if k >= (min_count or 1))
    wanted = diagnosis.isin(classes).to_numpy()
    if not wanted.any():
        raise DatasetError(f"no records left for --task {task}; the reasons for admission found are {dict(Counter(diagnosis))}.")
    return index[wanted].reset_index(drop=True), classes, dict(Counter(diagnosis[~wanted]))


def read_record_beats(path: str, leads: list[str], steps: Preprocessing, spec: BeatSpec) -> tuple[np.ndarray, pd.DataFrame]:
    """Beats of ``leads`` at the R peaks detected on the first of them, with their R-R context."""
    record = require_leads(read_wfdb(path, annotation_extension=None), leads).check_finite()
    peaks = detect_r_peaks(record.signal[0], record.fs)
    if len(peaks) < 2:
        raise RecordFormatError(f"{path}: fewer than two R peaks found on lead {leads[0]}; no beat to cut.")
    cut = beat_input(record.signal, record.fs, peaks, spec, steps)
    return cut.beats, pd.DataFrame({"sample": peaks[cut.kept], **cut.features})


@register_dataset("ptbdb", "PTB Diagnostic (raw WFDB): --task mi|all; 12-lead 10 s records or --beats kachuee|centred",
                  version=2)  # 2: beats carry p_consistency and qrs_difference
def prepare_ptbdb(ctx: PrepareContext, task: str = "mi", beats: str = "record", lead: str | None = None,
                  fs: float | None = None, seed: int = 0, records: str | None = None, min_count: int | None = None,
                  bandpass: str | None = None, standardize: str | None = None, dtype: str | None = None):
    """PTB Diagnostic: 12-lead 10 s records, or beats of one lead.

    Parameters
    ----------
    task
        mi (myocardial infarction vs healthy control) | all (every diagnosis with enough patients)
    beats
        record (12-lead 10 s records) | kachuee | centred (beats of one lead)
    lead
        lead(s) to keep, comma-separated names (beats: the one lead to cut them from)
    fs
        sampling rate of the prepared records (Hz; record mode only)
    """
    task = choice(task, ("mi", "all"), "task")
    mode = choice(beats, ("record", "kachuee", "centred"), "beats")
    if mode != "record" and (fs is not None or standardize is not None):
        raise DatasetError("--fs and --standardize apply to --beats record only; beats follow the shared BeatSpec "
                           "(125 Hz, 187 samples; Kachuee beats are scaled to [0, 1] per 10 s window).")
    leads = parse_leads(lead or (BEAT_LEAD if mode != "record" else ",".join(STANDARD_12_LEADS)))
    index, classes, dropped = label_records(read_index(ctx, records), task, min_count)
    index["split"] = group_split(index["patient_id"].to_numpy(), index["diagnosis"].to_numpy(), FRACTIONS, seed)
    meta = index[["record_id", "patient_id", "split", "age", "sex", "diagnosis", "fs_original", "n_samples_original"]]
    source = {"database": "PTB Diagnostic ECG Database v1.0.0 (PhysioNet)", "url": URL, "task": task}
    extra = {"task": task, "protocol": PROTOCOL, "seed": seed, "dropped_records": dropped}
    if mode == "record":
        spec = preprocessing(fs or DEFAULT_FS, bandpass, standardize)
        length = record_length(spec.fs)
        table = RecordTable(items=list(index["path"]), labels=one_hot(list(index["diagnosis"]), classes), meta=meta,
                            names=list(index["record_id"]))
        source["length"] = "first 10 s, zero-padded when shorter"
        return write_records(ctx, table, partial(load_signal, leads=leads, spec=spec, length=length), length=length,
                             spec=spec, dtype=parse_dtype(dtype), extra={**extra, "input": "record"}, name="ptbdb",
                             kind="multiclass", classes=classes, fs=spec.fs, leads=leads, source=source)
    spec = beat_spec(mode)
    steps = Preprocessing(fs=spec.fs, bandpass=parse_bandpass(bandpass))
    results = ctx.map(partial(read_record_beats, leads=leads, steps=steps, spec=spec), list(index["path"]),
                      desc="PTB beats", names=list(index["record_id"]))
    read = [(i, cut) for i, cut in enumerate(results) if cut is not None and len(cut[0])]
    if not read:
        raise DatasetError(f"no beats could be cut from the {len(index)} PTB records selected.")
    beat_meta = pd.concat([meta.iloc[[i] * len(rows)].reset_index(drop=True).join(rows) for i, (_, rows) in read],
                          ignore_index=True)
    return ctx.write(np.concatenate([cut[0] for _, cut in read]), one_hot(list(beat_meta["diagnosis"]), classes),
                     beat_meta, dtype=parse_dtype(dtype), name="ptbdb", kind="multiclass", classes=classes, fs=spec.fs,
                     leads=leads, preprocessing=steps.model_dump(), source=source,
                     extra={**extra, "input": "beat", "beats": spec.model_dump()})
