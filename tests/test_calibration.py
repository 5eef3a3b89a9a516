"""ECE, reliability curves and temperature scaling on synthetic cases with known calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from ecglab.errors import EcglabError
from ecglab.evaluation import (apply_temperature, expected_calibration_error, fit_temperature,
                               negative_log_likelihood, reliability_curve)
from ecglab.evaluation.calibration import infer_kind


def test_perfectly_calibrated_multilabel_has_near_zero_ece():
    rng = np.random.default_rng(0)
    p = rng.random((20000, 5))
    y = (rng.random(p.shape) < p).astype(np.uint8)
    assert expected_calibration_error(y, p, kind="multilabel") < 0.01


def test_overconfident_multilabel_has_large_ece():
    rng = np.random.default_rng(1)
    p = rng.choice([0.02, 0.98], size=(5000, 4))
    y = (rng.random(p.shape) < np.where(p > 0.5, 0.7, 0.3)).astype(np.uint8)
    # Every probability claims 0.98 or 0.02 but the truth is 0.7 or 0.3: ECE = 0.28 up to sampling noise.
    assert expected_calibration_error(y, p, kind="multilabel") == pytest.approx(0.28, abs=0.02)


def test_multiclass_uses_top_label_confidence():
    # Every record: confidence 0.9 on class 0; class 0 is right for 6 of 10 -> one bin, ECE = |0.6 - 0.9| = 0.3.
    p = np.tile([0.9, 0.05, 0.05], (10, 1))
    y = np.eye(3, dtype=np.uint8)[[0] * 6 + [1] * 4]
    assert expected_calibration_error(y, p, n_bins=10) == pytest.approx(0.3)
    curve = reliability_curve(y, p, n_bins=10, kind="multiclass")
    assert curve["count"].tolist() == [10]
    assert curve["confidence"] == pytest.approx([0.9]) and curve["frequency"] == pytest.approx([0.6])
    assert len(curve["edges"]) == 11


def test_reliability_curve_bins_hand_computed():
    # Pooled probabilities .05 .15 .15 .95 .95 with labels 0 1 0 1 1 over 10 bins:
    # bin 0: conf .05, freq 0; bin 1: conf .15, freq 1/2; bin 9: conf .95, freq 1.
    y = np.array([[0, 1, 0, 1, 1]]).T
    p = np.array([[0.05, 0.15, 0.15, 0.95, 0.95]]).T
    curve = reliability_curve(y, p, n_bins=10, kind="multilabel")
    assert curve["count"].tolist() == [1, 2, 2]
    assert curve["frequency"] == pytest.approx([0.0, 0.5, 1.0])
    # ECE = (1 * .05 + 2 * .35 + 2 * .05) / 5 = 0.17
    assert expected_calibration_error(y, p, n_bins=10, kind="multilabel") == pytest.approx(0.17)


def test_infer_kind():
    assert infer_kind(np.eye(3), softmax(np.random.default_rng(0).normal(size=(3, 3)), axis=1)) == "multiclass"
    assert infer_kind(np.eye(3), np.full((3, 3), 0.5)) == "multilabel"


@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
def test_temperature_scaling_undoes_overconfidence(kind):
    rng = np.random.default_rng(2)
    n, n_classes = 4000, 4
    calibrated_logits = rng.normal(scale=1.5, size=(n, n_classes))
    if kind == "multiclass":
        probs = softmax(calibrated_logits, axis=1)
        labels = np.array([rng.choice(n_classes, p=row) for row in probs])
        y = np.eye(n_classes, dtype=np.uint8)[labels]
    else:
        y = (rng.random((n, n_classes)) < 1 / (1 + np.exp(-calibrated_logits))).astype(np.uint8)
    overconfident = 3.0 * calibrated_logits
    temperature = fit_temperature(overconfident, y, kind)
    assert temperature == pytest.approx(3.0, rel=0.15)
    assert (negative_log_likelihood(overconfident, y, kind, temperature)
            < negative_log_likelihood(overconfident, y, kind) - 0.1)
    before = expected_calibration_error(y, apply_temperature(overconfident, 1.0, kind), kind=kind)
    after = expected_calibration_error(y, apply_temperature(overconfident, temperature, kind), kind=kind)
    assert after < before / 2


def test_apply_temperature_values_and_errors():
    logits = np.array([[0.0, np.log(3.0)]])
    assert apply_temperature(logits, 1.0, "multiclass") == pytest.approx(np.array([[0.25, 0.75]]))
    assert apply_temperature(logits, 1.0, "multilabel") == pytest.approx(np.array([[0.5, 0.75]]))
    with pytest.raises(EcglabError, match="positive"):
        apply_temperature(logits, 0.0, "multiclass")
    with pytest.raises(EcglabError, match="kind"):
        apply_temperature(logits, 1.0, "ranking")
    with pytest.raises(EcglabError, match="n_bins"):
        reliability_curve(np.eye(2), np.eye(2), n_bins=0)
