"""Timing shared by the benchmark scripts (run them from the repository root: python benchmarks/NAME.py)."""

from __future__ import annotations

import statistics
import time


def synchronize(device=None) -> None:
    """Wait for a CUDA device's queued work, so that a timer sees it; nothing to wait for elsewhere."""
    if device is not None and getattr(device, "type", device) == "cuda":
        import torch

        torch.cuda.synchronize(device)


def timings(fn, repeats: int, warmup: int = 2, device=None) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``fn()`` after ``warmup`` untimed ones (on a CUDA
    ``device``, including the work they queued)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn, repeats: int, warmup: int = 2, device=None) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones."""
    return statistics.median(timings(fn, repeats, warmup, device))
