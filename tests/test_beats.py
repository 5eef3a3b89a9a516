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


def _biphasic_complexes(n_samples: int, at: np.ndarray) -> np.ndarray:
    """A QRS whose R (+1) and S (-0.9) are alike in size, 3 samples apart, at each of ``at``: the complexes
    on which annotators and detectors pick different deflections."""
    lead = np.zeros(n_samples)
    for r in at:
        lead[r - 2:r + 1] += [0.5, 1.0, 0.5]
        lead[r + 2:r + 5] += [-0.45, -0.9, -0.45]
    return lead


def test_aligned_peaks_line_up_complexes_marked_on_different_deflections():
    from ecglab.inputs.cut_placement import aligned_peaks

    true = np.arange(40, 1000, 60)
    lead = _biphasic_complexes(1040, true)
    marked = true + np.resize([0, 3, 0, 0, 3, -1, 0, 1], len(true))  # R peak, S wave, or a sample off
    aligned = aligned_peaks(lead, marked, half=8, shift=6)
    assert np.array_equal(aligned - true, np.zeros(len(true), int))  # each back on its R peak, as most were marked
    assert np.array_equal(aligned_peaks(lead, true, half=8, shift=6), true)  # aligned peaks stay
    edge = np.array([5, *true[1:-1], 1035])  # too close to an end to move: as given
    assert aligned_peaks(lead, edge, half=8, shift=6)[[0, -1]].tolist() == [5, 1035]
    assert np.array_equal(aligned_peaks(np.zeros(1040), marked, half=8, shift=6), marked)  # nothing to match: no move


def test_aligned_beats_line_up_wherever_the_peaks_were_marked():
    from ecglab.inputs.beats import BEAT_PRESETS

    spec = BEAT_PRESETS["context-difference-aligned"]
    true = np.arange(64, 1200, 77)
    lead = _biphasic_complexes(1280, true)[None].astype(np.float32)
    marked = true + np.resize([0, 3, -2, 0], len(true))
    by_marked = extract_beats(lead, spec.fs, marked, spec)
    # one offset for every beat (the median of marks on both deflections lies between them), so all beats alike
    assert np.unique(by_marked.centres - true).tolist() == [-1]
    assert np.array_equal(by_marked.beats, np.broadcast_to(by_marked.beats[:1], by_marked.beats.shape))
    unaligned = extract_beats(lead, spec.fs, marked, spec.model_copy(update={"align_s": 0.0}))
    assert np.array_equal(unaligned.centres, marked[unaligned.kept])  # without alignment, cut where marked


def test_qrs_centred_moves_a_records_peaks_together_to_its_qrs_centre():
    from ecglab.inputs.cut_placement import qrs_centred

    true = np.arange(40, 1000, 60)
    lead = _biphasic_complexes(1040, true)
    # the squared slope of R (+1) and S (-0.9) weighs its centroid 0.79 samples after the R peak, hand-computed
    for offset in (-5, 0, 3, 7):  # wherever a record's R peaks were marked, the same cuts
        assert np.array_equal(qrs_centred(lead, true + offset, half=10, limit=8), true + 1)
    jittered = true + np.resize([0, 3, 0, -1], len(true))  # one move for all: each peak keeps its own jitter
    assert np.array_equal(qrs_centred(lead, jittered, half=10, limit=8) - jittered, np.ones(len(true), int))
    assert np.array_equal(qrs_centred(lead, true - 5, half=10, limit=2), true - 3)  # moved by at most the limit
    assert np.array_equal(qrs_centred(lead, true[:1], half=10, limit=8), true[:1])  # one peak: nothing to centre on


def test_deflection_centred_moves_a_records_peaks_together_to_its_dominant_deflection():
    from ecglab.inputs.cut_placement import deflection_centred

    true = np.arange(40, 1000, 60)
    lead = _biphasic_complexes(1040, true)
    r_peak = true - 1  # the apex of each R (+1), which dominates its S (-0.9)
    for offset in (-5, 0, 3, 7):  # wherever a record's R peaks were marked, the cuts go to its R peak
        assert np.array_equal(deflection_centred(lead, true + offset, half=10, limit=8), r_peak)
    # a QS complex (its trough over twice as prominent as any peak) is placed on its trough, as the detector does
    qs = np.zeros(1040)
    for r in true:
        qs[r - 2:r + 1] += [-0.5, -1.0, -0.5]
        qs[r + 2:r + 5] += [0.15, 0.3, 0.15]
    assert np.array_equal(deflection_centred(qs, true + 2, half=10, limit=8), r_peak)
    jittered = true + np.resize([0, 3, 0, -1], len(true))  # one move for all: each peak keeps its own jitter
    assert np.array_equal(deflection_centred(lead, jittered + 2, half=10, limit=8), jittered - 1)
    assert np.array_equal(deflection_centred(lead, true - 5, half=10, limit=2), true - 3)  # moved by at most the limit
    assert np.array_equal(deflection_centred(lead, true[:1], half=10, limit=8), true[:1])


@pytest.mark.parametrize("preset", ["context-difference-centred", "context-difference-deflection"])
def test_centred_beats_are_cut_alike_whatever_the_records_marking(preset):
    from ecglab.inputs.beats import BEAT_PRESETS

    spec = BEAT_PRESETS[preset]
    true = np.arange(64, 1200, 77)
    lead = _biphasic_complexes(1280, true)[None].astype(np.float32)
    by_r = extract_beats(lead, spec.fs, true, spec)
    by_s = extract_beats(lead, spec.fs, true + 3, spec)  # another annotator marks every S wave
    assert np.array_equal(by_r.centres, by_s.centres) and np.array_equal(by_r.beats, by_s.beats)
    aligned = extract_beats(lead, spec.fs, true + 3, BEAT_PRESETS["context-difference-aligned"])
    assert not np.array_equal(aligned.centres, by_r.centres)  # alignment alone keeps the marking's offset


def test_a_bundle_names_the_centring_only_where_it_centres(tmp_path):
    import json

    from ecglab.inference.bundle import load_spec
    from ecglab.inputs.beats import BEAT_PRESETS
    from use_fixtures import beat_bundle

    for preset, named in (("context-difference-aligned", False), ("context-difference-centred", True),
                          ("context-difference-deflection", True)):
        spec = BEAT_PRESETS[preset]
        bundle = beat_bundle(tmp_path / preset, beats=spec, fs=spec.fs, input_length=spec.length, leads=["MLII"],
                             model_kwargs=dict(filters=8, head_hidden=[8], n_blocks=4), meta_features=[])
        # left out where it is the default, so that earlier releases (which forbid unknown fields) read the bundle
        assert ("centre" in json.loads((bundle / "bundle.json").read_text())["beats"]) is named
        assert load_spec(bundle).beats == spec
