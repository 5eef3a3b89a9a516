"""compute_metrics, fmax, bootstrap and subgroup metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, confusion_matrix,
                             f1_score, hamming_loss, multilabel_confusion_matrix, precision_recall_fscore_support,
                             roc_auc_score)

from ecglab.errors import EcglabError
from ecglab.evaluation import age_bands, bootstrap_ci, bootstrap_metrics, compute_metrics, fmax, metrics_by_group


def _multilabel(rng, n, n_classes, decimals=2):
    """Correlated labels and scores; rounding the scores creates ties."""
    prevalence = rng.uniform(0.05, 0.5, n_classes)
    y = (rng.random((n, n_classes)) < prevalence).astype(np.uint8)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random((n, n_classes)), 0, 1), decimals)
    return y, p


def _multiclass(rng, n, n_classes):
    labels = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[labels]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return np.eye(n_classes, dtype=np.uint8)[labels], p


def _names(n):
    return [f"c{i}" for i in range(n)]


def test_multilabel_hand_computed():
    # Class a: y = 1 0 1 0, p = .9 .6 .4 .2. Positive-negative pairs ranked right: (.9>.6) (.9>.2) (.4>.2),
    # wrong: (.4<.6) -> AUROC 3/4. Ranked: .9+ (P 1, R 1/2), .6-, .4+ (P 2/3, R 1) -> AP = 1/2 + 1/2 * 2/3 = 5/6.
    # At 0.5 the decisions are 1 1 0 0: tp 1, fp 1, fn 1, tn 1 -> precision = recall = F1 = specificity = 1/2.
    # Class b is separated perfectly: AUROC 1, F1 1. Rows right in full: 0 and 3 -> subset accuracy 1/2;
    # label errors 2 of 8 -> Hamming 1/4; micro F1 = 2*2 / (2*2 + 1 + 1) = 2/3.
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 1]], dtype=np.uint8)
    p = np.array([[0.9, 0.1], [0.6, 0.2], [0.4, 0.3], [0.2, 0.8]])
    m = compute_metrics(y, p, "multilabel", ["a", "b"])
    a = m["per_class"]["a"]
    assert a["auroc"] == pytest.approx(0.75) and a["auprc"] == pytest.approx(5 / 6)
    assert (a["precision"], a["recall"], a["f1"], a["specificity"], a["support"]) == pytest.approx((0.5, 0.5, 0.5, 0.5, 2))
    assert m["per_class"]["b"]["auroc"] == 1.0 and m["per_class"]["b"]["f1"] == 1.0
    assert m["macro_auroc"] == pytest.approx(0.875) and m["macro_f1"] == pytest.approx(0.75)
    assert m["subset_accuracy"] == 0.5 and m["hamming_loss"] == 0.25 and m["accuracy"] == 0.75
    assert m["micro_f1"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["per_class_confusion"]["a"] == [[1, 1], [1, 1]] and m["per_class_confusion"]["b"] == [[3, 0], [0, 1]]


def test_multiclass_hand_computed():
    # True 0 0 1 2 2, predicted 0 1 1 2 0. Confusion rows (true): [1 1 0], [0 1 0], [1 0 1].
    # Se = 1/2, 1, 1/2; +P = 1/2, 1/2, 1; F1 = 2/4, 2/3, 2/3; accuracy 3/5; balanced accuracy 2/3.
    y = np.eye(3, dtype=np.uint8)[[0, 0, 1, 2, 2]]
    p = np.eye(3)[[0, 1, 1, 2, 0]] * 0.6 + 0.4 / 3
    m = compute_metrics(y, p, "multiclass", ["N", "S", "V"])
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert m["confusion_matrix_normalized"][0] == [0.5, 0.5, 0.0]
    assert [m["per_class"][c]["sensitivity"] for c in "NSV"] == [0.5, 1.0, 0.5]
    assert [m["per_class"][c]["positive_predictive_value"] for c in "NSV"] == [0.5, 0.5, 1.0]
    assert [m["per_class"][c]["f1"] for c in "NSV"] == pytest.approx([0.5, 2 / 3, 2 / 3])
    assert m["accuracy"] == pytest.approx(0.6) and m["micro_f1"] == pytest.approx(0.6)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", range(4))
def test_multilabel_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y, p = _multilabel(rng, int(rng.integers(40, 300)), int(rng.integers(2, 9)))
    thresholds = rng.uniform(0.3, 0.7, y.shape[1])
    m = compute_metrics(y, p, "multilabel", _names(y.shape[1]), thresholds)
    pred = (p >= thresholds).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    for c, name in enumerate(_names(y.shape[1])):
        got = m["per_class"][name]
        assert got["auroc"] == pytest.approx(roc_auc_score(y[:, c], p[:, c]))
        assert got["auprc"] == pytest.approx(average_precision_score(y[:, c], p[:, c]))
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == pytest.approx(
            (precision[c], recall[c], f1[c], support[c]))
        assert got["specificity"] == pytest.approx(multilabel_confusion_matrix(y, pred)[c][0, 0] / (y[:, c] == 0).sum())
    assert m["macro_auroc"] == pytest.approx(roc_auc_score(y, p, average="macro"))
    assert m["macro_auprc"] == pytest.approx(average_precision_score(y, p, average="macro"))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert m["micro_f1"] == pytest.approx(f1_score(y, pred, average="micro", zero_division=0))
    assert m["subset_accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(np.mean([balanced_accuracy_score(y[:, c], pred[:, c])
                                                            for c in range(y.shape[1])]))
    assert np.array(list(m["per_class_confusion"].values())).tolist() == multilabel_confusion_matrix(y, pred).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_multiclass_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 7))
    y, p = _multiclass(rng, int(rng.integers(30, 300)), n_classes)
    m = compute_metrics(y, p, "multiclass", _names(n_classes))
    truth, pred = y.argmax(1), p.argmax(1)
    precision, recall, f1, _ = precision_recall_fscore_support(truth, pred, labels=range(n_classes), zero_division=0)
    assert m["confusion_matrix"] == confusion_matrix(truth, pred, labels=range(n_classes)).tolist()
    assert [m["per_class"][c]["positive_predictive_value"] for c in _names(n_classes)] == pytest.approx(precision)
    assert [m["per_class"][c]["sensitivity"] for c in _names(n_classes)] == pytest.approx(recall)
    assert m["macro_f1"] == pytest.approx(f1.mean())
    assert m["macro_auroc"] == pytest.approx(roc_auc_score(truth, p, multi_class="ovr", average="macro"))
    assert m["macro_auprc"] == pytest.approx(average_precision_score(y, p, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, pred))
    assert m["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    assert m["micro_f1"] == pytest.approx(f1_score(truth, pred, average="micro"))


def test_class_without_positives_or_negatives_is_undefined_and_left_out():
    rng = np.random.default_rng(5)
    y, p = _multilabel(rng, 60, 4)
    y[:, 1], y[:, 3] = 0, 1
    m = compute_metrics(y, p, "multilabel", _names(4))
    assert m["undefined_auroc"] == ["c1", "c3"]
    assert m["per_class"]["c1"]["auroc"] is None and m["per_class"]["c3"]["auprc"] is None
    assert m["macro_auroc"] == pytest.approx(roc_auc_score(y[:, [0, 2]], p[:, [0, 2]], average="macro"))
    json.dumps(m, allow_nan=False)
    y[:] = 0
    empty = compute_metrics(y, p, "multilabel", _names(4))
    assert empty["macro_auroc"] is None and empty["fmax"] is None and empty["balanced_accuracy"] is None


def test_fmax_hand_computed():
    # Records {a, b} and {b}; p = (.8, .4) and (.6, .9). For t <= .4 both records decide both labels:
    # precision (1 + 1/2) / 2 = 3/4, recall 1 -> F = 6/7. For .6 < t <= .8: decisions {a} and {b}:
    # precision 1, recall (1/2 + 1) / 2 = 3/4 -> F = 6/7. No threshold does better.
    y = np.array([[1, 1], [0, 1]])
    p = np.array([[0.8, 0.4], [0.6, 0.9]])
    assert fmax(y, p) == pytest.approx(6 / 7)
    assert fmax(np.eye(2), np.array([[0.9, 0.2], [0.3, 0.7]])) == 1.0


def test_bad_inputs_raise_clear_errors():
    y, p = np.eye(3, dtype=np.uint8), np.full((3, 3), 1 / 3)
    with pytest.raises(EcglabError, match="same|one shape"):
        compute_metrics(y, p[:2], "multiclass", list("abc"))
    with pytest.raises(EcglabError, match="logits"):
        compute_metrics(y, p * 5, "multilabel", list("abc"))
    with pytest.raises(EcglabError, match="exactly one"):
        compute_metrics(np.ones((3, 3)), p, "multiclass", list("abc"))
    with pytest.raises(EcglabError, match="multilabel tasks only"):
        compute_metrics(y, p, "multiclass", list("abc"), thresholds=[0.5] * 3)
    with pytest.raises(EcglabError, match="one threshold per class"):
        compute_metrics(y, p, "multilabel", list("abc"), thresholds=[0.5] * 2)
    with pytest.raises(EcglabError, match="class names"):
        compute_metrics(y, p, "multilabel", list("ab"))
    with pytest.raises(EcglabError, match="kind"):
        compute_metrics(y, p, "binary", list("abc"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_bootstrap_ci_contains_point_and_narrows_with_more_data():
    rng = np.random.default_rng(0)

    def width(n):
        y = rng.integers(0, 2, n)
        p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
        point, low, high = bootstrap_ci(y, p, roc_auc_score, n_boot=200, seed=1)
        assert low <= point <= high
        return high - low

    assert width(2000) < width(100) / 2


def test_bootstrap_interval_contains_its_point_estimate_even_with_few_resamples():
    # the mean of [0, 1] is 0.5; seed 0's two resamples are rows [1, 1] and [1, 0] (means 1.0 and 0.5),
    # whose 95 % percentile interval alone is [0.5125, 0.9875], above the point
    values = np.array([0.0, 1.0])
    rng = np.random.default_rng(0)
    assert [values[rng.integers(0, 2, 2)].mean() for _ in range(2)] == [1.0, 0.5]
    point, low, high = bootstrap_ci(values, values, lambda y, p: float(np.mean(p)), n_boot=2, seed=0)
    assert (point, low, high) == (0.5, 0.5, pytest.approx(0.9875))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_bootstrap_ci_skips_undefined_resamples():
    # One positive in 20: about e^-1 of resamples miss it; roc_auc_score then gives NaN (older
    # scikit-learn raises ValueError) and the resample is skipped.
    y, p = np.r_[1, np.zeros(19, dtype=int)], np.linspace(1, 0, 20)
    point, low, high = bootstrap_ci(y, p, roc_auc_score, n_boot=100, seed=0)
    assert point == 1.0 and low == 1.0 and high == 1.0


def test_bootstrap_metrics_shares_resamples_and_is_reproducible():
    rng = np.random.default_rng(3)
    y, p = _multilabel(rng, 150, 4)
    first = bootstrap_metrics(y, p, "multilabel", _names(4), n_boot=40, seed=7)
    assert first == bootstrap_metrics(y, p, "multilabel", _names(4), n_boot=40, seed=7)
    point = compute_metrics(y, p, "multilabel", _names(4))
    for name in ("macro_auroc", "macro_auprc", "macro_f1"):
        entry = first[name]
        assert entry["value"] == point[name] and entry["low"] <= entry["value"] <= entry["high"]
        assert entry["n_resamples"] == 40
    with pytest.raises(EcglabError, match="scalar metric"):
        bootstrap_metrics(y, p, "multilabel", _names(4), names=("per_class",), n_boot=2)


def test_age_bands():
    labels = age_bands([12, 39.9, 40, 59, 60, 80, 95, np.nan, None])
    assert labels.tolist() == ["<40", "<40", "40-60", "40-60", "60-80", "80+", "80+", "unknown", "unknown"]


def test_metrics_by_group_matches_subsets():
    rng = np.random.default_rng(2)
    y, p = _multilabel(rng, 120, 3)
    sex = np.array(["F", "M"] * 55 + [None] * 10, dtype=object)
    ages = np.r_[rng.uniform(20, 90, 115), [np.nan] * 5]
    out = metrics_by_group(y, p, {"sex": sex, "age": age_bands(ages)}, "multilabel", _names(3), min_size=20)
    assert set(out["sex"]) == {"F", "M", "unknown"}
    women = compute_metrics(y[sex == "F"], p[sex == "F"], "multilabel", _names(3))
    assert out["sex"]["F"]["n"] == 55 and out["sex"]["F"]["macro_auroc"] == women["macro_auroc"]
    assert out["sex"]["unknown"] == {"n": 10, "macro_auroc": None, "macro_auprc": None, "macro_f1": None,
                                     "balanced_accuracy": None, "accuracy": None, "undefined_auroc": _names(3)}
    assert out["age"]["unknown"]["n"] == 5
    with pytest.raises(EcglabError, match="values for 120 records"):
        metrics_by_group(y, p, {"sex": sex[:10]}, "multilabel", _names(3))
