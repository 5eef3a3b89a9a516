"""Frontal-plane axis of a wave from its net deflections in leads I and III (Diede's method).

Method: for each beat, the wave's net deflection in lead I and in lead III: its highest point above
the baseline plus its deepest point below it (R − S for a QRS; the apex for a monophasic P or T), in
mV. The baseline is the median of the trace over the ``BASELINE_MS`` before the onset (before the QRS
onset, the PR segment, for QRS and T; before the P onset for P). Deflections are averaged over the
beats and turned into an angle by Einthoven's triangle, as Diede's table does: lead I points to 0°,
lead III to +120°, so a vector at θ of size E gives I = E cos θ and III = E cos(θ − 120°), hence
``θ = atan2((I + 2·III) / √3, I)`` in degrees, (-180, 180].

Why I and III and amplitudes, not net areas in I and aVF (the vectorcardiographic mean vector):
the axis categories users compare with (LUDB's, and any Russian-school report, Diede's table) come
from the algebraic sums of the QRS amplitudes in I and III. Computed from LUDB's own annotated
QRS boundaries on the 143 shared non-paced records with an axis stated, this method's category
agreed with the cardiologists' on 67.8 % of them, net areas in I and aVF on 58.7 % (docs/RESULTS.md).
Missing leads come from the others sample by sample (Einthoven: II = I + III, aVF = (II + III) / 2).
"""

from __future__ import annotations

import numpy as np

BASELINE_MS = 20.0
MIN_DEFLECTION_MV = {"P": 0.02, "QRS": 0.05, "T": 0.03}  # below this the direction is indeterminate (isoelectric)


def frontal_leads(signal: np.ndarray, leads: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Leads I and III as arrays, derived from II, III or aVF when needed; None when no pair gives them."""
    have = {name: signal[i].astype(np.float64) for i, name in enumerate(leads) if name in ("I", "II", "III", "aVF")}
    if "I" in have and "III" in have:
        return have["I"], have["III"]
    if "II" in have and "III" in have:
        return have["II"] - have["III"], have["III"]
    if "I" in have and "II" in have:
        return have["I"], have["II"] - have["I"]
    if "I" in have and "aVF" in have:
        return have["I"], have["aVF"] - have["I"] / 2
    return None


def net_deflection(trace: np.ndarray, onset: int, offset: int, baseline_at: int, fs: float) -> float:
    """Highest point above plus deepest point below the baseline (median of the ``BASELINE_MS`` before
    ``baseline_at``) of ``trace[onset..offset]``, in mV."""
    width = max(1, int(round(BASELINE_MS * fs / 1000)))
    before = trace[max(0, baseline_at - width):max(baseline_at, 1)]
    segment = trace[onset:offset + 1] - np.median(before)
    return float(max(segment.max(), 0.0) + min(segment.min(), 0.0))


def axis_degrees(deflections_i: list[float], deflections_iii: list[float], wave: str) -> tuple[float | None, str | None]:
    """The axis from per-beat deflections in I and III, or None with the reason."""
    if not deflections_i:
        return None, f"no beat with a {wave} wave to take its axis from"
    lead_i, lead_iii = float(np.mean(deflections_i)), float(np.mean(deflections_iii))
    x, y = lead_i, (lead_i + 2 * lead_iii) / np.sqrt(3)
    if np.hypot(x, y) < MIN_DEFLECTION_MV[wave]:
        return None, (f"{wave} net deflection in leads I and III is {np.hypot(x, y):.3f} mV, below "
                      f"{MIN_DEFLECTION_MV[wave]} mV: its frontal direction is indeterminate")
    angle = float(np.degrees(np.arctan2(y, x)))
    return (180.0 if angle == -180.0 else round(angle, 1)), None
