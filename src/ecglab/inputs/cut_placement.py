"""Where a record's beats are cut, at the beat spec's rate: each R peak moved to where its QRS best matches the
record's median QRS (:func:`aligned_peaks`), then, as the spec's ``centre`` says, all of a record's cuts moved
together onto the centre of its median QRS (:func:`qrs_centred`) or onto its dominant deflection
(:func:`deflection_centred`). Annotators and detectors mark R peaks on different deflections, and SVDB's annotators
a record-wide distance before the peak; so placed, a record's beats are cut alike however they were marked.
Pure numpy, on the first lead the beats are cut from.
"""

from __future__ import annotations

import numpy as np

from ecglab.signal.rpeaks import dominant_deflection

QRS_HALF_WIDTH_S = 0.065  # the QRS that aligned_peaks matches (and qrs_difference compares): 65 ms either side
QRS_WINDOW_S = 0.1  # where a record's QRS centre or dominant deflection is looked for: 100 ms either side of its cuts
CENTRE_LIMIT_S = 0.08  # and moves them by at most this (the R peaks of SVDB's annotators lie up to 55 ms off)


def placed_cuts(lead: np.ndarray, peaks: np.ndarray, fs: float, align_s: float, centre: str) -> np.ndarray:
    """``peaks`` (samples of ``lead`` at ``fs``) aligned within ``align_s`` (0: not), then centred as ``centre``
    says (``"r_peak"``: not; ``"qrs"``; ``"deflection"``)."""
    if align_s > 0:
        half, shift = (int(round(seconds * fs)) for seconds in (QRS_HALF_WIDTH_S, align_s))
        peaks = aligned_peaks(lead, peaks, half, shift)
    if centre != "r_peak":
        centring = {"qrs": qrs_centred, "deflection": deflection_centred}[centre]
        peaks = centring(lead, peaks, *(int(round(s * fs)) for s in (QRS_WINDOW_S, CENTRE_LIMIT_S)))
    return peaks


def aligned_peaks(lead: np.ndarray, peaks: np.ndarray, half: int, shift: int, rounds: int = 2) -> np.ndarray:
    """``peaks`` each moved by up to ``shift`` samples to where ``half`` samples either side best correlate with
    the record's median QRS (taken again after each of ``rounds`` moves; ties keep the smaller move). Annotators
    and detectors mark a complex's R peak on different deflections where two are alike in size (bundle branch
    block, noise): aligned, the beats of a patient line up however their R peaks were marked, and the beat minus
    the median beat stays small for a normal beat (on MIT-BIH 207 the detector's R peaks lay over 20 ms from the
    annotations for 39 % of the N beats, 2 % once both are aligned). Peaks too close to an edge stay."""
    peaks = np.asarray(peaks, dtype=np.int64)
    movable = np.flatnonzero((peaks - half - shift >= 0) & (peaks + half + shift < len(lead)))
    if len(movable) < 2:
        return peaks
    window = np.arange(-half, half + 1)
    given = peaks[movable]
    moves = np.array(sorted(range(-shift, shift + 1), key=abs))  # 0, -1, 1, …: argmax keeps the first best
    centres = given
    for _ in range(rounds):
        template = np.median(_centred_rows(lead[centres[:, None] + window]), axis=0)
        template /= max(float(np.linalg.norm(template)), 1e-12)
        # one move at a time: a day-long record's stretches at every move at once would take hundreds of MB
        scores = np.stack([_centred_rows(lead[(given + move)[:, None] + window], unit=True) @ template
                           for move in moves])
        centres = given + moves[scores.argmax(axis=0)]
    aligned = peaks.copy()
    aligned[movable] = centres
    return aligned


def qrs_centred(lead: np.ndarray, peaks: np.ndarray, half: int, limit: int, rounds: int = 3) -> np.ndarray:
    """``peaks`` all moved by one number of samples (at most ``limit``) so that the record's median QRS is centred on
    them: the centroid of its squared slope, over ``half`` samples either side, falls on the peak. Annotators and
    detectors put a record's R peaks on the deflection of their choice (SVDB's annotations lie 55 ms before to 39 ms
    after our detector's R peaks, record by record; cut 16 ms late, SVDB 870's beats lost the two-lead recipe a fifth
    of its S calls): centred, a record's beats are cut alike however its R peaks were marked. Records with fewer than
    two peaks away from the edges stay."""
    peaks = np.asarray(peaks, dtype=np.int64)
    inside = peaks[(peaks - half - limit >= 0) & (peaks + half + limit < len(lead))]
    if len(inside) < 2:
        return peaks
    window = np.arange(-half, half + 1)
    move = 0
    for _ in range(rounds):
        energy = np.diff(np.median(lead[(inside + move)[:, None] + window], axis=0)) ** 2
        centroid = float(energy @ (window[:-1] + 0.5)) / max(float(energy.sum()), 1e-12)
        move = int(np.clip(move + round(centroid), -limit, limit))
    return peaks + move


def deflection_centred(lead: np.ndarray, peaks: np.ndarray, half: int, limit: int) -> np.ndarray:
    """``peaks`` all moved by one number of samples (at most ``limit``) so that the dominant deflection of the
    record's median QRS (over ``half`` samples either side) falls on them: where the R-peak detector places a beat
    (:func:`ecglab.signal.rpeaks.dominant_deflection`), as MIT-BIH's annotators did. SVDB's annotators put a
    record's R peaks 2 to 4 samples (16 to 31 ms) before it on 22 of its 39 shared records and 1 to 2 after on 9,
    so beats cut at its annotations and at detected R peaks differed record by record; centred so, they are cut
    alike, while MIT-BIH's annotated cuts (the detector within a sample of them on all 22 DS1 records) stay.
    Not in a shipped recipe (docs/RESULTS.md, fourteenth round). Records with fewer than two peaks away from the
    edges stay."""
    peaks = np.asarray(peaks, dtype=np.int64)
    inside = peaks[(peaks - half >= 0) & (peaks + half < len(lead))]
    if len(inside) < 2:
        return peaks
    median = np.median(lead[inside[:, None] + np.arange(-half, half + 1)], axis=0)
    return peaks + int(np.clip(dominant_deflection(median) - half, -limit, limit))


def _centred_rows(rows: np.ndarray, unit: bool = False) -> np.ndarray:
    """Each row minus its mean, and (``unit``) over its norm."""
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12) if unit else rows
