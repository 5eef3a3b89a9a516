"""ecglab tune: the search-space schema, suggested overrides, a tiny study, the best config; report depth."""

import json

import numpy as np
import pytest
import yaml

optuna = pytest.importorskip("optuna")
pytest.importorskip("optuna_integration")

from ecglab.datasets.core.registry import prepare  # noqa: E402
from ecglab.errors import ConfigError  # noqa: E402
from ecglab.evaluation.report import write_report  # noqa: E402
from ecglab.experiments.tune import load_tune, run_tune, suggest_overrides, tpe_sampler  # noqa: E402
from ecglab.training.config import load_config  # noqa: E402

SPACE = {"optim.lr": {"low": 1.0e-3, "high": 1.0e-2, "log": True},
         "model.hparams.filters": [[8, 8, 8], [8, 16, 16]],
         "trainer.max_epochs": {"low": 1, "high": 2}}


def tune_config(tmp_path, data="data", space=SPACE, **tune):
    raw = {"name": "tiny", "out_dir": str(tmp_path / "runs"),
           "data": {"path": str(data), "window": 250, "eval_stride": 125, "batch_size": 32},
           "model": {"name": "cnn", "hparams": {"filters": [8, 8, 8], "head_hidden": [16]}},
           "trainer": {"max_epochs": 1, "progress": False},
           "report": {"n_boot": 10, "temperature_scaling": True},
           "tune": {"space": space, **tune}}
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_space_schema_and_suggestions(tmp_path):
    _, section = load_tune(tune_config(tmp_path, trials=4))
    assert section.trials == 4 and section.space["trainer.max_epochs"].integer
    assert not section.space["optim.lr"].integer and section.space["optim.lr"].log
    trial = optuna.trial.FixedTrial({"optim.lr": 0.004, "model.hparams.filters": "[8, 16, 16]", "trainer.max_epochs": 2})
    assert sorted(suggest_overrides(trial, section.space)) == [
        "model.hparams.filters=[8, 16, 16]", "optim.lr=0.004", "trainer.max_epochs=2"]


def test_overrides_reach_the_tune_section(tmp_path):
    base, section = load_tune(tune_config(tmp_path, trials=4), ["tune.trials=1", "tune.startup_trials=0", "optim.lr=0.01"])
    assert section.trials == 1 and section.startup_trials == 0
    assert base["optim"]["lr"] == 0.01 and "tune" not in base
    with pytest.raises(ConfigError, match="trials"):
        load_tune(tune_config(tmp_path), ["tune.trials=0"])


def first_proposals(storage, n=3):
    study = optuna.create_study(sampler=tpe_sampler(storage, seed=7))
    return [study.ask().suggest_float("x", 0.0, 1.0) for _ in range(n)]


def test_sampler_is_seeded_only_for_the_default_single_process_study():
    assert first_proposals(None) == first_proposals(None)  # repeatable search
    shared = "postgresql://user@host/optuna"  # workers sharing a storage must not propose the same startup trials
    assert first_proposals(shared) != first_proposals(shared)


@pytest.mark.parametrize("space, message", [
    ({"optim.lr": {"low": 0.1, "high": 0.01}}, "low must be below high"),
    ({"optim.lr": []}, "non-empty list of choices"),
    ({"optim.lr": {"low": 0.1, "high": 1, "lg": True}}, "Extra inputs"),
    ({"optim.lrr": {"low": 0.001, "high": 0.01}}, "unknown key 'optim.lrr'"),
    ({"optim.weight_decay": {"low": 0.0, "high": 0.1, "log": True}}, r"tune.space.optim.weight_decay: `low > 0` must hold"),
    ({"optim.lr": {"low": 0.001, "high": 0.01, "log": True, "step": 0.001}}, "step` is not supported when `log`"),
    ({"loss.gamma": {"low": 0.5, "high": 3.0, "step": 0.7}}, "not divisible by `step`"),
    ({"model.hparams.depth": [2, 3]}, r"searches model.hparams \['depth'\], which model 'cnn' does not take; "
                                     r"its hyper-parameters are \[.*'filters'"),
])
def test_space_errors(tmp_path, space, message):
    with pytest.raises(ConfigError, match=message):
        load_tune(tune_config(tmp_path, space=space))


def test_a_config_without_tune_section(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump({"data": {"path": "x"}}))
    with pytest.raises(ConfigError, match="no tune section"):
        load_tune(path)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tune")
    data = tmp / "records"
    prepare("synthetic", data, task="record", n=120, fs=50, progress=False)
    return tmp, run_tune(tune_config(tmp, data), trials=2)


def test_study_runs_trials_and_writes_the_best_config(study):
    tmp, result = study
    directory = tmp / "runs" / "tiny-tune"
    assert result.directory == directory and (directory / "study.db").is_file()
    trials = result.study.trials
    assert len(trials) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    for trial in trials:  # the pruning callback saw every epoch's validation AUROC
        assert sorted(trial.intermediate_values) == list(range(trial.params["trainer.max_epochs"]))
    best = result.study.best_trial
    report = json.loads((directory / f"trial-{best.number:04d}" / "report" / "metrics.json").read_text())
    assert result.best_value == pytest.approx(report["validation"]["macro_auroc"])
    config = load_config(result.best_config)  # ready for `ecglab train`
    assert config.name == "tiny-best" and config.optim.lr == pytest.approx(best.params["optim.lr"])
    assert config.model.hparams["filters"] == json.loads(best.params["model.hparams.filters"])
    assert config.trainer.max_epochs == best.params["trainer.max_epochs"]


def test_study_continues_from_its_storage(study):
    tmp, _ = study
    again = run_tune(tune_config(tmp, tmp / "records"), trials=1)
    assert [t.number for t in again.study.trials] == [0, 1, 2]


def test_a_study_refuses_a_changed_space_unless_forced(study):
    tmp, _ = study
    changed = {**SPACE, "optim.lr": {"low": 1.0e-4, "high": 1.0e-2, "log": True}, "loss.gamma": [1.0, 2.0]}
    with pytest.raises(ConfigError, match=r"another search space \(loss.gamma: absent → \[1.0, 2.0\]; optim.lr: .*'low': 0.001.*"
                                          r"'low': 0.0001.*--study NAME.*--force"):
        run_tune(tune_config(tmp, tmp / "records", space=changed), trials=1)
    assert len(optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp / 'runs' / 'tiny-tune' / 'study.db'}").trials) >= 2


def test_command_line_rejects_a_bad_space_before_the_study_starts(tmp_path, capsys):
    from ecglab.cli import main

    path = tune_config(tmp_path, space={"model.hparams.depth": [2, 3]})
    assert main(["tune", str(path), "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert "which model 'cnn' does not take" in err and "Traceback" not in err
    assert not (tmp_path / "runs" / "tiny-tune").exists()


def test_run_report_has_subgroups_and_temperature_scaling(study):
    """Evaluation depth: sex and age-band groups from the meta, and ECE after temperature scaling."""
    tmp, _ = study
    report = json.loads((tmp / "runs" / "tiny-tune" / "trial-0000" / "report" / "metrics.json").read_text())
    assert set(report["groups"]) == {"sex", "age band"}
    assert sum(entry["n"] for entry in report["groups"]["sex"].values()) == report["n_records"]
    calibration = report["calibration"]
    assert calibration["temperature"] > 0 and 0 <= calibration["ece_temperature_scaled"] <= 1
    markdown = (tmp / "runs" / "tiny-tune" / "trial-0000" / "report" / "report.md").read_text()
    assert "## Subgroups" in markdown and "after temperature scaling" in markdown


def test_command_line_reports_a_missing_section(tmp_path, capsys):
    from ecglab.cli import main

    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump({"data": {"path": "x"}}))
    assert main(["tune", str(path), "--trials", "1"]) == 2
    assert "no tune section" in capsys.readouterr().err


def test_report_warns_when_the_temperature_hits_a_bound_of_its_search(tmp_path):
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, 300)
    y = np.eye(3)[label]

    def predictions(called, confidence):
        p = np.full((300, 3), (1 - confidence) / 2)
        p[np.arange(300), called] = confidence
        return p

    def report(name, y_prob):
        return write_report(tmp_path / name, title="t", kind="multiclass", classes=["a", "b", "c"], y_true=y,
                            y_prob=y_prob, y_true_val=y, y_prob_val=y_prob, n_boot=0, temperature_scaling=True)

    # confidently wrong every time: the likelihood keeps improving as T grows, up to the bound
    wrong = report("bound", predictions((label + 1) % 3, 0.99))["calibration"]
    assert wrong["temperature"] > 19 and wrong["temperature_at_bound"]
    markdown = " ".join((tmp_path / "bound" / "report.md").read_text().split())
    assert "temperature is at the edge of its search range [0.05, 20.0]" in markdown
    # right 80 % of the time at confidence 0.6: underconfident, T settles inside the range (below 1)
    called = np.where(rng.random(300) < 0.8, label, (label + 1) % 3)
    fine = report("fine", predictions(called, 0.6))["calibration"]
    assert 0.05 < fine["temperature"] < 1 and not fine["temperature_at_bound"]
    assert "Warning" not in (tmp_path / "fine" / "report.md").read_text()
