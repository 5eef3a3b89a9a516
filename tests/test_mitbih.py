"""MIT-BIH Arrhythmia beats: AAMI counts against the annotation files, beat shapes, split protocols."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError
from ecglab.inputs.beats import rr_context

# Written out here, independently of ecglab.datasets.core.aami, as the AAMI EC57 grouping of de Chazal et al. 2004.
AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F",
        **dict.fromkeys("/fQ", "Q")}
BEATS = set("NLRBAaJSVrFejnE/fQ?")


def _prepare(tmp_path_factory, name, source, **options):
    return prepare("mitbih", tmp_path_factory.mktemp("mitbih") / name, source, progress=False, workers=1, **options)


@pytest.fixture(scope="module")
def record_208(shared_data, tmp_path_factory):
    return _prepare(tmp_path_factory, "208", shared_data / "mitbih", records="208", split="patient")


def test_record_208_aami_counts_match_its_annotation_file(record_208, shared_data):
    import wfdb

    symbols = wfdb.rdann(str(shared_data / "mitbih" / "208"), "atr").symbol
    from_file = Counter(AAMI[s] for s in symbols if s in AAMI)
    # the published figures for record 208 (MIT-BIH directory), which the file confirms
    assert (from_file["N"], from_file["S"], from_file["V"], from_file["F"], from_file["Q"]) == (1586, 2, 992, 373, 2)
    counts = dict(zip(record_208.classes, np.asarray(record_208.labels).sum(axis=0).tolist()))
    assert record_208.classes == ["N", "S", "V", "F", "Q"]
    assert counts == {c: from_file[c] for c in "NSVFQ"}
    non_beat = Counter(s for s in symbols if s not in BEATS)
    assert non_beat == Counter({"+": 53, "~": 24, "|": 8})
    assert record_208.manifest["annotations"]["non_beat"] == dict(non_beat)
    assert record_208.manifest["annotations"]["not_segmented"] == {}


def test_kachuee_beats_are_zero_padded_and_scaled_to_unit_range(record_208):
    beats = np.asarray(record_208.signals)
    assert beats.shape == (len(record_208.meta), 1, 187) and beats.dtype == np.float32
    assert beats.min() >= 0.0 and beats.max() <= 1.0
    # 1.2 × the longest local R-R of record 208 is far below 187 samples at 125 Hz: every beat ends in zeros
    span = int(np.ceil(1.2 * record_208.meta["rr_local"].max() * 125))
    assert span < 187 and not beats[:, :, span + 40:].any()
    assert np.median(beats[:, 0, 0]) > 0.5  # each beat starts at its R peak, high in its [0, 1] window
    assert record_208.manifest["beats"]["method"] == "kachuee" and record_208.fs == 125.0
    assert record_208.leads == ["MLII"]


def test_beat_meta_holds_annotation_samples_and_rr_context(record_208, shared_data):
    import wfdb

    ann = wfdb.rdann(str(shared_data / "mitbih" / "208"), "atr")
    beat_samples = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in BEATS])
    meta = record_208.meta
    assert set(meta.columns) >= {"record_id", "patient_id", "split", "sample", "symbol", "aami",
                                 "rr_prev", "rr_next", "rr_local", "rr_mean"}
    assert (meta["record_id"] == "208").all() and (meta["patient_id"] == "208").all()
    position = np.searchsorted(beat_samples, meta["sample"].to_numpy())
    assert (beat_samples[position] == meta["sample"]).all()
    previous = np.diff(beat_samples, prepend=beat_samples[0] - (beat_samples[1] - beat_samples[0])) / 360.0
    np.testing.assert_allclose(meta["rr_prev"], previous[position], rtol=1e-6)
    np.testing.assert_allclose(meta["rr_mean"], np.diff(beat_samples).mean() / 360.0, rtol=1e-5)


def test_rr_context_by_hand():
    rr = rr_context(np.array([0, 360, 720, 1260]), fs=360.0, local_beats=10)
    expected = [
        # previous, next, mean of the last ten previous intervals (padded with the first), record mean
        [1.0, 1.0, 1.0, 3.5 / 3],
        [1.0, 1.0, 1.0, 3.5 / 3],
        [1.0, 1.5, 1.0, 3.5 / 3],
        [1.5, 1.5, (9 * 1.0 + 1.5) / 10, 3.5 / 3],
    ]
    np.testing.assert_allclose(rr, expected, rtol=1e-6)


def test_patient_split_keeps_each_record_in_one_split(shared_data, tmp_path_factory):
    dataset = _prepare(tmp_path_factory, "patient", shared_data / "mitbih", records="101,208,217", split="patient")
    per_record = dataset.meta.groupby("record_id")["split"].nunique()
    assert (per_record == 1).all() and len(per_record) == 3
    assert sorted(dataset.meta["split"].unique()) == ["test", "train", "val"]
    assert "patient-held-out" in dataset.manifest["protocol"]


def test_intra_split_uses_beat_ids_and_says_it_is_optimistic(shared_data, tmp_path_factory):
    dataset = _prepare(tmp_path_factory, "intra", shared_data / "mitbih", records="101,208", split="intra", seed=3)
    meta = dataset.meta
    assert meta["patient_id"].is_unique and meta["patient_id"].iloc[0].startswith(meta["record_id"].iloc[0] + ":")
    assert set(meta.groupby("record_id")["split"].nunique()) == {3}  # a record's beats in every split
    assert dataset.manifest["protocol"].startswith("intra-patient") and "optimistic" in dataset.manifest["protocol"]
    normal = meta[meta["aami"] == "N"]["split"].value_counts(normalize=True)
    assert abs(normal["train"] - 0.7) < 0.01 and abs(normal["val"] - 0.1) < 0.01 and abs(normal["test"] - 0.2) < 0.01
    assert (meta[meta["aami"] == "F"]["split"].value_counts() > 0).all()


def test_records_without_the_lead_are_skipped_with_a_reason(shared_data, tmp_path_factory):
    dataset = _prepare(tmp_path_factory, "v1", shared_data / "mitbih", records="114,101", split="patient",
                       lead="v1", beats="centred")
    assert set(dataset.meta["record_id"]) == {"101"} and dataset.leads == ["V1"]
    skipped = dataset.manifest["skipped"]
    assert skipped["count"] == 1 and skipped["items"][0]["item"] == "114" and "V1" in skipped["items"][0]["reason"]
    assert dataset.signals.shape[1:] == (1, 187)


def test_centred_beats_put_the_r_peak_a_quarter_second_in(shared_data, tmp_path):
    dataset = prepare("mitbih", tmp_path / "centred", shared_data / "mitbih", records="101", split="patient",
                      beats="centred", progress=False)
    assert dataset.manifest["beats"]["method"] == "centred"
    peak_at = np.asarray(dataset.signals)[:, 0].argmax(axis=1)
    assert np.median(peak_at) == round(0.25 * 125)  # 31 samples at 125 Hz, in lead MLII


def test_inter_split_errors_without_ds2(shared_data, tmp_path):
    with pytest.raises(DatasetError, match=r"DS2 records.*--split patient.*--split intra"):
        prepare("mitbih", tmp_path / "out", shared_data / "mitbih", records="101,208", progress=False)
    with pytest.raises(DatasetError, match="DS2"):
        prepare("mitbih", tmp_path / "out", shared_data / "mitbih", records="101,208", split="inter", progress=False)


def _fake_record(directory, name, rr_s=0.8, seconds=40, fs=360):
    """A two-lead WFDB record with a spike per beat, N beats annotated, and one non-beat annotation."""
    import wfdb

    n = int(seconds * fs)
    peaks = np.arange(int(0.3 * fs), n - fs, int(rr_s * fs))
    signal = np.zeros((n, 2))
    for p in peaks:
        signal[p - 3:p + 4, 0] += 1.5 * np.hanning(7)
        signal[p - 3:p + 4, 1] -= 0.5 * np.hanning(7)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=signal, fmt=["212", "212"],
                write_dir=str(directory))
    samples = np.concatenate([[1], peaks])
    wfdb.wrann(name, "atr", samples, ["+"] + ["V" if i % 5 == 0 else "N" for i in range(len(peaks))],
               aux_note=["(N"] + [""] * len(peaks), write_dir=str(directory))


def test_inter_split_is_the_default_with_ds2_and_leaves_out_paced_records(tmp_path):
    source = tmp_path / "mitbih"
    source.mkdir()
    for name in ("101", "106", "100", "217"):  # DS1, DS1, DS2, paced
        _fake_record(source, name)
    dataset = prepare("mitbih", tmp_path / "out", source, progress=False, workers=1)
    meta = dataset.meta
    assert set(meta["record_id"]) == {"100", "101", "106"}
    assert dataset.manifest["excluded_records"] == ["217"]
    assert set(meta.loc[meta["record_id"] == "100", "split"]) == {"test"}
    assert sorted(meta.loc[meta["record_id"].isin(["101", "106"]), "split"].unique()) == ["train", "val"]
    assert dataset.manifest["protocol"].startswith("inter-patient (de Chazal")
    assert dataset.manifest["annotations"]["non_beat"] == {"+": 3}


def test_bad_options_are_explained(shared_data, tmp_path):
    with pytest.raises(DatasetError, match="--split must be one of inter, patient, intra"):
        prepare("mitbih", tmp_path / "a", shared_data / "mitbih", split="random", progress=False)
    with pytest.raises(DatasetError, match="--beats must be one of kachuee, centred"):
        prepare("mitbih", tmp_path / "b", shared_data / "mitbih", split="intra", beats="pan", progress=False)
    with pytest.raises(DatasetError, match="does not take"):
        prepare("mitbih", tmp_path / "c", shared_data / "mitbih", task="beat", progress=False)


def test_too_few_patients_for_three_splits_is_warned_about(shared_data, tmp_path_factory):
    dataset = _prepare(tmp_path_factory, "two", shared_data / "mitbih", records="101,106", split="patient")
    assert set(dataset.meta["split"]) == {"train"}
    (warning,) = dataset.manifest["warnings"]
    assert warning.startswith("splits val and test are empty: there are only 2 patients, and each patient's records "
                              "stay in one split (rows per split: train ")
