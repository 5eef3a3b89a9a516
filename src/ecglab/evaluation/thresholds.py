"""Per-class decision thresholds tuned on validation data and applied unchanged to the test set."""

from __future__ import annotations

import numpy as np

from ecglab.errors import EcglabError
from ecglab.evaluation.metrics import ranked_counts

DEFAULT_THRESHOLD = 0.5


def best_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The threshold t maximising F1 of ``score >= t``, searched over every distinct score.

    Among equally good thresholds the highest is kept (the fewest positive decisions).
    A class without positives gets 0.5: no threshold can earn it a true positive.
    """
    thresholds, tp, fp = ranked_counts(y, score)
    n_positive = tp[-1]
    if n_positive == 0:
        return DEFAULT_THRESHOLD
    f1 = 2 * tp / (2 * tp + fp + (n_positive - tp))
    return float(thresholds[np.argmax(f1)])


def tune_thresholds(y_true, y_prob) -> np.ndarray:
    """One F1-maximising threshold per class (column) of ``y_true`` (N, C) 0/1 and ``y_prob`` (N, C)."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_prob.shape or len(y_true) == 0:
        raise EcglabError(f"tune_thresholds expects y_true and y_prob as non-empty (records, classes) arrays of "
                          f"one shape; got {y_true.shape} and {y_prob.shape}.")
    if not np.isfinite(y_prob).all():
        raise EcglabError("y_prob contains NaN or infinite values; thresholds cannot be tuned on them.")
    return np.array([best_f1_threshold(y_true[:, c], y_prob[:, c]) for c in range(y_true.shape[1])])
