"""ecglab benchmark: protocol loading, training every entry, the leaderboard, resuming."""

import json

import pandas as pd
import pytest
import yaml

from ecglab.cli import main
from ecglab.datasets.core.registry import prepare
from ecglab.errors import ConfigError
from ecglab.experiments.benchmark import run_benchmark
from ecglab.experiments.protocol import load_benchmark

ENTRIES = [{"model": "kachuee", "hparams": {"filters": 8, "head_hidden": [16]}},
           {"name": "cnn-small", "model": "cnn", "hparams": {"filters": [8, 8, 8], "head_hidden": [16]},
            "set": {"optim.lr": 0.003}}]


def protocol(tmp_path, data="data", entries=ENTRIES, **extra):
    raw = {"name": "bench", "out_dir": str(tmp_path / "runs"), "data": {"path": str(data), "batch_size": 64},
           "model": {"name": "resnet1d", "hparams": {"width": 16}}, "optim": {"lr": 0.001},
           "trainer": {"max_epochs": 1, "progress": False}, "report": {"n_boot": 20},
           "benchmark": {"models": entries}, **extra}
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_entries_become_run_configs(tmp_path):
    plan = load_benchmark(protocol(tmp_path), overrides=["trainer.max_epochs=3"])
    assert list(plan.runs) == ["kachuee", "cnn-small"]
    assert plan.directory == tmp_path / "runs" / "bench"
    kachuee, cnn = plan.runs["kachuee"], plan.runs["cnn-small"]
    assert kachuee.model.name == "kachuee" and kachuee.model.hparams == {"filters": 8, "head_hidden": [16]}
    assert kachuee.optim.lr == 0.001 and cnn.optim.lr == 0.003  # an entry's `set` applies to that entry only
    assert kachuee.trainer.max_epochs == cnn.trainer.max_epochs == 3  # --set applies to every entry
    assert cnn.run_dir == tmp_path / "runs" / "bench" / "cnn-small"
    assert plan.selected == ["kachuee", "cnn-small"]
    only = load_benchmark(protocol(tmp_path), only=["cnn-small"])  # --models selects what to train, not what exists
    assert list(only.runs) == ["kachuee", "cnn-small"] and list(only.selected_runs) == ["cnn-small"]
    plain = load_benchmark(protocol(tmp_path, entries=["fcn_wang", "lstm_bidir"])).runs
    assert plain["fcn_wang"].model.hparams == {}  # the base model's hparams do not leak into other models


def test_overrides_reach_the_benchmark_section(tmp_path):
    """--set applies to the whole YAML before the sections are split off."""
    plan = load_benchmark(protocol(tmp_path), overrides=["benchmark.models=[cnn, rnn]", "optim.lr=0.01"])
    assert list(plan.runs) == ["cnn", "rnn"] and plan.runs["rnn"].optim.lr == 0.01
    assert "benchmark" not in plan.runs["cnn"].model_dump()


@pytest.mark.parametrize("entries, extra, message", [
    ([{"model": "cnn"}, {"model": "cnn"}], {}, r"\['cnn'\] appear twice"),
    ([{"model": "cnn", "sett": {}}], {}, "Extra inputs are not permitted"),
    ([{"model": "cnn", "set": {"optim.lrr": 1}}], {}, "unknown key 'optim.lrr'"),
    ([], {}, "at least 1 item"),
])
def test_protocol_errors_say_what_is_wrong(tmp_path, entries, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_benchmark(protocol(tmp_path, entries=entries, **extra))


def test_missing_section_and_unknown_entry(tmp_path):
    path = protocol(tmp_path)
    with pytest.raises(ConfigError, match=r"--models \['resnet'\] are not entries"):
        load_benchmark(path, only=["resnet"])
    raw = yaml.safe_load(path.read_text())
    del raw["benchmark"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="no benchmark section"):
        load_benchmark(path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("benchmark")
    data = tmp / "beats"
    prepare("synthetic", data, task="beat", n=9, progress=False)
    path = protocol(tmp, data)
    table = run_benchmark(load_benchmark(path), progress=True)
    return tmp, path, table


def test_leaderboard_holds_each_run_with_its_bootstrap_interval(finished):
    tmp, _, table = finished
    directory = tmp / "runs" / "bench"
    csv = pd.read_csv(directory / "leaderboard.csv")
    assert sorted(csv["model"]) == ["cnn-small", "kachuee"] and len(table) == 2
    assert list(csv["macro_auroc"]) == sorted(csv["macro_auroc"], reverse=True)
    for _, row in csv.iterrows():
        report = json.loads((directory / row["model"] / "report" / "metrics.json").read_text())
        test = report["test"]
        assert row["macro_auroc"] == pytest.approx(test["macro_auroc"])
        assert row["macro_auroc_low"] <= row["macro_auroc"] <= row["macro_auroc_high"]
        assert row["accuracy"] == pytest.approx(test["accuracy"])
        assert row["Se_N"] == pytest.approx(100 * test["per_class"]["N"]["recall"])
        assert row["params"] > 0 and row["train_minutes"] >= 0
    markdown = (directory / "leaderboard.md").read_text()
    assert "| `cnn-small` | cnn |" in markdown and "| `kachuee` | kachuee |" in markdown
    assert "Se N" in markdown and "+P V" in markdown  # the AAMI summary of a beat task


def test_finished_entries_are_skipped_and_interrupted_ones_resumed(finished, capsys):
    tmp, path, _ = finished
    directory = tmp / "runs" / "bench"
    timing = {name: (directory / name / "timing.json").read_text() for name in ("kachuee", "cnn-small")}
    weights = directory / "kachuee" / "bundle" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    import shutil

    shutil.rmtree(directory / "cnn-small" / "bundle")  # as if the run died after its last checkpoint
    assert main(["benchmark", str(path), "--no-progress"]) == 0
    assert "leaderboard" in capsys.readouterr().out
    assert weights.stat().st_mtime_ns == stamp
    assert (directory / "kachuee" / "timing.json").read_text() == timing["kachuee"]  # skipped
    assert (directory / "cnn-small" / "bundle" / "bundle.json").is_file()  # resumed and exported again
    assert (directory / "cnn-small" / "timing.json").read_text() != timing["cnn-small"]


def test_a_finished_entry_with_another_config_is_refused(finished, capsys):
    tmp, path, _ = finished
    directory = tmp / "runs" / "bench"
    weights = directory / "kachuee" / "bundle" / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert main(["benchmark", str(path), "--no-progress", "--set", "optim.lr=0.5"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "kachuee (optim.lr)" in err and "cnn-small (optim.lr)" in err  # each entry named, with its keys
    assert "--set out_dir=" in err and str(directory / "kachuee") in err  # and how to proceed
    assert weights.stat().st_mtime_ns == stamp
    # only the entries trained now are selected, but every finished entry shares the leaderboard: all are checked
    with pytest.raises(ConfigError, match=r"kachuee \(model.hparams\)"):
        run_benchmark(load_benchmark(path, overrides=["model.hparams.filters=4"], only=["cnn-small"]), progress=False)
    # display settings are not what is trained
    assert run_benchmark(load_benchmark(path, overrides=["trainer.progress=true"]), progress=False).shape[0] == 2


def test_models_trains_a_subset_but_the_leaderboard_keeps_every_finished_entry(finished, capsys):
    tmp, path, _ = finished
    directory = tmp / "runs" / "bench"
    assert main(["benchmark", str(path), "--models", "cnn-small", "--no-progress"]) == 0
    assert "1 finished entries skipped" in capsys.readouterr().out
    assert sorted(pd.read_csv(directory / "leaderboard.csv")["model"]) == ["cnn-small", "kachuee"]
    markdown = (directory / "leaderboard.md").read_text()
    assert "| `kachuee` |" in markdown and "| `cnn-small` |" in markdown and "Not finished" not in markdown
