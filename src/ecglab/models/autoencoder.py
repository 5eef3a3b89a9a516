"""autoencoder_mlp: a convolutional autoencoder learns a code by reconstruction; an MLP classifies the code.

Two-stage training contract (the training loop relies on exactly this):

1. for ``model.pretrain_epochs`` epochs, minimise ``model.pretrain_loss(x)`` (reconstruction MSE; no labels);
2. call ``model.start_classifier_stage()``, then train with the normal classification loss on ``model(x, meta)``.
   With ``freeze_encoder=True`` that call freezes the encoder (no gradients, BatchNorm statistics fixed, and it
   stays in eval mode through later ``model.train()`` calls); with ``False`` the encoder is fine-tuned.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConcatPool1d, ConvBnAct, ConvStack
from ecglab.models.registry import register_model


class ConvDecoder(nn.Sequential):
    """Mirror of a max-pooling ConvStack: per stage, upsample ×2 → Conv-BN-ReLU; then a linear conv to the leads."""

    def __init__(self, code_channels: int, filters: tuple[int, ...], kernel: int, n_leads: int):
        layers: list[nn.Module] = []
        width = code_channels
        for out_ch in (*reversed(filters[:-1]), filters[0]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), ConvBnAct(width, out_ch, kernel)]
            width = out_ch
        layers.append(ConvBnAct(width, n_leads, kernel, bn=False, act=False, bias=True))
        super().__init__(*layers)


def match_length(x: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad the time axis to ``length``: pooling floors odd lengths, upsampling cannot restore them."""
    if x.shape[-1] >= length:
        return x[..., :length]
    return F.pad(x, (0, length - x.shape[-1]))


class AutoencoderClassifier(ECGClassifier):
    """An ECGClassifier whose trunk is encoder → concat pooling, with a decoder used only for pre-training."""

    def __init__(self, encoder: ConvStack, decoder: nn.Module, n_classes: int, n_meta: int, head_hidden: tuple[int, ...],
                 dropout: float, freeze_encoder: bool, pretrain_epochs: int):
        super().__init__(nn.Sequential(encoder, ConcatPool1d()), 2 * encoder.out_channels, n_classes, n_meta,
                         head_hidden=head_hidden, dropout=dropout)
        self.decoder = decoder
        self.freeze_encoder = freeze_encoder
        self.pretrain_epochs = pretrain_epochs

    @property
    def encoder(self) -> nn.Module:
        return self.trunk[0]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return match_length(self.decoder(self.encoder(x)), x.shape[-1])

    def pretrain_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Stage one: mean squared reconstruction error of the input (B, L, T)."""
        return F.mse_loss(self.reconstruct(x), x)

    def start_classifier_stage(self) -> None:
        """Stage two begins: freeze the encoder if ``freeze_encoder`` is set (otherwise it is fine-tuned)."""
        if self.freeze_encoder:
            self.freeze_trunk()  # the trunk is the encoder (plus parameter-free pooling)


@register_model("Masci, Meier, Cireşan & Schmidhuber 2011, 'Stacked convolutional auto-encoders for hierarchical "
                "feature extraction'; autoencoder + MLP of the MIMIC-IV-ECG and MIT-BIH/PTBDB seed projects")
def autoencoder_mlp(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
                    filters: tuple[int, ...] = (32, 64, 64), kernel: int = 7, head_hidden: tuple[int, ...] = (64,),
                    dropout: float = 0.2, freeze_encoder: bool = True, pretrain_epochs: int = 10) -> AutoencoderClassifier:
    """Masci et al. 2011's convolutional auto-encoder with an MLP on its code, as in the seed projects.

    Encoder: Conv-BN-ReLU → max-pool(2) stages (the code is 8× shorter than the input); decoder: the mirror
    image; classifier: concat pooling of the code → MLP. The whole encoder learns in one reconstruction
    stage (see the module docstring), where Masci et al. pre-train their stack greedily, layer by layer."""
    encoder = ConvStack(n_leads, tuple(filters), (kernel,) * len(filters), pool=2)
    decoder = ConvDecoder(encoder.out_channels, tuple(filters), kernel, n_leads)
    return AutoencoderClassifier(encoder, decoder, n_classes, n_meta, tuple(head_hidden), dropout, freeze_encoder,
                                 pretrain_epochs)
