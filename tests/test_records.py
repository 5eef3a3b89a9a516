import re

import numpy as np
import pytest

from ecglab.errors import RecordFormatError
from ecglab.records import LEAD_EQUIVALENTS, Record, lead_choices, normalize_lead_name, read_record


@pytest.mark.parametrize("raw, name", [("AVR", "aVR"), ("avf", "aVF"), ("i", "I"), ("Lead II", "II"), ("ML II", "MLII"), ("v1", "V1"), ("vx", "vx")])
def test_lead_names_are_normalised(raw, name):
    assert normalize_lead_name(raw) == name


def test_select_leads_orders_and_names_missing():
    rec = Record(np.arange(6, dtype=np.float32).reshape(3, 2), 100, ["II", "I", "V1"])
    assert rec.select_leads(["I", "II"]).signal.tolist() == [[2, 3], [0, 1]]
    with pytest.raises(RecordFormatError, match=r"missing \['V6'\]"):
        rec.select_leads(["I", "V6"])


def test_record_validation():
    with pytest.raises(RecordFormatError, match="2 leads but 1 lead names"):
        Record(np.zeros((2, 5)), 100, ["I"])
    with pytest.raises(RecordFormatError, match="positive sampling rate"):
        Record(np.zeros((1, 5)), 0, ["I"])
    with pytest.raises(RecordFormatError, match="NaN or infinite"):
        Record(np.array([[0.0, np.nan]]), 100, ["I"]).check_finite()


def test_csv_with_time_column(tmp_path):
    path = tmp_path / "ecg.csv"
    t = np.arange(500) / 250.0
    path.write_text("time,I,II\n" + "\n".join(f"{x},{np.sin(x)},{np.cos(x)}" for x in t))
    rec = read_record(path)
    assert rec.fs == pytest.approx(250.0) and rec.leads == ["I", "II"] and rec.signal.shape == (2, 500)


def test_npy_transposed_and_needs_fs(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((1000, 12), dtype=np.float32))
    assert read_record(path, fs=100).signal.shape == (12, 1000)
    with pytest.raises(RecordFormatError, match="no sampling rate"):
        read_record(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(RecordFormatError, match="no such file"):
        read_record(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(RecordFormatError, match="empty"):
        read_record(tmp_path / "empty.csv")


def test_real_ptbxl_record(shared_data):
    rec = read_record(shared_data / "ptbxl" / "records100" / "00000" / "00004_lr.hea")
    assert rec.fs == 100 and rec.signal.shape == (12, 1000)
    assert rec.leads[:6] == ["I", "II", "III", "aVR", "aVL", "aVF"]
    assert np.abs(rec.signal).max() < 10  # millivolts, not ADC units


def test_real_mitbih_record_has_annotations(shared_data):
    rec = read_record(shared_data / "mitbih" / "208.hea")
    assert rec.fs == 360 and rec.leads[0] == "MLII" and rec.n_samples == 650000
    assert len(rec.annotations.samples) == len(rec.annotations.symbols) > 2900


def test_wfdb_header_comments_fill_age_and_sex(shared_data):
    cinc = read_record(shared_data / "cinc2021" / "E07500.hea")
    ptb = read_record(shared_data / "ptbdb" / "patient001" / "s0010_re.hea")
    assert isinstance(cinc.meta["age"], float) and cinc.meta["sex"] in ("M", "F")
    assert ptb.meta["age"] == 81.0 and ptb.meta["sex"] == "F"


# -- equivalent leads ------------------------------------------------------------------------------


def test_an_equivalent_lead_stands_in_only_when_asked_and_only_when_missing():
    rec = Record(np.arange(6, dtype=np.float32).reshape(3, 2), 100, ["I", "II", "V1"])
    with pytest.raises(RecordFormatError, match=r"missing \['MLII'\]; the record has"):
        rec.select_leads(["MLII"])
    chosen = rec.select_leads(["MLII", "V1"], equivalents=True)
    assert chosen.leads == ["MLII", "V1"] and chosen.signal.tolist() == [[2, 3], [4, 5]]
    assert rec.lead_sources(["ML II", "V1"], equivalents=True) == {"MLII": "II", "V1": "V1"}
    holter = Record(np.arange(4, dtype=np.float32).reshape(2, 2), 360, ["MLII", "II"])
    assert holter.lead_sources(["MLII"], equivalents=True) == {"MLII": "MLII"}  # the lead itself comes first
    assert Record(np.zeros((1, 2)), 360, ["MLII"]).select_leads(["II"], equivalents=True).leads == ["II"]
    with pytest.raises(RecordFormatError, match=r"missing \['MLII'\] \(equivalent leads would do: II or ECG1 for MLII\)"):
        Record(np.zeros((1, 2)), 360, ["V1"]).select_leads(["MLII"], equivalents=True)
    assert LEAD_EQUIVALENTS["MLII"][0] == "II" and all(a in LEAD_EQUIVALENTS[b] for a, bs in LEAD_EQUIVALENTS.items()
                                                       for b in bs if b in LEAD_EQUIVALENTS)
    svdb = Record(np.zeros((2, 2)), 128, ["ECG1", "ECG2"])  # SVDB: ECG1 is usually a modified lead II
    assert svdb.lead_sources(["MLII"], equivalents=True) == {"MLII": "ECG1"}
    # the detector's leads: the model's first lead (or its stand-in) first, then the others, which vote
    three = Record(np.arange(3, dtype=np.float32)[:, None] * np.ones((1, 4)), 360, ["V1", "ECG1", "V5"])
    assert three.voting_leads("MLII")[:, 0].tolist() == [1.0, 0.0, 2.0]


def test_a_lead_choice_takes_the_first_lead_the_record_has():
    assert lead_choices("v1/ V5 /ECG2") == ["V1", "V5", "ECG2"] and normalize_lead_name("v1/avr") == "V1/aVR"
    assert lead_choices("MLII") == ["MLII"]
    mitbih_124 = Record(np.arange(4, dtype=np.float32).reshape(2, 2), 360, ["MLII", "V4"])
    chosen = mitbih_124.select_leads(["MLII", "V1/V2/V4/V5/ECG2"])
    assert chosen.leads == ["MLII", "V1/V2/V4/V5/ECG2"] and chosen.signal.tolist() == [[0, 1], [2, 3]]
    assert mitbih_124.lead_source("V1/V4") == "V4" and mitbih_124.lead_source("V1/V5") is None
    assert mitbih_124.missing_leads(["MLII", "V1/V5", "V4"]) == ["V1/V5"]
    assert mitbih_124.missing_leads(["II"]) == ["II"] and mitbih_124.missing_leads(["II"], equivalents=True) == []
    both = Record(np.zeros((3, 2)), 360, ["V5", "MLII", "V1"])  # the first choice wins, wherever it lies
    assert both.lead_sources(["MLII", "V1/V5"]) == {"MLII": "MLII", "V1/V5": "V1"}
    # a choice's leads may be supplied by their equivalents, after every choice itself
    assert Record(np.zeros((2, 2)), 128, ["ECG1", "II"]).lead_sources(["V1/MLII"], equivalents=True) == {"V1/MLII": "II"}
    with pytest.raises(RecordFormatError, match=r"needs leads \['MLII', 'V1/V5'\] \(V1/V5: any one of these\); "
                                                r"missing \['V1/V5'\]; the record has \['MLII', 'V4'\]"):
        mitbih_124.select_leads(["MLII", "V1/V5"])


# -- CSV / TSV -------------------------------------------------------------------------------------


def _write_table(path, header, rows, sep=",", decimal="."):
    lines = [sep.join(header)] + [sep.join(f"{v}".replace(".", decimal) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name, time_header, scale, sep, decimal", [
    ("seconds.csv", "Time (s)", 1.0, ",", "."),
    ("ms.csv", "time_ms", 1000.0, ",", "."),
    ("brackets.tsv", "t [ms]", 1000.0, "\t", "."),
    ("european.csv", "time (s)", 1.0, ";", ","),
])
def test_csv_time_columns_units_and_delimiters(tmp_path, name, time_header, scale, sep, decimal):
    t = np.arange(1000) / 500.0
    signal = np.stack([np.sin(7 * t), np.cos(5 * t)]).round(4)
    rows = [[round(x * scale, 6), a, b] for x, a, b in zip(t, *signal)]
    rec = read_record(_write_table(tmp_path / name, [time_header, "I", "II"], rows, sep, decimal))
    assert rec.fs == 500.0 and rec.leads == ["I", "II"]
    np.testing.assert_allclose(rec.signal, signal, atol=1e-6)


def test_csv_rate_from_coarsely_printed_times_is_the_whole_rate(tmp_path):
    t = np.arange(3600) / 360.0  # 1/360 s printed with 3 decimals: steps of 0.003, 0.002, 0.003 ...
    rec = read_record(_write_table(tmp_path / "holter.csv", ["time", "MLII"], [[f"{x:.3f}", 0.1] for x in t]))
    assert rec.fs == 360.0
    exact = read_record(_write_table(tmp_path / "exact.csv", ["time", "I"], [[repr(float(x)), 0.1] for x in np.arange(2000) / 500]))
    assert exact.fs == 500.0  # not 499.99999999999955
    odd = read_record(_write_table(tmp_path / "odd.csv", ["time", "I"], [[repr(float(x)), 0.1] for x in np.arange(100) / 128.25]))
    assert odd.fs == pytest.approx(128.25, rel=1e-7)


def test_csv_index_column_and_clear_errors(tmp_path):
    rec = read_record(_write_table(tmp_path / "indexed.csv", ["", "I", "II"], [[i, 0.1, 0.2] for i in range(50)]), fs=250)
    assert rec.leads == ["I", "II"] and rec.fs == 250  # pandas' unnamed index column is not a lead
    with pytest.raises(RecordFormatError, match=r"columns \['II'\] are not"):
        read_record(_write_table(tmp_path / "text.csv", ["I", "II"], [[0.1, "high"]] * 5), fs=250)
    with pytest.raises(RecordFormatError, match="time column 'time' must increase"):
        read_record(_write_table(tmp_path / "back.csv", ["time", "I"], [[0.0, 1], [0.01, 1], [0.005, 1]]))


# -- lead names given by the user, the source path in messages, directories --------------------------


def test_given_lead_names_replace_stored_ones_and_must_match_in_number(tmp_path):
    path = _write_table(tmp_path / "chan.csv", ["time", "ch1", "ch2"], [[i / 100, 0.1, 0.2] for i in range(20)])
    assert read_record(path).leads == ["ch1", "ch2"]
    assert read_record(path, leads=["ii", "V1"]).leads == ["II", "V1"]
    with pytest.raises(RecordFormatError, match=r"3 lead names were given \(I, II, III\) but the file holds 2 leads"):
        read_record(path, leads=["I", "II", "III"])


def test_messages_name_the_file_not_its_stem(tmp_path):
    path = _write_table(tmp_path / "nan.csv", ["time", "I"], [[0.0, 0.1], [0.01, "nan"], [0.02, 0.1]])
    record = read_record(path)
    assert record.meta["source"] == str(path) and record.meta["record_id"] == "nan"
    with pytest.raises(RecordFormatError, match=rf"^{re.escape(str(path))}: 1 samples are NaN"):
        record.check_finite()
    with pytest.raises(RecordFormatError, match=rf"^{re.escape(str(path))}: the model needs leads \['V1'\]"):
        record.select_leads(["V1"])
    with pytest.raises(RecordFormatError, match=r"a directory, not a record file; pass the record's file"):
        read_record(tmp_path)


def test_a_header_with_a_non_numeric_rate_is_refused(shared_data, tmp_path):
    source = shared_data / "ptbxl" / "records100" / "00000" / "00004_lr"
    (tmp_path / "00004_lr.dat").write_bytes(source.with_suffix(".dat").read_bytes())
    lines = source.with_suffix(".hea").read_text().splitlines()
    lines[0] = "00004_lr 12 abc 1000"
    (tmp_path / "00004_lr.hea").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordFormatError, match="sampling rate field 'abc' is not a number"):
        read_record(tmp_path / "00004_lr.hea")


def test_a_csv_without_a_header_row_is_explained(tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text("0.1,0.2\n0.3,0.4\n0.5,0.6\n")
    with pytest.raises(RecordFormatError, match="not lead names"):
        read_record(path, fs=100)
