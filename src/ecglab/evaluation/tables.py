"""Markdown tables of metrics, for report.md and for the CLI to print."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ecglab.errors import EcglabError

HEADLINE_NAMES = {
    "macro_auroc": "macro AUROC",
    "macro_auprc": "macro AUPRC",
    "fmax": "Fmax (sample-centred)",
    "macro_f1": "macro F1",
    "micro_f1": "micro F1",
    "macro_precision": "macro precision",
    "macro_recall": "macro recall",
    "balanced_accuracy": "balanced accuracy",
    "accuracy": "accuracy",
    "subset_accuracy": "subset accuracy (exact match)",
    "hamming_loss": "Hamming loss",
}
THRESHOLD_FREE = ("macro_auroc", "macro_auprc", "fmax")


def fmt(value, digits: int = 3) -> str:
    """A number for a table; an em dash for an undefined (None) value."""
    return "—" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def format_metrics_table(metrics: Mapping, classes: Sequence[str]) -> str:
    """Per-class AUROC, AUPRC, precision, recall, F1 and support from :func:`compute_metrics`, with a macro row."""
    per_class = metrics["per_class"]
    rows = []
    for name in classes:
        m = per_class[str(name)]
        rows.append([str(name), str(m["support"])] + [fmt(m[k]) for k in ("auroc", "auprc", "precision", "recall", "f1")])
    rows.append(["**macro**", str(metrics["n_records"])]
                + [fmt(metrics[k]) for k in ("macro_auroc", "macro_auprc", "macro_precision", "macro_recall", "macro_f1")])
    return _table(["class", "n", "AUROC", "AUPRC", "precision", "recall", "F1"], rows)


def headline_table(test: Mapping, bootstrap: Mapping | None = None, tuned: Mapping | None = None) -> str:
    """The headline metrics: test value, its bootstrap 95 % CI where computed, and the tuned-threshold value."""
    header = ["metric", "test", "95 % CI"] + (["test, validation-tuned thresholds"] if tuned else [])
    rows = []
    for key, label in HEADLINE_NAMES.items():
        if key not in test:
            continue
        ci = (bootstrap or {}).get(key)
        interval = f"{fmt(ci['low'])} – {fmt(ci['high'])}" if ci and ci["low"] is not None else ""
        tuned_cell = ("same" if key in THRESHOLD_FREE else fmt(tuned[key])) if tuned else None
        rows.append([label, fmt(test[key]), interval] + ([tuned_cell] if tuned else []))
    return _table(header, rows)


# ANSI/AAMI EC57 (as bxb, its reference implementation, counts): a fusion or unclassifiable beat called V is
# not a false positive of V, nor an unclassifiable beat called S one of S. Published inter-patient results follow it.
EC57_NOT_FALSE_POSITIVE = {"V": ("F", "Q"), "S": ("Q",)}


def aami_scores(confusion, classes: Sequence[str]) -> dict[str, dict]:
    """Each class's AAMI EC57 figures from a confusion matrix (rows = true, columns = predicted).

    Se = TP / (TP + FN) along the row, +P = TP / (TP + FP) down the column, F1 their harmonic mean,
    as fractions (None where undefined). The matrix may be C x C or carry one more row and column,
    as a beat-by-beat comparison counts them (``ecglab.evaluation.ec57``): detections that match no
    reference beat (last row) count against +P, reference beats not detected (last column) against Se.
    Calls that EC57 does not count as false positives (:data:`EC57_NOT_FALSE_POSITIVE`: F or Q beats
    called V, Q beats called S) are left out of ``called`` and counted in ``exempt``; the +P that counts
    them is ``tp / (called + exempt)``.
    """
    matrix = np.asarray(confusion, dtype=np.int64)
    n = len(classes)
    if matrix.shape not in ((n, n), (n + 1, n + 1)):
        raise EcglabError(f"expected a {n} x {n} confusion matrix (or {n + 1} x {n + 1} with missed and extra "
                          f"beats); got shape {matrix.shape}.")
    index = {str(name): c for c, name in enumerate(classes)}
    scores = {}
    for c, name in enumerate(classes):
        exempt_rows = [index[e] for e in EC57_NOT_FALSE_POSITIVE.get(str(name), ()) if e in index]
        exempt = int(matrix[exempt_rows, c].sum())
        hits, support, called = int(matrix[c, c]), int(matrix[c].sum()), int(matrix[:, c].sum()) - exempt
        se = hits / support if support else None
        ppv = hits / called if called else None
        f1 = 2 * hits / (support + called) if support + called else None
        scores[str(name)] = {"se": se, "ppv": ppv, "f1": f1, "support": support, "called": called, "tp": hits,
                             "exempt": exempt}
    return scores


def _percent(fraction):
    return None if fraction is None else 100 * fraction


def aami_table(metrics_or_confusion, classes: Sequence[str]) -> str:
    """The AAMI EC57 beat report: the confusion counts with each class's Se, +P (percent) and F1.

    Accepts the multiclass :func:`compute_metrics` dict or a confusion matrix (rows = true) as
    :func:`aami_scores` takes it; an extra last row and column are shown as beats not detected and
    detections without a reference beat.
    """
    if isinstance(metrics_or_confusion, Mapping):
        if "confusion_matrix" not in metrics_or_confusion:
            raise EcglabError("the AAMI table needs multiclass metrics with a 'confusion_matrix'; none was found.")
        metrics_or_confusion = metrics_or_confusion["confusion_matrix"]
    matrix = np.asarray(metrics_or_confusion, dtype=np.int64)
    scores = aami_scores(matrix, classes)
    extra = matrix.shape[0] > len(classes)
    rows = []
    for c, name in enumerate(classes):
        s = scores[str(name)]
        rows.append([f"**{name}**"] + [str(v) for v in matrix[c]]
                    + [fmt(_percent(s["se"]), 2), fmt(_percent(s["ppv"]), 2), fmt(s["f1"])])
    if extra:
        rows.append(["no reference beat"] + [str(v) for v in matrix[-1]] + ["", "", ""])
    header = ["true \\ predicted", *map(str, classes)] + (["not detected"] if extra else []) + ["Se (%)", "+P (%)", "F1"]
    hits = np.trace(matrix[:len(classes), :len(classes)])
    accuracy = 100 * hits / max(matrix.sum(), 1)
    exempt = [f"{scores[name]['exempt']} {' or '.join(EC57_NOT_FALSE_POSITIVE[name])} beats called {name}"
              for name in map(str, classes) if scores[name]["exempt"]]
    counted = f" As EC57 counts, +P leaves out the {' and the '.join(exempt)}." if exempt else ""
    return f"{_table(header, rows)}\n\nBeats: {int(matrix.sum())}; accuracy {accuracy:.2f} %.{counted}"


def group_table(groups: Mapping[str, Mapping[str, Mapping]]) -> str:
    """One row per subgroup of :func:`metrics_by_group`'s result: its size and headline metrics."""
    names = ("macro_auroc", "macro_auprc", "macro_f1", "balanced_accuracy")
    rows = [[group, str(value), str(entry["n"])] + [fmt(entry.get(name)) for name in names]
            for group, values in groups.items() for value, entry in values.items()]
    return _table(["group", "value", "n"] + [HEADLINE_NAMES[name] for name in names], rows)
