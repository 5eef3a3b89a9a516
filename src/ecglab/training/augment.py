"""Random training-time augmentation of ECG batches (``data.augment`` in a run config).

Each transform mimics a nuisance of real recordings that should not change a diagnosis: gain
differences between machines and electrode placements (amplitude), baseline wander from breathing
and movement (a slow sinusoid, 0.05–0.5 Hz), broadband noise, and missing or disconnected leads
(lead dropout, after the reduced-lead setting of CinC 2021), and where a beat's R peak was marked (a time shift of
every lead together: annotators and detectors place it a few samples apart). All draws come from the ``generator``
given, in training the one of the batch (seeded from the run's seed, the epoch and the batch
number), so a batch is transformed alike by any worker and in a resumed run.
"""

from __future__ import annotations

import math

import torch

from ecglab.training.config import AugmentConfig

BASELINE_HZ = (0.05, 0.5)


def augment_batch(x: torch.Tensor, config: AugmentConfig, fs: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A randomly transformed copy of ``x`` (B, leads, T); ``x`` itself is left as it is.
    ``generator``: where the draws come from (None: torch's global generator)."""
    batch, leads, length = x.shape
    g = {"generator": generator}
    if config.amplitude:
        x = x * torch.exp(config.amplitude * torch.randn(batch, leads, 1, **g))
    if config.baseline:
        low, high = BASELINE_HZ
        freq = low + (high - low) * torch.rand(batch, 1, 1, **g)
        phase = 2 * math.pi * torch.rand(batch, 1, 1, **g)
        wave = torch.sin(2 * math.pi * freq * torch.arange(length) / fs + phase)
        x = x + config.baseline * torch.rand(batch, leads, 1, **g) * wave
    if config.noise:
        x = x + config.noise * torch.randn(batch, leads, length, **g)
    if config.lead_dropout and leads > 1:
        keep = torch.rand(batch, leads, **g) >= config.lead_dropout
        keep[torch.arange(batch), torch.randint(0, leads, (batch,), **g)] = True  # never silence every lead
        x = x * keep[:, :, None]
    most = int(config.shift * fs + 1e-9)  # whole samples; 1e-9: 0.29 s at 100 Hz is 29 samples, not 28.999…
    if most:
        moves = torch.randint(-most, most + 1, (batch, 1), **g)
        at = (torch.arange(length)[None, :] - moves).clamp(0, length - 1)  # the edge sample repeated, never wrapped
        x = torch.gather(x, 2, at[:, None, :].expand(batch, leads, length))
    return x
