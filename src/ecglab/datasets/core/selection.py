"""Which records a builder reads, and which split each row or patient goes to.

Two seeded splitters (and the cross-validation folds and inner validation split built on the second): :func:`stratified_split` deals rows out per class (for sources without
patient ids, or the intra-patient protocol), :func:`group_split` deals whole groups (patients,
records) out so that no group is in two splits, choosing among random deals the one whose
class shares come closest to the target fractions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecglab.errors import ConfigError, DatasetError


def record_ids(source: Path, records: str | None) -> list[str]:
    """Record names from ``records`` ("101,106" or a RECORDS file), else the source's RECORDS file."""
    if records is not None:
        listed = Path(records)
        names = _read_list(listed) if listed.is_file() else [r.strip() for r in str(records).split(",")]
    elif (source / "RECORDS").is_file():
        names = _read_list(source / "RECORDS")
    else:
        names = sorted(str(p.relative_to(source).with_suffix("")) for p in source.rglob("*.hea"))
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        where = f"--records {records!r}" if records is not None else f"{source} (no RECORDS file, no .hea headers)"
        raise DatasetError(f"no records selected from {where}; expected record names such as '101,106' or a RECORDS file.")
    return names


def _read_list(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def split_sizes(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Items per split: rounded shares, every split non-empty when there are enough items, rest to the first."""
    names = list(fractions)
    sizes = {name: int(round(fractions[name] * n)) for name in names[1:]}
    if n >= len(names):
        sizes = {name: max(1, k) for name, k in sizes.items()}
    while sum(sizes.values()) > n - min(n, 1):
        largest = max(sizes, key=sizes.get)
        sizes[largest] -= 1
    return {names[0]: n - sum(sizes.values()), **sizes}


def stratified_split(classes: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
    """A split name per row; each class is shuffled and cut by ``fractions`` (e.g. 70/10/20)."""
    classes = np.asarray(classes)
    rng = np.random.default_rng(seed)
    out = np.empty(len(classes), dtype=object)
    for value in np.unique(classes):
        rows = rng.permutation(np.flatnonzero(classes == value))
        start = 0
        for name, size in _cumulative_sizes(len(rows), fractions).items():
            out[rows[start:start + size]] = name
            start += size
    return out


def _cumulative_sizes(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Sizes from rounded cumulative shares, so a class of 10 cut 70/10/20 gives 7/1/2."""
    total = sum(fractions.values())
    edges = np.round(np.cumsum([0.0, *fractions.values()]) / total * n).astype(int)
    return {name: int(b - a) for name, a, b in zip(fractions, edges[:-1], edges[1:])}


def group_split(groups: np.ndarray, classes: np.ndarray, fractions: dict[str, float], seed: int,
                tries: int = 256) -> np.ndarray:
    """A split name per row, whole groups to one split, class shares as close to ``fractions`` as feasible.

    ``tries`` seeded random deals of the groups are scored by the summed distance between each
    class's share in each split and that split's target fraction; the best deal wins.
    """
    groups, classes = np.asarray(groups).astype(str), np.asarray(classes)
    names, group_of_row = np.unique(groups, return_inverse=True)
    labels, class_of_row = np.unique(classes, return_inverse=True)
    counts = np.zeros((len(names), len(labels)))
    np.add.at(counts, (group_of_row, class_of_row), 1)
    shares = counts / counts.sum(axis=0, keepdims=True)
    sizes = split_sizes(len(names), fractions)
    targets = np.array([fractions[s] for s in sizes]) / sum(fractions.values())
    bounds = np.cumsum([0, *sizes.values()])
    rng = np.random.default_rng(seed)
    best, best_cost = None, np.inf
    for _ in range(tries):
        order = rng.permutation(len(names))
        achieved = np.stack([shares[order[a:b]].sum(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        cost = np.abs(achieved - targets[:, None]).sum()
        if cost < best_cost:
            best, best_cost = order, cost
    split_of_group = np.empty(len(names), dtype=object)
    for name, a, b in zip(sizes, bounds[:-1], bounds[1:]):
        split_of_group[best[a:b]] = name
    return split_of_group[group_of_row]



def assign_folds(patients: np.ndarray, classes: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per row, whole patients to one fold, class shares as even as feasible."""
    n_patients = len(np.unique(patients))
    if not 2 <= folds <= n_patients:
        raise ConfigError(f"--folds {folds}: needs 2 to {n_patients} folds (the number of patients pooled).")
    names = group_split(patients, classes, {f"fold{k}": 1.0 / folds for k in range(folds)}, seed)
    return np.array([int(str(name)[4:]) for name in names])


def train_val_split(patients: np.ndarray, classes: np.ndarray, val_share: float, seed: int) -> np.ndarray:
    """"train" or "val" per row, whole patients; at least one patient in "val" to stop early on."""
    val = max(val_share, 1.0 / len(np.unique(patients)))
    return group_split(patients, classes, {"train": 1 - val, "val": val}, seed)
