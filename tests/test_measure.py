"""Measurements: known answers on hand-made waves (intervals, QTc, axes, lead combination), nulls with
reasons, the shipped delineator on a real LUDB record, ``ecglab measure`` and the segmentation model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ecglab.inputs.intervals import NAMES, measure_waves, signal_problem
from ecglab.inputs.wave_beats import across_leads, combine, find_beats, without_unorganised_p
from ecglab.inputs.waves import Wave, clean_labels, runs, wave_labels, waves_from_annotation, waves_from_labels

FS = 500.0
LEADS = ["I", "aVF"]


def beat_waves(lead: str, qrs_on: int, shift: int = 0, p: bool = True, t: bool = True) -> list[Wave]:
    """One beat: P 160…110 samples before the QRS (100 ms long, PR 320 ms at onset), QRS 50 samples (100 ms),
    T ending 200 samples (400 ms) after the QRS onset. ``shift`` moves this lead's QRS boundaries outwards."""
    waves = [Wave(lead, "QRS", qrs_on - shift, qrs_on + 20, qrs_on + 50 + shift)]
    if p:
        waves.insert(0, Wave(lead, "P", qrs_on - 160, qrs_on - 135, qrs_on - 110))
    if t:
        waves.append(Wave(lead, "T", qrs_on + 120, qrs_on + 160, qrs_on + 200))
    return waves


def draw(waves: list[Wave], amplitudes: dict, n: int = 5000) -> np.ndarray:
    """Rectangular waves: amplitudes[(lead, wave)] mV over onset..offset, 0 elsewhere."""
    signal = np.zeros((len(LEADS), n), dtype=np.float32)
    for w in waves:
        signal[LEADS.index(w.lead), w.onset:w.offset + 1] = amplitudes[(w.lead, w.wave)]
    return signal


AVF = np.sqrt(3) / 2  # aVF records √3/2 of the projection on +90° (Einthoven), lead I all of the one on 0°
AMPLITUDES = {("I", "P"): 0.1, ("aVF", "P"): 0.1 * np.sqrt(3) * AVF, ("I", "QRS"): 1.0, ("aVF", "QRS"): AVF,
              ("I", "T"): 0.3, ("aVF", "T"): -0.3 * AVF}
ONSETS = [500, 1000, 1500, 2000, 2500]  # every 1000 ms: 60 bpm


def test_known_intervals_and_axes_at_60_bpm():
    waves = [w for lead in LEADS for on in ONSETS for w in beat_waves(lead, on)]
    m = measure_waves(waves, draw(waves, AMPLITUDES), FS, LEADS)
    v = m.values
    assert v["heart_rate_bpm"] == 60.0 and v["rr_ms"] == 1000.0
    assert v["pr_ms"] == 320.0 and v["p_ms"] == 100.0 and v["qrs_ms"] == 100.0 and v["qt_ms"] == 400.0
    assert v["qtc_bazett_ms"] == 400.0 and v["qtc_fridericia_ms"] == 400.0  # RR of 1 s: QTc = QT
    assert v["p_axis_deg"] == 60.0 and v["qrs_axis_deg"] == 45.0 and v["t_axis_deg"] == -45.0
    assert m.beats["qrs_ms"] == 5 and m.beats["heart_rate_bpm"] == 5 and not m.reasons


def test_qtc_formulas_at_75_bpm():
    onsets = [400 * k for k in range(1, 8)]  # 800 ms: 75 bpm
    waves = [w for on in onsets for w in beat_waves("I", on)]
    m = measure_waves(waves, draw(waves, AMPLITUDES), FS, ["I"])
    assert m.values["heart_rate_bpm"] == 75.0
    assert m.values["qtc_bazett_ms"] == pytest.approx(400 / np.sqrt(0.8), abs=0.05)  # 447.2
    assert m.values["qtc_fridericia_ms"] == pytest.approx(400 / np.cbrt(0.8), abs=0.05)  # 430.9
    assert "qrs_axis_deg" in m.reasons and "III" in m.reasons["qrs_axis_deg"]  # one lead: no axis, said why


def test_leads_combine_by_earliest_onset_and_latest_offset_and_a_stray_lead_is_ignored():
    leads = ["I", "II", "aVF"]
    waves = [w for on in ONSETS for w in beat_waves("I", on) + beat_waves("II", on, shift=5) + beat_waves("aVF", on)]
    beats = find_beats(waves, leads, FS)
    assert [b.qrs.onset for b in beats] == [on - 5 for on in ONSETS]
    assert {b.qrs.offset - b.qrs.onset for b in beats} == {60}  # 120 ms: II's wider QRS sets both ends
    stray = [Wave(w.lead, w.wave, w.onset - 40, w.peak, w.offset) if w.lead == "II" and w.wave == "QRS" else w
             for w in waves]  # II's onset 80 ms early, beyond the 40 ms agreement: left out
    assert [b.qrs.onset for b in find_beats(stray, leads, FS)] == ONSETS


def test_two_leads_that_disagree_still_give_each_beat():
    """Two onsets 120 ms apart have a median neither agrees with (it once crashed): the lower median wins,
    so the onset is the earlier lead's and the offset the earlier of the two."""
    waves = [w for on in ONSETS for w in beat_waves("I", on) + beat_waves("aVF", on, shift=60)]
    beats = find_beats(waves, LEADS, FS)
    assert [b.qrs.onset for b in beats] == [on - 60 for on in ONSETS]
    assert {b.qrs.offset - b.qrs.onset for b in beats} == {110}


def test_two_far_apart_pairs_of_leads_keep_the_lower_median_pair_instead_of_none():
    # onsets 0, 2 and 100, 102 at 500 Hz: np.median (51) is beyond 40 ms (20 samples) of every lead
    waves = [Wave(lead, "QRS", on, on + 20, on + 40) for lead, on in (("I", 0), ("II", 2), ("V1", 100), ("V2", 102))]
    span = combine(waves, 500.0)
    assert (span.onset, span.offset, span.leads) == (0, 42, 4)  # the lower pair's earliest onset and latest offset


def test_no_p_waves_gives_null_pr_with_reason_but_keeps_the_rest():
    waves = [w for lead in LEADS for on in ONSETS for w in beat_waves(lead, on, p=False)]
    m = measure_waves(waves, draw(waves, AMPLITUDES), FS, LEADS)
    for name in ("pr_ms", "p_ms", "p_axis_deg"):
        assert m.values[name] is None and "0 of 5 beats" in m.reasons[name]
    assert "atrial fibrillation" in m.reasons["pr_ms"]
    assert m.values["qrs_ms"] == 100.0 and m.values["qt_ms"] == 400.0


def test_p_waves_before_too_few_beats_are_dropped_as_not_atrial_rhythm():
    """Fibrillation waves taken for P before 2 of 5 beats: no P is reported at all (LUDB marks none in AF);
    P waves before 3 of 5 beats are a rhythm and kept, and the beats without one simply lack a P."""
    def record(with_p):
        return [w for lead in LEADS for k, on in enumerate(ONSETS) for w in beat_waves(lead, on, p=k < with_p)]
    assert not [w for w in without_unorganised_p(record(2), LEADS, FS) if w.wave == "P"]
    assert without_unorganised_p(record(3), LEADS, FS) == record(3)
    assert without_unorganised_p(beat_waves("I", 500), LEADS, FS) == beat_waves("I", 500)  # one beat: nothing to judge by


def test_waves_before_every_beat_of_an_irregular_rhythm_are_dropped_only_where_the_pr_wanders():
    """Atrial fibrillation: R-R intervals irregular (here 600 to 1000 ms) and the 'P waves' found before the beats
    are f waves at any distance from the QRS (PR 100 to 300 ms): none is kept. Sinus arrhythmia (the same R-R)
    keeps one PR, and its P waves; so does a regular rhythm whose PR wanders (AV dissociation)."""
    irregular = np.cumsum([500, 300, 500, 450, 250, 500, 350]).tolist()  # samples at 500 Hz: 600…1000 ms apart
    regular = [500 * k for k in range(1, 8)]

    def record(onsets, prs):
        waves = []
        for lead in LEADS:
            for on, pr in zip(onsets, prs):
                waves += [Wave(lead, "P", on - pr, on - pr + 25, on - pr + 50)] + beat_waves(lead, on, p=False)
        return waves
    wandering, steady = [50, 150, 90, 60, 140, 100, 70], [80] * 7  # PR in samples: 100–300 ms, or 160 ms
    assert not [w for w in without_unorganised_p(record(irregular, wandering), LEADS, FS) if w.wave == "P"]
    for kept in (record(irregular, steady), record(regular, wandering)):
        assert without_unorganised_p(kept, LEADS, FS) == kept


def test_a_wave_three_quarters_of_the_leads_show_is_given_to_the_rest_with_their_median_boundaries():
    twelve = [f"L{k}" for k in range(12)]
    p_in_nine = [Wave(lead, "P", 100 + k, 120 + k, 150 + 2 * k) for k, lead in enumerate(twelve[:9])]
    qrs_in_eight = [Wave(lead, "QRS", 300, 320, 350) for lead in twelve[:8]]
    waves = across_leads(p_in_nine + qrs_in_eight, twelve)
    added = [Wave(lead, "P", 104, 124, 158) for lead in twelve[9:]]  # the median of 100…108, 120…128, 150…166
    assert waves == sorted(p_in_nine + qrs_in_eight + added, key=lambda w: (twelve.index(w.lead), w.onset))
    assert across_leads(p_in_nine, twelve[:9]) == p_in_nine  # nothing is missing
    later = [Wave(w.lead, "P", w.onset + 1000, w.peak + 1000, w.offset + 1000) for w in p_in_nine[:3]]
    assert set(across_leads(p_in_nine + later, twelve)) == set(p_in_nine + later + added)  # 3 leads lend nothing


def test_short_flat_and_beatless_records_are_null_with_a_reason():
    short = measure_waves([], np.ones((2, 500), np.float32), FS, LEADS)
    flat = measure_waves([], np.zeros((2, 5000), np.float32), FS, LEADS)
    noisy = measure_waves(beat_waves("I", 500), np.random.default_rng(0).normal(size=(2, 5000)), FS, LEADS)
    for result, words in ((short, "lasts 1.00 s"), (flat, "flat"), (noisy, "1 QRS complex found")):
        assert all(v is None for v in result.values.values())
        assert set(result.reasons) == set(NAMES) and all(words in r for r in result.reasons.values())
    assert signal_problem(np.full((1, 5000), np.nan), FS) is not None


def test_isoelectric_wave_has_no_axis():
    amplitudes = {**AMPLITUDES, ("I", "T"): 0.0, ("aVF", "T"): 0.0}
    waves = [w for lead in LEADS for on in ONSETS for w in beat_waves(lead, on)]
    m = measure_waves(waves, draw(waves, amplitudes), FS, LEADS)
    assert m.values["t_axis_deg"] is None and "indeterminate" in m.reasons["t_axis_deg"]
    assert m.values["qrs_axis_deg"] == 45.0


def test_axis_from_ii_and_iii_when_i_and_avf_are_missing():
    # a QRS vector pointing to +60°, along lead II: II records all of it, III (+120°) cos 60° of it
    ii, iii = 1.0, np.cos(np.radians(60))
    waves = [w for lead in ("II", "III") for on in ONSETS for w in beat_waves(lead, on, p=False, t=False)]
    signal = np.zeros((2, 5000), np.float32)
    for w in waves:
        signal[0 if w.lead == "II" else 1, w.onset:w.offset + 1] = ii if w.lead == "II" else iii
    m = measure_waves(waves, signal, FS, ["II", "III"])
    assert m.values["qrs_axis_deg"] == pytest.approx(60.0, abs=0.2)


def test_annotation_triplets_labels_and_label_cleaning():
    waves = waves_from_annotation([10, 15, 20, 30, 40, 50, 60], ["(", "p", ")", "(", "N", ")", "t"], "II")
    assert waves == [Wave("II", "P", 10, 15, 20), Wave("II", "QRS", 30, 40, 50)]  # the lone 't' is dropped
    labels = wave_labels(waves, 60)
    assert labels[10] == 1 and labels[20] == 1 and labels[21] == 0 and labels[30:51].tolist() == [2] * 21
    noisy = np.zeros(200, np.uint8)
    noisy[50:100] = 2
    noisy[70:73] = 0  # a 6 ms hole inside a QRS
    noisy[150:153] = 3  # a 6 ms "T": too short to be one
    assert clean_labels(noisy, FS).tolist() == [0] * 50 + [2] * 50 + [0] * 100
    split_p = np.zeros(400, np.uint8)
    split_p[[*range(0, 30), *range(60, 90)]] = 1  # a P broken by a 60 ms hole is one P
    split_p[[*range(190, 220), *range(251, 280)]] = 1  # 62 ms apart: two waves
    assert [(a, b) for code, a, b in runs(clean_labels(split_p, FS)) if code] == [(0, 90), (190, 220), (251, 280)]
    trace = np.zeros(200)
    trace[80] = 1.5
    assert waves_from_labels(noisy, trace, FS, "V1") == [Wave("V1", "QRS", 50, 80, 99)]


# --- the segmentation model, the shipped delineator on a real record, the CLI ---------------------------------

def test_unet1d_is_listed_as_segmentation_and_returns_per_sample_logits():
    import torch

    from ecglab.errors import ConfigError
    from ecglab.models import create_model, list_models, model_info

    assert "unet1d" in list_models() and list_models(task="segmentation") == ["unet1d"]
    assert "unet1d" not in list_models(task="classification") and model_info("unet1d").task == "segmentation"
    model = create_model("unet1d", n_leads=1, n_classes=4, input_length=1000, width=4, depth=3)
    with torch.no_grad():
        assert model(torch.randn(2, 1, 997)).shape == (2, 4, 997)  # any length: padded inside, cut back
    with pytest.raises(ConfigError, match="metadata"):
        create_model("unet1d", 1, 4, 1000, n_meta=2)


def test_a_couple_of_training_steps_write_a_loadable_segmentation_bundle(tmp_path):
    from ecglab.datasets.core.prepared import write_prepared
    from ecglab.inference.delineate import load_delineator
    from ecglab.measure.train import train_delineator

    rng = np.random.default_rng(0)
    n, length = 6, 2500
    meta = __import__("pandas").DataFrame({"record_id": [f"r{k}" for k in range(n)], "patient_id": [f"p{k}" for k in range(n)],
                                           "split": ["train"] * 4 + ["val", "test"]})
    data = write_prepared(tmp_path / "d", rng.normal(size=(n, 1, length)).astype(np.float32), np.ones((n, 1), np.uint8),
                          meta, name="tiny", kind="multiclass", classes=["x"], fs=250.0, leads=["II"],
                          preprocessing={"fs": 250.0, "standardize": "record"})
    labels = np.zeros((n, 1, length), np.uint8)
    labels[..., 500:520] = 2
    np.save(data.path / "waves.npy", labels)
    np.save(data.path / "wave_mask.npy", np.ones_like(labels, bool))
    bundle = train_delineator(data.path, tmp_path / "b", steps=2, batch=4, width=4, depth=2, eval_every=1, log=lambda _: None)
    model, spec = load_delineator(bundle)
    assert spec.kind == "segmentation" and spec.classes == ["none", "P", "QRS", "T"] and spec.fs == 250.0


def test_a_wave_straddling_the_scored_edge_counts_whole_or_not_at_all():
    from ecglab.measure.scoring import Scorer

    # annotation starts at a QRS (onset 500); the unannotated P before it ends 20 ms (10 samples) earlier,
    # inside the 40 ms edge, but its peak and onset lie outside: neither of its boundaries is scored
    reference = [Wave("II", "QRS", 500, 520, 540), Wave("II", "T", 600, 650, 700)]
    scorer = Scorer(500.0)
    scorer.add(reference, [Wave("II", "P", 430, 460, 490), *reference])
    p_scores = [scorer.tallies[("P", side)] for side in ("onset", "offset")]
    assert [(t.missed, t.spurious) for t in p_scores] == [(0, 0), (0, 0)]
    # the first annotated QRS found 60 ms early: its peak is in, so the onset counts as an error, not a miss
    late = Scorer(500.0)
    late.add(reference, [Wave("II", "QRS", 470, 520, 540), reference[1]])
    onset = late.tallies[("QRS", "onset")]
    assert (onset.errors, onset.missed, onset.spurious) == ([-30.0], 0, 0)


def test_rate_of_beats_is_60_over_the_mean_rr():
    from ecglab.measure.evaluate import rate_of

    assert rate_of([1000, 0, 500], 500.0) == 60.0 and rate_of([0, 400, 1000], 500.0) == 60.0  # mean R-R 1 s
    assert rate_of([10], 500.0) is None


@pytest.fixture(scope="module")
def ludb_record(shared_data):
    from ecglab.datasets.ludb import read_lead_waves

    # data/23: a held-out (test-split) patient of the shipped model, sinus rhythm, left axis deviation
    return read_lead_waves(str(shared_data / "ludb" / "data" / "23"), ["I", "II", "III", "aVR", "aVL", "aVF",
                                                                         "V1", "V2", "V3", "V4", "V5", "V6"])


def test_shipped_delineator_finds_the_annotated_waves_of_a_held_out_record(ludb_record):
    from ecglab.measure import measure
    from ecglab.measure.scoring import Scorer

    record, reference = ludb_record
    result = measure(record)
    scorer = Scorer(record.fs)
    for lead, ref in zip(record.leads, reference):
        scorer.add(ref, [w for w in result.waves if w.lead == lead])
    scores = scorer.summary()
    for boundary in ("P onset", "P offset", "QRS onset", "QRS offset", "T offset"):
        assert scores[boundary]["se"] >= 90 and scores[boundary]["ppv"] >= 90, (boundary, scores[boundary])
    assert abs(scores["QRS onset"]["mean_ms"]) <= 10 and scores["QRS onset"]["mae_ms"] <= 12
    assert abs(scores["T offset"]["mean_ms"]) <= 30
    truth = reference[1]  # lead II: heart rate from its annotated QRS peaks
    peaks = np.sort([w.peak for w in truth if w.wave == "QRS"])
    assert result.measurements["heart_rate_bpm"] == pytest.approx(60 * record.fs / np.diff(peaks).mean(), abs=2)
    assert result.measurements["qrs_axis_deg"] < 0  # LUDB: left axis deviation
    assert all(result.measurements[k] is not None for k in ("pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms"))


def test_a_flat_lead_is_left_out_without_shifting_the_others(ludb_record):
    from dataclasses import replace

    from ecglab.measure import measure

    record, _ = ludb_record
    signal = record.signal.copy()
    signal[0] = 0.0  # lead I disconnected: the axis must come from II and III, not from the row after it
    result = measure(replace(record, signal=signal))
    assert "I" not in result.leads
    assert result.measurements["qrs_axis_deg"] == pytest.approx(measure(record).measurements["qrs_axis_deg"], abs=10)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ecglab.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "PYTHONPATH": "src"})


def test_cli_measure_json_shape_and_bad_inputs(shared_data, tmp_path):
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((12, 5000), np.float32))
    short = tmp_path / "short.npy"
    np.save(short, np.random.default_rng(0).normal(size=(12, 600)).astype(np.float32))
    done = run_cli("measure", shared_data / "ludb" / "data" / "23.hea", flat, short, "--fs", "500", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    real, flat_out, short_out = lines
    assert set(real) >= {"file", "waves", "measurements", "reasons", "beat_counts"}
    assert set(real["measurements"]) >= {"heart_rate_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_bazett_ms",
                                         "qtc_fridericia_ms", "p_axis_deg", "qrs_axis_deg", "t_axis_deg"}
    assert set(real["waves"][0]) == {"lead", "wave", "onset", "peak", "offset"}
    assert max(w["offset"] for w in real["waves"]) > 2500  # samples at the file's 500 Hz, not the model's 250
    assert all(v is None for v in flat_out["measurements"].values()) and "flat" in flat_out["reasons"]["qrs_ms"]
    assert all(v is None for v in short_out["measurements"].values()) and "1.20 s" in short_out["reasons"]["qrs_ms"]
    garbage = tmp_path / "garbage.hea"
    garbage.write_text("not a header")
    bad = run_cli("measure", garbage)
    assert bad.returncode == 2 and "error" in bad.stderr


def test_import_ecglab_stays_light_and_measure_is_callable():
    code = "import sys, ecglab; assert callable(ecglab.measure); assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": "src"})
    assert done.returncode == 0, done.stderr
