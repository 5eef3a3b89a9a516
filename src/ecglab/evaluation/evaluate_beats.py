"""A beat model run over a folder of annotated records and scored as AAMI EC57 asks.

R peaks are detected (the annotations are hidden from the Predictor) unless ``use_annotations``, which
scores the classifier alone on the annotated peaks. Records with paced beats are left out, as EC57 says,
and so are episodes of ventricular flutter (:func:`ecglab.evaluation.ec57.compare_beats`). The report holds
gross figures (beats of all records summed) and each record's.

    >>> report = evaluate_beats("mitbih-kachuee-ds1", "data/mitbih")
    >>> report["gross"]["detection"]["ppv"], ec57_markdown(report)

``evaluate_beats_cv`` does the same for the fold models of an ``ecglab cv`` run, each record scored by the
model that never saw its patient: the clinical pipeline's figure on unseen patients, without a test set.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ecglab.datasets.core.aami import aami_class
from ecglab.errors import EcglabError
from ecglab.evaluation.ec57 import TOLERANCE_S, compare_beats, flutter_spans, is_paced, summarise
from ecglab.evaluation.tables import aami_table, fmt


def evaluate_beats(bundle, directory, use_annotations: bool = False, leads: list[str] | None = None) -> dict:
    """The EC57 report (a JSON-ready dict) of ``bundle`` on every annotated WFDB record in ``directory`` (one
    folder, or a list of them). An ``ecglab cv`` run directory as ``bundle`` goes to :func:`evaluate_beats_cv`."""
    from ecglab.inference.predictor import Predictor

    directories = [directory] if isinstance(directory, (str, Path)) else list(directory)
    if (Path(bundle) / "cv.json").is_file():
        return evaluate_beats_cv(bundle, directories, use_annotations, leads)
    predictor = Predictor.load(bundle)
    headers = [h for d in directories for h in _headers(d)]
    return _score(str(bundle), ", ".join(map(str, directories)), headers, lambda header: predictor,
                  list(predictor.spec.classes), use_annotations, leads)


def evaluate_beats_cv(cv_dir, directories, use_annotations: bool = False, leads: list[str] | None = None) -> dict:
    """The EC57 report of an ``ecglab cv`` run: each record in ``directories`` scored by the model of the fold
    that held its patient out (``cv_dir/fold-K/bundle``), so the gross figures are those of unseen patients;
    records in no fold's test set are left out."""
    from ecglab.inference.predictor import Predictor

    cv_dir = Path(cv_dir)
    fold_of = held_out_fold(cv_dir)
    headers = [h for d in directories for h in _headers(d)]
    where = ", ".join(map(str, directories))
    if not any(h.stem in fold_of for h in headers):
        raise EcglabError(f"{where}: none of its records is held out by a fold of {cv_dir}.")
    predictors = {fold: Predictor.load(cv_dir / f"fold-{fold}" / "bundle") for fold in sorted(set(fold_of.values()))}
    return _score(str(cv_dir), where, headers, lambda header: predictors.get(fold_of.get(header.stem)),
                  list(next(iter(predictors.values())).spec.classes), use_annotations, leads)


def held_out_fold(cv_dir: Path) -> dict[str, int]:
    """Record file name → the fold of ``ecglab cv`` whose test split holds it (from the folds' data views,
    where record ids of a second database carry its name, ``svdb:800``)."""
    import pandas as pd

    views = sorted((cv_dir / "data").glob("fold-*/meta.parquet"))
    if not (cv_dir / "cv.json").is_file() or not views:
        raise EcglabError(f"{cv_dir}: expected the directory of an `ecglab cv` run (cv.json and data/fold-K/); "
                          "train one with `ecglab cv CONFIG --folds K`.")
    fold_of: dict[str, int] = {}
    for view in views:
        meta = pd.read_parquet(view, columns=["record_id", "split"])
        for record_id in meta.loc[meta["split"] == "test", "record_id"].astype(str).unique():
            name = record_id.split(":")[-1]
            fold = int(view.parent.name.split("-")[1])
            if fold_of.setdefault(name, fold) != fold:
                raise EcglabError(f"{cv_dir}: two records named {name} are held out by different folds; "
                                  "evaluate their databases one folder at a time.")
    return fold_of


def _headers(directory) -> list[Path]:
    directory = Path(directory)
    headers = sorted(directory.glob("*.hea")) if directory.is_dir() else []
    if not headers:
        raise EcglabError(f"{directory}: expected a folder of WFDB records (.hea with .atr beat annotations); found none.")
    return headers


def compare_with_annotations(record, det_samples, det_labels, classes: list[str]) -> dict:
    """The EC57 comparison (:func:`compare_beats`) of beats at ``det_samples`` called ``det_labels`` with an annotated
    record's beats, the ventricular flutter its annotations mark left out."""
    from ecglab.signal.rpeaks import annotated_beats

    annotations = record.annotations
    samples, symbols = annotated_beats(annotations.samples, annotations.symbols)
    flutter = flutter_spans(annotations.samples, annotations.symbols, record.n_samples)
    return compare_beats(samples, [aami_class(s) for s in symbols], det_samples, det_labels, record.fs, classes,
                         flutter=flutter)


def _score(bundle: str, directory: str, headers: list[Path], predictor_for, classes: list[str], use_annotations: bool,
           leads: list[str] | None) -> dict:
    """Each record through ``predictor_for(header)`` (None: held out by no fold) and matched to its annotations."""
    from ecglab.records import read_record

    records, results, excluded = {}, [], []
    for header in headers:
        record = read_record(header, leads=leads)
        if record.annotations is None:
            excluded.append({"record": header.stem, "reason": "no .atr beat annotations"})
            continue
        if is_paced(record.annotations.symbols):
            excluded.append({"record": header.stem, "reason": "paced beats (EC57 leaves paced records out)"})
            continue
        predictor = predictor_for(header)
        if predictor is None:
            excluded.append({"record": header.stem, "reason": "held out by no fold of the cross-validation"})
            continue
        prediction = predictor.predict(record if use_annotations else dataclasses.replace(record, annotations=None))
        beats = prediction.beats or []
        result = compare_with_annotations(record, [b.sample for b in beats], [b.label for b in beats], classes)
        results.append(result)
        records[header.stem] = {**summarise([result], classes), "notes": list(prediction.notes)}
    return {"bundle": bundle, "directory": directory,
            "r_peaks": "annotated" if use_annotations else "detected", "tolerance_s": TOLERANCE_S,
            "classes": classes, "confusion_labels": {"rows": classes + ["no reference beat"],
                                                     "columns": classes + ["not detected"]},
            "excluded": excluded, "gross": summarise(results, classes), "records": records}


def _pct(value) -> str:
    return fmt(None if value is None else 100 * value, 2)


def _flutter_line(report: dict) -> list[str]:
    """The sentence that says which records' ventricular flutter was left out, if any was."""
    spans = [f"{name} ({entry['flutter_s']:.0f} s)" for name, entry in report["records"].items() if entry.get("flutter_s")]
    return [f"Ventricular flutter or fibrillation marked in the reference, left out as EC57 says: {', '.join(spans)}.",
            ""] if spans else []


def ec57_markdown(report: dict) -> str:
    """The report as Markdown: detection and class figures, gross then per record."""
    classes, gross = report["classes"], report["gross"]
    detection = gross["detection"]
    left_out = ", ".join(f"{e['record']} ({e['reason']})" for e in report["excluded"]) or "none"
    lines = [f"# AAMI EC57 beat evaluation: {report['bundle']} on {report['directory']}", "",
             f"R peaks {report['r_peaks']}; beats matched within {1000 * report['tolerance_s']:.0f} ms. "
             f"Records scored: {len(report['records'])}; left out: {left_out}.", "",
             *_flutter_line(report),
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
