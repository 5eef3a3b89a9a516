import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecglab.training.config import LossConfig
from ecglab.training.losses import FocalLoss, build_loss, class_weights


def test_class_weights_hand_computed():
    labels = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])
    np.testing.assert_allclose(class_weights(labels, "multilabel").numpy(), [1 / 3, 3.0])
    onehot = np.array([[1, 0], [1, 0], [1, 0], [0, 1]])
    np.testing.assert_allclose(class_weights(onehot, "multiclass").numpy(), [4 / 6, 2.0])


def test_focal_with_gamma_zero_equals_bce_and_ce():
    logits = torch.randn(8, 3)
    target = (torch.rand(8, 3) > 0.5).float()
    assert FocalLoss("multilabel", gamma=0.0)(logits, target) == pytest.approx(F.binary_cross_entropy_with_logits(logits, target).item(), rel=1e-5)
    onehot = F.one_hot(torch.tensor([0, 1, 2, 1, 0, 2, 2, 1]), 3).float()
    assert FocalLoss("multiclass", gamma=0.0)(logits, onehot) == pytest.approx(F.cross_entropy(logits, onehot.argmax(1)).item(), rel=1e-5)


def test_focal_hand_computed_single_value():
    # p = sigmoid(0) = 0.5 for a positive: bce = ln 2, focal = (1 - 0.5)^2 · ln 2 · alpha
    loss = FocalLoss("multilabel", gamma=2.0, alpha=0.25)(torch.zeros(1, 1), torch.ones(1, 1))
    assert loss.item() == pytest.approx(0.25 * 0.25 * np.log(2), rel=1e-6)


def test_focal_down_weights_easy_examples():
    target = torch.ones(1, 1)
    easy, hard = torch.full((1, 1), 4.0), torch.full((1, 1), -1.0)
    ratio_focal = FocalLoss("multilabel")(hard, target) / FocalLoss("multilabel")(easy, target)
    ratio_bce = F.binary_cross_entropy_with_logits(hard, target) / F.binary_cross_entropy_with_logits(easy, target)
    assert ratio_focal > ratio_bce


def test_build_loss_auto_and_weights():
    labels = np.eye(3)[[0, 0, 1, 2]]
    assert build_loss(LossConfig(), "multiclass", labels).__class__.__name__ == "OneHotCrossEntropy"
    bce = build_loss(LossConfig(class_weights=True), "multilabel", labels)
    assert bce.pos_weight is not None and bce.pos_weight.tolist() == pytest.approx([1.0, 3.0, 3.0])


def test_focal_class_weights_scale_positives_only():
    logits, target = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])
    plain = FocalLoss("multilabel", gamma=2.0)(logits, target)
    weighted = FocalLoss("multilabel", gamma=2.0, weight=torch.tensor([3.0, 3.0]))(logits, target)
    # the positive term (class 0) triples, the negative term (class 1) does not: (3 + 1) / (1 + 1)
    assert weighted.item() == pytest.approx(plain.item() * 2.0, rel=1e-6)
