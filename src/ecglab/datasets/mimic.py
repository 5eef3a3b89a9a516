"""MIMIC-IV-ECG (Gow et al. 2023): about 800,000 diagnostic 12-lead ECGs of 160,000 patients.

Layout of the release: ``record_list.csv`` (subject_id, study_id, file_name, ecg_time, path),
``machine_measurements.csv`` (report_0 … report_17 and the cart's measurements) and the WFDB
tree ``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.{hea,dat}`` (500 Hz, 10 s).

Labels (``--task``):

* ``icd`` (the default when ``--labels`` is given), from either
  - the MIMIC-IV-ECG-ICD release (Strodthoff et al. 2024, ``records_w_diag_icd10.csv``; told
    apart by its ``all_diag_all`` column): the ICD-10-CM discharge diagnoses in ``all_diag_all``
    (the hospital's where the ECG falls in an admission, else the emergency department's), a
    Python list literal per cell such as ``['I10', 'E785']`` (read with ``ast.literal_eval``:
    data, never code). A study whose list is empty has no linked discharge diagnosis (about 40 %
    of the release): it is left out and counted, as in the paper;
  - or a CSV of ``study_id,icd_codes``, the codes separated by ``;`` (dots optional) or a list
    literal; here a listed study without a chosen code is a negative.

  ``--codes I48,I21`` makes one class per prefix; otherwise the ``--top-k`` (default 20) most
  frequent codes. Studies absent from the labels are dropped and counted.
* ``machine``: the statements the ECG cart printed (``report_*``), mapped to classes by the
  keyword table :data:`MACHINE_STATEMENTS`: a study the table cannot describe is a negative.

Splits (``--split``): with the release, its ``strat_fold`` (default; 20 patient-grouped folds
stratified on the labels, age and sex) or ``fold`` (the random folds the paper's experiments
used), dealt as in the authors' code (ECG-MIMIC ``main_ecg.py``): folds 0-17 train, 18 val,
19 test. ``patient`` (the default for other labels): by subject_id, seeded 80/10/10.
Preparation streams: label tables are read in chunks and signals go straight into the memmap
(see :mod:`ecglab.datasets.core.streaming`), so it resumes after an interruption and ``--shard i/n``
spreads it over machines. Signals default to 100 Hz (``--fs``); NaN samples, present in some
MIMIC-IV-ECG records, become 0. The cache fingerprints the release's index tables, not its 1.6
million waveform files (:mod:`ecglab.datasets.core.fingerprint`).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.options import (choice, keep_classes, load_signal, parse_codes, parse_dtype, parse_leads,
                                     patient_split, preprocessing, record_length, select_records)
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.streaming import RecordTable, write_records
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS

URL = "https://physionet.org/content/mimic-iv-ecg/"
ICD_URL = "https://physionet.org/content/mimic-iv-ecg-ext-icd-labels/"
DEFAULT_FS = 100.0
DEFAULT_TOP_K = 20
CSV_CHUNK = 200_000
REPORT_COLUMNS = [f"report_{i}" for i in range(18)]
INDEX_FILES = ("record_list.csv", "machine_measurements.csv")
RELEASE_CODES = "all_diag_all"  # the MIMIC-IV-ECG-ICD column the paper trains on
RELEASE_FOLDS = ("strat_fold", "fold")
# Strodthoff et al. 2024 (ECG-MIMIC main_ecg.py: train < max fold - 1, val = max - 1, test = max) on folds 0-19.
RELEASE_FOLD_SPLITS = {**dict.fromkeys(range(18), "train"), 18: "val", 19: "test"}
SPLITS = (*RELEASE_FOLDS, "patient")

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


@dataclass
class StudyLabels:
    """``rows[i]`` (multi-hot over ``classes``) labels study ``study_ids[i]``; ``folds`` holds the
    fold columns of the MIMIC-IV-ECG-ICD release, aligned with the rows (empty for other labels);
    ``origin`` says where the labels come from, for the manifest."""

    classes: list[str]
    study_ids: np.ndarray
    rows: np.ndarray
    origin: str
    folds: dict[str, np.ndarray] = field(default_factory=dict)


def split_icd(text) -> list[str]:
    """'I48.0;I10' or the release's "['I480', 'I10']" -> ['I480', 'I10']."""
    if not isinstance(text, str) or not text.strip():
        return []
    text = text.strip()
    if not text.startswith("["):
        return [normalize_icd(code) for code in text.split(";") if code.strip()]
    try:
        codes = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        codes = None
    if not isinstance(codes, (list, tuple)):
        raise DatasetError(f"ICD codes {text[:60]!r}: expected codes separated by ';' or a list such as "
                           "\"['I48', 'I10']\".")
    return [normalize_icd(str(code)) for code in codes if str(code).strip()]


def icd_columns(path: Path) -> tuple[str, list[str]]:
    """(code column, fold columns) of a labels CSV in the release form or the ``study_id,icd_codes`` form."""
    if not path.is_file():
        raise DatasetError(f"--labels {path}: no such file; expected records_w_diag_icd10.csv of MIMIC-IV-ECG-ICD "
                           f"({ICD_URL}) or a CSV with columns study_id,icd_codes.")
    columns = list(pd.read_csv(path, nrows=0).columns)
    if "study_id" in columns and RELEASE_CODES in columns:
        return RELEASE_CODES, [c for c in RELEASE_FOLDS if c in columns]
    if "study_id" in columns and "icd_codes" in columns:
        return "icd_codes", []
    raise DatasetError(f"--labels {path}: expected records_w_diag_icd10.csv of MIMIC-IV-ECG-ICD (columns study_id, …, "
                       f"{RELEASE_CODES}, …, strat_fold) or a CSV with columns study_id,icd_codes; "
                       f"found {columns[:12]}.")


def _icd_chunks(path: Path, column: str, folds: list[str]):
    """(study ids, code lists, fold arrays) per chunk; release rows with an empty list are left out."""
    release = column == RELEASE_CODES
    try:
        for chunk in pd.read_csv(path, usecols=["study_id", column, *folds], dtype={column: "string"},
                                 chunksize=CSV_CHUNK):
            codes = [split_icd(text) for text in chunk[column]]
            keep = np.array([bool(row) or not release for row in codes], dtype=bool)
            yield (chunk["study_id"].to_numpy(np.int64)[keep], [row for row, k in zip(codes, keep) if k],
                   {fold: chunk[fold].to_numpy(np.int64)[keep] for fold in folds})
    except (ValueError, TypeError) as exc:
        raise DatasetError(f"--labels {path}: study_id and {', '.join(folds) or 'the codes'} must be filled on every "
                           f"row ({exc}).") from None


def icd_labels(path: Path, codes: list[str], top_k: int | None) -> StudyLabels:
    """``codes`` as prefixes, else the ``top_k`` most frequent codes, per study of the labels CSV."""
    path = Path(path)
    column, folds = icd_columns(path)
    if codes:
        classes = [normalize_icd(c) for c in codes]
        prefix_lengths = sorted({len(c) for c in classes})  # a code matches a class it starts with
    else:
        counts = Counter(code for _, rows, _ in _icd_chunks(path, column, folds) for row in rows for code in set(row))
        classes = sorted(code for code, _ in counts.most_common(top_k or DEFAULT_TOP_K))
        prefix_lengths = None  # top-k codes match exactly
    index = {cls: j for j, cls in enumerate(classes)}
    ids, blocks, fold_values = [], [], {fold: [] for fold in folds}
    for study_ids, code_rows, fold_rows in _icd_chunks(path, column, folds):
        block = np.zeros((len(code_rows), len(classes)), dtype=np.uint8)
        for i, row in enumerate(code_rows):
            for code in row:
                for key in ([code[:k] for k in prefix_lengths] if prefix_lengths else [code]):
                    if key in index:
                        block[i, index[key]] = 1
        ids.append(study_ids)
        blocks.append(block)
        for fold in folds:
            fold_values[fold].append(fold_rows[fold])
    if not ids:
        raise DatasetError(f"--labels {path} holds no study with ICD codes.")
    origin = (f"MIMIC-IV-ECG-ICD {path.name} ({ICD_URL}), column {RELEASE_CODES}; studies with an empty list (no "
              "linked discharge diagnosis) count as without labels" if column == RELEASE_CODES
              else f"{path.name}, columns study_id,icd_codes")
    return StudyLabels(classes, np.concatenate(ids), np.concatenate(blocks), origin,
                       {fold: np.concatenate(values) for fold, values in fold_values.items()})


def fold_splits(folds: np.ndarray, column: str) -> np.ndarray:
    """train/val/test per study from the release's folds 0-19 (:data:`RELEASE_FOLD_SPLITS`)."""
    unknown = sorted(set(np.unique(folds).tolist()) - set(RELEASE_FOLD_SPLITS))
    if unknown:
        raise DatasetError(f"--split {column}: the release's folds are 0-19; found {unknown[:5]}.")
    return pd.Series(folds).map(RELEASE_FOLD_SPLITS).to_numpy(dtype=object)


def machine_labels(source: Path) -> StudyLabels:
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
    return StudyLabels([name for name, _ in MACHINE_STATEMENTS], np.concatenate(ids), np.concatenate(rows),
                       "machine_measurements.csv report_0 … report_17, by MACHINE_STATEMENTS")


def read_study(relative_path: str, root: Path, **options) -> np.ndarray:
    return load_signal(root / relative_path, **options)


@register_dataset("mimic-iv-ecg", "MIMIC-IV-ECG diagnostic 12-lead ECGs (Gow et al. 2023): ICD-10 or machine-statement "
                  "labels, streamed", index_files=INDEX_FILES)
def build_mimic(ctx: PrepareContext, task: str | None = None, labels: str | None = None, codes: str | None = None,
                top_k: int | None = None, min_count: int | None = None, fs: float = DEFAULT_FS, split: str | None = None,
                seed: int | None = None, records: str | None = None, lead: str | None = None,
                bandpass: str | None = None, standardize: str | None = None, dtype: str | None = None,
                shard: str | None = None):
    """MIMIC-IV-ECG records, labelled by ICD-10 codes or by the machine's statements.

    Parameters
    ----------
    task
        icd (needs --labels) | machine (default without --labels)
    labels
        MIMIC-IV-ECG-ICD's records_w_diag_icd10.csv, or a CSV of study_id,icd_codes
    codes
        label codes or prefixes to keep, comma-separated (e.g. I48,I21)
    top_k
        keep the K most frequent codes
    split
        strat_fold | fold | patient
    lead
        lead(s) to keep, comma-separated names (default the 12 standard leads)
    """
    task = choice(task or ("icd" if labels else "machine"), ("icd", "machine"), "task")
    if task == "icd" and labels is None:
        raise DatasetError("--task icd needs --labels CSV: records_w_diag_icd10.csv of MIMIC-IV-ECG-ICD, or columns "
                           "study_id,icd_codes with codes separated by ';'.")
    spec = preprocessing(fs, bandpass, standardize)
    leads = parse_leads(lead) if lead else list(STANDARD_12_LEADS)
    studies = select_records(read_record_list(ctx.source), "study_id", ctx.source, records).reset_index(drop=True)
    found = icd_labels(Path(labels), parse_codes(codes), top_k) if task == "icd" else machine_labels(ctx.source)
    split = choice(split or ("strat_fold" if "strat_fold" in found.folds else "patient"), SPLITS, "split")
    if split != "patient" and split not in found.folds:
        raise DatasetError(f"--split {split} takes the folds of the MIMIC-IV-ECG-ICD release (--labels "
                           f"records_w_diag_icd10.csv), and these labels have none; use --split patient.")
    first = pd.Series(np.arange(len(found.study_ids))).groupby(found.study_ids).first()  # one label row per study
    row_of_study = pd.Index(first.index).get_indexer(studies["study_id"].to_numpy(np.int64))
    labelled = row_of_study >= 0
    studies, label_rows = studies[labelled].reset_index(drop=True), first.to_numpy()[row_of_study[labelled]]
    classes, label_matrix = keep_classes(found.classes, found.rows[label_rows], min_count)
    if studies.empty or not classes:
        raise DatasetError(f"no study of {ctx.source} has {task} labels (classes kept: {classes}).")
    meta = pd.DataFrame({"record_id": studies["study_id"].astype(np.int64), "patient_id": studies["subject_id"].astype(np.int64),
                         "split": (patient_split(studies["subject_id"], label_matrix, seed) if split == "patient"
                                   else fold_splits(found.folds[split][label_rows], split)),
                         "ecg_time": studies["ecg_time"].astype(object), "path": studies["path"].astype(object)})
    if split != "patient":
        meta["fold"] = found.folds[split][label_rows]
    length = record_length(spec.fs)
    read = partial(read_study, root=ctx.source, leads=leads, spec=spec, length=length, fill_nan=True)
    table = RecordTable(items=studies["path"].to_numpy(dtype=object), labels=label_matrix, meta=meta)
    source = {"database": "MIMIC-IV-ECG", "url": URL, "task": task, "labels": found.origin,
              "studies_listed": int(len(labelled)), "studies_without_labels": int((~labelled).sum()),
              "split": ("by subject_id, seeded 80/10/10" if split == "patient" else
                        f"{split} of MIMIC-IV-ECG-ICD: folds 0-17 train, 18 val, 19 test (Strodthoff et al. 2024)"),
              "class_rule": ("ICD-10 prefixes" if codes else f"top {top_k or DEFAULT_TOP_K} ICD-10 codes") if task == "icd"
              else {name: pattern for name, pattern in MACHINE_STATEMENTS if name in classes},
              "nan_samples": "set to 0"}
    return write_records(ctx, table, read, length=length, spec=spec, dtype=parse_dtype(dtype), shard=shard,
                         name=f"mimic-iv-ecg-{task}", kind="multilabel", classes=classes, fs=spec.fs, leads=leads, source=source)
