"""neurokit2's ``ecg_delineate`` as a baseline delineator, its output turned into :class:`Wave` lists.

Its R peaks come from ``ecg_peaks`` on the ``ecg_clean``-ed lead (neurokit's own pipeline). It
reports each boundary as a list aligned with the beats, NaN where it found none; a wave is kept
where both its onset and offset are there (QRS: ``ECG_R_Onsets``/``ECG_R_Offsets``). A lead on
which neurokit raises gives no waves (every annotated boundary then counts as missed).
"""

from __future__ import annotations

import warnings

import numpy as np

from ecglab.inputs.waves import Wave

KEYS = {"P": ("ECG_P_Onsets", "ECG_P_Peaks", "ECG_P_Offsets"), "QRS": ("ECG_R_Onsets", None, "ECG_R_Offsets"),
        "T": ("ECG_T_Onsets", "ECG_T_Peaks", "ECG_T_Offsets")}


def neurokit_waves(trace: np.ndarray, fs: float, lead: str, method: str = "dwt") -> list[Wave]:
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clean = nk.ecg_clean(np.asarray(trace, float), sampling_rate=fs)
            _, peaks = nk.ecg_peaks(clean, sampling_rate=fs)
            r_peaks = np.asarray(peaks["ECG_R_Peaks"])
            _, found = nk.ecg_delineate(clean, r_peaks, sampling_rate=fs, method=method)
    except Exception:  # noqa: BLE001 (neurokit raises bare errors on leads it cannot handle)
        return []
    waves = []
    for wave, (on_key, peak_key, off_key) in KEYS.items():
        onsets, offsets = np.asarray(found.get(on_key, []), float), np.asarray(found.get(off_key, []), float)
        peaks_ = np.asarray(found.get(peak_key, []), float) if peak_key else r_peaks.astype(float)
        for k in range(min(len(onsets), len(offsets))):
            if np.isfinite(onsets[k]) and np.isfinite(offsets[k]) and offsets[k] > onsets[k]:
                peak = peaks_[k] if k < len(peaks_) and np.isfinite(peaks_[k]) else (onsets[k] + offsets[k]) / 2
                waves.append(Wave(lead, wave, int(onsets[k]), int(peak), int(offsets[k])))
    return waves
