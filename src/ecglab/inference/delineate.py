"""Apply a delineation bundle to a record: per-lead waves at the record's own rate, and the measurements
read off them (:func:`measure_record`, behind ``ecglab.measure`` and measured metadata features).

Each lead goes through the bundle's preprocessing (resampled to its rate, filtered, standardised)
on its own, the model labels every sample, and the labels are mapped back to the record's rate
(each original sample takes the label of the model sample it falls in) before the waves are read
off the original trace, so onsets, peaks and offsets are samples of the file as given.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ecglab.errors import BundleError
from ecglab.inputs.intervals import Measurements, measure_waves, signal_problem
from ecglab.inputs.preprocess import preprocess
from ecglab.inputs.wave_beats import across_leads, without_unorganised_p
from ecglab.inputs.waves import Wave, waves_from_labels
from ecglab.records import Record

DEFAULT_BUNDLE = "ludb-delineator"
MIN_LEAD_PEAK_TO_PEAK_MV = 0.05  # a lead flatter than this is off or disconnected: it is not delineated
# The model's activations take ~600 bytes per input sample (at its 250 Hz): a 10-s 12-lead record goes in
# one batch, a 5-min one lead by lead (~50 MB at a time rather than 600 MB), which bounds a server worker.
MAX_SAMPLES_PER_BATCH = 100_000


@lru_cache(maxsize=4)
def _load(path: str):
    from ecglab.inference.bundle import load_bundle

    model, spec = load_bundle(path)
    if spec.kind != "segmentation":
        raise BundleError(f"{path} is a {spec.kind} classifier, not a delineation bundle (kind 'segmentation'), "
                          f"e.g. the shipped {DEFAULT_BUNDLE!r}.")
    return model, spec


def load_delineator(bundle: str | Path | None = None):
    """``(model, spec)`` of a delineation bundle (default: the shipped one), loaded once per process."""
    from ecglab.inference.bundle import resolve_bundle

    return _load(str(resolve_bundle(bundle or DEFAULT_BUNDLE)))


def delineated_leads(record: Record) -> list[int]:
    """Indices of the leads worth delineating (finite, not flat)."""
    signal = np.asarray(record.signal, dtype=np.float64)
    keep = []
    for i, trace in enumerate(signal):
        if np.isfinite(trace).all() and np.ptp(trace) >= MIN_LEAD_PEAK_TO_PEAK_MV:
            keep.append(i)
    return keep


def sample_labels(record: Record, bundle: str | Path | None = None, lead_index: list[int] | None = None) -> np.ndarray:
    """Per-sample classes ``(len(lead_index), n_samples)`` at the record's rate (0 none, 1 P, 2 QRS, 3 T)."""
    import torch

    model, spec = load_delineator(bundle)
    lead_index = list(range(len(record.leads))) if lead_index is None else lead_index
    if not lead_index:
        return np.zeros((0, record.signal.shape[-1]), dtype=np.uint8)
    x = preprocess(record.signal[lead_index], record.fs, spec.preprocessing)
    per_batch = max(1, MAX_SAMPLES_PER_BATCH // x.shape[-1])
    with torch.no_grad():
        labels = np.concatenate([model(torch.from_numpy(np.ascontiguousarray(x[i:i + per_batch, None]))).argmax(1).numpy()
                                 for i in range(0, len(x), per_batch)]).astype(np.uint8)
    position = np.minimum((np.arange(record.signal.shape[-1]) * labels.shape[-1] / record.signal.shape[-1]).astype(int),
                          labels.shape[-1] - 1)
    return labels[:, position]


def delineate(record: Record, bundle: str | Path | None = None) -> tuple[list[Wave], list[str]]:
    """The waves of every usable lead (samples at ``record.fs``) and the names of the leads delineated."""
    lead_index = delineated_leads(record)
    leads = [record.leads[i] for i in lead_index]
    return waves_of(sample_labels(record, bundle, lead_index), record.signal[lead_index], record.fs, leads), leads


def waves_of(labels: np.ndarray, signal: np.ndarray, fs: float, leads: list[str]) -> list[Wave]:
    """The waves of each lead (a row of ``labels`` and ``signal``), P waves only where they precede most beats
    (:func:`~ecglab.inputs.wave_beats.without_unorganised_p`), a wave most leads show given to every lead
    (:func:`~ecglab.inputs.wave_beats.across_leads`)."""
    waves = [w for row, lead in enumerate(leads) for w in waves_from_labels(labels[row], signal[row], fs, lead)]
    return across_leads(without_unorganised_p(waves, leads, fs), leads)


def measure_record(record: Record, bundle: str | Path | None = None) -> tuple[list[Wave], list[str], Measurements]:
    """Waves, leads delineated and measurements of ``record``; a record too short or flat to delineate is not
    given to the model: no waves, and every value None with the reason."""
    problem = signal_problem(record.signal, record.fs)
    if problem:
        return [], [], Measurements().fail_all(problem)
    waves, leads = delineate(record, bundle)
    signal = record.signal[[record.leads.index(lead) for lead in leads]]  # rows in the order of ``leads``
    return waves, leads, measure_waves(waves, signal, record.fs, leads)
