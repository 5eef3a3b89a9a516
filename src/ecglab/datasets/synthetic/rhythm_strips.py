"""Synthetic single-lead (MLII) rhythm strips with annotated AAMI beats, like MIT-BIH recordings.

Each beat is built from the Gaussian waves of :mod:`ecglab.datasets.synthetic.waves` (P, Q, R,
S, T and a pacing spike); its class sets the waves and the timing (AAMI EC57 classes):

* N: sinus beat.
* S: premature (60-80 % of the sinus interval), abnormal P (flat, inverted, close to the QRS),
  narrow QRS; the sinus node resets, so the pause after it is short.
* V: premature, no P, wide bizarre QRS from the patient's ectopic focus, discordant T, and a
  full compensatory pause.
* F: fusion: on time, its waves interpolated between the patient's N and V beats.
* Q: paced (only patients with a pacemaker): pacing spike, wide QRS, discordant T at a fixed
  pacing interval; the few intrinsic beats that come early are N.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglab.datasets.core.aami import AAMI_CLASSES, aami_class
from ecglab.datasets.core.options import one_hot
from ecglab.datasets.synthetic.noise import add_noise
from ecglab.datasets.synthetic.splits import split_patients
from ecglab.datasets.synthetic.waves import beat_times, beats_needed, sinus_rr, wave_train
from ecglab.errors import DatasetError
from ecglab.records import Annotations, Record
from ecglab.inputs.beats import RR_FEATURES, BeatSpec, beat_input
from ecglab.inputs.preprocess import Preprocessing

CLASSES = AAMI_CLASSES
SYMBOLS = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "/"}  # the MIT-BIH annotation written for each class
N, S, V, F, Q = range(len(CLASSES))
WAVES = ("P", "Q", "R", "S", "T", "spike")

# Kinds of patient: paced, frequent ectopy, rare ectopy. Per kind, the share of S and V beats
# (uniform ranges) and of F beats relative to V beats; MIT-BIH-like overall: N ~80 %, F ~1 %.
PACED_SHARE = 0.1
PACED_INTRINSIC = (0.03, 0.15)  # share of intrinsic (N) beats in a paced patient
S_RATE = {"frequent": (0.02, 0.10), "rare": (0.005, 0.03)}
V_RATE = {"frequent": (0.06, 0.20), "rare": (0.002, 0.02)}
F_PER_V = {"frequent": (0.1, 0.25), "rare": (0.05, 0.15)}
HEART_RATE_BPM = (75.0, 10.0, 50.0, 110.0)
PACING_BPM = (60.0, 80.0)
PREMATURITY = {S: (0.6, 0.8), V: (0.55, 0.75), F: (0.92, 1.0)}
# Normal MLII beat: amplitude (mV), width (s), centre relative to R (s); P centre is -PR.
NORMAL = np.array([[0.15, 0.022, -0.16], [-0.10, 0.009, -0.025], [1.2, 0.011, 0.0],
                   [-0.25, 0.011, 0.027], [0.30, 0.055, 0.28], [0.0, 0.001, -0.045]])
AMPLITUDE_SD = 0.25
BEAT_SD = 0.03  # beat-to-beat amplitude variability


def generate_beat_recordings(n_patients: int, fs: float = 360.0, seed: int = 0, duration: float = 240.0,
                             noise: bool = True) -> list[Record]:
    """One MLII :class:`Record` per patient, with ``annotations`` (R-peak samples, MIT-BIH symbols)
    and meta record_id, patient_id, split, age, sex, paced. Deterministic in ``seed``."""
    if n_patients < 1 or fs < 50 or duration < 20 or seed < 0:
        raise DatasetError(f"expected n >= 1 patients, fs >= 50 Hz, duration >= 20 s and seed >= 0; "
                           f"found n={n_patients}, fs={fs}, duration={duration}, seed={seed}.")
    rng = np.random.default_rng(seed)
    n_paced = min(max(3, round(PACED_SHARE * n_patients)), n_patients // 3)
    kind = np.array(["paced"] * n_paced + ["frequent", "rare"] * n_patients)[:n_patients]
    kind = kind[rng.permutation(n_patients)]
    classes = _beat_classes(rng, kind, beats_needed(duration, 60.0 / 160))
    rr = _intervals(rng, kind, classes)
    r_peaks = beat_times(rng, rr)
    amplitude, width, center = _beat_waves(rng, kind, classes, fs)
    splits = split_patients(rng, n_patients, strata=kind)
    age = np.clip(rng.normal(np.where(kind == "paced", 75, 60), 12), 20, 95).round().astype(int)
    sex = np.where(rng.random(n_patients) < 0.55, "M", "F")

    length = int(round(duration * fs))
    times = np.arange(length) / fs
    records = []
    for i in range(n_patients):
        rows = slice(i, i + 1)
        signal = sum(wave_train(times, r_peaks[rows] + center[rows, :, k], width[rows, :, k], amplitude[rows, :, k])
                     for k in range(len(WAVES)))[:, None, :]
        if noise:
            add_noise(np.random.default_rng([seed, i]), signal, fs)
        inside = (r_peaks[i] >= 0) & (r_peaks[i] < duration)
        samples = np.round(r_peaks[i, inside] * fs).astype(np.int64)
        symbols = [SYMBOLS[CLASSES[c]] for c in classes[i, inside]]
        meta = {"record_id": f"R{i:04d}", "patient_id": f"B{i:04d}", "split": splits[i], "age": int(age[i]),
                "sex": str(sex[i]), "paced": bool(kind[i] == "paced")}
        records.append(Record(signal[0], fs, ["MLII"], meta, Annotations(samples, symbols)))
    return records


def beat_dataset(records: list[Record], spec: BeatSpec | None = None) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Cut annotated records into beats with the segmentation real data uses: beats (N, 1, L),
    one-hot labels (N, 5) over :data:`CLASSES`, meta with the R position and R-R context."""
    spec = spec or BeatSpec()
    beats, metas = [], []
    for record in records:
        samples, symbols = record.annotations.samples, record.annotations.symbols
        cut = beat_input(record.signal, record.fs, samples, spec, Preprocessing())
        kept_symbols = [symbols[k] for k in cut.kept]
        meta = pd.DataFrame({
            **{column: record.meta[column] for column in ("record_id", "patient_id", "split", "age", "sex")},
            "sample": samples[cut.kept], "symbol": kept_symbols, "aami": [aami_class(s) for s in kept_symbols],
            **{name: cut.features[name] for name in RR_FEATURES},
        })
        beats.append(cut.beats)
        metas.append(meta)
    meta = pd.concat(metas, ignore_index=True)
    return np.concatenate(beats), one_hot(meta["aami"].tolist(), CLASSES), meta


def _beat_classes(rng: np.random.Generator, kind: np.ndarray, n_beats: int) -> np.ndarray:
    """Class of every beat (n, B): ectopic beats at each patient's rates, never two in a row."""
    n = len(kind)
    draw = lambda ranges: np.array([rng.uniform(*ranges.get(k, (0, 0))) for k in kind])[:, None]  # noqa: E731
    s_rate, v_rate = draw(S_RATE), draw(V_RATE)
    f_rate = v_rate * draw(F_PER_V)
    u = rng.random((n, n_beats))
    classes = np.select([u < s_rate, u < s_rate + v_rate, u < s_rate + v_rate + f_rate], [S, V, F], N)
    paced = (kind == "paced")[:, None]
    intrinsic = rng.uniform(*PACED_INTRINSIC, size=(n, 1))
    classes = np.where(paced, np.where(u < intrinsic, N, Q), classes)
    follows_ectopic = np.zeros_like(classes, dtype=bool)
    follows_ectopic[:, 1:] = np.isin(classes[:, :-1], [S, V, F])
    return np.where(follows_ectopic & np.isin(classes, [S, V, F]), N, classes)


def _intervals(rng: np.random.Generator, kind: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """R-R interval ending at each beat: a share of the sinus (or pacing) interval set by the beat's
    prematurity plus what the previous beat leaves over (its compensatory pause)."""
    n, n_beats = classes.shape
    paced = (kind == "paced")[:, None]
    sinus = sinus_rr(rng, 60.0 / np.clip(rng.normal(*HEART_RATE_BPM[:2], n), *HEART_RATE_BPM[2:]), n_beats)
    pacing = 60.0 / rng.uniform(*PACING_BPM, size=(n, 1)) * (1 + 0.003 * rng.standard_normal((n, n_beats)))
    base = np.where(paced, pacing, sinus)
    early = np.ones((n, n_beats))
    for cls, bounds in PREMATURITY.items():
        early = np.where(classes == cls, rng.uniform(*bounds, size=(n, n_beats)), early)
    early = np.where(paced & (classes == N), rng.uniform(0.8, 0.95, size=(n, n_beats)), early)
    # V and F leave the sinus node undisturbed (full pause); S and paced-intrinsic beats reset it.
    leftover = np.where(np.isin(classes, [V, F]) & ~paced, 1.0 - early, 0.0)
    leftover[:, 1:] = leftover[:, :-1]
    leftover[:, 0] = 0.0
    return base * (early + leftover)


def _beat_waves(rng: np.random.Generator, kind: np.ndarray, classes: np.ndarray, fs: float):
    """Per beat and wave (n, B, 6): amplitude (mV), width (s) and centre relative to R (s)."""
    n, n_beats = classes.shape
    normal = np.repeat(NORMAL[None], n, axis=0)
    size = np.exp(AMPLITUDE_SD * rng.standard_normal((n, 3)))[:, [0, 1, 1, 1, 2, 1]]
    normal[:, :, 0] *= size
    normal[:, 0, 2] = -np.clip(rng.normal(0.16, 0.02, n), 0.12, 0.21)
    normal[:, 5, 1] = max(0.001, 0.7 / fs)  # the recorder spreads a pacing spike over about a sample
    sign = np.where(rng.random(n) < 0.6, 1.0, -1.0)
    wide = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    ectopic = normal.copy()  # the patient's ventricular focus (for paced patients: the pacing lead)
    ectopic[:, [0, 1], 0] = 0.0
    ectopic[:, 2] = np.stack([sign * wide(0.8, 2.0), wide(0.028, 0.04), wide(-0.01, 0.01)], 1)
    ectopic[:, 3] = np.stack([-sign * wide(0.2, 0.8), wide(0.02, 0.035), wide(0.04, 0.06)], 1)
    ectopic[:, 4] = np.stack([-sign * wide(0.3, 0.6), wide(0.06, 0.08), wide(0.28, 0.34)], 1)
    paced_beat = ectopic.copy()
    paced_beat[:, 5, 0] = np.where(rng.random(n) < 0.7, 1.0, -1.0) * wide(1.0, 3.0)
    atrial = normal.copy()
    atrial[:, 0, 0] *= wide(-1.0, 0.4)
    atrial[:, 0, 2] += wide(0.02, 0.05)
    templates = np.stack([normal, atrial, ectopic, normal, paced_beat], axis=1)  # (n, class, wave, 3)
    waves = np.take_along_axis(templates, classes[:, :, None, None], axis=1)
    mix = rng.uniform(0.35, 0.65, size=(n, n_beats, 1, 1))
    fusion = mix * normal[:, None] + (1 - mix) * ectopic[:, None]
    waves = np.where((classes == F)[:, :, None, None], fusion, waves)
    amplitude = waves[..., 0] * np.exp(BEAT_SD * rng.standard_normal((n, n_beats, 1)))
    return amplitude, waves[..., 1], waves[..., 2]
