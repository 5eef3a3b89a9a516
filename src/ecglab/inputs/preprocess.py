"""One preprocessing spec, applied identically when preparing a dataset and when predicting.

The spec is stored in the PreparedDataset manifest and copied into every model bundle, so a
record read at prediction time goes through exactly the steps the training data went through.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ecglab.signal.filters import bandpass
from ecglab.signal.resample import resample


class Preprocessing(BaseModel):
    """``fs``: target rate; ``bandpass``: [low, high] Hz or None; ``standardize``: per-record,
    global (with ``mean``/``std`` per lead, from the training split only) or none."""

    model_config = ConfigDict(extra="forbid")
    fs: float | None = None
    bandpass: tuple[float | None, float | None] | None = None
    standardize: Literal["none", "record", "global"] = "none"
    mean: list[float] | None = None
    std: list[float] | None = None


def preprocess(signal: np.ndarray, fs: float, spec: Preprocessing) -> np.ndarray:
    """Apply resampling, filtering and standardisation (in that order) to (n_leads, n_samples)."""
    out = np.asarray(signal, dtype=np.float32)
    if spec.fs and not np.isclose(spec.fs, fs):
        out, fs = resample(out, fs, spec.fs), spec.fs
    if spec.bandpass:
        out = bandpass(out, fs, *spec.bandpass)
    return standardize(out, spec)


def standardize(signal: np.ndarray, spec: Preprocessing) -> np.ndarray:
    if spec.standardize == "record":
        mean = signal.mean(axis=-1, keepdims=True)
        std = signal.std(axis=-1, keepdims=True)
        return ((signal - mean) / np.maximum(std, 1e-6)).astype(np.float32)
    if spec.standardize == "global":
        mean = np.asarray(spec.mean, dtype=np.float32)[:, None]
        std = np.asarray(spec.std, dtype=np.float32)[:, None]
        return ((signal - mean) / np.maximum(std, 1e-6)).astype(np.float32)
    return signal.astype(np.float32, copy=False)


def fit_length(signal: np.ndarray, length: int, pad: np.ndarray | None = None) -> np.ndarray:
    """The first ``length`` samples; a shorter record is padded at the end with zeros, or with ``pad``
    (one value per lead: what a zero becomes after a standardisation applied later)."""
    if signal.shape[-1] >= length:
        return np.ascontiguousarray(signal[..., :length])
    out = np.pad(signal, [(0, 0)] * (signal.ndim - 1) + [(0, length - signal.shape[-1])])
    if pad is not None:
        out[..., signal.shape[-1]:] = np.asarray(pad, dtype=out.dtype)[..., None]
    return out
