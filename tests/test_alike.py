"""Alike beats, alike V calls (ecglab.inputs.alike): known answers on made-up beats, nearest beats against brute
force, the rule refused where it cannot apply, and the same sharing in evaluation and in the Predictor."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecglab.errors import BundleError, ConfigError
from ecglab.inference.bundle import load_spec
from ecglab.inference.predictor import Predictor
from ecglab.inputs.alike import AlikeBeats, check_alike, nearest_beats, share_with_alike_beats
from ecglab.inputs.beats import BEAT_PRESETS, BeatSpec
from use_fixtures import BEAT_CLASSES, beat_bundle

SPEC = BEAT_PRESETS["context-difference"]  # centred at 128 Hz, R peak at sample 38
V = BEAT_CLASSES.index("V")


def record_of(shapes: list[np.ndarray], seed: int = 0) -> np.ndarray:
    """Beats (n, 2, 96): each shape as the QRS around the R peak, slight noise, and a template channel."""
    rng = np.random.default_rng(seed)
    beats = np.zeros((len(shapes), 2, 96), np.float32)
    for i, shape in enumerate(shapes):
        beats[i, 0, 30:47] = shape
        beats[i, 0] += rng.normal(0, 0.01, 96)
    beats[:, 1] = rng.normal(0, 1, (len(shapes), 96))  # the template channel is not compared
    return beats


def probabilities(v: list[float]) -> np.ndarray:
    """Rows with V at ``v`` and the rest split 3 : 1 between N and S."""
    v = np.asarray(v)
    probs = np.zeros((len(v), len(BEAT_CLASSES)))
    probs[:, V], probs[:, 0], probs[:, 1] = v, 0.75 * (1 - v), 0.25 * (1 - v)
    return probs


def test_beats_of_one_shape_share_their_v_probability_and_n_and_s_keep_their_ratio():
    usual, ectopic = np.hanning(17), -2 * np.hanning(17)
    beats = record_of([usual] * 20 + [ectopic] * 10)
    v = [0.05] * 18 + [0.7, 0.7] + [0.9] * 8 + [0.2, 0.2]  # two slips of the model in each shape
    shared = share_with_alike_beats(probabilities(v), beats, SPEC, 1, V, AlikeBeats(neighbours=20, radius=5))
    np.testing.assert_allclose(shared[:20, V], (18 * 0.05 + 2 * 0.7) / 20, atol=1e-6)  # its 20 nearest: the usual ones
    # the 20 nearest of an ectopic beat hold 10 usual ones too, but far beyond 5 times the usual distance
    np.testing.assert_allclose(shared[20:, V], (8 * 0.9 + 2 * 0.2) / 10, atol=1e-6)
    np.testing.assert_allclose(shared.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(shared[:, 0], 3 * shared[:, 1], rtol=1e-5)
    assert shared.argmax(axis=1).tolist() == [0] * 20 + [V] * 10


def test_a_beat_unlike_every_other_keeps_its_own_call():
    beats = record_of([np.hanning(17)] * 40 + [3 * np.sin(np.linspace(0, 2 * np.pi, 17))])
    probs = probabilities([0.05] * 40 + [0.9])
    shared = share_with_alike_beats(probs, beats, SPEC, 1, V, AlikeBeats())
    assert shared[-1, V] == pytest.approx(0.9)  # its 19 nearest are far beyond 5 times the usual distance
    assert share_with_alike_beats(probs[:1], beats[:1], SPEC, 1, V, AlikeBeats())[0, V] == pytest.approx(0.05)


def test_nearest_beats_are_the_brute_force_ones_within_their_window():
    rng = np.random.default_rng(1)
    shapes = rng.normal(size=(700, 6))
    gaps = np.linalg.norm(shapes[:, None] - shapes[None], axis=2)
    nearest, distance = nearest_beats(shapes, 5, window=1000)
    np.testing.assert_array_equal(nearest, np.argsort(gaps, axis=1)[:, :5])
    np.testing.assert_allclose(distance, np.sort(gaps, axis=1)[:, :5], atol=1e-6)
    assert (nearest[:, 0] == np.arange(700)).all()
    nearest, _ = nearest_beats(shapes, 5, window=100)  # a long record: neighbours among the beats around
    assert (np.abs(nearest - np.arange(700)[:, None]) < 100).all() and (nearest[:, 0] == np.arange(700)).all()


def test_the_rule_is_refused_where_it_cannot_apply(tmp_path):
    rule = AlikeBeats()
    check_alike(rule, "beat", BEAT_CLASSES, SPEC)
    check_alike(None, "record", ["NORM", "MI"], None)
    for input, classes, beats in (("record", BEAT_CLASSES, None), ("beat", ["N", "S"], SPEC),
                                  ("beat", BEAT_CLASSES, BeatSpec())):  # Kachuee's cut starts at the R peak
        with pytest.raises(ConfigError, match="alike_beats is for beat models with a class V"):
            check_alike(rule, input, classes, beats)
    bundle = beat_bundle(tmp_path / "kachuee")
    spec = json.loads((bundle / "bundle.json").read_text())
    assert "alike_beats" not in spec  # unset: left out, so that earlier releases read the bundle
    (bundle / "bundle.json").write_text(json.dumps({**spec, "alike_beats": {"neighbours": 20, "radius": 5}}))
    with pytest.raises(BundleError, match="alike_beats is for beat models"):
        load_spec(bundle)


def test_evaluation_and_the_predictor_share_alike(shared_data, tmp_path):
    from ecglab.datasets.core.registry import prepare
    from ecglab.inference.bundle import load_bundle
    from ecglab.records import read_record
    from ecglab.training.evaluate import bundle_predictions

    dataset = prepare("mitbih", tmp_path / "data", shared_data / "mitbih", records="208", beats="context-difference",
                      split="all", progress=False, workers=1)
    rule = AlikeBeats(neighbours=10, radius=3)
    bundle = beat_bundle(tmp_path / "bundle", beats=dataset.beats, fs=dataset.fs, input_length=dataset.length,
                         model_kwargs=dict(filters=8, head_hidden=[8], n_blocks=4), meta_features=[], alike_beats=rule)
    assert load_spec(bundle).alike_beats == rule
    model, spec = load_bundle(bundle)
    _, evaluated = bundle_predictions(model, spec, dataset, dataset.splits[0], say=False)
    predictor = Predictor.load(bundle)
    inputs = predictor.model_input(read_record(shared_data / "mitbih" / "208.hea"))
    own = predictor.predict_proba(inputs.x, inputs.meta)
    predicted = predictor.shared_with_alike_beats(own, inputs)
    at = np.searchsorted(inputs.peaks, dataset.meta["sample"].to_numpy())
    assert len(at) == len(inputs.peaks)  # every annotated beat of 208 is a training beat: the same neighbours
    np.testing.assert_allclose(evaluated, predicted[at], atol=1e-5)
    assert not np.allclose(predicted, own)
    changed = int((predicted.argmax(1) != own.argmax(1)).sum())
    assert inputs.notes[-1] == (f"V probability shared among beats of alike QRS shape (up to 10 per beat): "
                                f"{changed} beats' calls changed.")


def test_a_record_of_one_beat_has_no_alike_beats_to_share_with(tmp_path):
    from ecglab.inference.predictor import ModelInput

    spec = BEAT_PRESETS["context-difference"]
    bundle = beat_bundle(tmp_path / "bundle", beats=spec, fs=spec.fs, input_length=spec.length, meta_features=[],
                         model_kwargs=dict(filters=8, head_hidden=[8], n_blocks=4), alike_beats=AlikeBeats())
    predictor = Predictor.load(bundle)
    one = ModelInput(np.zeros((1, 2, spec.length), np.float32), None, spec.fs, np.zeros(1, int), spec.length)
    probs = probabilities(np.array([0.4]))
    assert predictor.shared_with_alike_beats(probs, one) is probs and one.notes == []  # no "0 beats' calls changed"
