"""EC57 beat-by-beat comparison: matching known answers, the evaluate-beats command, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ecglab.evaluation.ec57 import beat_confusion, compare_beats, is_paced, match_beats, summarise

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
    assert gross["classes"]["N"] == {"se": 1.0, "ppv": 0.5, "f1": 2 / 3, "support": 2, "called": 4, "tp": 2}
    assert gross["classes"]["V"]["se"] == 0.0 and gross["classes"]["V"]["ppv"] == 0.0
    assert gross["classes"]["S"]["ppv"] is None  # nothing called S


def test_a_call_outside_the_classes_counts_as_not_detected():
    matrix = beat_confusion(["N"], ["none"], [0], [0], CLASSES)
    assert matrix[0].tolist() == [0, 0, 0, 1]


def test_paced_records_are_recognised():
    assert is_paced(["N", "/", "N"]) and not is_paced(["N", "V", "f"])
