"""Gaussian wave trains and sinus rhythm: the two building blocks every synthetic ECG shares.

Each wave of a beat (P, Q, R, S, T, ...) is a Gaussian bump in time, as in the dynamical model
of McSharry et al. 2003 ("A dynamical model for generating synthetic electrocardiogram
signals"); a signal is the sum over beats of these bumps. Beat times follow a sinus rhythm
whose R-R intervals carry respiratory sinus arrhythmia and random variability (HRV).
"""

from __future__ import annotations

import numpy as np

# Heart-rate variability: relative size of the respiratory (sinus arrhythmia) and random R-R changes.
RSA_DEPTH = 0.04
RR_JITTER = 0.025
RESPIRATION_HZ = (0.15, 0.35)


def wave_train(times: np.ndarray, centers: np.ndarray, widths: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """Sum over beats of ``amplitude * exp(-(t - center)² / (2 width²))``, one row per signal.

    ``times`` (T,) seconds shared by all rows; ``centers``, ``widths``, ``amplitudes`` (n, B), one
    value per beat. Returns (n, T) float32. Only the two beats whose centres bracket a sample are
    evaluated there: waves are narrow next to an R-R interval, so farther beats add < 1e-5.
    """
    centers = np.asarray(centers, dtype=np.float64)
    order = np.argsort(centers, axis=1, kind="stable")
    centers = np.take_along_axis(centers, order, axis=1)
    widths = np.take_along_axis(np.asarray(widths, dtype=np.float64), order, axis=1)
    amplitudes = np.take_along_axis(np.asarray(amplitudes, dtype=np.float64), order, axis=1)
    n = centers.shape[0]
    # Shift each row far from the others, so that one sorted search serves every row at once.
    low, high = min(centers.min(), times.min()), max(centers.max(), times.max())
    row_offset = np.arange(n)[:, None] * (2 * (high - low) + 1 + 40 * widths.max())
    sentinel = np.array([-1e12, 1e12])
    keys = np.concatenate([sentinel[:1], (centers + row_offset).ravel(), sentinel[1:]])
    scale = np.concatenate([[1.0], widths.ravel(), [1.0]])
    height = np.concatenate([[0.0], amplitudes.ravel(), [0.0]])
    queries = (times[None, :] + row_offset).ravel()
    after = np.searchsorted(keys, queries)
    total = np.zeros(queries.shape, dtype=np.float64)
    for nearest in (after - 1, after):
        z = (queries - keys[nearest]) / scale[nearest]
        total += height[nearest] * np.exp(-0.5 * np.minimum(z * z, 1e4))
    return total.reshape(n, len(times)).astype(np.float32)


def sinus_rr(rng: np.random.Generator, mean_rr: np.ndarray, n_beats: int) -> np.ndarray:
    """R-R intervals (n, n_beats) in seconds around ``mean_rr`` (n,), with sinus arrhythmia and jitter."""
    mean_rr = np.asarray(mean_rr, dtype=np.float64)[:, None]
    n = mean_rr.shape[0]
    breath_hz = rng.uniform(*RESPIRATION_HZ, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    elapsed = np.arange(n_beats)[None, :] * mean_rr
    respiration = RSA_DEPTH * np.sin(2 * np.pi * breath_hz * elapsed + phase)
    jitter = RR_JITTER * rng.standard_normal((n, n_beats))
    return mean_rr * (1.0 + respiration + jitter)


def beats_needed(duration: float, shortest_rr: float, margin: float = 2.0) -> int:
    """How many beats cover ``duration`` seconds plus a margin on both sides at the fastest rate."""
    return int(np.ceil((duration + 2 * margin) / shortest_rr)) + 2


def beat_times(rng: np.random.Generator, rr: np.ndarray, margin: float = 2.0) -> np.ndarray:
    """R-peak times (n, B) in seconds from R-R intervals (n, B): the first beat falls at a random
    phase before ``-margin``, so that every window starts mid-rhythm."""
    start = -margin - rng.uniform(0.0, 1.0, size=(rr.shape[0], 1)) * rr[:, :1]
    return start + np.cumsum(rr, axis=1) - rr[:, :1]
