"""``ecglab cv``: leave-patients-out folds (patients disjoint, every pooled beat scored once), pooled
AAMI scores and confusion matrix, written as JSON and Markdown; the test split is never pooled."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecglab.cli import main
from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.datasets.core.registry import prepare
from ecglab.errors import ConfigError
from ecglab.training.config import load_config
from ecglab.training.cv import aami_scores, assign_folds, cross_validate


@pytest.fixture(scope="module")
def beats(tmp_path_factory):
    return prepare("synthetic", tmp_path_factory.mktemp("cv") / "beats", task="beat", n=8, progress=False)


def _config(beats, out, **changes):
    raw = {"name": "tiny", "out_dir": str(out),
           "data": {"path": str(beats.path), "batch_size": 64, "meta_features": ["rr_prev", "rr_next"]},
           "model": {"name": "kachuee", "hparams": {"filters": 4, "head_hidden": [4]}},
           "trainer": {"max_epochs": 1, "limit_train_batches": 3, "progress": False},
           "report": {"n_boot": 0}}
    return load_config(base=raw, overrides=[f"{k}={v}" for k, v in changes.items()])


def test_folds_hold_whole_patients_and_pool_every_training_beat_once(beats, tmp_path):
    result = cross_validate(_config(beats, tmp_path), folds=2, progress=False)
    report = json.loads((result.directory / "cv.json").read_text())
    meta = beats.meta
    pooled = meta["split"].isin(["train", "val"]).to_numpy()
    assert report["n_beats"] == pooled.sum() and report["pooled"]["n"] == pooled.sum()
    assert sum(fold["n"] for fold in report["per_fold"]) == pooled.sum()
    matrix = np.array(report["pooled"]["confusion_matrix"])
    assert matrix.sum() == pooled.sum()
    np.testing.assert_array_equal(matrix.sum(axis=1), np.asarray(beats.labels)[pooled].sum(axis=0))
    test_patients = []
    for fold in range(2):
        view = PreparedDataset(result.directory / "data" / f"fold-{fold}")
        splits = view.meta.groupby("patient_id")["split"].unique()
        assert splits.map(len).max() == 1  # no patient in two splits of a fold
        test_patients.append(set(view.meta.loc[view.meta["split"] == "test", "patient_id"]))
        assert set(view.meta.loc[~pooled, "split"]) == {"unused"}  # the dataset's test split is never pooled
    assert all(not a & b for i, a in enumerate(test_patients) for b in test_patients[i + 1:])
    assert set().union(*test_patients) == set(meta.loc[pooled, "patient_id"])
    markdown = result.markdown.read_text()
    assert "| **pooled** |" in markdown and "Pooled confusion matrix" in markdown


def test_aami_scores_by_hand():
    y_true = np.eye(5, dtype=np.uint8)[[0, 0, 0, 1, 1, 2]]
    y_prob = np.eye(5, dtype=np.float32)[[0, 0, 1, 1, 0, 2]]
    scores = aami_scores(y_true, y_prob, ["N", "S", "V", "F", "Q"])
    assert scores["per_class"]["S"]["se"] == 0.5 and scores["per_class"]["S"]["ppv"] == 0.5
    assert scores["per_class"]["N"]["se"] == pytest.approx(2 / 3) and scores["per_class"]["N"]["ppv"] == pytest.approx(2 / 3)
    assert scores["confusion_matrix"][0] == [2, 1, 0, 0, 0]


def test_folds_are_checked_and_grouped():
    patients = np.repeat(["a", "b", "c", "d"], 5)
    folds = assign_folds(patients, np.zeros(20, int), 2, seed=0)
    assert pd.Series(folds).groupby(patients).nunique().max() == 1 and set(folds) == {0, 1}
    with pytest.raises(ConfigError, match="at least 2 folds"):
        cross_validate(load_config(base={"data": {"path": "nowhere"}}), folds=1)
    assert main(["cv", "no-such-config.yaml"]) == 2


def test_trainer_monitor_val_loss_keeps_the_epoch_of_least_validation_loss(beats, tmp_path):
    import torch

    from ecglab.training.fit import train

    config = _config(beats, tmp_path, **{"trainer.max_epochs": 3, "trainer.patience": 3, "trainer.monitor": "val_loss",
                                         "trainer.limit_train_batches": 1.0})
    run = train(config)
    metrics = pd.read_csv(next(run.run_dir.rglob("metrics.csv"))).dropna(subset=["val_loss"])
    best = torch.load(run.run_dir / "checkpoints" / "best.ckpt", weights_only=True, map_location="cpu")
    assert len(metrics) == 3 and best["epoch"] == int(metrics.loc[metrics["val_loss"].idxmin(), "epoch"])
    callbacks = {key.split("{")[0]: state for key, state in best["callbacks"].items() if "'monitor': 'val_loss', 'mode': 'min'" in key}
    assert set(callbacks) == {"EarlyStopping", "ModelCheckpoint"}  # both follow the loss, downwards
    assert float(callbacks["ModelCheckpoint"]["best_model_score"]) == pytest.approx(metrics["val_loss"].min())


def test_ensemble_of_two_cvs_averages_their_fold_models_and_pools_like_cv(beats, tmp_path):
    from ecglab.experiments.ensemble import ensemble_cv

    small = cross_validate(_config(beats, tmp_path, name="small"), folds=2, progress=False)
    wider = cross_validate(_config(beats, tmp_path, name="wider", **{"model.hparams.filters": 6}), folds=2,
                           progress=False)
    result = ensemble_cv([small.directory, wider.directory], "mean", tmp_path / "both-cv")
    members = [np.load(cv.directory / "predictions.npz") for cv in (small, wider)]
    pooled = np.load(result.directory / "predictions.npz")
    np.testing.assert_array_equal(pooled["rows"], members[0]["rows"])
    np.testing.assert_allclose(pooled["y_prob"], (members[0]["y_prob"] + members[1]["y_prob"]) / 2, atol=1e-5)
    assert result.report["n_beats"] == small.report["n_beats"] and result.report["config"] == "mean ensemble of small + wider"
    assert all((result.directory / f"fold-{k}" / "bundle" / "bundle.json").is_file() for k in range(2))
    assert (result.directory / "data" / "fold-0" / "meta.parquet").is_file()  # what evaluate-beats reads the folds from
    other_folds = cross_validate(_config(beats, tmp_path, name="seed1", **{"trainer.seed": 1}), folds=2,
                                 progress=False)  # another seed deals other folds
    with pytest.raises(ConfigError, match="not dealt the same folds"):
        ensemble_cv([small.directory, other_folds.directory], "mean", tmp_path / "mixed-cv")


def test_cv_of_a_config_with_an_ensemble_section_cross_validates_each_member_then_ensembles_them(beats, tmp_path):
    from ecglab.experiments.ensemble import cross_validate_ensemble

    config = _config(beats, tmp_path, name="pair",
                     **{"ensemble.members": "[{}, {model.hparams.filters: 6, trainer.seed: 1}]"})  # same folds still
    result = cross_validate_ensemble(config, folds=2)
    assert result.directory == tmp_path / "pair-cv"
    members = [np.load(tmp_path / "pair-cv" / f"member-{k}-cv" / "predictions.npz") for k in range(2)]
    np.testing.assert_allclose(np.load(result.directory / "predictions.npz")["y_prob"],
                               (members[0]["y_prob"] + members[1]["y_prob"]) / 2, atol=1e-5)
    assert result.report["config"] == "mean ensemble of member-0 + member-1"


def test_a_rerun_reuses_finished_folds_but_rewrites_their_views_from_the_dataset(beats, tmp_path):
    import shutil

    data = tmp_path / "beats"
    shutil.copytree(beats.path, data)
    config = _config(PreparedDataset(data), tmp_path, name="views")
    first = cross_validate(config, folds=2, progress=False)
    stamp = (first.directory / "fold-0" / "predictions.npz").stat().st_mtime_ns
    meta = pd.read_parquet(data / "meta.parquet")
    meta["p_consistency"] = 0.5  # as when the dataset is prepared again by a newer ecglab, with a new column
    meta.to_parquet(data / "meta.parquet", index=False)
    cross_validate(config, folds=2, progress=False)
    assert (first.directory / "fold-0" / "predictions.npz").stat().st_mtime_ns == stamp  # not retrained
    view = pd.read_parquet(first.directory / "data" / "fold-0" / "meta.parquet")
    assert (view["p_consistency"] == 0.5).all()
