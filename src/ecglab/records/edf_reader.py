"""EDF, EDF+ and BDF files (Kemp et al. 1992; Kemp & Olivan 2003), read with pyedflib."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ecglab.errors import RecordFormatError
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import Record
from ecglab.records.units import voltage_channels
from ecglab.signal.resample import resample


def read_edf(path: str | Path, limits: InputLimits | None = None) -> Record:
    """All voltage channels in mV; channels at a lower rate are resampled to the highest one.

    Labels such as 'ECG II' or 'EKG V1' become lead names ('II', 'V1'); the EDF+ annotation
    channel is not a signal, and channels in other units (mmHg, %, bpm) are left out
    (``meta["dropped_channels"]``). The fixed header is checked against ``limits`` and the file
    size before pyedflib reads it. The patient code and sex of the header go into ``meta``.
    """
    import pyedflib

    path = Path(path)
    _check_header(path, resolve_limits(limits))
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise RecordFormatError(f"{path}: not a readable EDF/EDF+/BDF file ({reason}).") from None
    try:
        if reader.signals_in_file == 0:
            raise RecordFormatError(f"{path}: the EDF file holds no signal channels.")
        labels = [label.strip() for label in reader.getSignalLabels()]
        units = [str(reader.getPhysicalDimension(i)) for i in range(reader.signals_in_file)]
        keep, scales, dropped = voltage_channels(labels, units, str(path))
        rates = [float(reader.getSampleFrequency(i)) for i in keep]
        fs = max(rates)
        channels = [resample(reader.readSignal(i) * scale, rate, fs) for i, scale, rate in zip(keep, scales, rates)]
        leads = [re.sub(r"^(?:ECG|EKG)[\s_-]*", "", labels[i], flags=re.IGNORECASE) or labels[i] for i in keep]
        meta = {"record_id": path.stem}
        if dropped:
            meta["dropped_channels"] = dropped
        patient = str(reader.getPatientCode()).strip()
        if patient:
            meta["patient_id"] = patient
        sex = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(str(reader.getSex()).strip().lower())
        if sex:
            meta["sex"] = sex
    finally:
        reader.close()
    n_samples = min(len(channel) for channel in channels)
    return Record(np.stack([channel[:n_samples] for channel in channels]).astype(np.float32), fs, leads, meta)


def _check_header(path: Path, limits: InputLimits) -> None:
    """What the fixed header (Kemp et al. 1992) declares, checked before decoding: the signal count
    and samples (number of data records × samples per data record) against ``limits``, and the
    file size, so that a truncated file is said plainly (pyedflib's C library prints its own size
    complaint to stdout before raising)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(256)
        try:
            header_bytes, n_records, n_signals = int(head[184:192]), int(head[236:244]), int(head[252:256])
        except ValueError:
            return  # a malformed header: pyedflib says what is wrong with it
        limits.check(n_signals, 0, str(path))  # before reading n_signals fields
        handle.seek(256 + n_signals * 216)
        try:
            per_record = [int(handle.read(8)) for _ in range(n_signals)]
        except ValueError:
            return
    bytes_per_sample = 3 if head.startswith(b"\xffBIOSEMI") else 2
    record_bytes = sum(per_record) * bytes_per_sample
    if n_records < 0 and record_bytes:  # -1: still being recorded; the file size tells
        n_records = (size - header_bytes) // record_bytes
    limits.check(n_signals, max(per_record, default=0) * n_records, str(path))
    expected = header_bytes + n_records * record_bytes
    if n_records > 0 and size < expected:
        raise RecordFormatError(f"{path}: the file is truncated: its header declares {n_records} data records of "
                                f"{sum(per_record)} samples after {header_bytes} header bytes ({expected} bytes), "
                                f"but the file holds {size} bytes.")
