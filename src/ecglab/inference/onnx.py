"""ONNX export of zoo models and fast CPU inference with onnxruntime.

    >>> path = export_onnx(model, "model.onnx", n_leads=12, input_length=1000, n_meta=2)
    >>> logits = OnnxModel(path)(signal, meta)      # signal (B, 12, 1000) float32, meta (B, 2)

The graph has the inputs ``signal`` (B, L, T) and, for models with metadata, ``meta`` (B, M), and the
output ``logits`` (B, C); the batch axis is dynamic, lead count and length are fixed at export.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ecglab.errors import BundleError, EcglabError

SIGNAL, META, LOGITS = "signal", "meta", "logits"


def export_onnx(model, path: str | Path, n_leads: int, input_length: int, n_meta: int = 0, opset: int = 17) -> Path:
    """Write ``model`` as one ONNX file (TorchScript-based exporter) and return its path."""
    import torch

    from ecglab.models import model_info

    architecture = getattr(model, "architecture", None)
    if architecture is not None and not model_info(architecture).onnx:
        raise EcglabError(f"model {architecture!r} cannot be exported to ONNX: {model_info(architecture).onnx_note}")
    built_for = getattr(model, "n_meta", 0)
    if built_for != n_meta:
        raise EcglabError(f"the model takes {built_for} metadata features, but export was asked for n_meta={n_meta}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    example = [torch.randn(2, n_leads, input_length, generator=generator)]
    names = [SIGNAL]
    if n_meta:
        example.append(torch.randn(2, n_meta, generator=generator))
        names.append(META)
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notices
            torch.onnx.export(model, tuple(example), str(path), dynamo=False, opset_version=opset, input_names=names,
                              output_names=[LOGITS], dynamic_axes={name: {0: "batch"} for name in [*names, LOGITS]},
                              do_constant_folding=True)
    except Exception as exc:
        raise EcglabError(f"ONNX export of {architecture or type(model).__name__} failed: {exc}") from None
    finally:
        model.train(was_training)
    return path


class OnnxModel:
    """An exported model run by onnxruntime on the CPU: ``OnnxModel(path)(signal, meta) -> logits``."""

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise BundleError(f"{self.path}: ONNX model file not found.")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BundleError(f"{self.path}: not a readable ONNX model ({exc}).") from None
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        if SIGNAL not in inputs:
            raise BundleError(f"{self.path}: expected an input named {SIGNAL!r}, found {sorted(inputs)}.")
        self.n_leads, self.input_length = inputs[SIGNAL][1], inputs[SIGNAL][2]
        self.n_meta = inputs[META][1] if META in inputs else 0

    def __call__(self, signal: np.ndarray, meta: np.ndarray | None = None) -> np.ndarray:
        signal = np.asarray(signal, dtype=np.float32)
        if signal.ndim != 3 or signal.shape[1:] != (self.n_leads, self.input_length):
            raise EcglabError(f"expected a signal of shape (batch, {self.n_leads}, {self.input_length}), got {signal.shape}.")
        feed = {SIGNAL: signal}
        if self.n_meta:
            if meta is None:
                raise EcglabError(f"this model takes {self.n_meta} metadata features; pass them as `meta`.")
            meta = np.asarray(meta, dtype=np.float32)
            if meta.shape != (signal.shape[0], self.n_meta):
                raise EcglabError(f"expected metadata of shape ({signal.shape[0]}, {self.n_meta}), got {meta.shape}.")
            feed[META] = meta
        elif meta is not None:
            raise EcglabError("this model takes no metadata, but `meta` was given.")
        return self.session.run([LOGITS], feed)[0]
