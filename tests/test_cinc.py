"""PhysioNet/CinC 2020/21 on the shared 25-record copy: header fields, the scored classes and
their equivalent-code merges, source hold-out splits, rates and lengths."""

from __future__ import annotations

import os

import numpy as np
import pytest
import wfdb

from ecglab.datasets.cinc import SCORED_CLASSES, parse_header_comments, read_header, scored_labels, source_of
from ecglab.datasets.core.registry import prepare
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS
from ecglab.signal.resample import resample


@pytest.fixture(scope="module")
def cinc(shared_data):
    return shared_data / "cinc2021"


@pytest.fixture(scope="module")
def scored(cinc, tmp_path_factory):
    return prepare("cinc", tmp_path_factory.mktemp("cinc") / "scored", cinc, workers=2, progress=False, split="georgia")


def _header_lines(path):
    return [line.strip() for line in path.read_text().splitlines()]


def test_header_codes_age_and_sex_as_in_the_file(cinc):
    lines = _header_lines(cinc / "JS20000.hea")
    assert "# Dx: 284470004,427084000,698252002,55930002" in lines and "# Age: 84" in lines and "# Sex: Female" in lines
    header = read_header(str(cinc / "JS20000"))
    assert header["codes"] == ["284470004", "427084000", "698252002", "55930002"]
    assert (header["age"], header["sex"], header["fs"], header["n_samples"]) == (84.0, "F", 500.0, 5000)
    assert parse_header_comments(["Age: NaN", "Sex: Unknown", "Dx: "]) == {"age": None, "sex": None, "codes": []}


def test_scored_table_and_equivalent_codes_merge():
    assert len(SCORED_CLASSES) == 26 and sum(len(codes) for _, codes, _ in SCORED_CLASSES) == 30
    assert scored_labels(["713427006"]) == scored_labels(["59118001"]) == ["CRBBB|RBBB"]
    assert scored_labels(["284470004", "63593006", "427084000"]) == ["PAC|SVPB", "STach"]
    assert scored_labels(["427172004"]) == scored_labels(["17338001"]) == ["PVC|VPB"]
    assert scored_labels(["733534002", "164909002"]) == ["CLBBB|LBBB"]
    assert scored_labels(["55930002", "67741000119109"]) == []  # unscored codes


def test_labels_signals_and_meta(cinc, scored):
    assert scored.signals.shape == (25, 12, 5000) and scored.leads == STANDARD_12_LEADS and scored.fs == 500
    assert scored.classes == [name for name, _, _ in SCORED_CLASSES]
    for row, record in enumerate(scored.meta["record_id"]):
        codes = read_header(str(cinc / record))["codes"]
        assert {c for c, v in zip(scored.classes, scored.labels[row]) if v} == set(scored_labels(codes))
    row = scored.meta.index[scored.meta["record_id"] == "E07509"][0]
    np.testing.assert_allclose(scored.signals[row], wfdb.rdrecord(str(cinc / "E07509")).p_signal.T, atol=1e-6)
    assert scored.meta.loc[row, "source"] == "georgia" and (scored.meta["patient_id"] == scored.meta["record_id"]).all()
    assert "own patient" in scored.manifest["source"]["patients"]


def test_source_split_holds_one_database_out(cinc, scored):
    meta = scored.meta
    assert set(meta.loc[meta["split"] == "test", "record_id"]) == {f"E0750{i}" for i in range(10)}
    assert set(meta.loc[meta["split"] != "test", "source"]) == {"ptbxl", "chapman-ningbo"}
    assert set(meta["split"]) == {"train", "val", "test"}
    assert [source_of(r) for r in ("A0001", "Q0001", "I0001", "S0001", "HR00001", "E00001", "JS00001")] == \
        ["cpsc", "cpsc-extra", "incart", "ptb", "ptbxl", "georgia", "chapman-ningbo"]


def test_source_split_by_prefix_random_split_and_errors(cinc, tmp_path):
    by_prefix = prepare("cinc", tmp_path / "hr", cinc, workers=1, progress=False, split="HR", fs=100)
    assert set(by_prefix.meta.loc[by_prefix.meta["split"] == "test", "source"]) == {"ptbxl"}
    assert by_prefix.signals.shape == (25, 12, 1000)
    random = prepare("cinc", tmp_path / "random", cinc, workers=1, progress=False, seed=3, fs=100)
    again = prepare("cinc", tmp_path / "random2", cinc, workers=1, progress=False, seed=3, fs=100)
    assert (random.meta["split"] == again.meta["split"]).all() and set(random.meta["split"]) == {"train", "val", "test"}
    with pytest.raises(DatasetError, match="cpsc"):
        prepare("cinc", tmp_path / "x", cinc, workers=1, progress=False, split="cpsc")


def test_all_codes_above_min_count_with_merges(cinc, tmp_path):
    data = prepare("cinc", tmp_path / "all", cinc, workers=1, progress=False, task="all", min_count=3, fs=100)
    counts = {}
    for record in data.meta["record_id"]:
        for code in set(read_header(str(cinc / record))["codes"]):
            counts[code] = counts.get(code, 0) + 1
    assert data.classes == sorted(code for code, k in counts.items() if k >= 3)
    assert data.labels.sum(axis=0).tolist() == [counts[c] for c in data.classes]


def test_other_rates_and_lengths_are_resampled_cut_and_padded(cinc, tmp_path):
    source = tmp_path / "mixed"
    source.mkdir()
    for name in ("E07500", "JS20001"):
        for suffix in (".hea", ".mat"):
            os.symlink(cinc / (name + suffix), source / (name + suffix))
    long = np.random.default_rng(0).normal(0, 0.3, (257 * 15, 12))  # INCART: 257 Hz, longer than 10 s
    short = np.random.default_rng(1).normal(0, 0.3, (1000 * 6, 12))  # PTB: 1000 Hz, 6 s
    for name, fs, signal in (("I0001", 257, long), ("S0001", 1000, short)):
        wfdb.wrsamp(name, fs=fs, units=["mV"] * 12, sig_name=STANDARD_12_LEADS, p_signal=signal, fmt=["16"] * 12,
                    comments=["Age: 60", "Sex: Male", "Dx: 426783006"], write_dir=str(source))
    data = prepare("cinc", tmp_path / "out", source, workers=1, progress=False)
    rows = {record: i for i, record in enumerate(data.meta["record_id"])}
    assert data.signals.shape == (4, 12, 5000)
    stored_long = wfdb.rdrecord(str(source / "I0001")).p_signal.T
    np.testing.assert_allclose(data.signals[rows["I0001"]], resample(stored_long, 257, 500)[:, :5000], atol=1e-5)
    stored_short = resample(wfdb.rdrecord(str(source / "S0001")).p_signal.T, 1000, 500)
    np.testing.assert_allclose(data.signals[rows["S0001"], :, :3000], stored_short, atol=1e-5)
    assert not data.signals[rows["S0001"], :, 3000:].any()
    assert data.meta.set_index("record_id").loc["I0001", "fs_original"] == 257


def test_cli_summary_lists_every_scored_class_at_80_columns(cinc, tmp_path, capsys, monkeypatch):
    from ecglab.cli import main

    monkeypatch.setenv("COLUMNS", "80")  # a pipe or a log: where the table used to show empty cells and "…"
    assert main(["prepare", "cinc", "--source", str(cinc), "--out", str(tmp_path / "out"), "--fs", "100"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if not line.startswith("written to")]  # a path, printed unbroken
    assert "…" not in out and max(len(line) for line in table) <= 80
    rows = {line.split("│")[1].strip(): [int(cell) for cell in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│")}
    data = prepare("cinc", tmp_path / "out", cinc, progress=False, fs=100)  # the same command: a cache hit
    assert data.reused
    splits = ["train", "val", "test"]
    assert rows["records"] == [int((data.meta["split"] == s).sum()) for s in splits]
    for j, (name, _, _) in enumerate(SCORED_CLASSES):
        assert rows[name] == [int(data.labels[(data.meta["split"] == s).to_numpy(), j].sum()) for s in splits], name
