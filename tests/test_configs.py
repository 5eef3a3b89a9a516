"""Every shipped protocol config validates and names models, datasets and options that exist."""

import inspect
from pathlib import Path

import pytest

from ecglab.datasets.core.registry import DATASET_MODULES, get_builder
from ecglab.experiments.protocol import base_config, load_benchmark, read_protocol, split_sections
from ecglab.experiments.tune import load_tune
from ecglab.inference.bundle import resolve_bundle
from ecglab.models import model_info
from ecglab.pretrained import list_pretrained

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
        if config.model.init_from:  # a shipped bundle by name, so that the config works from any directory
            assert config.model.init_from in list_pretrained()
            assert (resolve_bundle(config.model.init_from) / "bundle.json").is_file()


def test_shared_data_sources_exist_where_the_configs_point(shared_data, monkeypatch):
    monkeypatch.chdir(ROOT)
    for path in CONFIGS:
        prepare = base_config(read_protocol(path)).data.prepare
        if prepare.source.startswith("../shared/data/"):
            assert Path(prepare.source).is_dir(), (path.name, prepare.source)


def resolved(path: Path) -> list:
    raw = read_protocol(path)
    return list(load_benchmark(path).runs.values()) if "benchmark" in split_sections(raw)[1] else [base_config(raw)]


def test_configs_sharing_a_data_path_prepare_it_alike(monkeypatch):
    """Otherwise whichever runs second finds the cache prepared with other options and stops."""
    monkeypatch.chdir(ROOT)
    prepared: dict[str, tuple] = {}
    for path in CONFIGS:
        for config in resolved(path):
            prepare = config.data.prepare.model_dump()
            first = prepared.setdefault(config.data.path, (path.name, prepare))
            assert first[1] == prepare, f"{path.name} and {first[0]} prepare {config.data.path} differently"


def test_ptbxl_benchmark_standardises_with_training_statistics_and_the_seed_model_does_not(monkeypatch):
    monkeypatch.chdir(ROOT)
    benchmark = load_benchmark(ROOT / "configs" / "ptbxl-benchmark.yaml").runs
    assert {config.data.prepare.options["standardize"] for config in benchmark.values()} == {"global"}
    lstm = benchmark["lstm_bidir"]  # the benchmark's recipe for recurrent models
    assert lstm.optim.lr == 0.001 and lstm.trainer.gradient_clip_val == 0.25
    assert benchmark["resnet1d"].optim.lr == 0.01 and benchmark["resnet1d"].trainer.gradient_clip_val is None
    attention = base_config(read_protocol(ROOT / "configs" / "ptbxl-attention.yaml"))
    assert attention.data.prepare.options.get("standardize", "none") == "none"  # seed 001 feeds the raw signals


@pytest.mark.parametrize("name", ["mitbih-kachuee", "mitbih-kachuee-ds1", "mitbih-kachuee-tune"])
def test_kachuee_configs_use_the_papers_optimiser_and_schedule(name):
    config = base_config(read_protocol(ROOT / "configs" / f"{name}.yaml"))
    optim = config.optim
    assert (optim.name, optim.lr, optim.weight_decay) == ("adam", 0.001, 0.0)
    assert (optim.scheduler, optim.decay_rate, optim.decay_steps) == ("exponential", 0.75, 10000)
    assert config.data.batch_size == 500
