"""Recurrent networks: vanilla RNN, GRU, LSTM and bidirectional LSTM over the raw leads.

Recurrence is sequential in time, so a 12-lead record of 1000 samples costs 1000 steps per layer.
An average-pooling front (no parameters; it low-passes then decimates) shortens inputs longer than
``max_steps`` by the smallest integer factor that brings them within it: 1000 samples at 100 Hz become
250 steps at 25 Hz, while a 187-sample beat is left untouched. ``max_steps=None`` turns it off.
"""

from __future__ import annotations

import math

from torch import nn

from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import Recurrent, RecurrentConcatPool
from ecglab.models.registry import register_model

PTBXL_RNN = ("Strodthoff, Wagner, Schaeffter & Samek 2020, 'Deep learning for ECG analysis: benchmarks and "
             "insights from PTB-XL', IEEE JBHI")


class RecurrentTrunk(nn.Sequential):
    """A front (pooling or convolutions) → stacked recurrent layers → average, max and last-state pooling."""

    def __init__(self, front: nn.Module, in_features: int, cell: str, hidden: int, layers: int, bidirectional: bool):
        rnn = Recurrent(in_features, hidden, layers, cell, bidirectional)
        super().__init__(front, rnn, RecurrentConcatPool(bidirectional))
        self.out_features = 3 * rnn.out_channels


def downsample_factor(input_length: int, max_steps: int | None) -> int:
    return max(1, math.ceil(input_length / max_steps)) if max_steps else 1


def recurrent_classifier(cell: str, bidirectional: bool, n_leads: int, n_classes: int, input_length: int, n_meta: int,
                         hidden: int, layers: int, max_steps: int | None, head_hidden, dropout: float) -> ECGClassifier:
    factor = downsample_factor(input_length, max_steps)
    front = nn.AvgPool1d(factor) if factor > 1 else nn.Identity()
    trunk = RecurrentTrunk(front, n_leads, cell, hidden, layers, bidirectional)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden),
                         dropout=dropout, head_bn=True)


@register_model("Elman 1990, 'Finding structure in time'; vanilla RNN baseline of the MIT-BIH/PTBDB seed project")
def rnn(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, hidden: int = 128, layers: int = 2,
        max_steps: int | None = 250, head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Elman 1990's simple recurrent network, the MIT-BIH/PTBDB seed project's vanilla RNN baseline.

    Two tanh RNN layers of 128 units, concat pooling; prone to vanishing and exploding gradients on long
    inputs (clip them when training: ``trainer.gradient_clip_val``)."""
    return recurrent_classifier("rnn", False, n_leads, n_classes, input_length, n_meta, hidden, layers, max_steps,
                                head_hidden, dropout)


@register_model("Cho et al. 2014, 'Learning phrase representations using RNN encoder-decoder'; " + PTBXL_RNN + " (gru)")
def gru(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, hidden: int = 256, layers: int = 2,
        max_steps: int | None = 250, head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Cho et al. 2014's GRU as fastai_gru of the PTB-XL benchmark (Strodthoff et al. 2020).

    Two GRU layers of 256 units, concat pooling; the average-pooling front for inputs over ``max_steps`` is ours."""
    return recurrent_classifier("gru", False, n_leads, n_classes, input_length, n_meta, hidden, layers, max_steps,
                                head_hidden, dropout)


@register_model("Hochreiter & Schmidhuber 1997, 'Long short-term memory'; " + PTBXL_RNN + " (lstm)")
def lstm(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, hidden: int = 256, layers: int = 2,
         max_steps: int | None = 250, head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Hochreiter & Schmidhuber 1997's LSTM as fastai_lstm of the PTB-XL benchmark (Strodthoff et al. 2020).

    Two LSTM layers of 256 units, concat pooling; the average-pooling front for inputs over ``max_steps`` is ours."""
    return recurrent_classifier("lstm", False, n_leads, n_classes, input_length, n_meta, hidden, layers, max_steps,
                                head_hidden, dropout)


@register_model("Schuster & Paliwal 1997, 'Bidirectional recurrent neural networks'; " + PTBXL_RNN + " (lstm_bidir)",
                aliases=("lstm_bidir",))
def bilstm(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, hidden: int = 256, layers: int = 2,
           max_steps: int | None = 250, head_hidden: tuple[int, ...] = (128,), dropout: float = 0.5) -> ECGClassifier:
    """Schuster & Paliwal 1997's bidirectional LSTM as lstm_bidir of the PTB-XL benchmark (Strodthoff et al. 2020).

    Two bidirectional LSTM layers of 256 units per direction, concat pooling; the average-pooling front for
    inputs over ``max_steps`` is ours."""
    return recurrent_classifier("lstm", True, n_leads, n_classes, input_length, n_meta, hidden, layers, max_steps,
                                head_hidden, dropout)
