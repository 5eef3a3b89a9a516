"""Shared building blocks. Every model file composes these; none re-implements them."""

from __future__ import annotations

import math

import torch
from torch import nn

from ecglab.errors import ConfigError


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` whose long kernels run on the CPU as 2-D convolutions in channels-last layout.

    For kernels of :data:`LONG_KERNEL` taps or more, oneDNN's channels-last 2-D kernels train up to
    twice as fast as its 1-D ones, layout conversion included; for short kernels the strided output
    slows the batch norms and additions after them more than the convolution gains, so those stay
    as they are (benchmarks/compute.py, docs/PERFORMANCE.md). Parameters, state dicts, results (to
    rounding) and ONNX graphs are those of ``nn.Conv1d``; other devices use it as is.
    """

    def _conv_forward(self, x, weight, bias):
        if (self.kernel_size[0] < LONG_KERNEL or x.device.type != "cpu" or isinstance(self.padding, str)
                or self.padding_mode != "zeros" or _exporting()):
            return super()._conv_forward(x, weight, bias)
        x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        y = nn.functional.conv2d(x, weight.unsqueeze(2), bias, (1, self.stride[0]), (0, self.padding[0]),
                                 (1, self.dilation[0]), self.groups)
        return y.squeeze(2)


LONG_KERNEL = 9


def _exporting() -> bool:
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.jit.is_scripting()


class ConvBnAct(nn.Sequential):
    """Conv1d ('same' padding for odd kernels) → optional BatchNorm → optional ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1,
                 bn: bool = True, act: bool = True, bias: bool | None = None):
        layers = [Conv1d(in_ch, out_ch, kernel, stride=stride, padding=dilation * (kernel - 1) // 2,
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


class ConvStack(nn.Sequential):
    """Stages of ConvBnAct, each optionally followed by max-pooling (halving the length) and dropout.

    The plain convolutional front shared by the vanilla CNN, FCN, CNN-LSTM, the dilated CNN-BiLSTM,
    the convolutional autoencoder's encoder and the transformer's CNN stem.
    """

    def __init__(self, in_ch: int, filters: tuple[int, ...], kernels: tuple[int, ...],
                 dilations: tuple[int, ...] | None = None, pool: int = 0, dropout: float = 0.0):
        dilations = tuple(dilations) if dilations is not None else (1,) * len(filters)
        if not len(filters) == len(kernels) == len(dilations):
            raise ConfigError(f"filters, kernels and dilations need one entry per stage; got "
                              f"{len(filters)}, {len(kernels)} and {len(dilations)}.")
        layers: list[nn.Module] = []
        for out_ch, kernel, dilation in zip(filters, kernels, dilations):
            layers.append(ConvBnAct(in_ch, out_ch, kernel, dilation=dilation))
            if pool:
                layers.append(nn.MaxPool1d(pool))
            if dropout:
                layers.append(nn.Dropout(dropout))
            in_ch = out_ch
        super().__init__(*layers)
        self.out_channels = in_ch


class Recurrent(nn.Module):
    """A stacked RNN, GRU or LSTM over time, channels-first on both sides: (B, C, T) → (B, H·dirs, T)."""

    CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

    def __init__(self, in_features: int, hidden: int, layers: int = 1, cell: str = "lstm", bidirectional: bool = False):
        super().__init__()
        if cell not in self.CELLS:
            raise ConfigError(f"recurrent cell must be one of {sorted(self.CELLS)}, got {cell!r}.")
        self.rnn = self.CELLS[cell](in_features, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)
        self.out_channels = hidden * (2 if bidirectional else 1)

    def forward(self, x):
        out, _ = self.rnn(x.transpose(1, 2))
        return out.transpose(1, 2)


class RecurrentConcatPool(nn.Module):
    """Average, maximum and final state of a recurrent output (B, F, T) → (B, 3F).

    The final state of a bidirectional layer is the forward half's last step and the backward
    half's first step (Strodthoff et al. 2020, the RNN head of the PTB-XL benchmark).
    """

    def __init__(self, bidirectional: bool):
        super().__init__()
        self.bidirectional = bidirectional

    def forward(self, x):
        if self.bidirectional:
            half = x.shape[1] // 2
            last = torch.cat([x[:, :half, -1], x[:, half:, 0]], dim=1)
        else:
            last = x[:, :, -1]
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1), last], dim=1)


class PositionalEncoding(nn.Module):
    """Adds positions to tokens (B, N, D): sinusoidal (Vaswani et al. 2017) or learned.

    Sinusoids are computed for the actual number of tokens, so any length works. A learned table
    has ``max_tokens`` rows; longer inputs get it linearly interpolated to their length.
    """

    def __init__(self, d_model: int, max_tokens: int, learned: bool = False):
        super().__init__()
        self.d_model = d_model
        self.table = nn.Parameter(0.02 * torch.randn(1, max(max_tokens, 1), d_model)) if learned else None

    def forward(self, x):
        n_tokens = x.shape[1]
        if self.table is None:
            return x + self.sinusoids(n_tokens, x.device, x.dtype)
        if n_tokens <= self.table.shape[1]:
            return x + self.table[:, :n_tokens]
        stretched = nn.functional.interpolate(self.table.transpose(1, 2), size=n_tokens, mode="linear", align_corners=True)
        return x + stretched.transpose(1, 2)

    def sinusoids(self, n_tokens: int, device, dtype):
        position = torch.arange(n_tokens, device=device, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, self.d_model, 2, device=device, dtype=torch.float32)
                              * (-math.log(10000.0) / self.d_model))
        angles = position * frequency
        table = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)[:, : self.d_model]
        return table.unsqueeze(0).to(dtype)


def transformer_encoder(d_model: int, heads: int, layers: int, ff: int, dropout: float = 0.1) -> nn.TransformerEncoder:
    """A pre-norm transformer encoder stack (tokens batch-first) with a final LayerNorm."""
    if d_model % heads:
        raise ConfigError(f"the model width ({d_model}) must be divisible by the number of heads ({heads}).")
    layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
