"""PTB-XL on the shared 201-record copy: labels counted independently from the CSVs, splits,
rates, lead names, meta, the `all` task, --min-count, CRLF files and missing records."""

from __future__ import annotations

import ast
import csv
import os
from collections import Counter

import numpy as np
import pytest
import wfdb

from ecglab.datasets.ptbxl import TASKS
from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS

FOLD_SPLIT = {**{str(f): "train" for f in range(1, 9)}, "9": "val", "10": "test"}


@pytest.fixture(scope="module")
def ptbxl(shared_data):
    return shared_data / "ptbxl"


@pytest.fixture(scope="module")
def superdiagnostic(ptbxl, tmp_path_factory):
    return prepare("ptbxl", tmp_path_factory.mktemp("ptbxl") / "super", ptbxl, workers=2, progress=False)


def expected_labels(ptbxl, task):
    """ecg_id -> (split, labels) computed here from the CSVs alone, as in Strodthoff et al. 2020."""
    with open(ptbxl / "scp_statements.csv", newline="") as handle:
        statements = {row[""]: row for row in csv.DictReader(handle)}
    column = {"superdiagnostic": "diagnostic_class", "subdiagnostic": "diagnostic_subclass"}.get(task)
    flag = "diagnostic" if task.endswith("diagnostic") else task
    out = {}
    with open(ptbxl / "ptbxl_database.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            codes = ast.literal_eval(row["scp_codes"])
            if task == "all":
                labels = set(codes)
            else:
                labels = {statements[c][column] if column else c for c in codes if statements[c][flag] == "1.0"}
            labels.discard("")
            out[int(row["ecg_id"])] = (FOLD_SPLIT[row["strat_fold"]], labels)
    return out


def test_superdiagnostic_counts_per_split_match_the_csvs(ptbxl, superdiagnostic):
    expected = {k: v for k, v in expected_labels(ptbxl, "superdiagnostic").items() if v[1]}
    assert superdiagnostic.classes == ["CD", "HYP", "MI", "NORM", "STTC"]
    assert len(superdiagnostic) == len(expected) == 194
    assert superdiagnostic.manifest["source"]["records_without_label"] == 201 - 194
    for split in ("train", "val", "test"):
        counts = Counter(label for s, labels in expected.values() if s == split for label in labels)
        reported = superdiagnostic.manifest["split_counts"][split]
        assert reported["classes"] == {c: counts[c] for c in superdiagnostic.classes}
        assert reported["records"] == sum(s == split for s, _ in expected.values())
    for row, ecg_id in enumerate(superdiagnostic.meta["record_id"]):
        split, labels = expected[ecg_id]
        assert superdiagnostic.meta["split"][row] == split
        assert {c for c, v in zip(superdiagnostic.classes, superdiagnostic.labels[row]) if v} == labels


def test_signals_leads_and_meta(ptbxl, superdiagnostic):
    assert superdiagnostic.signals.shape == (194, 12, 1000) and superdiagnostic.fs == 100
    assert superdiagnostic.leads == STANDARD_12_LEADS  # the files say AVR, AVL, AVF
    record = wfdb.rdrecord(str(ptbxl / "records100/00000/00004_lr"))
    np.testing.assert_allclose(superdiagnostic.signals[0], record.p_signal.T, atol=1e-6)
    meta = superdiagnostic.meta
    for column in ("record_id", "patient_id", "split", "fold", "age", "sex", "height", "weight", "device",
                   "validated_by_human", "baseline_drift", "static_noise", "burst_noise", "electrodes_problems",
                   "extra_beats", "pacemaker"):
        assert column in meta.columns, column
    first = meta.iloc[0]
    assert (first["record_id"], first["patient_id"], first["age"], first["sex"], first["fold"]) == (4, 17014, 24.0, "M", 3)
    assert first["baseline_drift"] == " , II,III,AVF" and first["device"] == "CS-12   E"
    assert set(meta["sex"]) <= {"M", "F"}
    assert meta.groupby("patient_id")["split"].nunique().max() == 1


def test_500_hz_reads_the_high_rate_files(ptbxl, tmp_path):
    data = prepare("ptbxl", tmp_path / "hr", ptbxl, workers=1, progress=False, fs=500, records="4,5,8")
    assert data.signals.shape == (3, 12, 5000) and data.manifest["source"]["files"] == "records500"
    record = wfdb.rdrecord(str(ptbxl / "records500/00000/00005_hr"))
    np.testing.assert_allclose(data.signals[1], record.p_signal.T, atol=1e-6)


@pytest.mark.parametrize("task", ["all", "rhythm", "form", "diagnostic", "subdiagnostic"])
def test_other_tasks_match_the_csvs(ptbxl, tmp_path, task):
    data = prepare("ptbxl", tmp_path / task, ptbxl, workers=1, progress=False, task=task, records=_records_100(ptbxl))
    expected = {k: v[1] for k, v in expected_labels(ptbxl, task).items() if k in _ids_100(ptbxl) and v[1]}
    assert data.classes == sorted(set().union(*expected.values()))
    assert data.meta["record_id"].tolist() == sorted(expected)
    if task == "all":
        assert len(data.classes) <= 71


def test_min_count_keeps_frequent_classes_and_drops_records_left_empty(ptbxl, tmp_path):
    data = prepare("ptbxl", tmp_path / "min", ptbxl, workers=2, progress=False, task="subdiagnostic", min_count=10)
    counts = Counter(l for _, labels in expected_labels(ptbxl, "subdiagnostic").values() for l in labels)
    assert data.classes == sorted(c for c, k in counts.items() if k >= 10)
    assert data.labels.sum(axis=0).min() >= 10 and data.labels.sum(axis=1).min() == 1
    assert TASKS == ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")


def test_crlf_files_gaps_in_ids_and_missing_records(ptbxl, tmp_path):
    source = tmp_path / "ptbxl"
    source.mkdir()
    os.symlink(ptbxl / "records100", source / "records100")
    lines = (ptbxl / "ptbxl_database.csv").read_text().splitlines()
    missing = lines[1].replace("records100/00000/00004_lr", "records100/00000/00999_lr").replace("4,17014.0", "999,17014.0", 1)
    rows = [lines[0], lines[1], lines[5], lines[40], missing]  # ecg_ids with gaps between them
    (source / "ptbxl_database.csv").write_bytes("\r\n".join(rows).encode() + b"\r\n")
    (source / "scp_statements.csv").write_bytes((ptbxl / "scp_statements.csv").read_text().replace("\n", "\r\n").encode())
    data = prepare("ptbxl", tmp_path / "out", source, workers=1, progress=False, task="all")
    assert len(data) == 3 and 999 not in set(data.meta["record_id"])
    skipped = data.manifest["skipped"]
    assert skipped["count"] == 1 and skipped["items"][0]["item"] == "records100/00000/00999_lr"
    with pytest.raises(DatasetError, match="ptbxl_database.csv"):
        prepare("ptbxl", tmp_path / "bad", tmp_path / "out", workers=1, progress=False)
    with pytest.raises(DatasetError, match="--task"):
        prepare("ptbxl", tmp_path / "bad", source, workers=1, progress=False, task="beat")


def _ids_100(ptbxl):
    with open(ptbxl / "ptbxl_database.csv", newline="") as handle:
        return {int(row["ecg_id"]) for row in csv.DictReader(handle) if int(row["ecg_id"]) < 100}


def _records_100(ptbxl):
    return ",".join(str(i) for i in sorted(_ids_100(ptbxl)))
