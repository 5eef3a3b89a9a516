"""MIMIC-IV-ECG (Gow et al. 2023): about 800,000 diagnostic 12-lead ECGs of 160,000 patients.

Layout of the release: ``record_list.csv`` (subject_id, study_id, file_name, ecg_time, path),
``machine_measurements.csv`` (report_0 … report_17 and the cart's measurements) and the WFDB
tree ``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.{hea,dat}`` (500 Hz, 10 s).

Labels (``--task``):

* ``icd`` (the default when ``--labels`` is given): a CSV of ``study_id,icd_codes`` with the
  ICD-10 codes of each study separated by ``;`` (dots optional; a Python list literal such as the
  MIMIC-IV-ECG-ICD release's ``"['I48', 'I10']"`` is read as well). ``--codes I48,I21`` makes one
  class per prefix; otherwise the ``--top-k`` (default 20) most frequent codes. Studies absent
  from the CSV are dropped and counted; listed studies without a chosen code are negatives.
* ``machine``: the statements the ECG cart printed (``report_*``), mapped to classes by the
  keyword table :data:`MACHINE_STATEMENTS`: a study the table cannot describe is a negative.

Splits are by patient (subject_id), seeded 80/10/10. Preparation streams: label tables are read
in chunks and signals go straight into the memmap (see :mod:`ecglab.datasets.streaming`), so
it resumes after an interruption and ``--shard i/n`` spreads it over machines. Signals default
to 100 Hz (``--fs``); NaN samples, present in some MIMIC-IV-ECG records, become 0.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.options import (choice, keep_classes, load_signal, parse_codes, parse_dtype, parse_leads,
                                     patient_split, preprocessing, record_length, select_records)
from ecglab.datasets.registry import PrepareContext, register_dataset
from ecglab.datasets.streaming import RecordTable, write_records
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS

URL = "https://physionet.org/content/mimic-iv-ecg/"
DEFAULT_FS = 100.0
DEFAULT_TOP_K = 20
CSV_CHUNK = 200_000
REPORT_COLUMNS = [f"report_{i}" for i in range(18)]

# class, regular expression over the lower-cased machine statements of a study.
MACHINE_STATEMENTS = (
    ("NORM", r"(?<!ab)(?<!otherwise )normal ecg"),
    ("SR", r"sinus rhythm"),
    ("STACH", r"sinus tachycardia"),
    ("SBRAD", r"sinus bradycardia"),
    ("AF", r"atrial fibrillation"),
    ("AFL", r"atrial flutter"),
    ("PAC", r"premature atrial|atrial premature|\bpacs?\b|premature supraventricular"),
    ("PVC", r"premature ventricular|ventricular premature|\bpvcs?\b"),
    ("1AVB", r"(?:1st|first) degree a-?v block"),
    ("LBBB", r"(?<!incomplete )left bundle branch block"),
    ("RBBB", r"(?<!incomplete )right bundle branch block"),
    ("LAFB", r"left anterior fascicular block"),
    ("LVH", r"left ventricular hypertrophy|\blvh\b"),
    ("MI", r"infarct"),
    ("STTC", r"st-t|\bst (?:segment|elevation|depression|changes)|t[- ]wave|repolarization abnormality"),
    ("LQT", r"(?:prolonged|long) qt"),
    ("PACE", r"\bpac(?:ed|ing|emaker)"),
    ("LAD", r"left axis deviation"),
    ("RAD", r"right axis deviation"),
    ("LOWV", r"low (?:qrs )?voltage"),
)


def read_record_list(source: Path) -> pd.DataFrame:
    path = source / "record_list.csv"
    if not path.is_file():
        raise DatasetError(f"{source} has no record_list.csv; expected the MIMIC-IV-ECG release layout "
                           f"(record_list.csv, machine_measurements.csv, files/p…/s…/) from {URL}.")
    wanted = ["subject_id", "study_id", "ecg_time", "path"]
    table = pd.read_csv(path, usecols=lambda c: c in wanted, dtype={"ecg_time": "string", "path": "string"})
    missing = sorted(set(wanted) - set(table.columns))
    if missing:
        raise DatasetError(f"{path} lacks the columns {missing}; expected {wanted}.")
    return table


def normalize_icd(code: str) -> str:
    return code.strip().upper().replace(".", "")


def split_icd(text) -> list[str]:
    """'I48.0;I10' or "['I480', 'I10']" -> ['I480', 'I10']."""
    if not isinstance(text, str) or not text.strip():
        return []
    text = text.strip()
    try:
        codes = ast.literal_eval(text) if text.startswith("[") else text.split(";")
    except (ValueError, SyntaxError):
        raise DatasetError(f"icd_codes {text!r}: expected codes separated by ';' or a list such as \"['I48', 'I10']\".") from None
    return [normalize_icd(str(code)) for code in codes if str(code).strip()]


def _icd_chunks(path: Path):
    try:
        for chunk in pd.read_csv(path, usecols=["study_id", "icd_codes"], dtype={"icd_codes": "string"}, chunksize=CSV_CHUNK):
            yield chunk["study_id"].to_numpy(np.int64), [split_icd(text) for text in chunk["icd_codes"]]
    except ValueError as exc:
        raise DatasetError(f"--labels {path}: expected a CSV with columns study_id,icd_codes ({exc}).") from None


def icd_labels(path: Path, codes: list[str], top_k: int | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(classes, study ids, multi-hot rows): ``codes`` as prefixes, else the ``top_k`` most frequent codes."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--labels {path}: no such file; expected a CSV with columns study_id,icd_codes.")
    if codes:
        classes = [normalize_icd(c) for c in codes]
        prefix_lengths = sorted({len(c) for c in classes})  # a code matches a class it starts with
    else:
        counts = Counter(code for _, rows in _icd_chunks(path) for row in rows for code in set(row))
        classes = sorted(code for code, _ in counts.most_common(top_k or DEFAULT_TOP_K))
        prefix_lengths = None  # top-k codes match exactly
    column = {cls: j for j, cls in enumerate(classes)}
    ids, rows = [], []
    for study_ids, code_rows in _icd_chunks(path):
        block = np.zeros((len(code_rows), len(classes)), dtype=np.uint8)
        for i, row in enumerate(code_rows):
            for code in row:
                for key in ([code[:k] for k in prefix_lengths] if prefix_lengths else [code]):
                    if key in column:
                        block[i, column[key]] = 1
        ids.append(study_ids)
        rows.append(block)
    return classes, np.concatenate(ids), np.concatenate(rows)


def machine_labels(source: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(classes, study ids, multi-hot rows) from the machine statements, by :data:`MACHINE_STATEMENTS`."""
    path = source / "machine_measurements.csv"
    if not path.is_file():
        raise DatasetError(f"{source} has no machine_measurements.csv, which --task machine reads ({URL}).")
    patterns = [re.compile(pattern) for _, pattern in MACHINE_STATEMENTS]
    ids, rows = [], []
    for chunk in pd.read_csv(path, usecols=lambda c: c == "study_id" or c in REPORT_COLUMNS, dtype="string", chunksize=CSV_CHUNK):
        reports = [c for c in REPORT_COLUMNS if c in chunk.columns]
        text = chunk[reports].fillna("").agg(" | ".join, axis=1).str.lower()
        ids.append(chunk["study_id"].astype("int64").to_numpy())
        rows.append(np.stack([text.str.contains(p).to_numpy(bool) for p in patterns], axis=1).astype(np.uint8))
    return [name for name, _ in MACHINE_STATEMENTS], np.concatenate(ids), np.concatenate(rows)


def read_study(relative_path: str, root: Path, **options) -> np.ndarray:
    return load_signal(root / relative_path, **options)


@register_dataset("mimic-iv-ecg", "MIMIC-IV-ECG diagnostic 12-lead ECGs (Gow et al. 2023): ICD-10 or machine-statement labels, streamed")
def build_mimic(ctx: PrepareContext, task: str | None = None, labels: str | None = None, codes: str | None = None,
                top_k: int | None = None, min_count: int | None = None, fs: float = DEFAULT_FS, seed: int | None = None,
                records: str | None = None, lead: str | None = None, bandpass: str | None = None,
                standardize: str | None = None, dtype: str | None = None, shard: str | None = None):
    task = choice(task or ("icd" if labels else "machine"), ("icd", "machine"), "task")
    if task == "icd" and labels is None:
        raise DatasetError("--task icd needs --labels CSV (columns study_id,icd_codes, codes separated by ';').")
    spec = preprocessing(fs, bandpass, standardize)
    leads = parse_leads(lead) if lead else list(STANDARD_12_LEADS)
    studies = select_records(read_record_list(ctx.source), "study_id", ctx.source, records).reset_index(drop=True)
    if task == "icd":
        classes, labelled_ids, label_rows = icd_labels(Path(labels), parse_codes(codes), top_k)
    else:
        classes, labelled_ids, label_rows = machine_labels(ctx.source)
    first = pd.Series(np.arange(len(labelled_ids))).groupby(labelled_ids).first()  # one label row per study
    row_of_study = pd.Index(first.index).get_indexer(studies["study_id"].to_numpy(np.int64))
    labelled = row_of_study >= 0
    studies, row_of_study = studies[labelled].reset_index(drop=True), row_of_study[labelled]
    classes, label_matrix = keep_classes(classes, label_rows[first.to_numpy()[row_of_study]], min_count)
    if studies.empty or not classes:
        raise DatasetError(f"no study of {ctx.source} has {task} labels (classes kept: {classes}).")
    meta = pd.DataFrame({"record_id": studies["study_id"].astype(np.int64), "patient_id": studies["subject_id"].astype(np.int64),
                         "split": patient_split(studies["subject_id"], label_matrix, seed),
                         "ecg_time": studies["ecg_time"].astype(object), "path": studies["path"].astype(object)})
    length = record_length(spec.fs)
    read = partial(read_study, root=ctx.source, leads=leads, spec=spec, length=length, fill_nan=True)
    table = RecordTable(items=studies["path"].to_numpy(dtype=object), labels=label_matrix, meta=meta)
    source = {"database": "MIMIC-IV-ECG", "url": URL, "task": task, "studies_listed": int(len(labelled)),
              "studies_without_labels": int((~labelled).sum()), "split": "by subject_id, seeded 80/10/10",
              "class_rule": ("ICD-10 prefixes" if codes else f"top {top_k or DEFAULT_TOP_K} ICD-10 codes") if task == "icd"
              else {name: pattern for name, pattern in MACHINE_STATEMENTS if name in classes},
              "nan_samples": "set to 0"}
    return write_records(ctx, table, read, length=length, spec=spec, dtype=parse_dtype(dtype), shard=shard,
                         name=f"mimic-iv-ecg-{task}", kind="multilabel", classes=classes, fs=spec.fs, leads=leads, source=source)
