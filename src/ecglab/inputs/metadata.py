"""Metadata as model input (age, sex, R-R context …): one encoding for training and prediction.

Numbers pass through; sex strings follow the PTB-XL convention (0 = male, 1 = female); a
missing value takes the training mean (``fill``); each feature is standardised with the training
split's mean and std. The fitted :class:`MetaFeature` list travels in the model bundle, and
:func:`meta_input` encodes one record's metadata for the Predictor with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ecglab.errors import BundleError, DatasetError
from ecglab.inputs.beats import BEAT_FEATURES
from ecglab.inputs.intervals import NAMES as MEASUREMENTS

class MetaFeature(BaseModel):
    """One metadata input: a meta column, how missing values are filled and how it is scaled."""

    model_config = ConfigDict(extra="forbid")
    name: str
    fill: float = 0.0
    mean: float = 0.0
    std: float = 1.0


class MeasuredFeatures(BaseModel):
    """The meta features a model's training measured on the signals rather than read from metadata
    (:mod:`ecglab.inference.measured`): their names, the length in samples of the rows they were measured on
    (the Predictor measures a record cut or padded to it) and the sha256 of the delineator's weights."""

    model_config = ConfigDict(extra="forbid")
    names: list[str]
    samples: int
    delineator: str


_SEX_CODES = {"m": 0.0, "male": 0.0, "man": 0.0, "f": 1.0, "female": 1.0, "woman": 1.0}


def encode_column(values) -> np.ndarray:
    """One meta column as float64, NaN where missing or unreadable.

    Decided value by value, never by the column's dtype: pandas 2 holds strings as ``object``,
    pandas 3 as ``str``, and a column read from parquet may be either."""
    column = pd.Series(values, dtype=object)
    return np.fromiter(map(_encode_value, column), dtype=np.float64, count=len(column))


def _encode_value(value) -> float:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _SEX_CODES:
            return _SEX_CODES[text]
        value = text
    try:
        number = float(value)
    except (TypeError, ValueError):
        return np.nan
    return number if np.isfinite(number) else np.nan


def fit_meta_features(meta: pd.DataFrame, names: list[str]) -> list[MetaFeature]:
    """Fit fill value, mean and std of each feature on (training) rows."""
    missing = [n for n in names if n not in meta.columns]
    if missing:
        raise DatasetError(f"meta features {missing} are not in the dataset; its meta columns are {list(meta.columns)}, "
                           f"and a record model may also read a measurement ({', '.join(MEASUREMENTS)}).")
    features = []
    for name in names:
        column = encode_column(meta[name])
        finite = column[np.isfinite(column)]
        mean = float(finite.mean()) if len(finite) else 0.0
        std = float(finite.std()) if len(finite) > 1 and finite.std() > 0 else 1.0
        features.append(MetaFeature(name=name, fill=mean, mean=mean, std=std))
    return features


def meta_matrix(meta: pd.DataFrame, features: list[MetaFeature]) -> np.ndarray:
    """(N, M) float32 model input; a feature absent from ``meta`` is filled for every row."""
    out = np.empty((len(meta), len(features)), dtype=np.float32)
    for j, feature in enumerate(features):
        column = encode_column(meta[feature.name]) if feature.name in meta.columns else np.full(len(meta), np.nan)
        column = np.where(np.isfinite(column), column, feature.fill)
        out[:, j] = (column - feature.mean) / feature.std
    return out


def meta_input(meta: dict, features: list[MetaFeature], n_rows: int,
               per_beat: dict[str, np.ndarray] | None = None) -> np.ndarray | None:
    """One record's metadata input (n_rows, M), encoded as in training (:func:`meta_matrix`).

    Record metadata (age, sex, ...) repeats on every row; the R-R features of beat models
    (:data:`ecglab.inputs.beats.BEAT_FEATURES`, from :func:`~ecglab.inputs.beats.beat_input`) give
    one value per beat.
    """
    if not features:
        return None
    columns = {f.name: [meta.get(f.name)] * n_rows for f in features if f.name not in BEAT_FEATURES}
    if per_beat is not None:
        columns.update({f.name: per_beat[f.name] for f in features if f.name in BEAT_FEATURES})
    elif any(f.name in BEAT_FEATURES for f in features):
        raise BundleError("inconsistent bundle: R-R context features need a beat model (input 'beat').")
    return meta_matrix(pd.DataFrame(columns, index=range(n_rows)), features)
