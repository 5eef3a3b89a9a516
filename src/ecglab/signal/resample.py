"""Resampling between rates by polyphase filtering (exact for rational ratios)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly


def resample(signal: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample along the last axis from ``fs_in`` to ``fs_out``; a no-op when they are equal."""
    if np.isclose(fs_in, fs_out):
        return np.asarray(signal, dtype=np.float32)
    ratio = Fraction(float(fs_out) / float(fs_in)).limit_denominator(1000)
    out = resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator, axis=-1)
    return out.astype(np.float32)


def resample_positions(positions: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Map sample indices (e.g. R peaks) from one rate to another."""
    return np.round(np.asarray(positions, dtype=np.float64) * float(fs_out) / float(fs_in)).astype(np.int64)
