"""Ensembles of trained models as one model: averaging (Dietterich 2000) or stacking (Wolpert 1992).

The members see the same input and metadata; their probabilities are combined and returned as
logits, like any zoo model, so an ensemble bundle is used exactly as a single model's:

* ``mean``: the mean probability, returned as its log (multiclass: softmax gives the mean back)
  or its logit (multilabel: sigmoid gives the mean back);
* ``stacking``: a linear layer on the members' concatenated probabilities (M · C features), whose
  weights are a logistic regression fitted on validation predictions (``ecglab ensemble``).

A multiclass beat ensemble may carry ``gates`` that move one class's probability to another where a rule
on four beat features holds (``rr_irregularity``, ``p_consistency``, ``qrs_difference``, ``rr_prev_rel``: the
last metadata columns, after the members'). In this order: the **prematurity** gate moves N to S where the
beat comes early for the patient's rhythm (its R-R interval well below the running average) while the
neighbouring beats share a P wave (sinus rhythm): inter-patient models learn the S class from few patients
and miss most premature beats of a new one. The **morphology** gate moves S to V where the beat's QRS departs
from the patient's usual one and V is plausible: a supraventricular beat is conducted as usual. The
**rhythm** gate moves S to N where the rhythm is irregular and the neighbouring beats share no P wave
(atrial fibrillation or flutter), where a short R-R says nothing of the beat's origin. Inter-patient models
otherwise call many fibrillating normal beats, and some ventricular ones, supraventricular.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from ecglab.errors import ConfigError
from ecglab.models.registry import create_model, register_model

EPS = 1e-7


def member_probabilities(logits: torch.Tensor, kind: str) -> torch.Tensor:
    return torch.softmax(logits, dim=-1) if kind == "multiclass" else torch.sigmoid(logits)


GATE_FEATURES = ("rr_irregularity", "p_consistency", "qrs_difference", "rr_prev_rel")  # the gates' columns, last
GATE_RULES = {"prematurity": ("rr_prev_rel_below", "p_consistency_above"),
              "morphology": ("qrs_difference_above", "v_probability_above"),
              "rhythm": ("irregularity_above", "p_consistency_below")}


class Ensemble(nn.Module):
    """``members`` (built models) combined by ``method``; ``combiner`` holds the stacking weights; ``gates``
    (``{"classes": {"N": i, "S": j, "V": k}, "prematurity": …, "morphology": …, "rhythm": {…} or None}``) the
    gates."""

    def __init__(self, members: list[nn.Module], n_classes: int, kind: str, method: str, n_meta: int = 0,
                 gates: dict | None = None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.kind, self.method, self.n_meta, self.gates = kind, method, n_meta, gates
        self.n_member_meta = n_meta - (len(GATE_FEATURES) if gates else 0)
        self.combiner = nn.Linear(len(members) * n_classes, n_classes) if method == "stacking" else None

    def forward(self, x: torch.Tensor, meta: torch.Tensor | None = None) -> torch.Tensor:
        member_meta = meta[:, :self.n_member_meta] if meta is not None and self.n_member_meta else None
        probs = [member_probabilities(member(x, member_meta), self.kind) for member in self.members]
        if self.combiner is not None:
            logits = self.combiner(torch.cat(probs, dim=1))
            if self.gates is None:
                return logits
            combined = torch.softmax(logits, dim=-1)
        else:
            combined = torch.stack(probs).mean(dim=0)
        if self.gates is not None:
            combined = self._gated(combined, meta[:, self.n_member_meta:])
        combined = combined.clamp(EPS, 1 - EPS)
        return combined.log() if self.kind == "multiclass" else torch.logit(combined)

    def _gated(self, probs: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        n, s, v = (self.gates["classes"][c] for c in ("N", "S", "V"))
        if self.gates.get("prematurity"):
            probs = _moved(probs, n, s, premature(features[:, 3], features[:, 1], self.gates["prematurity"]))
        if self.gates.get("morphology"):
            probs = _moved(probs, s, v, aberrant(features[:, 2], probs[:, v], self.gates["morphology"]))
        if self.gates.get("rhythm"):
            probs = _moved(probs, s, n, fibrillating(features[:, 0], features[:, 1], self.gates["rhythm"]))
        return probs


def _moved(probs: torch.Tensor, source: int, target: int, where: torch.Tensor) -> torch.Tensor:
    shift = torch.zeros_like(probs)
    shift[:, target] = probs[:, source]
    shift[:, source] = -probs[:, source]
    return probs + shift * where.unsqueeze(1).to(probs.dtype)


def premature(rr_prev_rel, consistency, rule: dict):
    """Where the prematurity gate applies: a beat early for the patient's rhythm, in sinus rhythm."""
    return (rr_prev_rel < rule["rr_prev_rel_below"]) & (consistency > rule["p_consistency_above"])


def fibrillating(irregularity, consistency, rule: dict):
    """Where the rhythm gate applies (arrays or tensors): an irregular rhythm whose beats share no P wave."""
    return (irregularity > rule["irregularity_above"]) & (consistency < rule["p_consistency_below"])


def aberrant(qrs_difference, v_probability, rule: dict):
    """Where the morphology gate applies: a QRS unlike the patient's usual one, and V plausible."""
    return (qrs_difference > rule["qrs_difference_above"]) & (v_probability > rule["v_probability_above"])


@register_model("Dietterich 2000, 'Ensemble methods in machine learning' (averaging); Wolpert 1992, "
                "'Stacked generalization' (stacking)",
                onnx_note="exportable when every member is", listed=False)
def ensemble(n_leads: int, n_classes: int, input_length: int, n_meta: int = 0, *, members: list[dict] = (),
             method: Literal["mean", "stacking"] = "mean", kind: Literal["multiclass", "multilabel"] = "multiclass",
             gates: dict | None = None) -> Ensemble:
    """Dietterich 2000's averaging or Wolpert 1992's stacking of trained models, as one model.

    ``members``: ``[{"architecture": name, "kwargs": {...}}, …]``, each built with this input shape and the
    metadata columns before the gates'. ``gates``: see :class:`Ensemble` (multiclass only)."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two members; got {len(members)}.")
    if method not in ("mean", "stacking") or kind not in ("multiclass", "multilabel"):
        raise ConfigError(f"ensemble: method must be mean or stacking and kind multiclass or multilabel; "
                          f"got method={method!r}, kind={kind!r}.")
    _check_gates(gates, kind, n_classes, n_meta)
    n_member_meta = n_meta - (len(GATE_FEATURES) if gates else 0)
    built = []
    for member in members:
        if set(member) != {"architecture", "kwargs"}:
            raise ConfigError(f"each ensemble member is {{'architecture': …, 'kwargs': {{…}}}}; got keys {sorted(member)}.")
        built.append(create_model(member["architecture"], n_leads=n_leads, n_classes=n_classes,
                                  input_length=input_length, n_meta=n_member_meta, **member["kwargs"]))
    return Ensemble(built, n_classes, kind, method, n_meta, gates)


def _check_gates(gates: dict | None, kind: str, n_classes: int, n_meta: int) -> None:
    if gates is None:
        return
    if set(gates) != {"classes", *GATE_RULES}:
        raise ConfigError(f"an ensemble's gates are {{classes, {', '.join(GATE_RULES)}}}; got keys {sorted(gates)}.")
    if kind != "multiclass" or n_meta < len(GATE_FEATURES):
        raise ConfigError(f"gates need a multiclass ensemble whose last metadata columns are "
                          f"{', '.join(GATE_FEATURES)}; got kind={kind!r} with {n_meta} metadata columns.")
    classes = gates["classes"]
    if (sorted(classes) != ["N", "S", "V"] or len(set(classes.values())) != 3
            or not all(isinstance(i, int) and 0 <= i < n_classes for i in classes.values())):
        raise ConfigError(f"a gate's classes map N, S and V to distinct class indices below {n_classes}; got {classes}.")
    for name, keys in GATE_RULES.items():
        rule = gates[name]
        if rule is not None and (set(rule) != set(keys) or not all(isinstance(rule[k], (int, float))
                                                                   and math.isfinite(rule[k]) for k in keys)):
            raise ConfigError(f"the {name} gate is {{{', '.join(keys)}}}, finite numbers; got {rule}.")
