"""The input contract: prepared data are, bit for bit, what the Predictor feeds the model for the same
file; a trained run's predictions.npz is what the Predictor predicts; a bundle never scores data
prepared under another spec without saying so (it applies its own preprocessing, or refuses)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import wfdb

from ecglab.datasets.core.prepared import PreparedDataset
from ecglab.datasets.core.registry import prepare
from ecglab.datasets.synthetic.twelve_lead import CLASSES, generate_records
from ecglab.errors import BundleError, ConfigError, EcglabNote
from ecglab.inference.predictor import Predictor
from ecglab.inputs.metadata import meta_matrix
from ecglab.inputs.windows import sliding_windows
from ecglab.inputs.preprocess import Preprocessing
from ecglab.records import STANDARD_12_LEADS, read_record
from ecglab.training.config import validate_config

FS = 100
WINDOW, STRIDE = 500, 250  # 5 s windows every 2.5 s over 10 s records: three windows a record
PTBXL_RECORDS = ("4,5,7,8,10,16,17,18,19,20,23,25,26,28,30,33,34,35,38,39,42,43,45,46,47,63,66,68,73,74,75,76,"
                 "80,81,82,84,85,86,88,89")  # the shared sample's first 40: 24 train, 12 val, 4 test


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Synthetic PTB-XL-like 12-lead records (10 s at 100 Hz) as WFDB files with a labels.csv."""
    root = tmp_path_factory.mktemp("files")
    signals, labels, meta = generate_records(40, fs=FS, seed=3)
    for record_id, signal in zip(meta["record_id"], signals):
        wfdb.wrsamp(str(record_id), fs=FS, units=["mV"] * 12, sig_name=STANDARD_12_LEADS, p_signal=signal.T.astype(np.float64),
                    fmt=["16"] * 12, write_dir=str(root))
    names = [";".join(c for c, on in zip(CLASSES, row) if on) for row in labels]
    table = meta[["record_id", "patient_id", "split", "age", "sex"]].rename(columns={"record_id": "record"})
    table.assign(labels=names, patient_id=table["patient_id"].astype(str)).to_csv(root / "labels.csv", index=False)
    return root


def prepare_folder(files, out, **options):
    return prepare("folder", out, source=files, progress=False, workers=1, **{"fs": FS, **options})


@pytest.fixture(scope="module")
def standardised(files, tmp_path_factory):
    return prepare_folder(files, tmp_path_factory.mktemp("std") / "data", bandpass="0.5,40", standardize="global")


def tiny_run(tmp, data, name="contract", meta=("age", "sex"), **model):
    from ecglab.training.fit import train

    config = validate_config({
        "name": name, "out_dir": str(tmp / "runs"),
        "data": {"path": str(data), "window": WINDOW, "eval_stride": STRIDE, "batch_size": 8, "meta_features": list(meta)},
        "model": {"name": "resnet1d", "hparams": {"width": 8}, **model}, "optim": {"lr": 0.01},
        "trainer": {"max_epochs": 1, "progress": False}, "report": {"n_boot": 0, "baseline": False}})
    return train(config)


@pytest.fixture(scope="module")
def run(standardised, tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("run"), standardised.path)


def source_file(dataset: PreparedDataset, files, row: int):
    return files / f"{dataset.meta['record_id'].iloc[row]}.hea"


def read_with_meta(path, dataset: PreparedDataset, row: int):
    """The record of a file, with the age and sex its labels.csv row gives (a WFDB header has none)."""
    record = read_record(path)
    record.meta.update({key: dataset.meta[key].iloc[row] for key in ("age", "sex") if key in dataset.meta})
    return record


# -- prepared arrays are what the Predictor feeds the model --------------------------------------------

def assert_prepared_is_model_input(dataset: PreparedDataset, predictor: Predictor, path_of, rows):
    whole = Predictor(predictor.spec.model_copy(update={"input_length": dataset.length}), None, "torch")
    features = predictor.spec.meta_features
    for row in rows:
        record = read_with_meta(path_of(row), dataset, row)
        stored = np.asarray(dataset.signals[row])
        np.testing.assert_array_equal(whole.model_input(record).x, stored[None])  # the record itself
        inputs = predictor.model_input(record)
        np.testing.assert_array_equal(inputs.x, sliding_windows(stored, WINDOW, STRIDE))  # and its windows
        if features:  # the metadata as training encodes it, on every window
            np.testing.assert_array_equal(inputs.meta, np.repeat(meta_matrix(dataset.meta.iloc[[row]], features), 3, axis=0))
        else:
            assert inputs.meta is None


def test_synthetic_records_are_prepared_as_the_predictor_reads_them(standardised, run, files):
    predictor = Predictor.load(run.bundle_dir)
    steps = predictor.spec.preprocessing
    assert steps.standardize == "global" and steps.bandpass == (0.5, 40.0) and len(steps.mean) == 12
    assert_prepared_is_model_input(standardised, predictor, lambda row: source_file(standardised, files, row),
                                   range(len(standardised)))


def test_run_predictions_are_the_predictors(standardised, run, files):
    stored = np.load(run.run_dir / "predictions.npz")
    predictor = Predictor.load(run.bundle_dir)
    rows = standardised.meta.index[standardised.meta["record_id"].isin(stored["test_records"])]
    assert len(rows) == len(stored["p_test"]) > 0
    probs = np.stack([predictor.predict(read_with_meta(source_file(standardised, files, row), standardised, row)).probabilities for row in rows])
    np.testing.assert_allclose(probs, stored["p_test"], atol=1e-5)


@pytest.fixture(scope="module")
def ptbxl(shared_data, tmp_path_factory):
    return prepare("ptbxl", tmp_path_factory.mktemp("ptbxl") / "data", source=shared_data / "ptbxl", fs=100,
                   records=PTBXL_RECORDS, bandpass="0.5,40", standardize="global", progress=False, workers=1)


def test_real_ptbxl_records_are_prepared_as_the_predictor_reads_them(ptbxl, shared_data, tmp_path):
    run = tiny_run(tmp_path, ptbxl.path, name="ptbxl", meta=())
    predictor = Predictor.load(run.bundle_dir)
    files = pd.read_csv(shared_data / "ptbxl" / "ptbxl_database.csv", index_col="ecg_id")["filename_lr"]
    path_of = lambda row: shared_data / "ptbxl" / f"{files[int(ptbxl.meta['record_id'].iloc[row])]}.hea"  # noqa: E731
    assert_prepared_is_model_input(ptbxl, predictor, path_of, range(len(ptbxl)))
    stored = np.load(run.run_dir / "predictions.npz")
    rows = ptbxl.meta.index[ptbxl.meta["record_id"].astype(str).isin(stored["test_records"])]
    probs = np.stack([predictor.predict(read_with_meta(path_of(row), ptbxl, row)).probabilities for row in rows])
    np.testing.assert_allclose(probs, stored["p_test"], atol=1e-5)
    # the known failure: a bundle trained standardised, evaluated on data prepared without standardisation
    from ecglab.inference.bundle import load_bundle
    from ecglab.training.evaluate import bundle_predictions

    raw = prepare("ptbxl", tmp_path / "raw", source=shared_data / "ptbxl", fs=100, records=PTBXL_RECORDS,
                  bandpass="0.5,40", progress=False, workers=1)
    with pytest.warns(EcglabNote, match=r"without the model's standardisation \(its training statistics\)"):
        _, evaluated = bundle_predictions(*load_bundle(run.bundle_dir), raw, "test")
    np.testing.assert_allclose(evaluated, probs, atol=1e-5)


# -- evaluate: the bundle applies its own preprocessing, or refuses ------------------------------------------

def test_evaluate_on_raw_data_applies_the_bundles_preprocessing_and_says_so(files, run, tmp_path):
    from ecglab.inference.bundle import load_bundle
    from ecglab.training.evaluate import bundle_predictions

    raw = prepare_folder(files, tmp_path / "raw")
    model, spec = load_bundle(run.bundle_dir)
    with pytest.warns(EcglabNote, match=r"without the model's band-pass \(0\.5–40 Hz\) and standardisation .* applies its own"):
        _, probs = bundle_predictions(model, spec, raw, "test", source=run.bundle_dir)
    predictor = Predictor.load(run.bundle_dir)
    rows = raw.split_indices("test")
    expected = np.stack([predictor.predict(read_with_meta(source_file(raw, files, row), raw, row)).probabilities for row in rows])
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    np.testing.assert_allclose(probs, np.load(run.run_dir / "predictions.npz")["p_test"], atol=1e-5)


def test_evaluate_refuses_data_it_cannot_mend_and_names_every_difference(files, run, tmp_path, capsys):
    from ecglab.cli import main

    other = prepare_folder(files, tmp_path / "other", fs=50, bandpass="1,30", standardize="record")
    code = main(["evaluate", str(run.bundle_dir), "--data", str(other.path), "--out", str(tmp_path / "eval")])
    message = capsys.readouterr().err
    assert code == 2 and message.count("\n") == 1 and message.startswith("error: ")
    for part in ["sampling rate: the model reads 100 Hz, the data are at 50 Hz",
                 "band-pass: the model's input is filtered 0.5–40 Hz, the data's filtered 1–30 Hz",
                 "standardisation: the model's input is standardised 'global' with the training statistics mean [",
                 "the data's standardised per record",
                 f"`ecglab prepare folder --source {files} --fs 100 --lead {','.join(STANDARD_12_LEADS)} "
                 "--bandpass 0.5,40 --out DIR` (stored unstandardised: the bundle applies its own standardisation)"]:
        assert part in message, part
    assert not (tmp_path / "eval").exists()


def test_evaluate_on_a_matching_preparation_adds_nothing(standardised, run, recwarn):
    from ecglab.inference.bundle import load_bundle
    from ecglab.training.evaluate import bundle_predictions

    model, spec = load_bundle(run.bundle_dir)
    _, probs = bundle_predictions(model, spec, standardised, "test")
    assert not [w for w in recwarn if issubclass(w.category, EcglabNote)]
    np.testing.assert_allclose(probs, np.load(run.run_dir / "predictions.npz")["p_test"], atol=1e-5)


def test_a_missing_meta_column_is_refused(standardised, run, tmp_path):
    from ecglab.datasets.core.prepared import write_prepared
    from ecglab.inference.bundle import load_bundle
    from ecglab.training.evaluate import bundle_predictions

    manifest = standardised.manifest
    data = write_prepared(tmp_path / "nometa", np.asarray(standardised.signals), np.asarray(standardised.labels),
                          standardised.meta.drop(columns=["age"]), name="nometa", kind=manifest["kind"],
                          classes=manifest["classes"], fs=manifest["fs"], leads=manifest["leads"],
                          preprocessing=manifest["preprocessing"])
    model, spec = load_bundle(run.bundle_dir)
    with pytest.raises(BundleError, match=r"metadata: the model reads \['age'\], which the data's meta table lacks"):
        bundle_predictions(model, spec, data, "test")


# -- measured metadata features: the delineator's values, the same in training and in the Predictor -------

MEASURED = ["heart_rate_bpm", "qrs_ms", "qrs_axis_deg"]


@pytest.fixture(scope="module")
def measured_run(standardised, tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("measured"), standardised.path, name="measured", meta=MEASURED + ["age"])


def test_measured_features_are_what_the_predictor_measures(standardised, measured_run, files):
    from ecglab.inference.measured import delineator_id
    from ecglab.training.measured import with_measurements

    predictor = Predictor.load(measured_run.bundle_dir)
    spec = predictor.spec
    assert [f.name for f in spec.meta_features] == MEASURED + ["age"]
    assert spec.measured.names == MEASURED and spec.measured.samples == standardised.length == 1000
    assert spec.measured.delineator == delineator_id()
    meta = with_measurements(standardised, MEASURED)
    assert meta[MEASURED].notna().all().all()
    for row in range(0, len(standardised), 5):
        record = read_with_meta(source_file(standardised, files, row), standardised, row)
        inputs = predictor.model_input(record)
        np.testing.assert_array_equal(inputs.meta, np.repeat(meta_matrix(meta.iloc[[row]], spec.meta_features), 3, axis=0))
        assert not [note for note in inputs.notes if "measured" in note]
    # plausible values (LUDB's known answers are tests/test_measure.py's); the synthetic complexes are wide
    assert meta["heart_rate_bpm"].between(40, 130).all() and meta["qrs_ms"].between(80, 200).all()


def test_a_record_shorter_than_the_rows_is_measured_as_its_padded_row(standardised, files):
    from ecglab.datasets.core.options import fit_length
    from ecglab.inference.measured import MEASURED as EVERY, measured_features
    from ecglab.inputs.preprocess import preprocess, standardize

    spec = standardised.manifest["preprocessing"]
    steps = Preprocessing.model_validate({**spec, "fs": FS})
    record = read_record(next(files.glob("*.hea")))
    short = record.signal[:, :730]
    # as preparing stores it: filtered, cut or padded with zeros, then standardised with the training statistics
    row = standardize(fit_length(preprocess(short, FS, steps.model_copy(update={"standardize": "none"})), 1000), steps)
    stored, _ = measured_features(row, FS, record.leads, list(EVERY), steps)
    predicted, _ = measured_features(preprocess(short, FS, steps), FS, record.leads, list(EVERY), steps, samples=1000)
    assert predicted == stored and predicted["qrs_ms"] is not None


def test_a_bundle_with_measured_features_scores_as_it_was_trained(standardised, measured_run, files):
    from ecglab.inference.bundle import load_bundle
    from ecglab.training.evaluate import bundle_predictions

    model, spec = load_bundle(measured_run.bundle_dir)
    _, probs = bundle_predictions(model, spec, standardised, "test")
    np.testing.assert_allclose(probs, np.load(measured_run.run_dir / "predictions.npz")["p_test"], atol=1e-5)
    predictor = Predictor.load(measured_run.bundle_dir)
    rows = standardised.split_indices("test")
    expected = [predictor.predict(read_with_meta(source_file(standardised, files, row), standardised, row)).probabilities
                for row in rows]
    np.testing.assert_allclose(probs, np.stack(expected), atol=1e-5)


def test_measured_features_on_raw_data_are_taken_as_the_model_sees_each_row(files, measured_run, tmp_path):
    from ecglab.inference.bundle import load_bundle
    from ecglab.training.evaluate import bundle_predictions

    raw = prepare_folder(files, tmp_path / "raw")  # unfiltered, unstandardised: the bundle adds both
    model, spec = load_bundle(measured_run.bundle_dir)
    with pytest.warns(EcglabNote, match="applies its own"):
        _, probs = bundle_predictions(model, spec, raw, "test", source=measured_run.bundle_dir)
    predictor = Predictor.load(measured_run.bundle_dir)
    expected = [predictor.predict(read_with_meta(source_file(raw, files, row), raw, row)).probabilities
                for row in raw.split_indices("test")]
    np.testing.assert_allclose(probs, np.stack(expected), atol=1e-5)
    assert not (tmp_path / "raw" / "measurements.parquet").exists()  # measured as the model sees them: not cached


def test_a_measurement_the_record_cannot_give_is_filled_and_said(measured_run, files):
    predictor = Predictor.load(measured_run.bundle_dir)
    record = read_record(next(files.glob("*.hea")))
    record.signal = np.full_like(record.signal, 0.01)  # flat: nothing to delineate
    inputs = predictor.model_input(record)
    fills = [(f.fill - f.mean) / f.std for f in predictor.spec.meta_features[:3]]
    np.testing.assert_allclose(inputs.meta[:, :3], np.repeat([fills], len(inputs.x), axis=0), atol=1e-6)
    for name in MEASURED:
        assert f"{name} could not be measured (the record is flat: its largest peak-to-peak amplitude is 0.000 mV" in \
            " ".join(inputs.notes)
    other = Predictor(predictor.spec.model_copy(update={"measured": predictor.spec.measured.model_copy(
        update={"delineator": "0" * 64})}), predictor._forward, "torch")
    assert any("measured in training by another delineator" in note for note in other.model_input(record).notes)


def test_a_bundle_without_measured_features_keeps_its_json_as_before(run):
    import json

    assert "measured" not in json.loads((run.bundle_dir / "bundle.json").read_text())


def test_measurements_are_kept_beside_the_signals_and_redone_when_they_change(standardised, tmp_path, monkeypatch):
    import shutil

    from ecglab.training import measured as cache

    copy = PreparedDataset(shutil.copytree(standardised.path, tmp_path / "copy"))
    first = cache.dataset_measurements(copy)
    assert (tmp_path / "copy" / cache.CACHE).is_file() and first.shape == (len(copy), len(cache.MEASURED))
    assert sorted(p.name for p in (tmp_path / "copy").iterdir() if "measurements" in p.name) == [cache.STAMP, cache.CACHE]
    monkeypatch.setattr(cache, "_measure_rows", lambda *a: pytest.fail("measured again although nothing changed"))
    pd.testing.assert_frame_equal(cache.dataset_measurements(copy), first)
    (tmp_path / "copy" / "signals.npy").touch()  # the signals changed: the cache is stale
    monkeypatch.setattr(cache, "_measure_rows", lambda *a: first.iloc[::-1].reset_index(drop=True))
    assert cache.dataset_measurements(copy)["qrs_ms"].tolist() == first["qrs_ms"].tolist()[::-1]


def test_measuring_processes_give_the_rows_what_one_process_gives(standardised, monkeypatch):
    from ecglab.inference.measured import MEASURED as EVERY
    from ecglab.training import measured

    steps = Preprocessing.model_validate({**standardised.manifest["preprocessing"], "fs": FS})
    alone = measured._measure_rows(standardised, list(EVERY), False, None, steps, None)
    monkeypatch.setattr(measured, "MIN_ROWS_FOR_WORKERS", 1)
    monkeypatch.setattr(measured.os, "cpu_count", lambda: 2)
    pd.testing.assert_frame_equal(measured._measure_rows(standardised, list(EVERY), False, None, steps, None), alone)
    monkeypatch.setenv("WORLD_SIZE", "2")  # a rank of several started together: no processes of its own
    workers, read_batches = [], measured.read_batches
    monkeypatch.setattr(measured, "read_batches", lambda fn, batches, n: workers.append(n) or read_batches(fn, batches, n))
    pd.testing.assert_frame_equal(measured._measure_rows(standardised, list(EVERY), False, None, steps, None), alone)
    assert workers == [1]


def test_measured_features_that_the_data_cannot_give_are_refused(files, tmp_path):
    from ecglab.training.measured import with_measurements

    per_record = prepare_folder(files, tmp_path / "record", standardize="record")
    assert with_measurements(per_record, ["qrs_ms"])["qrs_ms"].notna().all()  # intervals need no amplitudes
    with pytest.raises(ConfigError, match=r"\['qrs_axis_deg'\] compare the leads' amplitudes, .* --standardize global or none"):
        with_measurements(per_record, ["qrs_ms", "qrs_axis_deg"])
    beats = prepare("synthetic", tmp_path / "beats", task="beat", n=20, progress=False)
    with pytest.raises(ConfigError, match=r"measurements of a whole record, and this model reads single beats"):
        with_measurements(beats, ["heart_rate_bpm"])


def test_init_from_refuses_a_bundle_trained_on_other_input(files, run, tmp_path):
    other = prepare_folder(files, tmp_path / "fifty", fs=50)
    with pytest.raises(ConfigError, match="sampling rate: the model reads 100 Hz, the data are at 50 Hz; band-pass: .*"
                                          "standardisation: the model's input is standardised 'global', the data's 'none'"):
        tiny_run(tmp_path, other.path, init_from=str(run.bundle_dir))


def test_equivalent_leads_match_and_a_beat_bundle_adds_no_step_to_stored_beats():
    from ecglab.inference.bundle import load_spec
    from ecglab.inputs.match import fit_to_bundle, init_differences
    from ecglab.pretrained import find_pretrained

    spec = load_spec(find_pretrained("mitbih-kachuee-ds1"))  # MLII beats, 187 samples at 125 Hz
    ptb_beats = {"fs": 125.0, "leads": ["II"], "length": 187, "classes": spec.classes, "beats": spec.beats.model_dump(),
                 "preprocessing": {"fs": 125.0}}
    assert init_differences(spec, ptb_beats) == [] and fit_to_bundle(spec, ptb_beats, [], "ptb") is None
    # a model reading any of a choice of leads takes data of one of them, and not of another
    two = spec.model_copy(update={"leads": ["MLII", "V1/V5"]})
    assert init_differences(two, {**ptb_beats, "leads": ["II", "V5"]}) == []
    assert init_differences(two, {**ptb_beats, "leads": ["II", "V2"]}) == [
        "leads: the model reads ['MLII', 'V1/V5'], the data hold ['II', 'V2']"]
    standardised = {**ptb_beats, "preprocessing": {"fs": 125.0, "standardize": "record"}}
    with pytest.raises(BundleError, match="standardisation: the model's input is not standardised, the data's "
                                          "standardised per record.*`ecglab prepare DATASET --lead MLII --beats kachuee "
                                          "--out DIR`"):
        fit_to_bundle(spec, standardised, [], "ptb")
    spec = spec.model_copy(update={"preprocessing": spec.preprocessing.model_copy(update={"standardize": "record"})})
    with pytest.raises(BundleError, match="standardisation: the model's input is standardised per record, the data's not"):
        fit_to_bundle(spec, ptb_beats, [], "ptb")  # applying it to cut beats would not be what predict does


def test_a_template_channel_is_part_of_the_input_spec():
    """A bundle that reads the median-beat channel refuses beats stored without it, and the other way round."""
    from use_fixtures import BEAT_CLASSES

    from ecglab.inference.bundle import BundleSpec
    from ecglab.inputs.beats import BEAT_PRESETS
    from ecglab.inputs.match import fit_to_bundle

    def spec(preset):
        return BundleSpec(architecture="kachuee", kind="multiclass", input="beat", classes=BEAT_CLASSES, fs=128.0,
                          leads=["MLII"], input_length=96, beats=BEAT_PRESETS[preset])

    def data(preset):
        return {"fs": 128.0, "leads": ["MLII"], "length": 96, "classes": BEAT_CLASSES,
                "beats": BEAT_PRESETS[preset].model_dump(), "preprocessing": {"fs": 128.0}}

    assert spec("context-difference").channels == 2 and spec("context").channels == 1
    assert fit_to_bundle(spec("context-difference"), data("context-difference"), [], "beats") is None
    with pytest.raises(BundleError, match=r"beats: the model reads beats cut 'centred' \(96 samples at 128 Hz, with "
                                          r"the record's median-beat difference channel\), the data hold beats cut "
                                          r"'centred' \(96 samples at 128 Hz\).*--beats context-difference "):
        fit_to_bundle(spec("context-difference"), data("context"), [], "beats")
    with pytest.raises(BundleError, match="median-beat median channel"):
        fit_to_bundle(spec("context"), data("context-median"), [], "beats")


def test_ptb_beats_are_prepared_as_the_predictor_cuts_them(shared_data, tmp_path):
    """PTB beats through the public builder and the Predictor alone (the beat code itself lives elsewhere)."""
    from ecglab.pretrained import find_pretrained

    beats = prepare("ptbdb", tmp_path / "beats", source=shared_data / "ptbdb", beats="kachuee", progress=False, workers=1)
    predictor = Predictor.load(find_pretrained("mitbih-kachuee-ds1"))  # MLII beats: PTB's lead II stands in
    path = shared_data / "ptbdb" / f"{beats.meta['record_id'].iloc[0]}.hea"
    inputs = predictor.model_input(read_record(path))
    assert len(beats) > 10 and "its lead II stands in" in inputs.notes[0]
    np.testing.assert_array_equal(inputs.x, np.asarray(beats.signals))
    np.testing.assert_array_equal(inputs.peaks, beats.meta["sample"].to_numpy())
