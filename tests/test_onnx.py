"""ONNX export of every zoo model, checked against onnxruntime; OnnxModel's input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecglab.errors import EcglabError
from ecglab.inference.onnx import OnnxModel, export_onnx
from ecglab.models import create_model, list_models, model_info, register_model, registry
from test_models import TINY  # the same narrow sizes (pytest puts tests/ on sys.path)

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def tiny(name: str, n_meta: int):
    torch.manual_seed(0)
    model = create_model(name, 12, 4, 250, n_meta, **TINY.get(name, {}))
    with torch.no_grad():  # non-default BatchNorm statistics, so the exported graph must carry them
        model.train()(torch.randn(8, 12, 250), torch.randn(8, n_meta) if n_meta else None)
    return model.eval()


@pytest.mark.parametrize("name", [n for n in list_models(task="classification") if model_info(n).onnx])
def test_onnxruntime_matches_torch_with_a_dynamic_batch(name, tmp_path):
    model = tiny(name, n_meta=2)
    path = export_onnx(model, tmp_path / f"{name}.onnx", n_leads=12, input_length=250, n_meta=2)
    x, meta = torch.randn(5, 12, 250), torch.randn(5, 2)  # exported with a batch of 2, run with 5
    with torch.no_grad():
        expected = model(x, meta).numpy()
    got = OnnxModel(path)(x.numpy(), meta.numpy())
    assert got.shape == (5, 4)
    assert np.abs(got - expected).max() <= 1e-4


def test_graph_names_and_a_model_without_metadata(tmp_path):
    model = tiny("resnet1d", n_meta=0).train()
    path = export_onnx(model, tmp_path / "sub" / "resnet.onnx", n_leads=12, input_length=250)
    assert model.training  # restored after export
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["signal"] and [o.name for o in graph.output] == ["logits"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    runner = OnnxModel(path)
    assert (runner.n_leads, runner.input_length, runner.n_meta) == (12, 250, 0)
    x = np.random.default_rng(0).standard_normal((1, 12, 250)).astype(np.float32)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).numpy()
    assert np.abs(runner(x) - expected).max() <= 1e-4


def test_onnx_model_rejects_wrong_inputs(tmp_path):
    path = export_onnx(tiny("cnn", n_meta=2), tmp_path / "cnn.onnx", n_leads=12, input_length=250, n_meta=2)
    runner = OnnxModel(path)
    signal, meta = np.zeros((2, 12, 250), np.float32), np.zeros((2, 2), np.float32)
    with pytest.raises(EcglabError, match=r"shape \(batch, 12, 250\), got \(2, 1, 250\)"):
        runner(signal[:, :1], meta)
    with pytest.raises(EcglabError, match="takes 2 metadata features"):
        runner(signal)
    with pytest.raises(EcglabError, match=r"metadata of shape \(2, 2\), got \(2, 3\)"):
        runner(signal, np.zeros((2, 3), np.float32))
    with pytest.raises(EcglabError, match="n_meta=0"):
        export_onnx(tiny("cnn", n_meta=2), tmp_path / "x.onnx", n_leads=12, input_length=250)
    with pytest.raises(EcglabError, match="not found"):
        OnnxModel(tmp_path / "missing.onnx")
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    with pytest.raises(EcglabError, match="not a readable ONNX model"):
        OnnxModel(tmp_path / "garbage.onnx")


def test_every_model_says_whether_it_exports():
    for name in list_models():
        info = model_info(name)
        assert info.onnx or info.onnx_note, f"{name} is marked onnx=False without saying why"


@pytest.fixture
def unexportable():
    @register_model("test only", name="test_unexportable", onnx=False, onnx_note="it uses an operator ONNX lacks")
    def test_unexportable(n_leads, n_classes, input_length, n_meta=0):
        return create_model("cnn", n_leads, n_classes, input_length, n_meta, filters=(4, 4, 4))

    yield "test_unexportable"
    registry._REGISTRY.pop("test_unexportable")


def test_export_of_a_model_marked_unexportable_is_a_clear_error(unexportable, tmp_path):
    model = create_model(unexportable, 12, 4, 250)
    with pytest.raises(EcglabError, match="'test_unexportable' cannot be exported to ONNX: it uses an operator ONNX lacks"):
        export_onnx(model, tmp_path / "m.onnx", n_leads=12, input_length=250)
    assert not (tmp_path / "m.onnx").exists()


def test_kachuee_of_four_blocks_on_the_context_beat_exports(tmp_path):
    from ecglab.models.kachuee import HalvesMaxPool

    for n in range(1, 12):  # odd and even lengths: the halves are PyTorch's adaptive pooling windows
        x = torch.randn(2, 3, n)
        torch.testing.assert_close(HalvesMaxPool()(x), torch.nn.AdaptiveMaxPool1d(2)(x))
    torch.manual_seed(0)
    model = create_model("kachuee", 4, 5, 96, 4, n_blocks=4).eval()  # what mitbih-aami is made of: 3 samples left
    path = export_onnx(model, tmp_path / "kachuee.onnx", n_leads=4, input_length=96, n_meta=4)
    x, meta = torch.randn(5, 4, 96), torch.randn(5, 4)
    with torch.no_grad():
        expected = model(x, meta).numpy()
    assert np.abs(OnnxModel(path)(x.numpy(), meta.numpy()) - expected).max() <= 1e-4
