"""Run configuration: YAML validated by pydantic, with ``--set a.b=value`` overrides.

A typo is an error that lists the valid keys at that level; the resolved config is saved in
the run directory so that any run can be repeated exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ecglab.errors import ConfigError
from ecglab.inputs.alike import AlikeBeats


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class PrepareConfig(_Strict):
    """Prepare the dataset first if ``data.path`` does not exist yet (cache hit otherwise)."""

    dataset: str
    source: str | None = None
    options: dict = Field(default_factory=dict)


class AugmentConfig(_Strict):
    """Training-time augmentation (ecglab.training.augment); all off by default."""

    amplitude: float = Field(0.0, ge=0)  # sd of the log gain, drawn per lead
    baseline: float = Field(0.0, ge=0)  # largest baseline-wander amplitude, in the signals' units (mV)
    noise: float = Field(0.0, ge=0)  # sd of additive Gaussian noise, in the signals' units
    lead_dropout: float = Field(0.0, ge=0, lt=1)  # probability that a lead is zeroed (one is always kept)
    shift: float = Field(0.0, ge=0)  # largest time shift in seconds: each example moves by whole samples up to this

    @property
    def active(self) -> bool:
        return any((self.amplitude, self.baseline, self.noise, self.lead_dropout, self.shift))


class DataConfig(_Strict):
    path: str
    prepare: PrepareConfig | None = None
    train_split: list[str] = ["train"]
    val_split: str = "val"
    test_split: str | None = "test"  # None: report on the validation split (said so in the report)
    window: int | None = Field(None, ge=1)  # training crop length in samples; None = the whole record
    eval_stride: int | None = Field(None, ge=1)  # evaluation window step; None = window (no overlap)
    aggregate: Literal["mean", "max"] = "mean"
    meta_features: list[str] = Field(default_factory=list)
    batch_size: int = Field(64, ge=1)
    num_workers: int = Field(0, ge=0)
    # true: draw every class about equally often; a number α in (0, 1]: a class in proportion to its count^(1-α)
    balanced_sampling: bool | float = False
    # training beats of a database (the prepared `database` column) drawn this much more or less often, e.g.
    # {svdb: 0.5}; databases not named weigh 1; with balanced_sampling the classes stay balanced
    database_weights: dict[str, float] = Field(default_factory=dict)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)

    @field_validator("balanced_sampling", mode="before")
    @classmethod
    def _sampling_power(cls, value):
        if isinstance(value, bool):
            return value
        try:
            power = float(value)
        except (TypeError, ValueError):
            power = float("nan")
        if not 0 < power <= 1:
            raise ValueError(f"expected true, false or a power in (0, 1], found {value!r}")
        return power

    @field_validator("database_weights")
    @classmethod
    def _positive_weights(cls, weights):
        wrong = {name: weight for name, weight in weights.items() if not weight > 0}
        if wrong:
            raise ValueError(f"expected a positive weight per database, found {wrong}")
        return weights


class ModelConfig(_Strict):
    name: str = "resnet1d"
    hparams: dict = Field(default_factory=dict)
    pretrain_epochs: int | None = Field(None, ge=0)  # two-stage models: reconstruction epochs first (null = the model's default)
    init_from: str | None = None  # a bundle to start from (transfer learning)
    freeze: Literal["none", "trunk"] = "none"


class LossConfig(_Strict):
    name: Literal["auto", "bce", "ce", "focal"] = "auto"  # auto: bce for multilabel, ce for multiclass
    alpha: float | None = None  # focal: weight of the positive class (multilabel) / all classes (multiclass)
    gamma: float = 2.0
    class_weights: bool = False  # weights from the training split's class frequencies


class OptimConfig(_Strict):
    name: Literal["adamw", "adam"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    scheduler: Literal["onecycle", "plateau", "exponential", "none"] = "onecycle"
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    decay_rate: float = Field(0.75, gt=0, le=1)  # exponential: lr · rate^(step / decay_steps) (Kachuee et al. 2018)
    decay_steps: int = Field(10000, ge=1)


class TrainerConfig(_Strict):
    max_epochs: int = Field(20, ge=1)
    patience: int = Field(5, ge=1)  # epochs without improvement of `monitor` before stopping
    # the validation score that keeps the best epoch and stops early; macro AUROC weighs a class of two
    # validation beats (AAMI F, Q) like N, so beat models may prefer the loss
    monitor: Literal["val_macro_auroc", "val_macro_f1", "val_loss"] = "val_macro_auroc"
    seed: int = 0
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "tpu", "auto"] = "cpu"
    devices: int | Literal["auto"] | list[int] = 1
    num_nodes: int = Field(1, ge=1)
    strategy: str = "auto"  # auto | ddp | ddp_spawn | fsdp | deepspeed … (checked by Lightning)
    precision: Literal["32-true", "32", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "64",
                       "transformer-engine"] = "32-true"
    deterministic: bool = True
    compile: bool = False  # torch.compile the model's forward (pays a compile time up front; see docs/PERFORMANCE.md)
    checkpoint_every_n_steps: int = Field(50, ge=1)  # mid-epoch checkpoints, so a crash loses little
    gradient_clip_val: float | None = Field(None, gt=0)  # clip the gradient norm (recurrent models like it)
    limit_train_batches: float | int = 1.0
    progress: bool = True


class ReportConfig(_Strict):
    baseline: bool = False  # also fit logistic regression on the raw samples, for scale
    n_boot: int = Field(200, ge=0)  # bootstrap resamples for the 95 % confidence intervals
    temperature_scaling: bool = False  # fit a temperature on validation, report the test ECE before and after


class PrematurityGateConfig(_Strict):
    """A beat ensemble calls S, not N, a beat that comes early for the patient's rhythm (the beat feature
    rr_prev_rel below the first) while the neighbouring beats share a P wave (p_consistency above the second)."""

    rr_prev_rel_below: float = Field(gt=0, allow_inf_nan=False)
    p_consistency_above: float = Field(ge=-1, le=1, allow_inf_nan=False)


class RhythmGateConfig(_Strict):
    """A beat ensemble does not call a beat S where the rhythm around it is irregular and its neighbours share no
    P wave (atrial fibrillation): the beat features rr_irregularity above and p_consistency below these."""

    irregularity_above: float = Field(ge=0, allow_inf_nan=False)
    p_consistency_below: float = Field(ge=-1, le=1, allow_inf_nan=False)


class MorphologyGateConfig(_Strict):
    """A beat ensemble calls V, not S, a beat whose QRS departs from the patient's usual one (the beat feature
    qrs_difference above the first) where V is plausible (its probability above the second)."""

    qrs_difference_above: float = Field(ge=0, allow_inf_nan=False)
    v_probability_above: float = Field(ge=0, le=1, allow_inf_nan=False)


class EnsembleConfig(_Strict):
    """Train several variants of this config and average them: each member is the config (without this
    section) with its own overrides, e.g. ``{data.balanced_sampling: true}``; ``{}`` is the config as it is."""

    members: list[dict] = Field(min_length=2)
    method: Literal["mean", "stacking"] = "mean"
    prematurity_gate: PrematurityGateConfig | None = None
    rhythm_gate: RhythmGateConfig | None = None
    morphology_gate: MorphologyGateConfig | None = None
    alike_beats: AlikeBeats | None = None  # the V probability shared among alike beats of a record (inputs/alike.py)


class RunConfig(_Strict):
    name: str = "run"  # a plain directory name: the run lives in out_dir/name
    out_dir: str = "runs"
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    ensemble: EnsembleConfig | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _plain_name(cls, value):
        value = str(value)  # `--set name=2024` arrives as an int
        if not value or value in (".", "..") or any(sep in value for sep in ("/", "\\")):
            raise ValueError(f"must be a plain directory name (no '/' or '..'), found {value!r}")
        return value

    @model_validator(mode="after")
    def _freeze_needs_a_source(self):
        if self.model.freeze != "none" and not self.model.init_from:
            raise ValueError("model.freeze=trunk needs model.init_from (a bundle whose trunk to keep)")
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, base: dict | None = None) -> RunConfig:
    """Read a YAML config (or start from ``base``), apply ``a.b=value`` overrides, validate."""
    raw: dict = read_config_file(path) if path is not None else dict(base or {})
    for item in overrides or []:
        apply_override(raw, item)
    return validate_config(raw, source=str(path) if path else "config")


def read_config_file(path: str | Path) -> dict:
    """The raw YAML mapping of a config file (run, benchmark or tuning), with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; expected a YAML file such as configs/mitbih-kachuee.yaml.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data, model, loss, optim, trainer, …).")
    return raw


def apply_override(raw: dict, item: str) -> None:
    """``model.hparams.width=64`` sets raw['model']['hparams']['width'] = 64 (value parsed as YAML)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set trainer.max_epochs=5.")
    key, value = item.split("=", 1)
    set_key(raw, key.strip(), yaml.safe_load(value), f"--set {item!r}")


def set_key(raw: dict, key: str, value, where: str) -> None:
    """``raw[a][b][c] = value`` for the dotted ``key`` ``a.b.c``, making the sections on the way."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {part} is not a section.")
    node[parts[-1]] = value


def member_configs(config: RunConfig, out_dir: str | Path) -> list[RunConfig]:
    """The members of ``config.ensemble``, each validated, named ``member-K`` and placed in ``out_dir``."""
    base = config.model_dump(mode="json", exclude={"ensemble"})
    members = []
    for k, overrides in enumerate(config.ensemble.members):
        raw = yaml.safe_load(yaml.safe_dump(base))  # a deep copy
        for key, value in overrides.items():
            set_key(raw, str(key), value, f"ensemble member {k}")
        raw.update(name=f"member-{k}", out_dir=str(out_dir))
        members.append(validate_config(raw, source=f"ensemble member {k}"))
    return members


def validate_config(raw: dict, source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        messages = dict.fromkeys(_explain(err) for err in _one_per_key(exc.errors()))
        raise ConfigError(f"{source}: " + "; ".join(messages)) from None


def _one_per_key(errors: list[dict]) -> list[dict]:
    """A value that fails every member of a union gives one error per member; keep the first per key."""
    seen, kept = set(), []
    for err in errors:
        fields = tuple(p for p in err["loc"] if isinstance(p, int) or ("[" not in str(p) and str(p) not in ("int", "str", "float", "bool")))
        if fields not in seen:
            seen.add(fields)
            kept.append({**err, "loc": fields})
    return kept


def _explain(err: dict) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    if not loc:  # a rule across keys
        return err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden" and loc[0] in ("benchmark", "tune"):
        return f"'{loc[0]}' is a section for `ecglab {loc[0]}`, not for `ecglab train`; run `ecglab {loc[0]} CONFIG`"
    if err["type"] == "extra_forbidden":
        valid = sorted(_section_model(loc[:-1]).model_fields)
        return f"unknown key '{key}'; valid keys{' under ' + '.'.join(loc[:-1]) if len(loc) > 1 else ''}: {', '.join(valid)}"
    if err["type"] == "missing":
        return f"missing required key '{key}'"
    return f"'{key}': {err['msg'].removeprefix('Value error, ')}" + ("" if "found" in err['msg'] else f" (found {err.get('input')!r})")


def _section_model(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = RunConfig
    for part in loc:
        annotation = model.model_fields[part].annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            break
        model = candidates[0]
    return model
