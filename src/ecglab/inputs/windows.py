"""Sliding windows over records longer than a model's input, and the aggregation of their outputs.

The one definition of how a record is scored by windows: the Predictor (numpy, also for ONNX),
evaluation during training and ``ecglab evaluate`` (torch, which converts) all take the window
positions, the padding of a short record and the aggregation rule from here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def window_starts(n_samples: int, length: int, stride: int) -> np.ndarray:
    """Start of each window: every ``stride`` samples, plus one aligned to the end so all samples are covered.

    A record no longer than ``length`` gets one window starting at 0.
    """
    if length <= 0 or stride <= 0:
        raise ValueError(f"window length and stride must be positive, got length={length}, stride={stride}.")
    if n_samples <= length:
        return np.zeros(1, dtype=np.int64)
    last = n_samples - length
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts


def padding(n_samples: int, length: int) -> int:
    """Zeros appended at the end of a record shorter than ``length``, so that it fills one window."""
    return max(length - n_samples, 0)


def window_index(n_samples: int, length: int, stride: int) -> np.ndarray:
    """(W, length) sample indices of every window of a (padded) record of ``n_samples`` samples."""
    starts = window_starts(n_samples + padding(n_samples, length), length, stride)
    return starts[:, None] + np.arange(length, dtype=np.int64)[None, :]


def sliding_windows(signal: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Cut ``signal`` (L, T) into (W, L, length), or (N, L, T) into (N, W, L, length).

    The last window ends at the last sample. Signals shorter than ``length`` are zero-padded at the
    end into a single window (the Predictor reports when that happens).
    """
    signal = np.asarray(signal)
    if signal.ndim not in (2, 3):
        raise ValueError(f"expected a signal of shape (L, T) or (N, L, T), found shape {signal.shape}.")
    n_samples = signal.shape[-1]
    index = window_index(n_samples, length, stride)
    pad = padding(n_samples, length)
    if pad:
        signal = np.pad(signal, [(0, 0)] * (signal.ndim - 1) + [(0, pad)])
    windows = signal[..., index]  # (..., L, W, length)
    return np.ascontiguousarray(np.moveaxis(windows, -2, -3))


def aggregate(probs_per_window: np.ndarray, how: Literal["mean", "max"] = "mean") -> np.ndarray:
    """Combine per-window outputs (W, C) → (C,), or (N, W, C) → (N, C), over the window axis."""
    probs = np.asarray(probs_per_window)
    if probs.ndim not in (2, 3):
        raise ValueError(f"expected per-window outputs of shape (W, C) or (N, W, C), found shape {probs.shape}.")
    if how == "mean":
        return probs.mean(axis=-2)
    if how == "max":
        return probs.max(axis=-2)
    raise ValueError(f"aggregate must be 'mean' or 'max', got {how!r}.")
