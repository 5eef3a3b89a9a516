"""``ecglab tune``: hyper-parameter search with Optuna (Akiba et al. 2019, KDD).

The search space is the config's ``tune`` section; each key is a config key as ``--set`` names it::

    tune:
      trials: 20                     # default for --trials
      startup_trials: 5              # the median pruner waits for this many finished trials …
      warmup_epochs: 1               # … and this many epochs of a trial before it prunes
      space:
        optim.lr: {low: 1.0e-4, high: 1.0e-2, log: true}     # float (log scale)
        loss.gamma: {low: 0.5, high: 3.0, step: 0.5}          # float on a grid
        trainer.max_epochs: {low: 2, high: 8}                 # int: both bounds are integers
        model.hparams.width: [32, 64, 128]                    # categorical
        model.hparams.filters: [[16, 32], [32, 64]]           # categorical over lists

Every trial is an ordinary run (``OUT_DIR/NAME-tune/trial-NNNN``) scored by its best validation
macro AUROC; the TPE sampler proposes, the median pruner stops poor trials early through Optuna's
Lightning callback. The study lives in SQLite in that directory unless ``--storage`` names another
RDB URL (e.g. ``postgresql://…``), which several workers can share: start the same command on each
machine. The sampler is seeded with ``trainer.seed`` in the default SQLite case only (a repeatable
search); with ``--storage`` it is unseeded, or every worker would propose the same trials. The best
trial's config is written to ``NAME-tune/best.yaml``, ready for ``ecglab train``.

The space is checked before any trial runs: bounds as Optuna takes them, and the model's
hyper-parameter names. A study remembers its space; continuing it with another one is refused
(its trials would mix two searches) unless ``force`` says so.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecglab.errors import ConfigError, EcglabError
from ecglab.experiments.protocol import read_protocol, split_sections
from ecglab.training.config import RunConfig, apply_override, validate_config

OBJECTIVE = "validation macro AUROC"


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")
    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def distribution(self):
        """Optuna's distribution of this range; its ValueError or warning says what is wrong."""
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def suggest(self, trial, key: str):
        if self.integer:
            return trial.suggest_int(key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(key, self.low, self.high, step=self.step, log=self.log)


class TuneSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    space: dict[str, Range | list] = Field(min_length=1)
    trials: int = Field(20, ge=1)
    startup_trials: int = Field(5, ge=0)
    warmup_epochs: int = Field(1, ge=0)

    @field_validator("space", mode="before")
    @classmethod
    def _ranges(cls, space):
        if not isinstance(space, dict):
            raise ValueError("expected a mapping of config keys to {low, high[, log, step]} or a list of choices")
        out = {}
        for key, value in space.items():
            if isinstance(value, dict):
                integer = all(isinstance(value.get(k), int) and not isinstance(value.get(k), bool)
                              for k in ("low", "high")) and isinstance(value.get("step", 1), int)
                value = {**value, "integer": integer}
                if value.get("low") is not None and value.get("high") is not None and value["low"] >= value["high"]:
                    raise ValueError(f"{key}: low must be below high, found {value['low']} and {value['high']}")
            elif not isinstance(value, list) or not value:
                raise ValueError(f"{key}: expected {{low, high}} or a non-empty list of choices, found {value!r}")
            out[key] = value
        return out


@dataclass
class TuneResult:
    study: object  # optuna.Study
    directory: Path
    best_config: Path
    best_value: float


def load_tune(path: str | Path, overrides: list[str] | None = None) -> tuple[dict, TuneSection]:
    """The base run config (as a raw dict, overrides applied and validated) and the tune section.

    ``overrides`` apply to the whole YAML, so ``tune.trials=1`` reaches the tune section."""
    raw = read_protocol(path)
    base, sections = split_sections(raw, overrides)
    if "tune" not in sections:
        raise ConfigError(f"{path} has no tune section; expected `tune: {{space: {{optim.lr: {{low: 1.0e-4, high: "
                          f"1.0e-2, log: true}}}}}}` (see `ecglab tune --help`).")
    try:
        section = TuneSection.model_validate(sections["tune"] or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: tune section: {problems}") from None
    config = validate_config(base, str(path))
    for key, spec in section.space.items():  # a typo in a searched key fails now, not after the first trial
        probe = copy.deepcopy(base)
        apply_override(probe, f"{key}={json.dumps(_first_value(spec))}")
        validate_config(probe, f"{path} (tune key {key!r})")
        if isinstance(spec, Range):
            _check_range(spec, key, path)
    _check_model_hparams(section.space, config, path)
    return base, section


def _check_range(spec: Range, key: str, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a step that does not divide the range, which Optuna would shrink
        try:
            spec.distribution()
        except (ValueError, UserWarning) as exc:
            raise ConfigError(f"{path}: tune.space.{key}: {exc}") from None


def _check_model_hparams(space: dict, config: RunConfig, path) -> None:
    """Every searched ``model.hparams.X`` must be a hyper-parameter of every model the search may build."""
    from ecglab.models.registry import model_info

    searched = sorted(key.removeprefix("model.hparams.") for key in space if key.startswith("model.hparams."))
    if not searched or config.model.init_from:  # a bundle's architecture is checked when a trial loads it
        return
    for name in space.get("model.name") or [config.model.name]:
        accepted = model_info(name).accepted_hparams
        unknown = [h for h in searched if h not in accepted]
        if unknown:
            raise ConfigError(f"{path}: tune.space searches model.hparams {unknown}, which model {name!r} does not take; "
                              f"its hyper-parameters are {accepted}.")


def space_record(space: dict) -> dict:
    """The search space as a study stores it (JSON-able), to compare a later run's space with."""
    return {key: spec.model_dump() if isinstance(spec, Range) else spec for key, spec in space.items()}


def check_same_space(study, space: dict, force: bool) -> None:
    """A continued study must search the space it was created with (``force``: adopt the new one)."""
    current, stored = space_record(space), study.user_attrs.get("space")
    if stored is not None and stored != current and not force:
        changes = [f"{k}: {stored.get(k, 'absent')} → {current.get(k, 'absent')}"
                   for k in sorted(set(stored) | set(current)) if stored.get(k) != current.get(k)]
        raise ConfigError(f"study {study.study_name!r} was created with another search space ({'; '.join(changes)}); "
                          "its trials would mix two searches. Name a new study (--study NAME), or pass --force to "
                          "continue this one with the new space.")
    if stored != current:
        study.set_user_attr("space", current)


def _first_value(spec):
    return spec[0] if isinstance(spec, list) else (int(spec.low) if spec.integer else spec.low)


def suggest_overrides(trial, space: dict) -> list[str]:
    """``KEY=VALUE`` overrides for one trial. List choices travel through Optuna as JSON strings,
    since its categorical values must be scalars."""
    items = []
    for key, spec in space.items():
        if isinstance(spec, list):
            value = json.loads(trial.suggest_categorical(key, [json.dumps(choice) for choice in spec]))
        else:
            value = spec.suggest(trial, key)
        items.append(f"{key}={json.dumps(value)}")
    return items


def tpe_sampler(storage: str | None, seed: int):
    """TPE seeded with ``trainer.seed`` for the default single-process SQLite study (repeatable); unseeded
    with a shared ``--storage``, where every worker runs this same command: seeded alike, the workers
    would propose the same startup trials (and the same trials after them)."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed if storage is None else None)


def run_tune(path: str | Path, trials: int | None = None, storage: str | None = None, study_name: str | None = None,
             overrides: list[str] | None = None, force: bool = False) -> TuneResult:
    """Run ``trials`` more trials of the study (created, or continued when it exists and searches the
    same space; ``force``: continue it with a changed space)."""
    try:
        import optuna
        from optuna_integration import PyTorchLightningPruningCallback
    except ImportError:
        raise EcglabError("ecglab tune needs optuna and optuna-integration: pip install 'ecglab[tune]'.") from None
    from ecglab.training.fit import train
    from ecglab.training.module import MONITOR

    base, section = load_tune(path, overrides)
    config = validate_config(base, str(path))
    directory = Path(config.out_dir) / f"{config.name}-tune"
    directory.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=study_name or config.name, storage=storage or f"sqlite:///{directory / 'study.db'}",
        direction="maximize", load_if_exists=True, sampler=tpe_sampler(storage, config.trainer.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=section.startup_trials, n_warmup_steps=section.warmup_epochs))
    check_same_space(study, section.space, force)

    def objective(trial) -> float:
        trial_raw = copy.deepcopy(base)
        for item in suggest_overrides(trial, section.space):
            apply_override(trial_raw, item)
        trial_raw.update(name=f"trial-{trial.number:04d}", out_dir=str(directory))
        result = train(validate_config(trial_raw, f"{path} (trial {trial.number})"),
                       callbacks=[PyTorchLightningPruningCallback(trial, monitor=MONITOR)])
        trial.set_user_attr("run_dir", str(result.run_dir))
        value = result.report.get("validation", {}).get("macro_auroc")
        return float("nan") if value is None else float(value)  # NaN: Optuna records the trial as failed

    study.optimize(objective, n_trials=trials or section.trials)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise EcglabError(f"no trial of study {study.study_name!r} completed (all pruned or failed); "
                          "run more trials or widen the search space.")
    best = study.best_trial
    best_path = write_best_config(base, section.space, best.params, config, directory / "best.yaml",
                                  f"{OBJECTIVE} {best.value:.4f}, trial {best.number} of study {study.study_name!r}")
    return TuneResult(study, directory, best_path, float(best.value))


def write_best_config(base: dict, space: dict, params: dict, config: RunConfig, path: Path, note: str) -> Path:
    """The base config with the best trial's values, renamed ``NAME-best``: ready for ``ecglab train``."""
    best = copy.deepcopy(base)
    for key, spec in space.items():
        value = json.loads(params[key]) if isinstance(spec, list) else params[key]
        apply_override(best, f"{key}={json.dumps(value)}")
    best.update(name=f"{config.name}-best", out_dir=config.out_dir)
    resolved = validate_config(best, str(path))
    path.write_text(f"# Best configuration found by `ecglab tune` ({note}).\n# Train it: ecglab train {path}\n"
                    + yaml.safe_dump(resolved.model_dump(mode="json", exclude_defaults=False), sort_keys=False))
    return path
