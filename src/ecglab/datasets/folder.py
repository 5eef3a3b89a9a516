"""Any folder of ECG files plus a ``labels.csv``: the way in for a user's own data.

``labels.csv`` (in the folder, or ``--labels PATH``) has one row per record:

* ``record``: the file, relative to the folder, with or without its extension (a WFDB record by
  its name); any format of :data:`ecglab.records.formats.FORMATS`;
* ``labels``: class names separated by ``;`` (empty: negative for every class); multilabel over
  the names that occur (``--min-count K``: in at least K records);
* optional ``patient_id`` (else each record is its own patient), ``age``, ``sex``, ``split``
  (train/val/test for every row; else a seeded 80/10/10 split by patient) and ``fs``, the rate of
  files that store none (CSV, .npy, .npz: else a CSV's time column, else ``--fs``).

Every record is resampled to ``--fs`` (default 500 Hz) and stored as 10 s: the first 10 s of a
longer record, a shorter one zero-padded at the end. Leads: ``--lead``, else the 12 standard
leads when every readable record has them, else the leads every readable record shares (the
manifest says which records limit them). Learning that takes one pass over the files before the
main one (a WFDB record's header only; other formats are read whole). A record lacking a chosen
lead is skipped and named, like any unreadable file.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.options import (SPLIT_FRACTIONS, frequent_classes, load_signal, multi_hot, parse_dtype, parse_leads, patient_split,
                                     preprocessing, record_length, select_records)
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.streaming import RecordTable, write_records
from ecglab.errors import DatasetError, EcglabError, RecordFormatError
from ecglab.records import STANDARD_12_LEADS, read_record
from ecglab.records.detect import detect_format
from ecglab.records.formats import FORMATS, accepted_formats, extensions
from ecglab.records.wfdb_reader import read_wfdb_header

DEFAULT_FS = 500.0
EXTENSIONS = extensions()  # tried in this order for a record named without its extension
RATELESS_EXTENSIONS = extensions([f for f in FORMATS.values() if "fs" in f.reader_options])
OPTIONAL_COLUMNS = ("patient_id", "age", "sex", "split", "fs")


def read_labels(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"{path}: no labels file; expected a CSV with columns record,labels "
                           f"(labels separated by ';') and optional {', '.join(OPTIONAL_COLUMNS)}.")
    table = pd.read_csv(path, dtype={"record": str, "labels": str, "patient_id": str, "split": str})
    missing = [c for c in ("record", "labels") if c not in table.columns]
    if missing:
        raise DatasetError(f"{path} lacks the columns {missing}; found {list(table.columns)}.")
    if table["record"].isna().any() or table["record"].duplicated().any():
        raise DatasetError(f"{path}: every row needs a record name, each once; found empty or repeated names.")
    return table


def resolve(source: Path, record: str) -> str:
    """The file of ``record``: the name as given, else with the first extension that exists."""
    base = source / record
    if base.is_file():
        return str(base)
    for extension in EXTENSIONS:
        if Path(str(base) + extension).is_file():
            return str(base) + extension
    return str(base)  # reading it reports the missing file by name


def read_file(item: tuple[str, float | None], **options) -> np.ndarray:
    """A file at its ``fs`` column; a table file that names no rate (no column, no time column) at ``--fs``."""
    path, fs = item
    try:
        return load_signal(path, fs=fs, **options)
    except RecordFormatError:
        if fs is not None or Path(path).suffix.lower() not in RATELESS_EXTENSIONS:
            raise
        return load_signal(path, fs=options["spec"].fs, **options)


@register_dataset("folder", f"any folder of ECG files ({accepted_formats()}) with a labels.csv "
                            "(record;labels[;patient_id;age;sex;split])")
def build_folder(ctx: PrepareContext, labels: str | None = None, fs: float = DEFAULT_FS, seed: int | None = None,
                 min_count: int | None = None, records: str | None = None, lead: str | None = None,
                 bandpass: str | None = None, standardize: str | None = None, dtype: str | None = None,
                 shard: str | None = None):
    """A user's folder of ECG files and its labels.csv (see the module's docstring).

    Parameters
    ----------
    labels
        the labels CSV (default labels.csv in the folder): record,labels[,patient_id,age,sex,split,fs]
    lead
        lead(s) to keep, comma-separated names (default the 12 standard leads if every record has
        them, else the leads all records share)
    """
    spec = preprocessing(fs, bandpass, standardize)
    labels_path = Path(labels) if labels else ctx.source / "labels.csv"
    table = select_records(read_labels(labels_path), "record", ctx.source, records).reset_index(drop=True)
    if table.empty:
        raise DatasetError(f"{labels_path} lists no records.")
    label_lists = [[name.strip() for name in str(text).split(";") if name.strip()] if isinstance(text, str) else []
                   for text in table["labels"]]
    classes = frequent_classes(label_lists, min_count)
    if not classes:
        raise DatasetError(f"{labels_path}: no label occurs in at least {max(1, min_count or 0)} records.")
    label_matrix = multi_hot(label_lists, classes)
    rates = [None if pd.isna(rate) else float(rate) for rate in table["fs"]] if "fs" in table.columns else [None] * len(table)
    items = [(resolve(ctx.source, record), rate) for record, rate in zip(table["record"], rates)]
    if lead:
        leads, lead_rule = parse_leads(lead), "--lead"
    else:
        leads, lead_rule, warning = common_leads(ctx.map(partial(record_leads, fallback_fs=spec.fs), items,
                                                         desc="folder: reading lead names"), list(table["record"]))
        if warning:
            ctx.warn(warning)
    patients = table["patient_id"].fillna(table["record"]) if "patient_id" in table.columns else table["record"]
    meta = pd.DataFrame({"record_id": table["record"], "patient_id": patients.astype(str),
                         "split": folder_split(table, patients, label_matrix, seed)})
    for column in ("age", "sex"):
        if column in table.columns:
            meta[column] = table[column].to_numpy()
    meta["file"] = [str(Path(path).relative_to(ctx.source)) if Path(path).is_relative_to(ctx.source) else path for path, _ in items]
    length = record_length(spec.fs)
    read = partial(read_file, leads=leads, spec=spec, length=length)
    source = {"database": "folder", "labels": str(labels_path),
              "patients": "patient_id column" if "patient_id" in table.columns else "none given: each record counts as its own patient",
              "split": "split column" if "split" in table.columns else "seeded 80/10/10 by patient",
              "length": "first 10 s, zero-padded when shorter", "leads": lead_rule}
    return write_records(ctx, RecordTable(items, label_matrix, meta, names=list(table["record"])), read, length=length,
                         spec=spec, dtype=parse_dtype(dtype), shard=shard, name=f"folder-{ctx.source.name}",
                         kind="multilabel", classes=classes, fs=spec.fs, leads=leads, source=source)


def record_leads(item: tuple[str, float | None], fallback_fs: float) -> tuple[list[str] | None, str | None]:
    """(a record's lead names, None), read from a WFDB record's header only; (None, the reason) when
    it cannot be read, which the main pass then reports once, as it skips the record."""
    path, rate = item
    try:
        if detect_format(path) == "wfdb":
            return read_wfdb_header(path)["leads"], None
        return read_record(path, fs=rate or fallback_fs).leads, None
    except (EcglabError, OSError, ValueError, KeyError, IndexError) as exc:  # what the main pass counts as unreadable
        return None, str(exc)


def common_leads(found: list[tuple[list[str] | None, str | None]], names: list[str]) -> tuple[list[str], str, str | None]:
    """(leads, how they were chosen, a warning or None) from :func:`record_leads` of each record.

    The 12 standard leads when every readable record has them; else the leads all readable records
    share, standard ones first in standard order; a warning names the records that limit them.
    """
    readable = [(name, leads) for name, (leads, _) in zip(names, found) if leads is not None]
    if not readable:
        reasons = "; ".join(f"{name}: {reason}" for name, (_, reason) in list(zip(names, found))[:3])
        raise DatasetError(f"none of the {len(names)} records could be read to learn their leads ({reasons}).")
    shared = set.intersection(*(set(leads) for _, leads in readable))
    if set(STANDARD_12_LEADS) <= shared:
        return list(STANDARD_12_LEADS), f"the 12 standard leads, which all {len(readable)} readable records have", None
    leads = [lead for lead in STANDARD_12_LEADS if lead in shared]
    leads += [lead for lead in readable[0][1] if lead in shared and lead not in leads]
    fewest = sorted(readable, key=lambda pair: len(pair[1]))[:3]
    limiting = "; ".join(f"{name} has {', '.join(leads_of)}" for name, leads_of in fewest)
    if not leads:
        raise DatasetError(f"the {len(readable)} readable records share no lead ({limiting}); choose leads with --lead "
                           "(records without them are skipped and named).")
    rule = f"the {len(leads)} leads all {len(readable)} readable records share"
    if max(len(set(leads_of)) for _, leads_of in readable) == len(leads):
        return leads, rule, None
    return leads, rule, (f"only {', '.join(leads)} kept: no other lead is in every record ({limiting}). Choose leads "
                         "with --lead to keep more; records without them are then skipped and named.")


def folder_split(table: pd.DataFrame, patients: pd.Series, labels: np.ndarray, seed: int | None) -> np.ndarray:
    """The ``split`` column when it names train/val/test for every row, else a seeded patient split."""
    if "split" not in table.columns or table["split"].isna().all():
        return patient_split(patients, labels, seed)
    given = table["split"].fillna("").str.strip().str.lower()
    wrong = sorted(set(given) - set(SPLIT_FRACTIONS))
    if wrong:
        raise DatasetError(f"the split column must be one of {list(SPLIT_FRACTIONS)} on every row (or absent); found {wrong}.")
    return given.to_numpy(dtype=object)
