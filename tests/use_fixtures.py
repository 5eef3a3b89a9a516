"""Tiny bundles with random weights for the tests of prediction, formats, plotting and serving."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ecglab.inference.bundle import BundleSpec, build_model, save_bundle
from ecglab.inputs.metadata import MetaFeature
from ecglab.records import STANDARD_12_LEADS, Record
from ecglab.inputs.beats import BeatSpec

RECORD_CLASSES = ["NORM", "MI", "STTC", "CD", "HYP"]
BEAT_CLASSES = ["N", "S", "V", "F", "Q"]


def record_bundle(path: Path, seed: int = 0, **changes) -> Path:
    """A 12-lead multilabel resnet1d at 100 Hz taking 2.5 s windows with half overlap."""
    fields = dict(architecture="resnet1d", model_kwargs=dict(width=8, head_hidden=[8]), kind="multilabel",
                  classes=RECORD_CLASSES, fs=100.0, leads=STANDARD_12_LEADS, input_length=250, window_stride=125)
    fields.update(changes)
    return _save(path, BundleSpec(**fields), seed)


def beat_bundle(path: Path, seed: int = 0, **changes) -> Path:
    """A one-lead (MLII) Kachuee beat classifier with the four R-R context features."""
    fields = dict(architecture="kachuee", model_kwargs=dict(filters=8, head_hidden=[8]), kind="multiclass",
                  input="beat", classes=BEAT_CLASSES, fs=125.0, leads=["MLII"], input_length=187, beats=BeatSpec(),
                  meta_features=[MetaFeature(name=n, mean=0.8, std=0.2) for n in ("rr_prev", "rr_next", "rr_local", "rr_mean")])
    fields.update(changes)
    return _save(path, BundleSpec(**fields), seed)


def _save(path: Path, spec: BundleSpec, seed: int) -> Path:
    torch.manual_seed(seed)
    model = build_model(spec).eval()
    with torch.no_grad():  # BatchNorm running statistics away from (0, 1), so train/eval mix-ups show
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return save_bundle(path, model, spec)


def spike_train(fs: float, seconds: float, peaks_s: np.ndarray, leads: list[str], seed: int = 0) -> Record:
    """An ECG-like signal: narrow Gaussian QRS spikes of 1 mV at ``peaks_s`` plus slight noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * fs))) / fs
    lead = sum(np.exp(-0.5 * ((t - p) / 0.012) ** 2) for p in peaks_s)
    lead = lead - 0.15 * sum(np.exp(-0.5 * ((t - p - 0.04) / 0.015) ** 2) for p in peaks_s)
    signal = np.stack([lead * (1 + 0.1 * i) + 0.01 * rng.standard_normal(len(t)) for i in range(len(leads))])
    return Record(signal.astype(np.float32), fs, leads, {"record_id": "spikes"})


def twelve_lead(fs: float = 100.0, seconds: float = 10.0, seed: int = 0) -> Record:
    beats = np.arange(0.4, seconds - 0.2, 0.8)
    return spike_train(fs, seconds, beats, STANDARD_12_LEADS, seed)


@contextmanager
def running_server(app):
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
