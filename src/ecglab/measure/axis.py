"""Frontal-plane axis of a wave from the net areas in leads I and aVF.

Method: for each beat, the net area (integral of the trace minus its baseline, mV·ms) of the wave
in lead I and in lead aVF over the beat's combined onset…offset; the baseline is the median of the
trace over the ``BASELINE_MS`` before the onset (before the QRS onset, the PR segment, for QRS
and T; before the P onset for P). Areas are averaged over the beats and the axis is
``atan2(2/√3 · area aVF, area I)`` in degrees, (-180, 180]: lead I points to 0°, aVF to +90° in
the hexaxial system, and these two leads are orthogonal, so their net areas are the frontal
vector's components, once aVF is brought to lead I's scale: an augmented lead records
(II + III)/2 = √3/2 of the vector's projection on its axis (Einthoven's triangle), lead I all of it. Net areas follow the vectorcardiographic mean vector better than peak amplitudes in
low-voltage or biphasic complexes. Without I and aVF, they are derived from II and III
(Einthoven: I = II − III, aVF = (II + III) / 2).
"""

from __future__ import annotations

import numpy as np

BASELINE_MS = 20.0
AVF_SCALE = 2 / np.sqrt(3)  # aVF = (II + III) / 2 = √3/2 · the projection on +90°
MIN_AREA_MV_MS = {"P": 0.5, "QRS": 2.0, "T": 2.0}  # below this the direction is indeterminate (isoelectric)


def frontal_leads(signal: np.ndarray, leads: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Leads I and aVF as arrays, derived from II and III if needed; None when neither pair is there."""
    index = {name: i for i, name in enumerate(leads)}
    if "I" in index and "aVF" in index:
        return signal[index["I"]].astype(np.float64), signal[index["aVF"]].astype(np.float64)
    if "II" in index and "III" in index:
        ii, iii = signal[index["II"]].astype(np.float64), signal[index["III"]].astype(np.float64)
        return ii - iii, (ii + iii) / 2
    return None


def net_area(trace: np.ndarray, onset: int, offset: int, baseline_at: int, fs: float) -> float:
    """Area of ``trace[onset..offset]`` above the median of the ``BASELINE_MS`` before ``baseline_at``, in mV·ms."""
    width = max(1, int(round(BASELINE_MS * fs / 1000)))
    before = trace[max(0, baseline_at - width):max(baseline_at, 1)]
    segment = trace[onset:offset + 1] - np.median(before)
    return float(segment.sum() * 1000 / fs)


def axis_degrees(areas_i: list[float], areas_avf: list[float], wave: str) -> tuple[float | None, str | None]:
    """The axis from per-beat areas, or None with the reason."""
    if not areas_i:
        return None, f"no beat with a {wave} wave to take its axis from"
    x, y = float(np.mean(areas_i)), float(np.mean(areas_avf)) * AVF_SCALE
    if np.hypot(x, y) < MIN_AREA_MV_MS[wave]:
        return None, (f"{wave} net area in leads I and aVF is {np.hypot(x, y):.2f} mV·ms, below "
                      f"{MIN_AREA_MV_MS[wave]} mV·ms: its frontal direction is indeterminate")
    angle = float(np.degrees(np.arctan2(y, x)))
    return (180.0 if angle == -180.0 else round(angle, 1)), None
