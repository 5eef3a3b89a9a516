"""Synthetic 12-lead, 10 s ECG records with PTB-XL-like diagnostic superclasses.

The heart is a single current dipole, the hypothesis behind vectorcardiography (Einthoven's
triangle, Goldberger's augmented leads): every wave of a beat (P, Q, R, S, ST, T and a late R')
is a Gaussian in time with a 3-D vector, and each lead records that vector's projection on the
lead's direction. Morphology is therefore consistent across the 12 leads by construction, and a
disease is a change of a few vectors, widths or intervals:

* MI: pathological Q waves, lost R, ST elevation (acute) or T inversion (old) along an inferior
  (II, III, aVF) or anterior (V1-V4) territory vector; the reciprocal leads show the mirror image.
* STTC: ST depression opposite the mean QRS vector (diffuse) and a flat or inverted T.
* CD: right or left bundle-branch block (QRS >= 120 ms) or a first-degree AV block (PR > 200 ms).
* HYP: left-ventricular hypertrophy, a larger left-posterior QRS vector (tall R in V5/V6, deep S
  in V1/V2), often with strain (lateral ST depression and T inversion).

Coordinates: x points to the patient's left, y down (inferior), z forward (anterior); mV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecglab.datasets.synthetic.noise import add_noise
from ecglab.datasets.synthetic.splits import split_patients
from ecglab.datasets.synthetic.waves import beat_times, beats_needed, sinus_rr, wave_train
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS

CLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]
# Records synthesised together: this bounds memory, and each chunk has random streams of its own,
# seeded by (seed, first row), so that a record never depends on how the chunks were scheduled.
CHUNK = 500
# Label sets and their frequencies, shaped after PTB-XL's superclass co-occurrence: NORM is
# exclusive, MI often comes with STTC, HYP with STTC. Marginals: NORM .44, MI .26, STTC .255,
# CD .23, HYP .12.
LABEL_SETS = {
    ("NORM",): 0.44, ("MI",): 0.11, ("STTC",): 0.08, ("CD",): 0.10, ("HYP",): 0.03,
    ("MI", "STTC"): 0.06, ("MI", "CD"): 0.05, ("STTC", "HYP"): 0.04, ("STTC", "CD"): 0.03,
    ("MI", "HYP"): 0.01, ("CD", "HYP"): 0.015, ("MI", "STTC", "CD"): 0.02,
    ("MI", "STTC", "HYP"): 0.01, ("STTC", "CD", "HYP"): 0.015,
}
RECORDS_PER_PATIENT = [0.40, 0.25, 0.15, 0.12, 0.08]  # probability of 1, 2, ... 5 records

WAVES = ("P", "Q", "R", "S", "ST", "T", "R'")
P, Q, R, S, ST, T, R2 = range(len(WAVES))
# Normal adult beat: wave vectors (mV), widths (s) and centres relative to the R peak at 60 bpm
# (P sits at minus the PR interval; ST and T move with the square root of R-R, after Bazett).
NORMAL_VECTORS = np.array([
    [0.09, 0.12, 0.03],     # P: down and left
    [-0.08, 0.02, 0.10],    # Q: septal, rightward and forward (q in I and V6, r in V1)
    [0.95, 0.75, 0.05],     # R: main left-inferior vector
    [-0.12, -0.18, -0.40],  # S: late, posterior-superior (S in V1-V3)
    [0.0, 0.0, 0.0],        # ST: isoelectric in health
    [0.20, 0.18, 0.12],     # T: concordant with R
    [0.0, 0.0, 0.0],        # R': only in bundle-branch block
])
NORMAL_WIDTHS = np.array([0.022, 0.009, 0.011, 0.011, 0.05, 0.055, 0.018])
NORMAL_CENTERS = np.array([0.0, -0.024, 0.0, 0.026, 0.13, 0.28, 0.07])

# Between patients: rate, PR interval (mean, sd, low, high), heart axis and size.
HEART_RATE_BPM = (70.0, 12.0, 45.0, 115.0)
PR_S = (0.16, 0.025, 0.12, 0.21)
AXIS_SD_DEG = np.array([15.0, 20.0, 25.0])  # rotation about x, y, z (z turns the frontal axis)
AMPLITUDE_SD = 0.35  # log-normal spread of the P, QRS and ST-T sizes
WIDTH_SD = 0.12
# Between records of one patient, and between beats.
RECORD_RATE_SD = 0.06
RECORD_AXIS_SD_DEG = 4.0
ELECTRODE_GAIN_SD = 0.10  # chest-electrode placement
BEAT_AMPLITUDE_SD = 0.05  # respiration swings the amplitudes
PRECORDIAL_GAIN = 1.4  # chest leads sit closer to the heart

# Disease severity ranges (uniform), in mV unless named otherwise.
MI_TERRITORIES = np.array([[0.0, 1.0, 0.0], [-0.3, 0.0, 0.95]])  # inferior, anterior
MI_Q_MV = (0.02, 0.6)
MI_Q_WIDTH_S = (0.015, 0.02)
MI_R_LOSS = (0.05, 0.7)  # fraction of the R vector's territory component that is lost
MI_ACUTE_FRACTION = 0.35
MI_ST_ELEVATION_MV = (0.02, 0.3)
MI_T_INVERSION_MV = (0.05, 0.3)
STTC_ST_DEPRESSION_MV = (0.0, 0.15)
STTC_T_FACTOR = (-0.6, 0.8)  # T vector scaled: flat or inverted
CD_KINDS = {"RBBB": 0.4, "LBBB": 0.25, "AVB1": 0.35}
BBB_WIDEN = (1.05, 1.6)
RBBB_R_PRIME_MV = (0.35, 0.8)
LBBB_LEFT_MV = (0.4, 0.9)
AVB1_PR_S = (0.19, 0.32)
HYP_VOLTAGE_MV = (0.0, 1.2)
HYP_STRAIN_FRACTION = 0.6
HYP_STRAIN_MV = (0.05, 0.15)

_LEFT_POSTERIOR = np.array([0.7, 0.0, -0.7]) / np.sqrt(0.98)
_RIGHT_ANTERIOR = np.array([-0.6, 0.1, 0.8]) / np.sqrt(1.01)


def lead_vectors() -> np.ndarray:
    """(12, 3) lead directions: Einthoven and Goldberger limb leads, chest leads in the horizontal plane."""
    lead_i, lead_ii = np.array([1.0, 0.0, 0.0]), np.array([0.5, np.sqrt(3) / 2, 0.0])
    lead_iii = lead_ii - lead_i
    limb = [lead_i, lead_ii, lead_iii, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    angles = np.deg2rad([115.0, 95.0, 75.0, 55.0, 30.0, 0.0])  # V1..V6, from left towards anterior
    chest = PRECORDIAL_GAIN * np.stack([np.cos(angles), np.zeros(6), np.sin(angles)], axis=1)
    return np.concatenate([np.stack(limb), chest])


def generate_records(n: int, fs: float = 100.0, duration: float = 10.0, seed: int = 0,
                     noise: bool = True) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``n`` synthetic 12-lead records: signals (n, 12, T) float32 mV, labels (n, 5) uint8 over
    :data:`CLASSES`, meta (record_id, patient_id, split, age, sex). Deterministic in ``seed``."""
    labels, meta, chunks = plan_records(n, fs, duration, seed, noise)
    signals = np.empty((n, len(STANDARD_12_LEADS), chunks.length), dtype=np.float32)
    for chunk in chunks:
        signals[chunk.rows] = synthesize_chunk(chunk)
    return signals, labels, meta


def plan_records(n: int, fs: float = 100.0, duration: float = 10.0, seed: int = 0,
                 noise: bool = True) -> tuple[np.ndarray, pd.DataFrame, "RecordChunks"]:
    """The patient-level draws of :func:`generate_records` (labels, meta) and the chunks whose
    :func:`synthesize_chunk` gives the signals, for callers that write records as they come."""
    if n < 1 or fs < 50 or duration < 2 or seed < 0:
        raise DatasetError(f"expected n >= 1 records, fs >= 50 Hz, duration >= 2 s and seed >= 0; "
                           f"found n={n}, fs={fs}, duration={duration}, seed={seed}.")
    # the seed's first child stream: a seed keeps the patients, labels and splits in docs/DATASETS.md
    patients = _draw_patients(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]), n)
    who = np.repeat(np.arange(len(patients["labels"])), patients["records"])
    meta = pd.DataFrame({
        "record_id": [f"S{i:05d}" for i in range(n)],
        "patient_id": [f"P{p:05d}" for p in who],
        "split": patients["split"][who],
        "age": patients["age"][who],
        "sex": patients["sex"][who],
    })
    return patients["labels"][who], meta, RecordChunks(patients["hearts"], who, fs, duration, seed, noise)


@dataclass(frozen=True, eq=False)
class RecordChunk:
    """What records ``start…`` need to be synthesised, picklable for a worker process: their
    patients' hearts (one row per record) and the recording settings."""

    start: int
    hearts: dict
    fs: float
    duration: float
    length: int  # samples per lead
    seed: int
    noise: bool

    @property
    def rows(self) -> slice:
        return slice(self.start, self.start + len(self.hearts["rr"]))

    def __str__(self) -> str:
        return f"records {self.rows.start}-{self.rows.stop - 1}"


class RecordChunks(Sequence):
    """The chunks of :data:`CHUNK` records of a plan, made when asked for: a chunk slices its
    patients' arrays then, so the sequence holds no more than the patients themselves."""

    def __init__(self, hearts: dict, who: np.ndarray, fs: float, duration: float, seed: int, noise: bool):
        self.hearts, self.who = hearts, who
        self.length = int(round(duration * fs))
        self.settings = {"fs": fs, "duration": duration, "length": self.length, "seed": seed, "noise": noise}

    def __len__(self) -> int:
        return -(-len(self.who) // CHUNK)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"chunk {index} of {len(self)}")
        start = index % len(self) * CHUNK
        who = self.who[start:start + CHUNK]
        return RecordChunk(start, {name: values[who] for name, values in self.hearts.items()}, **self.settings)


def synthesize_chunk(chunk: RecordChunk) -> np.ndarray:
    """The (rows, 12, T) float32 signals of one chunk. Its random draws are seeded by (seed, start)
    alone, so a record is the same whichever process makes it and whatever else is made."""
    waves = _record_waves(np.random.default_rng([chunk.seed, 1, chunk.start]), chunk.hearts, chunk.duration)
    signals = _synthesize(np.arange(chunk.length) / chunk.fs, waves)
    if chunk.noise:
        add_noise(np.random.default_rng([chunk.seed, 2, chunk.start]), signals, chunk.fs)
    return signals


def _draw_patients(rng: np.random.Generator, n_records: int) -> dict:
    counts = rng.choice(np.arange(1, len(RECORDS_PER_PATIENT) + 1), p=RECORDS_PER_PATIENT, size=n_records)
    n_patients = int(np.searchsorted(np.cumsum(counts), n_records)) + 1
    counts = counts[:n_patients]
    counts[-1] -= counts.sum() - n_records
    sets = list(LABEL_SETS)
    weights = np.array(list(LABEL_SETS.values()))
    chosen = rng.choice(len(sets), p=weights / weights.sum(), size=n_patients)
    labels = np.array([[c in sets[i] for c in CLASSES] for i in chosen], dtype=np.uint8)
    # Age and sex follow the diagnoses weakly, as in PTB-XL (disease older and more often male).
    n_findings = labels[:, 1:].sum(axis=1)
    age = np.clip(rng.normal(50 + 8 * n_findings, 15), 18, 95).round().astype(int)
    male = rng.random(n_patients) < 0.45 + 0.08 * (n_findings > 0) + 0.1 * labels[:, 1]
    return {"records": counts, "labels": labels, "age": age, "sex": np.where(male, "M", "F"),
            "split": split_patients(rng, n_patients), "hearts": _patient_hearts(rng, labels.astype(bool))}


def _patient_hearts(rng: np.random.Generator, labels: np.ndarray) -> dict:
    """Per patient: wave vectors, widths, centres, PR interval and mean R-R, with their diseases."""
    n = len(labels)
    _, mi, sttc, cd, hyp = labels.T
    heart = {"vectors": np.repeat(NORMAL_VECTORS[None], n, axis=0), "widths": np.repeat(NORMAL_WIDTHS[None], n, axis=0),
             "centers": np.repeat(NORMAL_CENTERS[None], n, axis=0),
             "pr": np.clip(rng.normal(PR_S[0], PR_S[1], n), *PR_S[2:])}
    _infarct(rng, heart, mi)
    _hypertrophy(rng, heart, hyp)
    _conduction_disturbance(rng, heart, cd)
    _repolarisation(rng, heart, sttc, hyp)
    groups = np.array([0, 1, 1, 1, 2, 2, 1])  # sizes vary together for P; QRS (Q, R, S, R'); ST-T
    sizes = np.exp(AMPLITUDE_SD * rng.standard_normal((n, 3)))[:, groups]
    axis = _rotations(np.deg2rad(AXIS_SD_DEG) * rng.standard_normal((n, 3)))
    heart["vectors"] = np.einsum("nij,nkj->nki", axis, heart["vectors"] * sizes[:, :, None])
    heart["widths"] = heart["widths"] * np.exp(WIDTH_SD * rng.standard_normal((n, 1)))
    heart["rr"] = 60.0 / np.clip(rng.normal(*HEART_RATE_BPM[:2], n), *HEART_RATE_BPM[2:])
    return heart


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], mask: np.ndarray) -> np.ndarray:
    """A uniform draw per patient, zero where ``mask`` is False."""
    return rng.uniform(*bounds, size=len(mask)) * mask


def _infarct(rng: np.random.Generator, heart: dict, mi: np.ndarray) -> None:
    """Necrosis stops depolarising, so the QRS turns away from the territory (Q wave, lost R);
    an acute injury current raises ST towards it; an old scar inverts the T there."""
    vectors, territory = heart["vectors"], MI_TERRITORIES[rng.integers(0, len(MI_TERRITORIES), len(mi))]
    territory /= np.linalg.norm(territory, axis=1, keepdims=True)
    vectors[:, Q] -= _uniform(rng, MI_Q_MV, mi)[:, None] * territory
    heart["widths"][:, Q] = np.where(mi, rng.uniform(*MI_Q_WIDTH_S, len(mi)), heart["widths"][:, Q])
    r_along = np.maximum(np.einsum("nd,nd->n", vectors[:, R], territory), 0)
    vectors[:, R] -= (_uniform(rng, MI_R_LOSS, mi) * r_along)[:, None] * territory
    acute = mi & (rng.random(len(mi)) < MI_ACUTE_FRACTION)
    vectors[:, ST] += _uniform(rng, MI_ST_ELEVATION_MV, acute)[:, None] * territory
    old = mi & ~acute
    t_along = np.einsum("nd,nd->n", vectors[:, T], territory)
    vectors[:, T] -= (old * t_along + _uniform(rng, MI_T_INVERSION_MV, old))[:, None] * territory


def _hypertrophy(rng: np.random.Generator, heart: dict, hyp: np.ndarray) -> None:
    heart["vectors"][:, R] += _uniform(rng, HYP_VOLTAGE_MV, hyp)[:, None] * _LEFT_POSTERIOR
    heart["widths"][:, Q:S + 1] *= np.where(hyp, 1.1, 1.0)[:, None]


def _conduction_disturbance(rng: np.random.Generator, heart: dict, cd: np.ndarray) -> None:
    n, vectors = len(cd), heart["vectors"]
    kind = np.array(list(CD_KINDS))[rng.choice(len(CD_KINDS), p=list(CD_KINDS.values()), size=n)]
    rbbb, lbbb, avb1 = (cd & (kind == k) for k in CD_KINDS)
    heart["widths"][:, [Q, R, S]] *= np.where(rbbb | lbbb, rng.uniform(*BBB_WIDEN, n), 1.0)[:, None]
    vectors[:, R2] += _uniform(rng, RBBB_R_PRIME_MV, rbbb)[:, None] * _RIGHT_ANTERIOR
    left = _uniform(rng, LBBB_LEFT_MV, lbbb)[:, None] * _LEFT_POSTERIOR
    vectors[:, R] += left
    vectors[:, R2] += left  # the slurred, notched broad R of LBBB
    vectors[:, Q] *= ~lbbb[:, None]  # no septal q: the septum fires from the right
    vectors[:, S] *= ~lbbb[:, None]
    heart["centers"][:, R] += 0.02 * lbbb
    heart["pr"] = np.where(avb1, rng.uniform(*AVB1_PR_S, n), heart["pr"])
    # Secondary repolarisation of a block: T turns away from the terminal QRS forces.
    terminal = vectors[:, R2] / np.maximum(np.linalg.norm(vectors[:, R2], axis=1, keepdims=True), 1e-9)
    vectors[:, T] -= 0.25 * (rbbb | lbbb)[:, None] * terminal


def _repolarisation(rng: np.random.Generator, heart: dict, sttc: np.ndarray, hyp: np.ndarray) -> None:
    """ST depression against the main QRS vector: the strain of hypertrophy, and STTC, which also
    flattens or inverts the T."""
    vectors = heart["vectors"]
    main = vectors[:, R] / np.linalg.norm(vectors[:, R], axis=1, keepdims=True)
    strain = hyp & (rng.random(len(hyp)) < HYP_STRAIN_FRACTION)
    vectors[:, ST] -= _uniform(rng, HYP_STRAIN_MV, strain)[:, None] * main
    vectors[:, T] -= 2 * _uniform(rng, HYP_STRAIN_MV, strain)[:, None] * main
    vectors[:, ST] -= _uniform(rng, STTC_ST_DEPRESSION_MV, sttc)[:, None] * main
    vectors[:, T] *= np.where(sttc, rng.uniform(*STTC_T_FACTOR, len(sttc)), 1.0)[:, None]


def _record_waves(rng: np.random.Generator, hearts: dict, duration: float) -> dict:
    """Per record, from its patient's heart (one row per record): wave vectors as seen by each lead
    (n, K, 12), and per-beat centres, widths, sizes."""
    n = len(hearts["rr"])
    rotation = _rotations(np.deg2rad(RECORD_AXIS_SD_DEG) * rng.standard_normal((n, 3)))
    vectors = np.einsum("nij,nkj->nki", rotation, hearts["vectors"])
    gains = np.ones((n, 12))
    gains[:, 6:] = np.exp(ELECTRODE_GAIN_SD * rng.standard_normal((n, 6)))
    leads = vectors @ lead_vectors().T * gains[:, None, :]
    mean_rr = hearts["rr"] * np.exp(RECORD_RATE_SD * rng.standard_normal(n))
    rr = sinus_rr(rng, mean_rr, beats_needed(duration, 60.0 / 140))
    r_peaks = beat_times(rng, rr)
    offsets = np.repeat(hearts["centers"][:, None, :], rr.shape[1], axis=1)
    offsets[:, :, [ST, T]] *= np.sqrt(rr)[:, :, None]  # repolarisation follows the interval before the beat
    offsets[:, :, P] = -hearts["pr"][:, None]
    breathing = 1.0 + BEAT_AMPLITUDE_SD * np.sin(2 * np.pi * rng.uniform(0.15, 0.35, (n, 1)) * r_peaks
                                                 + rng.uniform(0, 2 * np.pi, (n, 1)))
    return {"leads": leads, "centers": r_peaks[:, :, None] + offsets, "widths": hearts["widths"],
            "sizes": breathing}


def _synthesize(times: np.ndarray, waves: dict) -> np.ndarray:
    n, n_beats, n_waves = waves["centers"].shape
    profiles = np.stack([
        wave_train(times, waves["centers"][:, :, k], np.repeat(waves["widths"][:, k, None], n_beats, axis=1),
                   waves["sizes"])
        for k in range(n_waves)], axis=1)
    return np.matmul(waves["leads"].transpose(0, 2, 1).astype(np.float32), profiles)


def _rotations(angles: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotation matrices Rz @ Ry @ Rx from angles (n, 3) in radians about x, y, z."""
    cos, sin = np.cos(angles), np.sin(angles)
    one, zero = np.ones(len(angles)), np.zeros(len(angles))
    rx = np.stack([one, zero, zero, zero, cos[:, 0], -sin[:, 0], zero, sin[:, 0], cos[:, 0]], 1).reshape(-1, 3, 3)
    ry = np.stack([cos[:, 1], zero, sin[:, 1], zero, one, zero, -sin[:, 1], zero, cos[:, 1]], 1).reshape(-1, 3, 3)
    rz = np.stack([cos[:, 2], -sin[:, 2], zero, sin[:, 2], cos[:, 2], zero, zero, zero, one], 1).reshape(-1, 3, 3)
    return rz @ ry @ rx
