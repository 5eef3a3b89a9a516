"""``evaluate_delineation(bundle, source)``: a delineation bundle and neurokit2 side by side on a LUDB-style folder.

Per delineator, boundary scores (:mod:`ecglab.measure.scoring`) on lead II alone and on all leads
(each lead's waves against that lead's annotation); for the bundle also the record measurements
against the patient data: the QRS axis category of ``ludb.csv`` (non-paced records with an axis
stated) and the heart rate against the rate of the annotated QRS complexes of lead II, both ours over the
whole record (what ``ecglab measure`` reports) and ours over the same beats (the annotation leaves the first
and last beats out, so the two rates cover different stretches of an irregular rhythm).

Axis categories (the Russian/Soviet convention the LUDB cardiologists annotate with; the paper names
the categories but its bounds are this school's textbook ones): horizontal 0°…+29°, normal +30°…+69°,
vertical +70°…+90°, left deviation −1°…−90°, right deviation +91°…±180°; −91°…−179° (north-west) is
none of them and counts as a disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecglab.datasets.ludb import read_lead_waves, read_patients
from ecglab.inference.delineate import load_delineator, sample_labels, waves_of
from ecglab.inputs.intervals import measure_waves
from ecglab.inputs.wave_beats import find_beats
from ecglab.measure.neurokit import neurokit_waves
from ecglab.measure.scoring import BOUNDARIES, TOLERANCE_MS, Scorer
from ecglab.records import STANDARD_12_LEADS

HR_TOLERANCE_BPM = 2.0
# The annotated rate covers only the annotated beats; ours is compared over the same stretch too (beats whose
# fiducial lies within this much of the first and last annotated QRS peak: far less than half an R-R).
SPAN_SLACK_MS = 100.0


def axis_category(degrees: float | None) -> str | None:
    if degrees is None:
        return None
    if 0 <= degrees < 30:
        return "horizontal"
    if 30 <= degrees < 70:
        return "normal"
    if 70 <= degrees <= 90:
        return "vertical"
    if -90 <= degrees < 0:
        return "left axis deviation"
    return "right axis deviation" if degrees > 90 or degrees == -180 else "north-west (indeterminate)"


@dataclass
class DelineationTally:
    """What :func:`evaluate_delineation` counts, kept raw so that the tallies of several folds add up."""
    records: list[str] = field(default_factory=list)
    scorers: dict[tuple[str, str], Scorer] = field(default_factory=dict)  # (method, "II" | "all") → its boundaries
    axis_rows: list[dict] = field(default_factory=list)
    rate_rows: list[dict] = field(default_factory=list)

    def scorer(self, method: str, scope: str, fs: float) -> Scorer:
        return self.scorers.setdefault((method, scope), Scorer(fs))

    def __add__(self, other: DelineationTally) -> DelineationTally:
        keys = list(dict.fromkeys([*self.scorers, *other.scorers]))
        scorers = {k: self.scorers[k] + other.scorers[k] if k in self.scorers and k in other.scorers
                   else self.scorers.get(k) or other.scorers[k] for k in keys}
        return DelineationTally(self.records + other.records, scorers, self.axis_rows + other.axis_rows,
                                self.rate_rows + other.rate_rows)


def evaluate_delineation(bundle, source: str | Path, records: list[str], nk_method: str | None = "dwt",
                         progress=None) -> dict:
    """Scores and agreement figures as a JSON-able dict (see the module docstring)."""
    _, spec = load_delineator(bundle)
    return delineation_report(score_delineation(bundle, source, records, nk_method, progress), bundle=str(bundle),
                              bundle_fs=spec.fs)


def score_delineation(bundle, source: str | Path, records: list[str], nk_method: str | None = "dwt",
                      progress=None) -> DelineationTally:
    """The bundle's (and neurokit2's, unless ``nk_method`` is None) waves on ``records`` of ``source``, tallied."""
    source = Path(source)
    patients = read_patients(source).set_index("record_id")
    tally = DelineationTally()
    for k, name in enumerate(records):
        record, reference = read_lead_waves(str(source / name), list(STANDARD_12_LEADS))
        labels = sample_labels(record, bundle)
        found_by_us = waves_of(labels, record.signal, record.fs, record.leads)
        ours = [[w for w in found_by_us if w.lead == lead] for lead in record.leads]
        found = {"ecglab": ours}
        if nk_method:
            found[f"neurokit2-{nk_method}"] = [neurokit_waves(record.signal[i], record.fs, lead, nk_method)
                                               for i, lead in enumerate(record.leads)]
        for method, per_lead in found.items():
            for i, lead in enumerate(record.leads):
                for scope in ("II", "all") if lead == "II" else ("all",):
                    tally.scorer(method, scope, record.fs).add(reference[i], per_lead[i])
        tally.records.append(name)
        _measure_record(tally, name, record, reference, ours, patients)
        if progress:
            progress(k + 1, len(records), name)
    return tally


def _measure_record(tally: DelineationTally, name: str, record, reference, ours, patients) -> None:
    """The record's heart rate and (non-paced, axis stated in ``ludb.csv``) QRS axis category, into ``tally``."""
    our_waves = [w for lead_waves in ours for w in lead_waves]
    result = measure_waves(our_waves, record.signal, record.fs, record.leads)
    annotated_peaks = [w.peak for w in reference[record.leads.index("II")] if w.wave == "QRS"]
    slack = SPAN_SLACK_MS * record.fs / 1000
    in_span = [b.fiducial for b in find_beats(our_waves, record.leads, record.fs)
               if annotated_peaks and min(annotated_peaks) - slack <= b.fiducial <= max(annotated_peaks) + slack]
    tally.rate_rows.append({"record": name, "measured": result.values["heart_rate_bpm"],
                            "measured_in_span": rate_of(in_span, record.fs),
                            "annotated": rate_of(annotated_peaks, record.fs)})
    info = patients.loc[name] if name in patients.index else None
    if info is not None and not info["paced"] and info["axis"] != "not stated":
        axis = result.values["qrs_axis_deg"]
        # the same axis computed from the cardiologists' own boundaries: what the method reaches with perfect waves
        annotated = measure_waves([w for lead_waves in reference for w in lead_waves], record.signal, record.fs,
                                  record.leads).values["qrs_axis_deg"]
        tally.axis_rows.append({"record": name, "axis_deg": axis, "measured": axis_category(axis), "ludb": info["axis"],
                                "from_annotation": axis_category(annotated)})


def delineation_report(tally: DelineationTally, **about) -> dict:
    """The JSON-able report of a tally: ``about`` (e.g. the bundle) first, then the scores and agreements."""
    boundaries: dict[str, dict] = {}
    for (method, scope), scorer in tally.scorers.items():
        boundaries.setdefault(method, {})[scope] = scorer.summary()
    return {"records": len(tally.records), **about, "tolerance_ms": TOLERANCE_MS, "boundaries": boundaries,
            "qrs_axis": _agreement(tally.axis_rows), "heart_rate": _rate_agreement(tally.rate_rows),
            "heart_rate_in_span": _rate_agreement(tally.rate_rows, "measured_in_span")}


def rate_of(peaks, fs: float) -> float | None:
    """Heart rate (bpm) of beats at ``peaks`` (samples): 60 / their mean R-R."""
    peaks = np.sort(peaks)
    return round(60 * fs / float(np.diff(peaks).mean()), 1) if len(peaks) >= 2 else None


def _agreement(rows: list[dict]) -> dict:
    agree = [r for r in rows if r["measured"] == r["ludb"]]
    ceiling = sum(r["from_annotation"] == r["ludb"] for r in rows)
    return {"records": len(rows), "agree": len(agree), "percent": round(100 * len(agree) / max(len(rows), 1), 1),
            "agree_from_annotated_waves": ceiling,
            "disagreements": [r for r in rows if r["measured"] != r["ludb"]]}


def _rate_agreement(rows: list[dict], measured: str = "measured") -> dict:
    both = [r for r in rows if r[measured] is not None and r["annotated"] is not None]
    diffs = np.array([r[measured] - r["annotated"] for r in both])
    within = int((np.abs(diffs) <= HR_TOLERANCE_BPM).sum()) if len(both) else 0
    return {"records": len(rows), "compared": len(both), f"within_{HR_TOLERANCE_BPM:g}_bpm": within,
            "percent_within": round(100 * within / max(len(both), 1), 1),
            "mean_abs_diff_bpm": round(float(np.abs(diffs).mean()), 2) if len(both) else None,
            "outside": [r for r, d in zip(both, diffs) if abs(d) > HR_TOLERANCE_BPM]}


def markdown(report: dict) -> str:
    """The boundary tables and agreement lines, as in docs/RESULTS.md."""
    lines = []
    for scope in ("II", "all"):
        lines += [f"\n**{'Lead II' if scope == 'II' else 'All 12 leads'}** ({report['records']} records; match within "
                  f"{report['tolerance_ms']:g} ms; error = detected − annotated)\n",
                  "| boundary | method | Se % | +P % | mean ± SD (ms) | MAE (ms) | annotated |", "|---|---|---|---|---|---|---|"]
        for wave, side in BOUNDARIES:
            for method, by_scope in report["boundaries"].items():
                s = by_scope[scope][f"{wave} {side}"]
                mean = "–" if s["mean_ms"] is None else f"{s['mean_ms']:.1f} ± {s['sd_ms'] if s['sd_ms'] is not None else float('nan'):.1f}"
                mae = "–" if s["mae_ms"] is None else f"{s['mae_ms']:.1f}"
                lines.append(f"| {wave} {side} | {method} | {s['se']:.1f} | {s['ppv']:.1f} | {mean} | {mae} | {s['n_annotated']} |")
    axis, rate = report["qrs_axis"], report["heart_rate"]
    lines.append(f"\nQRS axis category = ludb.csv's: {axis['agree']} of {axis['records']} non-paced records with an axis "
                 f"stated ({axis['percent']} %); from the annotated waves instead of ours: {axis['agree_from_annotated_waves']}.")
    lines.append(f"Heart rate within 2 bpm of the annotated QRS rate (lead II): {rate['within_2_bpm']} of {rate['compared']} "
                 f"({rate['percent_within']} %), mean |difference| {rate['mean_abs_diff_bpm']} bpm.")
    if "heart_rate_in_span" in report:
        span = report["heart_rate_in_span"]
        lines.append(f"The same over the same beats (ours inside lead II's annotated span, not the whole 10 s): "
                     f"{span['within_2_bpm']} of {span['compared']} ({span['percent_within']} %), mean |difference| "
                     f"{span['mean_abs_diff_bpm']} bpm.")
    return "\n".join(lines)
