"""ResNet1d family."""

from __future__ import annotations

from torch import nn

from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConcatPool1d, ConvBnAct, ResidualBlock1d
from ecglab.models.registry import register_model


class ResNet1dTrunk(nn.Sequential):
    """Stem conv, then residual stages (stride 2 from the second on), all ``width`` channels."""

    def __init__(self, n_leads: int, width: int = 128, blocks: tuple[int, ...] = (1, 1, 1),
                 kernels: tuple[int, int] = (5, 3), stem_kernel: int = 7):
        layers = [ConvBnAct(n_leads, width, stem_kernel)]
        for stage, n_blocks in enumerate(blocks):
            for b in range(n_blocks):
                layers.append(ResidualBlock1d(width, width, kernels, stride=2 if stage > 0 and b == 0 else 1))
        layers.append(ConcatPool1d())
        super().__init__(*layers)
        self.out_features = 2 * width


@register_model("Wang, Yan & Oates 2017, 'Time series classification from scratch with deep neural networks: a strong "
                "baseline', IJCNN; resnet1d_wang as in Strodthoff et al. 2020 (PTB-XL benchmark)")
def resnet1d(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, width: int = 128,
             blocks: tuple[int, ...] = (1, 1, 1), kernels: tuple[int, int] = (5, 3), stem_kernel: int = 7,
             head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Wang, Yan & Oates 2017's ResNet as resnet1d_wang of the PTB-XL benchmark (Strodthoff et al. 2020).

    The benchmark's variant: a stem convolution, 3 basic residual blocks of 128 filters (kernels 5, 3),
    concat pooling and an MLP head; the paper has blocks of three convolutions (kernels 8, 5, 3; 64, 128,
    128 filters), global average pooling and a linear layer."""
    trunk = ResNet1dTrunk(n_leads, width, tuple(blocks), tuple(kernels), stem_kernel)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden),
                         dropout=dropout, head_bn=True)
