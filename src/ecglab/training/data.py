"""From a PreparedDataset to batches: random training crops, whole records for evaluation."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from ecglab.datasets.metadata import fit_meta_features, meta_matrix
from ecglab.datasets.prepared import RESIDENT_BYTES, PreparedDataset, release_pages
from ecglab.errors import ConfigError
from ecglab.training.augment import augment_batch
from ecglab.training.config import AugmentConfig, DataConfig


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

    def __getitems__(self, positions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = self.index[np.asarray(positions)]
        length = self.signals.shape[-1]
        crop = self.crop if self.crop and length > self.crop else length
        starts = torch.randint(0, length - crop + 1, (len(rows),)).tolist() if crop < length else [0] * len(rows)
        # a float32 copy of only the cropped samples: the memmap is read-only and may be float16
        x = np.stack([self.signals[row, :, start:start + crop] for row, start in zip(rows, starts)]).astype(np.float32, copy=False)
        self._release_pages(len(rows) * self.signals[0].nbytes)  # a crop of every lead touches about every page of its row
        x = torch.from_numpy(x)
        if self.augment is not None:
            x = augment_batch(x, self.augment, self.fs)
        return x, torch.from_numpy(self.labels[rows].astype(np.float32)), torch.from_numpy(self.meta[rows])

    def _release_pages(self, nbytes: int) -> None:
        self._bytes_since_release += nbytes
        if self._bytes_since_release >= RESIDENT_BYTES:
            release_pages(self.signals)
            self._bytes_since_release = 0


def already_batched(batch):
    """The collate function of loaders over :meth:`RecordDataset.__getitems__`, which returns batches."""
    return batch


def record_loader(rows: RecordDataset, batch_size: int, **kwargs) -> DataLoader:
    """A DataLoader that fetches ``rows`` a batch at a time (into page-locked memory when a GPU is
    there to copy it to)."""
    kwargs.setdefault("pin_memory", torch.cuda.is_available())
    return DataLoader(rows, batch_size=batch_size, collate_fn=already_batched, **kwargs)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling weight per record: 1 / count of its rarest positive class, so every class is drawn
    about equally often; records without any positive label count as one more group of their own."""
    counts = labels.sum(axis=0).astype(np.float64)
    weights = np.where(labels > 0, 1.0 / np.maximum(counts, 1.0), 0.0).max(axis=1)
    unlabelled = labels.sum(axis=1) == 0
    weights[unlabelled] = 1.0 / unlabelled.sum() if unlabelled.any() else 0.0
    return weights


class ECGDataModule(L.LightningDataModule):
    """Train/val/test loaders over one PreparedDataset; metadata scaling fitted on the training split."""

    def __init__(self, dataset: PreparedDataset, config: DataConfig):
        super().__init__()
        self.dataset, self.config = dataset, config
        self.train_index = dataset.split_indices(config.train_split)
        self.val_index = dataset.split_indices(config.val_split)
        if config.test_split is not None and config.test_split not in dataset.splits:
            raise ConfigError(f"data.test_split={config.test_split!r} is not a split of {dataset.path} (it has {dataset.splits}); "
                              "set data.test_split to one of them, or to null to report on the validation split.")
        self.test_index = dataset.split_indices(config.test_split) if config.test_split is not None else None
        self.window = config.window or dataset.length
        if self.window > dataset.length:
            raise ConfigError(f"data.window={self.window} is longer than the records ({dataset.length} samples).")
        self.stride = config.eval_stride or self.window
        self.meta_features = fit_meta_features(dataset.meta.iloc[self.train_index], config.meta_features)
        self.meta = meta_matrix(dataset.meta, self.meta_features)
        self.labels = np.asarray(dataset.labels)

    @property
    def train_labels(self) -> np.ndarray:
        return self.labels[self.train_index]

    def _dataset(self, index, crop=None, augment=None) -> RecordDataset:
        return RecordDataset(self.dataset.signals, self.labels, index, self.meta, crop, augment, self.dataset.fs)

    def _loader(self, dataset, shuffle=False, sampler=None, drop_last=False) -> DataLoader:
        workers = self.config.num_workers
        return record_loader(dataset, self.config.batch_size, shuffle=shuffle, sampler=sampler, num_workers=workers,
                             persistent_workers=workers > 0, drop_last=drop_last)

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset(self.train_index, crop=self.window, augment=self.config.augment)
        # a last batch of exactly one breaks BatchNorm; drop only that one record, nothing else
        drop_last = len(dataset) % self.config.batch_size == 1 and len(dataset) > 1
        if not self.config.balanced_sampling:
            return self._loader(dataset, shuffle=True, drop_last=drop_last)
        sampler = WeightedRandomSampler(torch.as_tensor(balanced_weights(self.train_labels)), num_samples=len(dataset),
                                        replacement=True)
        return self._loader(dataset, sampler=sampler, drop_last=drop_last)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.val_index))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.test_index))

    def loader_for(self, split: str) -> DataLoader:
        return self._loader(self._dataset(self.dataset.split_indices(split)))
