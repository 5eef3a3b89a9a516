"""SVDB (MIT-BIH Supraventricular Arrhythmia) beats: counts by class for a real record, prefixed
patient ids, ECG1 standing in for MLII, and MIT-BIH + SVDB prepared as one dataset."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError

AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F",
        **dict.fromkeys("/fQ", "Q")}


@pytest.fixture(scope="module")
def record_800(shared_data, tmp_path_factory):
    return prepare("svdb", tmp_path_factory.mktemp("svdb") / "800", shared_data / "svdb", records="800",
                   split="all", progress=False, workers=1)


def test_record_800_counts_by_class_match_its_annotation_file(record_800, shared_data):
    import wfdb

    symbols = wfdb.rdann(str(shared_data / "svdb" / "800"), "atr").symbol
    from_file = Counter(AAMI[s] for s in symbols if s in AAMI)
    counts = dict(zip(record_800.classes, np.asarray(record_800.labels).sum(axis=0).tolist()))
    assert (from_file["N"], from_file["S"], from_file["V"], from_file["F"], from_file["Q"]) == (1846, 30, 6, 1, 0)
    assert counts == {c: from_file[c] for c in "NSVFQ"}
    assert record_800.manifest["annotations"]["non_beat"] == {"|": 10, "~": 28}
    assert record_800.manifest["annotations"]["not_segmented"] == {}


def test_svdb_ids_are_prefixed_and_ecg1_stands_in_for_mlii(record_800):
    meta = record_800.meta
    assert set(meta["record_id"]) == {"svdb:800"} and set(meta["patient_id"]) == {"svdb:800"}
    assert set(meta["database"]) == {"svdb"} and record_800.leads == ["MLII"]
    assert record_800.fs == 128.0 and record_800.signals.shape[1:] == (1, 96)  # the context beat at SVDB's rate
    assert record_800.manifest["beats"]["normalize"] == "record"


def test_beats_at_detected_r_peaks_are_labelled_by_the_annotation_within_150_ms(record_800, shared_data, tmp_path):
    import wfdb

    detected = prepare("svdb", tmp_path / "detected", shared_data / "svdb", records="800", split="all",
                       peaks="detected", progress=False, workers=1)
    annotation = wfdb.rdann(str(shared_data / "svdb" / "800"), "atr")
    beats = np.array([s in AAMI for s in annotation.symbol])
    samples, symbols = annotation.sample[beats], np.array(annotation.symbol)[beats]
    meta = detected.meta
    nearest = np.abs(meta["sample"].to_numpy()[:, None] - samples[None, :]).argmin(axis=1)
    offset_ms = (meta["sample"].to_numpy() - samples[nearest]) / 128 * 1000
    assert (np.abs(offset_ms) <= 150).all() and (meta["symbol"].to_numpy() == symbols[nearest]).all()
    # SVDB's annotations lie a record-wide distance from the R peak: 15.6 ms (two samples) before it in 800
    assert np.median(offset_ms) == pytest.approx(15.6, abs=0.1)
    annotations = detected.manifest["annotations"]
    assert detected.manifest["r_peaks"] == "detected" and record_800.manifest["r_peaks"] == "annotated"
    found = Counter(meta["aami"]) + Counter(AAMI[s] for s in Counter(annotations["not_detected"]).elements())
    assert found == Counter(AAMI[s] for s in symbols)  # every annotated beat is either found or counted as missed
    assert len(meta) > 0.99 * len(samples) and annotations["detected_unannotated"]["beats"] < 10


def test_mitbih_and_svdb_prepare_as_one_dataset_with_patients_kept_apart(shared_data, tmp_path):
    svdb = tmp_path / "svdb"  # three SVDB records, linked
    svdb.mkdir()
    for name in ("800", "803", "805"):
        for ext in ("hea", "dat", "atr"):
            (svdb / f"{name}.{ext}").symlink_to(shared_data / "svdb" / f"{name}.{ext}")
    dataset = prepare("mitbih", tmp_path / "both", shared_data / "mitbih", records="101,106,102", split="all",
                      beats="context", add=f"svdb={svdb}", progress=False, workers=1)
    meta = dataset.meta
    assert dataset.name == "mitbih+svdb" and dataset.manifest["excluded_records"] == ["102"]  # paced
    patients = set(meta["patient_id"])
    assert patients == {"101", "106", "svdb:800", "svdb:803", "svdb:805"}
    assert set(meta["split"]) == {"train", "val"}  # --split all: no test split
    assert meta.groupby("patient_id")["split"].nunique().max() == 1
    assert dataset.fs == 128.0 and set(meta["database"]) == {"mitbih", "svdb"}
    # one training run may draw one database's beats less often: a fifth as often here
    from ecglab.training.config import DataConfig
    from ecglab.training.data import ECGDataModule

    config = DataConfig(path=str(dataset.path), test_split=None, database_weights={"svdb": 0.2})
    module = ECGDataModule(dataset, config)
    drawn = meta.iloc[module.train_index]["database"].to_numpy()[
        [i for draw in module.train_dataloader().sampler for i in draw.positions]]
    share = (drawn == "svdb").mean()
    counts = meta.iloc[module.train_index]["database"].value_counts()
    expected = 0.2 * counts["svdb"] / (0.2 * counts["svdb"] + counts["mitbih"])
    assert abs(share - expected) < 0.03 and share < (counts["svdb"] / counts.sum()) - 0.2


def test_bad_sources_and_splits_are_explained(shared_data, tmp_path):
    with pytest.raises(DatasetError, match="--add takes DATABASE=DIR"):
        prepare("mitbih", tmp_path / "a", shared_data / "mitbih", split="all", add="ptbxl=x", progress=False)
    with pytest.raises(DatasetError, match="--split must be one of patient, all, intra"):
        prepare("svdb", tmp_path / "b", shared_data / "svdb", split="inter", progress=False)
    with pytest.raises(DatasetError, match="--peaks must be one of annotated, detected"):
        prepare("svdb", tmp_path / "c", shared_data / "svdb", peaks="found", progress=False)
