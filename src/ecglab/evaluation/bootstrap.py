"""Percentile bootstrap confidence intervals over records (Efron & Tibshirani 1993).

Records are resampled with replacement; a resample on which the metric is undefined (None, NaN,
or scikit-learn's ValueError for a single-class column) is skipped, as in the PTB-XL benchmark
(Strodthoff et al. 2021), which keeps only resamples where every class still has a positive.

An interval always contains its point estimate: the percentile bounds are widened to it where they
miss it. With few resamples (or a skewed metric near its bound, such as an AUROC near 1) the
(alpha/2, 1 - alpha/2) quantiles of the resamples can both lie on one side of the value on all
records, and an interval that excludes its own estimate reads as a contradiction, not as uncertainty.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from ecglab.errors import EcglabError
from ecglab.evaluation.metrics import compute_metrics, validate_predictions

DEFAULT_NAMES = ("macro_auroc", "macro_auprc", "macro_f1")


def _defined(value) -> bool:
    return value is not None and bool(np.isfinite(value))


def _resamples(n_records: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    if n_boot < 1:
        raise EcglabError(f"n_boot must be at least 1; got {n_boot}.")
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n_records, n_records)


def _interval(values: list[float], alpha: float, point: float | None) -> tuple[float | None, float | None]:
    """The percentile interval of ``values``, widened to contain ``point`` (when it is defined)."""
    if not 0 < alpha < 1:
        raise EcglabError(f"alpha must lie in (0, 1); got {alpha}.")
    if not values:
        return None, None
    low, high = (float(q) for q in np.quantile(values, [alpha / 2, 1 - alpha / 2]))
    if _defined(point):
        low, high = min(low, float(point)), max(high, float(point))
    return low, high


def bootstrap_ci(y_true, y_prob, metric: Callable[..., float | None], n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05, **kw) -> tuple[float | None, float | None, float | None]:
    """``(point, low, high)``: the metric on all records and its (1 - alpha) percentile interval
    (widened to contain ``point``).

    ``metric(y_true, y_prob, **kw) -> float`` (e.g. a macro AUROC). Bounds are None when no
    resample gives a defined value.
    """
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    if len(y_true) != len(y_prob) or len(y_true) == 0:
        raise EcglabError(f"y_true and y_prob must have the same non-zero number of records; "
                          f"got {len(y_true)} and {len(y_prob)}.")

    def evaluate(idx) -> float | None:
        try:
            value = metric(y_true[idx], y_prob[idx], **kw)
        except ValueError:
            return None
        return float(value) if _defined(value) else None

    point = evaluate(slice(None))
    values = [v for v in map(evaluate, _resamples(len(y_true), n_boot, seed)) if v is not None]
    return (point, *_interval(values, alpha, point))


def bootstrap_metrics(y_true, y_prob, kind: str, classes: Sequence[str], names: Sequence[str] = DEFAULT_NAMES,
                      n_boot: int = 1000, seed: int = 0, alpha: float = 0.05,
                      thresholds=None) -> dict[str, dict]:
    """``{name: {"value", "low", "high", "n_resamples"}}`` for keys of :func:`compute_metrics`.

    All names share the same resamples. A resample is kept only if it leaves the same classes
    with an undefined AUROC as the full data, so every macro mean averages the same classes.
    """
    y_true, y_prob = validate_predictions(y_true, y_prob, kind, classes)
    full = compute_metrics(y_true, y_prob, kind, classes, thresholds)
    unknown = [n for n in names if n not in full or isinstance(full[n], (dict, list))]
    if unknown:
        scalars = sorted(k for k, v in full.items() if isinstance(v, (int, float)) or v is None)
        raise EcglabError(f"cannot bootstrap {unknown}; expected scalar metric names among {scalars}.")
    samples: dict[str, list[float]] = {name: [] for name in names}
    for idx in _resamples(len(y_true), n_boot, seed):
        resampled = compute_metrics(y_true[idx], y_prob[idx], kind, classes, thresholds)
        if resampled["undefined_auroc"] != full["undefined_auroc"]:
            continue
        for name in names:
            if _defined(resampled[name]):
                samples[name].append(float(resampled[name]))
    out = {}
    for name in names:
        low, high = _interval(samples[name], alpha, full[name])
        out[name] = {"value": full[name], "low": low, "high": high, "n_resamples": len(samples[name])}
    return out
