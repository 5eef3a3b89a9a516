"""The built-in synthetic ECG generator: determinism, shapes, label statistics, measurable
morphology, patient splits, the beat task's alignment with extract_beats, and the CLI."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage

from ecglab.cli import main
from ecglab.datasets.core.prepared import PreparedDataset, check_patient_splits
from ecglab.datasets.synthetic import (BEAT_CLASSES, RECORD_CLASSES, beat_dataset, generate_beat_recordings,
                                       generate_records)
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS, Record
from ecglab.inputs.beats import BeatSpec, extract_beats

LEAD = {name: i for i, name in enumerate(STANDARD_12_LEADS)}
INFERIOR = [LEAD[x] for x in ("II", "III", "aVF")]
ANTERIOR = [LEAD[x] for x in ("V1", "V2", "V3", "V4")]
LATERAL = [LEAD[x] for x in ("I", "II", "V5", "V6")]
FS = 250
ST_AFTER_J = 0.04  # s; later, at fast rates, the T upstroke begins


@pytest.fixture(scope="module")
def calibration_set():
    """2,000 noisy records at 100 Hz, as the demo uses them, and how long they took."""
    start = time.perf_counter()
    signals, labels, meta = generate_records(2000, fs=100, seed=0)
    return signals, labels, meta, time.perf_counter() - start


@pytest.fixture(scope="module")
def clean_set():
    """Noise-free records at 250 Hz, for measuring morphology."""
    return generate_records(500, fs=FS, seed=3, noise=False)


@pytest.fixture(scope="module")
def beat_recordings():
    return generate_beat_recordings(40, seed=0)


def single_label(labels, name):
    return np.flatnonzero((labels[:, RECORD_CLASSES.index(name)] == 1) & (labels.sum(axis=1) == 1))


def measure(signal, fs=FS):
    """QRS width (ms, median over beats) and per-lead ST deviation at J+40 ms from the PR segment.

    QRS = the stretch where the spatial velocity (norm over leads of the derivative) exceeds 15 %
    of its maximum, with gaps under 30 ms (the R apex) closed.
    """
    velocity = np.sqrt((np.diff(signal, axis=1) ** 2).sum(axis=0))
    fast = ndimage.binary_closing(velocity > 0.15 * velocity.max(), np.ones(int(0.03 * fs)))
    runs = [s[0] for s in ndimage.find_objects(ndimage.label(fast)[0])]
    runs = [r for r in runs if r.start > 0.3 * fs and r.stop < signal.shape[1] - 0.5 * fs]
    width = 1000 * np.median([r.stop - r.start for r in runs]) / fs
    st = np.mean([signal[:, r.stop + int(ST_AFTER_J * fs)] - signal[:, r.start - int(0.02 * fs)] for r in runs], axis=0)
    return width, st


# ---------------------------------------------------------------- record task


def test_same_seed_same_records_other_seed_other_records():
    a = generate_records(12, fs=100, seed=5)
    b = generate_records(12, fs=100, seed=5)
    c = generate_records(12, fs=100, seed=6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].equals(b[2])
    assert not np.allclose(a[0], c[0])


@pytest.mark.parametrize("fs", [100, 250, 360, 500])
def test_shapes_and_dtypes_at_any_rate(fs):
    signals, labels, meta = generate_records(7, fs=fs, seed=1)
    assert signals.shape == (7, 12, int(10 * fs)) and signals.dtype == np.float32
    assert labels.shape == (7, 5) and labels.dtype == np.uint8
    assert list(meta.columns) == ["record_id", "patient_id", "split", "age", "sex"]
    assert np.isfinite(signals).all() and 0.3 < np.abs(signals).max() < 10  # millivolts
    assert meta["record_id"].is_unique and set(meta["sex"]) <= {"M", "F"}


def test_invalid_arguments_are_explained():
    with pytest.raises(DatasetError, match="fs >= 50"):
        generate_records(5, fs=20)
    with pytest.raises(DatasetError, match="n >= 1"):
        generate_beat_recordings(0)


def test_prevalences_and_co_occurrence_are_ptbxl_like(calibration_set):
    _, labels, _, _ = calibration_set
    prevalence = dict(zip(RECORD_CLASSES, labels.mean(axis=0)))
    bounds = {"NORM": (0.37, 0.52), "MI": (0.19, 0.32), "STTC": (0.19, 0.32), "CD": (0.16, 0.29), "HYP": (0.07, 0.17)}
    for name, (low, high) in bounds.items():
        assert low < prevalence[name] < high, (name, prevalence[name])
    norm, mi, sttc, _, hyp = labels.T.astype(bool)
    assert not (norm & labels[:, 1:].any(axis=1)).any()  # NORM is exclusive
    assert labels.sum(axis=1).min() == 1
    assert (mi & sttc).mean() > 0.05 and sttc[hyp].mean() > sttc.mean() + 0.1


def test_generation_is_fast(calibration_set):
    *_, seconds = calibration_set
    assert seconds < 15, f"2,000 records took {seconds:.1f} s"


def test_conduction_disturbance_widens_qrs(clean_set):
    signals, labels, _ = clean_set
    normal = np.array([measure(signals[i])[0] for i in single_label(labels, "NORM")])
    conduction = np.array([measure(signals[i])[0] for i in single_label(labels, "CD")])
    assert (normal < 100).all()
    # Bundle-branch blocks are wide; first-degree AV blocks keep a narrow QRS.
    assert 0.45 < (conduction > 110).mean() < 0.85
    assert np.median(conduction) > np.median(normal) + 30


def test_mi_st_elevation_is_confined_to_one_territory(clean_set):
    signals, labels, _ = clean_set
    normal_st = np.array([measure(signals[i])[1] for i in single_label(labels, "NORM")])
    assert np.percentile(normal_st, 95) < 0.1  # some normal variants have a little ST elevation, as in life
    gaps, confined = [], []
    for i in single_label(labels, "MI"):
        st = measure(signals[i])[1]
        if st.max() < 0.1:
            continue  # an old infarct: Q waves and T inversion, no ST elevation
        territory = INFERIOR if st[INFERIOR].mean() > st[ANTERIOR].mean() else ANTERIOR
        rest = np.delete(st, territory).mean()
        gaps.append(st[territory].mean() - rest)
        confined.append(st[territory].mean() > 2 * max(rest, 0.0))
    assert len(gaps) >= 10
    assert np.mean(gaps) > 0.1 and np.mean(confined) > 0.8


def test_sttc_depresses_st_in_lateral_leads(clean_set):
    signals, labels, _ = clean_set
    normal = np.array([measure(signals[i])[1][LATERAL].mean() for i in single_label(labels, "NORM")])
    sttc = np.array([measure(signals[i])[1][LATERAL].mean() for i in single_label(labels, "STTC")])
    assert sttc.mean() < normal.mean() - 0.02  # mild cases overlap normal variation, as in real data


def test_hypertrophy_raises_precordial_voltage(clean_set):
    signals, labels, _ = clean_set

    def sokolow_lyon(x):  # S in V1 plus the taller R of V5 and V6, in mV
        return -x[LEAD["V1"]].min() + max(x[LEAD["V5"]].max(), x[LEAD["V6"]].max())

    normal = np.array([sokolow_lyon(signals[i]) for i in single_label(labels, "NORM")])
    hypertrophy = np.array([sokolow_lyon(signals[i]) for i in single_label(labels, "HYP")])
    assert hypertrophy.mean() > 1.3 * normal.mean()
    # a good share of hypertrophies lies above 90 % of normals, but not all: mild cases overlap, as in life
    assert (hypertrophy > np.percentile(normal, 90)).mean() > 0.25


def test_splits_are_by_patient_with_several_records_each(calibration_set):
    _, labels, meta, _ = calibration_set
    check_patient_splits(meta)
    per_patient = meta.groupby("patient_id").size()
    assert per_patient.max() == 5 and per_patient.mean() > 1.5
    share = meta.groupby("patient_id")["split"].first().value_counts(normalize=True)
    assert abs(share["train"] - 0.70) < 0.05 and abs(share["val"] - 0.15) < 0.05 and abs(share["test"] - 0.15) < 0.05
    # A patient's records share the diagnosis, and disease comes with age, as in PTB-XL.
    assert (meta.assign(label=labels.argmax(axis=1)).groupby("patient_id")["label"].nunique() == 1).all()
    assert meta["age"][labels[:, 0] == 0].mean() > meta["age"][labels[:, 0] == 1].mean() + 5


# ---------------------------------------------------------------- beat task


def test_beat_recordings_are_annotated_records(beat_recordings):
    assert len(beat_recordings) == 40
    again = generate_beat_recordings(3, seed=0, duration=30)
    np.testing.assert_array_equal(again[1].signal, generate_beat_recordings(3, seed=0, duration=30)[1].signal)
    for record in beat_recordings:
        assert isinstance(record, Record) and record.leads == ["MLII"] and record.fs == 360
        assert record.signal.shape == (1, 240 * 360) and record.signal.dtype == np.float32
        samples = record.annotations.samples
        assert (np.diff(samples) > 0).all() and samples[0] >= 0 and samples[-1] < record.n_samples
        assert set(record.annotations.symbols) <= {"N", "A", "V", "F", "/"}
        assert ("/" in record.annotations.symbols) == record.meta["paced"]


def test_beat_rhythm_is_premature_where_it_should_be(beat_recordings):
    _, labels, meta = beat_dataset(beat_recordings)
    prematurity = (meta["rr_prev"] / meta["rr_local"]).to_numpy()
    pause = (meta["rr_next"] / meta["rr_local"]).to_numpy()
    cls = labels.argmax(axis=1)
    n, s, v = (BEAT_CLASSES.index(c) for c in "NSV")
    assert prematurity[cls == s].mean() < 0.8 and prematurity[cls == v].mean() < 0.8
    assert 0.95 < prematurity[cls == n].mean() < 1.1
    assert pause[cls == v].mean() > 1.25  # compensatory pause


def test_beat_dataset_aligns_labels_with_extract_beats(beat_recordings):
    beats, labels, meta = beat_dataset(beat_recordings)
    assert beats.shape[1:] == (1, 187) and labels.shape == (len(beats), 5) and (labels.sum(axis=1) == 1).all()
    assert {"record_id", "patient_id", "split", "sample", "symbol", "aami", "rr_prev", "rr_next", "rr_local",
            "rr_mean"} <= set(meta.columns)
    record = beat_recordings[3]
    cut = extract_beats(record.signal, record.fs, record.annotations.samples, BeatSpec())
    rows = meta["record_id"] == record.meta["record_id"]
    np.testing.assert_array_equal(beats[rows], cut.beats)
    np.testing.assert_array_equal(meta.loc[rows, "sample"], record.annotations.samples[cut.kept])
    symbols = np.array(record.annotations.symbols)[cut.kept]
    to_symbol = np.array(["N", "A", "V", "F", "/"])
    np.testing.assert_array_equal(to_symbol[labels[rows].argmax(axis=1)], symbols)
    assert (meta.loc[rows, "symbol"] == symbols).all()


def test_every_beat_class_in_every_split_with_mitbih_like_imbalance(beat_recordings):
    _, labels, meta = beat_dataset(beat_recordings)
    check_patient_splits(meta)
    for split in ("train", "val", "test"):
        counts = labels[(meta["split"] == split).to_numpy()].sum(axis=0)
        assert (counts > 0).all(), (split, counts)
    share = labels.mean(axis=0)
    assert share[0] > 0.7 and share[3] == share.min() and share[3] < 0.03


# ---------------------------------------------------------------- CLI


def test_prepare_synthetic_records_and_cache_hit(tmp_path):
    out = tmp_path / "synth"
    argv = ["prepare", "synthetic", "--out", str(out), "--n", "40", "--fs", "100", "--seed", "2"]
    assert main(argv) == 0
    dataset = PreparedDataset(out)
    assert dataset.kind == "multilabel" and dataset.classes == RECORD_CLASSES and dataset.leads == STANDARD_12_LEADS
    assert dataset.signals.shape == (40, 12, 1000) and dataset.fs == 100 and dataset.manifest["input"] == "record"
    np.testing.assert_array_equal(dataset.signals, generate_records(40, fs=100, seed=2)[0])
    written = (out / "signals.npy").stat()
    assert main(argv) == 0  # same arguments: the existing dataset is kept
    again = (out / "signals.npy").stat()
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert main(argv[:-1] + ["3"]) == 2  # other arguments without --force: refused


def test_prepare_synthetic_beats(tmp_path, capsys):
    out = tmp_path / "beats"
    assert main(["prepare", "synthetic", "--out", str(out), "--task", "beat", "--n", "6"]) == 0
    dataset = PreparedDataset(out)
    assert dataset.kind == "multiclass" and dataset.classes == BEAT_CLASSES and dataset.leads == ["MLII"]
    assert dataset.fs == 125 and dataset.length == 187 and dataset.manifest["input"] == "beat"
    assert dataset.manifest["beats"]["method"] == "kachuee" and dataset.manifest["preprocessing"]["fs"] == 125
    assert (np.asarray(dataset.labels).sum(axis=1) == 1).all()
    assert main(["prepare", "synthetic", "--out", str(tmp_path / "x"), "--task", "rhythm"]) == 2
    assert "record" in capsys.readouterr().err
