"""xresnet1d: the 1-D xresnet of the PTB-XL benchmark (Strodthoff et al. 2020), after fastai's xresnet.

fastai's xresnet applies the 'bag of tricks' of He et al. 2019 (ResNet-C: a stem of three convolutions;
ResNet-D: average-pooling, not a strided 1×1 convolution, on the shortcut) to bottleneck ResNets.
The benchmark keeps every stage at 64 bottleneck channels (256 after the ×4 expansion), kernel 5,
and a concat-pooling head with one hidden layer of 128. Weights use PyTorch's default initialisation
with BatchNorm scales at one: the benchmark re-initialised them so (no zero-initialised last BatchNorm).
"""

from __future__ import annotations

from torch import nn

from ecglab.errors import ConfigError
from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConcatPool1d, ConvBnAct
from ecglab.models.registry import register_model

PTBXL_XRESNET = ("Strodthoff, Wagner, Schaeffter & Samek 2020, 'Deep learning for ECG analysis: benchmarks and insights "
                 "from PTB-XL', IEEE JBHI; He et al. 2019, 'Bag of tricks for image classification with CNNs'")


class XResBlock(nn.Module):
    """Bottleneck: 1×1 conv → k conv (carries the stride) → 1×1 conv to ``out_ch``, each BatchNorm'd.

    Shortcut: average-pool(2) when strided, then a 1×1 conv + BatchNorm when the width changes.
    """

    def __init__(self, in_ch: int, hidden: int, out_ch: int, kernel: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(ConvBnAct(in_ch, hidden, 1), ConvBnAct(hidden, hidden, kernel, stride=stride),
                                  ConvBnAct(hidden, out_ch, 1, act=False))
        shortcut: list[nn.Module] = []
        if stride != 1:
            shortcut.append(nn.AvgPool1d(2, ceil_mode=True))  # ceil: matches the 'same'-padded strided conv for odd lengths
        if in_ch != out_ch:
            shortcut.append(ConvBnAct(in_ch, out_ch, 1, act=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))


class XResNet1dTrunk(nn.Sequential):
    """Stem (3 convs, the first strided) → max-pool → bottleneck stages (stride 2 from the second on) → concat pool."""

    def __init__(self, n_leads: int, blocks: tuple[int, ...], widths: tuple[int, ...], stem: tuple[int, ...],
                 kernel: int, stem_kernel: int, expansion: int):
        channels = (n_leads, *stem)
        layers: list[nn.Module] = [ConvBnAct(channels[i], channels[i + 1], stem_kernel, stride=2 if i == 0 else 1)
                                   for i in range(len(stem))]
        layers.append(nn.MaxPool1d(3, stride=2, padding=1))
        width = stem[-1]
        for stage, (n_blocks, hidden) in enumerate(zip(blocks, widths)):
            for b in range(n_blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(XResBlock(width, hidden, hidden * expansion, kernel, stride))
                width = hidden * expansion
        layers.append(ConcatPool1d())
        super().__init__(*layers)
        self.out_features = 2 * width


def xresnet_classifier(blocks: tuple[int, ...], n_leads: int, n_classes: int, n_meta: int, widths, stem, kernel: int,
                       stem_kernel: int, expansion: int, head_hidden, dropout: float) -> ECGClassifier:
    if len(widths) != len(blocks):
        raise ConfigError(f"widths need one entry per stage ({len(blocks)} stages), got {len(widths)}: {tuple(widths)}.")
    trunk = XResNet1dTrunk(n_leads, blocks, tuple(widths), tuple(stem), kernel, stem_kernel, expansion)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden),
                         dropout=dropout, head_bn=True)


@register_model(PTBXL_XRESNET + " (xresnet1d50)")
def xresnet1d50(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
                widths: tuple[int, ...] = (64, 64, 64, 64), stem: tuple[int, ...] = (32, 32, 64), kernel: int = 5,
                stem_kernel: int = 5, expansion: int = 4, head_hidden: tuple[int, ...] = (128,),
                dropout: float = 0.5) -> ECGClassifier:
    """Strodthoff et al. 2020's xresnet1d50 (PTB-XL benchmark): fastai's xresnet with He et al. 2019's tricks, in 1-D.

    Bottleneck blocks [3, 4, 6, 3], expansion 4, kernel 5, concat-pooling head (see the module docstring)."""
    return xresnet_classifier((3, 4, 6, 3), n_leads, n_classes, n_meta, widths, stem, kernel, stem_kernel, expansion,
                              head_hidden, dropout)


@register_model(PTBXL_XRESNET + " (xresnet1d101)")
def xresnet1d101(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
                 widths: tuple[int, ...] = (64, 64, 64, 64), stem: tuple[int, ...] = (32, 32, 64), kernel: int = 5,
                 stem_kernel: int = 5, expansion: int = 4, head_hidden: tuple[int, ...] = (128,),
                 dropout: float = 0.5) -> ECGClassifier:
    """Strodthoff et al. 2020's xresnet1d101 (PTB-XL benchmark): fastai's xresnet with He et al. 2019's tricks, in 1-D.

    Bottleneck blocks [3, 4, 23, 3], expansion 4, kernel 5, concat-pooling head; among the best of the benchmark."""
    return xresnet_classifier((3, 4, 23, 3), n_leads, n_classes, n_meta, widths, stem, kernel, stem_kernel, expansion,
                              head_hidden, dropout)
