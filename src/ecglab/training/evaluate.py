"""After training, and for ``ecglab evaluate``: predict splits, tune thresholds, report, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.inputs.beats import BeatSpec
from ecglab.inputs.match import bundle_preprocessing, data_preprocessing, fit_to_bundle
from ecglab.training.config import RunConfig
from ecglab.training.scoring import predict_loader


def evaluate_after_training(module, datamodule, dataset: PreparedDataset, config: RunConfig, run_dir: Path):
    from ecglab.evaluation import tune_thresholds
    from ecglab.training.result import RunResult

    y_val, p_val = predict_loader(module, datamodule.val_dataloader(), module.predict_proba)
    split = config.data.test_split if datamodule.test_index is not None else config.data.val_split
    index = datamodule.test_index if datamodule.test_index is not None else datamodule.val_index
    y_test, p_test = (predict_loader(module, datamodule.test_dataloader(), module.predict_proba) if datamodule.test_index is not None
                      else (y_val, p_val))
    thresholds = tune_thresholds(y_val, p_val) if dataset.kind == "multilabel" else None
    baseline = _baseline(datamodule, dataset, index, y_test, config) if config.report.baseline else None
    np.savez_compressed(run_dir / "predictions.npz", y_val=y_val, p_val=p_val, y_test=y_test, p_test=p_test,
                        val_records=dataset.meta["record_id"].iloc[datamodule.val_index].to_numpy(dtype=str),
                        test_records=dataset.meta["record_id"].iloc[index].to_numpy(dtype=str), classes=np.array(dataset.classes))
    report = write_run_report(run_dir / "report", dataset, split, y_test, p_test, y_val, p_val, thresholds,
                              history=read_history(run_dir), baseline=baseline, n_boot=config.report.n_boot,
                              title=f"{config.name}: {config.model.name} on {dataset.name}",
                              test_index=index, temperature_scaling=config.report.temperature_scaling)
    bundle_dir = export_bundle(run_dir / "bundle", module, datamodule, dataset, config, thresholds, report["test"])
    return RunResult(run_dir, report, bundle_dir, run_dir / "report")


def write_run_report(out_dir: Path, dataset: PreparedDataset, split: str, y_test, p_test, y_val, p_val, thresholds,
                     history=None, baseline=None, n_boot: int = 200, title: str = "evaluation",
                     test_index: np.ndarray | None = None, temperature_scaling: bool = False) -> dict:
    """The run report; ``test_index`` (the test rows) adds metrics by sex and age band where the meta has them."""
    from ecglab.evaluation import record_groups, write_report

    extra = {"dataset": dataset.name, "split": split, "n_records": int(len(y_test))}
    groups = record_groups(dataset.meta.iloc[test_index]) if test_index is not None else None
    return write_report(out_dir, title=title, kind=dataset.kind, classes=dataset.classes, y_true=y_test, y_prob=p_test,
                        thresholds_val=thresholds, history=history, baseline=baseline, extra=extra,
                        y_true_val=y_val, y_prob_val=p_val, n_boot=n_boot, groups=groups,
                        temperature_scaling=temperature_scaling and y_val is not None)


def read_history(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / "logs" / "metrics.csv"
    return pd.read_csv(path) if path.exists() else None


def _baseline(datamodule, dataset: PreparedDataset, test_index, y_test, config: RunConfig) -> dict:
    from ecglab.evaluation import compute_metrics
    from ecglab.training.baseline import raw_logistic_baseline

    probs = raw_logistic_baseline(dataset.signals, datamodule.labels, datamodule.train_index, test_index,
                                  dataset.kind, config.trainer.seed)
    metrics = compute_metrics(y_test, probs, dataset.kind, dataset.classes)  # same decision rule as the model's
    return {"name": "logistic regression on the raw samples", "macro_auroc": metrics["macro_auroc"],
            "macro_auprc": metrics["macro_auprc"], "macro_f1": metrics["macro_f1"]}


def export_bundle(path: Path, module, datamodule, dataset: PreparedDataset, config: RunConfig, thresholds, metrics) -> Path:
    from ecglab.inference.bundle import BundleSpec, save_bundle

    preprocessing = data_preprocessing(dataset.manifest)
    beats = dataset.manifest.get("beats")
    spec = BundleSpec(
        architecture=config.model.name, model_kwargs=dict(config.model.hparams), kind=dataset.kind,
        input="beat" if beats else "record", classes=dataset.classes, fs=dataset.fs, leads=dataset.leads,
        input_length=datamodule.window, preprocessing=preprocessing, beats=BeatSpec.model_validate(beats) if beats else None,
        window_stride=datamodule.stride, aggregate=config.data.aggregate,
        thresholds=None if thresholds is None else [float(t) for t in thresholds],
        meta_features=datamodule.meta_features, measured=datamodule.measured, dataset=dataset.name,
        metrics={k: metrics.get(k) for k in ("macro_auroc", "macro_auprc", "macro_f1", "accuracy") if k in metrics},
    )
    return save_bundle(path, module.model, spec)


def evaluate_bundle(bundle: str | Path, data: str | Path, split: str = "test", out: str | Path | None = None,
                    val_split: str | None = "val", n_boot: int = 200) -> tuple[dict, Path]:
    """Evaluate a bundle on a split of a prepared dataset; thresholds re-tuned on ``val_split`` if present."""
    from ecglab.evaluation import tune_thresholds
    from ecglab.inference.bundle import load_bundle, resolve_bundle

    bundle = resolve_bundle(bundle)
    model, spec = load_bundle(bundle)
    dataset = PreparedDataset(data)
    y_test, p_test = bundle_predictions(model, spec, dataset, split, source=bundle)
    y_val = p_val = None
    thresholds = np.asarray(spec.thresholds) if spec.thresholds else None
    if val_split and val_split in dataset.splits and val_split != split:
        y_val, p_val = bundle_predictions(model, spec, dataset, val_split, source=bundle, say=False)
        if spec.kind == "multilabel":
            thresholds = tune_thresholds(y_val, p_val)
    out = Path(out) if out else bundle.parent / f"eval-{dataset.name}-{split}"
    report = write_run_report(out, dataset, split, y_test, p_test, y_val, p_val, thresholds, n_boot=n_boot,
                              title=f"{spec.architecture} ({bundle}) on {dataset.name}/{split}",
                              test_index=dataset.split_indices(split))
    return report, out


def bundle_predictions(model, spec, dataset: PreparedDataset, split: str, source: str | Path = "the bundle",
                       batch_size: int = 64, say: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(y_true uint8, y_prob) of a loaded bundle on one split, windowed and aggregated as the bundle says.

    The data must hold what the model saw in training (:func:`ecglab.inputs.match.fit_to_bundle`):
    preprocessing the bundle can add to the stored signals it adds, with a note (``say``: the
    first split of several); else it refuses."""
    from ecglab.inputs.metadata import meta_matrix
    from ecglab.inputs.preprocess import preprocess
    from ecglab.training.dataset import RecordDataset, record_loader
    from ecglab.training.measured import with_measurements
    from ecglab.training.scoring import windowed_probabilities

    measured = spec.measured.names if spec.measured else []
    steps = fit_to_bundle(spec, dataset.manifest, [*dataset.meta.columns, *measured], str(dataset.path), str(source), say)
    meta = with_measurements(dataset, measured, steps=steps, seen_as=bundle_preprocessing(spec),
                             samples=spec.measured.samples if spec.measured else None)
    meta = meta_matrix(meta, spec.meta_features)
    rows = RecordDataset(dataset.signals, np.asarray(dataset.labels), dataset.split_indices(split), meta)
    stride = spec.window_stride or spec.input_length

    def probabilities(x, m):
        if steps is not None:
            x = torch.from_numpy(preprocess(x.float().numpy(), spec.fs, steps)).to(x.dtype)
        return windowed_probabilities(model, x, m if m.shape[-1] else None, spec.kind, spec.input_length, stride,
                                      spec.aggregate)

    y_true, y_prob = predict_loader(model, record_loader(rows, batch_size), probabilities)
    if spec.alike_beats is not None:
        y_prob = shared_with_alike_beats(y_prob, spec, dataset, dataset.split_indices(split))
    return y_true, y_prob


def shared_with_alike_beats(probs: np.ndarray, spec, dataset: PreparedDataset, rows: np.ndarray) -> np.ndarray:
    """A beat bundle's probabilities of ``rows`` with V shared among alike beats of each record, as the Predictor
    shares them over a record's beats (:mod:`ecglab.inputs.alike`)."""
    from ecglab.inputs.alike import share_with_alike_beats

    records = dataset.meta["record_id"].to_numpy()[rows]
    shared = np.array(probs, dtype=np.float32)
    for record in pd.unique(records):
        at = np.flatnonzero(records == record)
        shared[at] = share_with_alike_beats(shared[at], dataset.signals[rows[at]], spec.beats, len(spec.leads),
                                            spec.classes.index("V"), spec.alike_beats)
    return shared
