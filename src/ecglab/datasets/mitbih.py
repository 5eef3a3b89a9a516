"""MIT-BIH Arrhythmia Database (Moody & Mark 2001) as single-beat inputs with AAMI classes.

Beats are cut at the annotated R peaks by :func:`ecglab.signal.beats.extract_beats`: Kachuee et
al. 2018 (``--beats kachuee``: 125 Hz, 10 s windows scaled to [0, 1], 1.2 median R-R from the R
peak, zero-padded to 187 samples) or a fixed span around the peak (``--beats centred``). Labels
follow AAMI EC57 (:mod:`ecglab.datasets.core.aami`); non-beat annotations are skipped and counted.

Split protocols (``--split``):

* ``inter``: de Chazal et al. 2004. DS1 records train (a seeded, class-stratified 20 % of them
  held out as val), DS2 records test, the paced records 102 104 107 217 left out. As published,
  each record counts as a patient, although 201 (DS1) and 202 (DS2) are one subject.
* ``patient``: the records present, dealt to train/val/test (70/10/20 of the subjects, seeded,
  class shares as even as feasible); 201 and 202 stay together.
* ``intra``: the beats dealt at random (70/10/20, stratified by class), as in the Kaggle files
  of Kachuee et al.: optimistic, since beats of one patient land in train and in test.

There is no silent default when DS2 is absent: the protocols give figures that cannot be
compared, so the user picks one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.aami import AAMI_CLASSES, AAMI_SYMBOLS, aami_class
from ecglab.datasets.core.options import (beat_spec, choice, one_hot, parse_bandpass, parse_dtype, parse_leads,
                                     require_leads)
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.selection import group_split, record_ids, stratified_split
from ecglab.errors import DatasetError, RecordFormatError
from ecglab.inputs.preprocess import Preprocessing, preprocess
from ecglab.records.wfdb_reader import read_wfdb
from ecglab.signal.beats import RR_FEATURES, BeatSpec, extract_beats, rr_context
from ecglab.signal.resample import resample_positions
from ecglab.signal.rpeaks import BEAT_SYMBOLS, annotated_beats

DS1 = tuple("101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230".split())
DS2 = tuple("100 103 105 111 113 117 121 123 200 202 210 212 213 214 219 221 222 228 231 232 233 234".split())
PACED = ("102", "104", "107", "217")
SAME_SUBJECT = {"202": "201"}  # the database directory: records 201 and 202 come from one subject

BEAT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}
INTER_VAL_FRACTIONS = {"train": 0.8, "val": 0.2}
PROTOCOLS = {
    "inter": "inter-patient (de Chazal et al. 2004: DS1 train with held-out DS1 records as val, DS2 test, "
             "paced records excluded; each record counts as a patient, as published, though 201 and 202 are one subject)",
    "patient": "patient-held-out (records dealt to train/val/test 70/10/20, seeded, class shares stratified as feasible)",
    "intra": "intra-patient (beats of one patient in several splits: optimistic, as published)",
}


@dataclass
class RecordBeats:
    """One record's beats (n, leads, length), their meta rows and the annotations left out."""

    beats: np.ndarray
    meta: pd.DataFrame
    left_out: dict[str, Counter]


def read_record_beats(name: str, source: Path, leads: list[str], steps: Preprocessing, spec: BeatSpec) -> RecordBeats:
    """Read one record, cut a beat at every AAMI-labelled annotation, with its R-R context.

    The signal is resampled and filtered by ``steps`` first, then segmented, exactly as the
    Predictor does with a bundle trained on these beats.
    """
    record = require_leads(read_wfdb(source / name), leads)
    if record.annotations is None:
        raise RecordFormatError(f"{name}: no beat annotation file {name}.atr beside the record; the labels come from it.")
    all_symbols = record.annotations.symbols
    peaks, symbols = annotated_beats(record.annotations.samples, all_symbols)
    classes = np.array([aami_class(s) for s in symbols], dtype=object)
    has_class = np.array([c is not None for c in classes], dtype=bool)
    signal = preprocess(record.signal, record.fs, steps)
    cut = extract_beats(signal, spec.fs, resample_positions(peaks, record.fs, spec.fs), spec)
    labelled = has_class[cut.kept]
    keep = cut.kept[labelled]
    rr = rr_context(peaks, record.fs)  # over every beat annotation, labelled or not
    meta = pd.DataFrame({
        "record_id": name, "patient_id": SAME_SUBJECT.get(name, name),
        "sample": peaks[keep], "symbol": [symbols[i] for i in keep], "aami": classes[keep].astype(str),
        **{feature: rr[keep, j] for j, feature in enumerate(RR_FEATURES)},
    })
    not_cut = np.setdiff1d(np.flatnonzero(has_class), cut.kept)
    left_out = {
        "non_beat": Counter(s for s in all_symbols if s not in BEAT_SYMBOLS),
        "unmapped_beat": Counter(np.asarray(symbols, dtype=object)[~has_class].tolist()),
        "not_segmented": Counter(symbols[i] for i in not_cut),
    }
    return RecordBeats(cut.beats[labelled], meta, left_out)


def choose_protocol(split: str | None, names: list[str], source: Path) -> str:
    """The split protocol asked for, or ``inter`` when DS2 is present; an explained error otherwise."""
    if split is not None:
        choice(split, tuple(PROTOCOLS), "split")
        if split != "inter":
            return split
    present = {n for n in names if (source / f"{n}.hea").exists()}
    missing = "DS1" if not present & set(DS1) else "DS2" if not present & set(DS2) else None
    if missing is None:
        return "inter"
    asked = "--split inter needs" if split else "the default split (--split inter) needs"
    raise DatasetError(
        f"{asked} the {missing} records of de Chazal et al. 2004 ({' '.join(DS1 if missing == 'DS1' else DS2)}), "
        f"but none of them is among the {len(present)} records selected in {source}. Choose another protocol: "
        "--split patient (the records present dealt to train/val/test by record: honest, but not the published "
        "benchmark) or --split intra (beats dealt at random as in Kachuee et al. 2018: optimistic)."
    )


def assign_splits(protocol: str, meta: pd.DataFrame, seed: int) -> np.ndarray:
    """A split name per beat under ``protocol`` (see the module docstring)."""
    if protocol == "intra":
        return stratified_split(meta["aami"].to_numpy(), BEAT_FRACTIONS, seed)
    if protocol == "patient":
        return group_split(meta["patient_id"].to_numpy(), meta["aami"].to_numpy(), BEAT_FRACTIONS, seed)
    split = np.full(len(meta), "test", dtype=object)
    in_ds1 = meta["record_id"].isin(DS1).to_numpy()
    if in_ds1.any():
        split[in_ds1] = group_split(meta["record_id"].to_numpy()[in_ds1], meta["aami"].to_numpy()[in_ds1],
                                    INTER_VAL_FRACTIONS, seed)
    return split


@register_dataset("mitbih", "MIT-BIH Arrhythmia (raw WFDB): AAMI beats N S V F Q; --split inter|patient|intra")
def prepare_mitbih(ctx: PrepareContext, split: str | None = None, seed: int = 0, records: str | None = None,
                   lead: str = "MLII", beats: str = "kachuee", bandpass: str | None = None, dtype: str | None = None):
    """MIT-BIH Arrhythmia beats in the AAMI classes, one lead.

    Parameters
    ----------
    split
        inter (de Chazal DS1 → train, DS2 → test; default when DS2 is present) | patient | intra
    lead
        the lead to cut beats from
    beats
        beat extraction: kachuee | centred
    """
    spec = beat_spec(beats)
    leads = parse_leads(lead)
    names = record_ids(ctx.source, records)
    protocol = choose_protocol(split, names, ctx.source)
    excluded = []
    if protocol == "inter":
        excluded = [n for n in names if n in PACED]
        unknown = [n for n in names if n not in DS1 + DS2 + PACED]
        if unknown:
            raise DatasetError(f"--split inter knows the 48 MIT-BIH records only; {unknown} are not among them "
                               "(use --split patient or intra for other records).")
        names = [n for n in names if n not in excluded]
    steps = Preprocessing(fs=spec.fs, bandpass=parse_bandpass(bandpass))
    read = partial(read_record_beats, source=ctx.source, leads=leads, steps=steps, spec=spec)
    results = [r for r in ctx.map(read, names, desc="MIT-BIH records") if r is not None and len(r.meta)]
    if not results:
        reasons = "; ".join(f"{s.item}: {s.reason}" for s in ctx.skipped[:3])
        raise DatasetError(f"no labelled beats could be read from {ctx.source} ({len(names)} records tried). {reasons}")
    meta = pd.concat([r.meta for r in results], ignore_index=True)
    meta.insert(2, "split", assign_splits(protocol, meta, seed))
    if protocol == "inter":
        meta["patient_id"] = meta["record_id"]
    if protocol == "intra":
        meta["patient_id"] = meta["record_id"] + ":beat" + meta["sample"].astype(str)
    annotations = {kind: _total(r.left_out[kind] for r in results) for kind in results[0].left_out}
    annotations["labelled_beats"] = dict(Counter(meta["symbol"]))
    return ctx.write(
        np.concatenate([r.beats for r in results]), one_hot(meta["aami"].tolist(), AAMI_CLASSES), meta,
        dtype=parse_dtype(dtype), name="mitbih", kind="multiclass", classes=AAMI_CLASSES, fs=spec.fs, leads=leads,
        preprocessing=steps.model_dump(),
        source={"database": "MIT-BIH Arrhythmia Database v1.0.0 (PhysioNet)", "records": sorted(meta["record_id"].unique())},
        extra={"input": "beat", "beats": spec.model_dump(), "protocol": PROTOCOLS[protocol], "split_protocol": protocol,
               "seed": seed, "excluded_records": excluded, "aami_symbols": AAMI_SYMBOLS, "annotations": annotations},
    )


def _total(counters) -> dict[str, int]:
    total = Counter()
    for counter in counters:
        total.update(counter)
    return dict(sorted(total.items()))
