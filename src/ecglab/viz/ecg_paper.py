"""An ECG drawn as on a printout: grid paper (1 mm / 5 mm), 25 mm/s, 10 mm/mV.

A record with the 12 standard leads gets the standard page: four columns of 2.5 s (I II III |
aVR aVL aVF | V1 V2 V3 | V4 V5 V6) and a lead-II rhythm strip over the whole 10 s. Other records
(one or two Holter leads, say) get one full-width strip per lead. Data coordinates are paper
millimetres and the figure is sized so that they stay millimetres when printed at 100 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ecglab.errors import EcglabError
from ecglab.records import STANDARD_12_LEADS, Record

MM_PER_S = 25.0
MM_PER_MV = 10.0
ROW_MM = 35.0
CALIBRATION_MM = 10.0  # left margin holding the 1 mV calibration pulse
TITLE_MM = 16.0
LABEL_BAND_MM = 10.0  # bottom band holding the beat labels of a beat model
MINOR, MAJOR, TRACE = "#f6c3c3", "#e88a8a", "#111111"
PAGE_COLUMNS = [["I", "II", "III"], ["aVR", "aVL", "aVF"], ["V1", "V2", "V3"], ["V4", "V5", "V6"]]
WAVE_COLOURS = {"P": "#1f77b4", "QRS": "#d62728", "T": "#2ca02c"}
BEAT_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def plot_ecg(record: Record, out: str | Path, prediction=None, start_s: float = 0.0, seconds: float = 10.0,
             dpi: int = 200, measured=None) -> Path:
    """Draw ``record`` from ``start_s`` over ``seconds`` and save it (.png, .pdf, .svg) to ``out``; with
    ``measured`` (an :func:`ecglab.measure` result) its P, QRS and T waves are shaded and its values printed."""
    figure = ecg_figure(record, prediction, start_s, seconds, measured)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi)
    return out


def ecg_figure(record: Record, prediction=None, start_s: float = 0.0, seconds: float = 10.0, measured=None) -> Figure:
    """The page from ``start_s`` over ``seconds``, cut short where the record ends."""
    seconds = page_seconds(record, start_s, seconds)
    standard = all(lead in record.leads for lead in STANDARD_12_LEADS)
    rows = 4 if standard else len(record.leads)
    width_mm = CALIBRATION_MM + seconds * MM_PER_S + 5
    beats = prediction is not None and bool(prediction.beats)
    band = LABEL_BAND_MM if beats else 0.0
    height_mm = rows * ROW_MM + 5 + band
    figure = Figure(figsize=(width_mm / 25.4, (height_mm + TITLE_MM) / 25.4))
    ax = figure.add_axes((0, 0, 1, height_mm / (height_mm + TITLE_MM)))
    ax.set_xlim(0, width_mm)
    ax.set_ylim(0, height_mm)
    ax.set_axis_off()
    _grid(ax, width_mm, height_mm)
    baselines = [height_mm - ROW_MM * (r + 0.5) - 2 for r in range(rows)]
    if standard:
        column_s = seconds / 4
        for c, column in enumerate(PAGE_COLUMNS):
            for r, lead in enumerate(column):
                _trace(ax, record, lead, start_s + c * column_s, column_s, baselines[r], CALIBRATION_MM + c * column_s * MM_PER_S,
                       separator=c > 0)
                _shade(ax, measured, record.fs, lead, start_s + c * column_s, column_s, baselines[r],
                       CALIBRATION_MM + c * column_s * MM_PER_S)
        strip_leads = ["II"]
    else:
        strip_leads = list(record.leads)
    for r, lead in enumerate(strip_leads):
        row = rows - len(strip_leads) + r
        _trace(ax, record, lead, start_s, seconds, baselines[row], CALIBRATION_MM)
        _shade(ax, measured, record.fs, lead, start_s, seconds, baselines[row], CALIBRATION_MM)
    for row in range(rows):
        _calibration(ax, baselines[row])
    if beats:
        _beat_labels(ax, prediction, start_s, seconds)
    top = 1 - 3 / (height_mm + TITLE_MM)
    figure.text(0.01, top, _title(record, prediction) + _measurement_line(measured), ha="left", va="top", fontsize=9, family="monospace")
    figure.text(0.99, top, f"{MM_PER_S:g} mm/s   {MM_PER_MV:g} mm/mV   {record.fs:g} Hz\n"
                f"{start_s:.1f}–{start_s + seconds:.1f} s of {record.duration:.1f} s", ha="right", va="top", fontsize=8,
                color="#444444")
    return figure


def page_seconds(record: Record, start_s: float, seconds: float) -> float:
    """The seconds a page from ``start_s`` can show (``seconds``, cut short where the record ends); an
    error when the start lies outside the record or the length is not positive."""
    if not 0 <= start_s < record.duration:
        raise EcglabError(f"{record.name}: the page cannot start at {start_s:g} s; the record lasts {record.duration:g} s, "
                          f"so the start (--start) must be at least 0 and below {record.duration:g}.")
    if not seconds > 0:
        raise EcglabError(f"{record.name}: the page must show a positive number of seconds (--seconds), found {seconds:g}.")
    return min(seconds, record.duration - start_s)


def _grid(ax, width_mm: float, height_mm: float) -> None:
    for step, colour, lw in ((1, MINOR, 0.25), (5, MAJOR, 0.6)):
        ax.vlines(np.arange(0, width_mm + 0.01, step), 0, height_mm, color=colour, lw=lw, zorder=0)
        ax.hlines(np.arange(0, height_mm + 0.01, step), 0, width_mm, color=colour, lw=lw, zorder=0)


def _trace(ax, record: Record, lead: str, start_s: float, seconds: float, baseline_mm: float, x0_mm: float,
           separator: bool = False) -> None:
    i = record.leads.index(lead)
    a, b = int(round(start_s * record.fs)), int(round((start_s + seconds) * record.fs))
    segment = record.signal[i, a:b].astype(np.float64)
    if segment.size == 0:
        return
    segment = segment - np.median(segment)  # sit the trace on its row, as a printer's baseline filter does
    x = x0_mm + np.arange(segment.size) / record.fs * MM_PER_S
    ax.plot(x, baseline_mm + segment * MM_PER_MV, color=TRACE, lw=0.7, zorder=2)
    ax.text(x0_mm + 1.5, baseline_mm + 9, lead, fontsize=8, fontweight="bold", zorder=3)
    if separator:
        ax.plot([x0_mm, x0_mm], [baseline_mm - 3, baseline_mm + 3], color=TRACE, lw=0.8, zorder=2)


def _shade(ax, measured, fs: float, lead: str, start_s: float, seconds: float, baseline_mm: float, x0_mm: float) -> None:
    """The P, QRS and T waves found on ``lead`` as coloured bands behind its trace."""
    if measured is None:
        return
    a, b = start_s * fs, (start_s + seconds) * fs
    for w in measured.waves:
        if w.lead == lead and w.offset >= a and w.onset < b:
            left, right = (x0_mm + (min(max(v, a), b) - a) / fs * MM_PER_S for v in (w.onset, w.offset + 1))
            ax.fill_between([left, right], baseline_mm - ROW_MM / 2 + 2, baseline_mm + ROW_MM / 2 - 2,
                            color=WAVE_COLOURS[w.wave], alpha=0.18, lw=0, zorder=1)


def _measurement_line(measured) -> str:
    if measured is None:
        return ""
    v = measured.measurements
    show = lambda key, unit="": "–" if v[key] is None else f"{v[key]:.0f}{unit}"  # noqa: E731
    return (f"\nHR {show('heart_rate_bpm')} bpm   PR {show('pr_ms')} ms   QRS {show('qrs_ms')} ms   QT/QTcB "
            f"{show('qt_ms')}/{show('qtc_bazett_ms')} ms   P/QRS/T axes {show('p_axis_deg')}/{show('qrs_axis_deg')}/"
            f"{show('t_axis_deg')}°   (shaded: P blue, QRS red, T green)")


def _calibration(ax, baseline_mm: float) -> None:
    """The 1 mV, 200 ms calibration pulse a cart prints at the start of every row."""
    x = [1, 3, 3, 8, 8, 10]
    y = np.array([0, 0, MM_PER_MV, MM_PER_MV, 0, 0]) + baseline_mm
    ax.plot(x, y, color=TRACE, lw=0.8, zorder=2)


def _beat_labels(ax, prediction, start_s: float, seconds: float) -> None:
    """Each beat's class under the strips, at its R peak, in its class colour."""
    colours = {c: BEAT_COLOURS[k % len(BEAT_COLOURS)] for k, c in enumerate(prediction.classes)}
    for beat in prediction.beats:
        if start_s <= beat.time_s < start_s + seconds:
            x = CALIBRATION_MM + (beat.time_s - start_s) * MM_PER_S
            colour = colours.get(beat.label, "#777777")
            ax.plot([x, x], [LABEL_BAND_MM - 1, LABEL_BAND_MM + 2], color=colour, lw=1.2, zorder=3)
            ax.text(x, LABEL_BAND_MM - 2, beat.label, ha="center", va="top", fontsize=8, fontweight="bold",
                    color=colour, zorder=3)


def _title(record: Record, prediction) -> str:
    head = f"{record.meta.get('record_id', 'record')}   {len(record.leads)} leads"
    for key in ("age", "sex"):
        if record.meta.get(key) not in (None, ""):
            head += f"   {key} {record.meta[key]}"
    if prediction is None:
        return head
    ranked = sorted(zip(prediction.classes, prediction.probabilities, prediction.decisions), key=lambda t: -t[1])
    probabilities = "  ".join(f"{c} {p:.2f}{'*' if d else ''}" for c, p, d in ranked)
    if prediction.beats is not None:
        counts = ", ".join(f"{c} {n}" for c, n in prediction.beat_counts.items() if n)
        return f"{head}\n{prediction.model}: beats {counts or 'none found'}   (mean probability {probabilities})"
    positive = ", ".join(prediction.positive) or "no positive class"
    return f"{head}\n{prediction.model}: {positive}   ({probabilities}; * = positive, by {prediction.decision_rule})"
