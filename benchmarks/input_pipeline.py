"""Input pipeline: does the DataLoader keep up with training? Measured in one run, for two kinds of input.

* record: synthetic 12-lead 10 s records at 100 Hz, 2.5 s random crops (the demo's), age and sex
  metadata, every augmentation on;
* beat: synthetic MLII beats (1 × 187 at 125 Hz, Kachuee et al. 2018), every augmentation on.

For each: the loader's samples/s on its own (``ECGDataModule.train_dataloader``, batch 64, the
default ``num_workers=0``), the training samples/s of every zoo model on that input (plain loop on
one fixed batch, so no data cost), their ratio for the fastest model (the target is at least 5×),
and, training the fastest model from the loader, the share of step time spent waiting for data.

    python benchmarks/input_pipeline.py
    python benchmarks/input_pipeline.py --kinds record --models resnet1d,cnn,kachuee
    python benchmarks/input_pipeline.py --device cuda            # does the loader keep a GPU fed?
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from ecglab.models import create_model, list_models
from ecglab.training.config import validate_config
from ecglab.training.data import ECGDataModule
from ecglab.training.demo import demo_config
from ecglab.training.fit import ensure_dataset
from ecglab.training.losses import build_loss
from timing import median_seconds, synchronize

AUGMENT = {"amplitude": 0.1, "baseline": 0.1, "noise": 0.02, "lead_dropout": 0.1}
KINDS = {"record": {"task": "record", "n": 2000, "window": 250, "meta": ["age", "sex"]},
         "beat": {"task": "beat", "n": 40, "window": None, "meta": []}}


def datamodule(kind: str, folder: Path) -> ECGDataModule:
    spec = KINDS[kind]
    raw = demo_config(folder, n=spec["n"])
    raw["data"]["path"] = str(folder / f"data-{kind}")
    raw["data"]["prepare"]["options"]["task"] = spec["task"]
    if spec["task"] == "beat":
        raw["data"]["prepare"]["options"].pop("fs")
    raw["data"].update(window=spec["window"], eval_stride=spec["window"], meta_features=spec["meta"], augment=AUGMENT)
    config = validate_config(raw)
    return ECGDataModule(ensure_dataset(config.data), config.data)


def loader_rate(dm: ECGDataModule, epochs: int = 3) -> float:
    """Samples/s of the training loader alone, best of ``epochs`` passes."""
    rates = []
    for _ in range(epochs):
        start, count = time.perf_counter(), 0
        for x, _, _ in dm.train_dataloader():
            count += len(x)
        rates.append(count / (time.perf_counter() - start))
    return max(rates)


def trainer_step(model: torch.nn.Module, dm: ECGDataModule, device: torch.device):
    """One optimisation step on a batch (x, y, meta) already on ``device``, as ECGModule takes it."""
    optimizer = torch.optim.AdamW(model.parameters(), fused=True)
    loss_fn = build_loss(validate_config({"data": {"path": "."}}).loss, dm.dataset.kind, dm.train_labels).to(device)

    def step(x, y, meta):
        loss = loss_fn(model(x, meta if meta.shape[1] else None), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def model_rate(name: str, dm: ECGDataModule, device: torch.device, steps: int = 3) -> tuple[float, torch.nn.Module]:
    """Training samples/s of ``name`` on one fixed batch from ``dm`` (no data cost)."""
    batch = [t.to(device) for t in next(iter(dm.train_dataloader()))]
    x, y, meta = batch
    torch.manual_seed(0)
    model = create_model(name, x.shape[1], y.shape[1], x.shape[2], n_meta=meta.shape[1]).to(device).train()
    step = trainer_step(model, dm, device)
    return len(x) / median_seconds(lambda: step(*batch), steps, warmup=1, device=device), model


def waiting_share(model: torch.nn.Module, dm: ECGDataModule, device: torch.device) -> float:
    """Training ``model`` for one epoch from the loader: time in ``next(loader)`` (and the copy to the
    device) ÷ total time."""
    step = trainer_step(model, dm, device)
    waiting, start = 0.0, time.perf_counter()
    batches = iter(dm.train_dataloader())
    while True:
        before = time.perf_counter()
        try:
            batch = [t.to(device, non_blocking=True) for t in next(batches)]
        except StopIteration:
            break
        waiting += time.perf_counter() - before
        step(*batch)
    synchronize(device)
    return waiting / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, from {sorted(KINDS)}")
    parser.add_argument("--models", help="comma-separated zoo names (default: every registered model)")
    parser.add_argument("--device", default="cpu", help="where the models train: cpu or cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    names = args.models.split(",") if args.models else list_models()
    lines = ["| input | loader alone (samples/s) | fastest model in training (samples/s) | loader ÷ fastest model | "
             "step time waiting for data |", "|---|---:|---|---:|---:|"]
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds.split(","):
            dm = datamodule(kind, Path(folder))
            rates = {name: model_rate(name, dm, device) for name in names}
            fastest = max(rates, key=lambda n: rates[n][0])
            loader = loader_rate(dm)
            share = waiting_share(rates[fastest][1], dm, device)
            print(f"{kind}: loader {loader:.0f}/s; models " + ", ".join(f"{n} {r:.0f}" for n, (r, _) in rates.items()),
                  flush=True)
            lines.append(f"| {kind} (batch 64, {len(dm.train_index)} training records) | {loader:,.0f} | "
                         f"{fastest}: {rates[fastest][0]:,.0f} | {loader / rates[fastest][0]:.1f}× | {share:.1%} |")
    print(f"\nPyTorch {torch.__version__}, models on {args.device}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, num_workers=0, "
          f"augmentation {AUGMENT}\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
