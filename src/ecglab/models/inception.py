"""inception1d: InceptionTime for ECGs, as in the PTB-XL benchmark."""

from __future__ import annotations

import torch
from torch import nn

from ecglab.errors import ConfigError
from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConcatPool1d, ConvBnAct
from ecglab.models.registry import register_model


class InceptionBlock1d(nn.Module):
    """A 1×1 bottleneck feeding parallel convolutions of several kernel sizes, beside a max-pool → 1×1 branch;
    the branches are concatenated, then BatchNorm + ReLU."""

    def __init__(self, in_ch: int, filters: int, kernels: tuple[int, ...], bottleneck: int):
        super().__init__()
        self.bottleneck = ConvBnAct(in_ch, bottleneck, 1, bn=False, act=False) if bottleneck else nn.Identity()
        width = bottleneck or in_ch
        self.convs = nn.ModuleList(ConvBnAct(width, filters, k, bn=False, act=False) for k in kernels)
        self.pool_branch = nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1), ConvBnAct(in_ch, filters, 1, bn=False, act=False))
        self.bn_act = nn.Sequential(nn.BatchNorm1d((len(kernels) + 1) * filters), nn.ReLU(inplace=True))

    def forward(self, x):
        bottled = self.bottleneck(x)
        return self.bn_act(torch.cat([conv(bottled) for conv in self.convs] + [self.pool_branch(x)], dim=1))


class InceptionTrunk(nn.Module):
    """``depth`` inception blocks; every third adds a (1×1 conv + BatchNorm) shortcut from three blocks back."""

    def __init__(self, n_leads: int, depth: int, filters: int, kernels: tuple[int, ...], bottleneck: int, residual: bool):
        super().__init__()
        if residual and depth % 3:
            raise ConfigError(f"inception1d with residual connections needs a depth divisible by 3, got {depth}.")
        if any(k % 2 == 0 for k in kernels):
            raise ConfigError(f"inception1d kernels must be odd so that the branches keep the input length, got {kernels}.")
        width = (len(kernels) + 1) * filters
        self.blocks = nn.ModuleList(InceptionBlock1d(n_leads if d == 0 else width, filters, kernels, bottleneck)
                                    for d in range(depth))
        self.shortcuts = nn.ModuleList(ConvBnAct(n_leads if s == 0 else width, width, 1, act=False)
                                       for s in range(depth // 3 if residual else 0))
        self.act = nn.ReLU(inplace=True)
        self.pool = ConcatPool1d()
        self.out_features = 2 * width

    def forward(self, x):
        residual = x
        for d, block in enumerate(self.blocks):
            x = block(x)
            if self.shortcuts and d % 3 == 2:
                x = self.act(x + self.shortcuts[d // 3](residual))
                residual = x
        return self.pool(x)


@register_model("Ismail Fawaz et al. 2020, 'InceptionTime: finding AlexNet for time series classification', Data Min. "
                "Knowl. Disc.; inception1d of Strodthoff et al. 2020 (PTB-XL benchmark)")
def inception1d(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, depth: int = 6, filters: int = 32,
                kernels: tuple[int, ...] = (39, 19, 9), bottleneck: int = 32, residual: bool = True,
                head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Ismail Fawaz et al. 2020's InceptionTime as inception1d of the PTB-XL benchmark (Strodthoff et al. 2020).

    Depth 6, 32 filters per branch, kernels 39/19/9 (the benchmark's; the paper's are 40/20/10), bottleneck
    32, a shortcut every 3 blocks, and the benchmark's concat-pooling head (the paper: average pooling, linear)."""
    trunk = InceptionTrunk(n_leads, depth, filters, tuple(kernels), bottleneck, residual)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden),
                         dropout=dropout, head_bn=True)
