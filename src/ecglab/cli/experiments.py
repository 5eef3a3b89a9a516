"""``ecglab benchmark | ensemble | tune | cv``: experiments over many runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ecglab.cli.common import examples


def register(app: typer.Typer) -> None:
    @app.command(epilog=examples(
        "ecglab benchmark configs/mitbih-ds1-benchmark.yaml",
        "ecglab benchmark configs/ptbxl-benchmark.yaml --set data.prepare.options.task=form --set name=ptbxl-form",
        "ecglab benchmark configs/ptbxl-benchmark.yaml --models resnet1d,fcn_wang --set trainer.max_epochs=2",
    ))
    def benchmark(
        config: Path = typer.Argument(..., help="YAML protocol with a benchmark section (see configs/)"),
        set_: List[str] = typer.Option([], "--set", help="override a key of every entry: KEY=VALUE "
                                                         "(benchmark.* keys too)"),
        models: Optional[str] = typer.Option(None, help="train only these entries now, comma-separated labels "
                                                        "(the leaderboard still lists every finished entry)"),
        progress: bool = typer.Option(True, help="show one progress bar over the whole benchmark"),
    ):
        """Train and evaluate each model of a protocol; write leaderboard.md and .csv.

        An entry whose run finished with the same resolved config is skipped; one that finished with a
        different config is an error (write the variant to another out_dir or name, or remove that run)."""
        from ecglab.cli.common import console, parse_list
        from ecglab.experiments.benchmark import LEADERBOARD, run_benchmark
        from ecglab.experiments.protocol import load_benchmark

        plan = load_benchmark(config, list(set_), parse_list(models))
        run_benchmark(plan, progress=progress)
        board = plan.directory / f"{LEADERBOARD}.md"
        console().print(board.read_text(), markup=False, highlight=False)
        console().print(f"leaderboard: {board} (and {LEADERBOARD}.csv)")

    @app.command(epilog=examples(
        "ecglab ensemble runs/mitbih/kachuee runs/mitbih/cnn --out runs/mitbih/ensemble-mean",
        "ecglab ensemble runs/mitbih/kachuee runs/mitbih/cnn --method stacking --out runs/mitbih/stacked",
        "ecglab ensemble runs/plain-cv runs/balanced-cv --out runs/ensemble-cv   # two `ecglab cv` runs, fold by fold",
        "ecglab ensemble runs/plain-cv runs/balanced-cv --prematurity-gate 0.8,0.5 --rhythm-gate 0.15,0.4 "
        "--morphology-gate 0.2,0.05 --out runs/gated-cv",
    ))
    def ensemble(
        runs: List[Path] = typer.Argument(..., help="two or more run directories trained on the same prepared dataset, "
                                          "or two or more `ecglab cv` directories dealt the same folds"),
        out: Path = typer.Option(..., "--out", help="directory for the ensemble's bundle/, report/ and predictions"),
        method: str = typer.Option("mean", help="mean (average of probabilities) | stacking (logistic regression on "
                                                 "the members' validation predictions)"),
        data: Optional[Path] = typer.Option(None, help="prepared dataset (default: the members' data.path)"),
        n_boot: int = typer.Option(200, "--n-boot", help="bootstrap resamples for confidence intervals"),
        prematurity_gate: Optional[str] = typer.Option(None, "--prematurity-gate", metavar="RR_PREV_REL,P_CONSISTENCY",
                                                       help="beat ensembles: S, not N, where the beat's rr_prev_rel is "
                                                            "below the first and its p_consistency above the second "
                                                            "(early in sinus rhythm), e.g. 0.8,0.5"),
        rhythm_gate: Optional[str] = typer.Option(None, "--rhythm-gate", metavar="IRREGULARITY,P_CONSISTENCY",
                                                  help="beat ensembles: no S call where the beat's rr_irregularity is "
                                                       "above the first and its p_consistency below the second "
                                                       "(atrial fibrillation), e.g. 0.15,0.4"),
        morphology_gate: Optional[str] = typer.Option(None, "--morphology-gate", metavar="QRS_DIFFERENCE,V_PROBABILITY",
                                                      help="beat ensembles: V, not S, where the beat's qrs_difference is "
                                                           "above the first and its V probability above the second "
                                                           "(a QRS unlike the patient's usual one), e.g. 0.2,0.05"),
        alike_beats: Optional[str] = typer.Option(None, "--alike-beats", metavar="NEIGHBOURS,RADIUS",
                                                  help="beat ensembles: each beat's V probability is the mean over the "
                                                       "up to NEIGHBOURS beats of its record whose QRS lies within "
                                                       "RADIUS times the record's typical distance of its own, e.g. 20,5"),
    ):
        """Combine trained runs into one model, evaluate it on the test split, export a bundle `ecglab predict` uses.
        Given `ecglab cv` directories, ensemble their fold models fold by fold and report the pooled figures."""
        from ecglab.cli.common import console
        from ecglab.evaluation import format_metrics_table
        from ecglab.experiments.ensemble import build_ensemble

        gates = parse_gates(prematurity_gate, rhythm_gate, morphology_gate)
        alike = parse_alike(alike_beats)
        if all((run / "cv.json").is_file() for run in runs):
            from ecglab.experiments.ensemble import ensemble_cv

            cv = ensemble_cv(runs, method, out, gates=gates, alike=alike)
            console().print(cv.markdown.read_text(), markup=False, highlight=False)
            console().print(f"cross-validation: {cv.markdown} (and cv.json); fold models: {out}/fold-K/bundle")
            return
        result = build_ensemble(runs, method, out, data=data, n_boot=n_boot, gates=gates, alike=alike)
        screen = console()
        screen.print(format_metrics_table(result.metrics, result.report["classes"]), markup=False)
        screen.print(f"report:  {result.report_dir / 'report.md'}")
        screen.print(f"bundle:  {result.bundle_dir}   → ecglab predict {result.bundle_dir} FILE")

    @app.command(epilog=examples(
        "ecglab tune configs/mitbih-kachuee-tune.yaml --trials 20",
        "ecglab tune configs/mitbih-kachuee-tune.yaml --storage postgresql://user@host/optuna --study kachuee   # on each worker",
    ))
    def tune(
        config: Path = typer.Argument(..., help="YAML run config with a tune section (the search space)"),
        trials: Optional[int] = typer.Option(None, help="trials to run now (default: tune.trials of the config)"),
        storage: Optional[str] = typer.Option(None, help="Optuna RDB URL shared by several workers (default: sqlite in "
                                                         "OUT_DIR/NAME-tune/). The TPE sampler is seeded with trainer.seed "
                                                         "only without it; with a shared storage it is unseeded, so that "
                                                         "the workers do not all propose the same trials"),
        study: Optional[str] = typer.Option(None, help="study name (default: the config's name); continued if it exists "
                                                       "and searches the same space"),
        force: bool = typer.Option(False, "--force", help="continue an existing study although its search space changed"),
        set_: List[str] = typer.Option([], "--set", help="override a config key: KEY=VALUE (tune.* keys too, "
                                                         "e.g. tune.trials=1)"),
    ):
        """Search hyper-parameters with Optuna (TPE, median pruning); write the best config as YAML."""
        from ecglab.cli.common import console
        from ecglab.experiments.tune import OBJECTIVE, run_tune

        result = run_tune(config, trials, storage, study, list(set_), force=force)
        out = console()
        frame = result.study.trials_dataframe(attrs=("number", "value", "state", "params"))
        out.print(frame.to_string(index=False), markup=False, highlight=False)
        out.print(f"best {OBJECTIVE}: {result.best_value:.4f}")
        out.print(f"best config: {result.best_config}   → ecglab train {result.best_config}")

    @app.command(epilog=examples(
        "ecglab cv configs/mitbih-inter-svdb.yaml --folds 5 --set data.prepare.options.split=all",
        "ecglab cv configs/mitbih-inter-svdb.yaml --folds 5 --set data.prepare.options.split=all --set loss.name=focal --set name=focal",
    ))
    def cv(
        config: Path = typer.Argument(..., help="YAML run config (the recipe to cross-validate)"),
        folds: int = typer.Option(5, "--folds", help="number of folds; whole patients per fold"),
        set_: List[str] = typer.Option([], "--set", help="override a config key: KEY=VALUE"),
        progress: bool = typer.Option(False, help="show each fold's training progress bar"),
    ):
        """Leave-patients-out cross-validation over the config's training splits (never its test split):
        per-fold and pooled AAMI Se / +P / F1 and the pooled confusion matrix, in OUT_DIR/NAME-cv/cv.md and cv.json."""
        from ecglab.cli.common import console
        from ecglab.training.config import load_config
        from ecglab.training.cv import cross_validate

        run_config = load_config(config, list(set_))
        if run_config.ensemble is not None:
            from ecglab.experiments.ensemble import cross_validate_ensemble as cross_validate
        result = cross_validate(run_config, folds, progress=progress)
        console().print(result.markdown.read_text(), markup=False, highlight=False)
        console().print(f"cross-validation: {result.markdown} (and cv.json)")


def parse_numbers(value: str | None, option: str, schema, example: str, names: list[str] | None = None):
    """An option's comma-separated numbers ('0.15,0.4') as ``schema`` with fields ``names`` (default: all of its
    fields, in order), validated as the config section is; None when not given."""
    from ecglab.errors import ConfigError

    if value is None:
        return None
    names = names or list(schema.model_fields)
    parts = value.split(",")
    try:
        if len(parts) != len(names):
            raise ValueError(f"{len(parts)} values")
        return schema(**dict(zip(names, map(float, parts))))
    except ValueError as exc:  # pydantic's ValidationError is one
        why = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
        raise ConfigError(f"{option} takes {','.join(n.upper() for n in names)}, e.g. {example}; got {value!r} "
                          f"({why}).") from None


def parse_alike(value: str | None):
    """``--alike-beats 20,5`` as the rule of :mod:`ecglab.inputs.alike`, or None."""
    from ecglab.inputs.alike import AlikeBeats

    return parse_numbers(value, "--alike-beats", AlikeBeats, "20,5", ["neighbours", "radius"])


def parse_gates(prematurity: str | None, rhythm: str | None, morphology: str | None) -> dict | None:
    """``--prematurity-gate``, ``--rhythm-gate`` and ``--morphology-gate`` ('0.15,0.4') as an ensemble's gates,
    validated as a config's ``ensemble.*_gate`` are; None when none is given."""
    from ecglab.training.config import MorphologyGateConfig, PrematurityGateConfig, RhythmGateConfig

    def parse(value, option, schema, example):
        rule = parse_numbers(value, option, schema, example)
        return rule and rule.model_dump()

    gates = {"prematurity": parse(prematurity, "--prematurity-gate", PrematurityGateConfig, "0.8,0.5"),
             "rhythm": parse(rhythm, "--rhythm-gate", RhythmGateConfig, "0.15,0.4"),
             "morphology": parse(morphology, "--morphology-gate", MorphologyGateConfig, "0.2,0.05")}
    return gates if any(gates.values()) else None
