"""Train the delineator: a ``unet1d`` on single leads of a prepared ``ludb`` dataset.

A plain seeded PyTorch loop rather than the Lightning classification module: the targets are
per-sample classes with a mask (the unannotated edges of each lead), which that module's (B, C)
losses and metrics do not describe. Each step draws random (record, lead) pairs of the training
split and a random crop around their annotated span; the loss is cross-entropy over the masked
samples only. The validation split picks the best step; the bundle is written with the dataset's
preprocessing, so prediction applies exactly the steps training saw.

    python -m ecglab.measure.train DATA OUT [--steps N] [--seed S]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

CLASSES = ["none", "P", "QRS", "T"]
ANY_LEAD = "any"  # the bundle's one input lead: it is applied to each lead of a record on its own


def lead_pairs(mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``(record, lead)`` of every lead with an annotated span among ``rows``."""
    has_span = mask[rows].any(axis=-1)
    r, lead = np.nonzero(has_span)
    return np.stack([rows[r], lead], axis=1)


def draw_batch(rng, signals, waves, mask, pairs, batch: int, crop: int):
    """Random crops that overlap each lead's annotated span, with mild amplitude and noise augmentation."""
    chosen = pairs[rng.integers(len(pairs), size=batch)]
    x = np.empty((batch, 1, crop), np.float32)
    y = np.empty((batch, crop), np.int64)
    m = np.empty((batch, crop), bool)
    length = signals.shape[-1]
    for k, (r, lead) in enumerate(chosen):
        inside = np.flatnonzero(mask[r, lead])
        low = max(0, min(inside[0] - crop // 4, length - crop))
        high = max(low, min(inside[-1] - 3 * crop // 4, length - crop))
        a = int(rng.integers(low, high + 1))
        x[k, 0] = signals[r, lead, a:a + crop]
        y[k], m[k] = waves[r, lead, a:a + crop], mask[r, lead, a:a + crop]
    x = x * rng.uniform(0.6, 1.6, (batch, 1, 1)).astype(np.float32) + rng.normal(0, 0.03, x.shape).astype(np.float32)
    return x, y, m


def masked_accuracy(model, signals, waves, mask, pairs) -> float:
    """Per-sample accuracy over the annotated spans of ``pairs`` (whole 10 s leads)."""
    import torch

    hits = total = 0
    with torch.no_grad():
        for start in range(0, len(pairs), 64):
            r, lead = pairs[start:start + 64].T
            logits = model(torch.from_numpy(np.asarray(signals[r, lead], np.float32)[:, None]))
            predicted = logits.argmax(1).numpy()
            inside = np.asarray(mask[r, lead])
            hits += int((predicted == np.asarray(waves[r, lead]))[inside].sum())
            total += int(inside.sum())
    return hits / max(total, 1)


def train_delineator(data: str | Path, out: str | Path, **options) -> Path:
    """Train on the ``train`` split of the prepared ``ludb`` dataset ``data`` (its ``val`` split picks the step);
    write the bundle to ``out``. ``options``: those of :func:`fit_delineator`."""
    from ecglab.datasets.core.prepared import PreparedDataset

    dataset = PreparedDataset(data)
    return fit_delineator(dataset, dataset.split_indices("train"), dataset.split_indices("val"), out, **options)


def fit_delineator(dataset, train_rows: np.ndarray, val_rows: np.ndarray, out: str | Path, *, steps: int = 800,
                   batch: int = 32, crop_s: float = 4.0, lr: float = 3e-3, seed: int = 0, width: int = 8, depth: int = 4,
                   kernel: int = 9, eval_every: int = 100, log=print) -> Path:
    """Train on the leads of ``train_rows`` of a prepared ``ludb`` dataset, keep the step best on ``val_rows``."""
    import torch
    from torch.nn import functional as F

    from ecglab.datasets.ludb import load_waves
    from ecglab.inference.bundle import BundleSpec, save_bundle
    from ecglab.models import create_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    waves, mask = load_waves(dataset)
    signals = np.asarray(dataset.signals, np.float32)
    train = lead_pairs(mask, np.asarray(train_rows))
    val = lead_pairs(mask, np.asarray(val_rows))
    crop = int(round(crop_s * dataset.fs))
    kwargs = {"width": width, "depth": depth, "kernel": kernel}
    model = create_model("unet1d", n_leads=1, n_classes=len(CLASSES), input_length=crop, **kwargs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
    best, best_state, started = -1.0, None, time.time()
    for step in range(1, steps + 1):
        model.train()
        x, y, m = draw_batch(rng, signals, waves, mask, train, batch, crop)
        loss = F.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y), reduction="none")
        loss = (loss * torch.from_numpy(m)).sum() / max(int(m.sum()), 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % eval_every == 0 or step == steps:
            accuracy = masked_accuracy(model.eval(), signals, waves, mask, val)
            log(f"step {step}/{steps}  loss {loss.item():.4f}  val per-sample accuracy {accuracy:.4f}  "
                f"({time.time() - started:.0f} s)")
            if accuracy > best:
                best, best_state = accuracy, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    spec = BundleSpec(architecture="unet1d", model_kwargs=kwargs, kind="segmentation", classes=CLASSES, fs=dataset.fs,
                      leads=[ANY_LEAD], input_length=crop, preprocessing=dataset.manifest["preprocessing"],
                      dataset="ludb", metrics={"val_per_sample_accuracy": round(best, 4), "steps": steps,
                                               "batch": batch, "seed": seed, "train_leads": int(len(train))})
    return save_bundle(out, model.eval(), spec)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the LUDB delineator (unet1d, single lead) into a bundle.")
    parser.add_argument("data", help="a dataset prepared by `ecglab prepare ludb`")
    parser.add_argument("out", help="bundle directory to write")
    for name, default in (("steps", 800), ("batch", 32), ("seed", 0), ("width", 8), ("depth", 4), ("kernel", 9)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    train_delineator(args.data, args.out, steps=args.steps, batch=args.batch, seed=args.seed, width=args.width,
                     depth=args.depth, kernel=args.kernel, lr=args.lr)


if __name__ == "__main__":
    main()
