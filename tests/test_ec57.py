"""EC57 beat-by-beat comparison: matching known answers, the evaluate-beats command, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ecglab.evaluation.ec57 import beat_confusion, compare_beats, flutter_spans, is_paced, summarise
from ecglab.signal.rpeaks import match_beats

FS = 1000.0  # one sample per millisecond, so distances read as ms
REF = [1000, 2000, 3000, 4000]
CLASSES = ["N", "S", "V"]


def _pairs(reference, detected):
    r, d = match_beats(reference, detected, FS)
    return list(zip(r.tolist(), d.tolist()))


def test_exact_and_near_detections_all_match():
    assert _pairs(REF, [1000, 2010, 2990, 4150]) == [(0, 0), (1, 1), (2, 2), (3, 3)]  # 150 ms is in


def test_a_missed_beat_and_an_extra_beat():
    assert _pairs(REF, [1000, 3000, 4000]) == [(0, 0), (2, 1), (3, 2)]  # 2000 missed
    assert _pairs(REF, [1000, 1500, 2000, 3000, 4000]) == [(0, 0), (1, 2), (2, 3), (3, 4)]  # 1500 extra


def test_a_beat_151_ms_away_is_missed_and_extra():
    assert _pairs(REF, [1000, 2151, 3000, 4000]) == [(0, 0), (2, 2), (3, 3)]
    result = compare_beats(REF, ["N"] * 4, [1000, 2151, 3000, 4000], ["N"] * 4, FS, CLASSES)
    assert result["detection"] == {"tp": 3, "fn": 1, "fp": 1, "se": 0.75, "ppv": 0.75}


def test_two_detections_near_one_reference_match_the_nearest_once():
    assert _pairs(REF, [1000, 1960, 2030, 3000, 4000]) == [(0, 0), (1, 2), (2, 3), (3, 4)]
    # nearest first across references: 2100 is 100 ms from 2000 but 40 ms from 2140, so 2000 takes 1950
    assert _pairs([2000, 2140], [1950, 2100]) == [(0, 0), (1, 1)]
    assert _pairs([2000, 2100], [2060]) == [(1, 0)]  # 40 ms beats 60 ms
    assert _pairs([], [5]) == [] and _pairs([5], []) == []


def test_confusion_counts_missed_extra_and_unclassed_beats():
    # refs N S V ? ; detections: N at ref 0, N at ref 1 (S called N), none at ref 2 (V missed),
    # one at ref 3 (unclassed ref: matched, not counted), one extra called V
    ref_labels = ["N", "S", "V", "?"]
    det = [1000, 2000, 4000, 5000]
    result = compare_beats(REF, ref_labels, det, ["N", "N", "S", "V"], FS, CLASSES)
    assert result["detection"] == {"tp": 3, "fn": 1, "fp": 1, "se": 0.75, "ppv": 0.75}
    assert result["confusion"].tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    gross = summarise([result, result], CLASSES)
    assert gross["detection"] == {"tp": 6, "fn": 2, "fp": 2, "se": 0.75, "ppv": 0.75}
    assert gross["classes"]["N"] == {"se": 1.0, "ppv": 0.5, "f1": 2 / 3, "support": 2, "called": 4, "tp": 2, "exempt": 0}
    assert gross["classes"]["V"]["se"] == 0.0 and gross["classes"]["V"]["ppv"] == 0.0
    assert gross["classes"]["S"]["ppv"] is None  # nothing called S


def test_a_call_outside_the_classes_counts_as_not_detected():
    matrix = beat_confusion(["N"], ["none"], [0], [0], CLASSES)
    assert matrix[0].tolist() == [0, 0, 0, 1]


def test_ventricular_flutter_is_left_out_as_bxb_leaves_it_out():
    # flutter 2500..3500: the reference beat at 3000 is ignored, detections at 2600 and 3000 are not counted,
    # but one inside that matches a reference beat outside (3600 at 3500, 100 ms) is
    assert flutter_spans([2500, 2600, 3500, 9000], ["[", "!", "]", "["], 10_000) == [(2500, 3500), (9000, 9999)]
    result = compare_beats(REF + [3600], ["N", "S", "V", "N", "V"], [1000, 2600, 3000, 3500, 5000],
                           ["N", "V", "V", "V", "V"], FS, CLASSES, flutter=[(2500, 3500)])
    assert result["detection"] == {"tp": 2, "fn": 2, "fp": 1, "se": 0.5, "ppv": 2 / 3}
    assert result["confusion"].tolist() == [[1, 0, 0, 1], [0, 0, 0, 1], [0, 0, 1, 0], [0, 0, 1, 0]]
    assert result["flutter_s"] == 1.0 and summarise([result, result], CLASSES)["flutter_s"] == 2.0
    # rows: N (1000 called N; 4000 missed), S (2000 missed), V (3600 called V by the 3500 detection), extra (5000 V)


def test_paced_records_are_recognised():
    assert is_paced(["N", "/", "N"]) and not is_paced(["N", "V", "f"])


# -- the command on real records ---------------------------------------------------------------------

# Reference beats of MIT-BIH 119 + 208 by AAMI class, counted from their .atr files: N S V F Q.
CLASS_COUNTS = [1543 + 1586, 0 + 2, 444 + 992, 0 + 373, 0 + 2]


@pytest.fixture(scope="module")
def two_records(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ec57")
    for record in ("119", "208", "107"):  # 107 is paced
        for suffix in (".hea", ".dat", ".atr"):
            (folder / f"{record}{suffix}").symlink_to(shared_data / "mitbih" / f"{record}{suffix}")
    return folder


def _evaluate(folder, out, *options):
    return _evaluate_bundle("mitbih-kachuee-ds1", [folder], out, *options)


def _evaluate_bundle(bundle, folders, out, *options):
    import json

    from ecglab.cli import main

    assert main(["evaluate-beats", str(bundle), *map(str, folders), "--out", str(out), *options]) == 0
    return json.loads((out / "ec57.json").read_text()), (out / "ec57.md").read_text()


def test_evaluate_beats_with_detected_peaks(two_records, tmp_path, capsys):
    report, markdown = _evaluate(two_records, tmp_path)
    assert set(report) >= {"bundle", "r_peaks", "tolerance_s", "classes", "excluded", "gross", "records"}
    assert report["r_peaks"] == "detected" and list(report["records"]) == ["119", "208"]
    assert report["excluded"] == [{"record": "107", "reason": "paced beats (EC57 leaves paced records out)"}]
    detection = report["gross"]["detection"]
    assert detection["tp"] + detection["fn"] == sum(CLASS_COUNTS)
    assert detection["se"] == detection["tp"] / sum(CLASS_COUNTS) and detection["se"] >= 0.995
    assert detection["ppv"] == detection["tp"] / (detection["tp"] + detection["fp"]) and detection["ppv"] >= 0.995
    confusion = np.array(report["gross"]["confusion"])
    assert confusion[:5].sum(axis=1).tolist() == CLASS_COUNTS
    assert confusion[5].sum() == detection["fp"] and confusion[:5, 5].sum() == detection["fn"]
    v = report["gross"]["classes"]["V"]
    assert v["support"] == 1436 and v["se"] == confusion[2, 2] / 1436 and 0 <= v["f1"] <= 1
    for entry in report["records"].values():
        assert all(s["se"] is None or 0 <= s["se"] <= 1 for s in entry["classes"].values())
    assert "left out: 107 (paced beats" in markdown and "| 208 | 2955 |" in markdown
    assert "QRS detection: Se" in capsys.readouterr().out


def test_record_207s_flutter_episodes_are_found(shared_data):
    from ecglab.records import read_record
    from ecglab.signal.rpeaks import annotated_beats

    record = read_record(shared_data / "mitbih" / "207.hea")
    spans = flutter_spans(record.annotations.samples, record.annotations.symbols, record.n_samples)
    assert spans[0] == (14665, 18350) and spans[-1] == (554682, 589926) and len(spans) == 6
    assert round(sum(end - start for start, end in spans) / record.fs) == 143
    beats, _ = annotated_beats(record.annotations.samples, record.annotations.symbols)
    assert not any(start <= b <= end for b in beats for start, end in spans)  # flutter waves (!) are no beats


def test_evaluate_beats_on_annotated_peaks_scores_the_classifier_alone(two_records, tmp_path):
    report, _ = _evaluate(two_records, tmp_path, "--use-annotations")
    assert report["r_peaks"] == "annotated"
    assert report["gross"]["detection"] == {"tp": sum(CLASS_COUNTS), "fn": 0, "fp": 0, "se": 1.0, "ppv": 1.0}
    confusion = np.array(report["gross"]["confusion"])
    assert confusion[:5].sum(axis=1).tolist() == CLASS_COUNTS and confusion[5].sum() == 0


def fake_cv_run(root, held_out: dict[int, list[str]]):
    """The layout of an ``ecglab cv`` run whose fold models are all the shipped mitbih-kachuee-ds1."""
    import pandas as pd

    from ecglab.inference.bundle import resolve_bundle

    (root / "cv.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "cv.json").write_text("{}")
    for fold, records in held_out.items():
        (root / "data" / f"fold-{fold}").mkdir(parents=True)
        pd.DataFrame({"record_id": records + ["100"], "split": ["test"] * len(records) + ["train"]}).to_parquet(
            root / "data" / f"fold-{fold}" / "meta.parquet")
        (root / f"fold-{fold}").mkdir()
        (root / f"fold-{fold}" / "bundle").symlink_to(resolve_bundle("mitbih-kachuee-ds1"))
    return root


def test_evaluate_beats_of_a_cv_run_scores_each_record_by_its_fold_model(two_records, tmp_path):
    single, _ = _evaluate(two_records, tmp_path / "single")
    cv = fake_cv_run(tmp_path / "run-cv", {0: ["119"], 1: ["svdb:208"]})  # a second database's id carries its name
    report, markdown = _evaluate_bundle(cv, [two_records], tmp_path / "cv")
    assert report["gross"] == single["gross"] and report["records"] == single["records"]
    only_119 = fake_cv_run(tmp_path / "other-cv", {0: ["119"]})
    report, _ = _evaluate_bundle(only_119, [two_records], tmp_path / "cv2")
    assert list(report["records"]) == ["119"]
    assert {"record": "208", "reason": "held out by no fold of the cross-validation"} in report["excluded"]


def test_evaluate_beats_refuses_a_cv_run_that_holds_out_no_record_of_the_folders(two_records, tmp_path, capsys):
    from ecglab.cli import main

    cv = fake_cv_run(tmp_path / "run-cv", {0: ["999"]})
    assert main(["evaluate-beats", str(cv), str(two_records)]) == 2
    assert "none of its records is held out by a fold" in capsys.readouterr().err


def test_evaluate_beats_needs_records(tmp_path, capsys):
    from ecglab.cli import main

    assert main(["evaluate-beats", "mitbih-kachuee-ds1", str(tmp_path)]) == 2
    assert "expected a folder of WFDB records" in capsys.readouterr().err


# -- bad input: fewer beats and a note, or one clear error -------------------------------------------

FS_BAD = 360.0


@pytest.fixture(scope="module")
def predictor():
    from ecglab.inference.predictor import Predictor

    return Predictor.load("mitbih-kachuee-ds1")


def _bad_signals():
    rng = np.random.default_rng(0)
    return {"flat": np.zeros((2, int(60 * FS_BAD))), "short": 0.1 * rng.normal(size=(2, int(FS_BAD))),
            "noise": rng.normal(0, 0.2, (2, int(60 * FS_BAD)))}


@pytest.mark.parametrize("name, note", [("flat", "60 of 60 s of lead MLII are flat or noise"),
                                        ("short", "the record is 1.0 s long"),
                                        ("noise", "60 of 60 s of lead MLII are flat or noise")])
def test_flat_short_and_noise_records_give_no_beats_and_a_note(predictor, name, note):
    from ecglab.records import Record

    prediction = predictor.predict(Record(_bad_signals()[name], FS_BAD, ["MLII", "V1"], {"record_id": name}))
    assert prediction.beats == [] and any(note in n for n in prediction.notes)


def test_a_noisy_stretch_gives_fewer_beats_and_a_note(predictor, shared_data):
    from ecglab.records import Record, read_record

    real = read_record(shared_data / "mitbih" / "119.hea").signal[:, :int(30 * FS_BAD)]
    noisy = np.concatenate([real, _bad_signals()["noise"][:, :int(30 * FS_BAD)]], axis=1)
    clean = predictor.predict(Record(real, FS_BAD, ["MLII", "V1"]))
    mixed = predictor.predict(Record(noisy, FS_BAD, ["MLII", "V1"]))
    assert len(mixed.beats) == len(clean.beats) > 20
    # the 10 s just after the join hold the filter's step response, which looks peaky: 20 s, not 30, are skipped
    assert any("20 of 60 s of lead MLII are flat or noise" in n for n in mixed.notes)


def test_cli_predict_wrong_leads_is_one_clear_error_and_flat_is_a_note(tmp_path, capsys):
    import json

    from ecglab.cli import main

    path = tmp_path / "flat.npy"
    np.save(path, _bad_signals()["flat"].astype(np.float32))
    assert main(["predict", "mitbih-kachuee-ds1", str(path), "--fs", "360", "--leads", "V1,V2"]) == 2
    err = capsys.readouterr().err
    assert "the model needs leads ['MLII']" in err and "II or ECG1 for MLII" in err and "the record has ['V1', 'V2']" in err
    assert main(["predict", "mitbih-kachuee-ds1", str(path), "--fs", "360", "--leads", "MLII,V1", "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["beats"] == [] and any("flat or noise" in n for n in result["notes"])
