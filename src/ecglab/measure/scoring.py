"""Boundary scoring as the CSE working party reports delineators: per boundary (P, QRS, T onset and
offset), detection sensitivity and positive predictivity, and the mean and SD of the error.

A detected boundary matches an annotated one of the same kind within ``TOLERANCE_MS`` (150 ms),
one to one, closest pairs first. Only the annotated span of each lead is scored (from its first
annotated onset to its last offset, widened by ``EDGE_MS``): LUDB leaves the edges unmarked, so a
wave found there is neither a true nor a false detection. Whether a detected wave is in is decided
once per wave, by its peak, and both its boundaries follow: a wave straddling the edge (the P before
an annotation that starts at a QRS: onset out, offset in) is scored whole or not at all, never by
one boundary alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecglab.inputs.waves import Wave, annotated_span

TOLERANCE_MS = 150.0
EDGE_MS = 40.0
BOUNDARIES = [(wave, side) for wave in ("P", "QRS", "T") for side in ("onset", "offset")]


def match(reference: np.ndarray, detected: np.ndarray, tolerance: float) -> tuple[np.ndarray, int, int]:
    """Errors (detected − reference) of the matched pairs, and the numbers of missed and spurious ones."""
    reference, detected = np.asarray(reference, float), np.asarray(detected, float)
    if not len(reference) or not len(detected):
        return np.zeros(0), len(reference), len(detected)
    gaps = np.abs(detected[None, :] - reference[:, None])
    pairs = sorted((g, i, j) for (i, j), g in np.ndenumerate(gaps) if g <= tolerance)
    used_r, used_d, errors = set(), set(), []
    for _, i, j in pairs:
        if i not in used_r and j not in used_d:
            used_r.add(i)
            used_d.add(j)
            errors.append(detected[j] - reference[i])
    return np.array(errors), len(reference) - len(used_r), len(detected) - len(used_d)


@dataclass
class BoundaryTally:
    errors: list = field(default_factory=list)
    missed: int = 0
    spurious: int = 0

    def summary(self, fs: float) -> dict:
        errors_ms = np.asarray(self.errors, float) * 1000 / fs
        found = len(errors_ms)
        return {
            "se": round(100 * found / max(found + self.missed, 1), 2),
            "ppv": round(100 * found / max(found + self.spurious, 1), 2),
            "mean_ms": round(float(errors_ms.mean()), 2) if found else None,
            "sd_ms": round(float(errors_ms.std(ddof=1)), 2) if found > 1 else None,
            "mae_ms": round(float(np.abs(errors_ms).mean()), 2) if found else None,
            "n_annotated": found + self.missed,
            "n_detected": found + self.spurious,
        }

    def __add__(self, other: BoundaryTally) -> BoundaryTally:
        return BoundaryTally(self.errors + other.errors, self.missed + other.missed, self.spurious + other.spurious)


class Scorer:
    """Accumulates one delineator's boundaries against the annotation, lead by lead."""

    def __init__(self, fs: float):
        self.fs = fs
        self.tallies = {b: BoundaryTally() for b in BOUNDARIES}

    def add(self, reference: list[Wave], detected: list[Wave]) -> None:
        span = annotated_span(reference)
        if span is None:
            return
        edge = EDGE_MS * self.fs / 1000
        scored = [w for w in detected if span[0] - edge <= w.peak <= span[1] + edge]
        for wave, side in BOUNDARIES:
            ref = [getattr(w, side) for w in reference if w.wave == wave]
            det = [getattr(w, side) for w in scored if w.wave == wave]
            errors, missed, spurious = match(ref, det, TOLERANCE_MS * self.fs / 1000)
            tally = self.tallies[(wave, side)]
            tally.errors.extend(errors.tolist())
            tally.missed += missed
            tally.spurious += spurious

    def __add__(self, other: Scorer) -> Scorer:
        """The tallies of both (e.g. two folds of records), errors in samples of one rate."""
        if other.fs != self.fs:
            raise ValueError(f"cannot pool boundary errors at {self.fs} Hz and {other.fs} Hz")
        pooled = Scorer(self.fs)
        pooled.tallies = {b: self.tallies[b] + other.tallies[b] for b in BOUNDARIES}
        return pooled

    def summary(self) -> dict:
        return {f"{wave} {side}": tally.summary(self.fs) for (wave, side), tally in self.tallies.items()}
