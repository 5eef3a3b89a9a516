"""The shipped mitbih-aami beat models: load by name, predict real records with and without an
annotation file, on leads named MLII, II or ECG1 beside the record's chest lead (mitbih-aami), or alone
(mitbih-aami-1lead, which mitbih-aami's bundle names as its fallback for records without a chest lead).

Every shared DS1 and SVDB record was in its training data, so these are checks that the whole path
works (beats found, cut and classified as in training), not measures of accuracy on new patients:
those are the cross-validation figures of its MODEL_CARD.md.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecglab.datasets.core.aami import aami_class
from ecglab.errors import BundleError, RecordFormatError
from ecglab.inference.bundle import load_bundle
from ecglab.inference.explain import explain
from ecglab.inference.predictor import Predictor
from ecglab.inputs.alike import AlikeBeats
from ecglab.pretrained import find_pretrained
from ecglab.records import Record, read_record

NAME, ONE_LEAD = "mitbih-aami", "mitbih-aami-1lead"
CHEST = "V1/V2/V4/V5/ECG2"  # the second lead: whichever of these the record has


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load(NAME)


def _agreement(prediction, record) -> tuple[float, float]:
    """(share of reference beats with a predicted beat within 150 ms, accuracy of the matched beats)."""
    reference = {s: aami_class(y) for s, y in zip(record.annotations.samples, record.annotations.symbols) if aami_class(y)}
    samples = np.array(sorted(reference))
    calls = [(b.sample, b.label) for b in prediction.beats]
    near = np.searchsorted(samples, [s for s, _ in calls]).clip(1, len(samples) - 1)
    matched, correct = set(), 0
    for (sample, label), i in zip(calls, near):
        j = i if abs(samples[i] - sample) < abs(samples[i - 1] - sample) else i - 1
        if abs(samples[j] - sample) <= 0.15 * record.fs and samples[j] not in matched:
            matched.add(samples[j])
            correct += reference[samples[j]] == label
    return len(matched) / len(samples), correct / max(len(matched), 1)


# the thresholds that read p_consistency and qrs_difference (averaged over the leads), and the two-lead model's V
# probability, were read for each model
GATES = {NAME: (0.4, 0.3, 0.25, 0.3), ONE_LEAD: (0.5, 0.4, 0.2, 0.05)}


@pytest.mark.parametrize("name, leads", [(NAME, ["MLII", CHEST]), (ONE_LEAD, ["MLII"])])
def test_the_bundle_is_small_and_averages_two_models_of_the_context_beat_beside_its_template(name, leads):
    path = find_pretrained(name)
    assert (path / "MODEL_CARD.md").is_file() and (path / "model.safetensors").stat().st_size < 3_000_000
    _, spec = load_bundle(path)
    assert (spec.input, spec.leads, spec.fs, spec.input_length) == ("beat", leads, 128.0, 96)
    assert (spec.beats.method, spec.beats.normalize, spec.beats.template) == ("centred", "record", "difference")
    assert spec.beats.align_s == 0.05  # beats cut where their QRS matches the record's median QRS
    assert spec.channels == 2 * len(leads)  # per lead the beat, and the beat minus the record's median beat
    assert spec.architecture == "ensemble" and spec.model_kwargs["method"] == "mean"  # plain and balanced members
    assert [m["architecture"] for m in spec.model_kwargs["members"]] == ["kachuee", "kachuee"]
    assert [f.name for f in spec.meta_features][:3] == ["rr_prev_rel", "rr_next_rel", "rr_local_rel"]
    assert [f.name for f in spec.meta_features][-4:] == ["rr_irregularity", "p_consistency", "qrs_difference",
                                                          "rr_prev_rel"]  # the gates'
    early, fibrillating, unusual_qrs, plausible_v = GATES[name]
    assert spec.model_kwargs["gates"] == {
        "classes": {"N": 0, "S": 1, "V": 2},
        "prematurity": {"rr_prev_rel_below": 0.8, "p_consistency_above": early},
        "rhythm": {"irregularity_above": 0.15, "p_consistency_below": fibrillating},
        "morphology": {"qrs_difference_above": unusual_qrs, "v_probability_above": plausible_v}}
    assert spec.alike_beats == AlikeBeats(neighbours=20, radius=5.0)  # V shared among alike beats of a record


def test_predicts_an_annotated_mitbih_record(predictor, shared_data):
    record = read_record(shared_data / "mitbih" / "208.hea")
    prediction = predictor.predict(record)
    found, accuracy = _agreement(prediction, record)
    assert "R peaks from the record's beat annotations" in prediction.notes[0]
    assert found > 0.998 and accuracy > 0.85  # 2 of 2,955 beats lie too close to an end to be cut
    early = [note for note in prediction.notes if "come early for the patient's rhythm" in note]
    assert len(early) == 1 and int(early[0].split()[0]) > 0  # the prematurity gate says what it concerns
    assert prediction.notes[-1].startswith("V probability shared among beats of alike QRS shape (up to 20 per beat)")


def test_predicts_an_svdb_record_without_annotations_on_lead_ecg1(predictor, shared_data):
    annotated = read_record(shared_data / "svdb" / "800.hea")
    bare = Record(annotated.signal, annotated.fs, annotated.leads, dict(annotated.meta), annotations=None)
    prediction = predictor.predict(bare)
    assert prediction.notes[:2] == ["the record has no lead MLII: its lead ECG1 stands in (equivalent leads).",
                                    "the record has no lead V1: its lead ECG2 is read instead, one of the leads the "
                                    "model accepts there (V1, V2, V4, V5, ECG2)."]
    assert any(note.startswith("R peaks detected on lead ECG1") for note in prediction.notes)
    found, accuracy = _agreement(prediction, annotated)
    assert found > 0.99 and accuracy > 0.85


def test_the_chest_lead_is_whichever_the_record_has(predictor, shared_data):
    record = read_record(shared_data / "mitbih" / "124.hea")  # MLII and V4
    prediction = predictor.predict(record)
    assert prediction.notes[0] == ("the record has no lead V1: its lead V4 is read instead, one of the leads the model "
                                   "accepts there (V1, V2, V4, V5, ECG2).")
    assert _agreement(prediction, record)[1] > 0.85


def test_a_flat_chest_lead_is_noted(predictor, shared_data):
    record = read_record(shared_data / "mitbih" / "208.hea")
    assert not any("flat or noise" in note for note in predictor.predict(record).notes)
    loose = Record(record.signal * np.array([[1.0], [0.0]], dtype=np.float32), record.fs, record.leads,
                   dict(record.meta), record.annotations)
    prediction = predictor.predict(loose)
    assert f"{record.duration:.0f} of {record.duration:.0f} s of lead V1 are flat or noise" in " ".join(prediction.notes)
    assert sum(prediction.beat_counts.values()) == sum(predictor.predict(record).beat_counts.values())


def test_a_one_lead_record_is_classified_by_the_one_lead_model_the_bundle_names(predictor, shared_data):
    record = read_record(shared_data / "mitbih" / "208.hea").select_leads(["MLII"])
    prediction, alone = predictor.predict(record), Predictor.load(ONE_LEAD).predict(record)
    assert prediction.notes[0] == ("The record has no lead V1, V2, V4, V5 or ECG2, which this model also reads: it was "
                                   "classified by mitbih-aami-1lead, the model its bundle names for such records.")
    assert prediction.notes[1:] == alone.notes
    assert [(b.sample, b.label) for b in prediction.beats] == [(b.sample, b.label) for b in alone.beats]
    found, accuracy = _agreement(prediction, record)
    assert found > 0.998 and accuracy > 0.85
    assert predictor.for_record(record).spec.leads == ["MLII"] and predictor.for_record(record).reads(record)
    explained = explain(predictor, record, steps=2)
    assert explained.leads == ["MLII"] and explained.notes[0] == prediction.notes[0]
    chest_only = read_record(shared_data / "mitbih" / "208.hea").select_leads(["V1"])  # the fallback cannot read it
    assert predictor.for_record(chest_only) is predictor
    with pytest.raises(RecordFormatError, match=r"missing \['MLII'\] \(equivalent leads would do: II or ECG1 for MLII\)"):
        predictor.predict(chest_only)


def test_without_a_fallback_a_one_lead_record_is_refused_with_the_shipped_models_that_read_it(shared_data, tmp_path):
    bundle = tmp_path / "two-lead"
    shutil.copytree(find_pretrained(NAME), bundle)
    spec = json.loads((bundle / "bundle.json").read_text())
    del spec["fallback"]
    (bundle / "bundle.json").write_text(json.dumps(spec))
    record = read_record(shared_data / "mitbih" / "208.hea").select_leads(["MLII"])
    with pytest.raises(RecordFormatError, match=rf"needs leads \['MLII', '{CHEST}'\] \({CHEST}: any one of these\); "
                                                rf"missing \['{CHEST}'\]; the record has \['MLII'\]\. Shipped "
                                                r"models of the same classes that read its leads: mitbih-aami-1lead, "
                                                r"mitbih-kachuee-ds1\.$"):
        Predictor.load(bundle).predict(record)


def test_a_fallback_must_exist_and_classify_alike(tmp_path):
    bundle = tmp_path / "two-lead"
    shutil.copytree(find_pretrained(NAME), bundle)
    spec = json.loads((bundle / "bundle.json").read_text())
    for fallback, message in (("no-such-model", "neither a shipped model"),
                              ("ludb-delineator", r"must be a multiclass beat model of the classes \['N', 'S'")):
        (bundle / "bundle.json").write_text(json.dumps({**spec, "fallback": fallback}))
        with pytest.raises(BundleError, match=message):
            Predictor.load(bundle)
    shutil.copytree(find_pretrained(ONE_LEAD), bundle / "one-lead")
    (bundle / "bundle.json").write_text(json.dumps({**spec, "fallback": "one-lead"}))  # a path relative to the bundle
    assert Predictor.load(bundle).fallback.spec.leads == ["MLII"]


def test_a_lead_named_ii_stands_in_for_mlii(predictor, shared_data):
    record = read_record(shared_data / "mitbih" / "101.hea")
    renamed = Record(record.signal, record.fs, ["II", record.leads[1]], dict(record.meta), record.annotations)
    prediction = predictor.predict(renamed)
    assert "its lead II stands in" in prediction.notes[0]
    assert prediction.beat_counts["N"] > 1500
