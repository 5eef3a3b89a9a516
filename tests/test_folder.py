"""A folder of WFDB, EDF, CSV and .npy files with a labels.csv: every format read, rates and
lengths made uniform, labels multi-hot, splits by patient, broken files named and skipped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import wfdb
from pyedflib import highlevel

from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS, read_record
from ecglab.signal.resample import resample

FS = 100


def signal_of(seed, fs, seconds):
    return np.random.default_rng(seed).normal(0, 0.4, (12, int(fs * seconds))).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    wfdb.wrsamp("wf", fs=FS, units=["mV"] * 12, sig_name=STANDARD_12_LEADS, p_signal=signal_of(0, FS, 10).T,
                fmt=["16"] * 12, write_dir=str(root))
    headers = highlevel.make_signal_headers([f"ECG {lead}" for lead in STANDARD_12_LEADS], dimension="uV",
                                            sample_frequency=250, physical_min=-5000, physical_max=5000)
    highlevel.write_edf(str(root / "ed.edf"), signal_of(1, 250, 12) * 1000, headers)  # µV, 250 Hz, 12 s
    table = pd.DataFrame(signal_of(2, 200, 4).T, columns=STANDARD_12_LEADS)  # 4 s at 200 Hz, with a time column
    table.insert(0, "time", np.arange(len(table)) / 200)
    table.to_csv(root / "ta.csv", index=False)
    np.save(root / "np.npy", signal_of(3, FS, 10))
    pd.DataFrame(signal_of(4, FS, 10).T, columns=STANDARD_12_LEADS).to_csv(root / "nt.csv", index=False)  # no time column
    (root / "broken.edf").write_bytes(b"0       " + b"garbage" * 20)
    pd.DataFrame([
        {"record": "wf", "labels": "AF;LBBB", "patient_id": "p1", "age": 61, "sex": "F", "fs": None},
        {"record": "ed.edf", "labels": "AF", "patient_id": "p2", "age": 70, "sex": "M", "fs": None},
        {"record": "ta", "labels": "", "patient_id": "p1", "age": 61, "sex": "F", "fs": None},
        {"record": "np", "labels": "NORM", "patient_id": None, "age": None, "sex": None, "fs": FS},
        {"record": "nt", "labels": "NORM;AF", "patient_id": "p3", "age": 50, "sex": "M", "fs": None},
        {"record": "broken", "labels": "AF", "patient_id": "p4", "age": 40, "sex": "F", "fs": None},
        {"record": "gone", "labels": "AF", "patient_id": "p5", "age": 40, "sex": "F", "fs": None},
    ]).to_csv(root / "labels.csv", index=False)
    return root


@pytest.fixture(scope="module")
def prepared(folder, tmp_path_factory):
    return prepare("folder", tmp_path_factory.mktemp("out") / "d", folder, workers=1, progress=False, fs=FS, seed=2)


def test_every_format_is_read_resampled_and_cut_or_padded(folder, prepared):
    assert prepared.signals.shape == (5, 12, 1000) and prepared.leads == STANDARD_12_LEADS
    rows = {r: i for i, r in enumerate(prepared.meta["record_id"])}
    assert list(rows) == ["wf", "ed.edf", "ta", "np", "nt"]
    np.testing.assert_allclose(prepared.signals[rows["wf"]], wfdb.rdrecord(str(folder / "wf")).p_signal.T, atol=1e-6)
    edf = read_record(folder / "ed.edf")
    assert edf.fs == 250 and edf.leads == STANDARD_12_LEADS
    np.testing.assert_allclose(edf.signal, signal_of(1, 250, 12), atol=2e-3)  # µV → mV, EDF's 16-bit resolution
    np.testing.assert_allclose(prepared.signals[rows["ed.edf"]], resample(edf.signal, 250, FS)[:, :1000], atol=1e-5)
    csv_at_100 = resample(signal_of(2, 200, 4), 200, FS)  # the time column says 200 Hz; 4 s then zeros
    np.testing.assert_allclose(prepared.signals[rows["ta"], :, :400], csv_at_100, atol=1e-5)
    assert not prepared.signals[rows["ta"], :, 400:].any()
    np.testing.assert_allclose(prepared.signals[rows["np"]], signal_of(3, FS, 10), atol=1e-6)
    np.testing.assert_allclose(prepared.signals[rows["nt"]], signal_of(4, FS, 10), atol=1e-6)  # no rate: --fs


def test_labels_meta_and_splits(prepared):
    assert prepared.classes == ["AF", "LBBB", "NORM"]
    assert prepared.labels.tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1], [1, 0, 1]]
    meta = prepared.meta
    assert meta["patient_id"].tolist() == ["p1", "p2", "p1", "np", "p3"]  # no patient id: the record is the patient
    assert meta["age"].tolist()[:2] == [61, 70] and meta["sex"].tolist()[:2] == ["F", "M"]
    assert meta.groupby("patient_id")["split"].nunique().max() == 1
    assert set(meta["split"]) <= {"train", "val", "test"}


def test_broken_and_missing_files_are_named_and_skipped(prepared):
    skipped = prepared.manifest["skipped"]
    assert skipped["count"] == 2
    assert [item["item"] for item in skipped["items"]] == ["broken", "gone"]
    assert "no such file" in skipped["items"][1]["reason"]


def test_given_splits_lead_subset_and_min_count(folder, tmp_path):
    labels = pd.read_csv(folder / "labels.csv").iloc[:5]
    labels["split"] = ["train", "test", "train", "val", "train"]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    data = prepare("folder", tmp_path / "out", folder, workers=1, progress=False, fs=FS, labels=str(tmp_path / "labels.csv"),
                   lead="ii,V1", min_count=2)
    assert data.meta["split"].tolist() == ["train", "test", "train", "val", "train"]
    assert data.leads == ["II", "V1"] and data.signals.shape == (5, 2, 1000)
    assert data.classes == ["AF", "NORM"]  # LBBB occurs once
    np.testing.assert_allclose(data.signals[3], signal_of(3, FS, 10)[[1, 6]], atol=1e-6)
    labels["split"] = ["train", "dev", "train", "val", "train"]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetError, match="dev"):
        prepare("folder", tmp_path / "bad", folder, workers=1, progress=False, labels=str(tmp_path / "labels.csv"))
    with pytest.raises(DatasetError, match="labels file"):
        prepare("folder", tmp_path / "bad", tmp_path / "out", workers=1, progress=False)


def test_strict_makes_a_broken_file_fatal(folder, tmp_path):
    with pytest.raises(DatasetError, match="broken"):
        prepare("folder", tmp_path / "out", folder, workers=1, progress=False, fs=FS, strict=True)


def test_strict_failure_keeps_the_partial_directory_for_resuming_and_says_so(folder, tmp_path):
    with pytest.raises(DatasetError, match=r"broken.*stay in .*\.out\.partial.*the same command continues"):
        prepare("folder", tmp_path / "out", folder, workers=1, progress=False, fs=FS, strict=True)
    assert (tmp_path / ".out.partial" / "signals.npy").is_file() and not (tmp_path / "out").exists()
    resumed = prepare("folder", tmp_path / "out", folder, workers=1, progress=False, fs=FS)  # without --strict
    assert len(resumed) == 5 and resumed.manifest["skipped"]["count"] == 2
    assert not (tmp_path / ".out.partial").exists()


def test_a_patient_in_two_given_splits_is_refused_before_reading_and_leaves_nothing(folder, tmp_path):
    table = pd.read_csv(folder / "labels.csv")
    table["split"] = ["train", "val", "test", "train", "train", "train", "train"]  # p1 (wf, ta) in train and test
    table.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DatasetError, match=r"p1 in \['test', 'train'\]"):
        prepare("folder", tmp_path / "out", folder, workers=1, progress=False, fs=FS, labels=str(tmp_path / "labels.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]


def test_no_readable_record_is_refused_and_leaves_no_partial_directory(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    for name in ("a", "b"):
        (root / f"{name}.edf").write_bytes(b"0       " + b"garbage" * 20)
    pd.DataFrame({"record": ["a", "b"], "labels": "AF"}).to_csv(root / "labels.csv", index=False)
    with pytest.raises(DatasetError, match="none of the 2 records could be read"):
        prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS, lead="I")  # --lead: straight to reading
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def _wfdb(root, name, leads, seed):
    wfdb.wrsamp(name, fs=FS, units=["mV"] * len(leads), sig_name=leads, fmt=["16"] * len(leads), write_dir=str(root),
                p_signal=np.random.default_rng(seed).normal(0, 0.4, (10 * FS, len(leads))))


def _lead_folder(root, lead_sets):
    root.mkdir()
    for i, leads in enumerate(lead_sets):
        _wfdb(root, f"r{i}", leads, i)
    names = [f"r{i}" for i in range(len(lead_sets))]
    pd.DataFrame({"record": names, "labels": "AF"}).to_csv(root / "labels.csv", index=False)
    return root


def test_leads_are_the_standard_twelve_when_every_record_has_them(tmp_path):
    # the first record has 15 leads, as PTB's s0010_re (12 standard + Frank vx, vy, vz)
    root = _lead_folder(tmp_path / "src", [["i", "ii", "iii", "avr", "avl", "avf", *[f"v{k}" for k in range(1, 7)],
                                            "vx", "vy", "vz"], STANDARD_12_LEADS, STANDARD_12_LEADS[::-1]])
    data = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert data.leads == STANDARD_12_LEADS and len(data) == 3 and data.manifest["skipped"]["count"] == 0
    assert data.manifest["source"]["leads"] == "the 12 standard leads, which all 3 readable records have"
    assert data.manifest["warnings"] == []
    reversed_record = wfdb.rdrecord(str(root / "r2")).p_signal.T[::-1]  # stored V6 … I, kept in standard order
    np.testing.assert_allclose(data.signals[2], reversed_record, atol=1e-6)


def test_otherwise_the_leads_every_record_shares_reported_and_lead_honoured(tmp_path):
    root = _lead_folder(tmp_path / "src", [["V1", "II", "vx"], STANDARD_12_LEADS, ["II", "V1", "V2"]])
    data = prepare("folder", tmp_path / "out", root, workers=1, progress=False, fs=FS)
    assert data.leads == ["II", "V1"] and len(data) == 3
    assert data.manifest["source"]["leads"] == "the 2 leads all 3 readable records share"
    assert data.manifest["warnings"] == [
        "only II, V1 kept: no other lead is in every record (r0 has V1, II, vx; r2 has II, V1, V2; r1 has I, II, III, "
        "aVR, aVL, aVF, V1, V2, V3, V4, V5, V6). Choose leads with --lead to keep more; records without them are then "
        "skipped and named."]
    chosen = prepare("folder", tmp_path / "chosen", root, workers=1, progress=False, fs=FS, lead="V2,II")
    assert chosen.leads == ["V2", "II"] and chosen.meta["record_id"].tolist() == ["r1", "r2"]
    (skipped,) = chosen.manifest["skipped"]["items"]
    assert skipped["item"] == "r0" and "no lead V2" in skipped["reason"]
    apart = _lead_folder(tmp_path / "apart", [["I"], ["II"]])
    with pytest.raises(DatasetError, match="share no lead.*--lead"):
        prepare("folder", tmp_path / "none", apart, workers=1, progress=False, fs=FS)
    pd.DataFrame({"record": ["x", "y"], "labels": "AF"}).to_csv(apart / "labels.csv", index=False)
    with pytest.raises(DatasetError, match=r"none of the 2 records could be read to learn their leads \(x: .*no such file"):
        prepare("folder", tmp_path / "unread", apart, workers=1, progress=False, fs=FS)
