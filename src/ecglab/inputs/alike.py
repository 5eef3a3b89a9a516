"""Beats of one record that look alike get alike V calls: each beat's V probability becomes the mean over the
beats of its record whose QRS complexes are closest to its own.

A ventricular beat is told apart by its QRS shape, and a patient's ectopic beats of one focus share a shape;
yet an inter-patient model, reading one beat at a time, calls some beats of a shape V and others of the same
shape N or S. Averaging the V probability over a beat's alike beats lets the record outvote the model's slips.
S and N are left as the model's (proportionally rescaled): they share the QRS shape and differ in timing and
P wave, which this comparison does not read.

Alike means: among the ``neighbours`` nearest beats of the record (Euclidean distance between the beats'
first ``n_leads`` channels over the QRS, :data:`~ecglab.inputs.cut_placement.QRS_HALF_WIDTH_S` either side of the R
peak), those within ``radius`` times the record's typical distance (the median distance of its beats to
their four nearest others), so that a rare beat among many unlike ones keeps its own call. On records longer
than ``window`` beats the neighbours are sought among the ``window`` beats around each (as the template is).
Chosen by the leave-patients-out CV of docs/RESULTS.md (eleventh round).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ecglab.errors import ConfigError
from ecglab.inputs.beats import BeatSpec
from ecglab.inputs.cut_placement import QRS_HALF_WIDTH_S

TYPICAL_NEIGHBOURS = 4  # the record's typical distance: median distance of a beat to its 4 nearest others
BLOCK = 256  # beats whose neighbours are sought at once


class AlikeBeats(BaseModel):
    """How a beat model shares the V probability among alike beats of a record (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    neighbours: int = Field(20, ge=2)
    radius: float = Field(5.0, gt=0, allow_inf_nan=False)
    window: int = Field(3000, ge=2)


def check_alike(rule: AlikeBeats | None, input: str | None, classes: list[str], beats: BeatSpec | None) -> None:
    """Refuse the rule for models it cannot apply to: beats centred on their R peak, a class V."""
    if rule is None:
        return
    if input != "beat" or "V" not in classes or beats is None or beats.method != "centred":
        raise ConfigError(f"alike_beats is for beat models with a class V whose beats are centred on the R peak; "
                          f"these models classify {input}s into {classes}, cut as {beats}.")


def share_with_alike_beats(probs: np.ndarray, beats: np.ndarray, spec: BeatSpec, n_leads: int, column: int,
                           rule: AlikeBeats) -> np.ndarray:
    """``probs`` (n, C) of one record's ``beats`` (n, channels, length; model input in time order) with column
    ``column``'s probability shared among alike beats, the others rescaled to keep each row's sum."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) < 2:
        return probs.astype(np.float32)
    r, half = int(round(spec.before_s * spec.fs)), int(round(QRS_HALF_WIDTH_S * spec.fs))
    shapes = np.asarray(beats[:, :n_leads, max(r - half, 0):r + half + 1], dtype=np.float64).reshape(len(beats), -1)
    nearest, distance = nearest_beats(shapes, rule.neighbours, rule.window)
    typical = float(np.median(distance[:, 1:TYPICAL_NEIGHBOURS + 1]))
    alike = distance <= rule.radius * typical
    shared = (probs[nearest, column] * alike).sum(axis=1) / alike.sum(axis=1)
    rest = (1 - shared) / np.clip(1 - probs[:, column], 1e-9, None)
    out = probs * rest[:, None]
    out[:, column] = shared
    return out.astype(np.float32)


def nearest_beats(shapes: np.ndarray, k: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``shapes`` (n, d), the indices and Euclidean distances (n, k), nearest first, of its ``k``
    nearest rows (itself among them) within the ``window`` rows around it."""
    n = len(shapes)
    k, window = min(k, n), max(min(window, n), k)
    squares = (shapes ** 2).sum(axis=1)
    nearest, distance = np.empty((n, k), np.int64), np.empty((n, k))
    step = min(BLOCK, max(1, window // 2))  # a block lies inside its window, so each beat is among its own candidates
    for start in range(0, n, step):
        stop = min(start + step, n)
        low = min(max((start + stop) // 2 - window // 2, 0), n - window)
        gaps = squares[start:stop, None] + squares[None, low:low + window] - 2 * shapes[start:stop] @ shapes[low:low + window].T
        closest = np.argpartition(gaps, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(gaps, closest, axis=1), axis=1)
        closest = np.take_along_axis(closest, order, axis=1)
        nearest[start:stop] = closest + low
        distance[start:stop] = np.sqrt(np.maximum(np.take_along_axis(gaps, closest, axis=1), 0))
    return nearest, distance
