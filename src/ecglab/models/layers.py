"""Shared building blocks. Every model file composes these; none re-implements them."""

from __future__ import annotations

import torch
from torch import nn


class ConvBnAct(nn.Sequential):
    """Conv1d ('same' padding for odd kernels) → optional BatchNorm → optional ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1,
                 bn: bool = True, act: bool = True, bias: bool | None = None):
        layers = [nn.Conv1d(in_ch, out_ch, kernel, stride=stride, padding=dilation * (kernel - 1) // 2,
                            dilation=dilation, bias=(not bn) if bias is None else bias)]
        if bn:
            layers.append(nn.BatchNorm1d(out_ch))
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock1d(nn.Module):
    """Two convolutions with a skip connection (1×1 projection when the shape changes), then ReLU.

    The basic block of resnet1d_wang (``bn=True``) and of Kachuee et al. (``bn=False``).
    """

    def __init__(self, in_ch: int, out_ch: int, kernels: tuple[int, int] = (5, 3), stride: int = 1, bn: bool = True):
        super().__init__()
        self.body = nn.Sequential(ConvBnAct(in_ch, out_ch, kernels[0], stride=stride, bn=bn),
                                  ConvBnAct(out_ch, out_ch, kernels[1], bn=bn, act=False))
        self.skip = nn.Identity() if stride == 1 and in_ch == out_ch else ConvBnAct(in_ch, out_ch, 1, stride=stride, bn=bn, act=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.skip(x))


class ConcatPool1d(nn.Module):
    """Global average and max pooling side by side: (B, C, T) → (B, 2C). Any input length."""

    def forward(self, x):
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)


class GlobalAvgPool1d(nn.Module):
    def forward(self, x):
        return x.mean(dim=-1)


class AdditiveAttentionPool(nn.Module):
    """Additive (Bahdanau) attention over time: (B, T, F) → (B, F)."""

    def __init__(self, features: int, hidden: int = 64):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))

    def forward(self, x):
        weights = torch.softmax(self.score(x), dim=1)
        return (weights * x).sum(dim=1)


def mlp(in_features: int, hidden: tuple[int, ...] | list[int], out_features: int | None = None,
        dropout: float = 0.0, bn: bool = False) -> nn.Sequential:
    """Dense layers with ReLU (and optional BatchNorm, dropout); a final linear if ``out_features``."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size)]
        if bn:
            layers.append(nn.BatchNorm1d(size))
        layers.append(nn.ReLU(inplace=True))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    if out_features is not None:
        layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)
