"""How fast PTB-XL is prepared, and how much faster training reads a PreparedDataset than WFDB files.

    python benchmarks/prepare_speed.py [--source /work/shared/data/ptbxl] [--fs 100] [--epochs 20]

1. ``prepare ptbxl`` (forced rebuild, one worker per core): records per second.
2. Training-time reads of the same records in random order: batches of 64 from the memmap of the
   prepared dataset, against ``wfdb.rdrecord`` of each record's files one by one. The prepared
   path must be at least 50 times faster; the script exits non-zero otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REQUIRED_SPEEDUP = 50.0


def prepare_rate(source: Path, out: Path, fs: float) -> tuple[object, float]:
    from ecglab.datasets.core.registry import get_builder, prepare

    get_builder("ptbxl")  # imports (pandas, scipy, wfdb) are not preparation time
    start = time.perf_counter()
    dataset = prepare("ptbxl", out, source, force=True, progress=False, fs=fs)
    return dataset, len(dataset) / (time.perf_counter() - start)


def memmap_rate(dataset, epochs: int, batch: int = 64, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        order = rng.permutation(len(dataset))
        for first in range(0, len(order), batch):
            rows = np.sort(order[first:first + batch])
            np.asarray(dataset.signals[rows], dtype=np.float32), np.asarray(dataset.labels[rows])
            n += len(rows)
    return n / (time.perf_counter() - start)


def wfdb_rate(dataset, source: Path, fs: float, epochs: int, seed: int = 0) -> float:
    import pandas as pd
    import wfdb

    column = "filename_lr" if fs == 100 else "filename_hr"
    files = pd.read_csv(source / "ptbxl_database.csv", index_col="ecg_id")[column]
    paths = [str(source / files[ecg_id]) for ecg_id in dataset.meta["record_id"]]
    rng = np.random.default_rng(seed)
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        for i in rng.permutation(len(paths)):
            wfdb.rdrecord(paths[i]).p_signal.T.astype(np.float32)
            n += 1
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "ptbxl")
    parser.add_argument("--fs", type=float, default=100)
    parser.add_argument("--epochs", type=int, default=20, help="passes over the records when timing reads")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dataset, prepared_per_s = prepare_rate(args.source, Path(tmp) / "ptbxl", args.fs)
        from_memmap = memmap_rate(dataset, args.epochs)
        from_wfdb = wfdb_rate(dataset, args.source, args.fs, max(1, args.epochs // 10))
    speedup = from_memmap / from_wfdb
    print(f"PTB-XL ({len(dataset)} records, {args.fs:g} Hz, {os.cpu_count()} cores)\n")
    print("| measure | records/s |")
    print("|---|---:|")
    print(f"| `ecglab prepare ptbxl` (read, write memmap) | {prepared_per_s:,.0f} |")
    print(f"| training reads, PreparedDataset memmap, random batches of 64 | {from_memmap:,.0f} |")
    print(f"| training reads, `wfdb.rdrecord` one by one, random order | {from_wfdb:,.0f} |")
    print(f"| speed-up of the prepared path | {speedup:,.0f}x (required: {REQUIRED_SPEEDUP:g}x) |")
    return 0 if speedup >= REQUIRED_SPEEDUP else 1


if __name__ == "__main__":
    sys.exit(main())
