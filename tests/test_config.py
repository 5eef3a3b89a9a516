import pytest

from ecglab.errors import ConfigError
from ecglab.training.config import load_config, validate_config


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(_write(tmp_path, "data: {path: d}\n"), ["trainer.max_epochs=3", "model.hparams.width=32", "loss.name=focal"])
    assert cfg.trainer.max_epochs == 3 and cfg.model.hparams == {"width": 32} and cfg.loss.name == "focal"
    assert cfg.model.name == "resnet1d" and cfg.data.batch_size == 64


def test_typo_lists_valid_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'data.bach_size'; valid keys under data: .*batch_size"):
        load_config(_write(tmp_path, "data: {path: d, bach_size: 3}\n"))
    with pytest.raises(ConfigError, match=r"unknown key 'trainr'; valid keys: .*trainer"):
        validate_config({"data": {"path": "d"}, "trainr": {}})


def test_wrong_types_and_values_are_explained():
    with pytest.raises(ConfigError, match=r"'trainer.max_epochs'"):
        validate_config({"data": {"path": "d"}, "trainer": {"max_epochs": "many"}})
    with pytest.raises(ConfigError, match=r"'loss.name'"):
        validate_config({"data": {"path": "d"}, "loss": {"name": "hinge"}})
    with pytest.raises(ConfigError, match="missing required key 'data'"):
        validate_config({})


def test_bad_files_and_overrides(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(_write(tmp_path, "data: {path: d}\n"), ["trainer.max_epochs"])


def test_resolved_config_round_trips(tmp_path):
    cfg = validate_config({"data": {"path": "d", "window": 250}, "optim": {"lr": 0.01}})
    again = load_config(_write(tmp_path, cfg.to_yaml()))
    assert again == cfg
