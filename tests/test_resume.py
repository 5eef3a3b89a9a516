"""Exact resume: a run stopped at any step and resumed equals the uninterrupted run (same seed,
deterministic mode), with random crops, augmentation, dropout and balanced sampling on."""

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from ecglab.training.fit import train
from test_training import toy_config, toy_dataset  # the same toy data (pytest puts tests/ on sys.path)

# 58 training records in batches of 16: 4 steps an epoch; a step checkpoint at global step 6 (epoch 1)
RANDOM_PARTS = {"balanced_sampling": True, "augment": {"amplitude": 0.1, "noise": 0.05, "lead_dropout": 0.2}}
TRAINER = {"max_epochs": 3, "checkpoint_every_n_steps": 6}
MODEL = {"hparams": {"width": 8, "dropout": 0.3}}


class SimulatedKill(Exception):
    pass


class KillAfterStep(Callback):
    """Stops the run dead once ``step`` steps are done and checkpointed (as kill -9 would): at the
    next batch's start, since Lightning runs checkpoint callbacks after all others."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == self.step:
            raise SimulatedKill


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "toy"
    toy_dataset(path)
    return path


def _config(tmp_path, data, name, workers=0):
    return toy_config(tmp_path, data, name=name, data={**RANDOM_PARTS, "num_workers": workers}, trainer=TRAINER, model=MODEL)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data):
    return train(_config(tmp_path_factory.mktemp("whole"), data, "whole")).run_dir


def _epoch_rows(run_dir):
    history = pd.read_csv(run_dir / "logs" / "metrics.csv")
    columns = ["epoch", "train_loss_epoch", "val_loss", "val_macro_auroc"]
    rows = {name: history.loc[history[name].notna(), ["epoch", name]].drop_duplicates() for name in columns[1:]}
    return {name: frame.to_numpy().tolist() for name, frame in rows.items()}


def _weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


# step 6: resumes from the mid-epoch step.ckpt; step 5: from last.ckpt of epoch 0, one step later
@pytest.mark.parametrize("kill_at, workers", [(6, 0), (5, 0), (6, 2)],
                         ids=["mid-epoch", "after-a-step-past-the-epoch-end", "mid-epoch-two-workers"])
def test_a_killed_and_resumed_run_equals_the_uninterrupted_one(tmp_path, data, uninterrupted, kill_at, workers):
    cfg = _config(tmp_path, data, "killed", workers)
    with pytest.raises(SimulatedKill):
        train(cfg, callbacks=[KillAfterStep(kill_at)])
    assert (cfg.run_dir / "checkpoints" / "step.ckpt").exists() == (kill_at == 6)
    resumed = train(cfg, resume=True).run_dir

    whole, part = _weights(uninterrupted), _weights(resumed)
    assert whole.keys() == part.keys()
    assert all(torch.equal(whole[k], part[k]) for k in whole), "final weights differ"
    assert _epoch_rows(resumed) == _epoch_rows(uninterrupted)
    with np.load(uninterrupted / "predictions.npz") as a, np.load(resumed / "predictions.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_the_training_order_depends_on_seed_and_epoch_only(data):
    from ecglab.datasets.core.prepared import PreparedDataset
    from ecglab.training.config import DataConfig
    from ecglab.training.data import ECGDataModule

    def epoch_batches(seed, epoch, start=0, workers=0):
        config = DataConfig(path=str(data), window=50, batch_size=16, num_workers=workers, **RANDOM_PARTS)
        loader = ECGDataModule(PreparedDataset(data), config, seed=seed).train_dataloader()
        loader.load_state_dict({"epoch": epoch, "batches": start})
        return [x for x, _, _ in loader]

    first = epoch_batches(seed=0, epoch=1)
    assert len(first) == 4
    assert all(torch.equal(a, b) for a, b in zip(first[2:], epoch_batches(seed=0, epoch=1, start=2), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(first, epoch_batches(seed=0, epoch=1, workers=2), strict=True))
    assert not torch.equal(first[0], epoch_batches(seed=0, epoch=2)[0])
    assert not torch.equal(first[0], epoch_batches(seed=1, epoch=1)[0])
