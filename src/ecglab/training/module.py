"""The LightningModule: one training step for every model, windowed evaluation, the optimiser."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from ecglab.training.config import OptimConfig
from ecglab.training.heap import trim_heap
from ecglab.training.scoring import windowed_probabilities

MONITOR = "val_macro_auroc"  # the default validation score that keeps the best epoch (trainer.monitor)
MONITOR_MODES = {"val_macro_auroc": "max", "val_macro_f1": "max", "val_loss": "min"}


def rng_states() -> dict:
    """The global random generators (torch, CUDA, numpy, Python), in types a ``weights_only`` load reads."""
    import random

    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [kind, keys.tolist(), position, has_gauss, gauss], "python": random.getstate()}


def set_rng_states(states: dict) -> None:
    import random

    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
    random.setstate(states["python"])


class ECGModule(L.LightningModule):
    def __init__(self, model: nn.Module, kind: str, loss: nn.Module, optim: OptimConfig,
                 window: int, stride: int, aggregate: str = "mean", monitor: str = MONITOR):
        super().__init__()
        self.model, self.kind, self.loss, self.optim = model, kind, loss, optim
        self.monitor = monitor
        self.window, self.stride, self.aggregate = window, stride, aggregate
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._resumed_state: dict | None = None
        self.on_train_epoch_start()

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # every loader yields (x, y, meta) tensors: Lightning's generic walk over nested collections
        # costs more per step than a small model's whole forward pass (benchmarks/trainer_overhead.py)
        # (non-blocking only to CUDA: copies to MPS that way can arrive corrupted, pytorch#139550)
        return tuple(t.to(device, non_blocking=device.type == "cuda") for t in batch)

    def _meta(self, meta: torch.Tensor) -> torch.Tensor | None:
        return meta if meta.shape[-1] > 0 else None

    def on_train_epoch_start(self):  # not called when a run resumes inside an epoch: __init__ starts the sums too
        self._loss_sum, self._loss_count = 0.0, 0

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # what else a resumed run needs to go on as the uninterrupted one: the global random streams
        # (dropout) and, inside an epoch, the sums of its mean loss so far (the data order is the loader's)
        loss_sum = torch.as_tensor(self._loss_sum, dtype=torch.float32).cpu()
        checkpoint["ecglab_resume"] = {"rng": rng_states(), "loss_sum": loss_sum, "loss_count": self._loss_count}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._resumed_state = checkpoint.get("ecglab_resume")

    def on_train_start(self):
        # set here, not on loading: nothing drawn while Lightning sets the run up may shift the streams
        if self._resumed_state is not None:
            state, self._resumed_state = self._resumed_state, None
            set_rng_states(state["rng"])
            self._loss_sum, self._loss_count = state["loss_sum"].to(self.device), state["loss_count"]

    def training_step(self, batch, batch_idx):
        x, y, meta = batch
        loss = self.loss(self.model(x, self._meta(meta)), y)
        # Lightning's log() costs about a millisecond, more than a small model's whole step: the step
        # loss is logged only on the steps the logger writes, and the epoch mean is kept here
        self._loss_sum = self._loss_sum + loss.detach().float() * len(x)  # fp32: a half-precision sum overflows
        self._loss_count += len(x)
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.log("train_loss_step", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=len(x))
        return loss

    def on_train_epoch_end(self):
        if self._loss_count:
            self.log("train_loss_epoch", self._loss_sum / self._loss_count, prog_bar=True, sync_dist=True)

    def predict_proba(self, x: torch.Tensor, meta: torch.Tensor) -> torch.Tensor:
        return windowed_probabilities(self.model, x, self._meta(meta), self.kind, self.window, self.stride, self.aggregate)

    def validation_step(self, batch, batch_idx):
        x, y, meta = batch
        probs = self.predict_proba(x, meta)
        self._val_outputs.append((probs.detach(), y.detach()))

    def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
        trim_heap(batch_idx)

    def on_validation_epoch_end(self):
        from ecglab.evaluation.metrics import compute_metrics

        probs = torch.cat([p for p, _ in self._val_outputs])
        labels = torch.cat([y for _, y in self._val_outputs])
        self._val_outputs.clear()
        if self.trainer.world_size > 1:
            probs, labels = self.all_gather(probs).flatten(0, 1), self.all_gather(labels).flatten(0, 1)
        labels = labels.float()  # *-true precisions hand the labels over in half precision
        y_true, y_prob = labels.cpu().numpy().astype(np.uint8), probs.float().cpu().numpy()
        classes = [str(i) for i in range(y_true.shape[1])]
        metrics = compute_metrics(y_true, y_prob, self.kind, classes)
        auroc = metrics["macro_auroc"]
        clipped = probs.float().clamp(1e-6, 1 - 1e-6)
        if self.kind == "multiclass":
            val_loss = -(labels * clipped.log()).sum(dim=1).mean()
        else:
            val_loss = nn.functional.binary_cross_entropy(clipped, labels.float())
        # every rank computed the same values from the gathered predictions: the mean over ranks is
        # the value itself, and sync_dist keeps the ranks' early-stopping and checkpoint decisions alike
        self.log(MONITOR, float("nan") if auroc is None else float(auroc), prog_bar=True, sync_dist=True)
        self.log("val_loss", val_loss, prog_bar=False, sync_dist=True)
        self.log("val_macro_f1", float(metrics["macro_f1"]), sync_dist=True)

    def configure_optimizers(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        cls = torch.optim.AdamW if self.optim.name == "adamw" else torch.optim.Adam
        # one fused kernel per step instead of a loop over the parameter tensors (CPU and CUDA)
        fused = all(p.device.type in ("cpu", "cuda") for p in params)
        optimizer = cls(params, lr=self.optim.lr, weight_decay=self.optim.weight_decay, fused=fused)
        if self.optim.scheduler == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.optim.lr,
                                                            total_steps=int(self.trainer.estimated_stepping_batches))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        if self.optim.scheduler == "exponential":
            rate, steps = self.optim.decay_rate, self.optim.decay_steps
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: rate ** (step / steps))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        if self.optim.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=MONITOR_MODES[self.monitor], factor=self.optim.plateau_factor,
                                                                   patience=self.optim.plateau_patience)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor}}
        return optimizer


class PretrainModule(L.LightningModule):
    """Stage one of two-stage models: the model's own reconstruction objective (``pretrain_loss``)."""

    def __init__(self, model: nn.Module, optim: OptimConfig):
        super().__init__()
        self.model, self.optim = model, optim

    def training_step(self, batch, batch_idx):
        loss = self.model.pretrain_loss(batch[0])
        self.log("pretrain_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch[0]), sync_dist=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.model.parameters(), lr=self.optim.lr, weight_decay=self.optim.weight_decay)
