"""QRS detection alone, scored as AAMI EC57 asks: the R-peak detector of the Predictor over folders of annotated
WFDB records (paced records and the reference's ventricular flutter left out), without any model.

Reads each record as the Predictor does (lead MLII or its stand-in, such as SVDB's ECG1, first; every other lead
voting), runs :func:`ecglab.signal.rpeaks.detect_r_peaks` and matches its beats to the annotated ones within
150 ms. Prints gross Se / +P, the missed beats by AAMI class, and the records with the most errors
(docs/RESULTS.md, "QRS detection (EC57)", holds the last figures).

    python benchmarks/qrs_detection.py ../shared/data/mitbih ../shared/data/svdb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ecglab.datasets.core.aami import AAMI_CLASSES
from ecglab.evaluation.ec57 import is_paced, summarise
from ecglab.evaluation.evaluate_beats import compare_with_annotations
from ecglab.records import read_record
from ecglab.signal.rpeaks import detect_r_peaks


def record_comparison(header: Path) -> dict | None:
    """The EC57 comparison of one record's detected beats (all called N, so that the confusion matrix's last
    column counts the missed beats of each class); None for a paced record or one without annotations."""
    record = read_record(header)
    if record.annotations is None or is_paced(record.annotations.symbols):
        return None
    detected = detect_r_peaks(record.voting_leads("MLII"), record.fs)
    return compare_with_annotations(record, detected, ["N"] * len(detected), AAMI_CLASSES)


def report(comparisons: dict[str, dict], worst: int = 8) -> str:
    gross = summarise(list(comparisons.values()), AAMI_CLASSES)
    d = gross["detection"]
    missed = np.asarray(gross["confusion"])[:len(AAMI_CLASSES), -1]
    lines = [f"{len(comparisons)} records: Se {100 * d['se']:.2f} %, +P {100 * d['ppv']:.2f} % "
             f"(TP {d['tp']}, FN {d['fn']}, FP {d['fp']}); flutter left out {gross['flutter_s']:.0f} s",
             "missed by class: " + ", ".join(f"{c} {m}" for c, m in zip(AAMI_CLASSES, missed.tolist()))]
    for key, what in (("fn", "missed"), ("fp", "extra")):
        top = sorted(comparisons, key=lambda name: -comparisons[name]["detection"][key])[:worst]
        lines.append(f"most {what}: " + ", ".join(f"{name} {comparisons[name]['detection'][key]}" for name in top))
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    comparisons = {}
    for folder in args.folders:
        for header in sorted(folder.glob("*.hea")):
            result = record_comparison(header)
            if result is not None:
                comparisons[f"{folder.name}/{header.stem}"] = result
    print(report(comparisons))


if __name__ == "__main__":
    main()
