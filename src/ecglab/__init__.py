"""ecglab: automated ECG classification, from raw files to a served model.

The public face, a few verbs in the manner of wfdb-python (each documented with an example)::

    import ecglab

    data = ecglab.prepare("synthetic", "data/synth", task="record", n=2000, fs=100)
    result = ecglab.train({"name": "synth", "data": {"path": "data/synth", "window": 250},
                           "model": {"name": "resnet1d"}, "trainer": {"max_epochs": 10}})
    predictor = ecglab.Predictor.load(result.bundle_dir)
    prediction = predictor.predict(ecglab.read_record("ecg.hea"))

Each name is imported on first use, so ``import ecglab`` imports neither torch nor Lightning.
docs/ARCHITECTURE.md maps the packages underneath.
"""

from __future__ import annotations

import importlib

from ecglab.version import __version__

# public name -> the module that defines it
_PUBLIC = {
    "read_record": "ecglab.api",
    "prepare": "ecglab.api",
    "train": "ecglab.api",
    "evaluate": "ecglab.api",
    "create_model": "ecglab.api",
    "list_models": "ecglab.api",
    "Predictor": "ecglab.inference.predictor",
    "measure": "ecglab.measure",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ecglab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # the next access does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
