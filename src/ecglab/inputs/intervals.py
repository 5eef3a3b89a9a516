"""Record measurements from waves: heart rate, RR, PR, P duration, QRS, QT, QTc, P/QRS/T axes.

Per beat, from the leads combined (:mod:`ecglab.inputs.wave_beats`); per record, the median over the
beats that have the wave (the mean for RR and heart rate, as a cart's rate over its 10 s), with
the number of beats each value rests on. A value that cannot be measured is None with a reason,
never a guess: no P wave before most QRS complexes (atrial fibrillation or flutter), no T wave,
fewer than two beats, a record too short or too flat (:func:`signal_problem`).

QTc per beat uses the R-R interval that ends at that beat (the one that sets its repolarisation;
the first beat uses the next one): Bazett QT/√RR, Fridericia QT/∛RR, RR in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecglab.inputs.waves import Wave
from ecglab.inputs.axis import axis_degrees, frontal_leads, net_deflection
from ecglab.inputs.wave_beats import MIN_WAVE_SHARE, Beat, find_beats

NAMES = ("heart_rate_bpm", "rr_ms", "pr_ms", "p_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms", "qtc_fridericia_ms",
         "p_axis_deg", "qrs_axis_deg", "t_axis_deg")
MIN_SECONDS = 2.5
MIN_PEAK_TO_PEAK_MV = 0.1
MIN_BEATS = 2


@dataclass
class Measurements:
    values: dict = field(default_factory=lambda: dict.fromkeys(NAMES))
    reasons: dict = field(default_factory=dict)
    beats: dict = field(default_factory=lambda: dict.fromkeys(NAMES, 0))
    per_beat: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"measurements": dict(self.values), "reasons": dict(self.reasons), "beat_counts": dict(self.beats),
                "per_beat": list(self.per_beat)}

    def fail_all(self, reason: str) -> "Measurements":
        self.reasons = dict.fromkeys(NAMES, reason)
        return self


def signal_problem(signal: np.ndarray, fs: float) -> str | None:
    """Why a record cannot be delineated at all (too short, flat), or None."""
    seconds = signal.shape[-1] / fs
    if seconds < MIN_SECONDS:
        return f"the record lasts {seconds:.2f} s; at least {MIN_SECONDS} s (two beats) are needed"
    finite = np.where(np.isfinite(signal), signal, np.nan)
    spread = np.nanmax(np.nanmax(finite, axis=-1) - np.nanmin(finite, axis=-1)) if np.isfinite(finite).any() else 0.0
    if not spread >= MIN_PEAK_TO_PEAK_MV:
        return f"the record is flat: its largest peak-to-peak amplitude is {spread:.3f} mV (at least {MIN_PEAK_TO_PEAK_MV} mV expected)"
    return None


def beat_intervals(beats: list[Beat], fs: float) -> list[dict]:
    """Per beat, in ms: rr (ending at this beat), pr, p, qrs, qt, qtc_bazett, qtc_fridericia (None where absent)."""
    ms = 1000.0 / fs
    fiducials = np.array([b.fiducial for b in beats])
    rr = np.diff(fiducials) * ms
    rows = []
    for k, b in enumerate(beats):
        rr_here = rr[k - 1] if k else (rr[0] if len(rr) else None)
        qt = (b.t.offset - b.qrs.onset) * ms if b.t else None
        rows.append({
            "qrs_onset": b.qrs.onset, "rr_ms": rr_here,
            "pr_ms": (b.qrs.onset - b.p.onset) * ms if b.p else None,
            "p_ms": (b.p.offset - b.p.onset) * ms if b.p else None,
            "qrs_ms": (b.qrs.offset - b.qrs.onset) * ms,
            "qt_ms": qt,
            "qtc_bazett_ms": qt / np.sqrt(rr_here / 1000) if qt and rr_here else None,
            "qtc_fridericia_ms": qt / np.cbrt(rr_here / 1000) if qt and rr_here else None,
        })
    return rows


def measure_waves(waves: list[Wave], signal: np.ndarray, fs: float, leads: list[str]) -> Measurements:
    """Measurements of a record from its per-lead ``waves`` (samples at ``fs``). ``leads`` are those that
    were delineated (the QRS majority counts over them); ``signal`` (L, T) in mV holds their traces,
    one row per name of ``leads``, for the axes."""
    out = Measurements()
    problem = signal_problem(signal, fs)
    if problem:
        return out.fail_all(problem)
    beats = find_beats(waves, leads, fs)
    if len(beats) < MIN_BEATS:
        return out.fail_all(f"{len(beats)} QRS complex{'es' * (len(beats) != 1)} found in at least half of the leads; "
                            f"at least {MIN_BEATS} are needed (noise, or a record too short)")
    rows = beat_intervals(beats, fs)
    out.per_beat = [{k: (round(float(v), 1) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}
                    for row in rows]
    rr = np.diff([b.fiducial for b in beats]) * 1000 / fs
    out.values["rr_ms"] = round(float(rr.mean()), 1)
    out.values["heart_rate_bpm"] = round(60000 / float(rr.mean()), 1)
    out.beats["rr_ms"] = out.beats["heart_rate_bpm"] = len(beats)
    with_p = sum(b.p is not None for b in beats)
    with_t = sum(b.t is not None for b in beats)
    for name, present, wave in (("pr_ms", with_p, "P"), ("p_ms", with_p, "P"), ("qrs_ms", len(beats), "QRS"),
                                ("qt_ms", with_t, "T"), ("qtc_bazett_ms", with_t, "T"), ("qtc_fridericia_ms", with_t, "T")):
        _median(out, name, [row[name] for row in rows], present, len(beats), wave)
    _axes(out, beats, signal, fs, leads)
    return out


def _median(out: Measurements, name: str, values: list, present: int, total: int, wave: str) -> None:
    values = [v for v in values if v is not None]
    if present < MIN_WAVE_SHARE * total or not values:
        why = " (atrial fibrillation or flutter, or P waves too small to see)" if wave == "P" else ""
        out.reasons[name] = f"a {wave} wave was found in {present} of {total} beats{why}; at least half are needed"
        return
    out.values[name] = round(float(np.median(values)), 1)
    out.beats[name] = len(values)


def _axes(out: Measurements, beats: list[Beat], signal: np.ndarray, fs: float, leads: list[str]) -> None:
    frontal = frontal_leads(signal, leads)
    for name, wave in (("p_axis_deg", "P"), ("qrs_axis_deg", "QRS"), ("t_axis_deg", "T")):
        if frontal is None:
            out.reasons[name] = f"the axis needs two of the leads I, II, III (or I and aVF); the record has {', '.join(leads)}"
            continue
        spans = [(getattr(b, wave.lower()), b) for b in beats]
        spans = [(s, b) for s, b in spans if s is not None]
        if len(spans) < MIN_WAVE_SHARE * len(beats):
            out.reasons[name] = f"a {wave} wave was found in {len(spans)} of {len(beats)} beats; at least half are needed"
            continue
        deflections = [[net_deflection(trace, s.onset, s.offset, (s.onset if wave == "P" else b.qrs.onset), fs)
                        for s, b in spans] for trace in frontal]
        value, reason = axis_degrees(deflections[0], deflections[1], wave)
        out.values[name] = value
        if reason:
            out.reasons[name] = reason
        else:
            out.beats[name] = len(spans)
