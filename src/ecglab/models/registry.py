"""Model registry in the style of timm: a decorator registers each entry point by name.

    >>> from ecglab.models import create_model, list_models
    >>> model = create_model("resnet1d", n_leads=12, n_classes=5, input_length=1000)

Every model takes ``(B, L, T)`` plus an optional metadata tensor ``(B, M)``. A classification model
(``task="classification"``, all but one) returns logits ``(B, C)``; a segmentation model
(``task="segmentation"``: ``unet1d``) returns per-sample logits ``(B, C, T)``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from ecglab.errors import ConfigError


@dataclass(frozen=True)
class ModelInfo:
    name: str
    builder: Callable
    reference: str
    family: str
    onnx: bool = True
    onnx_note: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    listed: bool = True  # False: built from trained bundles (ensemble), not trained from scratch
    task: str = "classification"  # or "segmentation": logits (B, C, T), one distribution per sample

    @property
    def accepted_hparams(self) -> list[str]:
        """Every keyword the builder takes besides the shapes every model takes."""
        return sorted(set(inspect.signature(self.builder).parameters) - _SHAPE_ARGUMENTS)

    @property
    def hparams(self) -> dict:
        """The builder's tunable keyword arguments and their defaults."""
        return {k: p.default for k, p in inspect.signature(self.builder).parameters.items()
                if p.kind is p.KEYWORD_ONLY}


_SHAPE_ARGUMENTS = {"n_leads", "n_classes", "input_length", "n_meta"}
_REGISTRY: dict[str, ModelInfo] = {}
_ALIASES: dict[str, str] = {}


def register_model(reference: str, *, name: str | None = None, aliases: tuple[str, ...] = (),
                   onnx: bool = True, onnx_note: str = "", listed: bool = True, task: str = "classification"):
    """Register a builder ``fn(n_leads, n_classes, input_length, n_meta=0, **hparams) -> nn.Module``."""

    def decorator(fn):
        key = name or fn.__name__
        family = fn.__module__.rsplit(".", 1)[-1]
        _REGISTRY[key] = ModelInfo(key, fn, reference, family, onnx, onnx_note, tuple(aliases), listed, task)
        for alias in aliases:
            _ALIASES[alias] = key
        return fn

    return decorator


def model_info(name: str) -> ModelInfo:
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; available models: {', '.join(list_models())}.")
    return _REGISTRY[key]


def list_models(task: str | None = None) -> list[str]:
    """The zoo: every architecture that trains from scratch (composites such as ``ensemble`` are left out),
    or only those of ``task`` ("classification" or "segmentation")."""
    return sorted(name for name, info in _REGISTRY.items() if info.listed and task in (None, info.task))


def create_model(name: str, n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, **hparams):
    """Build a registered model; an unknown hyper-parameter is an error listing the valid ones."""
    info = model_info(name)
    unknown = sorted(set(hparams) - set(info.accepted_hparams))
    if unknown:
        raise ConfigError(f"model {info.name!r} has no hyper-parameters {unknown}; valid ones: {info.accepted_hparams}.")
    try:
        model = info.builder(n_leads=n_leads, n_classes=n_classes, input_length=input_length, n_meta=n_meta, **hparams)
    except (TypeError, ValueError) as exc:  # e.g. width="abc", or an input too short for the architecture
        raise ConfigError(f"model {info.name!r} cannot be built with {hparams or 'its defaults'} for {n_leads} leads × "
                          f"{input_length} samples: {exc}. Its hyper-parameters and defaults: {info.hparams}.") from None
    model.architecture = info.name  # lets exporters look up the entry (e.g. its ONNX support)
    return model
