import numpy as np
import pytest

from ecglab.errors import RecordFormatError
from ecglab.records import Record, normalize_lead_name, read_record


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
