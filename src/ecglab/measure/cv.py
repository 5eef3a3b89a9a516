"""Patient-level K-fold cross-validation of the delineator on LUDB: every record scored once, by the model
of the fold that held its patient out.

    python -m ecglab.measure.cv SOURCE_LUDB OUT [--folds 3] [--steps 900] [--seed 0] [--nk-method dwt]

SOURCE is prepared as ``ecglab prepare ludb`` does by default (250 Hz, 0.5–40 Hz, standardised per lead)
into ``OUT/data``. Its patients (one record each) are dealt into K folds stratified by rhythm group, as
``ecglab cv`` deals beats (:func:`~ecglab.datasets.core.selection.assign_folds`). For each fold a
delineator is trained (:func:`~ecglab.measure.train.fit_delineator`) on the other folds, a seeded
``VAL_SHARE`` of their patients picking the step, into ``OUT/fold-K/``; the fold's records are scored
with :func:`~ecglab.measure.evaluate.score_delineation` (ecglab and neurokit2, lead II and all leads,
QRS axis category, heart rate). The raw tallies (counts and errors, not percentages) are pooled over
the folds into ``OUT/cv.json`` and ``OUT/cv.md``. A fold model already in ``OUT/fold-K/`` trained with
the same options is reused, so an interrupted CV continues and post-processing can be re-scored on the
same models without training again.
"""

from __future__ import annotations

import argparse
import json
from functools import reduce
from operator import add
from pathlib import Path

import numpy as np

from ecglab.datasets.core.selection import assign_folds, train_val_split
from ecglab.datasets.ludb import rhythm_group
from ecglab.measure.evaluate import (
    DelineationTally,
    delineation_report,
    markdown,
    score_delineation,
)

VAL_SHARE = 0.15  # of the training folds' patients, to pick the best step (the shipped model's split is 106/22)
OPTIONS_FILE = "cv_options.json"


def rhythm_groups(meta) -> np.ndarray:
    return np.array([rhythm_group(r, p) for r, p in zip(meta["rhythm"], meta["paced"])])


def fold_of_rows(meta, folds: int, seed: int) -> np.ndarray:
    """Fold number per row of a prepared ``ludb`` dataset: whole patients, rhythm groups spread evenly."""
    return assign_folds(meta["patient_id"].to_numpy(), rhythm_groups(meta), folds, seed)


def fold_split(dataset, fold_of_row: np.ndarray, fold: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows to train the fold's model on and rows to pick its step with: the other folds' patients, whole."""
    rest = np.flatnonzero(fold_of_row != fold)
    split = train_val_split(dataset.meta["patient_id"].to_numpy()[rest], rhythm_groups(dataset.meta)[rest], VAL_SHARE,
                            seed + fold)
    return rest[split == "train"], rest[split == "val"]


def train_fold(dataset, fold_of_row: np.ndarray, fold: int, out: Path, *, seed: int, log=print, **options) -> Path:
    """The fold's delineator (trained on the other folds), reused from ``out`` when trained with these options."""
    wanted = {"seed": seed, **options}
    saved = out / OPTIONS_FILE
    if saved.is_file() and json.loads(saved.read_text()) == wanted and (out / "bundle.json").is_file():
        log(f"fold {fold}: reusing the model in {out}")
        return out
    from ecglab.measure.train import fit_delineator

    train, val = fold_split(dataset, fold_of_row, fold, seed)
    log(f"fold {fold}: training on {len(train)} patients, {len(val)} to pick the step")
    fit_delineator(dataset, train, val, out, seed=seed, log=log, **options)
    saved.write_text(json.dumps(wanted))
    return out


def cross_validate_delineator(source: str | Path, out: str | Path, *, folds: int = 3, seed: int = 0,
                              nk_method: str | None = "dwt", records: str | None = None, log=print,
                              **options) -> dict:
    """Train and score the K folds, pool them, write ``cv.json`` and ``cv.md``; returns the JSON report.

    ``records``: as ``ecglab prepare ludb --records`` (default all of SOURCE); ``options``: those of
    :func:`~ecglab.measure.train.fit_delineator` (steps, batch, width, …).
    """
    from ecglab.datasets.core.registry import prepare

    source, out = Path(source), Path(out)
    chosen = {} if records is None else {"records": records}
    dataset = prepare("ludb", out / "data", source, workers=1, progress=False, **chosen)
    fold_of_row = fold_of_rows(dataset.meta, folds, seed)
    names = dataset.meta["record_id"].to_numpy()
    tallies, per_fold = [], []
    for fold in range(folds):
        bundle = train_fold(dataset, fold_of_row, fold, out / f"fold-{fold}", seed=seed, log=log, **options)
        held_out = [str(n) for n in names[fold_of_row == fold]]
        tallies.append(score_delineation(bundle, source, held_out, nk_method))
        per_fold.append(delineation_report(tallies[-1], fold=fold, bundle=str(bundle), record_ids=held_out))
        log(f"fold {fold}: scored {len(held_out)} records")
    report = pooled_report(tallies, per_fold, folds=folds, seed=seed, source=str(source), **options)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cv.json").write_text(json.dumps(report, indent=1))
    (out / "cv.md").write_text(cv_markdown(report))
    return report


def pooled_report(tallies: list[DelineationTally], per_fold: list[dict], **about) -> dict:
    pooled: DelineationTally = reduce(add, tallies)
    return {**delineation_report(pooled, **about), "per_fold": per_fold}


def cv_markdown(report: dict) -> str:
    sizes = " / ".join(str(f["records"]) for f in report["per_fold"])
    head = (f"# Delineation: {len(report['per_fold'])}-fold patient-level cross-validation\n\n"
            f"{report['records']} records of {report['source']} (folds of {sizes} patients, seed {report['seed']}, "
            f"rhythm groups spread evenly); each record scored once, by the model of the fold that held it out. "
            f"Counts and errors pooled over the folds.\n")
    return head + markdown(report) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="K-fold patient-level cross-validation of the LUDB delineator.")
    parser.add_argument("source", help="a LUDB-style folder: ludb.csv, RECORDS, data/N.hea + per-lead annotations")
    parser.add_argument("out", help="directory for the prepared data, the fold models, cv.json and cv.md")
    for name, default in (("folds", 3), ("steps", 800), ("batch", 32), ("seed", 0)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--nk-method", default="dwt", help="neurokit2 ecg_delineate method to compare with, or 'none'")
    parser.add_argument("--records", default=None, help="record names (data/1,data/2) or a file listing them")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    nk_method = None if args.nk_method.lower() == "none" else args.nk_method
    report = cross_validate_delineator(args.source, args.out, folds=args.folds, seed=args.seed, nk_method=nk_method,
                                       records=args.records, steps=args.steps, batch=args.batch)
    print(cv_markdown(report))


if __name__ == "__main__":
    main()
