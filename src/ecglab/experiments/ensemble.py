"""``ecglab ensemble``: combine trained runs into one model, evaluate it like a model, export a bundle.

``mean`` averages the members' probabilities; ``stacking`` fits a logistic regression (Wolpert
1992, "Stacked generalization") on the members' validation predictions (``predictions.npz``)
and applies it to their probabilities. Either way the result is an ``ensemble`` bundle
(:mod:`ecglab.models.ensemble`) holding every member's weights, which ``ecglab predict`` uses like
any bundle; its report comes from running that bundle on the members' validation and test splits.
For record models scored by windows, the stacking regression is fitted on the record-level
(window-aggregated) validation probabilities and applied to each window before aggregation.

Given ``ecglab cv`` run directories instead, :func:`ensemble_cv` ensembles their fold models fold by fold,
so an ensemble of recipes is cross-validated like one recipe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from ecglab.errors import ConfigError, EcglabError
from ecglab.inference.bundle import BundleSpec, load_bundle, save_bundle
from ecglab.inputs.alike import AlikeBeats, check_alike
from ecglab.inputs.beats import BEAT_PRESETS, P_WINDOW_S
from ecglab.inputs.metadata import MetaFeature
from ecglab.models.ensemble import GATE_FEATURES, GATE_RULES

METHODS = ("mean", "stacking")
AGREE = ("kind", "input", "classes", "fs", "leads", "input_length", "preprocessing", "beats", "window_stride",
         "aggregate", "meta_features", "measured")
ABSENT_CLASS_BIAS = -30.0  # a class never seen in validation gets (practically) zero probability


@dataclass
class Member:
    run_dir: Path
    model: torch.nn.Module
    spec: BundleSpec
    predictions: dict  # predictions.npz: y_val, p_val, y_test, p_test, val_records, test_records, classes


def load_member(run_dir: str | Path) -> Member:
    run_dir = Path(run_dir)
    missing = [name for name in ("bundle/bundle.json", "predictions.npz", "config.yaml") if not (run_dir / name).is_file()]
    if missing:
        raise EcglabError(f"{run_dir} is not a finished run directory: {', '.join(missing)} missing "
                          "(expected what `ecglab train` writes: config.yaml, predictions.npz, bundle/).")
    model, spec = load_bundle(run_dir / "bundle")
    with np.load(run_dir / "predictions.npz", allow_pickle=False) as archive:
        predictions = {key: archive[key] for key in archive.files}
    return Member(run_dir, model, spec, predictions)


def check_members(members: list[Member]) -> None:
    """Members must take the same input and predict the same classes, on the same validation records."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two runs; got {len(members)}.")
    first = members[0]
    for other in members[1:]:
        differs = [key for key in AGREE if getattr(other.spec, key) != getattr(first.spec, key)]
        if differs:
            detail = "; ".join(f"{key}: {getattr(first.spec, key)!r} vs {getattr(other.spec, key)!r}" for key in differs)
            raise ConfigError(f"runs {first.run_dir} and {other.run_dir} cannot be ensembled: they differ in {detail}.")
        for key in ("val_records", "test_records"):
            if not np.array_equal(first.predictions[key], other.predictions[key]):
                raise ConfigError(f"runs {first.run_dir} and {other.run_dir} were evaluated on different {key.split('_')[0]} "
                                  "records; ensemble runs trained on the same prepared dataset and splits.")


def stacking_weights(p_val: list[np.ndarray], y_val: np.ndarray, kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression on the members' validation probabilities, as (weight (C, M·C), bias (C,)) of a linear layer.

    Multiclass: one multinomial regression (softmax of the layer's output); a class absent from the
    validation labels gets zero weight and a very low bias. Multilabel: one binary regression per
    class (sigmoid); a class with one label value only gets zero weight and the log-odds of its rate.
    """
    from sklearn.linear_model import LogisticRegression

    features = np.concatenate(p_val, axis=1).astype(np.float64)
    n_classes = y_val.shape[1]
    weight, bias = np.zeros((n_classes, features.shape[1])), np.zeros(n_classes)
    if kind == "multiclass":
        target = y_val.argmax(axis=1)
        present = np.unique(target)
        bias[:] = ABSENT_CLASS_BIAS
        if len(present) == 1:
            bias[present[0]] = 0.0
            return weight, bias
        regression = LogisticRegression(max_iter=2000, random_state=seed).fit(features, target)
        coef, intercept = regression.coef_, regression.intercept_
        if len(present) == 2:  # scikit-learn's binary form: one row for the second class against the first
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
        weight[present], bias[present] = coef, intercept
        return weight, bias
    for c in range(n_classes):
        target = y_val[:, c]
        if target.min() == target.max():
            rate = np.clip(target.mean(), 1e-4, 1 - 1e-4)
            bias[c] = np.log(rate / (1 - rate))
            continue
        regression = LogisticRegression(max_iter=2000, random_state=seed).fit(features, target)
        weight[c], bias[c] = regression.coef_[0], regression.intercept_[0]
    return weight, bias


def ensemble_model(members: list[Member], method: str, gates: dict | None = None):
    """The ``ensemble`` model with every member's weights (and the stacking layer fitted), its kwargs and
    metadata features (the members', then the gates'). ``gates``: ``{"prematurity": …, "rhythm": …, "morphology":
    {…} or None}`` (:class:`~ecglab.training.config.PrematurityGateConfig`, ``RhythmGateConfig``,
    ``MorphologyGateConfig``) or None."""
    from ecglab.models import create_model

    if method not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)}; got {method!r}.")
    spec = members[0].spec
    kwargs = {"members": [{"architecture": m.spec.architecture, "kwargs": m.spec.model_kwargs} for m in members],
              "method": method, "kind": spec.kind}
    meta_features = list(spec.meta_features)
    if gates is not None:
        kwargs["gates"] = beat_gates(spec.input, spec.classes, spec.beats, gates)
        # missing: no gate applies (a missing p_consistency is not atrial fibrillation, rr_prev_rel not premature)
        fills = {"rr_irregularity": 0.0, "p_consistency": 1.0, "qrs_difference": 0.0, "rr_prev_rel": 1.0}
        meta_features += [MetaFeature(name=name, fill=fills[name]) for name in GATE_FEATURES]
    model = create_model("ensemble", n_leads=spec.channels, n_classes=len(spec.classes), input_length=spec.input_length,
                         n_meta=len(meta_features), **kwargs)
    for target, member in zip(model.members, members):
        target.load_state_dict(member.model.state_dict())
    if method == "stacking":
        weight, bias = stacking_weights([m.predictions["p_val"] for m in members], members[0].predictions["y_val"],
                                        spec.kind)
        with torch.no_grad():
            model.combiner.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            model.combiner.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return model.eval(), kwargs, meta_features


def beat_gates(input: str | None, classes: list[str], beats, gates: dict) -> dict:
    """The model's gates (see :class:`~ecglab.models.ensemble.Ensemble`) for models of ``input`` into ``classes``
    cut as ``beats`` (a BeatSpec). Refused where the beats are not AAMI classes or their cut holds no P wave."""
    if input != "beat" or not {"N", "S", "V"} <= set(classes):
        raise ConfigError(f"gates are for beat models with the AAMI classes N, S and V; these models classify "
                          f"{input}s into {classes}.")
    if beats is None or beats.method != "centred" or beats.before_s < P_WINDOW_S[0]:
        with_p = [name for name, preset in BEAT_PRESETS.items()
                  if preset.method == "centred" and preset.before_s >= P_WINDOW_S[0]]
        raise ConfigError(f"gates compare P waves and QRS complexes, so the members' beats must be cut from at least "
                          f"{P_WINDOW_S[0]} s before the R peak (beats: {', '.join(with_p)}); got {beats}.")
    return {"classes": {c: classes.index(c) for c in ("N", "S", "V")},
            **{name: gates.get(name) for name in GATE_RULES}}


def build_ensemble(runs: list[str | Path], method: str, out: str | Path, data: str | Path | None = None,
                   n_boot: int = 200, gates: dict | None = None, alike: AlikeBeats | None = None):
    """Ensemble ``runs``; write ``out``/bundle, report/, predictions.npz. Returns a RunResult. ``alike``: the
    V probability shared among alike beats of a record (:mod:`ecglab.inputs.alike`)."""
    from ecglab.datasets.core.prepared import PreparedDataset
    from ecglab.evaluation import tune_thresholds
    from ecglab.training.evaluate import bundle_predictions, write_run_report
    from ecglab.training.result import RunResult

    members = [load_member(run) for run in runs]
    check_members(members)
    model, kwargs, meta_features = ensemble_model(members, method, gates)
    first = members[0]
    check_alike(alike, first.spec.input, first.spec.classes, first.spec.beats)
    trained_on = yaml.safe_load((first.run_dir / "config.yaml").read_text())["data"]
    data = Path(data or trained_on["path"])
    dataset = PreparedDataset(data)
    measured = first.spec.measured.names if first.spec.measured else []
    missing = [f.name for f in meta_features if f.name not in [*dataset.meta.columns, *measured]]
    if missing:
        again = ("run that `ecglab cv` again: it rewrites its fold views and reuses finished folds" if
                 dataset.manifest.get("cv_of") else "prepare it again (`ecglab prepare … --force`)")
        raise ConfigError(f"{data} has no column {', '.join(missing)}, which the ensemble reads; it was prepared by an "
                          f"older ecglab: {again}.")
    val_split = trained_on.get("val_split", "val")
    test_split = trained_on.get("test_split", "test")
    test_split = test_split if test_split in dataset.splits else val_split  # as training reports it
    spec = first.spec.model_copy(update={"architecture": "ensemble", "model_kwargs": kwargs, "thresholds": None,
                                         "meta_features": meta_features, "alike_beats": alike})
    y_val, p_val = bundle_predictions(model, spec, dataset, val_split, source=f"the ensemble of {first.run_dir} …")
    y_test, p_test = bundle_predictions(model, spec, dataset, test_split, source=f"the ensemble of {first.run_dir} …",
                                        say=False)
    thresholds = tune_thresholds(y_val, p_val) if spec.kind == "multilabel" else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "predictions.npz", y_val=y_val, p_val=p_val, y_test=y_test, p_test=p_test,
                        val_records=first.predictions["val_records"], test_records=first.predictions["test_records"],
                        classes=np.array(spec.classes))
    names = ", ".join(f"{m.spec.architecture} ({m.run_dir.name})" for m in members)
    report = write_run_report(out / "report", dataset, test_split, y_test, p_test, y_val, p_val, thresholds,
                              n_boot=n_boot, title=f"{method} ensemble of {names} on {dataset.name}",
                              test_index=dataset.split_indices(test_split))
    metrics = report["test"]
    spec = spec.model_copy(update={
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "metrics": {k: metrics[k] for k in ("macro_auroc", "macro_auprc", "macro_f1", "accuracy") if k in metrics}})
    bundle_dir = save_bundle(out / "bundle", model, spec)
    (out / "ensemble.yaml").write_text(yaml.safe_dump({"method": method, "members": [str(m.run_dir) for m in members],
                                                       "data": str(data), "gates": gates,
                                                       "alike_beats": alike and alike.model_dump()}, sort_keys=False))
    return RunResult(out, report, bundle_dir, out / "report")


def ensemble_cv(cv_dirs: list[str | Path], method: str, out: str | Path, gates: dict | None = None,
                alike: AlikeBeats | None = None):
    """The ensemble of ``ecglab cv`` runs dealt the same folds: per fold, the ensemble of the members' fold runs
    (``out/fold-K/``, whose bundle ``ecglab evaluate-beats out DIR…`` applies to the records that fold held out),
    scored and pooled as ``ecglab cv`` scores a single recipe. Returns a CVResult."""
    import pandas as pd

    from ecglab.datasets.core.prepared import PreparedDataset
    from ecglab.training.cv import write_cv

    cv_dirs, out = [Path(d) for d in cv_dirs], Path(out)
    reports = [json.loads((d / "cv.json").read_text()) for d in cv_dirs]
    first = reports[0]
    for directory, report in zip(cv_dirs[1:], reports[1:]):
        if (report["folds"], report["seed"], report["n_beats"]) != (first["folds"], first["seed"], first["n_beats"]):
            raise ConfigError(f"{cv_dirs[0]} and {directory} were not dealt the same folds (folds, seed or beats "
                              "differ); ensemble cross-validations of one dataset with the same --folds and trainer.seed.")
    folds_scored = []
    for fold in range(first["folds"]):
        view = cv_dirs[0] / "data" / f"fold-{fold}"
        build_ensemble([d / f"fold-{fold}" for d in cv_dirs], method, out / f"fold-{fold}", data=view, n_boot=0,
                       gates=gates, alike=alike)
        with np.load(out / f"fold-{fold}" / "predictions.npz", allow_pickle=False) as saved:
            split = pd.read_parquet(view / "meta.parquet", columns=["split"])["split"].to_numpy()
            folds_scored.append((saved["y_test"], saved["p_test"], np.flatnonzero(split == "test")))
    if not (out / "data").exists():
        (out / "data").symlink_to((cv_dirs[0] / "data").resolve())  # the fold views: which records each fold held out
    dataset = PreparedDataset(cv_dirs[0] / "data" / "fold-0")  # every row, with the pooled patients' splits
    pool = np.flatnonzero(dataset.meta["split"].astype(str).to_numpy() != "unused")
    name = f"{method} ensemble of " + " + ".join(report["config"] for report in reports)
    return write_cv(out, name, dataset, first["seed"], first["splits_pooled"], pool, folds_scored,
                    source=first["dataset"])


def train_ensemble(config, resume: bool = False):
    """``ecglab train`` of a config with an ``ensemble`` section: each member trained (a finished one with the
    same config reused) into ``RUN_DIR/member-K``, then their mean (or stacking) ensemble written to RUN_DIR
    (bundle/, report/, predictions.npz) and evaluated on the config's test split. Returns its RunResult (None
    on the non-zero ranks of a multi-process run)."""
    from ecglab.training.config import member_configs
    from ecglab.training.fit import config_differences, ensure_dataset, train

    members = member_configs(config, config.run_dir)  # all validated before any training
    gates = gates_of(config)
    # prepared here, not only by the members' training: when all are reused, the ensemble still reads it
    check_beat_rules(gates, ensure_dataset(config.data), config.ensemble.alike_beats)
    for member in members:
        finished = (member.run_dir / "predictions.npz").is_file() and not config_differences(member, member.run_dir)
        if not finished and train(member, resume=resume and member.run_dir.exists()) is None:
            return None  # a non-zero DDP rank: rank zero builds the ensemble
    result = build_ensemble([m.run_dir for m in members], config.ensemble.method, config.run_dir,
                            n_boot=config.report.n_boot, gates=gates, alike=config.ensemble.alike_beats)
    (config.run_dir / "config.yaml").write_text(config.to_yaml())
    return result


def cross_validate_ensemble(config, folds: int, progress: bool = False):
    """``ecglab cv`` of a config with an ``ensemble`` section: each member cross-validated over the same folds
    (``OUT_DIR/NAME-cv/member-K-cv``), then :func:`ensemble_cv` of them into ``OUT_DIR/NAME-cv``."""
    from ecglab.training.config import member_configs
    from ecglab.training.cv import cross_validate
    from ecglab.training.fit import ensure_dataset

    directory = config.run_dir.parent / f"{config.name}-cv"
    members = member_configs(config, directory)
    gates = gates_of(config)
    check_beat_rules(gates, ensure_dataset(config.data), config.ensemble.alike_beats)
    runs = [cross_validate(member, folds, progress=progress, split_seed=config.trainer.seed).directory
            for member in members]  # the same folds for all, even for members with a training seed of their own
    return ensemble_cv(runs, config.ensemble.method, directory, gates=gates, alike=config.ensemble.alike_beats)


def check_beat_rules(gates: dict | None, dataset, alike: AlikeBeats | None = None) -> None:
    """Refuse, before any member trains, gates that ``dataset`` cannot carry (not AAMI beats cut with their P wave),
    and an ``alike`` rule it cannot (not beats centred on their R peak)."""
    from ecglab.inputs.beats import BeatSpec

    beats = dataset.manifest.get("beats")
    beats = beats and BeatSpec.model_validate(beats)
    check_alike(alike, dataset.manifest.get("input"), list(dataset.classes), beats)
    if gates is not None:
        beat_gates(dataset.manifest.get("input"), list(dataset.classes), beats, gates)


def gates_of(config) -> dict | None:
    """The gates a config's ensemble section asks for, or None."""
    gates = {name: getattr(config.ensemble, f"{name}_gate") for name in GATE_RULES}
    if all(gate is None for gate in gates.values()):
        return None
    return {name: gate and gate.model_dump() for name, gate in gates.items()}
