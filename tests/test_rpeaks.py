"""Where the R-peak detector places a beat: on the deflection the annotators mark."""

from __future__ import annotations

import numpy as np

from ecglab.records import read_record
from ecglab.signal.rpeaks import annotated_beats, detect_r_peaks, match_beats

FS = 250.0
BEATS = np.arange(1.0, 19.0, 0.8)  # seconds


def _wave(centre_s: np.ndarray, amplitude: float, width_s: float) -> np.ndarray:
    t = np.arange(int(20 * FS)) / FS
    return amplitude * np.exp(-0.5 * ((t[None] - np.asarray(centre_s)[:, None]) / width_s) ** 2).sum(axis=0)


def _detected_offsets_ms(signal: np.ndarray, expected_s: np.ndarray) -> np.ndarray:
    peaks = detect_r_peaks(signal, FS)
    expected = np.round(expected_s * FS).astype(int)
    ref, det = match_beats(expected, peaks, FS)
    assert len(ref) == len(expected)  # every beat found (an extra one at the filter's end transient is no matter here)
    return (peaks[det] - expected[ref]) / FS * 1000


def test_a_qs_complex_is_placed_on_its_trough_not_on_the_small_bump_before_it():
    # a small positive notch 40 ms before a deep, dominant negative deflection
    signal = _wave(BEATS - 0.04, 0.15, 0.008) + _wave(BEATS, -2.0, 0.012) + _wave(BEATS + 0.3, 0.3, 0.05)
    assert np.abs(_detected_offsets_ms(signal, BEATS)).max() <= 8


def test_an_rs_complex_is_placed_on_its_r_wave_unless_the_s_wave_dominates_it():
    # R of 1.0 mV, then an S wave 40 ms later, 1.5 times deeper: the R peak is the beat
    signal = _wave(BEATS, 1.0, 0.01) + _wave(BEATS + 0.04, -1.5, 0.01) + _wave(BEATS + 0.3, 0.3, 0.05)
    assert np.abs(_detected_offsets_ms(signal, BEATS)).max() <= 8


def test_on_a_record_of_qs_complexes_beats_are_placed_where_the_annotators_put_them(shared_data):
    record = read_record(shared_data / "svdb" / "845.hea")  # lead ECG1: deep QS complexes, a small notch before them
    reference, _ = annotated_beats(record.annotations.samples, record.annotations.symbols)
    peaks = detect_r_peaks(record.signal, record.fs)
    ref, det = match_beats(reference, peaks, record.fs)
    assert len(ref) >= 0.995 * len(reference) and len(det) >= 0.995 * len(peaks)
    offsets_ms = (peaks[det] - reference[ref]) / record.fs * 1000
    assert abs(np.median(offsets_ms)) <= 8 and np.mean(np.abs(offsets_ms) > 30) < 0.05  # was -47 ms, 77 %
