"""Plain convolutional networks: the vanilla CNN baseline and the fully convolutional network (FCN)."""

from __future__ import annotations

from torch import nn

from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConvStack, GlobalAvgPool1d
from ecglab.models.registry import register_model


def conv_trunk(n_leads: int, filters, kernels, pool: int) -> tuple[nn.Module, int]:
    """Conv stages then global average pooling: (B, L, T) → (B, filters[-1]) for any T."""
    stack = ConvStack(n_leads, tuple(filters), tuple(kernels), pool=pool)
    return nn.Sequential(stack, GlobalAvgPool1d()), stack.out_channels


@register_model("Vanilla convolution-pooling network (LeCun et al. 1998, 'Gradient-based learning applied to "
                "document recognition'), the CNN baseline of the MIMIC-IV-ECG and MIT-BIH/PTBDB seed projects")
def cnn(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, filters: tuple[int, ...] = (32, 64, 128),
        kernels: tuple[int, ...] = (5, 5, 5), pool: int = 2, head_hidden: tuple[int, ...] = (64,),
        dropout: float = 0.3) -> ECGClassifier:
    """Conv-BN-ReLU → max-pool(2) per stage, global average pooling, a small dense head."""
    trunk, width = conv_trunk(n_leads, filters, kernels, pool)
    return ECGClassifier(trunk, width, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)


@register_model("Wang, Yan & Oates 2017, 'Time series classification from scratch with deep neural networks: "
                "a strong baseline', IJCNN; fcn_wang in Strodthoff et al. 2020 (PTB-XL benchmark)")
def fcn_wang(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
             filters: tuple[int, ...] = (128, 256, 128), kernels: tuple[int, ...] = (8, 5, 3),
             head_hidden: tuple[int, ...] = (), dropout: float = 0.0) -> ECGClassifier:
    """Three Conv-BN-ReLU blocks (128, 256, 128 filters; kernels 8, 5, 3), no pooling between them,
    global average pooling and a linear classifier, as in the paper."""
    trunk, width = conv_trunk(n_leads, filters, kernels, pool=0)
    return ECGClassifier(trunk, width, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)
