"""Record measurements as metadata features of a classifier: ``data.meta_features: [qrs_ms, heart_rate_bpm]``.

A meta feature named after a measurement (:data:`MEASURED`) is not read from the record's metadata but
measured by the shipped delineator, on the signal the model itself sees: a prepared dataset's stored rows
in training (:mod:`ecglab.training.measured`), the preprocessed record in the Predictor. Both call
:func:`measured_features`, so a model meets in use the values it was trained on. Global standardisation is
undone first (exactly: its mean and std are known), so the axes weigh the leads' real amplitudes;
per-record standardisation cannot be undone, and a model cannot ask for an axis of data prepared with it.
A value that cannot be measured (no P wave in atrial fibrillation) is None: the feature's fill then
stands in, as for any missing metadata.
"""

from __future__ import annotations

import numpy as np

from ecglab.inference.delineate import measure_record
from ecglab.inputs.intervals import NAMES
from ecglab.inputs.preprocess import Preprocessing
from ecglab.records import Record

MEASURED = NAMES
AXES = ("p_axis_deg", "qrs_axis_deg", "t_axis_deg")


def measured_names(names: list[str]) -> list[str]:
    """The names among ``names`` that are measurements, not metadata columns."""
    return [name for name in names if name in MEASURED]


def measurement_problem(names: list[str], preprocessing: Preprocessing, beat_input: bool) -> str | None:
    """Why the measured features among ``names`` cannot be given to a model of such input, or None."""
    wanted = measured_names(names)
    if wanted and beat_input:
        return (f"{wanted} are measurements of a whole record, and this model reads single beats; "
                "measured features serve record models (PTB-XL, MIMIC-IV-ECG, a folder of records).")
    axes = [name for name in wanted if name in AXES]
    if axes and preprocessing.standardize == "record":
        return (f"{axes} compare the leads' amplitudes, which standardising each record's leads to unit variance "
                "removes; prepare the data with --standardize global or none to use them.")
    return None


def measured_features(signal: np.ndarray, fs: float, leads: list[str], names: list[str],
                      preprocessing: Preprocessing) -> tuple[dict[str, float | None], dict[str, str]]:
    """The measurements among ``names`` of one record as a model sees it (``signal`` (leads, samples) at ``fs``
    after ``preprocessing``), and why each one that is None could not be measured."""
    wanted = measured_names(names)
    if not wanted:
        return {}, {}
    result = measure_record(Record(unstandardised(signal, preprocessing), float(fs), list(leads)))[2]
    values = {name: result.values[name] for name in wanted}
    return values, {name: result.reasons.get(name, "not found") for name in wanted if values[name] is None}


def unstandardised(signal: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """``signal`` in the units it had before global standardisation (unchanged for other kinds)."""
    signal = np.asarray(signal, dtype=np.float32)
    if preprocessing.standardize != "global":
        return signal
    mean = np.asarray(preprocessing.mean, dtype=np.float32)[:, None]
    std = np.maximum(np.asarray(preprocessing.std, dtype=np.float32)[:, None], 1e-6)
    return signal * std + mean
