"""Ensembles of trained models as one model: averaging (Dietterich 2000) or stacking (Wolpert 1992).

The members see the same input and metadata; their probabilities are combined and returned as
logits, like any zoo model, so an ensemble bundle is used exactly as a single model's:

* ``mean``: the mean probability, returned as its log (multiclass: softmax gives the mean back)
  or its logit (multilabel: sigmoid gives the mean back);
* ``stacking``: a linear layer on the members' concatenated probabilities (M · C features), whose
  weights are a logistic regression fitted on validation predictions (``ecglab ensemble``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ecglab.errors import ConfigError
from ecglab.models.registry import create_model, register_model

EPS = 1e-7


def member_probabilities(logits: torch.Tensor, kind: str) -> torch.Tensor:
    return torch.softmax(logits, dim=-1) if kind == "multiclass" else torch.sigmoid(logits)


class Ensemble(nn.Module):
    """``members`` (built models) combined by ``method``; ``combiner`` holds the stacking weights."""

    def __init__(self, members: list[nn.Module], n_classes: int, kind: str, method: str, n_meta: int = 0):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.kind, self.method, self.n_meta = kind, method, n_meta
        self.combiner = nn.Linear(len(members) * n_classes, n_classes) if method == "stacking" else None

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        probs = [member_probabilities(member(x, meta), self.kind) for member in self.members]
        if self.combiner is not None:
            return self.combiner(torch.cat(probs, dim=1))
        mean = torch.stack(probs).mean(dim=0).clamp(EPS, 1 - EPS)
        return mean.log() if self.kind == "multiclass" else torch.logit(mean)


@register_model("Dietterich 2000, 'Ensemble methods in machine learning' (averaging); Wolpert 1992, "
                "'Stacked generalization' (stacking)",
                onnx_note="exportable when every member is", listed=False)
def ensemble(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, members: list[dict] = (),
             method: Literal["mean", "stacking"] = "mean", kind: Literal["multiclass", "multilabel"] = "multiclass") -> Ensemble:
    """Dietterich 2000's averaging or Wolpert 1992's stacking of trained models, as one model.

    ``members``: ``[{"architecture": name, "kwargs": {...}}, …]``, each built with this input shape."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two members; got {len(members)}.")
    if method not in ("mean", "stacking") or kind not in ("multiclass", "multilabel"):
        raise ConfigError(f"ensemble: method must be mean or stacking and kind multiclass or multilabel; "
                          f"got method={method!r}, kind={kind!r}.")
    built = []
    for member in members:
        if set(member) != {"architecture", "kwargs"}:
            raise ConfigError(f"each ensemble member is {{'architecture': …, 'kwargs': {{…}}}}; got keys {sorted(member)}.")
        built.append(create_model(member["architecture"], n_leads=n_leads, n_classes=n_classes,
                                  input_length=input_length, n_meta=n_meta, **member["kwargs"]))
    return Ensemble(built, n_classes, kind, method, n_meta)
