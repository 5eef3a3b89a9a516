"""The arithmetic and measuring parts of the scripts in benchmarks/ (their figures live in docs/PERFORMANCE.md)."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import compute  # noqa: E402
import scale  # noqa: E402
import trainer_overhead  # noqa: E402


def test_flops_are_counted_forward_and_backward_per_sample(monkeypatch):
    # one bias-free linear layer 10 -> 3: forward 2·10·3 FLOPs per sample; backward only the weight
    # gradient (the input needs none): another 2·10·3
    monkeypatch.setattr(compute, "create_model", lambda *args: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 3, bias=False)))
    monkeypatch.setattr(compute, "input_shape", lambda name: (10, 1))  # (leads, samples): x is (batch, 10, 1)
    assert compute.flops_per_sample("linear", batch=8) == 2 * (2 * 10 * 3)


def test_share_of_peak_is_achieved_flops_over_the_peak():
    rows = [{"model": "m", "input": "1×2", "setting": "eager", "flops": 2e9, "samples_per_s": 50.0}]
    line = compute.markdown(rows, peak=400e9, unit="GFLOP/s").splitlines()[-1]
    assert line == "| m | 1×2 | eager | 2.000 | 50 | 100.0 | 25.0% |"


def test_the_cpu_peak_is_measured_with_both_gemm_libraries():
    peaks = compute.peak_flops(torch.device("cpu"), "32-true", size=256)
    assert set(peaks) == {"matmul", "oneDNN matmul"} and all(v > 1e8 for v in peaks.values())


def test_the_before_setting_is_restored_afterwards():
    from ecglab.models import layers

    saved = layers.LONG_KERNEL
    with compute.setting(tuned=False) as options:
        assert layers.LONG_KERNEL > 10**6 and options == {"fused": False}
    assert layers.LONG_KERNEL == saved


def test_samples_per_second_counts_the_batches_after_the_first():
    assert trainer_overhead.samples_per_s([10.0, 10.5, 11.0], batch_size=64) == pytest.approx(128 / 1.0)


def test_peak_memory_of_a_process_tree_is_measured():
    child = "import time; block = bytearray(300 << 20); block[::4096] = b'x' * len(block[::4096]); time.sleep(0.6)"
    result = scale.run_measured([sys.executable, "-c", child])
    assert 300 <= result["tree_mb"] < 600 and result["main_mb"] >= 300
    assert result["seconds"] >= 0.6 and result["gpu_busy"] is None
