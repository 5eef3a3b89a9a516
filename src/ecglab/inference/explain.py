"""Per-lead, per-time attribution of a prediction by Integrated Gradients (Sundararajan, Taly &
Yan 2017, "Axiomatic Attribution for Deep Networks"), computed with captum.

The attribution of each window (record models) or beat (beat models) is placed back on the
record's timeline at the model's rate, overlapping windows averaged, and scaled to [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecglab.errors import BundleError, EcglabError
from ecglab.inference.notes import fallback_note
from ecglab.inputs.windows import aggregate

MAX_STEPS = 64
MAX_SAMPLES = 12_000  # per lead and call: bounds the cost on long records (12 windows of 10 s at 100 Hz, 64 beats)


@dataclass
class Attribution:
    """``values`` (n_leads, n_samples) at ``fs`` from the record's start, scaled so max |value| = 1."""

    target: str
    fs: float
    leads: list[str]
    values: np.ndarray
    steps: int
    rows_explained: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self, decimals: int = 4) -> dict:
        return {"target": self.target, "method": "integrated_gradients", "steps": self.steps, "fs": self.fs,
                "leads": self.leads, "rows_explained": self.rows_explained, "notes": self.notes,
                "values": np.round(self.values, decimals).tolist()}


def explain(predictor, record, target: str | None = None, steps: int = 32) -> Attribution:
    """Attribute ``predictor``'s output for class ``target`` (default: the most probable) to the input.

    Only the first windows or beats that fit in :data:`MAX_SAMPLES` are explained, so the cost stays
    bounded on long records.
    """
    import torch
    from captum.attr import IntegratedGradients

    chosen = predictor.for_record(record)  # a record without one of the model's leads: its fallback, if any
    handed = [] if chosen is predictor else [fallback_note(record, predictor.spec)]
    predictor, spec = chosen, chosen.spec
    if predictor.torch_model is None:
        raise BundleError("explanations need the PyTorch model: load the bundle with backend='torch'.")
    if not 1 <= steps <= MAX_STEPS:
        raise EcglabError(f"steps must be between 1 and {MAX_STEPS}, found {steps}.")
    inputs = predictor.model_input(record)
    if len(inputs.x) == 0:
        raise EcglabError(f"{record.meta.get('record_id', 'record')}: nothing to explain (no beat could be cut).")
    if target is None:
        summary = aggregate(predictor.predict_proba(inputs.x, inputs.meta), spec.aggregate)
        index = int(np.argmax(summary))
    elif target in spec.classes:
        index = spec.classes.index(target)
    else:
        raise EcglabError(f"unknown target class {target!r}; the model's classes are {spec.classes}.")
    rows = min(len(inputs.x), max(1, MAX_SAMPLES // spec.input_length))
    notes = handed + [f"only the first {rows} of {len(inputs.x)} {spec.input}s are explained."] * (rows < len(inputs.x))
    x = torch.from_numpy(np.ascontiguousarray(inputs.x[:rows], dtype=np.float32))
    extra = None if inputs.meta is None else (torch.from_numpy(np.ascontiguousarray(inputs.meta[:rows])),)
    attributions = IntegratedGradients(predictor.torch_model).attribute(
        x, baselines=torch.zeros_like(x), target=index, additional_forward_args=extra, n_steps=steps,
        internal_batch_size=max(steps, 8, rows)).detach().numpy()
    # a beat's template channels count towards its lead
    attributions = attributions.reshape(rows, -1, len(spec.leads), attributions.shape[-1]).sum(axis=1)
    timeline = _place_on_timeline(attributions, inputs.starts[:rows], inputs.n_samples)
    peak = np.abs(timeline).max()
    # named by the record's leads that supplied the model's (II for MLII, V4 for V1/V4), as the page draws them
    leads = list(record.lead_sources(spec.leads, equivalents=True).values())
    return Attribution(spec.classes[index], float(inputs.fs), leads,
                       (timeline / peak if peak > 0 else timeline).astype(np.float32), steps, rows, notes)


def _place_on_timeline(rows: np.ndarray, starts: np.ndarray, n_samples: int) -> np.ndarray:
    """Average (N, L, T) row attributions placed at ``starts`` over a (L, n_samples) timeline."""
    total = np.zeros((rows.shape[1], n_samples))
    count = np.zeros(n_samples)
    for row, start in zip(rows, starts):
        a, b = max(int(start), 0), min(int(start) + row.shape[-1], n_samples)
        if a < b:
            total[:, a:b] += row[:, a - int(start):b - int(start)]
            count[a:b] += 1
    return total / np.maximum(count, 1)
