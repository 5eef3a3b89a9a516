"""Beat-annotated PhysioNet databases in the MIT-BIH symbol set (MIT-BIH Arrhythmia, MIT-BIH
Supraventricular Arrhythmia, …): one reader that cuts a labelled beat at every annotation, or at every
detected R peak that an annotation labels.

Beats are cut by :func:`ecglab.inputs.beats.beat_input`, the function the Predictor calls, after
resampling every database to the BeatSpec's one rate. Records of a database other than MIT-BIH
carry its name as a prefix (``svdb:800``) in ``record_id`` and ``patient_id``, so that patients of
several databases never mix.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.aami import aami_class
from ecglab.errors import DatasetError, RecordFormatError
from ecglab.inputs.beats import BEAT_FEATURES, BeatSpec, beat_input
from ecglab.records.wfdb_reader import read_wfdb
from ecglab.inputs.preprocess import Preprocessing
from ecglab.signal.rpeaks import BEAT_SYMBOLS, annotated_beats, detect_r_peaks, match_beats

DATABASES = {
    "mitbih": "MIT-BIH Arrhythmia Database v1.0.0 (PhysioNet)",
    "svdb": "MIT-BIH Supraventricular Arrhythmia Database v1.0.0 (PhysioNet)",
}
SAME_SUBJECT = {"202": "201"}  # the MIT-BIH directory: records 201 and 202 come from one subject
R_PEAKS = ("annotated", "detected")  # where beats are cut: read_record_beats, --peaks


@dataclass
class RecordBeats:
    """One record's beats (n, leads, length), their meta rows and the annotations left out."""

    beats: np.ndarray
    meta: pd.DataFrame
    left_out: dict[str, Counter]


def record_key(database: str, name: str) -> str:
    """The record's id in a dataset: MIT-BIH's own names (as published), others prefixed."""
    return name if database == "mitbih" else f"{database}:{name}"


def parse_sources(add: str | None) -> list[tuple[str, Path]]:
    """``--add svdb=DIR[,db=DIR]``: further beat databases whose records join the training side."""
    if not add:
        return []
    sources = []
    for item in str(add).split(","):
        database, _, directory = item.partition("=")
        if database.strip() not in DATABASES or not directory.strip():
            raise DatasetError(f"--add takes DATABASE=DIR pairs, comma-separated, DATABASE one of "
                               f"{', '.join(DATABASES)}; found {item!r}.")
        if not Path(directory.strip()).is_dir():
            raise DatasetError(f"--add {item}: {directory.strip()} is not a directory of WFDB records.")
        sources.append((database.strip(), Path(directory.strip())))
    return sources


def read_record_beats(name: str, source: Path, leads: list[str], steps: Preprocessing, spec: BeatSpec,
                      database: str = "mitbih", peaks: str = "annotated") -> RecordBeats:
    """Read one record, cut a beat at every R peak, with its R-R features, labelled by its annotation.

    ``peaks="annotated"``: the R peaks are the beat annotations. ``"detected"``: the R peaks are where the
    Predictor's detector finds them (:func:`detect_r_peaks`, every lead voting), each labelled by the
    annotation it matches within 150 ms (EC57); a model then learns beats aligned, and R-R intervals
    measured, as it will meet them on a record without annotations (SVDB's annotations lie up to 55 ms from
    the R peak, a different distance in each record). Detections that match no annotation are left out.

    Leads are selected as the Predictor selects them (an equivalent lead such as SVDB's ECG1 stands
    in for MLII), and :func:`beat_input` does the rest, exactly as when predicting.
    """
    original = read_wfdb(source / name)
    record = original.select_leads(leads, equivalents=True)
    if record.annotations is None:
        raise RecordFormatError(f"{name}: no beat annotation file {name}.atr beside the record; the labels come from it.")
    all_symbols = record.annotations.symbols
    annotated, annotated_symbols = annotated_beats(record.annotations.samples, all_symbols)
    if peaks == "detected":
        at = detect_r_peaks(original.voting_leads(leads[0]), record.fs)
        reference, detected = match_beats(annotated, at, record.fs)
        symbols = [""] * len(at)
        for r, d in zip(reference, detected):
            symbols[d] = annotated_symbols[r]
        missed = Counter(annotated_symbols[r] for r in np.setdiff1d(np.arange(len(annotated)), reference))
        extra = len(at) - len(detected)
    else:
        at, symbols, missed, extra = annotated, annotated_symbols, Counter(), 0
    classes = np.array([aami_class(s) for s in symbols], dtype=object)
    has_class = np.array([c is not None for c in classes], dtype=bool)
    cut = beat_input(record.signal, record.fs, at, spec, steps)
    labelled = has_class[cut.kept]
    keep = cut.kept[labelled]
    key = record_key(database, name)
    meta = pd.DataFrame({
        "record_id": key, "patient_id": record_key(database, SAME_SUBJECT.get(name, name)) if database == "mitbih" else key,
        "database": database, "sample": at[keep], "symbol": [symbols[i] for i in keep],
        "aami": classes[keep].astype(str),
        **{feature: cut.features[feature][labelled] for feature in BEAT_FEATURES},
    })
    not_cut = np.setdiff1d(np.flatnonzero(has_class), cut.kept)
    left_out = {
        "non_beat": Counter(s for s in all_symbols if s not in BEAT_SYMBOLS),
        "unmapped_beat": Counter(s for s, known in zip(symbols, has_class) if s and not known),
        "not_segmented": Counter(symbols[i] for i in not_cut),
    }
    if peaks == "detected":
        left_out |= {"not_detected": missed, "detected_unannotated": Counter({"beats": extra} if extra else {})}
    return RecordBeats(cut.beats[labelled], meta, left_out)


def total(counters) -> dict[str, int]:
    summed = Counter()
    for counter in counters:
        summed.update(counter)
    return dict(sorted(summed.items()))
