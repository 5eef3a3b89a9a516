"""A beat model run over a folder of annotated records and scored as AAMI EC57 asks.

R peaks are detected (the annotations are hidden from the Predictor) unless ``use_annotations``, which
scores the classifier alone on the annotated peaks. Records with paced beats are left out, as EC57
says. The report holds gross figures (beats of all records summed) and each record's.

    >>> report = evaluate_beats("mitbih-kachuee-ds1", "data/mitbih")
    >>> report["gross"]["detection"]["ppv"], ec57_markdown(report)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ecglab.datasets.core.aami import aami_class
from ecglab.errors import EcglabError
from ecglab.evaluation.ec57 import TOLERANCE_S, compare_beats, is_paced, summarise
from ecglab.evaluation.tables import aami_table, fmt


def evaluate_beats(bundle, directory, use_annotations: bool = False, leads: list[str] | None = None) -> dict:
    """The EC57 report (a JSON-ready dict) of ``bundle`` on every annotated WFDB record in ``directory``."""
    from ecglab.inference.predictor import Predictor
    from ecglab.records import read_record
    from ecglab.signal.rpeaks import annotated_beats

    directory = Path(directory)
    headers = sorted(directory.glob("*.hea")) if directory.is_dir() else []
    if not headers:
        raise EcglabError(f"{directory}: expected a folder of WFDB records (.hea with .atr beat annotations); found none.")
    predictor = Predictor.load(bundle)
    classes = list(predictor.spec.classes)
    records, results, excluded = {}, [], []
    for header in headers:
        record = read_record(header, leads=leads)
        if record.annotations is None:
            excluded.append({"record": header.stem, "reason": "no .atr beat annotations"})
            continue
        samples, symbols = annotated_beats(record.annotations.samples, record.annotations.symbols)
        if is_paced(symbols):
            excluded.append({"record": header.stem, "reason": "paced beats (EC57 leaves paced records out)"})
            continue
        prediction = predictor.predict(record if use_annotations else dataclasses.replace(record, annotations=None))
        beats = prediction.beats or []
        result = compare_beats(samples, [aami_class(s) for s in symbols], [b.sample for b in beats],
                               [b.label for b in beats], record.fs, classes)
        results.append(result)
        records[header.stem] = {**summarise([result], classes), "notes": list(prediction.notes)}
    return {"bundle": str(bundle), "directory": str(directory),
            "r_peaks": "annotated" if use_annotations else "detected", "tolerance_s": TOLERANCE_S,
            "classes": classes, "confusion_labels": {"rows": classes + ["no reference beat"],
                                                     "columns": classes + ["not detected"]},
            "excluded": excluded, "gross": summarise(results, classes), "records": records}


def _pct(value) -> str:
    return fmt(None if value is None else 100 * value, 2)


def ec57_markdown(report: dict) -> str:
    """The report as Markdown: detection and class figures, gross then per record."""
    classes, gross = report["classes"], report["gross"]
    detection = gross["detection"]
    left_out = ", ".join(f"{e['record']} ({e['reason']})" for e in report["excluded"]) or "none"
    lines = [f"# AAMI EC57 beat evaluation: {report['bundle']} on {report['directory']}", "",
             f"R peaks {report['r_peaks']}; beats matched within {1000 * report['tolerance_s']:.0f} ms. "
             f"Records scored: {len(report['records'])}; left out: {left_out}.", "",
             "## Gross (beats of all records summed)", "",
             f"QRS detection: Se {_pct(detection['se'])} %, +P {_pct(detection['ppv'])} % "
             f"(TP {detection['tp']}, FN {detection['fn']}, FP {detection['fp']}).", "",
             aami_table(gross["confusion"], classes), "", "## Per record", "",
             "| record | beats | QRS Se (%) | QRS +P (%) | " + " | ".join(f"{c} Se / +P / F1" for c in classes) + " |",
             "|" + "---|" * (4 + len(classes))]
    for name, entry in report["records"].items():
        d, scores = entry["detection"], entry["classes"]
        cells = [f"{_pct(scores[c]['se'])} / {_pct(scores[c]['ppv'])} / {fmt(scores[c]['f1'])}" for c in classes]
        lines.append(f"| {name} | {d['tp'] + d['fn']} | {_pct(d['se'])} | {_pct(d['ppv'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
