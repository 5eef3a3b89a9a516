"""Zero-phase Butterworth filters for baseline wander and high-frequency noise."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt


def bandpass(signal: np.ndarray, fs: float, low: float | None = 0.5, high: float | None = 40.0, order: int = 3) -> np.ndarray:
    """Band-pass (or high-/low-pass when one edge is None) along the last axis, zero phase."""
    nyquist = fs / 2.0
    high = None if high is None or high >= nyquist else high
    if low and high:
        sos = butter(order, [low / nyquist, high / nyquist], btype="bandpass", output="sos")
    elif low:
        sos = butter(order, low / nyquist, btype="highpass", output="sos")
    elif high:
        sos = butter(order, high / nyquist, btype="lowpass", output="sos")
    else:
        return np.asarray(signal, dtype=np.float32)
    padlen = min(3 * (2 * len(sos) + 1), signal.shape[-1] - 1)
    return sosfiltfilt(sos, signal, axis=-1, padlen=padlen).astype(np.float32)
