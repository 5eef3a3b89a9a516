"""Recording noise added to clean synthetic ECGs: baseline wander, powerline hum, muscle noise.

The levels are module constants so that the difficulty of the synthetic task can be tuned in
one place (see the calibration notes in :mod:`ecglab.datasets.synthetic`).
"""

from __future__ import annotations

import numpy as np

# Baseline wander (respiration, electrode motion): a few slow sources mixed into the leads.
WANDER_SOURCES = 3
WANDER_HZ = (0.05, 0.6)
WANDER_MV = 0.12  # standard deviation of each source's weight on a lead
ELECTRODE_OFFSET_MV = 0.08  # standard deviation of a constant offset per lead
# Powerline hum at 50 or 60 Hz, left out where it lies above Nyquist: a recorder sampling that
# slowly filters it away before sampling.
POWERLINE_HZ = (50.0, 60.0)
POWERLINE_MV = 0.03  # largest amplitude
# Muscle (EMG) noise: broadband, its standard deviation drawn per record in this range.
MUSCLE_MV = (0.01, 0.06)


def add_noise(rng: np.random.Generator, signals: np.ndarray, fs: float, scale: float = 1.0) -> np.ndarray:
    """Add baseline wander, powerline hum and muscle noise to ``signals`` (n, leads, T) in place."""
    n, n_leads, length = signals.shape
    t = np.arange(length) / fs
    freq = rng.uniform(*WANDER_HZ, size=(n, WANDER_SOURCES, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, WANDER_SOURCES, 1))
    mixing = WANDER_MV * rng.standard_normal((n, n_leads, WANDER_SOURCES))
    offset = ELECTRODE_OFFSET_MV * rng.standard_normal((n, n_leads, 1))

    line_hz = rng.choice(POWERLINE_HZ, size=(n, 1, 1))
    line_amp = rng.uniform(0, POWERLINE_MV, size=(n, n_leads, 1)) * (line_hz < fs / 2)
    line_phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    # Wander and hum are both a few waveforms per record weighted into each lead: one product makes
    # both, with no (n, leads, T) temporary but the result (large records at high rates add up).
    waveforms = np.sin(2 * np.pi * np.concatenate([freq, line_hz], axis=1) * t
                       + np.concatenate([phase, line_phase], axis=1)).astype(np.float32)
    noise = np.matmul(np.concatenate([mixing, line_amp], axis=2).astype(np.float32), waveforms)
    noise += offset.astype(np.float32)

    muscle_sd = rng.uniform(*MUSCLE_MV, size=(n, 1, 1)).astype(np.float32)
    muscle = rng.standard_normal((n, n_leads, length), dtype=np.float32)
    muscle *= muscle_sd
    noise += muscle
    noise *= np.float32(scale)
    signals += noise
    return signals
