"""CPU speed of every zoo model on one 12-lead, 10 s record at 100 Hz (12 × 1000 samples).

For each model: parameters; median forward latency for one record under ``torch.inference_mode`` with
1 and 2 threads (``--threads``); the same with onnxruntime (1 thread); training throughput (samples/s) at batch 64
(Adam, multilabel BCE, 5 classes; 1 thread unless ``--train-threads``). Prints a Markdown table
(docs/MODELS.md holds the last one).

    python benchmarks/models.py                       # every model
    python benchmarks/models.py --models resnet1d,xresnet1d101 --threads 1,2,4 --repeats 21

Absolute times depend on the machine and its load; the ratio column (latency ÷ resnet1d's, same run)
is the figure to compare between machines.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ecglab.inference.onnx import OnnxModel, export_onnx
from ecglab.models import create_model, list_models, model_info
from ecglab.models.summary import N_CLASSES, RECORD, count_parameters
from timing import median_seconds

BATCH = 64


def torch_latency(model, threads: int, repeats: int) -> float:
    torch.set_num_threads(threads)
    x = torch.randn(1, *RECORD)
    with torch.inference_mode():
        return median_seconds(lambda: model(x), repeats)


def onnx_latency(model, repeats: int, workdir: Path) -> float | None:
    if not model_info(model.architecture).onnx:
        return None
    path = export_onnx(model, workdir / f"{model.architecture}.onnx", *RECORD)
    runner = OnnxModel(path, threads=1)
    x = np.random.default_rng(0).standard_normal((1, *RECORD)).astype(np.float32)
    return median_seconds(lambda: runner(x), repeats)


def training_throughput(model, threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, *RECORD)
    y = (torch.rand(BATCH, N_CLASSES) < 0.3).float()

    def step():
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return BATCH / median_seconds(step, steps, warmup=1)


def benchmark(name: str, threads: list[int], repeats: int, train_steps: int, train_threads: int, workdir: Path) -> dict:
    torch.manual_seed(0)
    model = create_model(name, RECORD[0], N_CLASSES, RECORD[1]).eval()
    row = dict(model=name, params=count_parameters(model))
    row["ms"] = {n: 1000 * torch_latency(model, n, repeats) for n in threads}
    seconds = onnx_latency(model, repeats, workdir)
    row["ms_onnx"] = None if seconds is None else 1000 * seconds
    row["train"] = training_throughput(model, train_threads, train_steps)
    return row


def markdown(rows: list[dict], threads: list[int], train_threads: int, reference: str = "resnet1d") -> str:
    """One row per model; the ratio column divides each model's latency (first thread count) by the reference's."""
    first = threads[0]
    base = next((r["ms"][first] for r in rows if r["model"] == reference), None)
    header = ["model", "parameters", *(f"latency, {n} thread{'s' * (n > 1)} (ms)" for n in threads),
              "onnxruntime, 1 thread (ms)", f"latency ÷ {reference}",
              f"training, {train_threads} thread{'s' * (train_threads > 1)} (samples/s, batch {BATCH})"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for r in rows:
        cells = [r["model"], f"{r['params']:,}", *(f"{r['ms'][n]:.1f}" for n in threads),
                 "n/a" if r["ms_onnx"] is None else f"{r['ms_onnx']:.1f}",
                 f"{r['ms'][first] / base:.2f}" if base else "n/a", f"{r['train']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="comma-separated names (default: every registered model)")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts for the latency columns")
    parser.add_argument("--repeats", type=int, default=11, help="timed forward passes per setting (median reported)")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps (median reported)")
    parser.add_argument("--train-threads", type=int, default=1, help="torch threads while training")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else list_models()
    threads = [int(n) for n in args.threads.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in names:
            rows.append(benchmark(name, threads, args.repeats, args.train_steps, args.train_threads, Path(workdir)))
            r = rows[-1]
            print(f"{name}: {r['ms'][threads[0]]:.1f} ms, {r['train']:.0f} samples/s", flush=True)
    print(f"\nPyTorch {torch.__version__}, {os.cpu_count()} CPUs, input 1 × {RECORD[0]} × {RECORD[1]}\n")
    print(markdown(rows, threads, args.train_threads))


if __name__ == "__main__":
    main()
