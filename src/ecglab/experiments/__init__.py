"""Experiments over many runs: benchmarks (leaderboards), ensembles, hyper-parameter tuning.

    >>> from ecglab.experiments import load_benchmark, run_benchmark
    >>> table = run_benchmark(load_benchmark("configs/ptbxl-benchmark.yaml"))

Each builds on ``ecglab.training.fit.train`` and the run directories it writes.
"""

from ecglab.experiments.benchmark import run_benchmark, write_leaderboard
from ecglab.experiments.ensemble import build_ensemble
from ecglab.experiments.protocol import Benchmark, base_config, load_benchmark, split_sections
from ecglab.experiments.tune import load_tune, run_tune

__all__ = ["Benchmark", "base_config", "build_ensemble", "load_benchmark", "load_tune", "run_benchmark", "run_tune",
           "split_sections", "write_leaderboard"]
