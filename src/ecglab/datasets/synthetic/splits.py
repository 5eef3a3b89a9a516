"""Seeded patient-level train/val/test splits (≈ 70/15/15 of the patients of each stratum)."""

from __future__ import annotations

import numpy as np

SPLIT_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}


def split_patients(rng: np.random.Generator, n_patients: int, strata: np.ndarray | None = None) -> np.ndarray:
    """A split name per patient. Within each stratum (e.g. paced or not) the patients are shuffled
    and dealt out; a stratum of three or more patients puts at least one in val and one in test,
    so a rare kind of patient is never missing from a split."""
    strata = np.zeros(n_patients, dtype=int) if strata is None else np.asarray(strata)
    splits = np.empty(n_patients, dtype=object)
    for stratum in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == stratum))
        size = len(members)
        n_val = int(round(SPLIT_FRACTIONS["val"] * size))
        n_test = int(round(SPLIT_FRACTIONS["test"] * size))
        if size >= 3:
            n_val, n_test = max(1, n_val), max(1, n_test)
        splits[members[:n_val]] = "val"
        splits[members[n_val:n_val + n_test]] = "test"
        splits[members[n_val + n_test:]] = "train"
    return splits
