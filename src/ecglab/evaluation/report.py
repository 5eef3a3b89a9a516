"""The evaluation report of a run: metrics.json, report.md and the PNG figures in one directory."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ecglab.datasets.core.aami import AAMI_CLASSES
from ecglab.errors import EcglabError
from ecglab.evaluation import plots
from ecglab.evaluation.bootstrap import DEFAULT_NAMES, bootstrap_metrics
from ecglab.evaluation.calibration import (TEMPERATURE_BOUNDS, apply_temperature, expected_calibration_error,
                                           fit_temperature, negative_log_likelihood)
from ecglab.evaluation.groups import metrics_by_group
from ecglab.evaluation.metrics import compute_metrics, validate_predictions
from ecglab.evaluation.tables import (HEADLINE_NAMES, aami_table, fmt, format_metrics_table, group_table,
                                      headline_table)
from ecglab.evaluation.thresholds import tune_thresholds

ALPHA = 0.05


def to_jsonable(obj):
    """Plain JSON types: numpy scalars and arrays unwrapped, NaN and infinities as None."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _logits(y_prob: np.ndarray, kind: str) -> np.ndarray:
    """Logits that give ``y_prob`` back: log-probabilities (softmax ignores the constant) or log-odds."""
    p = np.clip(np.asarray(y_prob, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) if kind == "multiclass" else np.log(p) - np.log1p(-p)


def _at_bound(logits: np.ndarray, y_true: np.ndarray, kind: str, temperature: float) -> bool:
    """Whether the optimum lies at or beyond a bound of the search: the likelihood at the nearer bound is no worse
    than at the fitted T (the NLL is convex in 1/T; the search stops short of a bound where it is flat)."""
    nearer = min(TEMPERATURE_BOUNDS, key=lambda bound: abs(np.log(bound / temperature)))
    return bool(negative_log_likelihood(logits, y_true, kind, nearer)
                <= negative_log_likelihood(logits, y_true, kind, temperature))


def _read_history(history) -> pd.DataFrame | None:
    if history is None or isinstance(history, pd.DataFrame):
        return history
    path = Path(history)
    if not path.is_file():
        raise EcglabError(f"training history {path} not found; expected Lightning's CSVLogger metrics.csv.")
    return pd.read_csv(path)


def _baseline_line(baseline: Mapping, test: Mapping) -> str:
    name = baseline.get("name", "baseline")
    parts = []
    for key, label in HEADLINE_NAMES.items():
        if key in baseline and baseline[key] is not None and test.get(key) is not None:
            delta = test[key] - baseline[key]
            parts.append(f"{label} {fmt(baseline[key])} (this model {fmt(test[key])}, {delta:+.3f})")
    return f"**Baseline** ({name}): " + ("; ".join(parts) if parts else "no comparable metric given.")


def _markdown(report: Mapping, classes: Sequence[str], figures: Mapping[str, str]) -> str:
    test, tuned = report["test"], report.get("test_tuned")
    kind = report["kind"]
    lines = [f"# {report['title']}", "",
             f"{kind.capitalize()} task, {len(classes)} classes, {test['n_records']} test records. "
             + ("Decisions: argmax." if kind == "multiclass" else
                "Decisions: probability >= 0.5" + (", and validation-tuned per-class thresholds." if tuned else ".")),
             "", "## Headline", "",
             headline_table(test, report.get("bootstrap", {}).get("metrics"), tuned), ""]
    if "bootstrap" in report:
        b = report["bootstrap"]
        lines += [f"95 % CIs: percentile bootstrap over records, {b['n_boot']} resamples (seed {b['seed']}), "
                  "widened where needed to contain the point estimate.", ""]
    if test["undefined_auroc"]:
        lines += [f"AUROC/AUPRC undefined (no positives or no negatives in the test set), left out of the macro "
                  f"means: {', '.join(test['undefined_auroc'])}.", ""]
    if "baseline" in report:
        lines += [_baseline_line(report["baseline"], test), ""]
    calibration = report["calibration"]
    lines += [f"Calibration: ECE {fmt(calibration['ece'])} ({calibration['n_bins']} bins, {calibration['confidence']})"
              + (f"; after temperature scaling (T = {calibration['temperature']:.3f}, fitted on validation) "
                 f"ECE {fmt(calibration['ece_temperature_scaled'])}." if "temperature" in calibration else "."), ""]
    if calibration.get("temperature_at_bound"):
        lines += [f"**Warning:** the fitted temperature is at the edge of its search range {list(TEMPERATURE_BOUNDS)}: "
                  "the validation likelihood improves all the way to the bound, so T is not a fitted optimum and the "
                  "scaled ECE is that of an arbitrary T (typical of an undertrained model, e.g. after one epoch).", ""]
    per_class_source = tuned or test
    lines += ["## Per class" + (" (validation-tuned thresholds)" if tuned else ""), "",
              format_metrics_table(per_class_source, classes), "", "## Confusion", ""]
    if kind == "multiclass" and list(classes) == AAMI_CLASSES:
        lines += ["AAMI EC57 beat classes:", "", aami_table(test, classes), ""]
    lines += [f"![confusion]({figures['confusion']})", ""]
    if report.get("groups"):
        lines += ["## Subgroups", "", "Metrics within each group of test records (— where a group has too few "
                  "records or a single class).", "", group_table(report["groups"]), ""]
    lines += ["## Figures", ""]
    lines += [f"![{name}]({path})\n" for name, path in figures.items() if name != "confusion"]
    if "extra" in report:
        lines += ["", "## Run details", ""]
        lines += [f"- **{key}**: {json.dumps(value, default=str)}" for key, value in report["extra"].items()]
    return "\n".join(lines) + "\n"


def _draw_figures(out_dir: Path, kind: str, classes, y_true, y_prob, decided: Mapping, history, n_bins: int) -> dict:
    figures = {"roc": "roc.png", "pr": "pr.png", "confusion": "confusion.png", "reliability": "reliability.png"}
    plots.plot_roc(y_true, y_prob, classes, out_dir / figures["roc"])
    plots.plot_pr(y_true, y_prob, classes, out_dir / figures["pr"])
    if kind == "multiclass":
        plots.plot_confusion(decided["confusion_matrix"], classes, out_dir / figures["confusion"],
                             title="Confusion matrix (rows normalised by true class)")
    else:
        plots.plot_per_class_confusion(decided["per_class_confusion"], classes, out_dir / figures["confusion"])
    plots.plot_reliability(y_true, y_prob, out_dir / figures["reliability"], n_bins, kind)
    if history is not None:
        figures["learning_curves"] = "learning_curves.png"
        plots.plot_learning_curves(history, out_dir / figures["learning_curves"])
    return figures


def write_report(out_dir, *, title: str, kind: str, classes: Sequence[str], y_true, y_prob,
                 thresholds_val=None, history=None, baseline: Mapping | None = None, extra: Mapping | None = None,
                 y_true_val=None, y_prob_val=None, n_boot: int = 200, seed: int = 0, n_bins: int = 15,
                 groups: Mapping[str, np.ndarray] | None = None, temperature_scaling: bool = False) -> dict:
    """Evaluate test predictions and write ``metrics.json``, ``report.md`` and the PNGs into ``out_dir``.

    ``thresholds_val``: per-class multilabel thresholds tuned on validation data; when absent but
    validation predictions are given, they are tuned here with :func:`tune_thresholds`.
    ``history``: Lightning's metrics.csv (a DataFrame or its path) for the learning curves.
    ``baseline``: e.g. ``{"name": "logistic regression on raw samples", "macro_auroc": 0.71}``.
    ``n_boot`` 0 skips the bootstrap. ``groups``: a value per test record for each grouping
    (e.g. sex, age band), reported by :func:`metrics_by_group`. ``temperature_scaling``: fit a
    temperature on the validation predictions (Guo et al. 2017) and report the test ECE after it.
    Returns the dict written to metrics.json.
    """
    y_true, y_prob = validate_predictions(y_true, y_prob, kind, classes)
    classes = [str(c) for c in classes]
    if (y_true_val is None) != (y_prob_val is None):
        raise EcglabError("give both y_true_val and y_prob_val, or neither.")
    if y_true_val is not None:
        y_true_val, y_prob_val = validate_predictions(y_true_val, y_prob_val, kind, classes)
        if thresholds_val is None and kind == "multilabel":
            thresholds_val = tune_thresholds(y_true_val, y_prob_val)

    report: dict = {"title": title, "kind": kind, "classes": classes, "n_records": int(len(y_true)),
                    "test": compute_metrics(y_true, y_prob, kind, classes)}
    if thresholds_val is not None:
        report["test_tuned"] = compute_metrics(y_true, y_prob, kind, classes, thresholds_val)
        report["thresholds"] = np.asarray(thresholds_val, dtype=np.float64).tolist()
    if n_boot > 0:
        report["bootstrap"] = {"n_boot": n_boot, "seed": seed, "alpha": ALPHA, "method": "percentile",
                               "metrics": bootstrap_metrics(y_true, y_prob, kind, classes, DEFAULT_NAMES,
                                                            n_boot=n_boot, seed=seed, alpha=ALPHA)}
    report["calibration"] = {"ece": expected_calibration_error(y_true, y_prob, n_bins, kind), "n_bins": n_bins,
                             "confidence": "top-label" if kind == "multiclass" else "all class probabilities pooled"}
    if temperature_scaling:
        if y_true_val is None:
            raise EcglabError("temperature scaling needs validation predictions (y_true_val, y_prob_val) to fit on.")
        logits_val = _logits(y_prob_val, kind)
        temperature = fit_temperature(logits_val, y_true_val, kind)
        scaled = apply_temperature(_logits(y_prob, kind), temperature, kind)
        report["calibration"].update(temperature=temperature,
                                     temperature_at_bound=_at_bound(logits_val, y_true_val, kind, temperature),
                                     ece_temperature_scaled=expected_calibration_error(y_true, scaled, n_bins, kind))
    if groups:
        report["groups"] = metrics_by_group(y_true, y_prob, groups, kind, classes, thresholds_val)
    if y_true_val is not None:
        validation = compute_metrics(y_true_val, y_prob_val, kind, classes)
        report["validation"] = {k: validation[k] for k in HEADLINE_NAMES if k in validation}
    if baseline is not None:
        report["baseline"] = dict(baseline)
    if extra is not None:
        report["extra"] = dict(extra)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report["figures"] = _draw_figures(out_dir, kind, classes, y_true, y_prob, report.get("test_tuned", report["test"]),
                                      _read_history(history), n_bins)
    report = to_jsonable(report)
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    (out_dir / "report.md").write_text(_markdown(report, classes, report["figures"]))
    return report
