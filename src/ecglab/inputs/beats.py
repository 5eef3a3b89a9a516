"""Beat inputs: one function, :func:`beat_input`, turns a record's signal and R peaks into what a beat
model sees. Dataset builders and the Predictor both call it, so a bundle's :class:`BeatSpec` (with its
preprocessing) fully determines the input.

Two cuts, chosen by ``BeatSpec.method``:

* ``kachuee`` (Kachuee et al. 2018, "ECG Heartbeat Classification: A Deep Transferable
  Representation"): resample to 125 Hz, cut the signal into 10 s windows, normalise each to
  [0, 1], take the median R-R interval T of the window, and keep each beat from its R peak over
  1.2 T, zero-padded (or cut) to 187 samples.
* ``centred``: a fixed span before and after each R peak, so that the P wave and the whole QRS-T
  are seen (what tells a supraventricular beat from a normal one).

``normalize="record"`` (centred only) removes each beat's baseline (its median) and divides every
lead by the record's median beat amplitude, so a patient's beats keep their relative sizes while
patients and machines of different gains become comparable.

``align_s`` and ``centre`` (centred only) say where each beat is cut (:mod:`ecglab.inputs.cut_placement`):
where its QRS best matches the record's median QRS, within ``align_s`` of the R peak given, and all of a
record's cuts then moved together onto its QRS, so that its beats line up whether its R peaks were annotated or
detected, on whichever deflection.

``template`` adds a second channel per lead from the patient's own typical beat (the median of the
record's beats, or of the ``template_beats`` around each beat on longer records): ``"difference"``,
the beat minus that template (how this beat departs from the patient's usual one, the cue
inter-patient classifiers lean on); ``"median"``, the template itself. The model then reads
:func:`input_channels` channels, the beats' leads first.

Per beat R-R features (:data:`RR_FEATURES`, the de Chazal et al. 2004 set, in seconds) and the same
relative to the patient's own rhythm (:data:`RELATIVE_RR_FEATURES`: divided by a running average
over the surrounding beats; Lin & Yang 2014, Mondéjar-Guerra et al. 2019), given to models as metadata;
and three that the beat ensembles' gates read (:mod:`ecglab.models.ensemble`): how irregular the rhythm
around the beat is (:func:`rr_irregularity`) and whether its neighbours share one P wave
(:func:`p_consistency`), which together tell atrial fibrillation, where a short R-R says nothing of a
beat's origin, from sinus rhythm with premature beats; and how far the beat's QRS departs from the
patient's usual one (:func:`qrs_difference`), which a supraventricular beat, conducted as usual, does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, ConfigDict

from ecglab.inputs.cut_placement import QRS_HALF_WIDTH_S, placed_cuts
from ecglab.inputs.preprocess import Preprocessing, preprocess
from ecglab.signal.resample import resample, resample_positions

RR_FEATURES = ("rr_prev", "rr_next", "rr_local", "rr_mean")  # seconds
RELATIVE_RR_FEATURES = ("rr_prev_rel", "rr_next_rel", "rr_local_rel")  # divided by the running average
# how irregular the rhythm around the beat is (0: regular); how alike its neighbours' P waves are (1: identical);
# how far its QRS departs from the patient's typical beat (0: not at all)
GATE_FEATURES = ("rr_irregularity", "p_consistency", "qrs_difference")
BEAT_FEATURES = RR_FEATURES + RELATIVE_RR_FEATURES + GATE_FEATURES
IRREGULARITY_BEATS = 16  # R-R intervals around a beat that its rr_irregularity looks at
P_WINDOW_S = (0.25, 0.08)  # where a P wave lies: from 250 ms to 80 ms before the R peak
P_CONSISTENCY_BEATS = 33  # beats around a beat whose P-wave agreement p_consistency takes the median of


class BeatSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["kachuee", "centred"] = "kachuee"
    fs: float = 125.0
    length: int = 187
    window_s: float = 10.0  # kachuee only
    rr_factor: float = 1.2  # kachuee only
    before_s: float = 0.25  # centred only
    after_s: float = 0.45  # centred only
    normalize: Literal["none", "record"] = "none"  # centred only (kachuee scales each 10 s window to [0, 1])
    running_beats: int = 300  # R-R intervals in the running average of the relative features (~4 min)
    template: Literal["none", "difference", "median"] = "none"  # a second channel per lead from the median beat
    template_beats: int = 3000  # beats in the running median (a 30 min record at up to 100 bpm: the whole record)
    align_s: float = 0.0  # centred only: each cut may move this far to match the record's median QRS (0: not at all)
    # centred only: "qrs" moves a record's cuts together to its QRS centre, "deflection" to its dominant deflection
    centre: Literal["r_peak", "qrs", "deflection"] = "r_peak"


# P wave to T wave at SVDB's native rate, gains made comparable per record
CONTEXT = BeatSpec(method="centred", fs=128.0, length=96, before_s=0.3, after_s=0.45, normalize="record")
BEAT_PRESETS = {
    "kachuee": BeatSpec(),
    "centred": BeatSpec(method="centred"),
    "context": CONTEXT,
    # ... beside the patient's typical beat
    "context-difference": CONTEXT.model_copy(update={"template": "difference"}),
    "context-median": CONTEXT.model_copy(update={"template": "median"}),
    # ... each beat cut where its QRS best matches the record's typical QRS, wherever the R peak was marked
    "context-difference-aligned": CONTEXT.model_copy(update={"template": "difference", "align_s": 0.05}),
    # ... and every record's cuts on the centre of its QRS, wherever its annotator or detector put the R peaks
    "context-difference-centred": CONTEXT.model_copy(update={"template": "difference", "align_s": 0.05,
                                                             "centre": "qrs"}),
    # ... or on the dominant deflection of its QRS, where the detector and MIT-BIH's annotators put R peaks
    "context-difference-deflection": CONTEXT.model_copy(update={"template": "difference", "align_s": 0.05,
                                                                "centre": "deflection"}),
}


def preset_name(spec: BeatSpec) -> str:
    """The ``--beats`` preset that cuts beats as ``spec`` does (its method when none does)."""
    return next((name for name, preset in BEAT_PRESETS.items() if preset == spec), spec.method)


def input_channels(n_leads: int, spec: BeatSpec | None) -> int:
    """The channels a model reads for ``n_leads`` leads: one per lead, two with a template channel."""
    return n_leads * (2 if spec is not None and spec.template != "none" else 1)


@dataclass
class Beats:
    """``beats`` (n, n_leads, length); ``kept`` indexes the input R peaks that produced them; ``centres``: where
    each was cut, at the spec's rate (its R peak, or where :func:`aligned_peaks` moved it)."""

    beats: np.ndarray
    kept: np.ndarray
    centres: np.ndarray


@dataclass
class BeatInput:
    """A record's model input: ``beats`` (n, leads, length), the indices ``kept`` of the R peaks they
    come from, the ``centres`` they were cut at (:class:`Beats`), and per-beat ``features`` (name -> (n,)
    float32, every name of :data:`BEAT_FEATURES`)."""

    beats: np.ndarray
    kept: np.ndarray
    centres: np.ndarray
    features: dict[str, np.ndarray]


def beat_input(signal: np.ndarray, fs: float, peaks: np.ndarray, spec: BeatSpec, steps: Preprocessing) -> BeatInput:
    """Preprocess ``signal`` (n_leads, n_samples at ``fs``) by ``steps``, cut a beat at each R peak
    (``peaks``: sample indices at ``fs``), normalise as ``spec`` says, and compute the R-R features
    (over every peak, cut or not)."""
    peaks = np.asarray(peaks, dtype=np.int64)
    prepared = preprocess(signal, fs, steps)
    rate = steps.fs or fs
    cut = extract_beats(prepared, rate, resample_positions(peaks, fs, rate), spec)
    beats = normalize_beats(cut.beats, spec)
    # the median beats cost as much as the rest of the cut: only where a feature or a channel reads them
    read = spec.method == "centred" or spec.template != "none"
    templates = median_beats(beats, spec.template_beats) if read else None
    features = {name: column[cut.kept] for name, column in rr_features(peaks, fs, spec.running_beats).items()}
    features["p_consistency"] = p_consistency(beats, templates, spec)
    features["qrs_difference"] = qrs_difference(beats, templates, spec)
    return BeatInput(add_template(beats, templates, spec), cut.kept, cut.centres, features)


def extract_beats(signal: np.ndarray, fs: float, r_peaks: np.ndarray, spec: BeatSpec | None = None) -> Beats:
    """Segment ``signal`` (n_leads, n_samples) at ``r_peaks`` (sample indices at ``fs``); no normalisation."""
    spec = spec or BeatSpec()
    signal = resample(np.atleast_2d(signal), fs, spec.fs)
    peaks = resample_positions(r_peaks, fs, spec.fs)
    if spec.method == "centred":
        return _centred(signal, peaks, spec)
    return _kachuee(signal, peaks, spec)


def normalize_beats(beats: np.ndarray, spec: BeatSpec) -> np.ndarray:
    """``normalize="record"``: each beat minus its median, each lead over the record's median peak-to-peak."""
    if spec.normalize == "none" or spec.method == "kachuee" or len(beats) == 0:
        return beats
    centred = beats - np.median(beats, axis=2, keepdims=True)
    amplitude = np.median(centred.max(axis=2) - centred.min(axis=2), axis=0)  # (leads,)
    return (centred / np.maximum(amplitude, 1e-3)[None, :, None]).astype(np.float32)


def add_template(beats: np.ndarray, templates: np.ndarray, spec: BeatSpec) -> np.ndarray:
    """``beats`` (n, leads, length) followed by one channel per lead from their ``templates``
    (:func:`median_beats`), as ``spec.template`` says."""
    if spec.template == "none":
        return beats
    extra = beats - templates if spec.template == "difference" else templates
    return np.concatenate([beats, extra], axis=1).astype(np.float32)


def median_beats(beats: np.ndarray, window: int) -> np.ndarray:
    """Per beat, the sample-wise median of the ``window`` beats around it (all of them when the record
    has no more): the patient's typical beat at that time. Computed once per tenth of a window."""
    n = len(beats)
    if n <= window:
        whole = np.median(beats, axis=0) if n else np.zeros(beats.shape[1:], beats.dtype)
        return np.broadcast_to(whole, beats.shape)
    step = max(1, window // 10)
    templates = np.empty_like(beats)
    for start in range(0, n, step):
        low = min(max(start + step // 2 - window // 2, 0), n - window)
        templates[start:start + step] = np.median(beats[low:low + window], axis=0)
    return templates


def _kachuee(signal: np.ndarray, peaks: np.ndarray, spec: BeatSpec) -> Beats:
    n_leads, n_samples = signal.shape
    window = int(round(spec.window_s * spec.fs))
    beats, kept = [], []
    for start in range(0, n_samples, window):
        stop = min(start + window, n_samples)
        inside = np.flatnonzero((peaks >= start) & (peaks < stop))
        if len(inside) < 2:
            continue  # no R-R interval to measure in this window
        segment = signal[:, start:stop]
        low = segment.min(axis=1, keepdims=True)
        span = np.maximum(segment.max(axis=1, keepdims=True) - low, 1e-8)
        segment = (segment - low) / span
        span_t = int(round(spec.rr_factor * np.median(np.diff(peaks[inside]))))
        for i in inside:
            r = peaks[i] - start
            piece = segment[:, r : r + min(span_t, spec.length)]
            beat = np.zeros((n_leads, spec.length), dtype=np.float32)
            beat[:, : piece.shape[1]] = piece
            beats.append(beat)
            kept.append(i)
    return _stack(beats, kept, peaks, n_leads, spec.length)


def _centred(signal: np.ndarray, peaks: np.ndarray, spec: BeatSpec) -> Beats:
    n_leads, n_samples = signal.shape
    before = int(round(spec.before_s * spec.fs))
    length = spec.length
    peaks = placed_cuts(signal[0], peaks, spec.fs, spec.align_s, spec.centre)
    valid = np.flatnonzero((peaks - before >= 0) & (peaks - before + length <= n_samples))
    if len(valid) == 0:
        return _stack([], [], peaks, n_leads, length)
    starts = peaks[valid] - before
    beats = signal[:, starts[:, None] + np.arange(length)[None, :]].transpose(1, 0, 2)
    return Beats(np.ascontiguousarray(beats, dtype=np.float32), valid.astype(np.int64), peaks[valid])


def _stack(beats, kept, peaks, n_leads, length) -> Beats:
    if not beats:
        return Beats(np.zeros((0, n_leads, length), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
    kept = np.asarray(kept, dtype=np.int64)
    return Beats(np.stack(beats).astype(np.float32), kept, np.asarray(peaks, dtype=np.int64)[kept])


def rr_context(peaks: np.ndarray, fs: float, local_beats: int = 10) -> np.ndarray:
    """Per beat: previous, next, local-average and record-average R-R interval in seconds, (n, 4).

    The R-R features of de Chazal et al. 2004 that inter-patient beat classifiers need.
    """
    peaks = np.asarray(peaks, dtype=np.float64)
    if len(peaks) < 2:
        return np.zeros((len(peaks), 4), dtype=np.float32)
    rr = np.diff(peaks) / fs
    previous = np.concatenate([[rr[0]], rr])
    following = np.concatenate([rr, [rr[-1]]])
    kernel = np.ones(local_beats) / local_beats
    padded = np.concatenate([np.full(local_beats - 1, previous[0]), previous])
    local = np.convolve(padded, kernel, mode="valid")
    average = np.full(len(peaks), rr.mean())
    return np.stack([previous, following, local, average], axis=1).astype(np.float32)


def running_rr(peaks: np.ndarray, fs: float, beats: int = 300) -> np.ndarray:
    """Per beat, the mean R-R interval (s) over the ``beats`` intervals centred on it (fewer at the
    record's ends): the patient's own rhythm at that time, which the relative features divide by."""
    peaks = np.asarray(peaks, dtype=np.float64)
    if len(peaks) < 2:
        return np.ones(len(peaks), dtype=np.float64)
    rr = np.diff(peaks) / fs
    total = np.concatenate([[0.0], np.cumsum(rr)])
    centre = np.arange(len(peaks))  # beat i sits between intervals i-1 and i
    low = np.clip(centre - beats // 2, 0, len(rr))
    high = np.clip(centre + (beats - beats // 2), 0, len(rr))
    low = np.minimum(low, np.maximum(high - 1, 0))
    return (total[high] - total[low]) / np.maximum(high - low, 1)


def rr_features(peaks: np.ndarray, fs: float, running_beats: int = 300) -> dict[str, np.ndarray]:
    """The R-R columns of :data:`BEAT_FEATURES` (all but ``p_consistency`` and ``qrs_difference``, which need
    the beats: :func:`beat_input`) for each peak, float32."""
    absolute = rr_context(peaks, fs)
    columns = {name: absolute[:, j] for j, name in enumerate(RR_FEATURES)}
    rhythm = running_rr(peaks, fs, running_beats)
    for name, base in zip(RELATIVE_RR_FEATURES, RR_FEATURES):
        columns[name] = (absolute[:, RR_FEATURES.index(base)] / rhythm).astype(np.float32)
    columns["rr_irregularity"] = rr_irregularity(peaks, fs)
    return columns


def rr_irregularity(peaks: np.ndarray, fs: float, beats: int = IRREGULARITY_BEATS) -> np.ndarray:
    """Per beat, the median absolute change between successive R-R intervals among the ``beats`` around it,
    divided by their median R-R: near 0 in a regular rhythm, even with the odd premature beat (two large
    changes of 16), and large in atrial fibrillation, where a short R-R says little about a beat's origin."""
    peaks = np.asarray(peaks, dtype=np.float64)
    if len(peaks) < 3:
        return np.zeros(len(peaks), dtype=np.float32)
    rr = np.diff(peaks) / fs
    half = beats // 2
    # beat i sits between intervals i-1 and i; its windows are the changes and intervals i-half … i+half-1
    changes = sliding_window_view(np.pad(np.abs(np.diff(rr)), (half, half + 1), mode="edge"), 2 * half)
    intervals = sliding_window_view(np.pad(rr, (half, half), mode="edge"), 2 * half)
    return (np.median(changes, axis=1) / np.median(intervals, axis=1)).astype(np.float32)


def p_consistency(beats: np.ndarray, templates: np.ndarray, spec: BeatSpec) -> np.ndarray:
    """Per beat, the median over the :data:`P_CONSISTENCY_BEATS` beats around it of how well each one's
    P-wave stretch (:data:`P_WINDOW_S`) correlates with the patient's typical beat there (``templates``),
    averaged over leads: near 1 in sinus rhythm, even around a premature beat, and near 0 in atrial
    fibrillation or flutter, whose f waves fall anywhere. NaN where the cut holds no P wave (``kachuee``)."""
    before = int(round(spec.before_s * spec.fs))
    low, high = (before - int(round(s * spec.fs)) for s in P_WINDOW_S)
    if spec.method != "centred" or low < 0:
        return np.full(len(beats), np.nan, dtype=np.float32)
    if len(beats) == 0:
        return np.zeros(0, dtype=np.float32)
    wave = beats[:, :, low:high] - beats[:, :, low:high].mean(axis=2, keepdims=True)
    typical = templates[:, :, low:high] - templates[:, :, low:high].mean(axis=2, keepdims=True)
    # a flat stretch (no P wave in the template) correlates with nothing: 0, not NaN
    norms = np.sqrt((wave**2).sum(axis=2) * (typical**2).sum(axis=2))
    correlation = ((wave * typical).sum(axis=2) / np.maximum(norms, 1e-12)).mean(axis=1)
    half = P_CONSISTENCY_BEATS // 2
    window = sliding_window_view(np.pad(correlation, half, mode="edge"), 2 * half + 1)
    return np.median(window, axis=1).astype(np.float32)


def qrs_difference(beats: np.ndarray, templates: np.ndarray, spec: BeatSpec) -> np.ndarray:
    """Per beat, the root mean square of the beat minus the patient's typical beat (``templates``) over the
    QRS (:data:`QRS_HALF_WIDTH_S` either side of the R peak), over the typical beat's peak-to-peak amplitude,
    averaged over leads. Supraventricular beats are conducted as usual and stay low (median 0.10 for the
    S beats of the shared MIT-BIH DS1 and SVDB records), ventricular ones do not (median 0.58). NaN where
    the cut does not centre the R peak (``kachuee``)."""
    if spec.method != "centred":
        return np.full(len(beats), np.nan, dtype=np.float32)
    if len(beats) == 0:
        return np.zeros(0, dtype=np.float32)
    r, half = int(round(spec.before_s * spec.fs)), int(round(QRS_HALF_WIDTH_S * spec.fs))
    low, high = max(r - half, 0), min(r + half + 1, beats.shape[2])
    rms = np.sqrt(((beats[:, :, low:high] - templates[:, :, low:high]) ** 2).mean(axis=2))
    amplitude = np.maximum(templates.max(axis=2) - templates.min(axis=2), 1e-6)
    return (rms / amplitude).mean(axis=1).astype(np.float32)
