"""Every shipped protocol config validates and names models, datasets and options that exist."""

import inspect
from pathlib import Path

import pytest

from ecglab.datasets.registry import DATASET_MODULES, get_builder
from ecglab.experiments.protocol import base_config, load_benchmark, read_protocol, split_sections
from ecglab.experiments.tune import load_tune
from ecglab.models import model_info

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_the_protocols_are_there():
    names = {path.stem for path in CONFIGS}
    assert {"mitbih-kachuee", "mitbih-kachuee-ds1", "mitbih-inter", "mitbih-patient", "mitbih-ds1-benchmark",
            "ptb-transfer-frozen", "ptb-transfer-finetune", "ptbxl-attention", "ptbxl-benchmark",
            "mimic-icd-benchmark", "mitbih-seed003", "ptbdb-seed003", "mitbih-kachuee-tune"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_validates_and_names_what_exists(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in configs are relative to the repository root
    assert path.read_text().startswith("# "), "a config starts with a comment naming the protocol it follows"
    raw = read_protocol(path)
    _, sections = split_sections(raw)
    configs = list(load_benchmark(path).runs.values()) if "benchmark" in sections else [base_config(raw)]
    if "tune" in sections:
        load_tune(path)
    for config in configs:
        model_info(config.model.name)
        prepare = config.data.prepare
        assert prepare is not None, "protocol configs say how to prepare their data"
        assert prepare.dataset in DATASET_MODULES
        accepted = set(inspect.signature(get_builder(prepare.dataset).fn).parameters) - {"ctx"}
        assert set(prepare.options) <= accepted, f"options {set(prepare.options) - accepted} of {prepare.dataset}"
        assert Path(config.data.path).parts[0] == "runs", "prepared data goes under runs/ (git-ignored)"
        if config.model.init_from:
            assert (ROOT / config.model.init_from / "bundle.json").is_file()


def test_shared_data_sources_exist_where_the_configs_point(shared_data, monkeypatch):
    monkeypatch.chdir(ROOT)
    for path in CONFIGS:
        prepare = base_config(read_protocol(path)).data.prepare
        if prepare.source.startswith("../shared/data/"):
            assert Path(prepare.source).is_dir(), (path.name, prepare.source)
