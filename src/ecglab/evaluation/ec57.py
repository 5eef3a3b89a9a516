"""Beat-by-beat comparison of detected and classified beats with reference annotations (ANSI/AAMI EC57).

A detected beat matches a reference beat when their R peaks lie within 150 ms of each other. Matching
is one-to-one and nearest first: the closest pair of all candidate pairs is matched, both beats are
then taken, and so on. Unmatched reference beats are missed (false negatives of detection), unmatched
detections are extra (false positives). The class confusion matrix has one more row and column than
there are classes: extra detections by their called class (last row) and reference beats by their
true class that were not detected (last column), so that they count against +P and Se as EC57 asks.

Pure numpy; the matching is :func:`ecglab.signal.rpeaks.match_beats` (which also labels the detected beats
of training data), the figures come from :func:`ecglab.evaluation.tables.aami_scores`.

"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ecglab.evaluation.tables import aami_scores
from ecglab.signal.rpeaks import TOLERANCE_S, match_beats

PACED_SYMBOL = "/"


def detection_counts(n_reference: int, n_detected: int, n_matched: int) -> dict:
    """QRS detection Se = TP / (TP + FN) and +P = TP / (TP + FP), as fractions (None where undefined)."""
    fn, fp = n_reference - n_matched, n_detected - n_matched
    return {"tp": n_matched, "fn": fn, "fp": fp,
            "se": n_matched / n_reference if n_reference else None,
            "ppv": n_matched / n_detected if n_detected else None}


def beat_confusion(ref_labels: Sequence, det_labels: Sequence, ref_idx, det_idx, classes: Sequence[str]) -> np.ndarray:
    """The (C + 1) x (C + 1) confusion counts: rows = reference class, then detections with no reference
    beat; columns = called class, then not detected. A detection whose call is not one of ``classes``
    (no class passed its threshold) counts as not detected. Reference beats whose label is not a class
    (e.g. MIT-BIH's unclassifiable ``?``) are matched, so their detections are not extra, but not counted."""
    n = len(classes)
    index = {str(c): i for i, c in enumerate(classes)}
    ref_rows = np.array([index.get(str(label), -1) for label in ref_labels], dtype=np.int64)
    det_cols = np.array([index.get(str(label), n) for label in det_labels], dtype=np.int64)
    matrix = np.zeros((n + 1, n + 1), dtype=np.int64)
    ref_idx, det_idx = np.asarray(ref_idx, np.int64), np.asarray(det_idx, np.int64)
    scored = ref_rows[ref_idx] >= 0
    np.add.at(matrix, (ref_rows[ref_idx][scored], det_cols[det_idx][scored]), 1)
    missed = np.ones(len(ref_rows), bool)
    missed[ref_idx] = False
    missed &= ref_rows >= 0
    np.add.at(matrix, (ref_rows[missed], n), 1)
    extra = np.ones(len(det_cols), bool)
    extra[det_idx] = False
    np.add.at(matrix, (n, det_cols[extra]), 1)
    return matrix


def compare_beats(ref_samples, ref_labels, det_samples, det_labels, fs: float, classes: Sequence[str],
                  tolerance_s: float = TOLERANCE_S) -> dict:
    """One record's comparison: ``detection`` counts and the ``confusion`` matrix of :func:`beat_confusion`."""
    ref_idx, det_idx = match_beats(ref_samples, det_samples, fs, tolerance_s)
    return {"detection": detection_counts(len(ref_samples), len(det_samples), len(ref_idx)),
            "confusion": beat_confusion(ref_labels, det_labels, ref_idx, det_idx, classes)}


def summarise(comparisons: Sequence[dict], classes: Sequence[str]) -> dict:
    """Gross figures over records: detection counts and confusion matrices summed, then Se / +P / F1."""
    tp, fn, fp = (sum(c["detection"][k] for c in comparisons) for k in ("tp", "fn", "fp"))
    confusion = np.sum([c["confusion"] for c in comparisons], axis=0) if comparisons else \
        np.zeros((len(classes) + 1,) * 2, np.int64)
    return {"detection": detection_counts(tp + fn, tp + fp, tp), "classes": aami_scores(confusion, classes),
            "confusion": confusion.tolist()}


def is_paced(symbols: Sequence[str]) -> bool:
    """Whether a record has paced beats, which EC57 leaves out of the comparison."""
    return PACED_SYMBOL in symbols
