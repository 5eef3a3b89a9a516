"""Leave-patients-out cross-validation: model selection without touching any test set.

``cross_validate(config, folds)`` pools the rows of the config's training splits
(``data.train_split`` + ``data.val_split``; never ``data.test_split``), deals their patients into
K folds (whole patients, class shares as even as feasible: :func:`group_split`) and, for each
fold, trains an ordinary run (:func:`ecglab.training.fit.train`) on the other folds, with a seeded
10 % of their patients as validation (early stopping), and scores the fold's patients. Every
pooled beat is therefore scored once, by a model that never saw its patient.

Each fold reads a view of the prepared dataset (the arrays linked, a meta table with the fold's
splits), so nothing is copied. Written to ``OUT_DIR/NAME-cv/``: ``fold-K/`` (each run), ``cv.json``
and ``cv.md`` (per-fold and pooled AAMI Se / +P / F1, pooled confusion matrix, pooled by database).
A fold whose run already finished with the same config is reused, so an interrupted CV continues.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.datasets.core.selection import assign_folds, train_val_split
from ecglab.errors import ConfigError
from ecglab.training.config import RunConfig

INNER_VAL = 0.1  # share of the training folds' patients held out for early stopping
AAMI_SCORED = ("N", "S", "V", "F")  # the classes the inter-patient literature reports (Q is too rare)


@dataclass
class CVResult:
    directory: Path
    report: dict

    @property
    def markdown(self) -> Path:
        return self.directory / "cv.md"


def fold_view(dataset: PreparedDataset, pool: np.ndarray, fold_of_row: np.ndarray, fold: int, seed: int,
              out: Path) -> Path:
    """A dataset directory whose split column says train / val / test for ``fold`` (rows outside the
    pool: ``unused``); the signal and label arrays are links to the original's."""
    meta = dataset.meta.copy()
    split = np.full(len(meta), "unused", dtype=object)
    test = pool[fold_of_row == fold]
    rest = pool[fold_of_row != fold]
    split[test] = "test"
    split[rest] = train_val_split(meta["patient_id"].to_numpy()[rest], np.asarray(dataset.labels)[rest].argmax(axis=1),
                                  INNER_VAL, seed + fold)
    meta["split"] = split
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ("signals.npy", "labels.npy"):
        (out / name).symlink_to((dataset.path / name).resolve())
    meta.to_parquet(out / "meta.parquet", index=False)
    manifest = {**dataset.manifest, "warnings": [], "cv_fold": fold, "cv_of": str(dataset.path), "cv_seed": seed}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


def cross_validate(config: RunConfig, folds: int = 5, progress: bool = True, split_seed: int | None = None) -> CVResult:
    """``split_seed`` deals the folds and their validation patients (default ``trainer.seed``, which also seeds
    training): the members of an ensemble share it, whatever their own training seeds."""
    from ecglab.training.fit import config_differences, ensure_dataset, train

    seed = config.trainer.seed if split_seed is None else split_seed

    if folds < 2:
        raise ConfigError(f"--folds {folds}: cross-validation needs at least 2 folds.")
    dataset = ensure_dataset(config.data)
    if dataset.kind != "multiclass":
        raise ConfigError(f"`ecglab cv` scores multiclass datasets (AAMI beats); {dataset.path} is {dataset.kind}.")
    splits = [*config.data.train_split, config.data.val_split]
    pool = np.flatnonzero(dataset.meta["split"].astype(str).isin(splits).to_numpy())
    labels = np.asarray(dataset.labels)
    fold_of_row = assign_folds(dataset.meta["patient_id"].to_numpy()[pool], labels[pool].argmax(axis=1), folds,
                               seed)
    directory = Path(config.out_dir) / f"{config.name}-cv"
    folds_scored = []
    for fold in range(folds):
        run = config.model_copy(update={
            "name": f"fold-{fold}", "out_dir": str(directory),
            "data": config.data.model_copy(update={"path": str(directory / "data" / f"fold-{fold}"), "prepare": None,
                                                   "train_split": ["train"], "val_split": "val", "test_split": "test"}),
            "trainer": config.trainer.model_copy(update={"progress": progress}),
            "report": config.report.model_copy(update={"n_boot": 0, "baseline": False}),
        })
        done = run.run_dir / "predictions.npz"
        reusable = done.exists() and not config_differences(run, run.run_dir) and _dealt_with(run.data.path, seed)
        # written again even for a finished fold: a dataset prepared again (new columns) must reach its views
        fold_view(dataset, pool, fold_of_row, fold, seed, Path(run.data.path))
        if not reusable:
            if run.run_dir.exists():
                shutil.rmtree(run.run_dir)
            train(run)
        saved = np.load(done, allow_pickle=False)
        folds_scored.append((saved["y_test"], saved["p_test"], pool[fold_of_row == fold]))
    return write_cv(directory, config.name, dataset, seed, splits, pool, folds_scored)


def _dealt_with(view: str, seed: int) -> bool:
    """Whether the fold view at ``view`` was dealt with ``seed`` (a finished fold run is reused only then)."""
    manifest = Path(view) / "manifest.json"
    return manifest.is_file() and json.loads(manifest.read_text()).get("cv_seed", seed) == seed


def write_cv(directory: Path, name: str, dataset: PreparedDataset, seed: int, splits: list[str], pool: np.ndarray,
             folds_scored: list[tuple[np.ndarray, np.ndarray, np.ndarray]], source: str | None = None) -> CVResult:
    """Score each fold's held-out ``(y_true, y_prob, rows)``, then all of them pooled (and by database), and write
    ``predictions.npz``, ``cv.json`` and ``cv.md`` to ``directory``. ``source``: the dataset's name in the
    report, if not its path."""
    patients = dataset.meta["patient_id"].to_numpy()
    per_fold = []
    for y_fold, p_fold, rows_fold in folds_scored:
        per_fold.append(aami_scores(y_fold, p_fold, dataset.classes))
        per_fold[-1]["patients"] = int(len(np.unique(patients[rows_fold])))
    y_true, y_prob, rows = (np.concatenate(parts) for parts in zip(*folds_scored))
    report = {"config": name, "dataset": source or str(dataset.path), "folds": len(folds_scored), "seed": seed,
              "splits_pooled": splits, "n_beats": int(len(rows)), "n_patients": int(len(np.unique(patients[pool]))),
              "pooled": aami_scores(y_true, y_prob, dataset.classes), "per_fold": per_fold}
    if "database" in dataset.meta:
        database = dataset.meta["database"].to_numpy()[rows]
        report["by_database"] = {str(db): aami_scores(y_true[database == db], y_prob[database == db], dataset.classes)
                                 for db in np.unique(database)}
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / "predictions.npz", y_true=y_true, y_prob=y_prob, rows=rows,
                        classes=np.array(dataset.classes))
    (directory / "cv.json").write_text(json.dumps(report, indent=1))
    (directory / "cv.md").write_text(cv_markdown(report, dataset.classes))
    return CVResult(directory, report)


def aami_scores(y_true: np.ndarray, y_prob: np.ndarray, classes: list[str]) -> dict:
    """Se, +P and F1 per class at the most probable class, counted as EC57 asks
    (:func:`ecglab.evaluation.tables.aami_scores`), with the confusion matrix."""
    from ecglab.evaluation.metrics import multiclass_confusion
    from ecglab.evaluation.tables import aami_scores as scores_of

    confusion = multiclass_confusion(y_true, y_prob)
    scores = scores_of(confusion, classes)
    per_class = {c: {"se": scores[c]["se"], "ppv": scores[c]["ppv"], "f1": scores[c]["f1"], "n": scores[c]["support"],
                     "exempt": scores[c]["exempt"]} for c in classes}
    return {"n": int(len(y_true)), "accuracy": float(np.trace(confusion) / max(len(y_true), 1)),
            "per_class": per_class, "confusion_matrix": confusion.tolist()}


def _cells(scores: dict) -> list[str]:
    from ecglab.evaluation.tables import fmt

    cells = []
    for c in AAMI_SCORED:
        m = scores["per_class"].get(c)
        se, ppv = (None, None) if m is None else (m["se"], m["ppv"])
        cells.append("—" if m is None or not m["n"] else f"{_pct(se)} / {_pct(ppv)} / {fmt(m['f1'], 2)}")
    return cells


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def cv_markdown(report: dict, classes: list[str]) -> str:
    from ecglab.evaluation.tables import _table, aami_table

    header = ["", "beats", "patients", *(f"{c} Se / +P / F1" for c in AAMI_SCORED)]
    rows = [[f"fold {k}", str(f["n"]), str(f["patients"]), *_cells(f)] for k, f in enumerate(report["per_fold"])]
    rows.append(["**pooled**", str(report["n_beats"]), str(report["n_patients"]), *_cells(report["pooled"])])
    for db, scores in report.get("by_database", {}).items():
        rows.append([f"pooled, {db}", str(scores["n"]), "", *_cells(scores)])
    return (f"# {report['config']}: {report['folds']}-fold leave-patients-out cross-validation\n\n"
            f"Dataset {report['dataset']} (splits {', '.join(report['splits_pooled'])}), folds dealt by patient "
            f"with seed {report['seed']}; each beat scored by the model of the fold that held its patient out. "
            "Se and +P in percent.\n\n" + _table(header, rows)
            + "\n\n## Pooled confusion matrix\n\n" + aami_table(report["pooled"]["confusion_matrix"], classes) + "\n")
