"""Sliding windows, the Predictor (record and beat models) and ``ecglab predict``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from use_fixtures import (
    BEAT_CLASSES,
    RECORD_CLASSES,
    beat_bundle,
    record_bundle,
    spike_train,
    twelve_lead,
)

from ecglab.cli import main
from ecglab.errors import BundleError, RecordFormatError
from ecglab.inference.bundle import load_bundle
from ecglab.inference.predictor import Predictor
from ecglab.inputs.metadata import MetaFeature, meta_input
from ecglab.inputs.preprocess import Preprocessing, preprocess
from ecglab.inputs.windows import aggregate, sliding_windows, window_starts
from ecglab.records import STANDARD_12_LEADS, Annotations, Record, read_record
from ecglab.inputs.beats import extract_beats, rr_context

# -- windows ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, length, stride, expected", [
    (10, 4, 3, [0, 3, 6]), (11, 4, 3, [0, 3, 6, 7]), (4, 4, 2, [0]), (3, 4, 2, [0]), (12, 4, 4, [0, 4, 8]), (13, 4, 4, [0, 4, 8, 9]),
])
def test_window_starts_cover_every_sample_and_end_on_the_last(n, length, stride, expected):
    assert window_starts(n, length, stride).tolist() == expected


def test_sliding_windows_are_the_slices_for_one_record_and_a_batch():
    signal = np.arange(2 * 11, dtype=np.float32).reshape(2, 11)
    windows = sliding_windows(signal, 4, 3)
    assert windows.shape == (4, 2, 4)
    for w, start in zip(windows, [0, 3, 6, 7]):
        np.testing.assert_array_equal(w, signal[:, start:start + 4])
    batch = np.stack([signal, -signal])
    windows_batch = sliding_windows(batch, 4, 3)
    assert windows_batch.shape == (2, 4, 2, 4)
    np.testing.assert_array_equal(windows_batch[1], -windows)


def test_sliding_windows_zero_pad_a_short_signal():
    windows = sliding_windows(np.ones((1, 3), np.float32), 5, 5)
    np.testing.assert_array_equal(windows, [[[1, 1, 1, 0, 0]]])


def test_aggregate_mean_and_max():
    probs = np.array([[0.2, 0.9], [0.4, 0.1], [0.6, 0.5]])
    np.testing.assert_allclose(aggregate(probs, "mean"), [0.4, 0.5])
    np.testing.assert_allclose(aggregate(probs, "max"), [0.6, 0.9])
    np.testing.assert_allclose(aggregate(np.stack([probs, probs * 0]), "max"), [[0.6, 0.9], [0, 0]])
    with pytest.raises(ValueError, match="mean' or 'max"):
        aggregate(probs, "median")


# -- record models ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def record_model(tmp_path_factory):
    return record_bundle(tmp_path_factory.mktemp("bundle") / "record")


def _reference_probs(bundle, signal, meta=None):
    """Windows at the model rate through the torch model by hand: the known answer."""
    model, spec = load_bundle(bundle)
    starts = window_starts(signal.shape[1], spec.input_length, spec.window_stride)
    x = torch.from_numpy(np.stack([signal[:, s:s + spec.input_length] for s in starts]))
    with torch.no_grad():
        logits = model(x, None if meta is None else torch.from_numpy(np.repeat(meta[None], len(x), 0)))
    return torch.sigmoid(logits).numpy(), len(starts)


def test_record_prediction_is_the_mean_of_the_window_probabilities(record_model):
    record = twelve_lead(fs=100, seconds=10)
    prediction = Predictor.load(record_model).predict(record)
    expected, n_windows = _reference_probs(record_model, record.signal)
    assert n_windows == 7 and prediction.n_windows == 7
    np.testing.assert_allclose(prediction.probabilities, expected.mean(0), atol=1e-6)
    assert prediction.classes == RECORD_CLASSES and not prediction.padded
    assert prediction.positive == [c for c, p in zip(RECORD_CLASSES, expected.mean(0)) if p >= 0.5]


def test_record_is_resampled_and_preprocessed_as_the_bundle_says(tmp_path):
    steps = Preprocessing(fs=100, bandpass=(0.5, 40.0), standardize="global", mean=[0.1] * 12, std=[2.0] * 12)
    bundle = record_bundle(tmp_path / "b", preprocessing=steps)
    record = twelve_lead(fs=500, seconds=6)
    prediction = Predictor.load(bundle).predict(record)
    expected, _ = _reference_probs(bundle, preprocess(record.signal, 500, steps))
    np.testing.assert_allclose(prediction.probabilities, expected.mean(0), atol=1e-6)


def test_leads_are_selected_by_name_whatever_their_order_and_spelling(record_model):
    record = twelve_lead()
    order = np.arange(12)[::-1]
    shuffled = Record(record.signal[order], record.fs, [record.leads[i].upper() for i in order], {"record_id": "x"})
    predictor = Predictor.load(record_model)
    np.testing.assert_allclose(predictor.predict(shuffled).probabilities, predictor.predict(record).probabilities, atol=1e-6)


def test_missing_leads_and_nans_are_clear_errors(record_model):
    predictor = Predictor.load(record_model)
    record = twelve_lead()
    with pytest.raises(RecordFormatError, match=r"missing \['V5', 'V6'\]"):
        predictor.predict(Record(record.signal[:10], 100, record.leads[:10]))
    record.signal[3, 10:15] = np.nan
    with pytest.raises(RecordFormatError, match=r"5 samples are NaN.*aVR"):
        predictor.predict(record)


def test_a_short_record_is_zero_padded_and_says_so(record_model):
    record = twelve_lead(seconds=1.5)
    prediction = Predictor.load(record_model).predict(record)
    padded = np.pad(record.signal, ((0, 0), (0, 100)))
    expected, _ = _reference_probs(record_model, padded)
    assert prediction.padded and prediction.n_windows == 1 and "zero-padded" in prediction.notes[0]
    np.testing.assert_allclose(prediction.probabilities, expected[0], atol=1e-6)


def test_multiclass_softmax_argmax_and_tuned_thresholds(tmp_path):
    record = twelve_lead()
    multiclass = Predictor.load(record_bundle(tmp_path / "mc", kind="multiclass"))
    prediction = multiclass.predict(record)
    assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction.positive == [RECORD_CLASSES[int(prediction.probabilities.argmax())]]
    assert prediction.decision_rule == "argmax"
    tuned = Predictor.load(record_bundle(tmp_path / "ml", thresholds=[0.0, 1.01, 0.0, 1.01, 1.01]))
    assert tuned.predict(record).positive == ["NORM", "STTC"] and tuned.predict(record).decision_rule == "threshold"


def test_metadata_is_encoded_filled_and_scaled():
    features = [MetaFeature(name="age", fill=60, mean=50, std=10), MetaFeature(name="sex", fill=0.5, mean=0.5, std=0.5)]
    rows = [meta_input(meta, features, 2) for meta in ({"age": 70, "sex": "F"}, {"sex": "M"}, {"age": "n/a", "sex": 1})]
    np.testing.assert_allclose(rows[0], [[2.0, 1.0]] * 2)
    np.testing.assert_allclose(rows[1], [[1.0, -1.0]] * 2)
    np.testing.assert_allclose(rows[2], [[1.0, 1.0]] * 2)
    assert meta_input({}, [], 3) is None


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_sex_is_encoded_whatever_the_string_dtype(dtype):
    """pandas 3 reads strings as ``str``, parquet as ``string`` or ``object``: the codes must not depend on it."""
    import pandas as pd

    from ecglab.inputs.metadata import encode_column, fit_meta_features

    try:
        column = pd.Series(["M", "F", " female ", None, "unknown", "42"], dtype=dtype)
    except TypeError:
        pytest.skip(f"this pandas has no {dtype!r} dtype")
    np.testing.assert_array_equal(encode_column(column), [0.0, 1.0, 1.0, np.nan, np.nan, 42.0])
    sex = fit_meta_features(pd.DataFrame({"sex": pd.Series(["M", "F", "F", "F"], dtype=dtype)}), ["sex"])[0]
    assert (sex.mean, sex.std) == (0.75, pytest.approx(np.std([0, 1, 1, 1])))


def test_record_metadata_reaches_the_model(tmp_path):
    features = [MetaFeature(name="age", fill=60, mean=60, std=15)]
    bundle = record_bundle(tmp_path / "meta", meta_features=features)
    predictor = Predictor.load(bundle)
    record = twelve_lead()
    young, old = (Record(record.signal, 100, record.leads, {"age": a}) for a in (20, 90))
    expected, _ = _reference_probs(bundle, record.signal, meta=np.array([(90 - 60) / 15], np.float32))
    np.testing.assert_allclose(predictor.predict(old).probabilities, expected.mean(0), atol=1e-6)
    assert not np.allclose(predictor.predict(young).probabilities, predictor.predict(old).probabilities)


def test_prediction_to_dict_is_json(record_model):
    data = json.loads(json.dumps(Predictor.load(record_model).predict(twelve_lead()).to_dict()))
    assert set(data["probabilities"]) == set(RECORD_CLASSES) and data["n_windows"] == 7


def test_unknown_backend_and_missing_bundle(record_model, tmp_path):
    with pytest.raises(BundleError, match="'torch' or 'onnx'"):
        Predictor.load(record_model, backend="tensorrt")
    with pytest.raises(BundleError, match="not a model bundle"):
        Predictor.load(tmp_path)


# -- beat models -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def beat_model(tmp_path_factory):
    return beat_bundle(tmp_path_factory.mktemp("bundle") / "beat")


def test_beat_model_uses_annotated_beats_and_rr_context(beat_model):
    fs, peaks_s = 360.0, np.arange(0.5, 29.5, 0.75) + 0.05 * np.sin(np.arange(39))
    record = spike_train(fs, 30, peaks_s, ["MLII", "V1"])
    peaks = np.round(peaks_s * fs).astype(int)
    samples = np.sort(np.concatenate([peaks, [10, 5000]]))
    symbols = ["+" if s in (10, 5000) else ("V" if i % 5 == 0 else "N") for i, s in enumerate(samples)]
    record.annotations = Annotations(samples, symbols)
    prediction = Predictor.load(beat_model).predict(record)
    assert [b.sample for b in prediction.beats] == peaks.tolist()  # rhythm annotations ('+') are not beats
    model, spec = load_bundle(beat_model)
    beats = extract_beats(record.signal[:1], fs, peaks, spec.beats)
    meta = (rr_context(peaks, fs)[beats.kept] - 0.8) / 0.2
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(beats.beats), torch.from_numpy(meta)), 1).numpy()
    labels = [BEAT_CLASSES[i] for i in expected.argmax(1)]
    assert [b.label for b in prediction.beats] == labels
    np.testing.assert_allclose([b.probability for b in prediction.beats], expected.max(1), atol=1e-5)
    assert prediction.beat_counts == {c: labels.count(c) for c in BEAT_CLASSES}
    assert prediction.positive == [c for c in BEAT_CLASSES if c in labels]
    assert prediction.beats[0].time_s == pytest.approx(peaks[0] / fs)
    assert prediction.decision_rule == "beats" and prediction.to_dict()["beat_counts"] == prediction.beat_counts


def test_beat_model_detects_r_peaks_without_annotations(beat_model):
    fs, peaks_s = 250.0, np.arange(0.6, 19.5, 0.8)
    prediction = Predictor.load(beat_model).predict(spike_train(fs, 20, peaks_s, ["MLII"]))
    found = np.array([b.time_s for b in prediction.beats])
    assert len(found) >= len(peaks_s) - 2
    assert np.abs(found[:, None] - peaks_s[None, :]).min(axis=1).max() < 0.02
    assert "detected on lead MLII" in prediction.notes[0]
    assert sum(prediction.beat_counts.values()) == len(found)


def test_beat_model_needs_its_lead(beat_model):
    with pytest.raises(RecordFormatError, match=r"missing \['MLII'\] \(equivalent leads would do: II or ECG1 for MLII\)"):
        Predictor.load(beat_model).predict(spike_train(360, 10, np.arange(0.5, 9, 0.8), ["V1"]))


def test_an_mlii_beat_model_reads_lead_ii_of_a_12_lead_file_and_says_so(beat_model, shared_data):
    predictor = Predictor.load(beat_model)
    path = shared_data / "ptbxl" / "records500" / "00000" / "00004_hr.hea"
    prediction = predictor.predict_file(path)
    record = read_record(path)
    as_mlii = Record(record.signal[[1]], record.fs, ["MLII"], {"record_id": "00004_hr"})
    expected = predictor.predict(as_mlii)
    assert len(prediction.beats) == len(expected.beats) >= 8  # 10 s at a resting rate
    np.testing.assert_allclose([b.probability for b in prediction.beats], [b.probability for b in expected.beats], atol=1e-6)
    assert prediction.notes[0] == "the record has no lead MLII: its lead II stands in (equivalent leads)."
    assert "R peaks detected on lead II (as MLII)" in prediction.notes[1]
    assert not any("stands in" in note for note in expected.notes)
    ptb = predictor.predict_file(shared_data / "ptbdb" / "patient001" / "s0010_re.hea")
    assert ptb.beats and "lead II stands in" in ptb.notes[0]


def test_a_missing_lead_error_names_the_file(record_model, tmp_path):
    path = tmp_path / "two.npy"
    np.save(path, twelve_lead().signal[:2])
    with pytest.raises(RecordFormatError, match=rf"^{str(path)}: the model needs leads"):
        Predictor.load(record_model).predict_file(path, fs=100, leads=["I", "II"])


# -- CLI -------------------------------------------------------------------------------------------

def _write_npy(tmp_path, seconds=10.0):
    path = tmp_path / "ecg.npy"
    np.save(path, twelve_lead(seconds=seconds).signal)
    return path


def test_cli_predict_json_matches_the_predictor(record_model, tmp_path, capsys):
    path = _write_npy(tmp_path)
    assert main(["predict", str(record_model), str(path), "--fs", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = Predictor.load(record_model).predict_file(path, fs=100).probabilities
    assert [r["record_id"] for r in out] == ["ecg"] and out[0]["file"] == str(path)
    np.testing.assert_allclose(list(out[0]["probabilities"].values()), expected, atol=1e-5)


def test_cli_predict_table_and_user_errors(record_model, tmp_path, capsys):
    path = _write_npy(tmp_path)
    assert main(["predict", str(record_model), str(path), "--fs", "100"]) == 0
    out = capsys.readouterr().out
    assert "probability" in out and "NORM" in out
    assert main(["predict", str(record_model), str(path)]) == 2
    err = capsys.readouterr().err
    assert "pass fs (--fs)" in err and "Traceback" not in err
    assert main(["predict", str(record_model), str(path), "--fs", "100", "--leads", "I,II"]) == 2
    assert "lead" in capsys.readouterr().err


def test_cli_predict_does_not_import_lightning(record_model, tmp_path):
    path = _write_npy(tmp_path)
    code = ("import sys; from ecglab.cli import main; "
            f"rc = main(['predict', {str(record_model)!r}, {str(path)!r}, '--fs', '100', '--json']); "
            "heavy = [m for m in ('lightning', 'pytorch_lightning', 'torchmetrics') if m in sys.modules]; "
            "print('HEAVY', heavy, rc, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY [] 0" in result.stderr, result.stderr


# -- ONNX ------------------------------------------------------------------------------------------

def test_onnx_backend_agrees_with_torch_on_record_and_beat_models(record_model, beat_model):
    record = twelve_lead(seconds=7)
    torch_probs = Predictor.load(record_model).predict(record).probabilities
    onnx_probs = Predictor.load(record_model, backend="onnx").predict(record).probabilities  # exported on the fly
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    strip = spike_train(360, 12, np.arange(0.5, 11.5, 0.7), ["MLII"])
    by_torch, by_onnx = (Predictor.load(beat_model, backend=b).predict(strip) for b in ("torch", "onnx"))
    assert [b.label for b in by_onnx.beats] == [b.label for b in by_torch.beats]
    np.testing.assert_allclose([b.probability for b in by_onnx.beats], [b.probability for b in by_torch.beats], atol=1e-4)


def test_cli_export_writes_one_onnx_file_that_the_onnx_backend_uses(tmp_path, capsys):
    import onnx

    bundle = record_bundle(tmp_path / "bundle")
    assert main(["export", str(bundle), "--format", "onnx"]) == 0
    assert "model.onnx" in capsys.readouterr().out
    graph = onnx.load(str(bundle / "model.onnx")).graph
    assert [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim[:1]] == ["batch"]
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]] == [12, 250]
    predictor = Predictor.load(bundle, backend="onnx")
    assert predictor._forward.path == bundle / "model.onnx"
    assert main(["export", str(bundle), "--out", str(tmp_path / "other.onnx")]) == 0 and (tmp_path / "other.onnx").is_file()
    assert main(["export", str(bundle), "--format", "tflite"]) == 2
    assert "expected 'onnx'" in capsys.readouterr().err


def test_cli_predict_keeps_going_past_an_unreadable_file(record_model, tmp_path, capsys):
    good = _write_npy(tmp_path)
    broken = tmp_path / "broken.csv"
    broken.write_text("I,II\n1,not-a-number\n")
    assert main(["predict", str(record_model), str(broken), str(good), "--fs", "100", "--json"]) == 2
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "error" in out[0] and "broken.csv" in out[0]["file"]
    assert out[1]["record_id"] == "ecg" and "probabilities" in out[1]
    assert "1 of 2 files could not be classified" in captured.err


def test_cli_predict_a_directory_names_every_file(record_model, tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    signal = twelve_lead().signal
    np.save(folder / "ecg.npy", signal)  # two records with one stem: only "file" tells them apart
    table = "time," + ",".join(STANDARD_12_LEADS) + "\n" + "\n".join(
        f"{i / 100}," + ",".join(f"{v:.5f}" for v in signal[:, i]) for i in range(signal.shape[1]))
    (folder / "ecg.csv").write_text(table)
    (folder / "README.md").write_text("exported from the cart\n")
    assert main(["predict", str(record_model), str(folder), "--fs", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in out] == [str(folder / "ecg.csv"), str(folder / "ecg.npy")]
    assert [r["record_id"] for r in out] == ["ecg", "ecg"]
    np.testing.assert_allclose(list(out[0]["probabilities"].values()), list(out[1]["probabilities"].values()), atol=1e-4)


def test_cli_predict_beat_bundle_on_a_12_lead_file(beat_model, shared_data, capsys):
    path = shared_data / "ptbxl" / "records500" / "00000" / "00004_hr.hea"
    assert main(["predict", str(beat_model), str(path)]) == 0
    assert "its lead II stands in" in capsys.readouterr().out


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_bundle_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        bundle = record_bundle(tmp_path / "shared")
    finally:
        os.umask(old)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in bundle.iterdir()} == {"model.safetensors": mode, "bundle.json": mode}
    model, _ = load_bundle(bundle)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_implausible_inputs_are_refused_with_the_reason(record_model, tmp_path):
    predictor = Predictor.load(record_model)
    microvolts = twelve_lead(seconds=10).signal * 1000
    with pytest.raises(RecordFormatError, match="not plausible in millivolts"):
        predictor.predict(Record(microvolts, 100, STANDARD_12_LEADS))
    with pytest.raises(RecordFormatError, match="too short for this model"):
        predictor.predict(Record(twelve_lead(seconds=0.5).signal, 100, STANDARD_12_LEADS))
    batch_of_one = tmp_path / "one.npy"
    np.save(batch_of_one, twelve_lead(seconds=10).signal[None])
    assert read_record(batch_of_one, fs=100).signal.shape == (12, 1000)
