"""EDF, EDF+ and BDF files (Kemp et al. 1992; Kemp & Olivan 2003), read with pyedflib."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ecglab.errors import RecordFormatError
from ecglab.records.record import Record
from ecglab.records.wfdb_reader import _UNIT_TO_MV
from ecglab.signal.resample import resample


def read_edf(path: str | Path) -> Record:
    """All signal channels in mV; channels at a lower rate are resampled to the highest one.

    Labels such as 'ECG II' or 'EKG V1' become lead names ('II', 'V1'); the EDF+ annotation
    channel is not a signal. The patient code and sex of the header go into ``meta``.
    """
    import pyedflib

    path = Path(path)
    _check_size(path)
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise RecordFormatError(f"{path}: not a readable EDF/EDF+/BDF file ({reason}).") from None
    try:
        if reader.signals_in_file == 0:
            raise RecordFormatError(f"{path}: the EDF file holds no signal channels.")
        rates = [float(rate) for rate in reader.getSampleFrequencies()]
        fs = max(rates)
        channels = []
        for i, rate in enumerate(rates):
            unit = str(reader.getPhysicalDimension(i)).strip().lower()
            channels.append(resample(reader.readSignal(i) * _UNIT_TO_MV.get(unit, 1.0), rate, fs))
        leads = [re.sub(r"^(?:ECG|EKG)[\s_-]*", "", label.strip(), flags=re.IGNORECASE) or label
                 for label in reader.getSignalLabels()]
        meta = {"record_id": path.stem}
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


def _check_size(path: Path) -> None:
    """A truncated file is said plainly here: pyedflib's C library prints its own size complaint to
    stdout before raising. The size follows from the fixed header (Kemp et al. 1992):
    header bytes, number of data records, and per signal the samples in one data record."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(256)
        try:
            header_bytes, n_records, n_signals = int(head[184:192]), int(head[236:244]), int(head[252:256])
            handle.seek(256 + n_signals * 216)
            per_record = sum(int(handle.read(8)) for _ in range(n_signals))
        except ValueError:
            return  # a malformed header: pyedflib says what is wrong with it
    bytes_per_sample = 3 if head.startswith(b"\xffBIOSEMI") else 2
    expected = header_bytes + n_records * per_record * bytes_per_sample
    if n_records > 0 and size < expected:
        raise RecordFormatError(f"{path}: the file is truncated: its header declares {n_records} data records of "
                                f"{per_record} samples after {header_bytes} header bytes ({expected} bytes), "
                                f"but the file holds {size} bytes.")
