"""Scoring a model over prepared records, in torch without Lightning: training-time evaluation and
bundle evaluation share it, and the window positions, padding and aggregation are
:mod:`ecglab.inputs.windows`' (the Predictor's)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ecglab.inputs import windows
from ecglab.training.heap import trim_heap


def to_probabilities(logits: torch.Tensor, kind: str) -> torch.Tensor:
    return torch.softmax(logits, dim=-1) if kind == "multiclass" else torch.sigmoid(logits)


def windowed_probabilities(model: nn.Module, x: torch.Tensor, meta: torch.Tensor | None, kind: str,
                           window: int, stride: int, aggregate: str) -> torch.Tensor:
    """Score records (B, L, T) by windows, aggregated over windows: the window positions, the padding
    of a short record and the aggregation rule are :mod:`ecglab.inputs.windows`' (the Predictor's)."""
    pad = windows.padding(x.shape[-1], window)
    if pad:
        x = nn.functional.pad(x, (0, pad))
    index = torch.from_numpy(windows.window_index(x.shape[-1] - pad, window, stride)).to(x.device)
    crops = x[..., index].movedim(-2, 1)  # (B, L, W, window) -> (B, W, L, window)
    b, w = crops.shape[:2]
    meta_w = meta.repeat_interleave(w, dim=0) if meta is not None else None
    probs = to_probabilities(model(crops.flatten(0, 1), meta_w), kind).view(b, w, -1)
    return torch.from_numpy(windows.aggregate(probs.float().cpu().numpy(), aggregate)).to(probs.device)


def predict_loader(model, loader, probabilities) -> tuple[np.ndarray, np.ndarray]:
    """(y_true uint8, y_prob float32) over a loader; ``probabilities(x, meta)`` scores a batch."""
    model.eval()
    dtype = next(model.parameters()).dtype  # a model trained at a *-true precision keeps that dtype
    probs, labels = [], []
    with torch.inference_mode():
        for batch_index, (x, y, meta) in enumerate(loader):
            probs.append(probabilities(x.to(dtype), meta.to(dtype)).float().numpy())
            labels.append(y.numpy().astype(np.uint8))
            trim_heap(batch_index)
    return np.concatenate(labels), np.concatenate(probs)
