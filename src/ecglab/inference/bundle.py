"""Model bundles: weights in safetensors plus one JSON that says everything needed to use them.

    bundle/
      model.safetensors   the state dict (tensors only: loading never unpickles)
      bundle.json         architecture + kwargs, classes, fs, leads, input length, preprocessing,
                          windowing, thresholds, metadata features, beat extraction, version

A bundle may name a ``fallback``: the bundle (a shipped model's name, or a directory relative to its own)
that classifies the records lacking one of its leads, e.g. a one-lead model beside a two-lead one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecglab.version import __version__
from ecglab.errors import BundleError, ConfigError
from ecglab.inputs.alike import AlikeBeats, check_alike
from ecglab.inputs.beats import BeatSpec, input_channels
from ecglab.inputs.metadata import MeasuredFeatures, MetaFeature
from ecglab.inputs.preprocess import Preprocessing

BUNDLE_FORMAT = 1
WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "bundle.json"


class BundleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    format: int = BUNDLE_FORMAT
    ecglab_version: str = __version__
    architecture: str
    model_kwargs: dict = Field(default_factory=dict)
    kind: Literal["multiclass", "multilabel", "segmentation"]  # segmentation: per-sample classes, one lead at a time
    input: Literal["record", "beat"] = "record"
    classes: list[str]
    fs: float
    leads: list[str]
    input_length: int
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    beats: BeatSpec | None = None
    window_stride: int | None = None
    aggregate: Literal["mean", "max"] = "mean"
    thresholds: list[float] | None = None
    meta_features: list[MetaFeature] = Field(default_factory=list)
    measured: MeasuredFeatures | None = None  # which meta features are measured on the signal, not read
    dataset: str | None = None
    metrics: dict = Field(default_factory=dict)
    fallback: str | None = None  # the bundle for records without one of ``leads`` (see the module docstring)
    alike_beats: AlikeBeats | None = None  # beat models: the V probability shared among alike beats of a record

    @property
    def channels(self) -> int:
        """The model's input channels: one per lead, more when the beat spec adds a template channel."""
        return input_channels(len(self.leads), self.beats)

    def decision_thresholds(self) -> list[float]:
        return self.thresholds or [0.5] * len(self.classes)


def build_model(spec: BundleSpec):
    from ecglab.models import create_model

    return create_model(spec.architecture, n_leads=spec.channels, n_classes=len(spec.classes),
                        input_length=spec.input_length, n_meta=len(spec.meta_features), **spec.model_kwargs)


def _spec_json(spec: BundleSpec) -> bytes:
    """The spec as JSON; ``measured``, ``fallback``, ``alike_beats`` and the beats' ``centre`` only when set, so
    that bundles without them load in earlier releases."""
    unset: dict = {name: True for name in ("measured", "fallback", "alike_beats") if getattr(spec, name) is None}
    if spec.beats is not None and spec.beats.centre == "r_peak":
        unset["beats"] = {"centre"}
    return spec.model_dump_json(indent=2, exclude=unset or None).encode()


def save_bundle(path: str | Path, model, spec: BundleSpec) -> Path:
    """Write ``model``'s weights and ``spec``. Both files are written by Python, so their permissions
    follow the umask like any file's (safetensors' own ``save_file`` creates them 0600, which keeps
    other users from loading a shared bundle)."""
    from safetensors.torch import save

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, content in ((WEIGHTS_FILE, save(state, metadata={"ecglab_version": __version__})),
                          (SPEC_FILE, _spec_json(spec))):
        (path / name).unlink(missing_ok=True)  # a new file takes the umask; an old 0600 one would keep its mode
        (path / name).write_bytes(content)
    return path


def resolve_bundle(path: str | Path) -> Path:
    """A bundle directory, a run directory holding ``bundle/``, or the name of a shipped bundle."""
    path = Path(path)
    if (path / SPEC_FILE).exists():
        return path
    if (path / "bundle" / SPEC_FILE).exists():
        return path / "bundle"
    if not path.exists() and len(path.parts) == 1:
        from ecglab.pretrained import find_pretrained, list_pretrained

        if str(path) in list_pretrained():
            return find_pretrained(str(path))
        raise BundleError(f"{path}: no such bundle directory, and no shipped model of that name "
                          f"(shipped: {', '.join(list_pretrained()) or 'none'}).")
    return path


def load_spec(path: str | Path) -> BundleSpec:
    path = resolve_bundle(path)
    spec_file = path / SPEC_FILE
    if not spec_file.exists():
        raise BundleError(f"{path}: not a model bundle (expected a directory holding {SPEC_FILE} and {WEIGHTS_FILE}).")
    try:
        spec = BundleSpec.model_validate(json.loads(spec_file.read_text()))
    except (ValueError, ValidationError) as exc:
        raise BundleError(f"{spec_file}: invalid bundle description ({exc}).") from None
    if spec.format > BUNDLE_FORMAT:
        raise BundleError(f"{path}: bundle format {spec.format} is newer than this ecglab reads ({BUNDLE_FORMAT}); upgrade ecglab.")
    try:
        check_alike(spec.alike_beats, spec.input, spec.classes, spec.beats)
    except ConfigError as exc:
        raise BundleError(f"{spec_file}: {exc}") from None
    return spec


def fallback_bundle(path: Path, spec: BundleSpec) -> Path | None:
    """The directory of the bundle that ``spec.fallback`` (the spec of the bundle at ``path``) names, checked to
    classify into the same classes; None when it names none."""
    if spec.fallback is None:
        return None
    from ecglab.pretrained import find_pretrained, list_pretrained

    target = find_pretrained(spec.fallback) if spec.fallback in list_pretrained() else path / spec.fallback
    if not (target / SPEC_FILE).is_file():
        raise BundleError(f"{path}: its fallback {spec.fallback!r} is neither a shipped model "
                          f"({', '.join(list_pretrained())}) nor a bundle directory relative to it.")
    other = load_spec(target)
    if (other.kind, other.input, other.classes) != (spec.kind, spec.input, spec.classes):
        raise BundleError(f"{path}: its fallback {spec.fallback!r} must be a {spec.kind} {spec.input} model of the "
                          f"classes {spec.classes}; it is a {other.kind} {other.input} model of {other.classes}.")
    return target


def load_bundle(path: str | Path):
    """Return ``(model in eval mode, spec)``. Weights load through safetensors: no pickle."""
    from safetensors.torch import load_file

    path = resolve_bundle(path)
    spec = load_spec(path)
    model = build_model(spec)
    weights = path / WEIGHTS_FILE
    if not weights.exists():
        raise BundleError(f"{path}: {WEIGHTS_FILE} is missing.")
    try:
        model.load_state_dict(load_file(str(weights)))
    except Exception as exc:
        raise BundleError(f"{weights}: weights do not match architecture {spec.architecture!r} ({exc}).") from None
    return model.eval(), spec
