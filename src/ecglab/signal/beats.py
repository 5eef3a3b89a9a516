"""Beat segmentation shared by real (MIT-BIH, PTB) and synthetic data and by the Predictor.

Two methods, chosen by a :class:`BeatSpec`:

* ``kachuee`` (Kachuee et al. 2018, "ECG Heartbeat Classification: A Deep Transferable
  Representation"): resample to 125 Hz, cut the signal into 10 s windows, normalise each to
  [0, 1], take the median R-R interval T of the window, and keep each beat from its R peak over
  1.2 T, zero-padded (or cut) to 187 samples.
* ``centred``: a fixed span before and after each R peak, for models that want the whole QRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ecglab.signal.resample import resample, resample_positions


class BeatSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["kachuee", "centred"] = "kachuee"
    fs: float = 125.0
    length: int = 187
    window_s: float = 10.0
    rr_factor: float = 1.2
    before_s: float = 0.25  # centred only
    after_s: float = 0.45  # centred only


@dataclass
class Beats:
    """``beats`` (n, n_leads, length); ``kept`` indexes the input R peaks that produced them."""

    beats: np.ndarray
    kept: np.ndarray


def extract_beats(signal: np.ndarray, fs: float, r_peaks: np.ndarray, spec: BeatSpec | None = None) -> Beats:
    """Segment ``signal`` (n_leads, n_samples) at ``r_peaks`` (sample indices at ``fs``)."""
    spec = spec or BeatSpec()
    signal = resample(np.atleast_2d(signal), fs, spec.fs)
    peaks = resample_positions(r_peaks, fs, spec.fs)
    if spec.method == "centred":
        return _centred(signal, peaks, spec)
    return _kachuee(signal, peaks, spec)


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
    return _stack(beats, kept, n_leads, spec.length)


def _centred(signal: np.ndarray, peaks: np.ndarray, spec: BeatSpec) -> Beats:
    n_leads, n_samples = signal.shape
    before = int(round(spec.before_s * spec.fs))
    length = spec.length
    valid = np.flatnonzero((peaks - before >= 0) & (peaks - before + length <= n_samples))
    if len(valid) == 0:
        return _stack([], [], n_leads, length)
    starts = peaks[valid] - before
    beats = signal[:, starts[:, None] + np.arange(length)[None, :]].transpose(1, 0, 2)
    return Beats(np.ascontiguousarray(beats, dtype=np.float32), valid.astype(np.int64))


def _stack(beats, kept, n_leads, length) -> Beats:
    if not beats:
        return Beats(np.zeros((0, n_leads, length), np.float32), np.zeros(0, np.int64))
    return Beats(np.stack(beats).astype(np.float32), np.asarray(kept, dtype=np.int64))


RR_FEATURES = ("rr_prev", "rr_next", "rr_local", "rr_mean")  # the columns of rr_context, in order


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
