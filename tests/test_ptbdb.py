"""PTB Diagnostic: header comments, lead names, records and beats, the MI task and the patient split."""

from __future__ import annotations

import numpy as np
import pytest

from ecglab.datasets.ptbdb import clinical_info
from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError
from ecglab.records.wfdb_reader import read_wfdb_header

PTB_LEADS = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]
STANDARD = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def test_shared_record_header_gives_diagnosis_age_sex_and_standard_leads(shared_data):
    header = read_wfdb_header(shared_data / "ptbdb" / "patient001" / "s0010_re")
    assert header["leads"] == STANDARD + ["vx", "vy", "vz"] and header["fs"] == 1000.0
    assert clinical_info(header["comments"]) == {"age": 81.0, "sex": "F", "diagnosis": "Myocardial infarction"}


def test_clinical_info_reads_missing_values_as_none():
    info = clinical_info(["age: n/a", "sex: male", "Diagnose:", "Reason for admission: n/a"])
    assert info == {"age": None, "sex": "M", "diagnosis": None}


def test_shared_record_as_a_12_lead_10_s_record(shared_data, tmp_path):
    dataset = prepare("ptbdb", tmp_path / "out", shared_data / "ptbdb", progress=False)
    assert dataset.signals.shape == (1, 12, 1000) and dataset.fs == 100.0 and dataset.leads == STANDARD
    assert dataset.classes == ["Healthy control", "Myocardial infarction"]
    assert np.asarray(dataset.labels).tolist() == [[0, 1]]
    row = dataset.meta.iloc[0]
    assert (row["record_id"], row["patient_id"], row["age"], row["sex"]) == ("patient001/s0010_re", "patient001", 81.0, "F")
    # the leads are where their names say: Einthoven's III = II - I and Goldberger's aVR = -(I + II) / 2
    x = np.asarray(dataset.signals[0], dtype=np.float64)
    lead = dict(zip(STANDARD, x))
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=0.01)
    np.testing.assert_allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2, atol=0.01)


def test_shared_record_as_kachuee_beats_on_lead_ii(shared_data, tmp_path):
    dataset = prepare("ptbdb", tmp_path / "out", shared_data / "ptbdb", beats="kachuee", progress=False)
    beats = np.asarray(dataset.signals)
    assert beats.shape[1:] == (1, 187) and dataset.fs == 125.0 and dataset.leads == ["II"]
    # 38.4 s at a heart rate near 82 /min: about 52 beats, every one labelled MI, values in [0, 1]
    assert 45 <= len(beats) <= 55 and beats.min() >= 0.0 and beats.max() <= 1.0
    assert (np.asarray(dataset.labels)[:, 1] == 1).all()
    assert 0.6 < dataset.meta["rr_mean"].iloc[0] < 0.9 and dataset.meta["sample"].is_monotonic_increasing
    assert dataset.manifest["input"] == "beat" and dataset.manifest["beats"]["method"] == "kachuee"


FAKE = {  # patient folder -> (reason for admission, records)
    "patient101": ("Myocardial infarction", 2), "patient102": ("Myocardial infarction", 1),
    "patient103": ("Myocardial infarction", 1), "patient104": ("Healthy control", 1),
    "patient105": ("Healthy control", 1), "patient106": ("Healthy control", 1),
    "patient107": ("Bundle branch block", 1), "patient108": ("n/a", 1),
}


@pytest.fixture(scope="module")
def fake_ptb(tmp_path_factory):
    """A PTB-like tree written with wfdb.wrsamp: 12 lower-case leads at 1000 Hz, 12 s, header comments."""
    import wfdb

    root = tmp_path_factory.mktemp("ptbdb")
    rng = np.random.default_rng(0)
    listed = []
    for number, (patient, (reason, n_records)) in enumerate(FAKE.items()):
        (root / patient).mkdir()
        for k in range(n_records):
            name = f"s{number:03d}{k}_re"
            wfdb.wrsamp(name, fs=1000, units=["mV"] * 12, sig_name=PTB_LEADS, p_signal=rng.normal(0, 0.3, (12000, 12)),
                        fmt=["16"] * 12, comments=[f"age: {40 + number}", "sex: male", "Diagnose:",
                                                   f"Reason for admission: {reason}"], write_dir=str(root / patient))
            listed.append(f"{patient}/{name}")
    (root / "RECORDS").write_text("\n".join(listed) + "\n")
    return root


def test_mi_task_keeps_mi_and_healthy_controls_and_splits_by_patient(fake_ptb, tmp_path):
    dataset = prepare("ptbdb", tmp_path / "out", fake_ptb, task="mi", fs=50, seed=2, progress=False)
    meta = dataset.meta
    assert len(meta) == 7 and dataset.signals.shape == (7, 12, 500)
    assert dataset.manifest["dropped_records"] == {"Bundle branch block": 1, "none given": 1}
    labels = np.asarray(dataset.labels)
    assert labels[meta["diagnosis"].to_numpy() == "Healthy control", 0].all() and labels.sum() == 7
    assert (meta.groupby("patient_id")["split"].nunique() == 1).all()
    assert sorted(meta["split"].unique()) == ["test", "train", "val"]
    assert meta.loc[meta["patient_id"] == "patient101", "record_id"].nunique() == 2
    assert dataset.manifest["protocol"].startswith("patient-held-out")


def test_all_task_uses_every_reason_and_min_count_drops_rare_ones(fake_ptb, tmp_path):
    every = prepare("ptbdb", tmp_path / "all", fake_ptb, task="all", lead="II,V1", progress=False)
    assert every.classes == ["Bundle branch block", "Healthy control", "Myocardial infarction"]
    assert every.leads == ["II", "V1"] and every.manifest["dropped_records"] == {"none given": 1}
    common = prepare("ptbdb", tmp_path / "common", fake_ptb, task="all", min_count=2, progress=False)
    assert common.classes == ["Healthy control", "Myocardial infarction"]
    assert common.manifest["dropped_records"] == {"Bundle branch block": 1, "none given": 1}


def test_options_are_checked(fake_ptb, tmp_path):
    with pytest.raises(DatasetError, match="--task must be one of mi, all"):
        prepare("ptbdb", tmp_path / "a", fake_ptb, task="binary", progress=False)
    with pytest.raises(DatasetError, match="--fs and --standardize apply to --beats record only"):
        prepare("ptbdb", tmp_path / "b", fake_ptb, beats="kachuee", fs=125, progress=False)
    with pytest.raises(DatasetError, match="--min-count applies to --task all"):
        prepare("ptbdb", tmp_path / "c", fake_ptb, min_count=2, progress=False)
