"""One row per registered model: parameter counts in the two standard settings, ONNX support, reference.

Used by ``ecglab models`` and by ``benchmarks/models.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ecglab.models.registry import create_model, list_models, model_info

N_CLASSES = 5
BEAT = (1, 187)        # one lead, one beat at 125 Hz (MIT-BIH / PTBDB, Kachuee et al. 2018)
RECORD = (12, 1000)    # 12 leads, 10 s at 100 Hz (PTB-XL)


@dataclass(frozen=True)
class ModelRow:
    name: str
    family: str
    aliases: tuple[str, ...]
    params_beat: int
    params_record: int
    onnx: bool
    onnx_note: str
    reference: str


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_row(name: str) -> ModelRow:
    info = model_info(name)
    beat, record = (count_parameters(create_model(info.name, leads, N_CLASSES, length)) for leads, length in (BEAT, RECORD))
    return ModelRow(info.name, info.family, info.aliases, beat, record, info.onnx, info.onnx_note, info.reference)


def model_rows(names: list[str] | None = None) -> list[ModelRow]:
    """Rows for ``names`` (default: every registered model), in that order."""
    return [model_row(name) for name in (names or list_models())]
