"""tune_thresholds: known best-F1 thresholds, agreement with a brute-force search, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from ecglab.errors import EcglabError
from ecglab.evaluation import compute_metrics, tune_thresholds


def test_known_best_threshold():
    # y = 0 0 1 1 0 1, p = .1 .3 .35 .6 .7 .8. F1 of p >= t: t=.8 -> 2/4, .7 -> 2/5, .6 -> 4/6,
    # .35 -> tp 3, fp 1, fn 0 -> 6/7, .3 -> 6/8, .1 -> 6/9. The best is t = .35 with F1 = 6/7.
    y = np.array([[0], [0], [1], [1], [0], [1]])
    p = np.array([[0.1], [0.3], [0.35], [0.6], [0.7], [0.8]])
    thresholds = tune_thresholds(y, p)
    assert thresholds.tolist() == [0.35]
    assert compute_metrics(y, p, "multilabel", ["a"], thresholds)["macro_f1"] == pytest.approx(6 / 7)


def test_tuned_f1_beats_every_grid_threshold():
    rng = np.random.default_rng(0)
    y = (rng.random((300, 5)) < [0.05, 0.1, 0.2, 0.4, 0.6]).astype(np.uint8)
    p = np.round(np.clip(0.3 * y + 0.7 * rng.random(y.shape), 0, 1), 2)
    thresholds = tune_thresholds(y, p)
    grid = np.linspace(0, 1, 201)
    for c in range(5):
        decided = p[:, c, None] >= grid
        tp = (decided & (y[:, c, None] == 1)).sum(axis=0)
        grid_f1 = 2 * tp / (decided.sum(axis=0) + y[:, c].sum())
        assert f1_score(y[:, c], p[:, c] >= thresholds[c]) >= grid_f1.max() - 1e-12


def test_class_without_positives_gets_half_and_ties_keep_highest_threshold():
    # Class b: y = 1 0 0 1, p = .9 .7 .5 .3. F1 at .9 is 2/3 (tp 1, fn 1) and at .3 is 4/6 (tp 2, fp 2): a tie.
    y = np.array([[0, 1], [0, 0], [0, 0], [0, 1]])
    p = np.array([[0.9, 0.9], [0.2, 0.7], [0.4, 0.5], [0.3, 0.3]])
    assert tune_thresholds(y, p).tolist() == [0.5, 0.9]


def test_bad_shapes_raise():
    with pytest.raises(EcglabError, match="one shape"):
        tune_thresholds(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(EcglabError, match="NaN"):
        tune_thresholds(np.zeros((2, 1)), np.array([[np.nan], [0.2]]))
