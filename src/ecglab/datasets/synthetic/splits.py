"""Seeded patient-level train/val/test splits (≈ 70/15/15 of the patients of each stratum)."""

from __future__ import annotations

import numpy as np

from ecglab.datasets.core.selection import split_sizes

SPLIT_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}


def split_patients(rng: np.random.Generator, n_patients: int, strata: np.ndarray | None = None) -> np.ndarray:
    """A split name per patient. Within each stratum (e.g. paced or not) the patients are shuffled
    and dealt out; a stratum of three or more patients puts at least one in every split, so a rare
    kind of patient is never missing from one."""
    strata = np.zeros(n_patients, dtype=int) if strata is None else np.asarray(strata)
    splits = np.empty(n_patients, dtype=object)
    for stratum in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == stratum))
        bounds = np.cumsum([0, *split_sizes(len(members), SPLIT_FRACTIONS).values()])
        for name, start, stop in zip(SPLIT_FRACTIONS, bounds[:-1], bounds[1:]):
            splits[members[start:stop]] = name
    return splits
