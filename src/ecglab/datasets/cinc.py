"""PhysioNet/CinC Challenge 2020/2021 12-lead ECGs (Perez Alday et al. 2020; Reyna et al. 2021).

Each record is a WFDB header with a MATLAB v4 ``.mat`` signal; the header's comments carry
``# Age:``, ``# Sex:`` and ``# Dx:`` (SNOMED-CT codes). ``--task scored`` (default) labels the
26 classes the 2021 challenge scored, its equivalent codes merged into one class (the class
name joins their abbreviations: ``CRBBB|RBBB``, ``PAC|SVPB``, ``PVC|VPB``, ``CLBBB|LBBB``);
``--task all`` labels every code found in at least ``--min-count`` records (equivalents merged
likewise). Records whose codes are all unscored stay in, as negatives, as in the challenge.

The source database is read from the record-name prefix. The challenge data have no patient
ids, so each record counts as its own patient: records of one person (PTB, PTB-XL, Ningbo) may
land in different splits. ``--split SOURCE`` (e.g. ``georgia``) holds that database out as the
test set and deals the others to train/val; the default deals all records 80/10/10 (seeded).
Records are resampled to ``--fs`` (default 500 Hz, the rate of most sources) and cut or
zero-padded to 10 s.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.options import (choice, frequent_classes, keep_classes, load_signal, multi_hot, parse_dtype,
                                     parse_leads, patient_split, preprocessing, record_length, select_records)
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.streaming import RecordTable, write_records
from ecglab.errors import DatasetError, RecordFormatError
from ecglab.records import STANDARD_12_LEADS
from ecglab.records.wfdb_reader import clinical_fields, header_fields

URL = "https://physionet.org/content/challenge-2021/"
DEFAULT_FS = 500.0

# The 2021 challenge's scored classes (dx_mapping_scored.csv, weights.csv): name, SNOMED-CT codes, description.
SCORED_CLASSES = (
    ("AF", ("164889003",), "atrial fibrillation"),
    ("AFL", ("164890007",), "atrial flutter"),
    ("BBB", ("6374002",), "bundle branch block"),
    ("Brady", ("426627000",), "bradycardia"),
    ("CLBBB|LBBB", ("733534002", "164909002"), "complete left bundle branch block / left bundle branch block"),
    ("CRBBB|RBBB", ("713427006", "59118001"), "complete right bundle branch block / right bundle branch block"),
    ("IAVB", ("270492004",), "1st degree AV block"),
    ("IRBBB", ("713426002",), "incomplete right bundle branch block"),
    ("LAD", ("39732003",), "left axis deviation"),
    ("LAnFB", ("445118002",), "left anterior fascicular block"),
    ("LPR", ("164947007",), "prolonged PR interval"),
    ("LQRSV", ("251146004",), "low QRS voltages"),
    ("LQT", ("111975006",), "prolonged QT interval"),
    ("NSIVCB", ("698252002",), "nonspecific intraventricular conduction disorder"),
    ("NSR", ("426783006",), "sinus rhythm"),
    ("PAC|SVPB", ("284470004", "63593006"), "premature atrial contraction / supraventricular premature beats"),
    ("PR", ("10370003",), "pacing rhythm"),
    ("PRWP", ("365413008",), "poor R wave progression"),
    ("PVC|VPB", ("427172004", "17338001"), "premature ventricular contractions / ventricular premature beats"),
    ("QAb", ("164917005",), "Q wave abnormal"),
    ("RAD", ("47665007",), "right axis deviation"),
    ("SA", ("427393009",), "sinus arrhythmia"),
    ("SB", ("426177001",), "sinus bradycardia"),
    ("STach", ("427084000",), "sinus tachycardia"),
    ("TAb", ("164934002",), "T wave abnormal"),
    ("TInv", ("59931005",), "T wave inversion"),
)
EQUIVALENT_CODES = {code: codes[0] for _, codes, _ in SCORED_CLASSES for code in codes[1:]}
SCORED_CLASS_OF_CODE = {code: name for name, codes, _ in SCORED_CLASSES for code in codes}

SOURCES = {"A": "cpsc", "Q": "cpsc-extra", "I": "incart", "S": "ptb", "HR": "ptbxl", "E": "georgia", "JS": "chapman-ningbo"}
SOURCE_NAMES = {"cpsc": "CPSC 2018", "cpsc-extra": "CPSC-Extra", "incart": "St Petersburg INCART", "ptb": "PTB",
                "ptbxl": "PTB-XL", "georgia": "Georgia 12-lead (G12EC)", "chapman-ningbo": "Chapman-Shaoxing / Ningbo"}


def source_of(record: str) -> str:
    """The database a challenge record comes from, by its name prefix (HR06000 -> ptbxl)."""
    match = re.match(r"[A-Za-z]+", record)
    return SOURCES.get(match.group(0).upper() if match else "", "unknown")


def parse_header_comments(comments: list[str]) -> dict:
    """Age (float or None), sex ('M', 'F' or None) and the Dx codes of a challenge header."""
    dx = header_fields(comments).get("dx", "")
    return {**clinical_fields(comments), "codes": [code.strip() for code in dx.split(",") if code.strip()]}


def read_header(path: str) -> dict:
    """One record's header fields, without reading its signal."""
    import wfdb

    try:
        header = wfdb.rdheader(path)
    except Exception as exc:  # wfdb raises bare ValueErrors and friends on malformed headers
        raise RecordFormatError(f"{path}.hea: not a readable WFDB header ({type(exc).__name__}: {exc}).") from None
    return {"record_id": Path(path).name, "path": path, "fs": float(header.fs), "n_samples": int(header.sig_len or 0),
            **parse_header_comments(list(header.comments or []))}


def scored_labels(codes: list[str]) -> list[str]:
    return sorted({SCORED_CLASS_OF_CODE[code] for code in codes if code in SCORED_CLASS_OF_CODE})


@register_dataset("cinc", "PhysioNet/CinC Challenge 2020/21 12-lead ECGs, SNOMED-CT scored classes, source hold-out splits")
def build_cinc(ctx: PrepareContext, task: str = "scored", fs: float = DEFAULT_FS, split: str | None = None,
               seed: int | None = None, min_count: int | None = None, records: str | None = None, lead: str | None = None,
               bandpass: str | None = None, standardize: str | None = None, dtype: str | None = None,
               shard: str | None = None):
    """PhysioNet/CinC Challenge 2020/21 records with SNOMED-CT labels.

    Parameters
    ----------
    task
        scored (the challenge's scored classes) | all
    split
        a source database to hold out as the test split (e.g. georgia); default a patient split
    lead
        lead(s) to keep, comma-separated names (default the 12 standard leads)
    """
    task = choice(task, ("scored", "all"), "task")
    spec = preprocessing(fs, bandpass, standardize)
    leads = parse_leads(lead) if lead else list(STANDARD_12_LEADS)
    headers = sorted(str(p.with_suffix("")) for p in ctx.source.rglob("*.hea"))
    if not headers:
        raise DatasetError(f"{ctx.source} holds no .hea headers; expected the challenge's WFDB records ({URL}).")
    found = [h for h in ctx.map(read_header, headers, desc="cinc: reading headers") if h is not None]
    if not found:
        raise DatasetError(f"none of the {len(headers)} headers in {ctx.source} could be read.")
    index = select_records(pd.DataFrame(found), "record_id", ctx.source, records).reset_index(drop=True)
    codes = [[EQUIVALENT_CODES.get(code, code) for code in row] for row in index["codes"]]
    if task == "scored":
        classes, labels = keep_classes([name for name, _, _ in SCORED_CLASSES],
                                       multi_hot([scored_labels(row) for row in codes], [n for n, _, _ in SCORED_CLASSES]), min_count)
    else:
        classes = frequent_classes(codes, min_count)
        labels = multi_hot(codes, classes)
    meta = pd.DataFrame({"record_id": index["record_id"], "patient_id": index["record_id"],
                         "split": cinc_split(index["record_id"], labels, split, seed),
                         "source": index["record_id"].map(source_of), "age": index["age"], "sex": index["sex"],
                         "fs_original": index["fs"], "n_samples_original": index["n_samples"],
                         "dx": [",".join(row) for row in index["codes"]]})
    length = record_length(spec.fs)
    read = partial(load_signal, leads=leads, spec=spec, length=length)
    table = RecordTable(items=list(index["path"]), labels=labels, meta=meta, names=list(index["record_id"]))
    source = {"database": "PhysioNet/CinC Challenge 2021", "url": URL, "task": task,
              "class_codes": {name: list(codes) for name, codes, _ in SCORED_CLASSES if name in classes} if task == "scored" else {},
              "patients": "none in the data: each record counts as its own patient",
              "split": f"source {split} held out as test" if split not in (None, "random") else "random 80/10/10 by record",
              "length": "first 10 s, zero-padded when shorter"}
    return write_records(ctx, table, read, length=length, spec=spec, dtype=parse_dtype(dtype), shard=shard,
                         name=f"cinc-{task}", kind="multilabel", classes=classes, fs=spec.fs, leads=leads, source=source)


def cinc_split(records: pd.Series, labels: np.ndarray, split: str | None, seed: int | None) -> np.ndarray:
    """A random record split, or ``split`` (a source name or prefix) as test and the rest train/val."""
    if split in (None, "random"):
        return patient_split(records, labels, seed)
    held_out = SOURCES.get(split.upper(), split.lower())
    sources = records.map(source_of).to_numpy()
    if held_out not in sources:
        raise DatasetError(f"--split {split!r}: no record of that source; the records come from "
                           f"{sorted(set(sources))} (prefixes {SOURCES}).")
    out = np.full(len(records), "test", dtype=object)
    rest = sources != held_out
    if rest.any():
        out[rest] = patient_split(records[rest], labels[rest], seed, {"train": 0.9, "val": 0.1})
    return out
