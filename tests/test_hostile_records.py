"""Hostile and odd record files: each is read correctly or refused with a clear error, fast and without
allocating what it declares (issue 11: bombs, huge declared sizes, garbage headers, multi-rate and
non-voltage records, truncated files)."""

from __future__ import annotations

import time
import tracemalloc
import zipfile
from contextlib import contextmanager

import numpy as np
import pytest
from test_formats import write_aecg, write_dicom, write_edf
from use_fixtures import twelve_lead

from ecglab.cli import main
from ecglab.errors import InputTooLargeError, RecordFormatError
from ecglab.records import InputLimits, read_record
from ecglab.records.detect import record_files
from ecglab.records.units import DroppedChannelsWarning

MB = 1 << 20


@contextmanager
def bounded(seconds: float = 2.0, megabytes: float = 300.0):
    """The block must finish within ``seconds`` and allocate at most ``megabytes`` at its peak."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < megabytes * MB, f"peak {peak / MB:.0f} MB"


def wrsamp(tmp_path, name, **kwargs):
    import wfdb

    wfdb.wrsamp(name, write_dir=str(tmp_path), **kwargs)
    return tmp_path / f"{name}.hea"


def test_exit_code_and_message_of_the_cli(tmp_path, capsys):
    header = tmp_path / "many.hea"
    header.write_text("many 100000 360 1000\n" + "many.dat 16 200 16 0 0 0 0 x\n" * 100_000)
    start = time.perf_counter()
    assert main(["plot", str(header), "--out", str(tmp_path / "x.png")]) == 2
    assert time.perf_counter() - start < 2
    err = capsys.readouterr().err
    assert "declares 100,000 signals; at most 64 are read" in err and "Traceback" not in err


# -- WFDB: declared sizes --------------------------------------------------------------------------


def test_header_declaring_100000_signals_is_refused_before_wfdb_parses_it(tmp_path):
    header = tmp_path / "many.hea"
    header.write_text("many 100000 360 1000\n" + "many.dat 16 200 16 0 0 0 0 x\n" * 100_000)
    with bounded(seconds=1.0), pytest.raises(InputTooLargeError, match="declares 100,000 signals; at most 64"):
        read_record(header)


def test_header_with_more_signal_lines_than_declared(tmp_path):
    header = tmp_path / "lie.hea"
    header.write_text("lie 2 360 1000\n" + "lie.dat 16 200 16 0 0 0 0 x\n" * 20_000)
    with bounded(seconds=1.0), pytest.raises(RecordFormatError, match="declares 2 signals but describes 20000"):
        read_record(header)
    header.write_text("lie 2 360 1000\n" + "lie.dat 16 200 16 0 0 0 0 x\n" * 50_000)
    with bounded(seconds=1.0), pytest.raises(RecordFormatError, match="the header is over 1,048,576 bytes"):
        read_record(header)


def test_declared_sample_count_over_the_limit(tmp_path):
    header = wrsamp(tmp_path, "long", fs=360, units=["mV"], sig_name=["II"], p_signal=np.zeros((100, 1)), fmt=["16"])
    header.write_text(header.read_text().replace("long 1 360 100", "long 1 360 9000000000"))
    with bounded(), pytest.raises(InputTooLargeError, match=r"1 leads × 9,000,000,000 samples .* at most 200,000,000"):
        read_record(header)


def test_flac_record_declaring_more_samples_than_allowed(tmp_path):
    """A FLAC signal file of a few kB decodes to millions of samples: the declared count bounds it."""
    header = wrsamp(tmp_path, "flac", fs=500, units=["mV"], sig_name=["II"], p_signal=np.zeros((2_000_000, 1)),
                    fmt=["516"], adc_gain=[1000.0], baseline=[0])
    assert (tmp_path / "flac.dat").stat().st_size < 200_000
    with bounded(), pytest.raises(InputTooLargeError, match=r"1 leads × 2,000,000 samples"):
        read_record(header, limits=InputLimits(max_values=1_000_000))
    assert read_record(header).n_samples == 2_000_000  # within the default limits it is read


def test_samples_per_frame_count_in_the_declared_size(tmp_path):
    header = tmp_path / "spf.hea"
    header.write_text("spf 1 1 1000\nspf.dat 16x5000 200 16 0 0 0 0 II\n")
    (tmp_path / "spf.dat").write_bytes(b"")
    with pytest.raises(InputTooLargeError, match=r"1 leads × 5,000,000 samples"):
        read_record(header, limits=InputLimits(max_values=1_000_000))


# -- WFDB: garbage fields, missing and truncated files --------------------------------------------


@pytest.fixture
def two_lead(tmp_path):
    signal = np.random.default_rng(0).normal(size=(1000, 2))
    return wrsamp(tmp_path, "rec", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], p_signal=signal, fmt=["212"] * 2,
                  adc_gain=[200.0, 200.0], baseline=[0, 0]), signal


@pytest.mark.parametrize("line, field, value, message", [
    (1, 2, "xyz", "signal 1: the gain field 'xyz' is not a number"),
    (1, 1, "16q", "signal 1: the format field '16q' is not a WFDB format"),
    (0, 1, "two", "not a WFDB header"),  # told by format detection, before the reader
    (0, 2, "fast", "sampling rate field 'fast' is not a number"),
    (0, 3, "1e3", "number of samples field '1e3' is not a whole number"),
])
def test_non_numeric_header_fields(two_lead, line, field, value, message):
    header, _ = two_lead
    lines = header.read_text().splitlines()
    fields = lines[line].split()
    fields[field] = value
    lines[line] = " ".join(fields)
    header.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordFormatError, match=message):
        read_record(header)


def test_truncated_format_212_signal_file(two_lead):
    header, _ = two_lead
    data = header.with_suffix(".dat")
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(RecordFormatError, match=r"rec.dat: the signal file is truncated: the header declares 1,000 "
                                                r"samples × 2 per frame in format 212 \(3,000 bytes\), but the file holds 1,000"):
        read_record(header)


def test_missing_signal_file(two_lead):
    header, _ = two_lead
    header.with_suffix(".dat").unlink()
    with pytest.raises(RecordFormatError, match="the header's signal file rec.dat is not there"):
        read_record(header)


def test_format_80_and_16_records_read_back(tmp_path):
    signal = np.clip(np.random.default_rng(1).normal(size=(500, 2)), -2, 2)  # format 80 at 50/mV holds ±2.5 mV
    header = wrsamp(tmp_path, "mixed", fs=250, units=["mV", "uV"], sig_name=["I", "II"], p_signal=signal * [1, 1000],
                    fmt=["80", "16"], adc_gain=[50.0, 1.0], baseline=[0, 0])
    record = read_record(header)
    assert record.fs == 250 and record.leads == ["I", "II"]
    np.testing.assert_allclose(record.signal, signal.T, atol=0.011)  # format 80 holds 1/50 mV steps; II in uV → mV


def test_multi_segment_record(tmp_path):
    signal = np.random.default_rng(2).normal(size=(2000, 2))
    for i in range(2):
        wrsamp(tmp_path, f"seg{i}", fs=360, units=["mV", "mV"], sig_name=["I", "II"], p_signal=signal[i * 1000:(i + 1) * 1000],
               fmt=["16", "16"], adc_gain=[1000.0, 1000.0], baseline=[0, 0])
    (tmp_path / "multi.hea").write_text("multi/2 2 360 2000\nseg0 1000\nseg1 1000\n")
    record = read_record(tmp_path / "multi.hea")
    assert record.signal.shape == (2, 2000) and record.fs == 360
    np.testing.assert_allclose(record.signal, signal.T, atol=0.0006)


def test_multi_segment_record_whose_segment_declares_too_many_signals(tmp_path):
    (tmp_path / "multi.hea").write_text("multi/1 2 360 1000\nseg0 1000\n")
    (tmp_path / "seg0.hea").write_text("seg0 100000 360 1000\n")
    with bounded(seconds=1.0), pytest.raises(InputTooLargeError, match=r"seg0.hea \(a segment of .*multi.hea\): "
                                                                        "declares 100,000 signals"):
        read_record(tmp_path / "multi.hea")


# -- WFDB: multi-rate and non-voltage channels ----------------------------------------------------


def test_multi_rate_record_is_read_at_the_ecg_rate(tmp_path):
    """200 ECG samples and 1 heart-rate value per 1 s frame: the ECG is 200 Hz, not averaged to '1 Hz'."""
    t = np.arange(2000) / 200
    ecg = np.sin(2 * np.pi * 1.2 * t)
    header = wrsamp(tmp_path, "mr", fs=1, units=["mV", "bpm"], sig_name=["II", "HR"], e_p_signal=[ecg, np.full(10, 72.0)],
                    samps_per_frame=[200, 1], fmt=["16", "16"], adc_gain=[1000.0, 10.0], baseline=[0, 0])
    with pytest.warns(DroppedChannelsWarning, match=r"HR \(bpm\)"):
        record = read_record(header)
    assert record.fs == 200 and record.leads == ["II"] and record.meta["dropped_channels"] == {"HR": "bpm"}
    np.testing.assert_allclose(record.signal[0], ecg, atol=0.0006)


def test_voltage_channels_at_two_rates_are_resampled_to_the_higher(tmp_path):
    t_fast, t_slow = np.arange(4000) / 400, np.arange(2000) / 200
    header = wrsamp(tmp_path, "two", fs=100, units=["mV", "mV"], sig_name=["I", "II"],
                    e_p_signal=[np.sin(2 * np.pi * t_fast), np.sin(2 * np.pi * t_slow)], samps_per_frame=[4, 2],
                    fmt=["16", "16"], adc_gain=[1000.0, 1000.0], baseline=[0, 0])
    record = read_record(header)
    assert record.fs == 400 and record.signal.shape == (2, 4000)
    np.testing.assert_allclose(record.signal[1, 100:-100], np.sin(2 * np.pi * t_fast)[100:-100], atol=0.01)


def test_non_voltage_channels_are_left_out(tmp_path):
    signal = np.random.default_rng(3).normal(size=(1000, 3))
    header = wrsamp(tmp_path, "icu", fs=125, units=["mV", "mmHg", "%"], sig_name=["II", "ABP", "SpO2"], p_signal=signal,
                    fmt=["16"] * 3)
    with pytest.warns(DroppedChannelsWarning, match=r"ABP \(mmHg\), SpO2 \(%\)"):
        record = read_record(header)
    assert record.leads == ["II"] and record.meta["dropped_channels"] == {"ABP": "mmHg", "SpO2": "%"}


def test_the_cli_names_left_out_channels_in_one_note_line(tmp_path, capsys):
    signal = np.random.default_rng(3).normal(size=(2000, 2))
    header = wrsamp(tmp_path, "icu", fs=250, units=["mV", "mmHg"], sig_name=["II", "ABP"], p_signal=signal, fmt=["16"] * 2)
    assert main(["plot", str(header), "--out", str(tmp_path / "ecg.png")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "ABP" in line]
    assert notes == [notes[0]] and notes[0].startswith("note: ") and "(mmHg)" in notes[0]


def test_record_without_a_voltage_channel_is_refused(tmp_path):
    header = wrsamp(tmp_path, "bp", fs=125, units=["mmHg", "bpm"], sig_name=["ABP", "HR"],
                    p_signal=np.random.default_rng(4).normal(size=(1000, 2)), fmt=["16"] * 2)
    with pytest.raises(RecordFormatError, match=r"no voltage channel; found ABP \(mmHg\), HR \(bpm\)"):
        read_record(header)


def test_a_header_without_units_is_in_millivolts(two_lead):
    header, signal = two_lead
    header.write_text(header.read_text().replace("/mV", ""))
    np.testing.assert_allclose(read_record(header).signal, signal.T, atol=0.01)


def test_xyz_file_names_its_record_like_the_dat(shared_data):
    base = shared_data / "ptbdb" / "patient001" / "s0010_re"
    by_xyz, by_hea = read_record(base.with_suffix(".xyz")), read_record(base.with_suffix(".hea"))
    assert by_xyz.leads[-3:] == ["vx", "vy", "vz"] and by_xyz.fs == 1000
    np.testing.assert_array_equal(by_xyz.signal, by_hea.signal)
    assert record_files([base.with_suffix(".xyz"), base.with_suffix(".dat")]) == [base.with_suffix(".hea")]


# -- NumPy: bombs, huge headers, truncation --------------------------------------------------------


@pytest.fixture(scope="module")
def npz_bomb(tmp_path_factory):
    """The issue's bomb, np.savez_compressed of 250 M float32 zeros (1 GB) in ~1 MB, written in chunks."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    chunk = np.zeros(16 * MB // 4, np.float32).tobytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("signal.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (1, 250_000_000)})
            for _ in range(1_000_000_000 // len(chunk)):
                member.write(chunk)
            member.write(chunk[: 1_000_000_000 % len(chunk)])
        archive.writestr("fs.npy", _npy_bytes(np.array(360.0)))
        archive.writestr("leads.npy", _npy_bytes(np.array(["MLII"])))
    return path


def _npy_bytes(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_npz_bomb_is_refused_without_decompressing(npz_bomb, capsys):
    assert npz_bomb.stat().st_size < 5 * MB
    with bounded(), pytest.raises(InputTooLargeError, match=r"member signal.npy: declares 1 leads × 250,000,000 samples "
                                                            r"= 250,000,000 values; at most 200,000,000"):
        read_record(npz_bomb)
    with bounded():
        assert main(["plot", str(npz_bomb)]) == 2
    assert "250,000,000 values" in capsys.readouterr().err


def test_npz_side_member_bomb(tmp_path):
    path = tmp_path / "side.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("signal.npy", _npy_bytes(np.zeros((1, 1000), np.float32)))
        archive.writestr("leads.npy", _npy_bytes(np.zeros(4 * MB, np.uint8)))
    with bounded(), pytest.raises(InputTooLargeError, match=r"member leads.npy declares 4,194,432 bytes uncompressed"):
        read_record(path, fs=360)


def test_npy_declaring_two_gigabytes_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (1, 550_000_000)})
        handle.write(b"\0" * 1024)
    with bounded(), pytest.raises(InputTooLargeError, match=r"1 leads × 550,000,000 samples"):
        read_record(path, fs=500, leads=["II"])


def test_allowed_npy_is_memory_mapped_not_copied(tmp_path):
    path = tmp_path / "holter.npy"
    np.save(path, np.ones((3, 8_000_000), np.float32))  # 96 MB
    with bounded(megabytes=20):
        record = read_record(path, fs=500, leads=["I", "II", "III"])
    assert record.signal.shape == (3, 8_000_000) and float(record.signal[2, -1]) == 1.0


def test_truncated_npy_and_npz(tmp_path):
    np.save(tmp_path / "cut.npy", np.ones((12, 5000), np.float32))
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordFormatError, match=r"truncated: its header declares shape \(12, 5000\) of float32"):
        read_record(tmp_path / "cut.npy", fs=500)
    np.savez_compressed(tmp_path / "cut.npz", signal=np.random.default_rng(0).normal(size=(12, 5000)), fs=500.0)
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordFormatError, match="not a readable NumPy file"):
        read_record(tmp_path / "cut.npz")


# -- tables ----------------------------------------------------------------------------------------


def test_table_with_only_a_time_column_is_refused(tmp_path):
    path = tmp_path / "time.csv"
    path.write_text("time\n" + "\n".join(f"{i / 500:.3f}" for i in range(1000)) + "\n")
    with pytest.raises(RecordFormatError, match=r"no lead columns, only \['time'\]"):
        read_record(path)


def test_table_rows_are_counted_before_parsing(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("I,II\n" + "0.1,0.2\n" * 5000)
    with pytest.raises(InputTooLargeError, match=r"2 leads × 5,002 samples"):
        read_record(path, fs=500, limits=InputLimits(max_values=1000))


def test_a_labels_table_in_a_directory_is_passed_over(tmp_path):
    (tmp_path / "labels.csv").write_text("file,label\necg.csv,NORM\n")
    (tmp_path / "ecg.csv").write_text("time,I,II\n" + "".join(f"{i / 500},0.1,0.2\n" for i in range(1000)))
    assert record_files([tmp_path]) == [tmp_path / "ecg.csv"]


# -- EDF, DICOM, aECG ------------------------------------------------------------------------------


def test_edf_declaring_more_samples_than_allowed(tmp_path):
    path = write_edf(twelve_lead(fs=500, seconds=4), tmp_path / "ecg.edf")
    with bounded(), pytest.raises(InputTooLargeError, match=r"13 leads × 2,000 samples"):  # 12 + EDF+ annotations
        read_record(path, limits=InputLimits(max_values=10_000))
    data = bytearray(path.read_bytes())
    data[236:244] = b"99999999"  # number of data records
    path.write_bytes(bytes(data))
    with bounded(), pytest.raises(InputTooLargeError, match=r"13 leads × 49,999,999,500 samples"):
        read_record(path)


def test_edf_non_voltage_channel_is_left_out(tmp_path):
    import pyedflib

    path = tmp_path / "mixed.edf"
    with pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders([{"label": label, "dimension": unit, "sample_frequency": 250, "physical_min": -500.0,
                                  "physical_max": 500.0, "digital_min": -32768, "digital_max": 32767}
                                 for label, unit in (("ECG II", "uV"), ("Pleth", "%"))])
        writer.writeSamples([np.zeros(2500), np.full(2500, 97.0)])
    with pytest.warns(DroppedChannelsWarning):
        record = read_record(path)
    assert record.leads == ["II"] and record.meta["dropped_channels"] == {"Pleth": "%"}


def test_dicom_declaring_more_samples_than_allowed(tmp_path):
    path = write_dicom(twelve_lead(fs=500, seconds=4), tmp_path / "ecg.dcm")
    with pytest.raises(InputTooLargeError, match=r"12 leads × 2,000 samples"):
        read_record(path, limits=InputLimits(max_values=10_000))


def test_aecg_bounded_by_size_and_without_entity_declarations(tmp_path):
    path = write_aecg(twelve_lead(fs=500, seconds=4), tmp_path / "ecg.xml")
    with pytest.raises(InputTooLargeError, match=r"1 leads × 2,000 samples = 2,000 values; at most 1,000"):
        read_record(path, limits=InputLimits(max_values=1000))
    padded = tmp_path / "padded.xml"
    padded.write_text(path.read_text() + "<!--" + " " * (2 * MB) + "-->")
    with bounded(), pytest.raises(InputTooLargeError, match=r"2,\d{3},\d{3} bytes of XML could hold"):
        read_record(padded, limits=InputLimits(max_values=1000))
    text = path.read_text().replace("<AnnotatedECG", '<!DOCTYPE AnnotatedECG [<!ENTITY a "aaaaaaaaaa">]><AnnotatedECG', 1)
    path.write_text(text)
    with bounded(), pytest.raises(RecordFormatError, match="DOCTYPE|refused"):
        read_record(path)
