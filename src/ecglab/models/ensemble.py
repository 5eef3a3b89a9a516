"""Ensembles of trained models as one model: averaging (Dietterich 2000) or stacking (Wolpert 1992).

The members see the same input and metadata; their probabilities are combined and returned as
logits, like any zoo model, so an ensemble bundle is used exactly as a single model's:

* ``mean``: the mean probability, returned as its log (multiclass: softmax gives the mean back)
  or its logit (multilabel: sigmoid gives the mean back);
* ``stacking``: a linear layer on the members' concatenated probabilities (M · C features), whose
  weights are a logistic regression fitted on validation predictions (``ecglab ensemble``).

A multiclass beat ensemble may carry a rhythm ``gate``: where the rhythm around a beat is irregular and
its neighbours share no P wave (atrial fibrillation or flutter: the beat features ``rr_irregularity``
above, ``p_consistency`` below their thresholds, the last two metadata columns, which the members do not
read), a short R-R says nothing of the beat's origin, so the probability of one class (S) moves to
another (N). Inter-patient models otherwise call many fibrillating normal beats supraventricular.
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


GATE_FEATURES = ("rr_irregularity", "p_consistency")  # the metadata columns a gate reads, after the members'


class Ensemble(nn.Module):
    """``members`` (built models) combined by ``method``; ``combiner`` holds the stacking weights; ``gate``
    (``{suppress, into, irregularity_above, p_consistency_below}``, class indices and thresholds) the rhythm gate."""

    def __init__(self, members: list[nn.Module], n_classes: int, kind: str, method: str, n_meta: int = 0,
                 gate: dict | None = None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.kind, self.method, self.n_meta, self.gate = kind, method, n_meta, gate
        self.n_member_meta = n_meta - (len(GATE_FEATURES) if gate else 0)
        self.combiner = nn.Linear(len(members) * n_classes, n_classes) if method == "stacking" else None

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        member_meta = meta[:, :self.n_member_meta] if meta is not None and self.n_member_meta else None
        probs = [member_probabilities(member(x, member_meta), self.kind) for member in self.members]
        if self.combiner is not None:
            logits = self.combiner(torch.cat(probs, dim=1))
            if self.gate is None:
                return logits
            combined = torch.softmax(logits, dim=-1)
        else:
            combined = torch.stack(probs).mean(dim=0)
        if self.gate is not None:
            combined = self._gated(combined, meta[:, self.n_member_meta:])
        combined = combined.clamp(EPS, 1 - EPS)
        return combined.log() if self.kind == "multiclass" else torch.logit(combined)

    def _gated(self, probs: torch.Tensor, rhythm: torch.Tensor) -> torch.Tensor:
        gate = self.gate
        gated = fibrillating(rhythm[:, 0], rhythm[:, 1], gate)
        moved = torch.zeros_like(probs)
        moved[:, gate["into"]] = probs[:, gate["suppress"]]
        moved[:, gate["suppress"]] = -probs[:, gate["suppress"]]
        return probs + moved * gated.unsqueeze(1).to(probs.dtype)


def fibrillating(irregularity, consistency, gate: dict):
    """Where the gate applies (arrays or tensors): an irregular rhythm whose beats share no P wave."""
    return (irregularity > gate["irregularity_above"]) & (consistency < gate["p_consistency_below"])


@register_model("Dietterich 2000, 'Ensemble methods in machine learning' (averaging); Wolpert 1992, "
                "'Stacked generalization' (stacking)",
                onnx_note="exportable when every member is", listed=False)
def ensemble(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, members: list[dict] = (),
             method: Literal["mean", "stacking"] = "mean", kind: Literal["multiclass", "multilabel"] = "multiclass",
             gate: dict | None = None) -> Ensemble:
    """Dietterich 2000's averaging or Wolpert 1992's stacking of trained models, as one model.

    ``members``: ``[{"architecture": name, "kwargs": {...}}, …]``, each built with this input shape and the
    metadata columns before the gate's. ``gate``: see :class:`Ensemble` (multiclass only)."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two members; got {len(members)}.")
    if method not in ("mean", "stacking") or kind not in ("multiclass", "multilabel"):
        raise ConfigError(f"ensemble: method must be mean or stacking and kind multiclass or multilabel; "
                          f"got method={method!r}, kind={kind!r}.")
    _check_gate(gate, kind, n_classes, n_meta)
    n_member_meta = n_meta - (len(GATE_FEATURES) if gate else 0)
    built = []
    for member in members:
        if set(member) != {"architecture", "kwargs"}:
            raise ConfigError(f"each ensemble member is {{'architecture': …, 'kwargs': {{…}}}}; got keys {sorted(member)}.")
        built.append(create_model(member["architecture"], n_leads=n_leads, n_classes=n_classes,
                                  input_length=input_length, n_meta=n_member_meta, **member["kwargs"]))
    return Ensemble(built, n_classes, kind, method, n_meta, gate)


def _check_gate(gate: dict | None, kind: str, n_classes: int, n_meta: int) -> None:
    if gate is None:
        return
    keys = {"suppress", "into", "irregularity_above", "p_consistency_below"}
    if set(gate) != keys:
        raise ConfigError(f"an ensemble's gate is {{{', '.join(sorted(keys))}}}; got keys {sorted(gate)}.")
    if kind != "multiclass" or n_meta < len(GATE_FEATURES):
        raise ConfigError(f"a rhythm gate needs a multiclass ensemble whose last metadata columns are "
                          f"{' and '.join(GATE_FEATURES)}; got kind={kind!r} with {n_meta} metadata columns.")
    if not all(isinstance(gate[k], int) and 0 <= gate[k] < n_classes for k in ("suppress", "into")):
        raise ConfigError(f"a gate's suppress and into are class indices below {n_classes}; got {gate}.")
