"""Losses: BCE and cross-entropy, focal loss (Lin et al. 2017), class weights from the training split."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecglab.training.config import LossConfig


def class_weights(labels: np.ndarray, kind: str) -> torch.Tensor:
    """Multilabel: negatives/positives per class (BCE ``pos_weight``); multiclass: N / (C · count)."""
    labels = np.asarray(labels, dtype=np.float64)
    positives = labels.sum(axis=0)
    if kind == "multilabel":
        weights = (len(labels) - positives) / np.maximum(positives, 1.0)
    else:
        weights = len(labels) / (labels.shape[1] * np.maximum(positives, 1.0))
    return torch.tensor(weights, dtype=torch.float32)


class FocalLoss(nn.Module):
    """Focal loss. Multilabel: per-class sigmoid with ``alpha`` weighting positives and ``1 - alpha``
    negatives; multiclass: softmax with ``alpha`` as a global factor. Optional per-class weights."""

    def __init__(self, kind: str, gamma: float = 2.0, alpha: float | None = None, weight: torch.Tensor | None = None):
        super().__init__()
        self.kind, self.gamma, self.alpha = kind, gamma, alpha
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "multilabel":
            bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            p_t = torch.exp(-bce)
            loss = (1 - p_t) ** self.gamma * bce
            if self.alpha is not None:
                loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
            if self.weight is not None:  # like BCE's pos_weight: the weight scales the positive term only
                loss = loss * (self.weight * target + (1 - target))
            return loss.mean()
        index = target.argmax(dim=1)
        log_p = F.log_softmax(logits, dim=1).gather(1, index[:, None]).squeeze(1)
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p
        if self.alpha is not None:
            loss = self.alpha * loss
        if self.weight is not None:
            loss = loss * self.weight[index]
        return loss.mean()


class MultiLabelBCE(nn.Module):
    def __init__(self, pos_weight: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("pos_weight", pos_weight if pos_weight is not None else None)

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=self.pos_weight)


class OneHotCrossEntropy(nn.Module):
    def __init__(self, weight: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits, target):
        return F.cross_entropy(logits, target.argmax(dim=1), weight=self.weight)


def build_loss(config: LossConfig, kind: str, train_labels: np.ndarray) -> nn.Module:
    """The configured loss; targets are always multi-hot/one-hot float tensors (B, C)."""
    weight = class_weights(train_labels, kind) if config.class_weights else None
    name = config.name
    if name == "auto":
        name = "bce" if kind == "multilabel" else "ce"
    if name == "focal":
        return FocalLoss(kind, config.gamma, config.alpha, weight)
    if name == "bce":
        return MultiLabelBCE(weight)
    return OneHotCrossEntropy(weight)
