"""Training end to end on a tiny learnable dataset: fit, report, bundle, determinism, transfer, resume, DDP."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from ecglab.datasets.core.prepared import write_prepared
from ecglab.errors import ConfigError
from ecglab.inference.bundle import load_bundle
from ecglab.training.config import validate_config
from ecglab.training.fit import train


def toy_dataset(path, n=96, kind="multilabel", length=200, n_leads=2):
    """Class A: a 10 Hz burst in lead 0; class B: a positive offset in lead 1 (multiclass: one of 3)."""
    rng = np.random.default_rng(0)
    t = np.arange(length) / 100.0
    signals = rng.normal(0, 0.3, size=(n, n_leads, length)).astype(np.float32)
    if kind == "multilabel":
        labels = (rng.random((n, 2)) < 0.4).astype(np.uint8)
        classes = ["A", "B"]
    else:
        labels = np.eye(3, dtype=np.uint8)[rng.integers(0, 3, n)]
        classes = ["A", "B", "C"]
    signals[:, 0] += labels[:, [0]] * np.sin(2 * np.pi * 10 * t)
    signals[:, -1] += labels[:, [1]] * 1.0
    patients = np.arange(n) // 2
    meta = pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "patient_id": patients,
                         "split": np.array(["train", "train", "train", "val", "test"])[patients % 5],
                         "age": rng.integers(20, 90, n), "sex": rng.choice(["M", "F"], n)})
    leads = ["I", "II"] if n_leads == 2 else ["MLII"]
    return write_prepared(path, signals, labels, meta, name=f"toy-{kind}", kind=kind, classes=classes, fs=100.0, leads=leads)


def toy_config(tmp_path, data_path, **sections):
    raw = {"name": "toy", "out_dir": str(tmp_path / "runs"),
           "data": {"path": str(data_path), "window": 100, "eval_stride": 50, "batch_size": 16},
           "model": {"name": "resnet1d", "hparams": {"width": 16}},
           "optim": {"lr": 0.01}, "trainer": {"max_epochs": 4, "patience": 10, "progress": False},
           "report": {"n_boot": 20}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value) if isinstance(value, dict) else raw.__setitem__(key, value)
    return validate_config(raw)


@pytest.fixture(scope="module")
def multilabel_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "toy"
    toy_dataset(path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, multilabel_data):
    tmp = tmp_path_factory.mktemp("run")
    return train(toy_config(tmp, multilabel_data, data={"meta_features": ["age", "sex"]})), tmp


def test_run_directory_layout_and_quality(trained):
    result, _ = trained
    run = result.run_dir
    for relative in ["config.yaml", "checkpoints/best.ckpt", "checkpoints/last.ckpt", "logs/metrics.csv",
                     "report/metrics.json", "report/report.md", "predictions.npz", "bundle/model.safetensors", "bundle/bundle.json"]:
        assert (run / relative).exists(), relative
    assert list((run / "logs" / "tb").glob("events.out.tfevents.*"))
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    assert metrics["test"]["macro_auroc"] > 0.85 and metrics["test_tuned"]["macro_f1"] is not None
    history = pd.read_csv(run / "logs" / "metrics.csv")
    assert history["val_macro_auroc"].notna().sum() == 4


def test_bundle_describes_the_run_and_reproduces_predictions(trained, multilabel_data):
    result, _ = trained
    model, spec = load_bundle(result.bundle_dir)
    assert spec.architecture == "resnet1d" and spec.model_kwargs == {"width": 16}
    assert spec.classes == ["A", "B"] and spec.input_length == 100 and spec.window_stride == 50
    assert [f.name for f in spec.meta_features] == ["age", "sex"] and len(spec.thresholds) == 2
    stored = np.load(result.run_dir / "predictions.npz")
    from ecglab.inputs.metadata import meta_matrix
    from ecglab.datasets.core.prepared import PreparedDataset
    from ecglab.training.scoring import windowed_probabilities

    ds = PreparedDataset(multilabel_data)
    index = ds.split_indices("test")
    x = torch.from_numpy(np.asarray(ds.signals[index]))
    meta = torch.from_numpy(meta_matrix(ds.meta.iloc[index], spec.meta_features))
    with torch.inference_mode():
        probs = windowed_probabilities(model, x, meta, spec.kind, 100, 50, "mean").numpy()
    np.testing.assert_allclose(probs, stored["p_test"], atol=1e-5)


def test_same_seed_same_weights(tmp_path, multilabel_data):
    cfg = toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 1})
    first = load_bundle(train(cfg).bundle_dir)[0].state_dict()
    second = load_bundle(train(cfg.model_copy(update={"name": "again"})).bundle_dir)[0].state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_multiclass_with_focal_loss_class_weights_and_plateau(tmp_path):
    data = tmp_path / "mc"
    toy_dataset(data, kind="multiclass", length=187, n_leads=1)
    cfg = toy_config(tmp_path, data, data={"window": None, "eval_stride": None, "balanced_sampling": True},
                     model={"name": "kachuee", "hparams": {}}, loss={"name": "focal", "gamma": 2.0, "class_weights": True},
                     optim={"scheduler": "plateau", "lr": 0.003}, trainer={"max_epochs": 3})
    result = train(cfg)
    assert result.metrics["confusion_matrix"] and len(result.metrics["confusion_matrix"]) == 3
    assert load_bundle(result.bundle_dir)[1].thresholds is None  # multiclass decides by argmax


def test_transfer_with_frozen_trunk_and_new_head(tmp_path, trained):
    result, _ = trained
    data = tmp_path / "three"
    ds = toy_dataset(data, kind="multiclass")
    cfg = toy_config(tmp_path, data, name="transfer", model={"name": "resnet1d", "init_from": str(result.bundle_dir), "freeze": "trunk"},
                     data={"meta_features": ["age", "sex"]}, trainer={"max_epochs": 1})
    source, _ = load_bundle(result.bundle_dir)
    run = train(cfg)
    tuned, spec = load_bundle(run.bundle_dir)
    assert spec.classes == ds.classes and spec.architecture == "resnet1d" and spec.model_kwargs == {"width": 16}
    for name, value in source.trunk.state_dict().items():  # weights and BatchNorm statistics alike
        assert torch.equal(value, tuned.trunk.state_dict()[name]), name
    assert tuned.head[-1].out_features == 3
    assert yaml.safe_load((run.run_dir / "config.yaml").read_text())["model"]["hparams"] == {"width": 16}
    with pytest.raises(ConfigError, match="Leave model.name and model.hparams out"):
        train(toy_config(tmp_path, data, name="clash", model={"name": "kachuee", "init_from": str(result.bundle_dir)}))


def test_existing_run_needs_resume_and_resume_needs_checkpoint(tmp_path, trained, multilabel_data):
    result, run_tmp = trained
    with pytest.raises(ConfigError, match="already holds a run"):
        train(toy_config(run_tmp, multilabel_data))
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(toy_config(tmp_path, multilabel_data), resume=True)


def _cli(*args, env=None, **kwargs):
    env = {**(env or os.environ), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ecglab.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, **kwargs)


def _write_config(tmp_path, cfg):
    path = tmp_path / "config.yaml"
    path.write_text(cfg.to_yaml())
    return path


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_finishes(tmp_path, multilabel_data):
    cfg = toy_config(tmp_path, multilabel_data, data={"batch_size": 4},
                     trainer={"max_epochs": 6, "checkpoint_every_n_steps": 3}, model={"hparams": {"width": 64}})
    path = _write_config(tmp_path, cfg)
    step_ckpt = cfg.run_dir / "checkpoints" / "step.ckpt"
    proc = _cli("train", str(path))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if step_ckpt.exists() and (cfg.run_dir / "checkpoints" / "last.ckpt").exists():
            break
        time.sleep(0.2)
    time.sleep(0.5)
    assert proc.poll() is None, "training finished before it could be killed; make the toy run longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cfg.run_dir / "bundle").exists()
    resumed = _cli("train", str(path), "--resume")
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    assert (cfg.run_dir / "bundle" / "bundle.json").exists()
    history = pd.read_csv(cfg.run_dir / "logs" / "metrics.csv")
    epochs = sorted(history.loc[history["val_macro_auroc"].notna(), "epoch"].astype(int).unique())
    assert epochs == list(range(6))  # every epoch validated once: nothing lost, nothing repeated


NOISE = ("Epoch 0/", "v_num", "_tb", "eval mode", "sync_dist", "Warning", "resumable")


def test_a_training_screen_counts_epochs_from_one_and_shows_no_lightning_noise(tmp_path, trained):
    """A frozen trunk (BatchNorm in eval mode on purpose) with the progress bar on, then resumed for one more epoch."""
    result, _ = trained
    data = tmp_path / "three"
    toy_dataset(data, kind="multiclass")
    cfg = toy_config(tmp_path, data, model={"name": "resnet1d", "init_from": str(result.bundle_dir), "freeze": "trunk"},
                     data={"meta_features": ["age", "sex"]}, trainer={"max_epochs": 1, "progress": True},
                     optim={"scheduler": "plateau"})  # a schedule that lets a resumed run grow longer
    path = _write_config(tmp_path, cfg)
    for args, epochs in [((), "Epoch 1/1"), (("--resume", "--set", "trainer.max_epochs=2"), "Epoch 2/2")]:
        proc = _cli("train", str(path), *args, env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output
        assert epochs in output
        assert not [noise for noise in NOISE if noise in output], output


@pytest.mark.slow
def test_ddp_on_two_cpu_processes(tmp_path, multilabel_data):
    cfg = toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 1})
    proc = _cli("train", str(_write_config(tmp_path, cfg)), "--devices", "2", "--strategy", "ddp")
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert "sync_dist" not in output
    assert (cfg.run_dir / "bundle" / "bundle.json").exists()
    assert yaml.safe_load((cfg.run_dir / "config.yaml").read_text())["trainer"]["devices"] == 2


def test_two_stage_autoencoder_from_one_config(tmp_path, multilabel_data):
    cfg = toy_config(tmp_path, multilabel_data, model={"name": "autoencoder_mlp", "hparams": {}, "pretrain_epochs": 1},
                     trainer={"max_epochs": 1})
    result = train(cfg)
    model, spec = load_bundle(result.bundle_dir)
    assert spec.architecture == "autoencoder_mlp"
    history = pd.read_csv(result.run_dir / "logs" / "metrics.csv")
    assert history["pretrain_loss_epoch"].notna().sum() == 1 and history["val_macro_auroc"].notna().sum() == 1
    with pytest.raises(ConfigError, match="has no pretraining stage"):
        train(toy_config(tmp_path, multilabel_data, name="nope", model={"pretrain_epochs": 2}))


def test_rejected_settings_leave_no_run_directory(tmp_path, multilabel_data):
    for sections, message in [({"trainer": {"accelerator": "gpu"}}, "Lightning rejected the trainer settings"),
                              ({"data": {"test_split": "nosuch"}}, "not a split of"),
                              ({"model": {"hparams": {"width": "abc"}}}, "cannot be built")]:
        cfg = toy_config(tmp_path, multilabel_data, name="rejected", **sections)
        with pytest.raises(ConfigError, match=message):
            train(cfg)
        assert not cfg.run_dir.exists()


def test_resume_refuses_a_changed_model_but_allows_more_epochs(tmp_path, multilabel_data):
    cfg = toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 1}, optim={"scheduler": "plateau"})
    train(cfg)
    changed = toy_config(tmp_path, multilabel_data, model={"hparams": {"width": 32}}, trainer={"max_epochs": 2},
                         optim={"scheduler": "plateau"})
    with pytest.raises(ConfigError, match=r"model.hparams: \{'width': 16\} → \{'width': 32\}"):
        train(changed, resume=True)
    assert "width: 16" in (cfg.run_dir / "config.yaml").read_text()  # the record of the run is untouched
    with pytest.raises(ConfigError, match="one-cycle"):
        train(toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 2}), resume=True)
    longer = train(toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 2}, optim={"scheduler": "plateau"}), resume=True)
    history = pd.read_csv(longer.run_dir / "logs" / "metrics.csv")
    assert sorted(history.loc[history["val_macro_auroc"].notna(), "epoch"].astype(int)) == [0, 1]


def test_last_checkpoint_is_written_every_epoch(tmp_path, multilabel_data):
    cfg = toy_config(tmp_path, multilabel_data, optim={"lr": 1e-9}, trainer={"max_epochs": 3})  # no improvement after epoch 0
    result = train(cfg)
    last = torch.load(result.run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 2


def test_balanced_weights_give_unlabelled_records_a_share():
    from ecglab.training.data import balanced_weights

    labels = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(balanced_weights(labels), [1 / 3, 1 / 3, 1 / 3, 1.0, 1.0])


def test_balanced_sampling_at_power_one_half_draws_classes_by_the_square_root_of_their_counts():
    from ecglab.training.config import DataConfig
    from ecglab.training.data import balanced_weights

    labels = np.array([[1, 0]] * 4 + [[0, 1]])
    weights = balanced_weights(labels, 0.5)
    np.testing.assert_allclose(weights, [0.5] * 4 + [1.0])
    assert weights[:4].sum() / weights[4] == 2.0  # 4 beats against 1: drawn 2 to 1, not 4 to 1 (or 1 to 1 at power 1)
    assert DataConfig(path="x", balanced_sampling="0.5").balanced_sampling == 0.5
    for wrong in (1.5, 0, "often"):
        with pytest.raises(ValueError, match=r"expected true, false or a power in \(0, 1\]"):
            DataConfig(path="x", balanced_sampling=wrong)


def test_database_weights_shift_draws_between_databases_and_keep_classes_balanced():
    from ecglab.training.data import balanced_weights, database_weights

    meta = pd.DataFrame({"database": ["mitbih", "mitbih", "svdb", "svdb", "svdb", "svdb"]})
    base = database_weights(meta, {"svdb": 0.5})
    np.testing.assert_allclose(base, [1, 1, 0.5, 0.5, 0.5, 0.5])  # four svdb beats drawn as often as two mitbih
    assert database_weights(meta, {}) is None
    labels = np.array([[1, 0], [0, 1], [1, 0], [1, 0], [1, 0], [0, 1]])
    weights = balanced_weights(labels, 1.0, base)
    # class 0: 1 + 3 * 0.5 = 2.5 weighted beats, class 1: 1 + 0.5 = 1.5; each class's draws sum to one
    np.testing.assert_allclose(weights, [1 / 2.5, 1 / 1.5, 0.5 / 2.5, 0.5 / 2.5, 0.5 / 2.5, 0.5 / 1.5])
    np.testing.assert_allclose([weights[labels[:, k] == 1].sum() for k in (0, 1)], [1.0, 1.0])
    with pytest.raises(ConfigError, match=r"names \['mitdb'\].*examples come from \['mitbih', 'svdb'\]"):
        database_weights(meta, {"mitdb": 2.0})
    with pytest.raises(ConfigError, match="no database column"):
        database_weights(pd.DataFrame({"age": [1]}), {"svdb": 0.5})
    from ecglab.training.config import DataConfig

    with pytest.raises(ValueError, match="expected a positive weight per database, found {'svdb': 0.0}"):
        DataConfig(path="x", database_weights={"svdb": 0})


def test_a_last_batch_of_one_does_not_break_batchnorm(tmp_path):
    data = tmp_path / "odd"
    ds = toy_dataset(data, n=106)
    cfg = toy_config(tmp_path, data, data={"batch_size": len(ds.split_indices("train")) - 1}, trainer={"max_epochs": 1})
    assert train(cfg).bundle_dir.exists()


def test_exponential_decay_follows_the_kachuee_schedule(tmp_path, multilabel_data):
    from ecglab.training.config import OptimConfig
    from ecglab.training.module import ECGModule

    module = ECGModule(torch.nn.Linear(2, 2), "multilabel", torch.nn.BCEWithLogitsLoss(),
                       OptimConfig(name="adam", lr=1e-3, scheduler="exponential", decay_rate=0.75, decay_steps=4), 100, 100)
    setup = module.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    for _ in range(8):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.75 ** 2)


def test_compiled_training_gives_an_ordinary_bundle_and_augmentation_trains(tmp_path, multilabel_data):
    from ecglab.inference.predictor import Predictor

    cfg = toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 2, "compile": True},
                     data={"augment": {"amplitude": 0.1, "noise": 0.05, "baseline": 0.1, "lead_dropout": 0.2}})
    result = train(cfg)
    model, spec = load_bundle(result.bundle_dir)  # an uncompiled model: same parameter names
    assert not any("_orig_mod" in key for key in model.state_dict())
    assert result.metrics["macro_auroc"] > 0.6
    record_probs = Predictor.load(result.bundle_dir).predict_proba(np.zeros((2, 2, 100), np.float32))
    assert record_probs.shape == (2, 2) and np.isfinite(record_probs).all()


def test_half_precision_training_logs_a_finite_epoch_loss_and_evaluates(tmp_path, multilabel_data):
    import pandas as pd

    cfg = toy_config(tmp_path, multilabel_data, trainer={"max_epochs": 1, "precision": "bf16-true"})
    result = train(cfg)
    history = pd.read_csv(result.run_dir / "logs" / "metrics.csv")
    epoch_loss = history["train_loss_epoch"].dropna()
    assert len(epoch_loss) == 1 and np.isfinite(epoch_loss).all() and 0 < float(epoch_loss.iloc[0]) < 5
    assert 0 <= result.metrics["macro_auroc"] <= 1
