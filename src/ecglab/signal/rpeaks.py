"""R peaks of a recording: from its beat annotations when it has them, otherwise detected."""

from __future__ import annotations

import numpy as np

# MIT-BIH annotation symbols that mark a heartbeat (the rest mark rhythm changes, noise, artefacts).
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


def annotated_beats(samples: np.ndarray, symbols: list[str]) -> tuple[np.ndarray, list[str]]:
    """Keep only the heartbeat annotations: their sample indices and symbols."""
    keep = [i for i, s in enumerate(symbols) if s in BEAT_SYMBOLS]
    return np.asarray(samples, dtype=np.int64)[keep], [symbols[i] for i in keep]


def detect_r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of one lead, by neurokit2's default detector (Makowski et al. 2021)
    on the neurokit-cleaned signal."""
    import neurokit2 as nk

    lead = np.asarray(lead, dtype=np.float64)
    if lead.size < 2 * fs:
        return np.zeros(0, dtype=np.int64)
    cleaned = nk.ecg_clean(lead, sampling_rate=fs)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
