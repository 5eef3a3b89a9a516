"""Random training-time augmentation of ECG batches (``data.augment`` in a run config).

Each transform mimics a nuisance of real recordings that should not change a diagnosis: gain
differences between machines and electrode placements (amplitude), baseline wander from breathing
and movement (a slow sinusoid, 0.05–0.5 Hz), broadband noise, and missing or disconnected leads
(lead dropout, after the reduced-lead setting of CinC 2021). All draws come from torch's generator,
which Lightning seeds per run and per loader worker, so a run is repeatable.
"""

from __future__ import annotations

import math

import torch

from ecglab.training.config import AugmentConfig

BASELINE_HZ = (0.05, 0.5)


def augment_batch(x: torch.Tensor, config: AugmentConfig, fs: float) -> torch.Tensor:
    """A randomly transformed copy of ``x`` (B, leads, T); ``x`` itself is left as it is."""
    batch, leads, length = x.shape
    if config.amplitude:
        x = x * torch.exp(config.amplitude * torch.randn(batch, leads, 1))
    if config.baseline:
        low, high = BASELINE_HZ
        freq = low + (high - low) * torch.rand(batch, 1, 1)
        phase = 2 * math.pi * torch.rand(batch, 1, 1)
        wave = torch.sin(2 * math.pi * freq * torch.arange(length) / fs + phase)
        x = x + config.baseline * torch.rand(batch, leads, 1) * wave
    if config.noise:
        x = x + config.noise * torch.randn(batch, leads, length)
    if config.lead_dropout and leads > 1:
        keep = torch.rand(batch, leads) >= config.lead_dropout
        keep[torch.arange(batch), torch.randint(0, leads, (batch,))] = True  # never silence every lead
        x = x * keep[:, :, None]
    return x
