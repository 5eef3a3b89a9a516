"""R peaks of a recording: from its beat annotations when it has them, otherwise detected.

The detector follows neurokit2's default (Makowski et al. 2021: a QRS is where the smoothed absolute
slope rises above a multiple of its running average) with three changes, chosen by AAMI EC57 figures
on the shared MIT-BIH DS1 and SVDB records (docs/RESULTS.md, "QRS detection (EC57)"):

* every usable lead votes: the slope ratio is averaged over the leads, so a beat small or lost in
  one lead is still found in the other, and noise in one lead alone does not make a beat;
* the threshold is 1.6 times the running average, not 1.5, which halves the false detections;
* the refractory period is 250 ms, not 300 ms, so that early premature beats are not dropped;
* a slope burst less than a fifth as steep as the bursts around it (within 5 s) is not a QRS;
* Pan & Tompkins' search-back: an R-R interval over 1.5 times the median of the last 8 is searched again at a
  lower threshold (1.2), and the strongest slope burst there is a beat if it is at least half as steep as the
  recent beats (their rule against T waves). In a run of ventricular tachycardia the running average of the
  slope is as high as each wide complex, so some complexes never cross 1.6.

The R peak itself is placed on the first lead (the model's lead), on the QRS's most prominent peak, or on
its trough where that dominates (a QS or rS complex), as the annotators placed the beats the models learnt
from. Ten-second stretches that are flat or noise (kurtosis of the filtered lead's slope under 3.8: the QRS
makes an ECG's slope peaky, Gaussian noise has 3; after Li et al. 2008, who take the signal's, which a large
T wave can bring to 3) give no beats, unless their slope repeats itself (a run of ventricular tachycardia
or flutter is as little peaky as noise, but beats at its own rate); :func:`unusable_seconds` says how much
was skipped.
"""

from __future__ import annotations

import numpy as np

# MIT-BIH annotation symbols that mark a heartbeat (the rest mark rhythm changes, noise, artefacts).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")

SMOOTH_S, AVERAGE_S = 0.1, 0.75  # slope smoothing and running-average windows (neurokit2's)
THRESHOLD = 1.6  # QRS where the smoothed slope exceeds this multiple of its running average
MIN_QRS_FRACTION = 0.4  # slope bursts shorter than this fraction of the mean burst are not QRS (neurokit2's)
REFRACTORY_S = 0.25
# a burst at most a fifth as steep as the bursts within 5 s is no QRS: noise and tall P or T waves cross the
# running-average threshold where the slope is small, but are far less steep than the complexes around them
MIN_STEEPNESS, NEIGHBOURHOOD_S = 0.2, 5.0
SEARCH_GAP, SEARCH_THRESHOLD, RECENT_BEATS = 1.5, 1.2, 8  # search-back: R-R over 1.5 x the median of the last 8
T_WAVE_SLOPE = 0.5  # a beat found by search-back is at least half as steep as the recent ones (Pan & Tompkins)
QRS_HALF_S = 0.05  # where a beat's steepest slope is looked for, each side of its R peak
QUALITY_WINDOW_S = 10.0
MIN_KURTOSIS = 3.8
# a stretch below MIN_KURTOSIS is an ECG still where its slope envelope correlates with itself this much one cycle
# later (cycles of 0.15 to 1.5 s): SVDB 861's ventricular tachycardia 0.52, MIT-BIH 207's flutter 0.28-0.88,
# Gaussian noise at most 0.23 (36 stretches at 128, 360 and 500 Hz)
MIN_REPETITION, CYCLE_S = 0.4, (0.15, 1.5)
MIN_SECONDS = 2.0  # the running average needs a few beats
FLAT_MV = 0.05  # a stretch whose filtered lead spans less than this holds no visible QRS
# A beat is placed on its trough where that is over twice as prominent as its highest peak: so placed, 5.6 % of the
# DS1 and SVDB beats lie more than 30 ms from the annotation, against 12.9 % on the highest peak always
NEGATIVE_DOMINANCE = 2.0
TOLERANCE_S = 0.15  # AAMI EC57: a detected beat matches a reference beat within 150 ms


def annotated_beats(samples: np.ndarray, symbols: list[str]) -> tuple[np.ndarray, list[str]]:
    """Keep only the heartbeat annotations: their sample indices and symbols."""
    keep = [i for i, s in enumerate(symbols) if s in BEAT_SYMBOLS]
    return np.asarray(samples, dtype=np.int64)[keep], [symbols[i] for i in keep]


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of a recording, ``signal`` one lead (n_samples,) or several
    (n_leads, n_samples); peaks are placed on the first lead. Flat and noise stretches of the first
    lead give none; fewer than 2 s of signal gives none."""
    leads = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    if leads.shape[1] < MIN_SECONDS * fs:
        return np.zeros(0, dtype=np.int64)
    cleaned = _clean(leads, fs)
    good = _usable_windows(cleaned, fs)
    voters = [i for i in range(len(cleaned)) if good[i].any()]
    if 0 not in voters:
        return np.zeros(0, dtype=np.int64)
    ratio = np.mean([_slope_ratio(cleaned[i], fs) for i in voters], axis=0)
    peaks = _qrs_peaks(cleaned[0], ratio, fs)
    window = int(round(QUALITY_WINDOW_S * fs))
    return peaks[good[0][peaks // window]]


def unusable_seconds(lead: np.ndarray, fs: float) -> float:
    """Seconds of ``lead`` in which :func:`detect_r_peaks` looks for no beats (flat or noise)."""
    lead = np.asarray(lead, dtype=np.float64)
    if lead.size < MIN_SECONDS * fs:
        return lead.size / fs
    good = _usable_windows(_clean(lead[None], fs), fs)[0]
    window = int(round(QUALITY_WINDOW_S * fs))
    sizes = np.minimum(window, lead.size - window * np.arange(len(good)))
    return float(sizes[~good].sum() / fs)


def _clean(leads: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    finite = np.where(np.isfinite(leads), leads, 0.0)
    return np.stack([nk.ecg_clean(lead, sampling_rate=fs) for lead in finite])


def _usable_windows(cleaned: np.ndarray, fs: float) -> np.ndarray:
    """(n_leads, n_windows) bool: the 10 s stretch shows an ECG (neither flat nor noise)."""
    window = int(round(QUALITY_WINDOW_S * fs))
    n_windows = -(-cleaned.shape[1] // window)
    good = np.zeros((len(cleaned), n_windows), dtype=bool)
    inner = np.ones(cleaned.shape[1], dtype=bool)
    inner[:int(fs)] = inner[-int(fs):] = False  # the filter's start and end transients would pass noise as peaky
    for w in range(n_windows):
        span = slice(w * window, (w + 1) * window)
        piece = cleaned[:, span][:, inner[span]] if inner[span].sum() > fs else cleaned[:, span]
        slope = np.gradient(piece, axis=1)
        centred = slope - slope.mean(axis=1, keepdims=True)
        variance = (centred ** 2).mean(axis=1)
        kurtosis = (centred ** 4).mean(axis=1) / np.maximum(variance, 1e-12) ** 2
        peaky = kurtosis >= MIN_KURTOSIS
        rhythmic = np.array([not p and _repetition(np.abs(row), fs) >= MIN_REPETITION for row, p in zip(slope, peaky)])
        good[:, w] = (np.ptp(piece, axis=1) >= FLAT_MV) & (peaky | rhythmic)
    return good


def _repetition(slope: np.ndarray, fs: float) -> float:
    """The highest autocorrelation of the envelope of ``slope`` (absolute) at a lag of one heart cycle (CYCLE_S)."""
    envelope = _envelope(slope, fs)
    envelope = envelope - envelope.mean()
    spectrum = np.fft.rfft(envelope, 2 * len(envelope))
    correlation = np.fft.irfft(np.abs(spectrum) ** 2)[:len(envelope)]
    lags = slice(int(CYCLE_S[0] * fs), min(int(CYCLE_S[1] * fs), len(envelope) - 1))
    return float(correlation[lags].max() / max(correlation[0], 1e-12)) if lags.stop > lags.start else 0.0


def _envelope(slope: np.ndarray, fs: float) -> np.ndarray:
    """An absolute slope smoothed over SMOOTH_S."""
    from scipy.ndimage import uniform_filter1d

    return uniform_filter1d(slope, max(1, int(round(SMOOTH_S * fs))))


def _slope_ratio(lead: np.ndarray, fs: float) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d

    smooth = _envelope(np.abs(np.gradient(lead)), fs)
    average = uniform_filter1d(smooth, max(1, int(round(AVERAGE_S * fs))))
    return smooth / np.maximum(average, 1e-12)


def _qrs_peaks(lead: np.ndarray, ratio: np.ndarray, fs: float) -> np.ndarray:
    """One peak per slope burst (its dominant deflection in ``lead``), bursts too short or too shallow to be a QRS
    skipped, and none within the refractory period of the previous peak; then long R-R intervals searched again."""
    begins, ends = _bursts(ratio, THRESHOLD)
    if len(begins) == 0:
        return np.zeros(0, dtype=np.int64)
    shortest = MIN_QRS_FRACTION * np.mean(ends - begins)
    long_enough = (ends - begins) >= shortest
    begins, ends = begins[long_enough], ends[long_enough]
    slope = np.abs(np.gradient(lead))
    steep = _steep_enough(slope, begins, ends, fs)
    refractory = int(round(REFRACTORY_S * fs))
    peaks = []
    for begin, end in zip(begins[steep], ends[steep]):
        peak = begin + dominant_deflection(lead[begin:end])
        if not peaks or peak - peaks[-1] > refractory:
            peaks.append(peak)
    return _search_back(lead, slope, ratio, fs, peaks, shortest)


def _steep_enough(slope: np.ndarray, begins: np.ndarray, ends: np.ndarray, fs: float) -> np.ndarray:
    """Which bursts are at least MIN_STEEPNESS times as steep as the median burst within NEIGHBOURHOOD_S of them."""
    steepest = np.array([slope[b:e].max() for b, e in zip(begins, ends)])
    near = int(round(NEIGHBOURHOOD_S * fs))
    lows, highs = np.searchsorted(begins, begins - near), np.searchsorted(begins, begins + near, side="right")
    typical = np.array([np.median(steepest[low:high]) for low, high in zip(lows, highs)])
    return steepest >= MIN_STEEPNESS * typical


def _bursts(ratio: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Begin and end (exclusive) of each stretch where ``ratio`` exceeds ``threshold``."""
    edges = np.diff(np.r_[0, (ratio > threshold).astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _search_back(lead: np.ndarray, slope: np.ndarray, ratio: np.ndarray, fs: float, peaks: list[int],
                 shortest: float) -> np.ndarray:
    """``peaks`` with the beats found in R-R intervals over SEARCH_GAP times the recent median R-R, one at a time:
    the strongest burst over SEARCH_THRESHOLD there (outside the refractory periods, no shorter than ``shortest``),
    if it is steep enough to be a QRS (``slope``: the absolute slope of ``lead``)."""
    if len(peaks) <= RECENT_BEATS:
        return np.asarray(peaks, dtype=np.int64)
    refractory, half = int(round(REFRACTORY_S * fs)), int(round(QRS_HALF_S * fs))
    found = peaks[:1]
    for following in peaks[1:]:
        while following - found[-1] > SEARCH_GAP * _recent_rr(found, peaks):
            burst = _strongest_burst(ratio, found[-1] + refractory, following - refractory, shortest)
            if burst is None:
                break
            recent = np.median([slope[max(0, p - half):p + half].max() for p in found[-RECENT_BEATS:]])
            if slope[burst].max() < T_WAVE_SLOPE * recent:
                break
            found.append(burst.start + dominant_deflection(lead[burst]))
        found.append(following)
    return np.asarray(found, dtype=np.int64)


def _recent_rr(found: list[int], peaks: list[int]) -> float:
    """The median of the last RECENT_BEATS R-R intervals found (of the first detected ones until then)."""
    beats = found[-RECENT_BEATS - 1:] if len(found) > RECENT_BEATS else peaks[:RECENT_BEATS + 1]
    return float(np.median(np.diff(beats)))


def _strongest_burst(ratio: np.ndarray, start: int, stop: int, shortest: float) -> slice | None:
    """The burst over SEARCH_THRESHOLD in ``ratio[start:stop]`` with the highest ratio, no shorter than ``shortest``."""
    begins, ends = _bursts(ratio[start:max(start, stop)], SEARCH_THRESHOLD)
    kept = ends - begins >= shortest
    if not kept.any():
        return None
    bursts = [slice(start + b, start + e) for b, e in zip(begins[kept], ends[kept])]
    return max(bursts, key=lambda burst: ratio[burst].max())


def dominant_deflection(piece: np.ndarray) -> int:
    """Where the annotators of MIT-BIH and SVDB put a beat: on its most prominent peak, unless the most prominent
    trough is over NEGATIVE_DOMINANCE times as prominent (a QS or rS complex, marked at its trough)."""
    peak, peak_prominence = _most_prominent(piece)
    trough, trough_prominence = _most_prominent(-piece)
    if trough is not None and trough_prominence > NEGATIVE_DOMINANCE * peak_prominence:
        return trough
    return peak if peak is not None else int(np.argmax(np.abs(piece)))


def _most_prominent(piece: np.ndarray) -> tuple[int | None, float]:
    """The most prominent local maximum of ``piece`` and its prominence; (None, 0) where it has none."""
    from scipy.signal import find_peaks

    maxima, props = find_peaks(piece, prominence=(None, None))
    if len(maxima) == 0:
        return None, 0.0
    best = int(np.argmax(props["prominences"]))
    return int(maxima[best]), float(props["prominences"][best])


def match_beats(reference, detected, fs: float, tolerance_s: float = TOLERANCE_S) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(ref, det)`` of the matched pairs, one-to-one, nearest pairs first, at most
    ``tolerance_s`` apart (inclusive). Both inputs are sample indices at ``fs``, in any order.

        >>> match_beats([100, 200], [105, 260], fs=100.0)  # 50 ms and 600 ms apart
        (array([0]), array([0]))
    """
    reference = np.asarray(reference, dtype=np.int64)
    detected = np.asarray(detected, dtype=np.int64)
    tolerance = tolerance_s * fs
    order = np.argsort(detected, kind="stable")
    sorted_det = detected[order]
    low = np.searchsorted(sorted_det, reference - tolerance, side="left")
    high = np.searchsorted(sorted_det, reference + tolerance, side="right")
    counts = high - low
    ref_idx = np.repeat(np.arange(len(reference)), counts)
    det_pos = np.concatenate([np.arange(a, b) for a, b in zip(low, high)]) if counts.sum() else np.zeros(0, np.int64)
    distance = np.abs(reference[ref_idx] - sorted_det[det_pos])
    ref_taken = np.zeros(len(reference), bool)
    det_taken = np.zeros(len(detected), bool)
    pairs = []
    for k in np.lexsort((det_pos, ref_idx, distance)):  # nearest first; ties go to the earlier beats
        r, d = ref_idx[k], order[det_pos[k]]
        if not ref_taken[r] and not det_taken[d]:
            ref_taken[r] = det_taken[d] = True
            pairs.append((r, d))
    pairs.sort()
    matched = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return matched[:, 0], matched[:, 1]
