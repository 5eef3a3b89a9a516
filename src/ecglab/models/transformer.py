"""Transformer encoders over ECG tokens: patch embedding (transformer) or a CNN stem (transformer_cnn)."""

from __future__ import annotations

from torch import nn

from ecglab.errors import ConfigError
from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import ConvStack, PositionalEncoding, transformer_encoder
from ecglab.models.registry import register_model


class TransformerTrunk(nn.Module):
    """An embedding makes tokens (B, D, N) → positional encoding → pre-norm encoder → mean over tokens."""

    def __init__(self, embed: nn.Module, d_model: int, max_tokens: int, heads: int, layers: int, ff: int,
                 dropout: float, learned_positions: bool):
        super().__init__()
        self.embed = embed
        self.positions = PositionalEncoding(d_model, max_tokens, learned=learned_positions)
        self.encoder = transformer_encoder(d_model, heads, layers, ff, dropout)
        self.out_features = d_model

    def forward(self, x):
        tokens = self.embed(x).transpose(1, 2)
        return self.encoder(self.positions(tokens)).mean(dim=1)


@register_model("Vaswani et al. 2017, 'Attention is all you need', with the patch embedding of Dosovitskiy et al. 2021 "
                "(ViT); transformer classifier of the MIMIC-IV-ECG and MIT-BIH/PTBDB seed projects")
def transformer(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, patch_size: int = 10,
                d_model: int = 64, heads: int = 4, layers: int = 3, ff: int = 128, learned_positions: bool = False,
                head_hidden: tuple[int, ...] = (64,), dropout: float = 0.1) -> ECGClassifier:
    """Vaswani et al. 2017's transformer encoder on ViT patches (Dosovitskiy et al. 2021), the seed projects' transformer.

    Non-overlapping patches of ``patch_size`` samples (all leads) are linearly embedded into tokens
    (1000 samples → 100 tokens), sinusoidal (or learned) positions added, 3 pre-norm encoder layers, mean
    pooling over the tokens (no class token, unlike ViT)."""
    if input_length < patch_size:
        raise ConfigError(f"transformer needs inputs of at least patch_size={patch_size} samples, got {input_length}.")
    embed = nn.Conv1d(n_leads, d_model, patch_size, stride=patch_size)
    trunk = TransformerTrunk(embed, d_model, input_length // patch_size, heads, layers, ff, dropout, learned_positions)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)


@register_model("Convolutional stem + transformer encoder (Vaswani et al. 2017), in the manner of Natarajan et al. "
                "2020, 'A wide and deep transformer neural network for 12-lead ECG classification'; "
                "transformer-CNN hybrid of the MIMIC-IV-ECG seed project")
def transformer_cnn(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
                    stem_filters: tuple[int, ...] = (32, 64, 64), stem_kernels: tuple[int, ...] = (7, 5, 5),
                    heads: int = 4, layers: int = 2, ff: int = 128, learned_positions: bool = False,
                    head_hidden: tuple[int, ...] = (64,), dropout: float = 0.1) -> ECGClassifier:
    """A CNN stem feeding Vaswani et al. 2017's transformer encoder, after Natarajan et al. 2020 (without their wide features).

    Conv-BN-ReLU → max-pool(2) stages make the tokens (1000 samples → 125 tokens of width stem_filters[-1]),
    then 2 encoder layers and mean pooling: local waveform shape from the CNN, long-range context from
    attention. Natarajan et al. also concatenate hand-crafted ("wide") features; the MIMIC-IV-ECG seed
    project's transformer-CNN, which this follows, does not."""
    stem = ConvStack(n_leads, tuple(stem_filters), tuple(stem_kernels), pool=2)
    max_tokens = input_length // 2 ** len(stem_filters)
    trunk = TransformerTrunk(stem, stem.out_channels, max_tokens, heads, layers, ff, dropout, learned_positions)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)
