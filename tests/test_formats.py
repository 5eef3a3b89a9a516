"""Clinical file formats: content-based detection, every reader on real and written files, broken files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from use_fixtures import twelve_lead

from ecglab.errors import RecordFormatError
from ecglab.records import STANDARD_12_LEADS, read_record
from ecglab.records.detect import detect_format, group_record_files, record_files

# -- writers for test files ------------------------------------------------------------------------


def write_dicom(record, path, truncate: bool = False):
    """A 12-lead ECG DICOM (SOP class 12-lead ECG waveform), int16 at 1 µV per unit, like a cart writes."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.9.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, "ECG"
    ds.PatientSex, ds.PatientAge = "M", "061Y"
    group = Dataset()
    group.MultiplexGroupLabel = "RHYTHM"
    group.SamplingFrequency = f"{record.fs:g}"
    group.NumberOfWaveformChannels = len(record.leads)
    group.NumberOfWaveformSamples = record.n_samples
    group.WaveformBitsAllocated, group.WaveformSampleInterpretation = 16, "SS"
    channels = []
    for lead in record.leads:
        source, units, channel = Dataset(), Dataset(), Dataset()
        source.CodeValue, source.CodingSchemeDesignator, source.CodeMeaning = "x", "SCPECG", f"Lead {lead}"
        units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = "uV", "UCUM", "microvolt"
        channel.ChannelSourceSequence = Sequence([source])
        channel.ChannelSensitivity, channel.ChannelSensitivityCorrectionFactor, channel.ChannelBaseline = "2", "1", "0"
        channel.ChannelSensitivityUnitsSequence = Sequence([units])
        channel.WaveformBitsStored = 16
        channels.append(channel)
    group.ChannelDefinitionSequence = Sequence(channels)
    data = np.round(record.signal.T * 1000 / 2).astype("<i2").tobytes()  # 2 µV per unit
    group.WaveformData = data[: len(data) // 2] if truncate else data
    ds.WaveformSequence = Sequence([group])
    ds.save_as(str(path), enforce_file_format=True)
    return path


def write_aecg(record, path, scale_uv: float = 5.0, origin_uv: float = 0.0, drop_samples_of: str | None = None):
    """An HL7 aECG document (namespaced, as the 2005 Implementation Guide writes them)."""
    digits = np.round((record.signal * 1000 - origin_uv) / scale_uv).astype(int)
    sequences = [
        '<component><sequence><code code="TIME_ABSOLUTE" codeSystem="2.16.840.1.113883.5.4"/>'
        f'<value xsi:type="GLIST_TS"><head value="20240101120000.000"/><increment value="{1000 / record.fs:g}" unit="ms"/></value>'
        "</sequence></component>"]
    for lead, row in zip(record.leads, digits):
        row = row[:-5] if lead == drop_samples_of else row
        code = "MDC_ECG_LEAD_" + lead.upper()
        sequences.append(
            f'<component><sequence><code code="{code}" codeSystem="2.16.840.1.113883.6.24"/>'
            f'<value xsi:type="SLIST_PQ"><origin value="{origin_uv:g}" unit="uV"/><scale value="{scale_uv:g}" unit="uV"/>'
            f"<digits>{' '.join(map(str, row))}</digits></value></sequence></component>")
    median = ('<derivation><derivedSeries><component><sequenceSet><component><sequence><code code="MDC_ECG_LEAD_I"/>'
              '<value xsi:type="SLIST_PQ"><digits>1 2 3</digits></value></sequence></component></sequenceSet>'
              "</component></derivedSeries></derivation>")
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<id root="1.2.3"/><code code="93000" codeSystem="2.16.840.1.113883.6.12"/>'
        "<componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject><subjectDemographicPerson>"
        '<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19640101"/>'
        "</subjectDemographicPerson></trialSubject></subject></subjectAssignment></componentOf></timepointEvent></componentOf>"
        '<component><series><code code="RHYTHM"/><effectiveTime><low value="20240101120000"/></effectiveTime>'
        f"<component><sequenceSet>{''.join(sequences)}</sequenceSet></component>{median}</series></component>"
        "</AnnotatedECG>")
    return path


# -- real files ------------------------------------------------------------------------------------


def test_ptbxl_wfdb_dat(shared_data):
    header = next(sorted((shared_data / "ptbxl" / "records100").rglob("*_lr.hea")).__iter__())
    record = read_record(header)
    assert record.signal.shape == (12, 1000) and record.fs == 100 and record.leads == STANDARD_12_LEADS
    assert 0.05 < np.abs(record.signal).max() < 20  # mV, not raw ADC units
    np.testing.assert_array_equal(read_record(header.with_suffix(".dat")).signal, record.signal)
    np.testing.assert_array_equal(read_record(header.with_suffix("")).signal, record.signal)


def test_cinc_wfdb_mat(shared_data):
    record = read_record(shared_data / "cinc2021" / "E07500.mat")
    assert record.signal.shape == (12, 5000) and record.fs == 500 and record.leads == STANDARD_12_LEADS


def test_mitbih_with_beat_annotations(shared_data):
    record = read_record(shared_data / "mitbih" / "101.hea")
    assert record.leads[0] == "MLII" and record.fs == 360 and record.n_samples == 650000
    assert record.annotations is not None and len(record.annotations.samples) == len(record.annotations.symbols) > 1800


def test_pydicom_sample_12_lead_ecg(tmp_path):
    from pydicom.data import get_testdata_file

    renamed = tmp_path / "scan_without_extension"
    shutil.copy(get_testdata_file("waveform_ecg.dcm"), renamed)
    assert detect_format(renamed) == "dicom"
    record = read_record(renamed)
    assert record.leads == STANDARD_12_LEADS and record.fs == 1000 and record.signal.shape == (12, 10000)
    assert record.signal[0, 0] == pytest.approx(0.1)  # 80 units × 1.25 µV = 100 µV
    assert record.meta["sex"] == "F" and record.meta["age"] == 42


# -- written files round-trip ----------------------------------------------------------------------


@pytest.fixture
def source():
    return twelve_lead(fs=500, seconds=4)


def test_dicom_round_trip(source, tmp_path):
    record = read_record(write_dicom(source, tmp_path / "ecg.dcm"))
    assert record.leads == STANDARD_12_LEADS and record.fs == 500 and record.meta["age"] == 61
    np.testing.assert_allclose(record.signal, source.signal, atol=0.0011)


def test_aecg_round_trip_with_scale_origin_and_demographics(source, tmp_path):
    path = write_aecg(source, tmp_path / "ecg.txt", scale_uv=2.5, origin_uv=-100)
    assert detect_format(path) == "aecg"
    record = read_record(path)
    assert record.leads == STANDARD_12_LEADS and record.fs == pytest.approx(500)
    np.testing.assert_allclose(record.signal, source.signal, atol=0.0013)
    assert record.meta["sex"] == "F" and record.meta["age"] == pytest.approx(60, abs=0.01)


def test_wfdb_written_by_wfdb(source, tmp_path):
    import wfdb

    wfdb.wrsamp("rec", fs=500, units=["mV"] * 12, sig_name=["I", "II", "III", "AVR", "AVL", "AVF"] + STANDARD_12_LEADS[6:],
                p_signal=source.signal.T.astype(np.float64), fmt=["16"] * 12, adc_gain=[1000.0] * 12,
                baseline=[0] * 12, write_dir=str(tmp_path))
    record = read_record(tmp_path / "rec.dat")
    assert record.leads == STANDARD_12_LEADS
    np.testing.assert_allclose(record.signal, source.signal, atol=0.0006)


def write_edf(record, path):
    import pyedflib

    with pyedflib.EdfWriter(str(path), len(record.leads), file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders([{"label": f"ECG {lead}", "dimension": "uV", "sample_frequency": record.fs,
                                  "physical_min": -5000.0, "physical_max": 5000.0, "digital_min": -32768,
                                  "digital_max": 32767} for lead in record.leads])
        writer.setSex(0)
        writer.writeSamples([row.astype(np.float64) * 1000 for row in record.signal])
    return path


def test_edf_written_by_pyedflib_and_renamed(source, tmp_path):
    path = write_edf(source, tmp_path / "ecg.edf").rename(tmp_path / "holter.rec")
    assert detect_format(path) == "edf"
    record = read_record(path)
    assert record.leads == STANDARD_12_LEADS and record.fs == 500 and record.signal.shape == (12, 2000)
    np.testing.assert_allclose(record.signal, source.signal, atol=0.001)


def test_truncated_edf(source, tmp_path, capfd):
    data = write_edf(source, tmp_path / "ecg.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[: len(data) // 2])
    expected = len(data)  # 4 data records of 12 × 500 + 57 annotation samples, 2 bytes each, after the header
    with pytest.raises(RecordFormatError, match=rf"cut.edf: the file is truncated: its header declares 4 data records of "
                                                rf"6057 samples after 3584 header bytes \({expected} bytes\), but the file "
                                                rf"holds {len(data) // 2} bytes.*looked like EDF; accepted formats"):
        read_record(tmp_path / "cut.edf")
    assert "filesize" not in capfd.readouterr().out  # pyedflib's C library never gets to print its own complaint
    (tmp_path / "padded.edf").write_bytes(data + bytes(10))  # longer than declared: pyedflib reads the declared part
    np.testing.assert_array_equal(read_record(tmp_path / "padded.edf").signal, read_record(tmp_path / "ecg.edf").signal)


def test_csv_and_numpy(source, tmp_path):
    import pandas as pd

    table = pd.DataFrame(source.signal.T, columns=source.leads)
    table.insert(0, "time", np.arange(source.n_samples) / 500)
    table.to_csv(tmp_path / "ecg.csv", index=False)
    record = read_record(tmp_path / "ecg.csv")
    assert record.fs == pytest.approx(500) and record.leads == STANDARD_12_LEADS
    np.testing.assert_allclose(record.signal, source.signal, atol=1e-5)
    np.save(tmp_path / "ecg.bin", source.signal.T)  # renamed .npy, samples × leads
    (tmp_path / "ecg.bin.npy").rename(tmp_path / "ecg.dat")
    assert detect_format(tmp_path / "ecg.dat") == "npy"
    np.testing.assert_array_equal(read_record(tmp_path / "ecg.dat", fs=500).signal, source.signal)


def test_one_record_per_group_of_wfdb_files(shared_data, tmp_path):
    folder = shared_data / "mitbih"
    files = [folder / "101.hea", folder / "101.dat", folder / "101.atr", folder / "106.dat"]
    assert group_record_files(files) == [folder / "101.hea", folder / "106.hea"]


def test_a_directory_stands_for_the_records_in_it(shared_data, tmp_path, source):
    mitbih = record_files([shared_data / "mitbih"])  # .dat/.atr/.at_ files, RECORDS, ANNOTATORS and LICENSE.md pass over
    assert len(mitbih) == 26 and all(p.suffix == ".hea" for p in mitbih)
    np.save(tmp_path / "a.npy", source.signal)
    write_aecg(source, tmp_path / "b.xml")
    (tmp_path / "README.txt").write_text("exported from the cart\n")
    (tmp_path / "notes").write_text("x,y\n1,2\n")
    (tmp_path / "sub").mkdir()
    assert record_files([tmp_path, shared_data / "mitbih" / "101.dat"]) == [
        tmp_path / "a.npy", tmp_path / "b.xml", shared_data / "mitbih" / "101.hea"]
    with pytest.raises(RecordFormatError, match="sub: a directory holding no ECG record file"):
        record_files([tmp_path / "sub"])


# -- broken files ----------------------------------------------------------------------------------


def _copy_ptbxl(shared_data, tmp_path):
    header = sorted((shared_data / "ptbxl" / "records100").rglob("*_lr.hea"))[0]
    for suffix in (".hea", ".dat"):
        shutil.copy(header.with_suffix(suffix), tmp_path / ("r" + suffix))
    text = (tmp_path / "r.hea").read_text().replace(header.stem + ".dat", "r.dat")
    (tmp_path / "r.hea").write_text("r" + text[len(header.stem):])
    return tmp_path / "r.hea"


def test_truncated_signal_file(shared_data, tmp_path):
    header = _copy_ptbxl(shared_data, tmp_path)
    data = (tmp_path / "r.dat").read_bytes()
    (tmp_path / "r.dat").write_bytes(data[: len(data) // 3])
    with pytest.raises(RecordFormatError, match=r"r.dat: the signal file is truncated: the header declares 1,000 samples × 12 per frame in format 16 "
                       r"\(24,000 bytes\), but the file holds 8,000 bytes.*looked like WFDB; accepted formats"):
        read_record(header)


def test_header_that_lies_about_its_length(shared_data, tmp_path):
    header = _copy_ptbxl(shared_data, tmp_path)
    lines = header.read_text().splitlines()
    fields = lines[0].split()
    fields[3] = str(int(fields[3]) * 5)
    header.write_text("\n".join([" ".join(fields)] + lines[1:]) + "\n")
    with pytest.raises(RecordFormatError, match="declares 5,000 samples .* but the file holds 24,000 bytes"):
        read_record(header)


def test_header_with_the_wrong_lead_count(shared_data, tmp_path):
    header = _copy_ptbxl(shared_data, tmp_path)
    lines = header.read_text().splitlines()
    header.write_text("\n".join(lines[:-1]) + "\n")  # declares 12 signals, describes 11
    with pytest.raises(RecordFormatError, match=r"r.hea: the header declares 12 signals but describes 11"):
        read_record(header)


def test_header_whose_signal_file_is_missing(shared_data, tmp_path):
    header = _copy_ptbxl(shared_data, tmp_path)
    (tmp_path / "r.dat").unlink()
    with pytest.raises(RecordFormatError, match=r"r.hea: the header's signal file r.dat is not there"):
        read_record(header)


def test_nans_are_rejected_before_prediction(source, tmp_path):
    import pandas as pd

    from ecglab.records import Record

    table = pd.DataFrame(source.signal.T, columns=source.leads)
    table.iloc[100:110, 7] = np.nan
    table.to_csv(tmp_path / "nan.csv", index=False)
    record = read_record(tmp_path / "nan.csv", fs=500)
    with pytest.raises(RecordFormatError, match=r"10 samples are NaN.*\['V2'\]"):
        Record.check_finite(record)


def test_empty_unknown_and_mislabelled_files(tmp_path):
    (tmp_path / "empty.hea").write_bytes(b"")
    (tmp_path / "empty.edf").write_bytes(b"")
    with pytest.raises(RecordFormatError, match=r"empty.edf: the file is empty. Accepted formats: WFDB"):
        read_record(tmp_path / "empty.edf")
    with pytest.raises(RecordFormatError, match="not a WFDB header"):
        read_record(tmp_path / "empty.hea")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(RecordFormatError, match=r"photo.png: unrecognised content \(binary data.*Accepted formats"):
        read_record(tmp_path / "photo.png")
    (tmp_path / "page.xml").write_text("<html><body>ECG</body></html>")
    with pytest.raises(RecordFormatError, match="not an HL7 aECG"):
        read_record(tmp_path / "page.xml")
    with pytest.raises(RecordFormatError, match="missing.hea: no such file"):
        read_record(tmp_path / "missing.hea")


def test_broken_dicom(source, tmp_path):
    with pytest.raises(RecordFormatError, match=r"waveform data is truncated: 12 channels × 2000 samples need 48000 bytes, found 24000"):
        read_record(write_dicom(source, tmp_path / "cut.dcm", truncate=True))
    data = (tmp_path / "cut.dcm").read_bytes()
    (tmp_path / "head.dcm").write_bytes(data[:300])
    with pytest.raises(RecordFormatError, match="head.dcm"):
        read_record(tmp_path / "head.dcm")


def test_broken_aecg(source, tmp_path):
    path = write_aecg(source, tmp_path / "a.xml", drop_samples_of="V3")
    with pytest.raises(RecordFormatError, match=r"different numbers of samples.*'V3': 1995"):
        read_record(path)
    text = write_aecg(source, tmp_path / "b.xml").read_text()
    (tmp_path / "b.xml").write_text(text[: len(text) // 2])
    with pytest.raises(RecordFormatError, match="not well-formed XML"):
        read_record(tmp_path / "b.xml")
    (tmp_path / "c.xml").write_text(text.replace('<increment value="2" unit="ms"/>', ""))
    with pytest.raises(RecordFormatError, match="increment"):
        read_record(tmp_path / "c.xml")
