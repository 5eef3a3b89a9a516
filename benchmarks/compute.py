"""Compute efficiency of training: FLOPs per sample, achieved FLOP/s, and their share of the machine's peak.

For each model, in one run:

* FLOPs per training sample (forward + backward), counted by ``torch.utils.flop_counter.FlopCounterMode``;
* training throughput of a plain loop (AdamW, the task's loss) at a fixed batch, median over steps;
* achieved FLOP/s = FLOPs per sample × samples/s, and that as a fraction of the peak a large matrix
  product reaches on the same device, precision and threads, measured in the same run.

Record models take 12 × 1000 (10 s at 100 Hz), kachuee 1 × 187 (a beat at 125 Hz).

    python benchmarks/compute.py                                   # the four models of issue 7, CPU, fp32
    python benchmarks/compute.py --models resnet1d --batch 128 --threads 2
    python benchmarks/compute.py --device cuda --precision bf16-mixed --compile   # on a GPU

Prints a Markdown table (docs/PERFORMANCE.md holds the last one).
"""

from __future__ import annotations

import argparse
import os
from contextlib import contextmanager, nullcontext

import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from ecglab.models import create_model, layers
from ecglab.models.summary import BEAT, N_CLASSES, RECORD
from timing import median_seconds, timings

MODELS = ("resnet1d", "xresnet1d101", "inception1d", "kachuee")
BEAT_MODELS = {"kachuee"}
AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def input_shape(name: str) -> tuple[int, int]:
    return BEAT if name in BEAT_MODELS else RECORD


def autocast(device: torch.device, precision: str):
    dtype = AUTOCAST.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()


def peak_flops(device: torch.device, precision: str, size: int) -> dict[str, float]:
    """FLOP/s of a ``size``³ matrix product in the training precision, per library that can run it.

    On the CPU PyTorch has two: MKL (``torch.matmul``) and oneDNN (which runs the convolutions). On
    AMD processors MKL takes its AVX2 path, about half of what oneDNN's AVX-512 kernels reach, so
    the faster of the two is the machine's practical peak."""
    dtype = AUTOCAST.get(precision, torch.float32)
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    peaks = {"matmul": 2 * size**3 / min(timings(lambda: a @ b, 5, device=device))}
    if device.type == "cpu" and dtype == torch.float32 and torch.backends.mkldnn.is_available():
        from torch.utils import mkldnn

        linear = mkldnn.to_mkldnn(torch.nn.Linear(size, size, bias=False))
        x = a.to_mkldnn()
        with torch.no_grad():
            peaks["oneDNN matmul"] = 2 * size**3 / min(timings(lambda: linear(x), 5, device=device))
    return peaks


def training_step(model: torch.nn.Module, optimizer, x, y, device, precision):
    def step():
        with autocast(device, precision):
            loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def flops_per_sample(name: str, batch: int) -> float:
    """Forward + backward FLOPs of one training sample (counted on the CPU in fp32: the count does not
    depend on the device)."""
    model = create_model(name, input_shape(name)[0], N_CLASSES, input_shape(name)[1]).train()
    x = torch.randn(batch, *input_shape(name))
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).sum().backward()
    return counter.get_total_flops() / batch


@contextmanager
def setting(tuned: bool):
    """``tuned=False``: as before issue 7's changes: every convolution through oneDNN's 1-D kernels and
    AdamW's loop over parameter tensors (the two are restored afterwards)."""
    saved = layers.LONG_KERNEL
    layers.LONG_KERNEL = saved if tuned else 1 << 30
    try:
        yield {"fused": tuned}
    finally:
        layers.LONG_KERNEL = saved


def throughput(name: str, batch: int, steps: int, device: torch.device, precision: str, compile_model: bool,
               tuned: bool = True) -> float:
    """Training samples/s of a plain loop, median over ``steps`` timed steps after warm-up."""
    with setting(tuned) as options:
        return _throughput(name, batch, steps, device, precision, compile_model, options["fused"])


def _throughput(name, batch, steps, device, precision, compile_model, fused) -> float:
    torch.manual_seed(0)
    model = create_model(name, input_shape(name)[0], N_CLASSES, input_shape(name)[1]).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)  # fused: as ECGModule configures it
    if compile_model:
        model = torch.compile(model)
    x = torch.randn(batch, *input_shape(name), device=device)
    y = (torch.rand(batch, N_CLASSES, device=device) < 0.3).float()
    step = training_step(model, optimizer, x, y, device, precision)
    # three warm-up steps: compilation, allocator, oneDNN primitive caches
    return batch / median_seconds(step, steps, warmup=3, device=device)


def markdown(rows: list[dict], peak: float, unit: str) -> str:
    header = ["model", "input", "setting", "GFLOPs / sample (fwd+bwd)", "samples/s", f"achieved {unit}", "share of peak"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|" + "---:|" * (len(header) - 3)]
    scale = 1e12 if unit == "TFLOP/s" else 1e9
    for r in rows:
        achieved = r["flops"] * r["samples_per_s"]
        lines.append(f"| {r['model']} | {r['input']} | {r['setting']} | {r['flops'] / 1e9:.3f} | {r['samples_per_s']:.0f} | "
                     f"{achieved / scale:.1f} | {achieved / peak:.1%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per model (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (CPU)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed", "16-mixed"])
    parser.add_argument("--compile", action="store_true", help="also torch.compile the model (an extra row)")
    parser.add_argument("--before", action="store_true", help="also the setting before issue 7's changes (an extra row)")
    parser.add_argument("--matmul", type=int, default=None, help="side of the peak matrix product (default 2048 CPU, 8192 GPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    size = args.matmul or (8192 if device.type == "cuda" else 2048)
    peaks = peak_flops(device, args.precision, size)
    peak = max(peaks.values())
    settings = [("before", False, False)] * args.before + [("eager", True, False)] + [("compiled", True, True)] * args.compile
    rows = []
    for name in args.models.split(","):
        flops = flops_per_sample(name, args.batch)
        for label, tuned, compiled in settings:
            rate = throughput(name, args.batch, args.steps, device, args.precision, compiled, tuned)
            rows.append({"model": name, "input": "×".join(map(str, input_shape(name))), "setting": label, "flops": flops,
                         "samples_per_s": rate})
            print(f"{name} ({label}): {flops / 1e9:.3f} GFLOPs/sample, {rate:.0f} samples/s", flush=True)
    unit = "TFLOP/s" if device.type == "cuda" else "GFLOP/s"
    scale = 1e12 if device.type == "cuda" else 1e9
    print(f"\nPyTorch {torch.__version__}, {args.device}, {args.threads} thread(s), {args.precision}, batch {args.batch}, "
          f"peak, {size}³ matrix product in the same run: "
          + ", ".join(f"{k} {v / scale:.1f}" for k, v in peaks.items()) + f" {unit}\n")
    print(markdown(rows, peak, unit))


if __name__ == "__main__":
    main()
