"""`import ecglab` is the public face: a few lazy verbs, documented, and the README's example runs."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ecglab

ROOT = Path(__file__).resolve().parents[1]
VERBS = ["read_record", "prepare", "train", "evaluate", "Predictor", "create_model", "list_models"]


def test_import_ecglab_is_light():
    code = "import sys, ecglab; print(sorted(m for m in ('torch', 'lightning', 'pandas') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("name", VERBS)
def test_every_verb_is_documented_with_parameters_returns_and_an_example(name):
    doc = getattr(ecglab, name).__doc__ or ""
    for section in ("Parameters" if name != "list_models" else "Returns", "Returns", "Example"):
        assert re.search(rf"^\s*{section}\n\s*-+$", doc, re.M), f"ecglab.{name}: no {section} section"
    assert name in dir(ecglab)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        ecglab.nosuch  # noqa: B018


def test_the_readme_python_example_runs_on_tiny_data(tmp_path, monkeypatch):
    """The README's example as written, made tiny: fewer records, one epoch, a record file of our own."""
    from ecglab.records import STANDARD_12_LEADS

    code = re.search(r"```python\n(import ecglab\n.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    record = tmp_path / "ecg.npz"
    signal = np.random.default_rng(0).standard_normal((12, 1000)).astype(np.float32) * 0.1
    np.savez(record, signal=signal, fs=100.0, leads=np.array(STANDARD_12_LEADS))
    tiny = (code.replace("n=2000", "n=60").replace('"max_epochs": 10', '"max_epochs": 1')
            .replace('"../shared/data/ptbxl/records100/00000/00004_lr.hea"', repr(str(record))))
    assert tiny.count("n=60") == 1 and '"max_epochs": 1}' in tiny and str(record) in tiny
    monkeypatch.chdir(tmp_path)
    exec(compile(tiny, "README.md", "exec"), {})
    assert (tmp_path / "runs" / "synth-resnet" / "bundle").is_dir()
