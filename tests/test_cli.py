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
