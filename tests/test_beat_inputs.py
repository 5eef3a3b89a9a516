"""The beat input contract (ecglab.inputs.beats): relative R-R by hand, window bounds, per-record
amplitude, and prepared training data equal, bit for bit, to what the Predictor feeds the model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecglab.inputs.metadata import meta_matrix
from ecglab.datasets.core.registry import prepare
from ecglab.inference.bundle import MetaFeature
from ecglab.inference.predictor import Predictor
from ecglab.inputs.beats import (BEAT_PRESETS, RELATIVE_RR_FEATURES, BeatSpec, add_template, beat_input, input_channels,
                                 median_beats, p_consistency, qrs_difference, rr_features, rr_irregularity, running_rr)
from ecglab.records import read_record
from ecglab.inputs.preprocess import Preprocessing
from use_fixtures import BEAT_CLASSES, beat_bundle

CONTEXT = BEAT_PRESETS["context"]


def test_relative_rr_by_hand():
    peaks = np.array([0, 100, 200, 250, 400, 500])  # R-R at 100 Hz: 1, 1, 0.5, 1.5, 1 s
    # running average over the 2 intervals around each beat (one at the ends)
    np.testing.assert_allclose(running_rr(peaks, 100.0, beats=2), [1.0, 1.0, 0.75, 1.0, 1.25, 1.0])
    features = rr_features(peaks, 100.0, running_beats=2)
    np.testing.assert_allclose(features["rr_prev_rel"], [1.0, 1.0, 1.0 / 0.75, 0.5, 1.5 / 1.25, 1.0], rtol=1e-6)
    np.testing.assert_allclose(features["rr_next_rel"], [1.0, 1.0, 0.5 / 0.75, 1.5, 1.0 / 1.25, 1.0], rtol=1e-6)
    # over the whole record (300 > 5 intervals) the rhythm is the mean R-R, 1 s: relative equals absolute
    whole = rr_features(peaks, 100.0)
    for name in RELATIVE_RR_FEATURES:
        np.testing.assert_allclose(whole[name], whole[name.removesuffix("_rel")], rtol=1e-6)
    assert set(whole) == {"rr_prev", "rr_next", "rr_local", "rr_mean", *RELATIVE_RR_FEATURES, "rr_irregularity"}


def test_rr_irregularity_by_hand():
    regular = np.arange(0, 4000, 100)  # R-R 1 s at 100 Hz
    premature = regular.copy()
    premature[20] -= 30  # one early beat: two changes of 0.3 s among 16, the median stays 0
    np.testing.assert_array_equal(rr_irregularity(regular, 100.0), 0)
    np.testing.assert_array_equal(rr_irregularity(premature, 100.0), 0)
    alternating = np.cumsum([0] + [80, 120] * 20)  # R-R 0.8, 1.2, 0.8 …: every change 0.4 s, median R-R 1 s
    np.testing.assert_allclose(rr_irregularity(alternating, 100.0)[8:-8], 0.4, rtol=1e-6)  # away from the edges
    # a window of 4: beat 2 sees the changes 0.2, 0.5, 0.1 (the last repeated at the edge) and R-R 1, 1.2, 0.7, 0.8
    peaks = np.cumsum([0, 100, 120, 70, 80])
    assert rr_irregularity(peaks, 100.0, beats=4)[2] == pytest.approx(0.15 / 0.9)
    assert rr_irregularity(np.array([0, 100]), 100.0).tolist() == [0.0, 0.0]  # one interval: nothing to compare


def test_context_window_runs_from_p_wave_to_t_wave_and_drops_edge_beats():
    fs = 128.0
    assert (CONTEXT.length, round(CONTEXT.before_s * fs)) == (96, 38)  # -0.3 s … +0.45 s
    signal = np.zeros((1, 1280), np.float32)
    peaks = np.array([20, 300, 700, 1250])  # the first and last lack 0.3 s before / 0.45 s after
    signal[0, peaks] = 2.0
    cut = beat_input(signal, fs, peaks, CONTEXT, Preprocessing(fs=fs))
    assert cut.kept.tolist() == [1, 2] and cut.beats.shape == (2, 1, 96)
    assert cut.beats[:, 0].argmax(axis=1).tolist() == [38, 38]
    np.testing.assert_allclose(cut.features["rr_prev"], [280 / fs, 400 / fs])  # R-R over every peak, cut or not


def test_amplitude_is_normalised_per_record_not_per_beat():
    rng = np.random.default_rng(0)
    peaks = np.arange(100, 5000, 200)
    signal = 0.01 * rng.standard_normal((1, 5200)).astype(np.float32)
    signal[0, peaks] += np.where(np.arange(len(peaks)) % 4 == 0, 3.0, 1.0)  # every 4th beat three times as tall
    small = beat_input(signal, 128.0, peaks, CONTEXT, Preprocessing(fs=128.0))
    large = beat_input(5 * signal + 0.7, 128.0, peaks, CONTEXT, Preprocessing(fs=128.0))
    np.testing.assert_allclose(small.beats, large.beats, atol=1e-5)  # gain and offset of the record do not matter
    heights = small.beats[:, 0, 38]
    assert np.isclose(np.median(heights), 1.0, atol=0.05) and np.isclose(heights[0] / heights[1], 3.0, rtol=0.05)


def test_template_channels_by_hand():
    beats = np.array([[[0.0, 1.0]], [[2.0, 1.0]], [[4.0, 7.0]]], np.float32)  # 3 beats, 1 lead, 2 samples
    median = [[2.0, 1.0]]
    templates = median_beats(beats, 3000)
    difference = add_template(beats, templates, CONTEXT.model_copy(update={"template": "difference"}))
    assert difference.shape == (3, 2, 2) and input_channels(1, BEAT_PRESETS["context-difference"]) == 2
    np.testing.assert_array_equal(difference[:, 0], beats[:, 0])  # the beat itself comes first
    np.testing.assert_array_equal(difference[:, 1], [[-2.0, 0.0], [0.0, 0.0], [2.0, 6.0]])
    np.testing.assert_array_equal(add_template(beats, templates, CONTEXT.model_copy(update={"template": "median"}))[:, 1],
                                  median * 3)
    assert add_template(beats, templates, CONTEXT) is beats and input_channels(1, CONTEXT) == 1 == input_channels(1, None)


def test_p_consistency_tells_sinus_p_waves_from_fibrillation():
    spec, rng = CONTEXT, np.random.default_rng(0)  # 128 Hz, R at sample 38: the P stretch is samples 6 … 27
    p_wave = np.zeros(96, np.float32)
    p_wave[10:24] = np.hanning(14)
    sinus = p_wave + 0.02 * rng.standard_normal((60, 1, 96)).astype(np.float32)
    sinus[30] = 0.05 * rng.standard_normal(96)  # a premature beat without the sinus P wave among them
    fibrillation = 0.3 * rng.standard_normal((60, 1, 96)).astype(np.float32)  # f waves: no shared shape
    regular = p_consistency(sinus, median_beats(sinus, 3000), spec)
    assert regular.shape == (60,) and regular.min() > 0.95  # the odd beat does not move the median of 33
    assert np.abs(p_consistency(fibrillation, median_beats(fibrillation, 3000), spec)).max() < 0.3
    flat = np.zeros((5, 1, 96), np.float32)
    assert p_consistency(flat, flat, spec).tolist() == [0.0] * 5  # no P wave at all: nothing agrees
    kachuee = BeatSpec()
    assert np.isnan(p_consistency(sinus, sinus, kachuee)).all()  # its cut starts at the R peak
    assert np.isnan(p_consistency(sinus, sinus, CONTEXT.model_copy(update={"before_s": 0.2}))).all()


def test_qrs_difference_by_hand():
    spec = CONTEXT  # 128 Hz, R at sample 38: the QRS stretch is samples 30 … 46 (65 ms either side)
    typical = np.zeros((1, 96), np.float32)
    typical[0, 36:41] = [0.25, 0.5, 1.0, 0.5, 0.25]  # peak-to-peak 1
    beats = np.stack([typical, typical.copy(), typical.copy()])
    beats[1, 0, 30:47] += 0.5  # a QRS 0.5 above the usual one throughout: RMS 0.5
    beats[2, 0, :30] += 3.0  # a change outside the QRS (a P or baseline) does not count
    templates = np.broadcast_to(typical, beats.shape)
    np.testing.assert_allclose(qrs_difference(beats, templates, spec), [0.0, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(qrs_difference(2 * beats, 2 * templates, spec), [0.0, 0.5, 0.0], atol=1e-6)  # any gain
    assert np.isnan(qrs_difference(beats, templates, BeatSpec())).all()


def test_the_gates_read_the_beat_features_in_one_order():
    from ecglab.inputs.beats import BEAT_FEATURES, GATE_FEATURES
    from ecglab.models.ensemble import GATE_FEATURES as MODEL_ORDER

    # the ensemble reads them by position, after the members' columns: the three made for it, then rr_prev_rel
    assert MODEL_ORDER == (*GATE_FEATURES, "rr_prev_rel") and set(MODEL_ORDER) <= set(BEAT_FEATURES)


def test_running_template_follows_a_change_of_morphology():
    beats = np.repeat([0.0, 10.0], 50)[:, None, None].astype(np.float32)  # 50 beats of 0, then 50 of 10
    templates = median_beats(beats, window=20)  # 20 beats around each, computed every 2 beats
    assert templates[:, 0, 0].tolist() == [0.0] * 50 + [10.0] * 50
    assert median_beats(beats, window=100)[:, 0, 0].tolist() == [5.0] * 100  # whole record: the median of all


TWO_LEADS = "MLII,V1/V2/V4/V5/ECG2"  # the record's chest lead, whichever it is


@pytest.mark.parametrize("database,record,preset,peaks,lead", [
    ("mitbih", "208", "context", "annotated", "MLII"), ("svdb", "800", "context", "annotated", "MLII"),
    ("mitbih", "208", "context-difference", "annotated", "MLII"),
    ("svdb", "800", "context-difference", "detected", "MLII"),
    ("mitbih", "207", "context-difference-aligned", "detected", "MLII"),
    ("mitbih", "124", "context-difference-aligned", "annotated", TWO_LEADS),  # MLII and V4
    ("svdb", "800", "context-difference-aligned", "detected", TWO_LEADS)])  # ECG1 and ECG2
def test_prepared_beats_equal_what_the_predictor_feeds_the_model(database, record, preset, peaks, lead, shared_data,
                                                                 tmp_path):
    options = dict(split="patient") if database == "mitbih" else {}
    dataset = prepare(database, tmp_path / "data", shared_data / database, records=record, beats=preset, peaks=peaks,
                      lead=lead, progress=False, workers=1, **options)
    assert dataset.leads == lead.split(",")
    features = [MetaFeature(name=n, mean=1.0, std=0.3) for n in ("rr_prev_rel", "rr_next_rel", "rr_local_rel", "rr_mean",
                                                                 "rr_irregularity", "p_consistency", "qrs_difference")]
    bundle = beat_bundle(tmp_path / "bundle", beats=BeatSpec.model_validate(dataset.manifest["beats"]), fs=dataset.fs,
                         leads=dataset.leads, input_length=dataset.length,
                         model_kwargs=dict(filters=8, head_hidden=[8], n_blocks=4),
                         preprocessing=Preprocessing.model_validate(dataset.manifest["preprocessing"]),
                         meta_features=features, classes=BEAT_CLASSES)
    annotated = read_record(shared_data / database / f"{record}.hea")
    # beats prepared at detected R peaks are those the Predictor finds on the record without its annotations
    inputs = Predictor.load(bundle).model_input(annotated if peaks == "annotated" else
                                                dataclasses.replace(annotated, annotations=None))
    position = np.searchsorted(inputs.peaks, dataset.meta["sample"].to_numpy())
    assert (inputs.peaks[position] == dataset.meta["sample"].to_numpy()).all()
    assert np.array_equal(inputs.x[position], np.asarray(dataset.signals))
    assert np.array_equal(inputs.meta[position], meta_matrix(dataset.meta, features))
    left_out = sum(dataset.manifest["annotations"].get("detected_unannotated", {}).values())
    # every annotated beat of these records has an AAMI class; detections matching none are not training beats
    assert len(dataset.meta) <= len(inputs.x) <= len(dataset.meta) + left_out
    assert inputs.x.shape[1] == dataset.channels == input_channels(len(dataset.leads), BEAT_PRESETS[preset])


def test_a_template_bundle_is_explained_per_lead(shared_data, tmp_path):
    from ecglab.inference.explain import explain

    bundle = beat_bundle(tmp_path / "bundle", beats=BEAT_PRESETS["context-difference"], fs=128.0, input_length=96,
                         model_kwargs={"filters": 8, "head_hidden": [8], "n_blocks": 4}, meta_features=[])
    record = read_record(shared_data / "mitbih" / "208.hea")
    attribution = explain(Predictor.load(bundle), record, target="V", steps=4)
    assert attribution.leads == ["MLII"] and attribution.values.shape == (1, round(record.n_samples * 128 / record.fs))
    assert np.abs(attribution.values).max() == pytest.approx(1.0)  # the beat and its template channel, summed
    # two leads, the second a choice: named by the record's leads that supplied them, as the page draws them
    two = beat_bundle(tmp_path / "two", beats=BEAT_PRESETS["context-difference"], fs=128.0, input_length=96,
                      leads=["MLII", "V1/V4"], model_kwargs={"filters": 8, "head_hidden": [8], "n_blocks": 4},
                      meta_features=[])
    record = read_record(shared_data / "mitbih" / "124.hea")  # MLII and V4
    attribution = explain(Predictor.load(two), record, target="V", steps=4)
    assert attribution.leads == ["MLII", "V4"] and attribution.values.shape[0] == 2


def test_fibrillating_beats_of_record_201_share_no_p_wave_and_its_sinus_beats_do(shared_data, tmp_path):
    import wfdb

    dataset = prepare("mitbih", tmp_path / "201", shared_data / "mitbih", records="201", split="all",
                      beats="context-difference", progress=False, workers=1)
    notes = wfdb.rdann(str(shared_data / "mitbih" / "201"), "atr")
    changes = [(s, n.strip("\x00")) for s, n, sym in zip(notes.sample, notes.aux_note, notes.symbol) if sym == "+"]
    starts = np.array([s for s, _ in changes])
    rhythm = np.array([changes[k][1] for k in np.searchsorted(starts, dataset.meta["sample"], side="right") - 1])
    p = dataset.meta["p_consistency"].to_numpy()
    # measured: median 0.09 in atrial fibrillation (911 beats), 0.90 in sinus rhythm (691)
    assert np.median(p[rhythm == "(AFIB"]) < 0.3 < 0.8 < np.median(p[rhythm == "(N"])
    assert (dataset.meta["rr_irregularity"].to_numpy()[rhythm == "(AFIB"] > 0.1).mean() > 0.8
    difference = dataset.meta.groupby("aami")["qrs_difference"].median()
    assert difference["N"] < 0.15 < 0.3 < difference["V"]  # measured: 0.07 and 0.36 (198 V beats)


def test_a_gated_bundle_says_how_many_beats_it_will_not_call_s(shared_data, tmp_path):
    rr = [MetaFeature(name=n) for n in ("rr_prev_rel", "rr_next_rel", "rr_local_rel", "rr_mean")]
    gates = {"classes": {"N": 0, "S": 1, "V": 2}, "prematurity": None, "morphology": None,
             "rhythm": {"irregularity_above": 0.15, "p_consistency_below": 0.4}}
    member = {"architecture": "kachuee", "kwargs": {"filters": 8, "head_hidden": [8], "n_blocks": 4}}
    bundle = beat_bundle(tmp_path / "gated", architecture="ensemble", beats=BEAT_PRESETS["context-difference"],
                         fs=128.0, input_length=96, classes=BEAT_CLASSES,
                         model_kwargs={"members": [member, member], "method": "mean", "kind": "multiclass", "gates": gates},
                         meta_features=rr + [MetaFeature(name="rr_irregularity"), MetaFeature(name="p_consistency", fill=1.0),
                                             MetaFeature(name="qrs_difference"), MetaFeature(name="rr_prev_rel", fill=1.0)])
    predictor = Predictor.load(bundle)
    inputs = predictor.model_input(read_record(shared_data / "mitbih" / "201.hea"))
    note = next(n for n in inputs.notes if "share no P wave" in n)
    gated = int(note.split()[0])
    assert 500 < gated < 911  # of the record's 911 beats in atrial fibrillation (measured: 692)
    s_probability = predictor.predict_proba(inputs.x, inputs.meta)[:, BEAT_CLASSES.index("S")]
    assert (s_probability < 1e-6).sum() == gated  # those beats, and no other, get (practically) no S probability
