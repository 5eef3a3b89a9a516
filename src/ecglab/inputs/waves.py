"""Waves: the (onset, peak, offset) of each P, QRS and T of one lead, and the per-sample labels they map to.

Two ways in: a cardiologist's annotation (LUDB's ``(`` onset, peak ``p``/``N``/``t``, ``)`` offset
triplets) and a segmentation model's per-sample classes (0 none, 1 P, 2 QRS, 3 T), cleaned of
fragments too short to be a wave. Pure numpy; sample indices are those of the signal they came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

WAVES = ("P", "QRS", "T")
CODE = {"P": 1, "QRS": 2, "T": 3}  # 0 = none
LUDB_PEAKS = {"p": "P", "N": "QRS", "t": "T"}
# Shorter runs of one class are model noise, not waves (the shortest annotated LUDB P/QRS/T last ~40/50/80 ms).
MIN_MS = {"P": 24.0, "QRS": 24.0, "T": 40.0}
# A class interrupted for at most this long is one wave (a notched QRS, a P split by noise). Chosen by the
# 3-fold LUDB CV (docs/RESULTS.md): 12, 24, 30, 40, 60, 80 ms tried; +P rises up to 60 ms and is flat beyond,
# with no loss of Se. Two distinct waves of one class are >= 200 ms apart, so nothing real is merged.
GAP_MS = 60.0


@dataclass(frozen=True)
class Wave:
    lead: str
    wave: str
    onset: int
    peak: int
    offset: int

    def rescaled(self, factor: float) -> "Wave":
        """The same wave at another rate (``factor`` = new rate / old rate)."""
        onset, peak, offset = (int(round(v * factor)) for v in (self.onset, self.peak, self.offset))
        return Wave(self.lead, self.wave, onset, peak, offset)

    def to_dict(self) -> dict:
        return asdict(self)


def waves_from_annotation(samples, symbols, lead: str) -> list[Wave]:
    """LUDB-style annotation → waves; a peak without its ``(`` or ``)`` neighbour is dropped (not guessed)."""
    samples = np.asarray(samples, dtype=np.int64)
    waves = []
    for i, symbol in enumerate(symbols):
        if symbol in LUDB_PEAKS and 0 < i < len(symbols) - 1 and symbols[i - 1] == "(" and symbols[i + 1] == ")":
            waves.append(Wave(lead, LUDB_PEAKS[symbol], int(samples[i - 1]), int(samples[i]), int(samples[i + 1])))
    return waves


def annotated_span(waves: list[Wave]) -> tuple[int, int] | None:
    """``[start, stop)`` from the first onset to the last offset: outside it nothing was annotated."""
    if not waves:
        return None
    return min(w.onset for w in waves), max(w.offset for w in waves) + 1


def wave_labels(waves: list[Wave], n_samples: int) -> np.ndarray:
    """Per-sample classes (uint8: 0 none, 1 P, 2 QRS, 3 T), onset and offset included."""
    labels = np.zeros(n_samples, dtype=np.uint8)
    for w in waves:
        labels[max(w.onset, 0):min(w.offset + 1, n_samples)] = CODE[w.wave]
    return labels


def runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """``(code, start, stop)`` of each run of equal labels, stop exclusive."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts, stops = np.r_[0, edges], np.r_[edges, labels.size]
    return [(int(labels[a]), int(a), int(b)) for a, b in zip(starts, stops)]


def clean_labels(labels: np.ndarray, fs: float) -> np.ndarray:
    """Bridge short gaps inside a wave, then drop runs shorter than a wave can be."""
    labels = np.asarray(labels, dtype=np.uint8).copy()
    gap = int(round(GAP_MS * fs / 1000))
    pieces = runs(labels)
    for k in range(1, len(pieces) - 1):
        code, a, b = pieces[k]
        if b - a <= gap and pieces[k - 1][0] == pieces[k + 1][0] != 0:
            labels[a:b] = pieces[k - 1][0]
    for code, a, b in runs(labels):
        if code and b - a < MIN_MS[WAVES[code - 1]] * fs / 1000:
            labels[a:b] = 0
    return labels


def waves_from_labels(labels: np.ndarray, signal: np.ndarray, fs: float, lead: str) -> list[Wave]:
    """Per-sample classes of one lead → its waves, the peak where the trace departs most from the line
    joining the wave's onset and offset (the R or S for a QRS, the apex of a P or T of either sign)."""
    signal = np.asarray(signal, dtype=np.float64)
    waves = []
    for code, a, b in runs(clean_labels(labels, fs)):
        if code == 0:
            continue
        segment = signal[a:b]
        baseline = np.linspace(segment[0], segment[-1], segment.size)
        peak = a + int(np.argmax(np.abs(segment - baseline)))
        waves.append(Wave(lead, WAVES[code - 1], a, peak, b - 1))
    return waves
