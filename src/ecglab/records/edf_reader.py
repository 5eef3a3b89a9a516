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
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:
        raise RecordFormatError(f"{path}: not a readable EDF/EDF+/BDF file ({exc}).") from None
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
