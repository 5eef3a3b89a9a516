"""The command line as a user meets it: usage mistakes, help with examples, start-up time."""

import subprocess
import sys
import time

import pytest

from ecglab.cli import main

COMMANDS = ["demo", "prepare", "prepare-merge", "train", "evaluate", "predict", "export", "plot", "serve", "models",
            "benchmark", "ensemble", "tune"]


@pytest.mark.parametrize("argv", [["nosuch"], ["train"], ["prepare", "synthetic", "--out", "x", "--n", "abc"],
                                  ["train", "--bogus", "c.yaml"], []])
def test_usage_mistakes_exit_2_without_traceback(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    assert "Example" in capsys.readouterr().out


def test_user_errors_are_one_paragraph(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("data: {path: d, bach_size: 3}\n")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "valid keys under data" in err


def test_help_answers_fast_without_heavy_imports():
    code = ("import sys, time; t = time.perf_counter(); from ecglab.cli import main; "
            "rc = main(['--help']); heavy = [m for m in ('torch', 'lightning', 'sklearn') if m in sys.modules]; "
            "print('RESULT', rc, heavy, time.perf_counter() - t, file=sys.stderr)")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - start
    assert "RESULT 0 []" in result.stderr, result.stderr
    assert wall < 5  # the target is well under 2 s; generous here because CI machines are shared


def test_the_predict_table_never_prints_numbers_that_contradict_the_call(capsys):
    import numpy as np

    from ecglab.cli.use import show_prediction
    from ecglab.inference.predictor import Prediction

    classes = ["AF", "NORM", "MI", "STTC"]
    probabilities = np.array([0.497, 0.4969, 0.8, 0.5], dtype=np.float32)
    thresholds = [0.4965, 0.4971, 0.5, 0.5]  # at two decimals both read 0.50: 0.497 "≥ 0.50" was shown positive
    decisions = probabilities >= np.asarray(thresholds, dtype=np.float32)  # as the Predictor decides
    show_prediction(Prediction(record_id="r1", model="m", kind="multilabel", input="record", classes=classes,
                               probabilities=probabilities, thresholds=thresholds, decisions=decisions, n_windows=1,
                               tuned_thresholds=True))
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0] in classes:
            rows[cells[0]] = cells[1:]
    assert rows == {"AF": ["0.4970", "0.4965", "yes"], "NORM": ["0.4969", "0.4971", "no"],
                    "MI": ["0.8000", "0.5000", "yes"], "STTC": ["0.5000", "0.5000", "yes"]}


def test_every_command_the_docs_show_takes_the_flags_they_give():
    """README.md and docs/DATASETS.md show commands that the CLI takes: a real command, its real
    options, and for `prepare NAME` only options that dataset accepts (no positional SOURCE OUT)."""
    import inspect
    import itertools
    import re
    from pathlib import Path

    import typer

    from ecglab.cli import app
    from ecglab.datasets.core.registry import get_builder
    from ecglab.datasets.core.signature import builder_options
    from ecglab.datasets.core.sources import DATASET_MODULES

    commands = typer.main.get_command(app).commands
    root = Path(__file__).resolve().parents[1]
    shown = 0
    for doc in ("README.md", "docs/DATASETS.md"):
        text = re.sub(r"\\\n\s*", " ", (root / doc).read_text())  # join continued lines
        for line in text.splitlines():
            for name, rest in re.findall(r"ecglab ([a-z][a-z-]*)((?: +[^`|#\n]*)?)", line):
                assert name in commands, f"{doc}: `ecglab {name}` is not a command: {line.strip()}"
                command = commands[name]
                flags = {flag for p in command.params for flag in getattr(p, "opts", []) if flag.startswith("--")}
                if name == "prepare":  # and the options of the datasets, which follow their NAME
                    flags |= {o.flag for d in DATASET_MODULES for o in builder_options(get_builder(d).fn)}
                given = set(re.findall(r"(--[a-z][a-z-]*)", rest))
                assert given <= flags, f"{doc}: `ecglab {name}` takes no {sorted(given - flags)}: {line.strip()}"
                if name == "prepare" and rest.split():
                    positional = list(itertools.takewhile(lambda word: word[0] not in "-[…", rest.split()))
                    assert len(positional) == 1, f"{doc}: prepare takes NAME only, then --out/--source: {line.strip()}"
                    if given and positional[0].islower():
                        builder = get_builder(positional[0])
                        accepted = {"--" + p.replace("_", "-") for p in inspect.signature(builder.fn).parameters}
                        own = given - {"--out", "--source", "--force", "--strict", "--workers"}
                        assert own <= accepted, f"{doc}: {builder.name} takes no {sorted(own - accepted)}: {line.strip()}"
                        assert "--out" in given, f"{doc}: `ecglab prepare` needs --out DIR: {line.strip()}"
                shown += 1
    assert shown > 20
