"""Experiment configs: a run config plus the sections that only experiments read.

A protocol YAML is a normal run config (data, model, loss, optim, trainer, report) with up to two
extra top-level sections, split off here before the rest is validated as a :class:`RunConfig`:

``benchmark`` — the models to compare on this protocol (``ecglab benchmark``)::

    benchmark:
      models:
        - kachuee                                  # a zoo name: the base config with this model
        - {model: resnet1d, hparams: {width: 64}}  # with hyper-parameters
        - {name: cnn-lr3, model: cnn, set: {optim.lr: 0.003, trainer.max_epochs: 5}}

  ``name`` labels the entry (default: the model name) and names its run directory; ``hparams``
  replaces the base config's ``model.hparams``; ``set`` applies ``KEY: VALUE`` overrides, as
  ``--set`` does. Command-line ``--set`` overrides are applied to every entry, last.

``tune`` — the search space of ``ecglab tune`` (see :mod:`ecglab.experiments.tune`).

Command-line ``--set`` overrides apply to the whole YAML before the sections are split off, so
they reach the sections too (``--set tune.trials=1``, ``--set benchmark.models=[cnn]``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecglab.errors import ConfigError
from ecglab.training.config import RunConfig, apply_override, read_config_file, validate_config

EXPERIMENT_SECTIONS = ("benchmark", "tune")


class BenchmarkEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str
    name: str | None = None
    hparams: dict = Field(default_factory=dict)
    set: dict = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.model


class BenchmarkSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[BenchmarkEntry] = Field(min_length=1)

    @field_validator("models", mode="before")
    @classmethod
    def _names_as_entries(cls, value):
        return [{"model": item} if isinstance(item, str) else item for item in value or []]


@dataclass
class Benchmark:
    """One protocol and its entries: ``runs`` maps every entry's label to its validated run config;
    ``selected`` names the entries to train now (``--models``; all by default). The leaderboard
    always covers every entry of ``runs``."""

    name: str
    directory: Path
    runs: dict[str, RunConfig]
    selected: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.selected = list(self.selected or self.runs)

    @property
    def selected_runs(self) -> dict[str, RunConfig]:
        return {label: self.runs[label] for label in self.selected}


def read_protocol(path: str | Path) -> dict:
    """The raw YAML mapping of an experiment config."""
    return read_config_file(path)


def split_sections(raw: dict, overrides: list[str] | None = None) -> tuple[dict, dict]:
    """``(run config, experiment sections)`` of a copy of ``raw``: the ``--set`` overrides applied to the
    whole of it first (so that they reach the benchmark and tune sections too), then those sections taken off."""
    base = copy.deepcopy(raw)
    for item in overrides or []:
        apply_override(base, item)
    return base, {name: base.pop(name) for name in EXPERIMENT_SECTIONS if name in base}


def run_overrides(overrides: list[str] | None) -> list[str]:
    """The overrides that address the run config, not an experiment section."""
    return [item for item in overrides or [] if item.split("=", 1)[0].strip().split(".")[0] not in EXPERIMENT_SECTIONS]


def base_config(raw: dict, overrides: list[str] | None = None, source: str = "config") -> RunConfig:
    """The run config of a protocol (experiment sections left out), with ``--set`` overrides applied."""
    base, _ = split_sections(raw, overrides)
    return validate_config(base, source)


def load_benchmark(path: str | Path, overrides: list[str] | None = None, only: list[str] | None = None) -> Benchmark:
    """Every entry of a benchmark config as a validated run config; ``only`` selects the entries to train now.

    Runs go to ``OUT_DIR/NAME/LABEL`` (``out_dir`` and ``name`` of the config), beside the leaderboard.
    """
    raw = read_protocol(path)
    base, sections = split_sections(raw, overrides)
    if "benchmark" not in sections:
        raise ConfigError(f"{path} has no benchmark section; expected `benchmark: {{models: [kachuee, cnn, …]}}` "
                          "(a single-model config runs with `ecglab train`).")
    try:
        section = BenchmarkSection.model_validate(sections["benchmark"] or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: benchmark section: {problems} (entries are a model name or "
                          "{model, name, hparams, set}).") from None
    labels = [entry.label for entry in section.models]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"{path}: benchmark entries {duplicates} appear twice; give each a distinct `name`.")
    unknown = sorted(set(only or []) - set(labels))
    if unknown:
        raise ConfigError(f"--models {unknown} are not entries of {path}; its entries are {labels}.")
    name, out_dir = str(base.get("name", "benchmark")), str(base.get("out_dir", "runs"))
    directory = Path(out_dir) / name
    runs = {}
    for entry in section.models:
        entry_raw = copy.deepcopy(base)
        entry_raw["model"] = {**entry_raw.get("model", {}), "name": entry.model, "hparams": dict(entry.hparams)}
        for key, value in entry.set.items():
            apply_override(entry_raw, f"{key}={json.dumps(value)}")  # JSON is YAML: the value comes back as it was
        for item in run_overrides(overrides):  # again, so that they win over the entry's own `set`
            apply_override(entry_raw, item)
        entry_raw["name"], entry_raw["out_dir"] = entry.label, str(directory)
        runs[entry.label] = validate_config(entry_raw, f"{path} (benchmark entry {entry.label!r})")
    return Benchmark(name, directory, runs, [label for label in labels if label in (only or labels)])
