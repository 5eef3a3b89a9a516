"""The grid-paper ECG picture: paper scale, layout, labels, files and ``ecglab plot``."""

from __future__ import annotations

import numpy as np
import pytest
from use_fixtures import beat_bundle, record_bundle, spike_train, twelve_lead

from ecglab.cli import main
from ecglab.errors import EcglabError
from ecglab.inference.predictor import Predictor
from ecglab.records import STANDARD_12_LEADS, Record
from ecglab.viz.ecg_paper import CALIBRATION_MM, ecg_figure, page_seconds, plot_ecg


def _square_wave_record(fs=100.0, seconds=10.0):
    """Every lead: 0 mV, then 1 mV during [1 s, 2 s) of each 2.5 s column, so the scale is readable off the lines."""
    t = np.arange(int(fs * seconds)) / fs
    lead = ((t % 2.5 >= 1.0) & (t % 2.5 < 2.0)).astype(np.float32)
    return Record(np.tile(lead, (12, 1)), fs, STANDARD_12_LEADS, {"record_id": "square"})


def _texts(figure):
    return [t.get_text() for t in figure.axes[0].texts]


def _trace_lines(figure):
    return [line for line in figure.axes[0].lines if len(line.get_xdata()) > 10]


def test_paper_scale_is_25_mm_per_s_and_10_mm_per_mv():
    figure = ecg_figure(_square_wave_record())
    width_in, _ = figure.get_size_inches()
    assert width_in * 25.4 == pytest.approx(CALIBRATION_MM + 250 + 5)
    ax = figure.axes[0]
    assert ax.get_xlim() == pytest.approx((0, CALIBRATION_MM + 255))
    lines = _trace_lines(figure)
    assert len(lines) == 13  # 12 leads of 2.5 s and the 10 s rhythm strip
    first = lines[0]
    x, y = np.asarray(first.get_xdata()), np.asarray(first.get_ydata())
    assert x[0] == pytest.approx(CALIBRATION_MM) and x[-1] - x[0] == pytest.approx(2.49 * 25)
    assert y.max() - y.min() == pytest.approx(10.0)  # 1 mV
    high = x[y > y.min() + 5]
    assert high.min() - x[0] == pytest.approx(25.0) and high.max() - x[0] == pytest.approx(1.99 * 25)
    rhythm = lines[-1]
    assert np.ptp(rhythm.get_xdata()) == pytest.approx(9.99 * 25)


def test_standard_page_layout_and_grid():
    figure = ecg_figure(twelve_lead())
    labels = [t for t in _texts(figure) if t in STANDARD_12_LEADS]
    assert labels == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "II"]
    grids = figure.axes[0].collections
    minor_x = np.array([seg[0][0] for seg in grids[0].get_segments()])
    major_x = np.array([seg[0][0] for seg in grids[2].get_segments()])
    assert np.allclose(np.diff(minor_x), 1.0) and np.allclose(np.diff(major_x), 5.0)


def test_holter_record_gets_one_strip_per_lead_with_beat_labels(tmp_path):
    peaks = np.arange(0.5, 29.5, 0.8)
    record = spike_train(360, 30, peaks, ["MLII", "V1"])
    prediction = Predictor.load(beat_bundle(tmp_path / "beat")).predict(record)
    figure = ecg_figure(record, prediction, start_s=5, seconds=10)
    texts = _texts(figure)
    assert [t for t in texts if t in ("MLII", "V1")] == ["MLII", "V1"]
    shown = [b.label for b in prediction.beats if 5 <= b.time_s < 15]
    assert len(shown) >= 11 and [t for t in texts if t in prediction.classes] == shown
    title = figure.texts[0].get_text()
    assert "kachuee: beats" in title and f"{prediction.beat_counts[shown[0]]}" in title


def test_title_names_the_positive_classes_and_probabilities(tmp_path):
    record = twelve_lead()
    predictor = Predictor.load(record_bundle(tmp_path / "b", thresholds=[0.0, 1.01, 1.01, 1.01, 1.01]))
    prediction = predictor.predict(record)
    title = ecg_figure(record, prediction).texts[0].get_text()
    assert "resnet1d: NORM " in title and f"NORM {prediction.probabilities[0]:.2f}*" in title
    assert f"MI {prediction.probabilities[1]:.2f} " in title


def test_png_and_pdf_files_and_the_cli(tmp_path, capsys):
    record = twelve_lead()
    png = plot_ecg(record, tmp_path / "ecg.png", dpi=100)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(header[16:20], "big")
    assert width == round((CALIBRATION_MM + 255) / 25.4 * 100)
    assert plot_ecg(record, tmp_path / "ecg.pdf").read_bytes()[:4] == b"%PDF"
    np.save(tmp_path / "ecg.npy", record.signal)
    bundle = record_bundle(tmp_path / "bundle")
    assert main(["plot", str(tmp_path / "ecg.npy"), "--fs", "100", "--bundle", str(bundle), "--out", str(tmp_path / "o.png")]) == 0
    assert (tmp_path / "o.png").stat().st_size > 10_000 and "wrote" in capsys.readouterr().out


def test_a_page_outside_the_record_is_an_error_not_an_empty_picture(tmp_path, capsys):
    record = twelve_lead(seconds=10)
    with pytest.raises(EcglabError, match=r"cannot start at 12 s; the record lasts 10 s"):
        ecg_figure(record, start_s=12)
    with pytest.raises(EcglabError, match="cannot start at -1 s"):
        ecg_figure(record, start_s=-1)
    with pytest.raises(EcglabError, match=r"positive number of seconds \(--seconds\), found 0"):
        ecg_figure(record, seconds=0)
    assert page_seconds(record, 8, 10) == pytest.approx(2.0)  # a page running past the end is cut short
    np.save(tmp_path / "ecg.npy", record.signal)
    assert main(["plot", str(tmp_path / "ecg.npy"), "--fs", "100", "--start", "5000", "--out", str(tmp_path / "z.png")]) == 2
    err = " ".join(capsys.readouterr().err.split())  # the CLI wraps messages at 100 columns
    assert "ecg.npy: the page cannot start at 5000 s" in err and not (tmp_path / "z.png").exists()


def test_cli_plot_with_a_beat_bundle_on_a_12_lead_record(tmp_path, capsys):
    record = twelve_lead(fs=360, seconds=10)
    np.save(tmp_path / "ecg.npy", record.signal)
    bundle = beat_bundle(tmp_path / "beat")
    assert main(["plot", str(tmp_path / "ecg.npy"), "--fs", "360", "--bundle", str(bundle), "--out", str(tmp_path / "b.png")]) == 0
    assert "wrote" in capsys.readouterr().out
    prediction = Predictor.load(bundle).predict(record)
    texts = _texts(ecg_figure(record, prediction))
    assert len(prediction.beats) >= 10 and [t for t in texts if t in prediction.classes] == [b.label for b in prediction.beats]
