"""U-Net family: per-sample segmentation (the zoo's one model with ``task="segmentation"``).

Unlike the classifiers, which return logits ``(B, C)`` for a whole input, a segmentation model
returns logits ``(B, C, T)``: one class distribution per input sample (for ECG delineation the
classes none / P / QRS / T). It takes any length; inputs are padded to a multiple of ``2**depth``
inside and the output is cut back to the input's length.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ecglab.models.layers import ConvBnAct
from ecglab.models.registry import register_model


def double_conv(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(ConvBnAct(in_ch, out_ch, kernel), ConvBnAct(out_ch, out_ch, kernel))


class UNet1d(nn.Module):
    """Encoder of ``depth`` poolings (channels ``width·2^k``, capped at ``8·width``), mirrored decoder
    with skip connections, 1×1 convolution to per-sample class logits."""

    def __init__(self, n_leads: int, n_classes: int, width: int = 8, depth: int = 4, kernel: int = 9):
        super().__init__()
        channels = [min(width * 2 ** k, 8 * width) for k in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList([double_conv(n_leads, channels[0], kernel)] +
                                  [double_conv(channels[k - 1], channels[k], kernel) for k in range(1, depth + 1)])
        self.up = nn.ModuleList([double_conv(channels[k + 1] + channels[k], channels[k], kernel)
                                 for k in reversed(range(depth))])
        self.head = nn.Conv1d(channels[0], n_classes, 1)

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        length = x.shape[-1]
        multiple = 2 ** self.depth
        x = F.pad(x, (0, (-length) % multiple))
        skips = []
        for k, block in enumerate(self.down):
            x = block(F.max_pool1d(x, 2) if k else x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([F.interpolate(x, scale_factor=2.0, mode="nearest"), skip], dim=1))
        return self.head(x)[..., :length]


@register_model("Ronneberger, Fischer & Brox 2015, 'U-Net' (MICCAI), in 1-D for ECG delineation as in Moskalenko et "
                "al. 2020 (LUDB, IEEE Access) and Jimenez-Perez et al. 2021", task="segmentation")
def unet1d(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, width: int = 8, depth: int = 4,
           kernel: int = 9) -> UNet1d:
    """A 1-D U-Net returning per-sample logits ``(B, n_classes, T)``; metadata is not used."""
    if n_meta:
        raise ValueError("unet1d takes no metadata features (n_meta must be 0)")
    if depth < 1 or width < 1 or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"expected depth ≥ 1, width ≥ 1 and an odd kernel; found depth={depth}, width={width}, kernel={kernel}")
    return UNet1d(n_leads, n_classes, width, depth, kernel)
