"""Prepared records as torch batches, without Lightning: the training loop and bundle evaluation
(which must not import Lightning) read rows through the same dataset and loader."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ecglab.datasets.core.prepared import RESIDENT_BYTES, release_pages
from ecglab.training.augment import augment_batch
from ecglab.training.config import AugmentConfig


class BatchDraw(NamedTuple):
    """A training batch as the sampler hands it to the dataset: its rows and the seed of its crops
    and augmentation."""

    positions: list[int]
    seed: int


def derived_seed(*key: int) -> int:
    """A 63-bit seed of its own for every (run seed, epoch, …) key."""
    high, low = np.random.SeedSequence([k % 2**64 for k in key]).generate_state(2)
    return (int(high) << 31) ^ int(low)


class RecordDataset(Dataset):
    """Rows ``index`` of a memory-mapped dataset; with ``crop``, a random window of that length, and
    with ``augment`` (training), randomly transformed copies.

    A loader fetches a whole batch at once (:meth:`__getitems__`, with :func:`record_loader`): one
    read per record of just the samples needed, one stack, no per-record tensors to collate. Pages
    read through the memory map are released every :data:`RESIDENT_BYTES`, so an epoch over a
    dataset larger than memory does not make the process hold all of it.
    """

    def __init__(self, signals, labels, index: np.ndarray, meta: np.ndarray, crop: int | None = None,
                 augment: AugmentConfig | None = None, fs: float | None = None):
        self.signals, self.labels, self.index, self.meta, self.crop = signals, labels, index, meta, crop
        self.augment = augment if augment is not None and augment.active else None
        self.fs = fs
        self._bytes_since_release = 0

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        x, y, meta = self.__getitems__([i])
        return x[0], y[0], meta[0]

    def __getitems__(self, request: BatchDraw | list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch of ``request``: a :class:`BatchDraw`, or positions (random parts, if any, then
        drawn from torch's global generator; evaluation has none, so it never moves that generator)."""
        positions, generator = (request.positions, torch.Generator().manual_seed(request.seed)) \
            if isinstance(request, BatchDraw) else (request, None)
        rows = self.index[np.asarray(positions)]
        length = self.signals.shape[-1]
        crop = self.crop if self.crop and length > self.crop else length
        starts = torch.randint(0, length - crop + 1, (len(rows),), generator=generator).tolist() if crop < length else [0] * len(rows)
        # a float32 copy of only the cropped samples: the memmap is read-only and may be float16
        x = np.stack([self.signals[row, :, start:start + crop] for row, start in zip(rows, starts)]).astype(np.float32, copy=False)
        self._release_pages(len(rows) * self.signals[0].nbytes)  # a crop of every lead touches about every page of its row
        x = torch.from_numpy(x)
        if self.augment is not None:
            x = augment_batch(x, self.augment, self.fs, generator)
        return x, torch.from_numpy(self.labels[rows].astype(np.float32)), torch.from_numpy(self.meta[rows])

    def _release_pages(self, nbytes: int) -> None:
        self._bytes_since_release += nbytes
        if self._bytes_since_release >= RESIDENT_BYTES:
            release_pages(self.signals)
            self._bytes_since_release = 0


def already_batched(batch):
    """The collate function of loaders over :meth:`RecordDataset.__getitems__`, which returns batches."""
    return batch


def record_loader(rows: RecordDataset, batch_size: int = 1, **kwargs) -> DataLoader:
    """A DataLoader that fetches ``rows`` a batch at a time (into page-locked memory when a GPU is
    there to copy it to); with ``batch_sampler=``, its batches (``batch_size`` then left at 1)."""
    kwargs.setdefault("pin_memory", torch.cuda.is_available())
    return DataLoader(rows, batch_size=batch_size, collate_fn=already_batched, **kwargs)
