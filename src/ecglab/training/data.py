"""From a PreparedDataset to batches: random training crops, whole records for evaluation."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from ecglab.datasets.metadata import fit_meta_features, meta_matrix
from ecglab.datasets.prepared import PreparedDataset
from ecglab.errors import ConfigError
from ecglab.training.config import DataConfig


class RecordDataset(Dataset):
    """Rows ``index`` of a memory-mapped dataset; with ``crop``, a random window of that length."""

    def __init__(self, signals, labels, index: np.ndarray, meta: np.ndarray, crop: int | None = None):
        self.signals, self.labels, self.index, self.meta, self.crop = signals, labels, index, meta, crop

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        row = self.index[i]
        x = np.array(self.signals[row], dtype=np.float32)  # a writable copy of the read-only memmap row
        if self.crop and x.shape[-1] > self.crop:
            start = int(torch.randint(0, x.shape[-1] - self.crop + 1, (1,)))
            x = x[:, start:start + self.crop]
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.labels[row].astype(np.float32)), torch.from_numpy(self.meta[row])


class ECGDataModule(L.LightningDataModule):
    """Train/val/test loaders over one PreparedDataset; metadata scaling fitted on the training split."""

    def __init__(self, dataset: PreparedDataset, config: DataConfig):
        super().__init__()
        self.dataset, self.config = dataset, config
        self.train_index = dataset.split_indices(config.train_split)
        self.val_index = dataset.split_indices(config.val_split)
        self.test_index = dataset.split_indices(config.test_split) if config.test_split in dataset.splits else None
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

    def _dataset(self, index, crop=None) -> RecordDataset:
        return RecordDataset(self.dataset.signals, self.labels, index, self.meta, crop)

    def _loader(self, dataset, shuffle=False, sampler=None) -> DataLoader:
        workers = self.config.num_workers
        return DataLoader(dataset, batch_size=self.config.batch_size, shuffle=shuffle, sampler=sampler,
                          num_workers=workers, persistent_workers=workers > 0)

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset(self.train_index, crop=self.window)
        if not self.config.balanced_sampling:
            return self._loader(dataset, shuffle=True)
        counts = self.train_labels.sum(axis=0).astype(np.float64)
        rarest = np.where(self.train_labels > 0, 1.0 / np.maximum(counts, 1.0), 0.0).max(axis=1)
        sampler = WeightedRandomSampler(torch.as_tensor(rarest), num_samples=len(dataset), replacement=True)
        return self._loader(dataset, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.val_index))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.test_index))

    def loader_for(self, split: str) -> DataLoader:
        return self._loader(self._dataset(self.dataset.split_indices(split)))
