"""How fast a dataset's rows are measured for measured metadata features, in one process and in several.

    python benchmarks/measure_speed.py [--n 1000] [--fs 100]

Prepares ``--n`` synthetic 12-lead 10-s records into a temporary folder, then measures every row
(:func:`ecglab.training.measured._measure_rows`, all 11 measurements) in this process with torch's own
threads, and in one process per core with one thread each (what ``ecglab train`` does from
``MIN_ROWS_FOR_WORKERS`` rows on). Prints ms per row for each and their ratio, measured in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def measure_time(dataset, in_processes: bool) -> float:
    from ecglab.inference.measured import MEASURED
    from ecglab.inputs.match import data_preprocessing
    from ecglab.training import measured

    measured.MIN_ROWS_FOR_WORKERS = 1 if in_processes else len(dataset) + 1
    start = time.perf_counter()
    measured._measure_rows(dataset, list(MEASURED), False, None, data_preprocessing(dataset.manifest), None)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--fs", type=float, default=100)
    args = parser.parse_args(argv)
    from ecglab.datasets.core.registry import prepare

    with tempfile.TemporaryDirectory() as tmp:
        dataset = prepare("synthetic", Path(tmp) / "data", n=args.n, fs=args.fs, progress=False)
        one = measure_time(dataset, in_processes=False)
        several = measure_time(dataset, in_processes=True)
    per_row = 1000 / len(dataset)
    print(f"{len(dataset)} rows: one process {one * per_row:.1f} ms a row, processes {several * per_row:.1f} ms a row "
          f"(start-up included): {one / several:.2f}x")


if __name__ == "__main__":
    main()
