"""Every registered model: shapes for beats and records, gradients, overfitting, bundles; plus the shared blocks,
the autoencoder's two-stage contract, parameter counts and ``ecglab models``."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch.nn import functional as F

from ecglab.cli import main
from ecglab.errors import ConfigError
from ecglab.inference.bundle import BundleSpec, load_bundle, save_bundle
from ecglab.inputs.metadata import MetaFeature
from ecglab.models import create_model, list_models, model_info
from ecglab.models.layers import ConcatPool1d, PositionalEncoding, RecurrentConcatPool
from ecglab.models.recurrent import downsample_factor
from ecglab.models.summary import model_rows

# Narrow versions of the larger models keep this file fast; the architecture (depth, pooling, fusion) is the default.
TINY = {
    "autoencoder_mlp": dict(filters=(8, 16, 16)),
    "bilstm": dict(hidden=16),
    "cnn": dict(filters=(8, 16, 16)),
    "cnn_bilstm_attention": dict(filters=(16, 16), lstm_hidden=16, dense=32, meta_hidden=4, head_hidden=(16,)),
    "cnn_lstm": dict(filters=(8, 8, 16), hidden=16),
    "dilated_cnn_bilstm": dict(filters=(8, 8, 8, 16), hidden=16),
    "fcn_wang": dict(filters=(16, 32, 16)),
    "gru": dict(hidden=16),
    "inception1d": dict(filters=8, bottleneck=8),
    "lstm": dict(hidden=16),
    "resnet1d": dict(width=16),
    "rnn": dict(hidden=16),
    "transformer": dict(d_model=16, heads=2, layers=1, ff=32),
    "transformer_cnn": dict(stem_filters=(8, 16, 16), heads=2, layers=1, ff=32),
    "xresnet1d101": dict(widths=(8, 8, 8, 8), stem=(8, 8, 16)),
    "xresnet1d50": dict(widths=(8, 8, 8, 8), stem=(8, 8, 16)),
}
MODELS = list_models(task="classification")  # (B, C) logits; unet1d (B, C, T) is tested in test_measure.py
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def tiny(name: str, n_leads: int, n_classes: int, length: int, n_meta: int = 0, **extra):
    torch.manual_seed(0)
    return create_model(name, n_leads, n_classes, length, n_meta, **{**TINY.get(name, {}), **extra})


def test_tiny_overrides_name_registered_models():
    assert set(TINY) <= set(MODELS)
    assert {"kachuee", "resnet1d", "cnn", "rnn", "gru", "lstm", "bilstm", "cnn_lstm", "dilated_cnn_bilstm", "xresnet1d50",
            "xresnet1d101", "inception1d", "fcn_wang", "cnn_bilstm_attention", "autoencoder_mlp", "transformer",
            "transformer_cnn"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_logits_shape_for_beats_and_records_with_and_without_metadata(name):
    for n_leads, length in [(1, 187), (12, 1000), (12, 250)]:
        for n_meta in (0, 3):
            model = tiny(name, n_leads, 5, length, n_meta).eval()
            meta = torch.randn(2, n_meta) if n_meta else None
            with torch.no_grad():
                logits = model(torch.randn(2, n_leads, length), meta)
            assert logits.shape == (2, 5) and torch.isfinite(logits).all(), (name, n_leads, length, n_meta)
    with torch.no_grad():  # global pooling: a model built for 1000 samples takes other lengths too
        assert model(torch.randn(2, 12, 600), torch.randn(2, 3)).shape == (2, 5)


@pytest.mark.parametrize("name", MODELS)
def test_gradients_reach_every_parameter(name):
    model = tiny(name, 12, 4, 250, n_meta=2).train()
    x = torch.randn(4, 12, 250)
    loss = model(x, torch.randn(4, 2)).square().mean()
    if hasattr(model, "pretrain_loss"):  # the decoder only learns from reconstruction
        loss = loss + model.pretrain_loss(x)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing


def separable_beats(n: int = 32, length: int = 187, n_classes: int = 3):
    """Noisy sinusoids whose frequency is the class: easy to fit, so a healthy model must drive the loss down."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % n_classes
    t = torch.linspace(0, 1, length)
    phase = 6 * torch.rand(n, 1, generator=g)
    x = torch.sin(2 * math.pi * (2 + 3 * y[:, None]) * t + phase) + 0.3 * torch.randn(n, length, generator=g)
    return x.unsqueeze(1), y


@pytest.mark.parametrize("name", MODELS)
def test_overfits_32_samples(name):
    x, y = separable_beats()
    no_dropout = {k: 0.0 for k in ("dropout", "conv_dropout") if k in model_info(name).hparams}
    model = tiny(name, 1, 3, 187, **no_dropout).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.4 * losses[0], (losses[0], losses[-5:])


@pytest.mark.parametrize("name", MODELS)
def test_bundle_round_trip_gives_identical_logits(name, tmp_path):
    model = tiny(name, 12, 5, 250, n_meta=2)
    with torch.no_grad():  # move BatchNorm statistics off their defaults so the round trip has to carry them
        model.train()(torch.randn(8, 12, 250), torch.randn(8, 2))
    spec = BundleSpec(architecture=name, model_kwargs=TINY.get(name, {}), kind="multilabel", classes=list("ABCDE"), fs=100,
                      leads=LEADS, input_length=250, meta_features=[MetaFeature(name="age"), MetaFeature(name="sex")])
    save_bundle(tmp_path / "bundle", model, spec)
    loaded, _ = load_bundle(tmp_path / "bundle")
    x, meta = torch.randn(3, 12, 250), torch.randn(3, 2)
    with torch.no_grad():
        assert torch.equal(model.eval()(x, meta), loaded(x, meta))


def test_xresnet1d101_default_parameter_count():
    """Counted by hand from the PTB-XL benchmark's definition (12 leads, 5 classes)."""
    def conv(i, o, k=1):
        return i * o * k  # no bias: every conv is followed by BatchNorm

    def bn(c):
        return 2 * c

    stem = conv(12, 32, 5) + bn(32) + conv(32, 32, 5) + bn(32) + conv(32, 64, 5) + bn(64)
    block = conv(256, 64) + bn(64) + conv(64, 64, 5) + bn(64) + conv(64, 256) + bn(256)
    first_block = block - conv(256, 64) + conv(64, 64) + conv(64, 256) + bn(256)  # 64 channels in, projected shortcut
    head = 512 * 128 + 128 + bn(128) + 128 * 5 + 5  # concat pool (2 × 256) → 128 → 5
    expected = stem + first_block + 32 * block + head
    model = create_model("xresnet1d101", 12, 5, 1000)
    assert sum(p.numel() for p in model.parameters()) == expected == 1_871_237


def test_fcn_wang_has_the_ptbxl_benchmark_head():
    """Counted by hand from fcn_wang of the PTB-XL benchmark's code: basic1d(filters=[128, 256, 128],
    kernel_size=[8, 5, 3], stride=1, pool=0) with concat pooling and a BatchNorm'd dense 128 head."""
    convs = 12 * 128 * 8 + 2 * 128 + 128 * 256 * 5 + 2 * 256 + 256 * 128 * 3 + 2 * 128  # no bias before BatchNorm
    head = (2 * 128) * 128 + 128 + 2 * 128 + 128 * 5 + 5  # concat pool (avg, max) → 128 → BatchNorm → 5
    model = create_model("fcn_wang", 12, 5, 1000).eval()
    assert sum(p.numel() for p in model.parameters()) == convs + head == 309_253
    assert isinstance(model.trunk[-1], ConcatPool1d) and any(isinstance(m, torch.nn.Dropout) and m.p == 0.5
                                                             for m in model.head)
    with torch.no_grad():  # no pooling between the blocks: the even kernel of 8 costs one sample, as in the benchmark
        assert model.trunk[0](torch.randn(1, 12, 250)).shape == (1, 128, 249)


@pytest.mark.parametrize("name", MODELS + ["ensemble"])
def test_builder_docstring_names_the_paper_of_its_reference(name):
    """The first line of every builder's docstring cites (author, year) pairs that its registry reference holds."""
    info = model_info(name)
    first = (info.builder.__doc__ or "").strip().splitlines()[0]
    cited = re.findall(r"([A-Z][\w\-]+)(?: et al\.)? ((?:19|20)\d{2})", first)
    assert cited, f"{name}: the docstring's first line names no paper: {first!r}"
    assert all(author in info.reference and year in info.reference for author, year in cited), (cited, info.reference)


def test_kachuee_and_xresnet_rows_of_the_summary():
    rows = {row.name: row for row in model_rows(["kachuee", "xresnet1d50", "lstm_bidir"])}
    assert rows["kachuee"].params_beat == 55_013
    # the lead count only changes the first stem convolution: 11 more input channels × 32 filters × kernel 5
    assert rows["xresnet1d50"].params_record - rows["xresnet1d50"].params_beat == 11 * 32 * 5
    assert rows["bilstm"].aliases == ("lstm_bidir",) and rows["bilstm"].family == "recurrent"


def test_alias_and_architecture_name():
    assert model_info("lstm_bidir").name == "bilstm"
    assert create_model("lstm_bidir", 12, 5, 1000, hidden=8).architecture == "bilstm"


@pytest.mark.parametrize("name, hparams, length", [
    ("inception1d", dict(depth=4), 250),
    ("inception1d", dict(kernels=(40, 20, 10)), 250),
    ("xresnet1d50", dict(widths=(64, 64)), 250),
    ("cnn_bilstm_attention", dict(filters=(32, 16), kernels=(3,)), 250),
    ("transformer", dict(patch_size=20), 10),
    ("transformer", dict(d_model=30, heads=4), 250),
    ("cnn", dict(filters=(8, 8), kernels=(3,)), 250),
    ("rnn", dict(hidden=8, cell="lstm"), 250),
])
def test_invalid_hyper_parameters_are_config_errors(name, hparams, length):
    with pytest.raises(ConfigError):
        create_model(name, 12, 5, length, **hparams)


def test_recurrent_front_pools_long_inputs_only():
    assert [downsample_factor(n, 250) for n in (187, 250, 1000, 1001, 5000)] == [1, 1, 4, 5, 20]
    assert downsample_factor(5000, None) == 1
    assert isinstance(create_model("lstm", 12, 5, 1000, hidden=8).trunk[0], torch.nn.AvgPool1d)
    assert isinstance(create_model("lstm", 1, 5, 187, hidden=8).trunk[0], torch.nn.Identity)


def test_recurrent_concat_pool_known_values():
    x = torch.tensor([[[1.0, 2.0, 6.0], [3.0, 0.0, 0.0]]])  # (B=1, F=2, T=3)
    assert RecurrentConcatPool(False)(x).tolist() == [[3.0, 1.0, 6.0, 3.0, 6.0, 0.0]]
    # bidirectional: forward half's last step (6), backward half's first step (3)
    assert RecurrentConcatPool(True)(x).tolist() == [[3.0, 1.0, 6.0, 3.0, 6.0, 3.0]]


def test_sinusoidal_positions_known_values():
    tokens = torch.zeros(1, 5, 4)
    out = PositionalEncoding(4, max_tokens=2)(tokens)[0]  # more tokens than max_tokens: sinusoids need no table
    assert torch.allclose(out[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    p = 3.0
    assert torch.allclose(out[3], torch.tensor([math.sin(p), math.cos(p), math.sin(p / 100), math.cos(p / 100)]), atol=1e-6)


def test_learned_positions_slice_or_stretch():
    encoding = PositionalEncoding(8, max_tokens=10, learned=True)
    assert torch.equal(encoding(torch.zeros(2, 4, 8)), encoding.table[:, :4].expand(2, 4, 8))
    stretched = encoding(torch.zeros(1, 19, 8))
    assert torch.allclose(stretched[0, 0], encoding.table[0, 0]) and torch.allclose(stretched[0, -1], encoding.table[0, -1])
    assert torch.allclose(stretched[0, 2], encoding.table[0, 1])  # 19 tokens over 10 rows: every second token is a row


# --- the autoencoder's two-stage contract -------------------------------------------------------------------------


@pytest.mark.parametrize("length", [187, 250, 1001])
def test_autoencoder_reconstructs_to_the_input_length(length):
    model = tiny("autoencoder_mlp", 3, 2, length)
    assert model.reconstruct(torch.randn(2, 3, length)).shape == (2, 3, length)


def test_autoencoder_two_stages():
    x, y = separable_beats()
    model = tiny("autoencoder_mlp", 1, 3, 187, freeze_encoder=True).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):  # stage one: reconstruction
        loss = model.pretrain_loss(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

    model.start_classifier_stage()
    model.train()  # a training loop calls this every epoch: the frozen encoder must stay in eval mode
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head_before = model.head[-1].weight.clone()
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert not model.encoder.training and all(not p.requires_grad for p in model.encoder.parameters())
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder_before.items())  # weights and BN stats
    assert not torch.equal(head_before, model.head[-1].weight)


def test_autoencoder_fine_tunes_the_encoder_when_not_frozen():
    x, y = separable_beats()
    model = tiny("autoencoder_mlp", 1, 3, 187, freeze_encoder=False).train()
    model.start_classifier_stage()
    before = model.encoder[0][0].weight.clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    assert model.encoder.training and not torch.equal(before, model.encoder[0][0].weight)


# --- ecglab models ----------------------------------------------------------------------------------------------------


def test_cli_lists_every_model_with_parameter_counts(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in MODELS)
    assert "55,013" in out and "1,871,237" in out and "lstm_bidir" in out


def test_cli_never_cuts_model_names_at_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80
    for name in MODELS:  # whole, in the table, and with its reference below it
        assert any(line.strip().startswith(name) for line in lines) and any(line.startswith(f"{name}: ") for line in lines)
    assert "…" not in "".join(lines)


def test_cli_describes_one_model_and_rejects_unknown_ones(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models", "inception1d"]) == 0
    out = capsys.readouterr().out
    assert "Ismail Fawaz" in out and "bottleneck" in out and "(39, 19, 9)" in out
    assert main(["models", "resnet2000"]) == 2
    assert "unknown model 'resnet2000'" in capsys.readouterr().err
    assert main(["models", "--help"]) == 0
    assert "ecglab models xresnet1d101" in capsys.readouterr().out


@pytest.mark.parametrize("kernel,stride,dilation,groups", [(39, 1, 1, 1), (9, 2, 1, 1), (11, 1, 2, 4), (5, 1, 1, 1)])
def test_the_channels_last_conv1d_matches_torch_in_values_and_gradients(kernel, stride, dilation, groups):
    from torch import nn

    from ecglab.models.layers import Conv1d

    torch.manual_seed(0)
    ours = Conv1d(8, 16, kernel, stride=stride, padding=dilation * (kernel - 1) // 2, dilation=dilation, groups=groups)
    reference = nn.Conv1d(8, 16, kernel, stride=stride, padding=dilation * (kernel - 1) // 2, dilation=dilation, groups=groups)
    reference.load_state_dict(ours.state_dict())  # the same parameters under the same names
    x = torch.randn(3, 8, 120, requires_grad=True)
    y, y_ref = ours(x), reference(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-5)
    grad = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, ours.weight, ours.bias), grad)
    expected = torch.autograd.grad(y_ref, (x, reference.weight, reference.bias), grad)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
