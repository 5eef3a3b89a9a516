"""Kachuee, Fazeli & Sarrafzadeh 2018, 'ECG Heartbeat Classification: A Deep Transferable Representation'."""

from __future__ import annotations

import torch
from torch import nn

from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConvBnAct, ResidualBlock1d
from ecglab.models.registry import register_model


class KachueeTrunk(nn.Sequential):
    """Conv(32, k5), then 5 × [residual block (2 convs, no BatchNorm) → max-pool(5, stride 2)].

    The paper flattens 32 × 2 features for a 187-sample beat; an adaptive max-pool to length 2
    (:class:`HalvesMaxPool`) gives exactly that for 187 samples and keeps the model usable on any length.
    """

    def __init__(self, n_leads: int, filters: int = 32, kernel: int = 5, n_blocks: int = 5):
        layers = [ConvBnAct(n_leads, filters, kernel, bn=False, act=False, bias=True)]
        for _ in range(n_blocks):
            layers += [ResidualBlock1d(filters, filters, (kernel, kernel), bn=False), nn.MaxPool1d(5, stride=2)]
        layers += [HalvesMaxPool(), nn.Flatten()]
        super().__init__(*layers)
        self.out_features = 2 * filters


class HalvesMaxPool(nn.Module):
    """``nn.AdaptiveMaxPool1d(2)`` written out: the maximum of each half (sharing the middle sample when the
    length is odd). ONNX exports PyTorch's only where 2 divides the length, and 4 blocks leave 96-sample
    context beats 3 samples long."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        return torch.stack([x[..., :(n + 1) // 2].amax(dim=-1), x[..., n // 2:].amax(dim=-1)], dim=-1)


@register_model("Kachuee, Fazeli & Sarrafzadeh 2018, 'ECG heartbeat classification: a deep transferable "
                "representation', IEEE ICHI, arXiv:1805.00794")
def kachuee(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, filters: int = 32,
            kernel: int = 5, n_blocks: int = 5, head_hidden: tuple[int, ...] = (32, 32), dropout: float = 0.0) -> ECGClassifier:
    """Kachuee, Fazeli & Sarrafzadeh 2018's residual CNN for heartbeats: 55,013 parameters on a 1×187 beat, 5 classes.

    As in the paper; only the adaptive max-pool before flattening is ours (identical at 187 samples, see
    :class:`KachueeTrunk`), so that other lengths work too."""
    if input_length < 187 and n_blocks == 5:
        raise ValueError(f"kachuee needs at least 187 samples per input with 5 blocks, got {input_length}.")
    trunk = KachueeTrunk(n_leads, filters, kernel, n_blocks)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)
