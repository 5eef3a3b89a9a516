"""MIMIC-IV-ECG on a small tree in the release layout, written with wfdb.wrsamp: labels (machine
statements, a study_id,icd_codes CSV and the MIMIC-IV-ECG-ICD release's records_w_diag_icd10.csv),
signals, patient and release-fold splits, the cache, resume after an interruption, shards + merge,
and the memory bound."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecglab.datasets import mimic
from ecglab.datasets.core import streaming
from ecglab.datasets.mimic import split_icd
from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError, Interrupted
from ecglab.records import STANDARD_12_LEADS

MIMIC_LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]  # aVF before aVL, as in MIMIC
# machine statements and the classes the keyword table must find in them
STATEMENTS = [
    (["Sinus rhythm", "Normal ECG"], {"SR", "NORM"}),
    (["Atrial fibrillation with rapid ventricular response", "Abnormal ECG"], {"AF"}),
    (["Sinus tachycardia", "Otherwise normal ECG"], {"STACH"}),
    (["Sinus rhythm", "Left bundle branch block", "Abnormal ECG"], {"SR", "LBBB"}),
    (["Sinus rhythm", "Incomplete right bundle branch block", "Borderline ECG"], {"SR"}),
    (["Sinus bradycardia", "Inferior infarct - age undetermined", "Abnormal ECG"], {"SBRAD", "MI"}),
    (["Sinus rhythm with PACs", "Left ventricular hypertrophy", "ST-T changes"], {"SR", "PAC", "LVH", "STTC"}),
]
ICD = ["I48.0;I10", "I21.4", "", "I10;E11.9", "I48.91", "Z00.00", "I21.0;I48.0"]
# all_diag_all of the MIMIC-IV-ECG-ICD release: list literals, an empty list where no discharge diagnosis is linked
RELEASE_CODES = [["I10", "E785", "I480"], [], ["I214", "I2510"], ["Z0000"], ["I4891", "N179"], [], ["I210", "I480", "I10"]]
RELEASE_COLUMNS = ["file_name", "study_id", "subject_id", "ecg_time", "ed_stay_id", "ed_hadm_id", "hosp_hadm_id",
                   "ed_diag_ed", "ed_diag_hosp", "hosp_diag_hosp", "all_diag_hosp", "all_diag_all", "gender", "age",
                   "anchor_year", "anchor_age", "dod", "ecg_no_within_stay", "ecg_taken_in_ed", "ecg_taken_in_hosp",
                   "ecg_taken_in_ed_or_hosp", "fold", "strat_fold"]


def release_folds(k):
    """(fold, strat_fold) of study k: per subject (k // 2), as the release's folds are patient-grouped."""
    subject = k // 2
    return subject * 3 % 20, 19 - subject


def make_tree(root, n, fs=500, seconds=10):
    """n studies of n // 2 + 1 subjects (most with two studies) in the real directory layout."""
    records, machine, icd, release = [], [], [], []
    for k in range(n):
        subject, study = 10000000 + 7 * (k // 2), 40000000 + 13 * k
        folder = f"files/p{str(subject)[:4]}/p{subject}/s{study}"
        (root / folder).mkdir(parents=True, exist_ok=True)
        signal = np.random.default_rng(k).normal(0, 0.3, (int(fs * seconds), 12)) + np.arange(12) * 0.05
        wfdb.wrsamp(str(study), fs=fs, units=["mV"] * 12, sig_name=MIMIC_LEADS, p_signal=signal, fmt=["16"] * 12,
                    write_dir=str(root / folder))
        records.append({"subject_id": subject, "study_id": study, "file_name": str(study),
                        "ecg_time": f"2180-07-{1 + k % 28:02d} 08:44:00", "path": f"{folder}/{study}"})
        lines = STATEMENTS[k % len(STATEMENTS)][0]
        machine.append({"subject_id": subject, "study_id": study, "cart_id": 6848,
                        **{f"report_{i}": (lines[i] if i < len(lines) else None) for i in range(18)}, "rr_interval": 800})
        if k % 9 != 8:  # every ninth study has no ICD row
            icd.append({"study_id": study, "icd_codes": ICD[k % len(ICD)]})
        codes, (fold, strat_fold) = RELEASE_CODES[k % len(RELEASE_CODES)], release_folds(k)
        release.append({**dict.fromkeys(RELEASE_COLUMNS), "study_id": study, "subject_id": subject,
                        "file_name": f"mimic-iv-ecg-diagnostic-electrocardiogram-matched-subset-1.0/{folder}/{study}",
                        "ed_diag_ed": str(codes[:1]), "ed_diag_hosp": "[]", "hosp_diag_hosp": str(codes),
                        "all_diag_hosp": str(codes), "all_diag_all": str(codes), "gender": "F", "age": 60,
                        "ecg_no_within_stay": 0 if codes else -1, "ecg_taken_in_ed_or_hosp": bool(codes),
                        "fold": fold, "strat_fold": strat_fold})
    pd.DataFrame(records).to_csv(root / "record_list.csv", index=False)
    pd.DataFrame(machine).to_csv(root / "machine_measurements.csv", index=False)
    pd.DataFrame(icd).to_csv(root / "icd.csv", index=False)
    pd.DataFrame(release, columns=RELEASE_COLUMNS).to_csv(root / "records_w_diag_icd10.csv", index=False)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("mimic"), 36)


def build(tree, out, **options):
    return prepare("mimic-iv-ecg", out, tree, workers=options.pop("workers", 1), progress=False, **options)


def test_machine_statements_signals_and_patient_splits(tree, tmp_path):
    data = build(tree, tmp_path / "out", task="machine", fs=500, workers=2)
    assert data.signals.shape == (36, 12, 5000) and data.leads == STANDARD_12_LEADS
    for k in range(36):
        found = {c for c, v in zip(data.classes, data.labels[k]) if v}
        assert found == STATEMENTS[k % len(STATEMENTS)][1], (k, found)
    assert data.meta["record_id"].tolist() == [40000000 + 13 * k for k in range(36)]
    record = wfdb.rdrecord(str(tree / data.meta["path"][5]))
    expected = record.p_signal.T[[MIMIC_LEADS.index(lead) for lead in STANDARD_12_LEADS]]
    np.testing.assert_allclose(data.signals[5], expected, atol=1e-6)
    assert data.meta.groupby("patient_id")["split"].nunique().max() == 1
    assert set(data.meta["split"]) == {"train", "val", "test"}
    assert data.manifest["source"]["studies_without_labels"] == 0


def test_icd_prefixes_top_k_and_unlabelled_studies(tree, tmp_path):
    assert split_icd("I48.0; i10") == ["I480", "I10"] and split_icd("['I480', 'I10']") == ["I480", "I10"]
    data = build(tree, tmp_path / "codes", labels=str(tree / "icd.csv"), codes="I48,I21,E11")
    assert data.classes == ["I48", "I21", "E11"] and data.signals.shape == (32, 12, 1000)  # 100 Hz by default
    assert data.manifest["source"]["studies_without_labels"] == 4
    for row, study in enumerate(data.meta["record_id"]):
        codes = ICD[(study - 40000000) // 13 % len(ICD)].replace(".", "").split(";")
        expected = [int(any(code.startswith(prefix) for code in codes)) for prefix in data.classes]
        assert data.labels[row].tolist() == expected
    top = build(tree, tmp_path / "top", labels=str(tree / "icd.csv"), top_k=2)
    assert top.classes == ["I10", "I480"]  # I10 and I480 are the two most frequent exact codes
    with pytest.raises(DatasetError, match="--labels"):
        build(tree, tmp_path / "none", task="icd")


def test_release_labels_with_list_literals_and_its_folds(tree, tmp_path):
    release = str(tree / "records_w_diag_icd10.csv")
    data = build(tree, tmp_path / "release", labels=release, codes="I48,I21")
    kept = [k for k in range(36) if RELEASE_CODES[k % len(RELEASE_CODES)]]  # an empty list: no linked diagnosis
    assert data.classes == ["I48", "I21"] and data.meta["record_id"].tolist() == [40000000 + 13 * k for k in kept]
    assert data.manifest["source"]["studies_without_labels"] == 36 - len(kept) == 10
    for row, k in enumerate(kept):
        codes = RELEASE_CODES[k % len(RELEASE_CODES)]
        assert data.labels[row].tolist() == [int(any(c.startswith(p) for c in codes)) for p in ("I48", "I21")]
    fold_split = {**dict.fromkeys(range(18), "train"), 18: "val", 19: "test"}  # Strodthoff et al. 2024
    assert data.meta["fold"].tolist() == [release_folds(k)[1] for k in kept]
    assert data.meta["split"].tolist() == [fold_split[release_folds(k)[1]] for k in kept]
    assert set(data.meta["split"]) == {"train", "val", "test"} and data.manifest["warnings"] == []
    assert data.manifest["source"]["split"].startswith("strat_fold of MIMIC-IV-ECG-ICD: folds 0-17 train, 18 val, 19 test")
    paper = build(tree, tmp_path / "fold", labels=release, codes="I48,I21", split="fold")
    assert paper.meta["split"].tolist() == [fold_split[release_folds(k)[0]] for k in kept]
    top = build(tree, tmp_path / "top", labels=release, top_k=2)
    assert top.classes == ["I10", "I480"]  # each in 2 of every 7 studies, the other codes in 1
    with pytest.raises(DatasetError, match="--split fold takes the folds of the MIMIC-IV-ECG-ICD release"):
        build(tree, tmp_path / "bad", labels=str(tree / "icd.csv"), split="fold")
    pd.DataFrame({"study_id": [1], "codes": ["I10"]}).to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(DatasetError, match="records_w_diag_icd10.csv.*study_id,icd_codes; found"):
        build(tree, tmp_path / "bad", labels=str(tmp_path / "other.csv"))
    with pytest.raises(DatasetError, match="expected codes separated by ';' or a list"):
        split_icd("[__import__('os')]")  # literal_eval: data, never code


def test_the_cache_follows_the_index_tables_and_the_labels_file(tree, tmp_path):
    import shutil

    source = tmp_path / "tree"
    shutil.copytree(tree, source)
    shutil.copy(tree / "icd.csv", tmp_path / "icd.csv")
    first = build(source, tmp_path / "out", labels=str(tmp_path / "icd.csv"), codes="I48")
    assert build(source, tmp_path / "out", labels=str(tmp_path / "icd.csv"), codes="I48").reused
    # the 1.6 million waveform files of the release are not walked: rewriting one is not seen ...
    waveform = source / first.meta["path"][0]
    os.utime(waveform.with_suffix(".dat"), (1, 1))
    assert build(source, tmp_path / "out", labels=str(tmp_path / "icd.csv"), codes="I48").reused
    # ... but the labels file and the index tables are
    os.utime(tmp_path / "icd.csv", (2, 2))
    with pytest.raises(DatasetError, match="another version of the file given as --labels; pass --force"):
        build(source, tmp_path / "out", labels=str(tmp_path / "icd.csv"), codes="I48")
    rebuilt = build(source, tmp_path / "out", labels=str(tmp_path / "icd.csv"), codes="I48", force=True)
    assert not rebuilt.reused
    os.utime(source / "record_list.csv", (3, 3))
    with pytest.raises(DatasetError, match="--force"):
        build(source, tmp_path / "out", labels=str(tmp_path / "icd.csv"), codes="I48")


def test_resume_after_an_interruption_reads_only_what_is_left(tree, tmp_path, monkeypatch):
    clean = build(tree, tmp_path / "clean", task="machine", standardize="global")
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 5 * 12 * 1000 * 4)  # five records per chunk
    calls = {"n": 0, "stop_at": 13}
    original = wfdb.rdrecord

    def counting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(wfdb, "rdrecord", counting)
    with pytest.raises(Interrupted, match="the same command continues"):  # Ctrl-C, with where the partial work is
        build(tree, tmp_path / "out", task="machine", standardize="global")
    assert not (tmp_path / "out").exists() and (tmp_path / ".out.partial" / "progress.json").exists()
    calls.update(n=0, stop_at=0)
    resumed = build(tree, tmp_path / "out", task="machine", standardize="global")
    assert calls["n"] == 36 - 10  # two chunks of five were saved before the interruption
    np.testing.assert_array_equal(resumed.signals, clean.signals)
    np.testing.assert_array_equal(resumed.labels, clean.labels)
    for stat in ("mean", "std"):  # chunks of another size sum in another order: equal to rounding
        np.testing.assert_allclose(resumed.manifest["preprocessing"][stat], clean.manifest["preprocessing"][stat], rtol=1e-12)
    assert not (tmp_path / ".out.partial").exists()


def test_resume_during_global_standardisation_does_not_standardise_twice(tree, tmp_path, monkeypatch):
    clean = build(tree, tmp_path / "clean", task="machine", standardize="global")
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 8 * 12 * 1000 * 4)
    original, calls = streaming.standardize, {"n": 0}

    def interrupted(signal, spec):
        calls["n"] += 1
        out = original(signal, spec)
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(streaming, "standardize", interrupted)
    with pytest.raises(Interrupted, match="the same command continues"):  # Ctrl-C, with where the partial work is
        build(tree, tmp_path / "out", task="machine", standardize="global")
    monkeypatch.setattr(streaming, "standardize", original)
    resumed = build(tree, tmp_path / "out", task="machine", standardize="global")
    np.testing.assert_allclose(resumed.signals, clean.signals, atol=1e-6)


def test_shards_merge_into_the_unsharded_dataset(tree, tmp_path):
    whole = build(tree, tmp_path / "whole", task="machine", standardize="global", dtype="float16")
    shards = [build(tree, tmp_path / f"s{i}", task="machine", standardize="global", dtype="float16", shard=f"{i}/3")
              for i in (1, 2, 3)]
    assert [len(s) for s in shards] == [12, 12, 12] and shards[0].manifest["preprocessing"]["mean"] is None
    merged = streaming.merge_shards(tmp_path / "merged", [s.path for s in reversed(shards)], progress=False)
    np.testing.assert_array_equal(merged.signals, whole.signals)
    np.testing.assert_array_equal(merged.labels, whole.labels)
    pd.testing.assert_frame_equal(merged.meta, whole.meta)
    assert merged.manifest == whole.manifest
    again = build(tree, tmp_path / "merged", task="machine", standardize="global", dtype="float16")
    assert again.manifest == merged.manifest  # the merged directory is a cache hit for the unsharded command


def _peak_bytes(root, out):
    tracemalloc.start()
    build(root, out, task="machine", fs=100)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_grows_by_a_small_constant_not_with_the_records(tmp_path, monkeypatch):
    # chunks as small relative to the data as on the full release: four records of signal, 50 rows of CSV
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 4 * 12 * 1000 * 4)
    monkeypatch.setattr(mimic, "CSV_CHUNK", 50)
    small = make_tree(tmp_path / "small", 20, fs=100)
    large = make_tree(tmp_path / "large", 200, fs=100)
    for tree in (large, small):  # imports and caches out of the measurement: a first large build adds ~100 kB
        _peak_bytes(tree, tmp_path / f"warm_{tree.name}")
    growth = _peak_bytes(large, tmp_path / "large_out") - _peak_bytes(small, tmp_path / "small_out")
    # only the index grows (a row of record_list, labels and meta per study): measured 120-180 kB for the 180 extra
    # studies, whose signals are 8.6 MB; 1.4 MB before the fingerprint was streamed and inline reading unbatched
    assert growth < 400_000, growth
