"""The LUDB delineation builder on real records: labels where the cardiologists marked waves, a mask
that leaves the unannotated edges out, patients kept whole, the manifest's wave description."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ecglab.datasets.ludb import AXIS_CLASSES, load_waves, read_lead_waves
from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError

RECORDS = "data/1,data/2,data/3,data/4,data/6,data/5"  # 5 is one of the 50 held back


@pytest.fixture(scope="module")
def ludb(shared_data, tmp_path_factory):
    # a copy of the few records used (the cache fingerprints the whole source folder; 150 records take seconds)
    source = tmp_path_factory.mktemp("ludb_source")
    (source / "data").mkdir()
    shutil.copy(shared_data / "ludb" / "ludb.csv", source)
    for name in RECORDS.split(","):
        for path in (shared_data / "ludb").glob(name + ".*"):
            shutil.copy(path, source / "data")
    return prepare("ludb", source.parent / "prepared", source, records=RECORDS, workers=1, progress=False)


def test_labels_follow_the_annotation_at_the_prepared_rate(ludb, shared_data):
    waves, mask = load_waves(ludb)
    assert ludb.fs == 250 and waves.shape == mask.shape == ludb.signals.shape == (5, 12, 2500)
    row = list(ludb.meta["record_id"]).index("data/1")
    _, reference = read_lead_waves(str(shared_data / "ludb" / "data/1"), ["II"])
    # record 1, lead II: the first annotated wave is a QRS at 644…682 (500 Hz): 322…341 at 250 Hz
    first = reference[0][0]
    assert (first.wave, first.onset, first.offset) == ("QRS", 644, 682)
    lead = ludb.leads.index("II")
    assert waves[row, lead, 322:342].tolist() == [2] * 20 and waves[row, lead, 321] == 0
    assert not mask[row, lead, :322].any() and mask[row, lead, 322]  # nothing before the first onset is scored
    last = max(w.offset for w in reference[0])
    assert mask[row, lead, last // 2] and not mask[row, lead, last // 2 + 2:].any()
    inside = waves[row, lead][mask[row, lead]]
    for code, kind in ((1, "P"), (2, "QRS"), (3, "T")):  # one run of labels per annotated wave
        starts = np.flatnonzero(np.diff((inside == code).astype(int)) == 1).size + int(inside[0] == code)
        assert starts == sum(w.wave == kind for w in reference[0]), kind
    assert sum(w.wave == "QRS" for w in reference[0]) == 6


def test_split_manifest_and_axis_labels(ludb):
    assert ludb.meta["patient_id"].nunique() == len(ludb) and set(ludb.meta["split"]) <= {"train", "val", "test"}
    assert ludb.manifest["waves"] == {"files": ["waves.npy", "wave_mask.npy"], "classes": ["none", "P", "QRS", "T"]}
    assert ludb.classes == AXIS_CLASSES and ludb.labels.sum(axis=1).tolist() == [1] * len(ludb)
    axis = dict(zip(ludb.meta["record_id"], ludb.meta["axis"]))
    assert axis["data/1"] == "left axis deviation"  # ludb.csv, ID 1
    assert ludb.manifest["preprocessing"]["standardize"] == "record"
    assert any("data/5" in w and "not in ludb.csv" in w for w in ludb.manifest["warnings"])


def test_unknown_records_are_a_clear_error(shared_data, tmp_path):
    with pytest.raises(DatasetError, match="ludb.csv"):
        prepare("ludb", tmp_path / "x", shared_data / "ludb", records="data/9999", progress=False)
