"""Metrics within subgroups of records (sex, age band, site ...), to see whom a model serves worse."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ecglab.errors import EcglabError
from ecglab.evaluation.metrics import compute_metrics, validate_predictions

GROUP_METRICS = ("macro_auroc", "macro_auprc", "macro_f1", "balanced_accuracy", "accuracy")
UNKNOWN = "unknown"


def age_bands(ages, edges: Sequence[float] = (40, 60, 80)) -> np.ndarray:
    """Label each age with its band: ``"<40"``, ``"40-60"``, ``"60-80"``, ``"80+"`` for the default edges.

    A band includes its lower edge (60 is "60-80"). Missing ages (NaN, None) are ``"unknown"``.
    """
    ages = pd.to_numeric(pd.Series(np.asarray(ages, dtype=object).ravel()), errors="coerce").to_numpy(dtype=np.float64)
    edges = list(edges)
    if edges != sorted(edges) or not edges:
        raise EcglabError(f"age band edges must be a non-empty increasing sequence; got {edges}.")
    names = [f"<{edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in zip(edges, edges[1:])] + [f"{edges[-1]:g}+"]
    labels = np.array(names, dtype=object)[np.searchsorted(edges, ages, side="right")]
    labels[np.isnan(ages)] = UNKNOWN
    return labels.astype(str)


def _group_labels(values, n_records: int, name: str) -> np.ndarray:
    values = pd.Series(np.asarray(values, dtype=object).ravel())
    if len(values) != n_records:
        raise EcglabError(f"group {name!r} has {len(values)} values for {n_records} records.")
    return values.where(values.notna(), UNKNOWN).astype(str).to_numpy()


def metrics_by_group(y_true, y_prob, groups: Mapping[str, np.ndarray], kind: str, classes: Sequence[str],
                     thresholds=None, min_size: int = 20) -> dict[str, dict[str, dict]]:
    """``{group_name: {value: {"n", macro_auroc, macro_auprc, macro_f1, balanced_accuracy, accuracy, undefined_auroc}}}``.

    Missing group values are ``"unknown"``. A subgroup with fewer than ``min_size`` records gets
    None for every metric (too few to say anything); a single-class subgroup gets AUROC None.
    """
    y_true, y_prob = validate_predictions(y_true, y_prob, kind, classes)
    out: dict[str, dict[str, dict]] = {}
    for group_name, values in groups.items():
        labels = _group_labels(values, len(y_true), group_name)
        out[group_name] = {}
        for value in sorted(set(labels)):
            members = labels == value
            entry: dict = {"n": int(members.sum())}
            if entry["n"] < min_size:
                entry.update({name: None for name in GROUP_METRICS}, undefined_auroc=list(map(str, classes)))
            else:
                metrics = compute_metrics(y_true[members], y_prob[members], kind, classes, thresholds)
                entry.update({name: metrics[name] for name in GROUP_METRICS}, undefined_auroc=metrics["undefined_auroc"])
            out[group_name][value] = entry
    return out


def record_groups(meta: pd.DataFrame) -> dict[str, np.ndarray]:
    """The subgroups a report shows for these meta rows: ``sex`` and ``age band`` where known."""
    groups = {}
    if "sex" in meta.columns and meta["sex"].notna().any():
        groups["sex"] = meta["sex"].to_numpy()
    if "age" in meta.columns and pd.to_numeric(meta["age"], errors="coerce").notna().any():
        groups["age band"] = age_bands(meta["age"].to_numpy())
    return groups
