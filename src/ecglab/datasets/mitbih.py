"""MIT-BIH Arrhythmia Database (Moody & Mark 2001) as single-beat inputs with AAMI classes.

Beats are cut at the annotated R peaks, or with ``--peaks detected`` where the Predictor's detector finds
them (labelled by the annotation within 150 ms), by :func:`ecglab.inputs.beats.beat_input` (the Predictor's
function too): Kachuee et al. 2018 (``--beats kachuee``: 125 Hz, 10 s windows scaled to [0, 1],
1.2 median R-R from the R peak, zero-padded to 187 samples), a fixed span around the peak
(``--beats centred``) or P wave to T wave with per-record amplitude (``--beats context``; with
``context-difference`` or ``context-median`` a second channel, the beat minus the record's median beat or
that median beat), each with absolute and relative R-R features. Labels follow AAMI EC57 (:mod:`ecglab.datasets.core.aami`);
non-beat annotations are skipped and counted. ``--add svdb=DIR`` adds the records of another
beat database (:mod:`ecglab.datasets.beatdb`) to the training side, resampled to the same rate.

Split protocols (``--split``):

* ``inter``: de Chazal et al. 2004. DS1 records train (a seeded, class-stratified 20 % of them
  held out as val), DS2 records test, the paced records 102 104 107 217 left out. As published,
  each record counts as a patient, although 201 (DS1) and 202 (DS2) are one subject.
* ``all``: every record trains (a seeded 20 % of the patients as val), paced records left out,
  no test split: for cross-validation over the training records and for models to ship.
* ``patient``: the records present, dealt to train/val/test (70/10/20 of the subjects, seeded,
  class shares as even as feasible); 201 and 202 stay together.
* ``intra``: the beats dealt at random (70/10/20, stratified by class), as in the Kaggle files
  of Kachuee et al.: optimistic, since beats of one patient land in train and in test.

There is no silent default when DS2 is absent: the protocols give figures that cannot be
compared, so the user picks one.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.datasets.core.aami import AAMI_CLASSES, AAMI_SYMBOLS
from ecglab.datasets.beatdb import DATABASES, R_PEAKS, parse_sources, read_record_beats, total
from ecglab.datasets.core.options import beat_spec, choice, one_hot, parse_bandpass, parse_dtype, parse_leads
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.selection import group_split, record_ids, stratified_split
from ecglab.errors import DatasetError
from ecglab.inputs.preprocess import Preprocessing

DS1 = tuple("101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230".split())
DS2 = tuple("100 103 105 111 113 117 121 123 200 202 210 212 213 214 219 221 222 228 231 232 233 234".split())
PACED = ("102", "104", "107", "217")

BEAT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}
INTER_VAL_FRACTIONS = {"train": 0.8, "val": 0.2}
PROTOCOLS = {
    "inter": "inter-patient (de Chazal et al. 2004: DS1 train with held-out DS1 records as val, DS2 test, "
             "paced records excluded; each record counts as a patient, as published, though 201 and 202 are one subject)",
    "patient": "patient-held-out (records dealt to train/val/test 70/10/20, seeded, class shares stratified as feasible)",
    "intra": "intra-patient (beats of one patient in several splits: optimistic, as published)",
    "all": "every record trains (a seeded 20 % of the patients held out as val, paced records excluded), no test "
           "split: for leave-patients-out cross-validation (`ecglab cv`) and for models to ship",
}


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
        f"but none of them is among the {len(present)} records selected in {source}: the published inter-patient "
        "test needs the full MIT-BIH database (a config: --set data.prepare.source=/path/to/mitdb). Choose another "
        "protocol: --split all (every record trains: for cross-validation, `ecglab cv`, and shipped models), "
        "--split patient (the records present dealt to train/val/test by record: honest, but not the published "
        "benchmark) or --split intra (beats dealt at random as in Kachuee et al. 2018: optimistic)."
    )


def assign_splits(protocol: str, meta: pd.DataFrame, seed: int) -> np.ndarray:
    """A split name per beat under ``protocol`` (see the module docstring)."""
    classes = meta["aami"].to_numpy()
    if protocol == "intra":
        return stratified_split(classes, BEAT_FRACTIONS, seed)
    if protocol == "patient":
        return group_split(meta["patient_id"].to_numpy(), classes, BEAT_FRACTIONS, seed)
    split = np.full(len(meta), "test", dtype=object)
    # inter: DS1 and the added databases train, DS2 tests; all: every record trains
    trains = np.ones(len(meta), bool) if protocol == "all" else (~meta["record_id"].isin(DS2)).to_numpy()
    if trains.any():
        split[trains] = group_split(meta["patient_id"].to_numpy()[trains], classes[trains], INTER_VAL_FRACTIONS, seed)
    return split


@register_dataset("mitbih", "MIT-BIH Arrhythmia (raw WFDB): AAMI beats N S V F Q; --split inter|all|patient|intra; "
                            "--add svdb=DIR trains on more databases",
                            version=2)  # 2: beats carry p_consistency and qrs_difference
def prepare_mitbih(ctx: PrepareContext, split: str | None = None, seed: int = 0, records: str | None = None,
                   lead: str = "MLII", beats: str = "kachuee", bandpass: str | None = None, dtype: str | None = None,
                   add: str | None = None, peaks: str = "annotated"):
    """MIT-BIH Arrhythmia beats in the AAMI classes, one lead.

    Parameters
    ----------
    split
        inter (de Chazal DS1 → train, DS2 → test; default when DS2 is present) | all (every record trains,
        20 % of patients validate; for cross-validation and shipped models) | patient | intra
    lead
        the lead to cut beats from
    beats
        beat extraction: kachuee | centred | context (P wave to T wave, per-record amplitude) |
        context-difference | context-median (context, and a second channel: the beat minus the record's
        median beat, or that median beat) | context-difference-aligned (each beat cut where its QRS best
        matches the record's median QRS, within 50 ms of its R peak) | context-difference-centred (and then
        all of a record's cuts moved together onto the centre of its median QRS) | context-difference-deflection
        (or onto its dominant deflection, where the detector places R peaks)
    add
        more beat databases whose records train too, DATABASE=DIR comma-separated (e.g. svdb=svdb/)
    peaks
        annotated (beats cut at the annotated R peaks) | detected (where the Predictor's detector finds
        them, labelled by the annotation within 150 ms: beats aligned as on a record without annotations)
    """
    added = parse_sources(add)
    names = record_ids(ctx.source, records)
    protocol = choose_protocol(split, names, ctx.source)
    excluded = []
    if protocol in ("inter", "all"):
        excluded = [n for n in names if n in PACED]
        unknown = [n for n in names if n not in DS1 + DS2 + PACED]
        if unknown:
            raise DatasetError(f"--split {protocol} knows the 48 MIT-BIH records only; {unknown} are not among them "
                               "(use --split patient or intra for other records).")
        names = [n for n in names if n not in excluded]
    sources = [("mitbih", ctx.source, names)] + [(db, directory, record_ids(directory, None)) for db, directory in added]
    return write_beat_dataset(ctx, sources, protocol, seed, lead, beats, bandpass, dtype, excluded, peaks)


def write_beat_dataset(ctx: PrepareContext, sources: list[tuple[str, Path, list[str]]], protocol: str, seed: int,
                       lead: str, beats: str, bandpass: str | None, dtype: str | None, excluded: list[str],
                       peaks: str = "annotated"):
    """Read the records of every (database, directory, names) source, deal the splits, write the dataset."""
    peaks = choice(peaks, R_PEAKS, "peaks")
    spec = beat_spec(beats)
    leads = parse_leads(lead)
    steps = Preprocessing(fs=spec.fs, bandpass=parse_bandpass(bandpass))
    results = []
    for database, directory, names in sources:
        read = partial(read_record_beats, source=directory, leads=leads, steps=steps, spec=spec, database=database,
                       peaks=peaks)
        results += [r for r in ctx.map(read, names, desc=f"{database} records") if r is not None and len(r.meta)]
    if not results:
        reasons = "; ".join(f"{s.item}: {s.reason}" for s in ctx.skipped[:3])
        raise DatasetError(f"no labelled beats could be read from {ctx.source} ({sum(len(s[2]) for s in sources)} "
                           f"records tried). {reasons}")
    meta = pd.concat([r.meta for r in results], ignore_index=True)
    meta.insert(2, "split", assign_splits(protocol, meta, seed))
    if protocol == "inter":
        meta["patient_id"] = meta["record_id"]
    if protocol == "intra":
        meta["patient_id"] = meta["record_id"] + ":beat" + meta["sample"].astype(str)
    annotations = {kind: total(r.left_out[kind] for r in results) for kind in results[0].left_out}
    annotations["labelled_beats"] = dict(Counter(meta["symbol"]))
    databases = sorted({db for db, _, _ in sources}, key=list(DATABASES).index)
    return ctx.write(
        np.concatenate([r.beats for r in results]), one_hot(meta["aami"].tolist(), AAMI_CLASSES), meta,
        dtype=parse_dtype(dtype), name="+".join(databases), kind="multiclass", classes=AAMI_CLASSES, fs=spec.fs,
        leads=leads, preprocessing=steps.model_dump(),
        source={"database": "; ".join(DATABASES[db] for db in databases), "records": sorted(meta["record_id"].unique())},
        extra={"input": "beat", "beats": spec.model_dump(), "protocol": PROTOCOLS[protocol], "split_protocol": protocol,
               "seed": seed, "r_peaks": peaks, "excluded_records": excluded, "aami_symbols": AAMI_SYMBOLS,
               "annotations": annotations,
               "databases": {db: str(directory) for db, directory, _ in sources}},
    )
