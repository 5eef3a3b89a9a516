"""Shipped bundles: found by name, usable by the Predictor on real records, and a start for transfer learning."""

import json

import numpy as np
import pytest
import torch

from ecglab.datasets.core.prepared import PreparedDataset, write_prepared
from ecglab.datasets.core.registry import prepare
from ecglab.errors import BundleError
from ecglab.inference.bundle import load_bundle
from ecglab.pretrained import find_pretrained, list_pretrained
from ecglab.training.config import validate_config
from ecglab.training.fit import train

NAME = "mitbih-kachuee-ds1"
DS1 = set("101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230".split())


def test_shipped_bundle_is_found_by_name():
    assert NAME in list_pretrained()
    path = find_pretrained(NAME)
    assert (path / "bundle.json").is_file() and (path / "model.safetensors").is_file()
    assert (path / "MODEL_CARD.md").is_file()
    model, spec = load_bundle(path)
    assert (spec.architecture, spec.classes, spec.leads, spec.fs, spec.input_length, spec.input) == (
        "kachuee", ["N", "S", "V", "F", "Q"], ["MLII"], 125.0, 187, "beat")
    assert sum(p.numel() for p in model.parameters()) == 55_013  # the paper's size
    assert (path / "model.safetensors").stat().st_size < 300_000
    with pytest.raises(BundleError, match=f"shipped models: .*{NAME}"):
        find_pretrained("mitbih-resnet")


def test_predicts_a_held_out_mitbih_record(shared_data):
    """Record 116 was in the test split of the bundle's training run (records 116 118 205 223; see MODEL_CARD.md)."""
    from ecglab.datasets.core.aami import aami_class
    from ecglab.inference.predictor import Predictor
    from ecglab.records import read_record

    record = read_record(shared_data / "mitbih" / "116")
    prediction = Predictor.load(find_pretrained(NAME)).predict(record)
    truth = {int(s): aami_class(symbol) for s, symbol in zip(record.annotations.samples, record.annotations.symbols)}
    pairs = np.array([(truth[b.sample], b.label) for b in prediction.beats if truth.get(b.sample)])
    assert len(pairs) > 2300
    assert (pairs[:, 0] == pairs[:, 1]).mean() > 0.98
    is_v = pairs[:, 0] == "V"
    assert is_v.sum() > 100 and (pairs[is_v, 1] == "V").mean() > 0.85


def two_class_beats(path, source):
    """The synthetic AAMI beats relabelled normal vs abnormal: a 2-class beat task like PTB's MI vs healthy."""
    beats = PreparedDataset(source)
    labels = np.asarray(beats.labels)
    binary = np.stack([labels[:, 0], 1 - labels[:, 0]], axis=1).astype(np.uint8)
    return write_prepared(path, np.asarray(beats.signals), binary, beats.meta, name="beats-2", kind="multiclass",
                          classes=["normal", "abnormal"], fs=beats.fs, leads=["MLII"], extra={"beats": beats.manifest["beats"]})


def test_transfers_to_a_two_class_beat_task_with_a_new_head(tmp_path):
    prepare("synthetic", tmp_path / "aami", task="beat", n=9, progress=False)
    two_class_beats(tmp_path / "binary", tmp_path / "aami")
    config = validate_config({
        "name": "transfer", "out_dir": str(tmp_path / "runs"), "data": {"path": str(tmp_path / "binary"), "batch_size": 64},
        "model": {"name": "kachuee", "init_from": str(find_pretrained(NAME)), "freeze": "trunk"},
        "optim": {"name": "adam", "lr": 0.003, "weight_decay": 0.0, "scheduler": "none"},
        "trainer": {"max_epochs": 2, "progress": False}, "report": {"n_boot": 0}})
    result = train(config)
    source, _ = load_bundle(find_pretrained(NAME))
    model, spec = load_bundle(result.bundle_dir)
    assert spec.architecture == "kachuee" and spec.classes == ["normal", "abnormal"]
    assert model.head[-1].out_features == 2
    for (name, before), after in zip(source.trunk.state_dict().items(), model.trunk.state_dict().values()):
        assert torch.equal(before, after), f"frozen trunk changed: {name}"
    assert result.metrics["macro_auroc"] > 0.8  # MIT-BIH features separate normal from abnormal synthetic beats


def test_predict_finds_a_shipped_bundle_by_name(shared_data, capsys):
    from ecglab.cli import main

    assert main(["predict", "mitbih-kachuee-ds1", str(shared_data / "mitbih" / "116.hea"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["beat_counts"]["N"] > 1000
    assert main(["predict", "no-such-model", str(shared_data / "mitbih" / "116.hea")]) == 2
    shipped = capsys.readouterr().err.split("(shipped: ")[1].rstrip(").\n").split(", ")
    assert "mitbih-kachuee-ds1" in shipped
    assert "mitbih-aami" in shipped


def test_export_of_a_shipped_model_writes_to_the_working_directory(tmp_path, monkeypatch):
    from ecglab.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["export", "mitbih-kachuee-ds1"]) == 0
    assert (tmp_path / "mitbih-kachuee-ds1.onnx").stat().st_size > 100_000
    assert not (find_pretrained("mitbih-kachuee-ds1") / "model.onnx").exists()
