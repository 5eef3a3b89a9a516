"""The metrics the ECG literature reports, from plain arrays, as a JSON-ready dict.

Inputs follow the PreparedDataset contract: ``y_true`` (N, C) multi-hot (multilabel) or one-hot
(multiclass) and ``y_prob`` (N, C) sigmoid or softmax probabilities. Everything is computed from
per-class counts and ranked scores in numpy, so one call costs milliseconds even for 71 PTB-XL
statements; that keeps per-epoch validation and bootstrap resampling fast. The tests check every
figure against scikit-learn.

Definitions where the field is not unanimous:

* multiclass decisions are the argmax; multilabel decisions are ``y_prob >= threshold`` per class
  (0.5 unless validation-tuned thresholds are given).
* ``macro_precision`` / ``macro_recall`` / ``macro_f1`` average over all classes with a 0 where a
  ratio is 0/0 (scikit-learn's ``zero_division=0``).
* ``balanced_accuracy``: multiclass, the mean recall over classes present in ``y_true``
  (scikit-learn's ``balanced_accuracy_score``); multilabel, the mean over classes of
  (sensitivity + specificity) / 2, over the classes that have both positives and negatives.
* ``accuracy``: multiclass, the fraction of correct argmax decisions; multilabel, the fraction
  of correct label decisions (1 - Hamming loss). ``subset_accuracy`` is the exact-match rate.
* ``fmax``: the sample-centred maximum F-measure over thresholds 0, 0.01, ..., 1 that Strodthoff
  et al. (2021, "Deep learning for ECG analysis: benchmarks and insights from PTB-XL") report,
  defined as in CAFA (Radivojac et al. 2013): precision averaged over the records with at least
  one positive decision, recall over the records with at least one true label.
* A class without positives or without negatives has AUROC and AUPRC ``None``; it is left out
  of the macro means and listed in ``undefined_auroc``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ecglab.errors import EcglabError

TASK_KINDS = ("multiclass", "multilabel")
FMAX_THRESHOLDS = np.linspace(0.0, 1.0, 101)


def validate_predictions(y_true, scores, kind: str, classes: Sequence[str] | None = None,
                         probabilities: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and values at the boundary; return ``(y_true as uint8, scores as float64)``."""
    if kind not in TASK_KINDS:
        raise EcglabError(f"kind must be one of {TASK_KINDS}; got {kind!r}.")
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if y_true.ndim != 2 or scores.shape != y_true.shape:
        raise EcglabError(f"y_true and the scores must both be (records, classes) arrays of one shape; "
                          f"got {y_true.shape} and {scores.shape}.")
    if y_true.shape[0] == 0:
        raise EcglabError("there are no records to evaluate (y_true has 0 rows).")
    if classes is not None and len(classes) != y_true.shape[1]:
        raise EcglabError(f"{len(classes)} class names were given for {y_true.shape[1]} columns.")
    if not np.isin(y_true, (0, 1)).all():
        raise EcglabError(f"y_true must be 0/1 multi-hot or one-hot; found values {np.unique(y_true)[:10].tolist()}.")
    if kind == "multiclass" and not (y_true.sum(axis=1) == 1).all():
        bad = int((y_true.sum(axis=1) != 1).sum())
        raise EcglabError(f"multiclass y_true must have exactly one 1 per row; {bad} rows do not.")
    if not np.isfinite(scores).all():
        raise EcglabError(f"scores contain {int((~np.isfinite(scores)).sum())} NaN or infinite values.")
    if probabilities and (scores.min() < -1e-6 or scores.max() > 1 + 1e-6):
        raise EcglabError(f"y_prob must hold probabilities in [0, 1]; found values from {scores.min():.3g} "
                          f"to {scores.max():.3g} (were logits passed instead of probabilities?).")
    return y_true.astype(np.uint8), scores


def ranked_counts(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(thresholds, tp, fp)``: the cumulative counts when predicting ``score >= t`` for each distinct t, high to low."""
    order = np.argsort(-score)  # order within ties is irrelevant: only the counts at the end of each tie are kept
    score, y = score[order], y[order].astype(np.int64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tp = np.cumsum(y)[last_of_tie]
    return score[last_of_tie], tp, last_of_tie + 1 - tp


def roc_curve_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(fpr, tpr)`` from (0, 0) to (1, 1), or None when ``y`` lacks positives or negatives."""
    return _roc_from_counts(*ranked_counts(y, score)[1:])


def pr_curve_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(recall, precision)`` per distinct threshold, high to low, or None when ``y`` lacks positives or negatives."""
    return _pr_from_counts(*ranked_counts(y, score)[1:])


def _roc_from_counts(tp, fp):
    if tp[-1] == 0 or fp[-1] == 0:
        return None
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


def _pr_from_counts(tp, fp):
    if tp[-1] == 0 or fp[-1] == 0:
        return None
    return tp / tp[-1], tp / (tp + fp)


def _auroc_from_counts(tp, fp) -> float | None:
    curve = _roc_from_counts(tp, fp)
    if curve is None:
        return None
    fpr, tpr = curve
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _auprc_from_counts(tp, fp) -> float | None:
    curve = _pr_from_counts(tp, fp)
    if curve is None:
        return None
    recall, precision = curve
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_auroc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (trapezoidal, ties counted half), None when undefined."""
    return _auroc_from_counts(*ranked_counts(y, score)[1:])


def binary_auprc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision, sum over thresholds of (R_n - R_n-1) P_n as scikit-learn defines it; None when undefined."""
    return _auprc_from_counts(*ranked_counts(y, score)[1:])


def fmax(y_true: np.ndarray, y_prob: np.ndarray, thresholds: np.ndarray = FMAX_THRESHOLDS) -> float | None:
    """Sample-centred Fmax (CAFA; Strodthoff et al. 2021); None when no record has a true label.

    ``thresholds`` must be increasing. Per record and threshold, the decisions and true positives
    are counted at once from a histogram of each record's probabilities over the thresholds.
    """
    positives = np.asarray(y_true).astype(bool)
    n_records, n_thresholds = positives.shape[0], len(thresholds)
    n_true = positives.sum(axis=1)
    labelled = n_true > 0
    if not labelled.any():
        return None
    level = np.searchsorted(thresholds, y_prob, side="right") - 1  # highest k with thresholds[k] <= p
    kept = level >= 0
    cell = (np.arange(n_records)[:, None] * n_thresholds + level)[kept]

    def at_or_above(weights):  # (records, thresholds): how many weighted probabilities are >= each threshold
        hist = np.bincount(cell, weights[kept], minlength=n_records * n_thresholds).reshape(n_records, n_thresholds)
        return hist[:, ::-1].cumsum(axis=1)[:, ::-1]

    n_decided = at_or_above(np.ones(positives.shape))
    tp = at_or_above(positives.astype(np.float64))
    covered = n_decided > 0
    n_covered = covered.sum(axis=0)
    precision = _ratio(_ratio(tp, n_decided).sum(axis=0), n_covered)
    recall = (tp[labelled] / n_true[labelled, None]).mean(axis=0)
    f = _ratio(2 * precision * recall, precision + recall)
    return float(f[n_covered > 0].max(initial=0.0))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _mean_or_none(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _decisions(y_prob: np.ndarray, kind: str, thresholds) -> tuple[np.ndarray, np.ndarray | None]:
    """Binary (N, C) decisions and the thresholds used (None for argmax)."""
    n_classes = y_prob.shape[1]
    if kind == "multiclass":
        if thresholds is not None:
            raise EcglabError("thresholds apply to multilabel tasks only; multiclass decisions are the argmax.")
        return np.eye(n_classes, dtype=bool)[y_prob.argmax(axis=1)], None
    thresholds = np.full(n_classes, 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (n_classes,):
        raise EcglabError(f"expected one threshold per class ({n_classes}); got an array of shape {thresholds.shape}.")
    return y_prob >= thresholds, thresholds


def multiclass_confusion(y_true: np.ndarray, y_prob: np.ndarray) -> np.ndarray:
    """Counts (C, C): rows the true class (one-hot ``y_true``), columns the most probable one."""
    n_classes = y_true.shape[1]
    truth, predicted = np.asarray(y_true).argmax(axis=1), np.asarray(y_prob).argmax(axis=1)
    return np.bincount(truth * n_classes + predicted, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def compute_metrics(y_true, y_prob, kind: str, classes: Sequence[str], thresholds=None) -> dict:
    """All test metrics for one task as a JSON-serialisable dict (no NaN: undefined values are None).

    See the module docstring for the definitions. ``thresholds`` (one per class) sets the
    multilabel decisions; multiclass decisions are always the argmax.
    """
    y_true, y_prob = validate_predictions(y_true, y_prob, kind, classes)
    decided, thresholds = _decisions(y_prob, kind, thresholds)
    positives = y_true.astype(bool)
    n_records = len(y_true)
    tp = (decided & positives).sum(axis=0)
    fp = (decided & ~positives).sum(axis=0)
    fn = (~decided & positives).sum(axis=0)
    tn = n_records - tp - fp - fn
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    specificity, f1 = _ratio(tn, tn + fp), _ratio(2 * tp, 2 * tp + fp + fn)
    counts = [ranked_counts(positives[:, c], y_prob[:, c])[1:] for c in range(len(classes))]
    aurocs = [_auroc_from_counts(*count) for count in counts]
    auprcs = [_auprc_from_counts(*count) for count in counts]

    per_class = {}
    for c, name in enumerate(classes):
        entry = {"auroc": aurocs[c], "auprc": auprcs[c], "precision": float(precision[c]),
                 "recall": float(recall[c]), "f1": float(f1[c]), "support": int(tp[c] + fn[c])}
        if kind == "multiclass":
            entry["sensitivity"], entry["positive_predictive_value"] = entry["recall"], entry["precision"]
        else:
            entry["specificity"] = float(specificity[c])
        per_class[str(name)] = entry

    out = {
        "kind": kind,
        "n_records": n_records,
        "macro_auroc": _mean_or_none(aurocs),
        "macro_auprc": _mean_or_none(auprcs),
        "undefined_auroc": [str(name) for name, a in zip(classes, aurocs) if a is None],
        "per_class": per_class,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "micro_f1": float(_ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum())),
    }
    if kind == "multiclass":
        confusion = multiclass_confusion(y_true, y_prob)
        present = tp + fn > 0
        out["balanced_accuracy"] = float(recall[present].mean())
        out["accuracy"] = float(np.trace(confusion) / n_records)
        out["confusion_matrix"] = confusion.tolist()
        out["confusion_matrix_normalized"] = _ratio(confusion, confusion.sum(axis=1, keepdims=True)).tolist()
    else:
        both = (tp + fn > 0) & (tn + fp > 0)
        out["balanced_accuracy"] = float(((recall + specificity) / 2)[both].mean()) if both.any() else None
        out["accuracy"] = float((decided == positives).mean())
        out["subset_accuracy"] = float((decided == positives).all(axis=1).mean())
        out["hamming_loss"] = float((decided != positives).mean())
        out["fmax"] = fmax(positives, y_prob)
        out["per_class_confusion"] = {str(name): [[int(tn[c]), int(fp[c])], [int(fn[c]), int(tp[c])]]
                                      for c, name in enumerate(classes)}
        out["thresholds"] = thresholds.tolist()
    return out
