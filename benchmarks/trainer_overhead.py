"""Trainer overhead: ecglab's training loop against a minimal hand-written PyTorch loop, in one run.

Both loops train the same model on the same batches: the training loader of one ``ECGDataModule``
over a synthetic PreparedDataset (random crops, metadata, the configured batch size), the same loss
and AdamW. ecglab's loop is ``ecglab.training.fit.train`` as users run it (Lightning, logging,
checkpoints every 50 steps, early stopping, learning-rate schedule, progress bar); the hand loop is
``for x, y, meta in loader: loss.backward(); optimizer.step()``. Samples/s are timed over the
second epoch (the first warms up caches), from the end of its first batch to the end of its last,
so validation, evaluation and export do not count. The two loops alternate, ``--rounds`` times each;
the medians are compared.

    python benchmarks/trainer_overhead.py                        # resnet1d on record crops, kachuee on beats
    python benchmarks/trainer_overhead.py --cases resnet1d --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

from ecglab.training.config import validate_config
from ecglab.training.data import ECGDataModule
from ecglab.training.demo import demo_config
from ecglab.training.fit import build_model, ensure_dataset, train
from ecglab.training.losses import build_loss

# case -> (model, synthetic task, records or patients, training crop, batch size); kachuee's configs use
# batch 500 (the paper's), where its ~10 ms steps at batch 64 become ~70 ms
CASES = {"resnet1d": ("resnet1d", "record", 2000, 250, 64), "kachuee": ("kachuee", "beat", 40, None, 64),
         "kachuee-500": ("kachuee", "beat", 40, None, 500)}


class BatchClock(L.Callback):
    """Wall time at the end of every training batch of the second epoch."""

    def __init__(self):
        self.ends: list[float] = []

    def on_train_batch_end(self, trainer, *args):
        if trainer.current_epoch == 1:
            self.ends.append(time.perf_counter())


def case_config(case: str, folder: Path, round_: int) -> dict:
    model, task, n, window, batch_size = CASES[case]
    raw = demo_config(folder, epochs=2, n=n)
    raw["name"] = f"{case}-{round_}"
    raw["data"]["path"] = str(folder / f"data-{task}")
    raw["data"]["prepare"]["options"]["task"] = task
    if task == "beat":
        raw["data"]["prepare"]["options"].pop("fs")
    raw["data"].update(window=window, eval_stride=window, batch_size=batch_size)
    raw["model"]["name"] = model
    raw["trainer"].update(patience=5)
    raw["report"].update(baseline=False, n_boot=0)
    return raw


def samples_per_s(ends: list[float], batch_size: int) -> float:
    return (len(ends) - 1) * batch_size / (ends[-1] - ends[0])


def ecglab_loop(raw: dict) -> float:
    config = validate_config(raw)
    clock = BatchClock()
    train(config, callbacks=[clock])
    return samples_per_s(clock.ends, config.data.batch_size)


def hand_loop(raw: dict) -> float:
    """The same model, loss, optimiser and loader, with nothing else around them."""
    config = validate_config(raw)
    dataset = ensure_dataset(config.data)
    L.seed_everything(config.trainer.seed, verbose=False)
    torch.use_deterministic_algorithms(config.trainer.deterministic)  # as Lightning sets it for `train`
    datamodule = ECGDataModule(dataset, config.data)
    model = build_model(config, dataset, n_meta=len(datamodule.meta_features)).train()
    loss_fn = build_loss(config.loss, dataset.kind, datamodule.train_labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay,
                                  fused=True)  # as ECGModule configures it
    loader = datamodule.train_dataloader()
    ends = []
    for epoch in range(2):
        for x, y, meta in loader:
            loss = loss_fn(model(x, meta if meta.shape[-1] else None), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if epoch == 1:
                ends.append(time.perf_counter())
    return samples_per_s(ends, config.data.batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {sorted(CASES)}")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each loop per case, alternating (median reported)")
    args = parser.parse_args()
    lines = ["| case | hand-written loop (samples/s) | ecglab `train` (samples/s) | ecglab ÷ hand |", "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as folder:
        for case in args.cases.split(","):
            hand, ours = [], []
            for round_ in range(args.rounds):
                hand.append(hand_loop(case_config(case, Path(folder), round_)))
                ours.append(ecglab_loop(case_config(case, Path(folder), round_)))
                print(f"{case} round {round_}: hand {hand[-1]:.0f}, ecglab {ours[-1]:.0f} samples/s", flush=True)
            h, o = statistics.median(hand), statistics.median(ours)
            lines.append(f"| {CASES[case][0]} ({CASES[case][1]}, batch {CASES[case][4]}) | {h:.0f} | {o:.0f} | {o / h:.1%} |")
    print(f"\nPyTorch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{args.rounds} alternating rounds per case\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
