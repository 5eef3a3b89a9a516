"""From per-lead waves to beats: one QRS per beat across leads, with its P and T, boundaries combined.

Leads are combined as the CSE working party and the IEC 60601-2-25 standard do for global
measurements: the earliest onset and the latest offset over the leads. A single lead that put a
boundary far from where the others put theirs (more than ``AGREEMENT_MS`` from their median) is
left out of that beat's boundary first, so that one stray lead cannot stretch the interval.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from ecglab.inputs.waves import Wave

# A beat needs its QRS in at least this share of the leads delineated; a P or T at least this share of the beat's leads.
LEAD_SHARE = {"QRS": 0.5, "P": 0.34, "T": 0.34}
AGREEMENT_MS = {"P": 40.0, "QRS": 40.0, "T": 80.0}
P_SEARCH_MS = 400.0  # a P wave's peak lies at most this long before the QRS onset (PR intervals reach ~350 ms)
T_SEARCH_MS = 700.0  # a T wave's peak lies at most this long after the QRS offset
MIN_WAVE_SHARE = 0.5  # a P (or T) in fewer than half the beats is reported as absent, not measured on the few
# Atrial fibrillation waves before most beats: irregular R-R and a wandering PR (:func:`fibrillation_waves`). On
# the LUDB CV, sinus records with irregular R-R keep their PR within 8 ms (median absolute deviation), the two AF
# records whose f waves preceded most beats wander by 12 and 28 ms; regular sinus records reach 16 ms.
IRREGULAR_RR = 0.1
WANDERING_PR_MS = 10.0
# A wave this share of the leads show is given to the rest (:func:`across_leads`). Chosen by the LUDB CV: 1/2 and
# 2/3 found as many P waves but cost more +P (97.5, 97.9 %), 3/4 to 5/6 are within 0.1 point of each other.
FILL_SHARE = 3 / 4


@dataclass(frozen=True)
class Span:
    onset: int
    offset: int
    leads: int  # how many leads it was combined from


@dataclass(frozen=True)
class Beat:
    fiducial: int  # median of the QRS peaks over its leads: the beat's time for R-R intervals
    qrs: Span
    p: Span | None
    t: Span | None


def combine(waves: list[Wave], fs: float) -> Span:
    """Earliest onset and latest offset over the leads that agree with the median boundary."""
    onsets = np.array([w.onset for w in waves])
    offsets = np.array([w.offset for w in waves])
    tolerance = AGREEMENT_MS[waves[0].wave] * fs / 1000
    onsets = onsets[np.abs(onsets - lower_median(onsets)) <= tolerance]
    offsets = offsets[np.abs(offsets - lower_median(offsets)) <= tolerance]
    return Span(int(onsets.min()), int(offsets.max()), len(waves))


def lower_median(values: np.ndarray) -> int:
    """The median that is one of ``values`` (the lower middle one of an even count): with two far-apart groups
    of leads, the midpoint between them is near no lead and would leave none within the agreement tolerance."""
    return int(np.sort(values)[(len(values) - 1) // 2])


def one_per_lead(waves: list[Wave], last: bool = False) -> list[Wave]:
    """The first (or last) wave of each lead, in ``waves`` order."""
    chosen: dict[str, Wave] = {}
    for w in (reversed(waves) if last else waves):
        chosen.setdefault(w.lead, w)
    return list(chosen.values())


def overlap_groups(waves: list[Wave], kind: str = "QRS") -> list[list[Wave]]:
    """The ``kind`` waves of all leads grouped into events: waves that overlap in time are one event (for QRS
    complexes, one beat)."""
    found = sorted((w for w in waves if w.wave == kind), key=lambda w: w.onset)
    groups: list[list[Wave]] = []
    end = -1
    for w in found:
        if groups and w.onset <= end:
            groups[-1].append(w)
            end = max(end, w.offset)
        else:
            groups.append([w])
            end = w.offset
    return groups


def find_beats(waves: list[Wave], leads: list[str], fs: float) -> list[Beat]:
    """The beats found in at least ``LEAD_SHARE['QRS']`` of ``leads``, each with its P and T where present."""
    needed = max(1, int(np.ceil(LEAD_SHARE["QRS"] * len(leads))))
    groups = [one_per_lead(g) for g in overlap_groups(waves)]
    groups = [g for g in groups if len(g) >= needed]
    qrs = [combine(g, fs) for g in groups]
    by_kind = {kind: sorted((w for w in waves if w.wave == kind), key=lambda w: w.peak) for kind in ("P", "T")}
    peaks = {kind: [w.peak for w in found] for kind, found in by_kind.items()}
    beats = []
    for k, (group, span) in enumerate(zip(groups, qrs)):
        previous_end = qrs[k - 1].offset if k else -1
        next_start = qrs[k + 1].onset if k + 1 < len(qrs) else np.inf
        p_window = (max(previous_end, span.onset - P_SEARCH_MS * fs / 1000), span.onset)
        t_window = (span.offset, min(next_start, span.offset + T_SEARCH_MS * fs / 1000))
        p = _wave_in(by_kind["P"], peaks["P"], p_window, len(group), "P", fs, last=True)
        t = _wave_in(by_kind["T"], peaks["T"], t_window, len(group), "T", fs)
        beats.append(Beat(int(np.median([w.peak for w in group])), span, p, t))
    return beats


def _wave_in(waves: list[Wave], peaks: list[int], window: tuple[float, float], n_leads: int, kind: str, fs: float,
             last: bool = False) -> Span | None:
    """The ``kind`` wave of a beat from ``waves`` (sorted by their ``peaks``) peaking inside ``window``."""
    inside = waves[bisect_right(peaks, window[0]):bisect_left(peaks, window[1])]  # a slice: no scan of the record
    chosen = one_per_lead(inside, last=last)
    if len(chosen) < max(1, int(np.ceil(LEAD_SHARE[kind] * n_leads))):
        return None
    return combine(chosen, fs)


def across_leads(waves: list[Wave], leads: list[str]) -> list[Wave]:
    """``waves`` and, for each wave seen in at least ``FILL_SHARE`` of ``leads``, the same wave in each lead that
    lacks it, with the median onset, peak and offset of the others; lead by lead, each in time order.

    A P, QRS or T is one electrical event of the heart, present in every lead even where its projection is too
    small for the model to see (LUDB's cardiologists mark it there too): on the LUDB cross-validation this found
    98.7 % of the P waves on all leads instead of 97.6 %, at a +P of 97.95 % instead of 98.0 % (docs/RESULTS.md)."""
    added = []
    for kind in ("P", "QRS", "T"):
        for group in overlap_groups(waves, kind):
            have = {w.lead for w in group}
            if len(have) < FILL_SHARE * len(leads):
                continue
            onset, peak, offset = (int(np.median([getattr(w, side) for w in group]))
                                   for side in ("onset", "peak", "offset"))
            added += [Wave(lead, kind, onset, peak, offset) for lead in leads if lead not in have]
    if not added:
        return waves
    row = {lead: k for k, lead in enumerate(leads)}
    return sorted(waves + added, key=lambda w: (row.get(w.lead, len(leads)), w.onset))


def without_unorganised_p(waves: list[Wave], leads: list[str], fs: float) -> list[Wave]:
    """``waves`` without any P wave when P waves precede fewer than ``MIN_WAVE_SHARE`` of the beats, or when the
    rhythm is irregular and the PR interval wanders (:func:`fibrillation_waves`): what was taken for P waves is
    then fibrillation or flutter waves, pacing artefacts or noise (LUDB's cardiologists mark no P wave in such
    records), and the PR interval is not measured on so few beats anyway."""
    beats = find_beats(waves, leads, fs)
    if len(beats) < 2 or (sum(b.p is not None for b in beats) >= MIN_WAVE_SHARE * len(beats)
                          and not fibrillation_waves(beats, fs)):
        return waves
    return [w for w in waves if w.wave != "P"]


def fibrillation_waves(beats: list[Beat], fs: float) -> bool:
    """Whether the waves before the beats' QRS are atrial fibrillation waves, though they precede most beats: the
    R-R intervals are irregular (median successive change over ``IRREGULAR_RR`` of the median interval) and the PR
    interval wanders (median absolute deviation over ``WANDERING_PR_MS``), where a conducted P wave keeps its PR."""
    rr = np.diff([b.fiducial for b in beats])
    pr = np.array([b.qrs.onset - b.p.onset for b in beats if b.p is not None]) * 1000 / fs
    if len(rr) < 3 or len(pr) < 3:
        return False
    irregularity = np.median(np.abs(np.diff(rr))) / np.median(rr)
    return bool(irregularity > IRREGULAR_RR and np.median(np.abs(pr - np.median(pr))) > WANDERING_PR_MS)
