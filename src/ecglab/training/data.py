"""From a PreparedDataset to batches: random training crops, whole records for evaluation.

Every random choice of training (the order, balanced draws, crops, augmentation) is a function of
the run's seed, the epoch and the batch number, never of a process's generator: a run resumed at
any step replays the rest of the uninterrupted run exactly, with any number of loader workers.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.errors import ConfigError
from ecglab.inference.measured import delineator_id, measured_names
from ecglab.inputs.metadata import MeasuredFeatures, fit_meta_features, meta_matrix
from ecglab.training.config import DataConfig
from ecglab.training.dataset import BatchDraw, RecordDataset, derived_seed, record_loader
from ecglab.training.measured import with_measurements


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist

    return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)


class EpochBatchSampler:
    """The training batches of an epoch: a permutation of the records (with ``weights``, draws with
    replacement) drawn from (seed, epoch) alone, cut into batches, each with a seed of its own.

    Under DDP each rank takes every world-size-th record of the epoch's order (padded to equal
    shares, as DistributedSampler does). ``resume_at`` (epoch, batches): a resumed run's position;
    the next pass skips those batches if it is of that epoch (not when the run stopped at its end).
    """

    def __init__(self, n: int, batch_size: int, seed: int, weights: torch.Tensor | None = None):
        self.n, self.batch_size, self.seed, self.weights = n, batch_size, seed, weights
        self.epoch, self.resume_at = 0, None

    def set_epoch(self, epoch: int) -> None:  # Lightning calls it before every epoch
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rank, world = _rank_and_world()
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch))
        if self.weights is None:
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.multinomial(self.weights, self.n, replacement=True, generator=generator)
        share = -(-self.n // world)
        mine = order[torch.arange(share * world) % self.n][rank::world].tolist()
        batches = [mine[i:i + self.batch_size] for i in range(0, len(mine), self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:  # a last batch of exactly one breaks BatchNorm
            batches.pop()
        return batches

    def __len__(self) -> int:
        return len(self._batches())

    def first_batch(self) -> int:
        """The number of the next pass's first batch: 0 but in the epoch a resumed run stopped in."""
        epoch, batches = self.resume_at or (None, 0)
        return batches if epoch == self.epoch else 0

    def __iter__(self):
        start, self.resume_at = self.first_batch(), None
        rank, _ = _rank_and_world()
        for number, positions in enumerate(self._batches()[start:], start):
            yield BatchDraw(positions, derived_seed(self.seed, self.epoch, rank, number))


class ResumableLoader:
    """The training loader, resumable inside an epoch: Lightning stores :meth:`state_dict` (the epoch
    and the batches handed out) in every checkpoint, and gives it back to a run resumed from a
    mid-epoch one, which then continues the epoch's order where the checkpoint left it.

    Not a DataLoader subclass on purpose: Lightning would swap the sampler of a DataLoader for a
    DistributedSampler under DDP, and with it the order (EpochBatchSampler shards by rank itself).
    """

    def __init__(self, loader: DataLoader):
        self.loader, self.sampler = loader, loader.batch_sampler  # `sampler`: where Lightning calls set_epoch
        self.handed_out = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        # a generator: the epoch's order is drawn at its first batch, after Lightning has set the
        # epoch, not when Lightning calls iter() (before set_epoch, when a run resumes)
        self.handed_out = self.sampler.first_batch()
        for batch in self.loader:
            self.handed_out += 1
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "batches": self.handed_out}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.epoch = state["epoch"]
        self.sampler.resume_at = (state["epoch"], state["batches"])


def balanced_weights(labels: np.ndarray, power: float = 1.0, base: np.ndarray | None = None) -> np.ndarray:
    """Sampling weight per record: count of its rarest positive class to the power ``-power``, so at 1 every
    class is drawn about equally often and at 0.5 in proportion to the square root of its count (rare classes
    drawn more often without the common ones all but vanishing); records without any positive label count
    as one more group of their own. ``base``: a weight per record that the counts weigh by and the result
    is multiplied by, so the classes keep their shares while the records within a class do not."""
    base = np.ones(len(labels)) if base is None else np.asarray(base, dtype=np.float64)
    counts = (labels * base[:, None]).sum(axis=0)
    weights = np.where(labels > 0, np.maximum(counts, 1e-12) ** -power, 0.0).max(axis=1)
    unlabelled = labels.sum(axis=1) == 0
    weights[unlabelled] = float(base[unlabelled].sum()) ** -power if unlabelled.any() else 0.0
    return weights * base


def database_weights(meta, weights: dict[str, float]) -> np.ndarray | None:
    """A sampling weight per row from its ``database`` (1 for databases not named); None without weights."""
    if not weights:
        return None
    found = sorted(meta["database"].astype(str).unique()) if "database" in meta.columns else []
    unknown = sorted(set(weights) - set(found))
    if unknown:
        raise ConfigError(f"data.database_weights names {unknown}, not databases of this dataset; "
                          f"its examples come from {found or 'one database (it has no database column)'}.")
    return np.array(meta["database"].astype(str).map(weights).fillna(1.0), dtype=np.float64)


class ECGDataModule(L.LightningDataModule):
    """Train/val/test loaders over one PreparedDataset; metadata scaling fitted on the training split."""

    def __init__(self, dataset: PreparedDataset, config: DataConfig, seed: int = 0, progress: bool = False):
        super().__init__()
        self.dataset, self.config, self.seed = dataset, config, seed
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
        measured = [name for name in measured_names(config.meta_features) if name not in dataset.meta.columns]
        meta = with_measurements(dataset, measured, progress=progress)
        self.measured = MeasuredFeatures(names=measured, samples=dataset.length, delineator=delineator_id()) \
            if measured else None
        self.meta_features = fit_meta_features(meta.iloc[self.train_index], config.meta_features)
        self.meta = meta_matrix(meta, self.meta_features)
        self.labels = np.asarray(dataset.labels)
        self.database_draws = database_weights(  # checked before any training
            dataset.meta.iloc[self.train_index], config.database_weights)
        self._train_loader: ResumableLoader | None = None
        self._train_state: dict | None = None

    @property
    def train_labels(self) -> np.ndarray:
        return self.labels[self.train_index]

    def _dataset(self, index, crop=None, augment=None) -> RecordDataset:
        return RecordDataset(self.dataset.signals, self.labels, index, self.meta, crop, augment, self.dataset.fs)

    def _loader(self, dataset, **batching) -> DataLoader:
        workers = self.config.num_workers
        batching = batching or {"batch_size": self.config.batch_size}
        # a generator of its own: making an iterator draws a worker seed, which must not move torch's
        # global generator (dropout), or a resumed run would not replay the uninterrupted one
        return record_loader(dataset, num_workers=workers, persistent_workers=workers > 0, generator=torch.Generator(), **batching)

    def train_dataloader(self) -> ResumableLoader:
        dataset = self._dataset(self.train_index, crop=self.window, augment=self.config.augment)
        power = float(self.config.balanced_sampling)  # true is 1: every class equally often
        draws = self.database_draws
        weights = balanced_weights(self.train_labels, power, draws) if power else draws
        weights = torch.as_tensor(weights) if weights is not None else None
        sampler = EpochBatchSampler(len(dataset), self.config.batch_size, self.seed, weights)
        self._train_loader = ResumableLoader(self._loader(dataset, batch_sampler=sampler))
        if self._train_state is not None:
            self._train_loader.load_state_dict(self._train_state)
        return self._train_loader

    # The training loader's position travels with the datamodule too: Lightning gives a loader its saved
    # state only if it makes the loader after reading the checkpoint, and the one-cycle schedule's step
    # count makes it before (Lightning 2.6). Loading it twice is harmless: it is the same position.
    def state_dict(self) -> dict:
        return {"train_loader": self._train_loader.state_dict()} if self._train_loader is not None else {}

    def load_state_dict(self, state: dict) -> None:
        self._train_state = state.get("train_loader")
        if self._train_loader is not None and self._train_state is not None:
            self._train_loader.load_state_dict(self._train_state)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.val_index))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.test_index))

    def loader_for(self, split: str) -> DataLoader:
        return self._loader(self._dataset(self.dataset.split_indices(split)))
