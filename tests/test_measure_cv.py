"""The delineation CV on six real LUDB records with a few training steps: whole patients per fold, every
record scored once, and pooled counts that are the sums of the folds' counts."""

from __future__ import annotations

import json
import shutil

import pytest

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.measure.cv import (
    cross_validate_delineator,
    fold_of_rows,
    fold_split,
    train_fold,
)
from ecglab.measure.scoring import BOUNDARIES

RECORDS = ["data/1", "data/2", "data/3", "data/4", "data/6", "data/7"]
TINY = {"steps": 2, "batch": 4, "width": 4, "depth": 2, "eval_every": 1}


@pytest.fixture(scope="module")
def cv(shared_data, tmp_path_factory):
    # a copy of the few records used (the prepare cache fingerprints the whole source folder)
    source = tmp_path_factory.mktemp("ludb_source")
    (source / "data").mkdir()
    shutil.copy(shared_data / "ludb" / "ludb.csv", source)
    for name in RECORDS:
        for path in (shared_data / "ludb").glob(name + ".*"):
            shutil.copy(path, source / "data")
    out = tmp_path_factory.mktemp("cv")
    report = cross_validate_delineator(source, out, folds=3, seed=0, records=",".join(RECORDS), log=lambda _: None,
                                       **TINY)
    return out, report


def test_each_record_is_scored_once_by_a_fold_that_held_its_patient_out(cv):
    out, report = cv
    scored = [name for fold in report["per_fold"] for name in fold["record_ids"]]
    assert sorted(scored) == sorted(RECORDS) and report["records"] == 6
    assert [fold["records"] for fold in report["per_fold"]] == [2, 2, 2]
    assert len(set(scored)) == len(scored)
    dataset = PreparedDataset(out / "data")
    patients = dataset.meta["patient_id"].to_numpy()
    fold_of_row = fold_of_rows(dataset.meta, 3, 0)
    for fold in range(3):  # the fold's model trained and picked its step on the other folds' patients only
        train, val = fold_split(dataset, fold_of_row, fold, 0)
        held_out = set(patients[fold_of_row == fold])
        assert len(train) + len(val) == 4 and len(val) >= 1 and not held_out & set(patients[[*train, *val]])
        assert sorted(dataset.meta["record_id"].to_numpy()[fold_of_row == fold]) == \
            sorted(report["per_fold"][fold]["record_ids"])
    assert [(out / f"fold-{k}" / "bundle.json").is_file() for k in range(3)] == [True] * 3
    assert json.loads((out / "cv.json").read_text())["per_fold"][1]["record_ids"] == report["per_fold"][1]["record_ids"]
    assert "3-fold patient-level cross-validation" in (out / "cv.md").read_text()


def test_pooled_counts_are_the_sums_of_the_folds(cv):
    _, report = cv
    folds = report["per_fold"]
    for method in ("ecglab", "neurokit2-dwt"):
        for scope in ("II", "all"):
            for wave, side in BOUNDARIES:
                key = f"{wave} {side}"
                pooled = report["boundaries"][method][scope][key]
                for count in ("n_annotated", "n_detected"):
                    assert pooled[count] == sum(f["boundaries"][method][scope][key][count] for f in folds), (method, key)
    # lead II of six records: 6 × its annotated QRS complexes, the same for both methods
    assert report["boundaries"]["ecglab"]["II"]["QRS onset"]["n_annotated"] == \
        report["boundaries"]["neurokit2-dwt"]["II"]["QRS onset"]["n_annotated"] > 6
    assert report["heart_rate"]["records"] == 6 == sum(f["heart_rate"]["records"] for f in folds)
    assert report["heart_rate_in_span"]["compared"] == sum(f["heart_rate_in_span"]["compared"] for f in folds)
    assert report["qrs_axis"]["records"] == sum(f["qrs_axis"]["records"] for f in folds)


def test_a_finished_fold_is_reused_not_retrained(cv):
    out, _ = cv
    dataset = PreparedDataset(out / "data")
    before = (out / "fold-0" / "model.safetensors").stat().st_mtime_ns
    said = []
    train_fold(dataset, fold_of_rows(dataset.meta, 3, 0), 0, out / "fold-0", seed=0, log=said.append, **TINY)
    assert said == [f"fold 0: reusing the model in {out / 'fold-0'}"]
    assert (out / "fold-0" / "model.safetensors").stat().st_mtime_ns == before
