"""Convolutional front-ends feeding recurrent layers: CNN-LSTM, dilated CNN-BiLSTM, CNN-BiLSTM-attention."""

from __future__ import annotations

from torch import nn

from ecglab.errors import ConfigError
from ecglab.models.classifier import ECGClassifier
from ecglab.models.layers import AdditiveAttentionPool, ConvStack, Recurrent, ResidualBlock1d, mlp
from ecglab.models.recurrent import RecurrentTrunk
from ecglab.models.registry import register_model


@register_model("Oh, Ng, Tan & Acharya 2018, 'Automated diagnosis of arrhythmia using combination of CNN and LSTM "
                "techniques with variable length heart beats', Comput. Biol. Med.; CNN-LSTM of the MIMIC-IV-ECG seed project")
def cnn_lstm(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, filters: tuple[int, ...] = (64, 64, 128),
             kernels: tuple[int, ...] = (7, 5, 3), hidden: int = 128, layers: int = 1,
             head_hidden: tuple[int, ...] = (64,), dropout: float = 0.3) -> ECGClassifier:
    """Oh et al. 2018's CNN-LSTM design, with the MIMIC-IV-ECG seed project's sizes rather than the paper's.

    Conv-BN-ReLU → max-pool(2) stages (1000 samples become 125 steps), an LSTM, concat pooling; filter counts,
    kernels and LSTM size are the seed's defaults (the paper's network is much narrower)."""
    front = ConvStack(n_leads, tuple(filters), tuple(kernels), pool=2)
    trunk = RecurrentTrunk(front, front.out_channels, "lstm", hidden, layers, bidirectional=False)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)


@register_model("Yu & Koltun 2016, 'Multi-scale context aggregation by dilated convolutions' + a BiLSTM; dilated "
                "CNN-BiLSTM of the MIT-BIH/PTBDB seed project (Ceylan, Gregorio & Vandenhirtz, ETH Zürich)")
def dilated_cnn_bilstm(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
                       filters: tuple[int, ...] = (32, 64, 64, 128), kernels: tuple[int, ...] = (7, 7, 7, 7),
                       dilations: tuple[int, ...] = (1, 2, 4, 8), conv_dropout: float = 0.2, hidden: int = 64,
                       head_hidden: tuple[int, ...] = (64,), dropout: float = 0.3) -> ECGClassifier:
    """Yu & Koltun 2016's dilated convolutions feeding a BiLSTM, the MIT-BIH/PTBDB seed project's dilated CNN-BiLSTM.

    Four dilated Conv-BN-ReLU blocks, each with max-pool(2) and dropout (receptive field grows fast while the
    sequence shrinks 16×), then one bidirectional LSTM layer and concat pooling."""
    front = ConvStack(n_leads, tuple(filters), tuple(kernels), tuple(dilations), pool=2, dropout=conv_dropout)
    trunk = RecurrentTrunk(front, front.out_channels, "lstm", hidden, 1, bidirectional=True)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, head_hidden=tuple(head_hidden), dropout=dropout)


class ResidualBiLSTMAttentionTrunk(nn.Module):
    """Residual conv blocks (each → max-pool(2) → dropout) → BiLSTM → additive attention → dense."""

    def __init__(self, n_leads: int, filters: tuple[int, ...], kernels: tuple[int, ...], dropout: float,
                 lstm_hidden: int, dense: int):
        super().__init__()
        if len(filters) != len(kernels):
            raise ConfigError(f"filters and kernels need one entry per residual block; got {len(filters)} and {len(kernels)}.")
        blocks: list[nn.Module] = []
        width = n_leads
        for out_ch, kernel in zip(filters, kernels):
            blocks += [ResidualBlock1d(width, out_ch, (kernel, kernel)), nn.MaxPool1d(2), nn.Dropout(dropout)]
            width = out_ch
        self.conv = nn.Sequential(*blocks)
        self.rnn = Recurrent(width, lstm_hidden, bidirectional=True)
        self.attention = AdditiveAttentionPool(self.rnn.out_channels)
        self.dense = mlp(self.rnn.out_channels, (dense,), dropout=dropout)
        self.out_features = dense

    def forward(self, x):
        sequence = self.rnn(self.conv(x)).transpose(1, 2)
        return self.dense(self.attention(sequence))


@register_model("Bahdanau, Cho & Bengio 2015 (additive attention) over a residual CNN-BiLSTM; PTB-XL multilabel "
                "model with age/sex metadata of the seed project 'ECG Multi-Label Classification with Deep Learning'")
def cnn_bilstm_attention(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *,
                         filters: tuple[int, ...] = (256, 128), kernels: tuple[int, ...] = (3, 7), dropout: float = 0.25,
                         lstm_hidden: int = 128, dense: int = 256, meta_hidden: int = 16,
                         head_hidden: tuple[int, ...] = (128,)) -> ECGClassifier:
    """Bahdanau et al. 2015's additive attention over the PTB-XL seed project's residual CNN-BiLSTM, with age/sex fusion.

    The seed's tuned defaults: 2 residual blocks (256, 128 filters; kernels 3, 7), dropout 0.25, a BiLSTM of
    128 units, dense 256; metadata (age, sex) through a dense 16 branch; combined dense 128."""
    trunk = ResidualBiLSTMAttentionTrunk(n_leads, tuple(filters), tuple(kernels), dropout, lstm_hidden, dense)
    return ECGClassifier(trunk, trunk.out_features, n_classes, n_meta, meta_hidden=meta_hidden,
                         head_hidden=tuple(head_hidden), dropout=dropout)
