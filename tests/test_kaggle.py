"""The Kaggle heartbeat CSVs (Kachuee et al. 2018): parsing, validation messages, splits."""

from __future__ import annotations

import numpy as np
import pytest

from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError


def _write_csv(path, labels, seed=0):
    rng = np.random.default_rng(seed)
    beats = rng.uniform(0, 1, (len(labels), 187))
    beats[:, 150:] = 0.0  # zero padding, as published
    np.savetxt(path, np.column_stack([beats, labels]), fmt="%.18e", delimiter=",")
    return beats


def test_shared_mitbih_csv_rows_become_beats(shared_data, tmp_path):
    source = shared_data / "kaggle_heartbeat"
    dataset = prepare("mitbih-csv", tmp_path / "out", source, progress=False)
    train = np.loadtxt(source / "mitbih_train.csv", delimiter=",")
    test = np.loadtxt(source / "mitbih_test.csv", delimiter=",")
    assert dataset.signals.shape == (20, 1, 187) and dataset.fs == 125.0 and dataset.leads == ["MLII"]
    np.testing.assert_allclose(dataset.signals[:, 0], np.vstack([train, test])[:, :187].astype(np.float32))
    assert dataset.classes == ["N", "S", "V", "F", "Q"] and (np.asarray(dataset.labels)[:, 0] == 1).all()
    splits = dataset.meta["split"].value_counts().to_dict()
    assert splits == {"train": 9, "val": 1, "test": 10}
    assert set(dataset.meta.loc[dataset.meta["file"] == "mitbih_test.csv", "split"]) == {"test"}
    assert dataset.meta["patient_id"].is_unique and dataset.meta["patient_id"].iloc[0] == "mitbih_train.csv:1"
    assert dataset.manifest["protocol"] == "intra-patient (no patient ids in the Kaggle CSVs)"
    assert dataset.manifest["beats"]["method"] == "kachuee"


def test_mitbih_csv_labels_and_seeded_stratified_val(tmp_path):
    labels = np.repeat([0, 1, 2, 3, 4], 20)
    beats = _write_csv(tmp_path / "mitbih_train.csv", labels)
    _write_csv(tmp_path / "mitbih_test.csv", np.array([0, 4]))
    first = prepare("mitbih-csv", tmp_path / "a", tmp_path, seed=1, progress=False)
    again = prepare("mitbih-csv", tmp_path / "b", tmp_path, seed=1, progress=False)
    assert (first.meta["split"] == again.meta["split"]).all()
    np.testing.assert_array_equal(np.asarray(first.labels)[:100].argmax(axis=1), labels)
    np.testing.assert_allclose(first.signals[:100, 0], beats.astype(np.float32))
    counts = first.manifest["split_counts"]
    assert counts["val"]["classes"] == {c: 2 for c in "NSVFQ"}
    assert counts["train"]["classes"] == {c: 18 for c in "NSVFQ"}


@pytest.mark.parametrize("damage, message", [
    (lambda lines: lines.__setitem__(2, lines[2].rsplit(",", 2)[0] + "," + lines[2].rsplit(",", 1)[1]),
     r"mitbih_train.csv: row 3 has 187 values, expected 188 numbers"),
    (lambda lines: lines.__setitem__(4, lines[4].rsplit(",", 1)[0] + ",7"),
     r"mitbih_train.csv row 5: label 7, expected 0-4"),
    (lambda lines: lines.__setitem__(1, "abc," + lines[1].split(",", 1)[1]),
     r"mitbih_train.csv: row 2, column 1: 'abc' is not a finite number"),
    (lambda lines: lines.__setitem__(0, lines[0] + ",0"),
     r"mitbih_train.csv: row 1 has 189 values"),
    (lambda lines: lines.clear(), r"mitbih_train.csv: the file holds no rows"),
])
def test_malformed_csv_is_explained(tmp_path, damage, message):
    _write_csv(tmp_path / "mitbih_train.csv", np.zeros(6))
    _write_csv(tmp_path / "mitbih_test.csv", np.zeros(2))
    lines = (tmp_path / "mitbih_train.csv").read_text().splitlines()
    damage(lines)
    (tmp_path / "mitbih_train.csv").write_text("".join(line + "\n" for line in lines))
    with pytest.raises(DatasetError, match=message):
        prepare("mitbih-csv", tmp_path / "out", tmp_path, progress=False)
    assert not (tmp_path / "out").exists()


def test_missing_file_is_named(tmp_path):
    _write_csv(tmp_path / "mitbih_train.csv", np.zeros(3))
    with pytest.raises(DatasetError, match="mitbih_test.csv not found"):
        prepare("mitbih-csv", tmp_path / "out", tmp_path, progress=False)


def test_ptbdb_csv_binary_classes_and_70_15_15_split(tmp_path):
    _write_csv(tmp_path / "ptbdb_normal.csv", np.zeros(20))
    _write_csv(tmp_path / "ptbdb_abnormal.csv", np.ones(20), seed=1)
    dataset = prepare("ptbdb-csv", tmp_path / "out", tmp_path, seed=0, progress=False)
    assert dataset.classes == ["normal", "abnormal"] and dataset.kind == "multiclass" and dataset.leads == ["II"]
    labels = np.asarray(dataset.labels)
    assert labels.shape == (40, 2) and labels[:20, 0].all() and labels[20:, 1].all()
    counts = dataset.manifest["split_counts"]
    assert {s: c["classes"] for s, c in counts.items()} == {
        "train": {"normal": 14, "abnormal": 14}, "val": {"normal": 3, "abnormal": 3}, "test": {"normal": 3, "abnormal": 3}}
    assert dataset.meta["patient_id"].is_unique


def test_ptbdb_csv_label_must_match_its_file(tmp_path):
    _write_csv(tmp_path / "ptbdb_normal.csv", np.zeros(4))
    _write_csv(tmp_path / "ptbdb_abnormal.csv", np.array([1, 1, 0, 1]))
    with pytest.raises(DatasetError, match=r"ptbdb_abnormal.csv row 3: label 0, expected 1 \(every row of ptbdb_abnormal.csv"):
        prepare("ptbdb-csv", tmp_path / "out", tmp_path, progress=False)
