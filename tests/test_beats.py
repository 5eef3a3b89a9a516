import numpy as np
import pytest

from ecglab.inputs.beats import BeatSpec, extract_beats, rr_context
from ecglab.signal.resample import resample


def test_kachuee_beats_known_answer():
    fs = 125.0
    t = np.arange(int(20 * fs))
    signal = np.zeros((1, len(t)), dtype=np.float32)
    peaks = np.arange(50, len(t) - 10, 100)  # R-R = 100 samples → 1.2 T = 120
    signal[0, peaks] = 2.0
    signal[0, 0] = -1.0  # window minimum, so normalised peaks are exactly 1
    out = extract_beats(signal, fs, peaks, BeatSpec())
    assert out.beats.shape[1:] == (1, 187)
    first = out.beats[0, 0]
    assert first[0] == pytest.approx(1.0)  # the beat starts at its R peak, normalised to [0, 1]
    assert np.all(first[120:] == 0)  # zero-padded after 1.2 · T
    assert first[100] == pytest.approx(1.0)  # the next R peak falls inside the 1.2 T span
    assert out.beats.min() >= 0 and out.beats.max() <= 1
    assert np.array_equal(out.kept, np.arange(len(peaks)))


def test_kachuee_skips_windows_without_rr_interval():
    fs = 125.0
    signal = np.random.default_rng(0).normal(size=(1, int(20 * fs)))
    peaks = np.array([100, 1300, 1400])  # window 1 has one peak only; window 2 has two
    out = extract_beats(signal, fs, peaks)
    assert out.kept.tolist() == [1, 2]


def test_resampling_from_360_hz_maps_peaks():
    fs = 360.0
    signal = np.zeros((1, 3600), dtype=np.float32)
    peaks = np.arange(180, 3600, 288)
    signal[0, peaks] = 1.0
    out = extract_beats(signal, fs, peaks)
    # after resampling to 125 Hz every beat still starts on its (smoothed) peak maximum
    assert np.all(out.beats[:, 0, 0] > 0.8)


def test_centred_beats():
    signal = np.arange(2000, dtype=np.float32)[None, :]
    spec = BeatSpec(method="centred", fs=125.0, length=100, before_s=0.2)
    out = extract_beats(signal, 125.0, np.array([10, 500, 1990]), spec)
    assert out.kept.tolist() == [1]
    assert out.beats[0, 0, 0] == 500 - 25 and out.beats.shape == (1, 1, 100)


def test_rr_context_hand_computed():
    peaks = np.array([0, 100, 300, 400])
    rr = rr_context(peaks, fs=100.0, local_beats=2)
    np.testing.assert_allclose(rr[:, 0], [1.0, 1.0, 2.0, 1.0])  # previous
    np.testing.assert_allclose(rr[:, 1], [1.0, 2.0, 1.0, 1.0])  # next
    np.testing.assert_allclose(rr[:, 2], [1.0, 1.0, 1.5, 1.5])  # mean of the last 2 previous
    np.testing.assert_allclose(rr[:, 3], 4.0 / 3.0)  # record average


def test_resample_length():
    x = np.random.default_rng(0).normal(size=(2, 3600))
    assert resample(x, 360, 125).shape == (2, 1250)
    assert resample(x, 100, 100) is not None and resample(x, 100, 100).shape == x.shape
