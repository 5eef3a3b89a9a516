"""Beat-by-beat comparison of detected and classified beats with reference annotations (ANSI/AAMI EC57).

A detected beat matches a reference beat when their R peaks lie within 150 ms of each other. Matching
is one-to-one and nearest first: the closest pair of all candidate pairs is matched, both beats are
then taken, and so on. Unmatched reference beats are missed (false negatives of detection), unmatched
detections are extra (false positives). The class confusion matrix has one more row and column than
there are classes: extra detections by their called class (last row) and reference beats by their
true class that were not detected (last column), so that they count against +P and Se as EC57 asks.
Episodes of ventricular flutter or fibrillation that the reference marks (``[`` to ``]``) are left out, as
EC57 and its reference implementation, WFDB's ``bxb``, leave them out: the reference's annotations inside
them are ignored, and a detection inside them that matches no reference beat is not counted.

Pure numpy; the matching is :func:`ecglab.signal.rpeaks.match_beats` (which also labels the detected beats
of training data), the figures come from :func:`ecglab.evaluation.tables.aami_scores`.

"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ecglab.evaluation.tables import aami_scores
from ecglab.signal.rpeaks import TOLERANCE_S, match_beats

PACED_SYMBOL = "/"
FLUTTER_ON, FLUTTER_OFF = "[", "]"


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
                  tolerance_s: float = TOLERANCE_S, flutter=()) -> dict:
    """One record's comparison: ``detection`` counts and the ``confusion`` matrix of :func:`beat_confusion`.
    ``flutter``: the reference's ventricular flutter episodes, (start, end) sample pairs (:func:`flutter_spans`)."""
    ref_samples, det_samples = np.asarray(ref_samples, np.int64), np.asarray(det_samples, np.int64)
    kept = ~_inside(ref_samples, flutter)
    ref_samples, ref_labels = ref_samples[kept], [label for label, k in zip(ref_labels, kept) if k]
    ref_idx, det_idx = match_beats(ref_samples, det_samples, fs, tolerance_s)
    uncounted = _inside(det_samples, flutter)
    uncounted[det_idx] = False
    det_idx = np.cumsum(~uncounted)[det_idx] - 1  # the matched detections' places among those counted
    det_samples, det_labels = det_samples[~uncounted], [label for label, u in zip(det_labels, uncounted) if not u]
    return {"detection": detection_counts(len(ref_samples), len(det_samples), len(ref_idx)),
            "confusion": beat_confusion(ref_labels, det_labels, ref_idx, det_idx, classes),
            "flutter_s": float(sum(end - start for start, end in flutter) / fs)}


def flutter_spans(samples, symbols: Sequence[str], n_samples: int) -> list[tuple[int, int]]:
    """The reference's episodes of ventricular flutter or fibrillation, ``[`` to ``]`` (to the record's last
    sample, ``n_samples - 1``, where one is left open), as (start, end) samples."""
    spans, start = [], None
    for sample, symbol in zip(np.asarray(samples, np.int64).tolist(), symbols):
        if symbol == FLUTTER_ON and start is None:
            start = sample
        elif symbol == FLUTTER_OFF and start is not None:
            spans.append((start, sample))
            start = None
    if start is not None:
        spans.append((start, n_samples - 1))
    return spans


def _inside(samples: np.ndarray, spans) -> np.ndarray:
    inside = np.zeros(len(samples), bool)
    for start, end in spans:
        inside |= (samples >= start) & (samples <= end)
    return inside


def summarise(comparisons: Sequence[dict], classes: Sequence[str]) -> dict:
    """Gross figures over records: detection counts and confusion matrices summed, then Se / +P / F1."""
    tp, fn, fp = (sum(c["detection"][k] for c in comparisons) for k in ("tp", "fn", "fp"))
    confusion = np.sum([c["confusion"] for c in comparisons], axis=0) if comparisons else \
        np.zeros((len(classes) + 1,) * 2, np.int64)
    return {"detection": detection_counts(tp + fn, tp + fp, tp), "classes": aami_scores(confusion, classes),
            "confusion": confusion.tolist(), "flutter_s": sum(c.get("flutter_s", 0.0) for c in comparisons)}


def is_paced(symbols: Sequence[str]) -> bool:
    """Whether a record has paced beats, which EC57 leaves out of the comparison."""
    return PACED_SYMBOL in symbols
