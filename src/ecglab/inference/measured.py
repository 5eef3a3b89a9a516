"""Record measurements as metadata features of a classifier: ``data.meta_features: [qrs_ms, heart_rate_bpm]``.

A meta feature named after a measurement (:data:`MEASURED`) that the dataset has no column for is measured by
the shipped delineator on the signal the model itself sees: a prepared dataset's stored rows in training
(:mod:`ecglab.training.measured`), the preprocessed record in the Predictor, cut or padded to the rows'
length. Both call :func:`measured_features`, so a model meets in use the values it was trained on; the bundle
records which features were measured, over how many samples, with which delineator
(:class:`~ecglab.inputs.metadata.MeasuredFeatures`). Global standardisation is undone first (exactly: its mean
and std are known), so the axes weigh the leads' real amplitudes; per-record standardisation cannot be undone,
and a model cannot ask for an axis of data prepared with it. A value that cannot be measured (no P wave in
atrial fibrillation) is None: the feature's fill stands in, as for any missing metadata.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecglab.inference import delineate
from ecglab.inference.bundle import WEIGHTS_FILE, resolve_bundle
from ecglab.inference.delineate import DEFAULT_BUNDLE, measure_record
from ecglab.inputs import axis, intervals, preprocess, wave_beats, waves
from ecglab.inputs.intervals import NAMES
from ecglab.inputs.preprocess import Preprocessing, fit_length, standardize
from ecglab.records import Record

MEASURED = NAMES
AXES = ("p_axis_deg", "qrs_axis_deg", "t_axis_deg")


def measured_names(names: list[str]) -> list[str]:
    """The names among ``names`` that are measurements."""
    return [name for name in names if name in MEASURED]


@lru_cache(maxsize=1)
def delineator_id() -> str:
    """The sha256 of the shipped delineator's weights: which delineator measured a model's features."""
    return hashlib.sha256((resolve_bundle(DEFAULT_BUNDLE) / WEIGHTS_FILE).read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def measuring_code_id() -> str:
    """The sha256 of the delineator's weights and of the code between a signal and its measurements (the list
    of measurements included): a cache of measurements made by other code is stale even with the same weights."""
    digest = hashlib.sha256(delineator_id().encode())
    for module in (axis, delineate, intervals, preprocess, wave_beats, waves):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def measurement_problem(names: list[str], preprocessing: Preprocessing, beat_input: bool) -> str | None:
    """Why the measurements ``names`` cannot be given to a model of such input, or None."""
    if names and beat_input:
        return (f"{names} are measurements of a whole record, and this model reads single beats; "
                "measured features serve record models (PTB-XL, MIMIC-IV-ECG, a folder of records).")
    axes = [name for name in names if name in AXES]
    if axes and preprocessing.standardize == "record":
        return (f"{axes} compare the leads' amplitudes, which standardising each record's leads to unit variance "
                "removes; prepare the data with --standardize global or none to use them.")
    return None


def measured_features(signal: np.ndarray, fs: float, leads: list[str], names: list[str], preprocessing: Preprocessing,
                      samples: int | None = None) -> tuple[dict[str, float | None], dict[str, str]]:
    """The measurements ``names`` of one record as a model sees it (``signal`` (leads, samples) at ``fs`` after
    ``preprocessing``; ``samples``: first cut or padded to that length, as prepared rows are), and why each
    one that is None could not be measured."""
    if not names:
        return {}, {}
    signal = np.asarray(signal, dtype=np.float32)
    if samples is not None:  # padded as preparing pads: with zeros, before the global standardisation
        zero = standardize(np.zeros((len(signal), 1), np.float32), preprocessing)[:, 0]
        signal = fit_length(signal, samples, pad=zero)
    result = measure_record(Record(unstandardised(signal, preprocessing), float(fs), list(leads)))[2]
    values = {name: result.values[name] for name in names}
    return values, {name: result.reasons.get(name, "not found") for name in names if values[name] is None}


def unstandardised(signal: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """``signal`` in the units it had before global standardisation (unchanged for other kinds)."""
    signal = np.asarray(signal, dtype=np.float32)
    if preprocessing.standardize != "global":
        return signal
    mean = np.asarray(preprocessing.mean, dtype=np.float32)[:, None]
    std = np.maximum(np.asarray(preprocessing.std, dtype=np.float32)[:, None], 1e-6)
    return signal * std + mean
