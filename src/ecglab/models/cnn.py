"""Plain convolutional networks: the vanilla CNN baseline and the fully convolutional network (FCN)."""

from __future__ import annotations

from torch import nn

from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConcatPool1d, ConvStack, GlobalAvgPool1d
from ecglab.models.registry import register_model


@register_model("Vanilla convolution-pooling network (LeCun et al. 1998, 'Gradient-based learning applied to "
                "document recognition'), the CNN baseline of the MIMIC-IV-ECG and MIT-BIH/PTBDB seed projects")
def cnn(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, filters: tuple[int, ...] = (32, 64, 128),
        kernels: tuple[int, ...] = (5, 5, 5), pool: int = 2, head_hidden: tuple[int, ...] = (64,),
        dropout: float = 0.3) -> ECGClassifier:
    """LeCun et al. 1998's convolution-pooling network in 1-D, the seed projects' CNN baseline.

    Conv-BN-ReLU → max-pool(2) per stage, global average pooling, a small dense head."""
    stack = ConvStack(n_leads, tuple(filters), tuple(kernels), pool=pool)
    return ECGClassifier(nn.Sequential(stack, GlobalAvgPool1d()), stack.out_channels, n_classes, n_meta,
                         head_hidden=tuple(head_hidden), dropout=dropout)


@register_model("Wang, Yan & Oates 2017, 'Time series classification from scratch with deep neural networks: "
                "a strong baseline', IJCNN; fcn_wang of Strodthoff et al. 2020 (PTB-XL benchmark), whose head it has")
def fcn_wang(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
             filters: tuple[int, ...] = (128, 256, 128), kernels: tuple[int, ...] = (8, 5, 3),
             head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Wang, Yan & Oates 2017's FCN with the head of the PTB-XL benchmark (Strodthoff et al. 2020), not the paper's.

    Three Conv-BN-ReLU blocks (128, 256, 128 filters; kernels 8, 5, 3) without pooling between them, as in
    both; then the benchmark's head: concat pooling → dense 128 with BatchNorm → dropout 0.5 → linear, where
    the paper has global average pooling and one linear layer."""
    stack = ConvStack(n_leads, tuple(filters), tuple(kernels))
    return ECGClassifier(nn.Sequential(stack, ConcatPool1d()), 2 * stack.out_channels, n_classes, n_meta,
                         head_hidden=tuple(head_hidden), dropout=dropout, head_bn=True)
