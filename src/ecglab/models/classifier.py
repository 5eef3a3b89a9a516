"""The shell every zoo model shares: trunk → (late fusion with metadata) → head.

Keeping trunk and head apart is what makes transfer learning (freeze the trunk, swap the head)
and metadata fusion (age/sex, R-R context) work the same for every architecture.
"""

from __future__ import annotations

import torch
from torch import nn

from ecglab.models.layers import mlp


class ECGClassifier(nn.Module):
    """``trunk`` maps (B, L, T) to features (B, F); ``head`` maps them (plus metadata) to logits.

    With ``n_meta > 0`` a small dense branch embeds the metadata (B, M) into ``meta_hidden``
    features that are concatenated with the trunk's before the head (late fusion).
    """

    def __init__(self, trunk: nn.Module, n_features: int, n_classes: int, n_meta: int = 0,
                 meta_hidden: int = 16, head_hidden: tuple[int, ...] = (), dropout: float = 0.0, head_bn: bool = False):
        super().__init__()
        self.trunk = trunk
        self.n_meta = n_meta
        self.meta_branch = mlp(n_meta, (meta_hidden,)) if n_meta else None
        self.head_config = dict(in_features=n_features + (meta_hidden if n_meta else 0), hidden=tuple(head_hidden),
                                dropout=dropout, bn=head_bn)
        self.head = mlp(out_features=n_classes, **self.head_config)

    def features(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        z = self.trunk(x)
        if self.meta_branch is not None:
            if meta is None:
                raise ValueError(f"this model was built with {self.n_meta} metadata features; pass them as `meta`.")
            z = torch.cat([z, self.meta_branch(meta)], dim=1)
        return z

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, meta))

    def freeze_trunk(self) -> None:
        """Keep the trunk as it is: no gradients, and BatchNorm statistics frozen (eval mode) even
        when the training loop puts the model back into train mode. Transfer learning uses it."""
        self.trunk_frozen = True
        for parameter in self.trunk.parameters():
            parameter.requires_grad_(False)
            parameter.grad = None  # an optimiser built earlier then skips them
        self.trunk.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if getattr(self, "trunk_frozen", False):
            self.trunk.eval()
        return self

    def reset_head(self, n_classes: int) -> None:
        """A fresh head for a new label set (transfer learning); trunk and metadata branch stay."""
        self.head = mlp(out_features=n_classes, **self.head_config)
