"""Evaluation: the metrics the field reports, thresholds, bootstrap CIs, calibration, plots, the run report.

Plain functions over ``y_true`` (N, C) 0/1 and ``y_prob`` (N, C) probabilities.
"""

from ecglab.evaluation.bootstrap import bootstrap_ci, bootstrap_metrics
from ecglab.evaluation.calibration import (apply_temperature, expected_calibration_error, fit_temperature,
                                           negative_log_likelihood, reliability_curve)
from ecglab.evaluation.groups import age_bands, metrics_by_group, record_groups
from ecglab.evaluation.metrics import compute_metrics, fmax
from ecglab.evaluation.plots import (plot_confusion, plot_learning_curves, plot_per_class_confusion, plot_pr,
                                     plot_reliability, plot_roc)
from ecglab.evaluation.report import write_report
from ecglab.evaluation.tables import aami_scores, aami_table, format_metrics_table
from ecglab.evaluation.thresholds import tune_thresholds

__all__ = [
    "aami_scores", "aami_table", "age_bands", "apply_temperature", "bootstrap_ci", "bootstrap_metrics", "compute_metrics",
    "expected_calibration_error", "fit_temperature", "fmax", "format_metrics_table", "metrics_by_group",
    "negative_log_likelihood", "plot_confusion", "plot_learning_curves", "plot_per_class_confusion", "plot_pr",
    "plot_reliability", "plot_roc", "record_groups", "reliability_curve", "tune_thresholds", "write_report",
]
