"""``train(config)``: prepare (if needed) → fit with Lightning → evaluate → export the bundle.

Run directory::

    runs/NAME/
      config.yaml          the resolved configuration
      checkpoints/         best.ckpt (validation macro AUROC), last.ckpt, latest step checkpoint
      logs/metrics.csv     CSV log; logs/tb/ TensorBoard events
      report/              metrics.json, report.md, PNG plots (test split)
      predictions.npz      validation and test probabilities (ensembles, re-analysis)
      bundle/              model.safetensors + bundle.json (what `ecglab predict` loads)
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.errors import ConfigError, DatasetError, Interrupted
from ecglab.training.config import DataConfig, RunConfig
from ecglab.training.result import RunResult

CHECKPOINTS = "checkpoints"


def ensure_dataset(data: DataConfig) -> PreparedDataset:
    """Open ``data.path``; prepare it first when it is missing and ``data.prepare`` says how."""
    path = Path(data.path)
    if data.prepare is not None:
        from ecglab.datasets.core.registry import prepare

        # the config owns this dataset: when its preparation options change, it is rebuilt
        return prepare(data.prepare.dataset, path, data.prepare.source, rebuild_if_changed=True, **data.prepare.options)
    if not path.exists():
        raise DatasetError(f"data.path {path} does not exist; prepare it first (`ecglab prepare …`) or add a data.prepare section.")
    return PreparedDataset(path)


def train(config: RunConfig, resume: bool = False, callbacks: list | None = None) -> RunResult | None:
    """Train one run; returns None on non-zero DDP ranks (rank zero evaluates and exports).

    ``callbacks``: extra Lightning callbacks, e.g. Optuna's pruning callback when tuning.
    """
    import lightning as L

    from ecglab.training.data import ECGDataModule
    from ecglab.training.losses import build_loss
    from ecglab.training.module import ECGModule

    if config.ensemble is not None:
        raise ConfigError("this config has an ensemble section: train it with `ecglab train` or "
                          "ecglab.experiments.ensemble.train_ensemble, which trains each member, then ensembles them.")
    config = with_init_architecture(config)
    run_dir = config.run_dir
    checkpoint_dir = run_dir / CHECKPOINTS
    last = latest_checkpoint(checkpoint_dir)
    if resume and last is None:
        raise ConfigError(f"--resume: no checkpoint in {checkpoint_dir} to continue from.")
    if resume:
        check_resumable(config, run_dir)
    elif checkpoint_dir.exists() and any(checkpoint_dir.iterdir()):
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another name (--set name=…).")
    _quiet_lightning(resumed=resume)

    # everything that can reject the config is built before the run directory exists
    dataset = ensure_dataset(config.data)
    L.seed_everything(config.trainer.seed, workers=True, verbose=False)
    datamodule = ECGDataModule(dataset, config.data, seed=config.trainer.seed, progress=config.trainer.progress)
    model = build_model(config, dataset, n_meta=len(datamodule.meta_features))
    if config.trainer.compile:
        model.compile()  # in place: parameter names, checkpoints and bundles stay as without it
    loss = build_loss(config.loss, dataset.kind, datamodule.train_labels)
    module = ECGModule(model, dataset.kind, loss, config.optim, datamodule.window, datamodule.stride, config.data.aggregate,
                       monitor=config.trainer.monitor)
    trainer = _trainer(config, checkpoint_dir, run_dir, callbacks or [])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(config.to_yaml())

    pretrain_epochs = _pretrain_epochs(config, model)
    if pretrain_epochs and not resume:
        _pretrain(model, datamodule, config, pretrain_epochs)
    if hasattr(model, "start_classifier_stage"):
        model.start_classifier_stage()
    if getattr(model, "trunk_frozen", False):  # transfer or a two-stage model: its BatchNorm stays in eval mode on purpose
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
    _fit(trainer, module, datamodule, last if resume else None, run_dir)
    if not trainer.is_global_zero:
        return None

    from ecglab.training.evaluate import evaluate_after_training

    best = checkpoint_dir / "best.ckpt"
    if best.exists():
        import torch

        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return evaluate_after_training(module, datamodule, dataset, config, run_dir)


def with_init_architecture(config: RunConfig) -> RunConfig:
    """With ``model.init_from`` the bundle decides the architecture; the run's config says so."""
    if not config.model.init_from:
        return config
    from ecglab.inference.bundle import load_spec

    spec = load_spec(config.model.init_from)
    given = config.model.model_fields_set
    if "name" in given and config.model.name != spec.architecture or "hparams" in given and config.model.hparams \
            and config.model.hparams != spec.model_kwargs:
        raise ConfigError(f"model.init_from {config.model.init_from} is a {spec.architecture} {spec.model_kwargs}; "
                          f"the config asks for {config.model.name} {config.model.hparams}. Leave model.name and "
                          "model.hparams out when starting from a bundle.")
    model = config.model.model_copy(update={"name": spec.architecture, "hparams": dict(spec.model_kwargs)})
    return config.model_copy(update={"model": model})


def build_model(config: RunConfig, dataset: PreparedDataset, n_meta: int):
    """A fresh model, or one initialised from a bundle (transfer learning) with a new head if needed."""
    from ecglab.models import create_model

    if config.model.init_from is None:
        return create_model(config.model.name, n_leads=dataset.channels, n_classes=len(dataset.classes),
                            input_length=config.data.window or dataset.length, n_meta=n_meta, **config.model.hparams)
    from ecglab.inference.bundle import load_bundle

    model, spec = load_bundle(config.model.init_from)
    _check_init_input(config.model.init_from, spec, dataset)
    if spec.channels != dataset.channels or len(spec.meta_features) != n_meta:
        raise ConfigError(f"model.init_from {config.model.init_from}: the bundle takes {spec.channels} channels and "
                          f"{len(spec.meta_features)} meta features; this dataset gives {dataset.channels} and {n_meta}.")
    if spec.classes != dataset.classes:
        model.reset_head(len(dataset.classes))
    if config.model.freeze == "trunk":
        model.freeze_trunk()
    return model.train()


def _check_init_input(bundle, spec, dataset: PreparedDataset) -> None:
    """The trunk keeps what it learnt only on input like its own (:func:`ecglab.inputs.match.init_differences`)."""
    from ecglab.inputs.match import init_differences, prepare_command

    differences = init_differences(spec, dataset.manifest)
    if differences:
        command = prepare_command(spec, dataset.manifest, standardize=spec.preprocessing.standardize)
        raise ConfigError(f"model.init_from {bundle}: the bundle's model was trained on other input than "
                          f"{dataset.path} holds: {'; '.join(differences)}. Prepare matching data with `{command}`.")


# Keys a resumed run may change: how long and where it trains, not what it trains.
RESUMABLE_CHANGES = ("trainer.max_epochs", "trainer.patience", "trainer.devices", "trainer.accelerator", "trainer.strategy",
                     "trainer.num_nodes", "trainer.progress", "trainer.limit_train_batches", "report.")


DISPLAY_ONLY = ("trainer.progress",)  # what is shown while training, not what is trained


def config_differences(config: RunConfig, run_dir: Path) -> list[str]:
    """Keys whose values differ between ``config`` and the run's saved config.yaml (none if there is none), but
    for :data:`DISPLAY_ONLY`: a run trained without progress bars is the same run (reused by cv, ensembles and
    benchmarks alike)."""
    import yaml

    saved_file = run_dir / "config.yaml"
    if not saved_file.exists():
        return []
    saved, current = _flatten(_with_defaults(yaml.safe_load(saved_file.read_text()))), _flatten(config.model_dump(mode="json"))
    return sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k) and k not in DISPLAY_ONLY)


def _with_defaults(raw: dict) -> dict:
    """A saved config as this version reads it, so keys added since (with their defaults) do not count as changes."""
    try:
        return RunConfig.model_validate(raw).model_dump(mode="json")
    except Exception:  # a config an older or newer version wrote: compare it as it stands
        return raw


def check_resumable(config: RunConfig, run_dir: Path) -> None:
    """A resumed run must train the same model on the same data as the checkpoints it continues."""
    allowed = RESUMABLE_CHANGES
    if config.optim.scheduler == "onecycle":  # its schedule is fixed to the original number of steps
        allowed = tuple(k for k in allowed if k != "trainer.max_epochs")
    changed = [k for k in config_differences(config, run_dir) if not k.startswith(allowed)]
    if changed:
        import yaml

        saved = _flatten(_with_defaults(yaml.safe_load((run_dir / "config.yaml").read_text())))
        current = _flatten(config.model_dump(mode="json"))
        details = ", ".join(f"{k}: {saved.get(k)!r} → {current.get(k)!r}" for k in changed[:6])
        raise ConfigError(f"--resume continues {run_dir} as it was configured; these keys differ from its config.yaml: "
                          f"{details}. Only {', '.join(allowed)}* may change (not max_epochs with the one-cycle schedule, which is fixed "
                          f"to the original length); start a new run (--set name=…) otherwise.")


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value and key != "hparams" and key != "options":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _fit(trainer, module, datamodule, checkpoint: Path | None, run_dir: Path) -> None:
    """Lightning exits on Ctrl-C after saving what it can; say how to continue instead."""
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(checkpoint) if checkpoint else None)
    except SystemExit:
        interrupted = True
    else:
        interrupted = trainer.interrupted
    if interrupted:
        raise Interrupted(f"training interrupted; its checkpoints are in {run_dir / CHECKPOINTS}. "
                          f"Continue it with `ecglab train CONFIG --resume` (the same config).")


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The most recent of last.ckpt and the mid-epoch step checkpoints (not best.ckpt)."""
    if not checkpoint_dir.exists():
        return None
    candidates = [p for p in checkpoint_dir.glob("*.ckpt") if not p.name.startswith("best")]
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)


def _trainer(config: RunConfig, checkpoint_dir: Path, run_dir: Path, extra_callbacks: list):
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    from ecglab.training.module import MONITOR_MODES

    t = config.trainer
    callbacks = [
        # after validation, before last.ckpt is written: last.ckpt must hold the best score so far, or a
        # run resumed from it forgets that score and takes a later tie for a new best
        ModelCheckpoint(dirpath=checkpoint_dir, filename="best", monitor=t.monitor, mode=MONITOR_MODES[t.monitor], enable_version_counter=False,
                        save_on_train_epoch_end=False),
        # Lightning's save_last follows the monitored checkpoint (only on improvement); this one is every epoch
        ModelCheckpoint(dirpath=checkpoint_dir, filename="last", save_top_k=1, every_n_epochs=1, enable_version_counter=False,
                        save_on_train_epoch_end=False),  # after validation, so a resume never skips an epoch's validation
        _mid_epoch_checkpoint(dirpath=checkpoint_dir, filename="step", every_n_train_steps=t.checkpoint_every_n_steps,
                              save_top_k=1, enable_version_counter=False),
        EarlyStopping(monitor=t.monitor, mode=MONITOR_MODES[t.monitor], patience=t.patience, check_finite=False, check_on_train_epoch_end=False),
        LearningRateMonitor(logging_interval="epoch"),
        *_progress_bar(t.progress),
        *extra_callbacks,
    ]
    # flush the CSV log at every logging step: a killed run must not lose the rows before its checkpoint
    loggers = [_appending_csv_logger(run_dir),
               TensorBoardLogger(run_dir, name="logs", version="tb")]
    try:
        return L.Trainer(max_epochs=t.max_epochs, accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes,
                         strategy=t.strategy, precision=t.precision, deterministic=t.deterministic, callbacks=callbacks,
                         logger=loggers, enable_progress_bar=t.progress, limit_train_batches=t.limit_train_batches,
                         log_every_n_steps=10, enable_model_summary=False, num_sanity_val_steps=0,
                         gradient_clip_val=t.gradient_clip_val)
    except (MisconfigurationException, ValueError, RuntimeError) as exc:
        raise ConfigError(f"Lightning rejected the trainer settings (accelerator={t.accelerator}, devices={t.devices}, "
                          f"strategy={t.strategy}, precision={t.precision}): {exc}") from None


REDRAW_SECONDS = 0.25


def _progress_bar(enabled: bool) -> list:
    """Lightning's rich bar gathers every logged metric and redraws at each training batch, which
    costs more than a small model's whole step (benchmarks/trainer_overhead.py); this one redraws
    at most every :data:`REDRAW_SECONDS` and at the end of the epoch."""
    if not enabled:
        return []
    import time

    from lightning.pytorch.callbacks import RichProgressBar

    class ThrottledProgressBar(RichProgressBar):
        drawn_at = 0.0

        def _get_train_description(self, current_epoch: int) -> str:
            # Lightning counts from 0 and shows "Epoch 0/0" for a one-epoch run; people count from 1
            return f"Epoch {current_epoch + 1}/{self.trainer.max_epochs}"

        def get_metrics(self, trainer, pl_module):
            items = super().get_metrics(trainer, pl_module)
            items.pop("v_num", None)  # the logger's version ("_tb"): the run's name is on the screen already
            return items

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            now = time.monotonic()
            if now - self.drawn_at >= REDRAW_SECONDS or batch_idx + 1 == self.total_train_batches:
                self.drawn_at = now
                super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    return [ThrottledProgressBar()]


def _mid_epoch_checkpoint(**kwargs):
    """Step checkpoints inside an epoch only. One taken at an epoch's last batch looks like a finished
    epoch to Lightning, and a resume from it would skip that epoch's validation; the epoch-end
    checkpoint (after validation) covers that moment instead."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    class MidEpochCheckpoint(ModelCheckpoint):
        def on_train_batch_end(self, trainer, *args, **kw):
            if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
                super().on_train_batch_end(trainer, *args, **kw)

    return MidEpochCheckpoint(**kwargs)


def _appending_csv_logger(run_dir: Path):
    """Lightning's CSVLogger deletes an existing metrics.csv; a resumed run must append to it instead."""
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter

    class AppendingWriter(ExperimentWriter):
        def _check_log_dir_exists(self) -> None:
            if self._fs.isfile(self.metrics_file_path):  # keep the old header so new rows line up with it
                with self._fs.open(self.metrics_file_path, "r") as file:
                    self.metrics_keys = sorted(file.readline().strip().split(","))

    class AppendingCSVLogger(CSVLogger):
        @property
        def experiment(self):
            if self._experiment is None:
                self._experiment = AppendingWriter(log_dir=self.log_dir)
            return self._experiment

    return AppendingCSVLogger(run_dir, name="logs", version="", flush_logs_every_n_steps=10)


def _pretrain_epochs(config: RunConfig, model) -> int:
    """The config's value, else the model's own default (two-stage models), else none."""
    if config.model.pretrain_epochs is None:
        return int(getattr(model, "pretrain_epochs", 0)) if hasattr(model, "pretrain_loss") else 0
    if config.model.pretrain_epochs and not hasattr(model, "pretrain_loss"):
        raise ConfigError(f"model.pretrain_epochs is set but {config.model.name!r} has no pretraining stage "
                          "(only two-stage models such as autoencoder_mlp do).")
    return config.model.pretrain_epochs


def _pretrain(model, datamodule, config: RunConfig, epochs: int) -> None:
    import lightning as L

    from ecglab.training.module import PretrainModule

    t = config.trainer
    trainer = L.Trainer(max_epochs=epochs, accelerator=t.accelerator, devices=t.devices,
                        strategy=t.strategy, precision=t.precision, deterministic=t.deterministic,
                        logger=[_appending_csv_logger(config.run_dir)], log_every_n_steps=10,  # pretrain_loss in metrics.csv
                        enable_checkpointing=False, enable_progress_bar=t.progress, enable_model_summary=False,
                        callbacks=_progress_bar(t.progress),
                        limit_train_batches=t.limit_train_batches, limit_val_batches=0)
    trainer.fit(PretrainModule(model, config.optim), train_dataloaders=datamodule.train_dataloader())


def _quiet_lightning(resumed: bool = False) -> None:
    """Lightning's tips about workers and GPUs are noise for CPU users; keep real warnings."""
    if resumed:  # the checkpoints it continues are there on purpose
        warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda", "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # ECGModule moves its (x, y, meta) batches itself, knowing what every loader yields
    warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")
    warnings.filterwarnings("ignore", message=".*number of training batches.*smaller than the logging interval.*")
