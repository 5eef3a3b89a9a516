"""Calibration: expected calibration error, reliability curves, and temperature scaling.

ECE and the reliability diagram follow Guo et al. (2017, "On Calibration of Modern Neural
Networks"): equal-width confidence bins, ECE = sum over bins of |B|/n * |accuracy(B) - confidence(B)|.
Multiclass uses the top-label confidence (is the argmax right?); multilabel pools every class
probability (is this label present?). Temperature scaling, from the same paper, divides the
logits by one scalar T fitted to minimise the negative log-likelihood on validation data.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, softmax

from ecglab.errors import EcglabError
from ecglab.evaluation.metrics import validate_predictions

TEMPERATURE_BOUNDS = (0.05, 20.0)


def infer_kind(y_true, y_prob) -> str:
    """"multiclass" when every row of y_true has one label and every row of y_prob sums to 1, else "multilabel"."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob, dtype=np.float64)
    if y_true.ndim == 2 and (y_true.sum(axis=1) == 1).all() and np.allclose(y_prob.sum(axis=1), 1.0, atol=1e-3):
        return "multiclass"
    return "multilabel"


def _confidence_and_outcome(y_true, y_prob, kind: str | None) -> tuple[np.ndarray, np.ndarray]:
    kind = kind or infer_kind(y_true, y_prob)
    y_true, y_prob = validate_predictions(y_true, y_prob, kind)
    if kind == "multiclass":
        return y_prob.max(axis=1), (y_prob.argmax(axis=1) == y_true.argmax(axis=1)).astype(np.float64)
    return y_prob.ravel(), y_true.ravel().astype(np.float64)


def reliability_curve(y_true, y_prob, n_bins: int = 15, kind: str | None = None) -> dict[str, np.ndarray]:
    """Per non-empty bin: mean ``confidence``, observed ``frequency`` (accuracy or label rate), ``count``.

    ``edges`` holds all ``n_bins + 1`` bin edges over [0, 1]. ``kind`` None infers it (:func:`infer_kind`).
    """
    if n_bins < 1:
        raise EcglabError(f"n_bins must be at least 1; got {n_bins}.")
    confidence, outcome = _confidence_and_outcome(y_true, y_prob, kind)
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    filled = count > 0
    return {
        "confidence": np.bincount(bins, confidence, n_bins)[filled] / count[filled],
        "frequency": np.bincount(bins, outcome, n_bins)[filled] / count[filled],
        "count": count[filled],
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
    }


def expected_calibration_error(y_true, y_prob, n_bins: int = 15, kind: str | None = None) -> float:
    """ECE in [0, 1] (Guo et al. 2017); ``kind`` None infers it from the arrays."""
    curve = reliability_curve(y_true, y_prob, n_bins, kind)
    weights = curve["count"] / curve["count"].sum()
    return float(np.sum(weights * np.abs(curve["frequency"] - curve["confidence"])))


def negative_log_likelihood(logits, y_true, kind: str, temperature: float = 1.0) -> float:
    """Mean NLL of ``logits / temperature``: cross-entropy (multiclass) or per-label binary cross-entropy (multilabel)."""
    y_true, logits = validate_predictions(y_true, logits, kind, probabilities=False)
    z = logits / temperature
    if kind == "multiclass":
        return float(-np.mean(np.sum(y_true * log_softmax(z, axis=1), axis=1)))
    return float(np.mean(np.logaddexp(0.0, z) - y_true * z))


def fit_temperature(logits, y_true, kind: str) -> float:
    """The temperature T > 0 minimising the validation NLL of ``logits / T`` (bounded search over log T)."""
    y_true, logits = validate_predictions(y_true, logits, kind, probabilities=False)
    low, high = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(lambda log_t: negative_log_likelihood(logits, y_true, kind, float(np.exp(log_t))),
                             bounds=(low, high), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(result.x))


def apply_temperature(logits, temperature: float, kind: str) -> np.ndarray:
    """Calibrated probabilities: softmax (multiclass) or sigmoid (multilabel) of ``logits / temperature``."""
    if not temperature > 0:
        raise EcglabError(f"temperature must be positive; got {temperature}.")
    z = np.asarray(logits, dtype=np.float64) / temperature
    if kind == "multiclass":
        return softmax(z, axis=1)
    if kind == "multilabel":
        return expit(z)
    raise EcglabError(f"kind must be 'multiclass' or 'multilabel'; got {kind!r}.")
