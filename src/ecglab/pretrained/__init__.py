"""Model bundles shipped with ecglab, found by name: ``find_pretrained("mitbih-kachuee-ds1")``.

Each is a directory ``NAME/`` holding an ordinary bundle (bundle.json + model.safetensors) and a
MODEL_CARD.md that says what it was trained on, by which command, and how well it does.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ecglab.errors import BundleError

SPEC_FILE = "bundle.json"


def pretrained_root() -> Path:
    return Path(str(resources.files(__name__)))


def list_pretrained() -> list[str]:
    """Names of the shipped bundles."""
    return sorted(p.name for p in pretrained_root().iterdir() if (p / SPEC_FILE).is_file())


def find_pretrained(name: str) -> Path:
    """The directory of the shipped bundle ``name``; an error lists the names there are."""
    path = pretrained_root() / name
    if name not in list_pretrained():
        raise BundleError(f"no pretrained model named {name!r}; shipped models: {', '.join(list_pretrained()) or 'none'}.")
    return path
