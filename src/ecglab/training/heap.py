"""Keeping the memory of a long evaluation pass flat on glibc.

Keeping each batch's small results while its large temporaries come and go fragments glibc's heap,
and glibc does not give the free pages between the kept blocks back on its own: evaluating 15,000
records grew the process by about 12 MB a batch (2.6 GB in one validation pass over a 100,000-record
dataset, benchmarks/scale.py). ``malloc_trim(0)`` returns them, in about 10 ms. Fixing glibc's mmap
threshold instead would also keep memory flat, but made training 2.5 times slower (every large
tensor of every step then maps and faults in fresh pages).
"""

from __future__ import annotations

import ctypes

TRIM_EVERY = 16  # batches: at most ~200 MB of free pages build up between two trims


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl; Windows refuses CDLL(None)): nothing to do
        return None


_TRIM = _malloc_trim()


def trim_heap(batch_index: int) -> None:
    """Call after each batch of an evaluation pass: every :data:`TRIM_EVERY` batches the heap's free
    pages go back to the system."""
    if _TRIM is not None and batch_index % TRIM_EVERY == TRIM_EVERY - 1:
        _TRIM(0)
