"""Ensembles: mean = mean of the members' probabilities, stacking fitted on validation, one bundle that predicts."""

import importlib.util
import json

import numpy as np
import pytest
import torch

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.datasets.core.registry import prepare
from ecglab.errors import ConfigError, EcglabError
from ecglab.evaluation import compute_metrics
from ecglab.experiments.ensemble import build_ensemble, check_members, load_member, stacking_weights
from ecglab.inference.bundle import load_bundle
from ecglab.inference.predictor import Predictor
from ecglab.inputs.alike import AlikeBeats
from ecglab.training.config import validate_config
from ecglab.training.evaluate import bundle_predictions
from ecglab.training.fit import train


def run_config(tmp, data, name, model, hparams):
    return validate_config({
        "name": name, "out_dir": str(tmp / "runs"), "data": {"path": str(data), "batch_size": 64},
        "model": {"name": model, "hparams": hparams}, "optim": {"lr": 0.003},
        "trainer": {"max_epochs": 1, "progress": False}, "report": {"n_boot": 10}})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensemble")
    data = tmp / "beats"
    prepare("synthetic", data, task="beat", n=9, progress=False)
    first = train(run_config(tmp, data, "kachuee", "kachuee", {"filters": 8, "head_hidden": [16]})).run_dir
    second = train(run_config(tmp, data, "cnn", "cnn", {"filters": [8, 8, 8], "head_hidden": [16]})).run_dir
    return tmp, data, first, second


def npz(run_dir):
    with np.load(run_dir / "predictions.npz") as archive:
        return {k: archive[k] for k in archive.files}


def test_mean_ensemble_is_the_mean_of_the_members_probabilities(runs):
    tmp, data, first, second = runs
    result = build_ensemble([first, second], "mean", tmp / "mean", n_boot=10)
    a, b, ensemble = npz(first), npz(second), npz(result.run_dir)
    for key in ("p_val", "p_test"):
        np.testing.assert_allclose(ensemble[key], (a[key] + b[key]) / 2, atol=1e-5)
    np.testing.assert_array_equal(ensemble["y_test"], a["y_test"])
    report = json.loads((result.report_dir / "metrics.json").read_text())
    expected = compute_metrics(a["y_test"], ensemble["p_test"], "multiclass", ["N", "S", "V", "F", "Q"])
    assert report["test"]["macro_auroc"] == pytest.approx(expected["macro_auroc"])
    assert "AAMI EC57" in (result.report_dir / "report.md").read_text()


def test_ensemble_bundle_round_trip_and_predictor(runs):
    tmp, data, first, second = runs
    result = build_ensemble([first, second], "stacking", tmp / "stacked", n_boot=10)
    model, spec = load_bundle(result.bundle_dir)
    assert spec.architecture == "ensemble" and spec.model_kwargs["method"] == "stacking"
    assert [m["architecture"] for m in spec.model_kwargs["members"]] == ["kachuee", "cnn"]
    assert (result.bundle_dir / "model.safetensors").is_file() and len(list(result.bundle_dir.iterdir())) == 2
    _, p_test = bundle_predictions(model, spec, PreparedDataset(data), "test")
    np.testing.assert_array_equal(p_test, npz(result.run_dir)["p_test"])  # the reloaded bundle predicts the same

    x = np.array(PreparedDataset(data).signals[:7], dtype=np.float32)
    members = [Predictor.load(run / "bundle").predict_proba(x) for run in (first, second)]
    mean = Predictor.load(build_ensemble([first, second], "mean", tmp / "mean-2", n_boot=0).bundle_dir).predict_proba(x)
    np.testing.assert_allclose(mean, (members[0] + members[1]) / 2, atol=1e-5)  # what `ecglab predict` computes


def test_ensemble_exports_to_onnx(runs, tmp_path):
    pytest.importorskip("onnxruntime")
    from ecglab.inference.onnx import OnnxModel, export_onnx

    tmp, _, first, second = runs
    model, spec = load_bundle(build_ensemble([first, second], "mean", tmp / "mean-onnx", n_boot=0).bundle_dir)
    path = export_onnx(model, tmp_path / "ensemble.onnx", n_leads=1, input_length=spec.input_length)
    x = torch.randn(3, 1, spec.input_length)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(OnnxModel(path)(x.numpy()), expected, atol=1e-4)


def test_members_must_agree(runs):
    _, _, first, second = runs
    a, b = load_member(first), load_member(second)
    b.spec = b.spec.model_copy(update={"classes": ["N", "S", "V", "F", "X"]})
    with pytest.raises(ConfigError, match="differ in classes"):
        check_members([a, b])
    b = load_member(second)
    b.predictions["val_records"] = b.predictions["val_records"][::-1]
    with pytest.raises(ConfigError, match="different val records"):
        check_members([a, b])
    with pytest.raises(ConfigError, match="at least two"):
        check_members([a])
    with pytest.raises(EcglabError, match="not a finished run directory"):
        load_member(first / "report")


def _auroc(y, p, kind="multiclass"):
    return compute_metrics(y, p, kind, [str(c) for c in range(y.shape[1])])["macro_auroc"]


def test_stacking_learns_which_member_to_trust():
    """Member A knows classes 0 and 1 apart, member B is noise: stacking must do at least as well as the worse
    member and, here, about as well as A (known answer: the label is readable from A alone)."""
    rng = np.random.default_rng(0)

    def member_probs(y, informative):
        logits = rng.normal(0, 1, y.shape) + (3.0 * y if informative else 0.0)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    y_val, y_test = (np.eye(3, dtype=np.uint8)[rng.integers(0, 3, n)] for n in (600, 600))
    val = [member_probs(y_val, True), member_probs(y_val, False)]
    test = [member_probs(y_test, True), member_probs(y_test, False)]
    weight, bias = stacking_weights(val, y_val, "multiclass")
    logits = np.concatenate(test, axis=1) @ weight.T + bias
    stacked = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    good, noise = _auroc(y_test, test[0]), _auroc(y_test, test[1])
    assert noise < 0.6 < 0.9 < good
    assert _auroc(y_test, stacked) >= min(good, noise)
    assert _auroc(y_test, stacked) >= good - 0.01
    assert np.abs(weight[:, :3]).sum() > 5 * np.abs(weight[:, 3:]).sum()  # A's columns carry the weight


def test_stacking_handles_classes_validation_cannot_fit():
    rng = np.random.default_rng(1)
    y = np.eye(3, dtype=np.uint8)[rng.integers(0, 2, 200)]  # class 2 never occurs
    weight, bias = stacking_weights([rng.random((200, 3)), rng.random((200, 3))], y, "multiclass")
    assert weight.shape == (3, 6) and np.all(weight[2] == 0) and bias[2] == -30.0
    labels = np.zeros((200, 2), dtype=np.uint8)
    labels[:50, 0] = 1  # class 1 never positive: a constant at the log-odds of its (clipped) rate
    weight, bias = stacking_weights([rng.random((200, 2)), rng.random((200, 2))], labels, "multilabel")
    assert np.all(weight[1] == 0) and bias[1] == pytest.approx(np.log(1e-4 / (1 - 1e-4)))
    assert np.any(weight[0] != 0)


def test_command_line(runs, capsys):
    from ecglab.cli import main

    tmp, _, first, second = runs
    out = tmp / "cli-mean"
    assert main(["ensemble", str(first), str(second), "--out", str(out), "--n-boot", "0"]) == 0
    assert (out / "bundle" / "bundle.json").is_file() and str(out / "bundle") in capsys.readouterr().out
    assert main(["ensemble", str(first), "--out", str(out)]) == 2
    assert "at least two runs" in capsys.readouterr().err
    assert main(["ensemble", str(first), str(second), "--out", str(out), "--method", "median"]) == 2
    assert "--method must be one of mean, stacking" in capsys.readouterr().err


def test_a_config_with_an_ensemble_section_trains_each_member_then_their_ensemble(runs, tmp_path, capsys):
    import yaml

    from ecglab.cli import main

    _, data, _, _ = runs
    config = run_config(tmp_path, data, "both", "kachuee", {"filters": 8, "head_hidden": [16]}).model_dump(mode="json")
    config["ensemble"] = {"members": [{}, {"model.hparams.filters": 6, "trainer.seed": 1}]}
    (tmp_path / "both.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(tmp_path / "both.yaml")]) == 0
    run_dir = tmp_path / "runs" / "both"
    members = [run_dir / f"member-{k}" for k in range(2)]
    assert [yaml.safe_load((m / "config.yaml").read_text())["model"]["hparams"]["filters"] for m in members] == [8, 6]
    ensemble = npz(run_dir)
    np.testing.assert_allclose(ensemble["p_test"], (npz(members[0])["p_test"] + npz(members[1])["p_test"]) / 2,
                               atol=1e-5)
    assert Predictor.load(run_dir / "bundle").spec.architecture == "ensemble"
    assert "ensemble" in yaml.safe_load((run_dir / "config.yaml").read_text())
    stamp = (members[0] / "predictions.npz").stat().st_mtime_ns
    assert main(["train", str(tmp_path / "both.yaml")]) == 0  # finished members are reused, not retrained
    assert (members[0] / "predictions.npz").stat().st_mtime_ns == stamp
    config["ensemble"]["members"][1] = {"trainer.max_epoch": 2}
    config["name"] = "typo"
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(tmp_path / "typo.yaml")]) == 2
    assert "ensemble member 1: unknown key 'trainer.max_epoch'" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "typo").exists()  # rejected before any member trained


RHYTHM = {"irregularity_above": 0.15, "p_consistency_below": 0.4}
MORPHOLOGY = {"qrs_difference_above": 0.2, "v_probability_above": 0.05}
PREMATURITY = {"rr_prev_rel_below": 0.8, "p_consistency_above": 0.5}
AAMI = {"N": 0, "S": 1, "V": 2}


def _gated_pair(n_member_meta: int, gates: dict | None):
    from ecglab.models import create_model

    torch.manual_seed(0)
    members = [{"architecture": "kachuee", "kwargs": {"filters": 4, "head_hidden": [4], "n_blocks": 4}}] * 2
    extra = 4 if gates else 0
    if gates:
        gates = {"prematurity": None, "morphology": None, "rhythm": None, **gates}
    return create_model("ensemble", n_leads=1, n_classes=5, input_length=96, n_meta=n_member_meta + extra,
                        members=members, gates=gates).eval()


def _probabilities(model, x, meta):
    with torch.no_grad():
        return torch.softmax(model(x, meta), dim=1).numpy()


def test_the_gates_move_n_to_s_when_early_s_to_n_in_fibrillation_and_s_to_v_for_an_unusual_qrs(tmp_path):
    plain = _gated_pair(1, None)
    x, member_meta = torch.randn(7, 1, 96), torch.randn(7, 1)
    q = _probabilities(plain, x, member_meta)
    features = torch.tensor([[0.3, 0.1, 0.0, 0.7],    # irregular, no shared P wave: fibrillation
                             [0.3, 0.9, 0.0, 1.0],    # irregular, P waves agree: sinus rhythm with premature beats
                             [0.05, 0.1, 0.0, 0.7],   # regular, no P wave (junctional, flutter 2:1): left to the model
                             [0.15, 0.5, 0.2, 0.8],   # on every threshold: not gated (strictly above, strictly below)
                             [0.0, 1.0, 0.5, 1.0],    # the usual rhythm, an unusual QRS
                             [0.02, 0.9, 0.05, 0.7],  # early in sinus rhythm, the usual QRS: premature
                             [0.02, 0.9, 0.5, 0.7]])  # early in sinus rhythm, an unusual QRS: ventricular
    meta = torch.cat([member_meta, features], dim=1)

    rhythm = _gated_pair(1, {"classes": AAMI, "rhythm": RHYTHM})
    rhythm.load_state_dict(plain.state_dict())  # the same members; gates have no weights
    p = _probabilities(rhythm, x, meta)
    np.testing.assert_allclose(p[1:], q[1:], atol=1e-6)
    assert p[0, 1] < 1e-6 and p[0, 0] == pytest.approx(q[0, 0] + q[0, 1], abs=1e-6)
    np.testing.assert_allclose(p[0, 2:], q[0, 2:], atol=1e-6)

    both = _gated_pair(1, {"classes": AAMI, "rhythm": RHYTHM, "morphology": MORPHOLOGY})
    both.load_state_dict(plain.state_dict())
    p = _probabilities(both, x, meta)
    assert q[4, 2] > 0.05  # (this untrained model finds V plausible for every beat)
    assert p[4, 1] < 1e-6 and p[4, 2] == pytest.approx(q[4, 2] + q[4, 1], abs=1e-6)  # S went to V, not N
    np.testing.assert_allclose(p[1:4], q[1:4], atol=1e-6)
    stricter = {**MORPHOLOGY, "v_probability_above": float(q[4, 2]) + 1e-3}
    strict = _gated_pair(1, {"classes": AAMI, "morphology": stricter})
    strict.load_state_dict(plain.state_dict())
    np.testing.assert_allclose(_probabilities(strict, x, meta)[4], q[4], atol=1e-6)  # V not plausible enough

    every = _gated_pair(1, {"classes": AAMI, "prematurity": PREMATURITY, "rhythm": RHYTHM, "morphology": MORPHOLOGY})
    every.load_state_dict(plain.state_dict())
    p = _probabilities(every, x, meta)
    assert p[5, 0] < 1e-6 and p[5, 1] == pytest.approx(q[5, 0] + q[5, 1], abs=1e-6)  # N went to S
    assert p[6, :2].max() < 1e-6 and p[6, 2] == pytest.approx(q[6, :3].sum(), abs=1e-6)  # N to S, then S to V
    np.testing.assert_allclose(p[:5], _probabilities(both, x, meta)[:5], atol=1e-6)  # the others as before

    if importlib.util.find_spec("onnxruntime"):  # exported, the gates are part of the graph
        from ecglab.inference.onnx import OnnxModel, export_onnx

        path = export_onnx(every, tmp_path / "gated.onnx", n_leads=1, input_length=96, n_meta=5)
        np.testing.assert_allclose(np.exp(OnnxModel(path)(x.numpy(), meta.numpy())), p, atol=1e-5)
    with pytest.raises(ConfigError, match="multiclass ensemble whose last metadata columns"):
        _gated_pair(-3, {"classes": AAMI, "rhythm": RHYTHM})  # one column: no room for four
    with pytest.raises(ConfigError, match="class indices below 5"):
        _gated_pair(0, {"classes": {**AAMI, "V": 5}, "rhythm": RHYTHM})
    with pytest.raises(ConfigError, match="the morphology gate is"):
        _gated_pair(0, {"classes": AAMI, "morphology": RHYTHM})
    with pytest.raises(ConfigError, match="finite numbers"):  # what a saved infinity reads back as
        _gated_pair(0, {"classes": AAMI, "morphology": {**MORPHOLOGY, "v_probability_above": None}})
    with pytest.raises(ConfigError, match="distinct class indices"):
        _gated_pair(0, {"classes": {**AAMI, "V": 1}, "rhythm": RHYTHM})
    from ecglab.models import create_model

    with pytest.raises(ConfigError, match="gates are {classes, prematurity, morphology, rhythm}"):  # an older bundle's
        create_model("ensemble", n_leads=1, n_classes=5, input_length=96, n_meta=4, members=[{}] * 2,
                     gates={"classes": AAMI, "rhythm": RHYTHM, "morphology": None})


def test_gates_need_beats_cut_with_their_p_wave(runs, capsys):
    from ecglab.cli import main

    tmp, _, first, second = runs
    with pytest.raises(ConfigError, match="cut from at least 0.25 s before the R peak"):
        build_ensemble([first, second], "mean", tmp / "gated", n_boot=0,
                       gates={"rhythm": RHYTHM})  # these are kachuee beats
    with pytest.raises(ConfigError, match="alike_beats is for beat models .* centred on the R peak"):
        build_ensemble([first, second], "mean", tmp / "alike", n_boot=0, alike=AlikeBeats())
    for option, bad in (("--rhythm-gate", "0.15"), ("--rhythm-gate", "-1,0.4"), ("--rhythm-gate", "0.15,2"),
                        ("--rhythm-gate", "a,b"), ("--morphology-gate", "0.2,1.5"), ("--morphology-gate", "inf,0.5"),
                        ("--prematurity-gate", "0,0.5"), ("--prematurity-gate", "0.8"), ("--alike-beats", "1,5"),
                        ("--alike-beats", "20")):
        assert main(["ensemble", str(first), str(second), "--out", str(tmp / "x"), option, bad]) == 2
        assert f"{option} takes" in capsys.readouterr().err


def test_an_ensemble_whose_members_are_reused_prepares_its_data_again(tmp_path):
    import shutil

    from ecglab.experiments.ensemble import train_ensemble

    raw = {
        "name": "pair", "out_dir": str(tmp_path / "runs"),
        "data": {"path": str(tmp_path / "data"), "batch_size": 64,
                 "prepare": {"dataset": "synthetic", "options": {"task": "beat", "n": 9}}},
        "model": {"name": "kachuee", "hparams": {"filters": 4, "head_hidden": [4]}},
        "trainer": {"max_epochs": 1, "progress": False}, "report": {"n_boot": 0},
        "ensemble": {"members": [{}, {"trainer.seed": 1}]}}
    config = validate_config(raw)
    train_ensemble(config)
    stamp = (config.run_dir / "member-0" / "predictions.npz").stat().st_mtime_ns
    shutil.rmtree(tmp_path / "data")  # e.g. removed to save space, or prepared by an older ecglab
    raw["trainer"]["progress"] = True  # progress bars shown or not: the same members
    result = train_ensemble(validate_config(raw))
    assert (config.run_dir / "member-0" / "predictions.npz").stat().st_mtime_ns == stamp  # not retrained
    assert (tmp_path / "data" / "manifest.json").is_file() and (result.bundle_dir / "bundle.json").is_file()


def test_gates_the_data_cannot_carry_are_refused_before_any_member_trains(runs, tmp_path):
    from ecglab.experiments.ensemble import cross_validate_ensemble, train_ensemble

    _, data, _, _ = runs
    config = run_config(tmp_path, data, "gated", "kachuee", {"filters": 8, "head_hidden": [16]}).model_dump(mode="json")
    config["ensemble"] = {"members": [{}, {"trainer.seed": 1}], "rhythm_gate": RHYTHM}
    with pytest.raises(ConfigError, match="cut from at least 0.25 s"):  # synthetic beats are cut as Kachuee's
        train_ensemble(validate_config(config))
    with pytest.raises(ConfigError, match="cut from at least 0.25 s"):
        cross_validate_ensemble(validate_config(config), folds=2)
    assert not (tmp_path / "runs").exists()
    alike = {**config, "ensemble": {"members": [{}, {"trainer.seed": 1}], "alike_beats": {"neighbours": 20, "radius": 5}}}
    with pytest.raises(ConfigError, match="alike_beats is for beat models"):
        train_ensemble(validate_config(alike))
    assert not (tmp_path / "runs").exists()
    config["ensemble"]["morphology_gate"] = {"qrs_difference_above": float("inf"), "v_probability_above": 0.05}
    with pytest.raises(ConfigError, match="qrs_difference_above"):
        validate_config(config)
