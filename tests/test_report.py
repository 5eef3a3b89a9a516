"""write_report, the Markdown tables and the PNG figures."""

from __future__ import annotations

import io
import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from ecglab.errors import EcglabError
from ecglab.evaluation import (aami_scores, aami_table, compute_metrics, format_metrics_table, plot_confusion,
                               plot_learning_curves, plot_per_class_confusion, tune_thresholds, write_report)
from ecglab.evaluation.plots import epoch_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 200 and width > 200


# Written by Lightning 2.x's CSVLogger with a LearningRateMonitor (3 epochs, log_every_n_steps=3):
# one row per logging call, and the learning-rate rows carry a step but no epoch.
LIGHTNING_METRICS_CSV = """epoch,lr-AdamW,step,train_loss_epoch,train_loss_step,val_loss,val_macro_auroc
,0.001,0,,,,
0,,2,,0.88,,
0,,5,,1.50,,
0,,7,,,1.71,0.5
0,,7,1.72,,,
,0.0005,8,,,,
1,,8,,2.46,,
1,,11,,0.50,,
1,,14,,0.91,,
1,,15,,,1.70,0.6
1,,15,1.70,,,
,0.00025,16,,,,
2,,17,,1.58,,
2,,20,,3.07,,
2,,23,,,1.69,0.7
2,,23,1.69,,,
"""


def _lightning_history() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(LIGHTNING_METRICS_CSV))


def _multilabel(rng, n, n_classes):
    y = (rng.random((n, n_classes)) < 0.3).astype(np.uint8)
    return y, np.clip(0.4 * y + 0.6 * rng.random(y.shape), 0, 1)


def test_epoch_history_aggregates_sparse_rows():
    per_epoch = epoch_history(_lightning_history())
    assert per_epoch.index.tolist() == [0, 1, 2]
    assert "train_loss_step" not in per_epoch.columns  # its *_epoch twin is kept instead
    assert per_epoch["val_macro_auroc"].tolist() == pytest.approx([0.5, 0.6, 0.7])
    assert per_epoch["train_loss_epoch"].tolist() == pytest.approx([1.72, 1.70, 1.69])
    assert per_epoch["lr-AdamW"].tolist() == pytest.approx([1e-3, 5e-4, 2.5e-4])  # each rate in its own epoch
    with pytest.raises(EcglabError, match="'epoch' column"):
        epoch_history(pd.DataFrame({"step": [1], "val_loss": [0.3]}))


def test_multilabel_report_writes_every_file(tmp_path):
    rng = np.random.default_rng(0)
    classes = ["NORM", "MI", "STTC", "RARE"]
    y_val, p_val = _multilabel(rng, 80, 4)
    y, p = _multilabel(rng, 80, 4)
    y[:, 3] = 0  # no positive of RARE in the test set: its AUROC is undefined
    history_path = tmp_path / "metrics.csv"
    _lightning_history().to_csv(history_path, index=False)
    returned = write_report(tmp_path / "report", title="Tiny multilabel run", kind="multilabel", classes=classes,
                            y_true=y, y_prob=p, history=history_path, y_true_val=y_val, y_prob_val=p_val,
                            baseline={"name": "logistic regression on raw samples", "macro_auroc": 0.61},
                            extra={"model": "resnet1d", "epochs": np.int64(3), "lr": np.float32(1e-3)}, n_boot=20)
    out = tmp_path / "report"
    for name in ("roc.png", "pr.png", "confusion.png", "reliability.png", "learning_curves.png"):
        _assert_png(out / name)

    def reject(constant):
        raise AssertionError(f"metrics.json contains {constant}")

    saved = json.loads((out / "metrics.json").read_text(), parse_constant=reject)
    assert saved == returned
    assert saved["test"] == compute_metrics(y, p, "multilabel", classes)
    assert saved["thresholds"] == pytest.approx(tune_thresholds(y_val, p_val).tolist())
    assert saved["test_tuned"]["thresholds"] == saved["thresholds"]
    assert saved["test"]["per_class"]["RARE"]["auroc"] is None and saved["test"]["undefined_auroc"] == ["RARE"]
    boot = saved["bootstrap"]["metrics"]["macro_auroc"]
    assert boot["low"] <= saved["test"]["macro_auroc"] <= boot["high"]
    assert 0 <= saved["calibration"]["ece"] <= 1 and saved["extra"]["epochs"] == 3
    assert set(saved["validation"]) >= {"macro_auroc", "fmax", "macro_f1"}

    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# Tiny multilabel run")
    assert "logistic regression on raw samples" in markdown and "macro AUROC 0.610" in markdown
    assert "| RARE | 0 | — | — |" in markdown and "left out of the macro means: RARE" in markdown
    for name in ("roc.png", "pr.png", "confusion.png", "reliability.png", "learning_curves.png"):
        assert f"({name})" in markdown


def test_multiclass_beat_report_has_aami_table(tmp_path):
    rng = np.random.default_rng(1)
    classes = ["N", "S", "V", "F", "Q"]
    labels = rng.integers(0, 5, 120)
    logits = rng.normal(size=(120, 5)) + 2 * np.eye(5)[labels]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.eye(5, dtype=np.uint8)[labels]
    report = write_report(tmp_path, title="Beats", kind="multiclass", classes=classes, y_true=y, y_prob=p, n_boot=0)
    assert "bootstrap" not in report and "learning_curves" not in report["figures"]
    assert not (tmp_path / "learning_curves.png").exists()
    _assert_png(tmp_path / "confusion.png")
    markdown = (tmp_path / "report.md").read_text()
    assert "Se (%)" in markdown and "+P (%)" in markdown and "Decisions: argmax." in markdown
    with pytest.raises(EcglabError, match="multilabel tasks only"):
        write_report(tmp_path, title="Beats", kind="multiclass", classes=classes, y_true=y, y_prob=p,
                     thresholds_val=np.full(5, 0.5), n_boot=0)
    with pytest.raises(EcglabError, match="both y_true_val and y_prob_val"):
        write_report(tmp_path, title="Beats", kind="multiclass", classes=classes, y_true=y, y_prob=p, y_true_val=y)


def test_aami_table_hand_computed():
    # Rows true N S V: [8 1 1], [2 3 0], [0 0 5]. Se(N) = 8/10, +P(N) = 8/10; Se(S) = 3/5, +P(S) = 3/4;
    # Se(V) = 5/5, +P(V) = 5/6. Accuracy 16/20. F1 = 2 TP / (row + column): 16/20, 6/9, 10/11.
    table = aami_table([[8, 1, 1], [2, 3, 0], [0, 0, 5]], ["N", "S", "V"])
    lines = table.splitlines()
    assert lines[0] == "| true \\ predicted | N | S | V | Se (%) | +P (%) | F1 |"
    assert lines[2] == "| **N** | 8 | 1 | 1 | 80.00 | 80.00 | 0.800 |"
    assert lines[3] == "| **S** | 2 | 3 | 0 | 60.00 | 75.00 | 0.667 |"
    assert lines[4] == "| **V** | 0 | 0 | 5 | 100.00 | 83.33 | 0.909 |"
    assert table.endswith("Beats: 20; accuracy 80.00 %.")
    with pytest.raises(EcglabError, match="3 x 3"):
        aami_table(np.zeros((2, 2)), ["N", "S", "V"])
    with pytest.raises(EcglabError, match="confusion_matrix"):
        aami_table({"macro_f1": 0.5}, ["N", "S", "V"])


def test_aami_scores_leave_out_what_ec57_does_not_count_as_false_positives():
    # Rows true N S V F Q, then detections with no reference beat; last column: not detected. Called V: 2 N,
    # 1 S, 20 V, 4 F, 1 Q, 3 extra = 31, of which EC57 (bxb's VFP = Nv + Sv + Ov) leaves out the 4 F and 1 Q:
    # +P(V) = 20 / 26. Called S: 3 N, 10 S, 1 V, 1 F, 2 Q = 17, the 2 Q left out: +P(S) = 10 / 15.
    confusion = [[50, 3, 2, 0, 0, 1],
                 [4, 10, 1, 0, 0, 0],
                 [0, 1, 20, 0, 0, 2],
                 [1, 1, 4, 2, 0, 0],
                 [0, 2, 1, 0, 1, 0],
                 [0, 0, 3, 0, 0, 0]]
    scores = aami_scores(confusion, ["N", "S", "V", "F", "Q"])
    assert (scores["V"]["called"], scores["V"]["exempt"], scores["V"]["ppv"]) == (26, 5, 20 / 26)
    assert scores["V"]["se"] == 20 / 23 and scores["V"]["f1"] == 40 / 49
    assert (scores["S"]["called"], scores["S"]["exempt"], scores["S"]["ppv"]) == (15, 2, 10 / 15)
    assert (scores["N"]["called"], scores["N"]["exempt"]) == (55, 0)
    assert aami_table(confusion, ["N", "S", "V", "F", "Q"]).endswith(
        "As EC57 counts, +P leaves out the 2 Q beats called S and the 5 F or Q beats called V.")
    three = [row[:3] for row in confusion[:3]]  # without F and Q nothing is left out
    assert aami_scores(three, ["N", "S", "V"])["V"]["ppv"] == 20 / 23


def test_format_metrics_table_rows():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 1]], dtype=np.uint8)
    p = np.array([[0.9, 0.1], [0.6, 0.2], [0.4, 0.3], [0.2, 0.8]])
    table = format_metrics_table(compute_metrics(y, p, "multilabel", ["a", "b"]), ["a", "b"])
    assert table.splitlines() == [
        "| class | n | AUROC | AUPRC | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|",
        "| a | 2 | 0.750 | 0.833 | 0.500 | 0.500 | 0.500 |",
        "| b | 1 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |",
        "| **macro** | 4 | 0.875 | 0.917 | 0.750 | 0.750 | 0.750 |",
    ]


def test_plots_validate_and_draw(tmp_path):
    with pytest.raises(EcglabError, match="3 x 3"):
        plot_confusion(np.zeros((2, 2)), ["a", "b", "c"], tmp_path / "c.png")
    plot_confusion([[5, 1], [0, 0]], ["a", "b"], tmp_path / "c.png", normalize=True)  # an empty row stays 0
    _assert_png(tmp_path / "c.png")
    cells = np.array([[[5, 1], [2, 3]], [[9, 0], [1, 1]], [[4, 4], [1, 2]]])
    plot_per_class_confusion(cells, ["a", "b", "c"], tmp_path / "grid.png")
    _assert_png(tmp_path / "grid.png")
    with pytest.raises(EcglabError, match=r"\(3, 2, 2\)"):
        plot_per_class_confusion(cells[:2], ["a", "b", "c"], tmp_path / "grid.png")
    with pytest.raises(EcglabError, match="no numeric columns"):
        plot_learning_curves(pd.DataFrame({"epoch": [0, 1], "step": [5, 10]}), tmp_path / "lc.png")
