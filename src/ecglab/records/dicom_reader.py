"""DICOM waveform ECGs (12-lead, general and ambulatory ECG IODs), read with pydicom.

The first multiplex group labelled RHYTHM (else the first group) becomes the Record; median-beat
groups are skipped. Samples are scaled by channel sensitivity × correction factor plus baseline
(DICOM PS3.3 C.10.9.1) and converted to mV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecglab.errors import RecordFormatError
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import Record
from ecglab.records.units import voltage_channels


def read_dicom(path: str | Path, limits: InputLimits | None = None) -> Record:
    import pydicom

    path = Path(path)
    try:
        ds = pydicom.dcmread(str(path))
    except Exception as exc:
        raise RecordFormatError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc}).") from None
    groups = ds.get("WaveformSequence")
    if not groups:
        raise RecordFormatError(f"{path}: a DICOM file without a WaveformSequence (modality {ds.get('Modality', '?')}); "
                                "expected a DICOM waveform ECG.")
    labels = [str(g.get("MultiplexGroupLabel", "")).upper() for g in groups]
    index = labels.index("RHYTHM") if "RHYTHM" in labels else 0
    group = groups[index]
    try:
        n_channels, n_samples = int(group.NumberOfWaveformChannels), int(group.NumberOfWaveformSamples)
        fs = float(group.SamplingFrequency)
        raw = group.WaveformData
        bytes_per_sample = int(group.WaveformBitsAllocated) // 8
    except (AttributeError, TypeError, ValueError) as exc:
        raise RecordFormatError(f"{path}: the waveform group lacks a required attribute or holds a non-numeric "
                                f"count or rate ({exc}).") from None
    resolve_limits(limits).check(n_channels, n_samples, str(path))
    expected = n_channels * n_samples * bytes_per_sample
    if len(raw) < expected:
        raise RecordFormatError(f"{path}: the waveform data is truncated: {n_channels} channels × {n_samples} samples "
                                f"need {expected} bytes, found {len(raw)}.")
    try:
        signal = ds.waveform_array(index).T.astype(np.float64)
    except Exception as exc:
        raise RecordFormatError(f"{path}: the waveform data could not be decoded ({type(exc).__name__}: {exc}).") from None
    channels = group.ChannelDefinitionSequence
    if len(channels) != n_channels:
        raise RecordFormatError(f"{path}: {n_channels} waveform channels declared but {len(channels)} channel definitions.")
    names = [_channel_name(channel, i) for i, channel in enumerate(channels)]
    keep, scales, dropped = voltage_channels(names, [_unit(channel) for channel in channels], str(path))
    signal = (signal[keep] * np.asarray(scales)[:, None]).astype(np.float32)
    meta = {"record_id": path.stem, "sex": ds.get("PatientSex") or None, "age": _age(ds.get("PatientAge"))}
    if dropped:
        meta["dropped_channels"] = dropped
    return Record(signal, fs, [names[i] for i in keep], meta)


def _unit(channel) -> str:
    """The channel's sensitivity unit code; absent, uV (what ECG waveform IODs use)."""
    units = channel.get("ChannelSensitivityUnitsSequence")
    return str(units[0].CodeValue) if units else "uV"


def _channel_name(channel, i: int) -> str:
    sources = channel.get("ChannelSourceSequence")
    if sources:
        return str(sources[0].get("CodeMeaning") or sources[0].get("CodeValue") or f"ch{i}")
    return str(channel.get("ChannelLabel") or f"ch{i}")


def _age(value) -> float | None:
    """DICOM age strings: '042Y', '006M', '003W', '010D'."""
    if not value:
        return None
    text = str(value).strip().upper()
    per_year = {"Y": 1.0, "M": 12.0, "W": 52.1775, "D": 365.25}
    try:
        return float(text[:-1]) / per_year[text[-1]] if text[-1] in per_year else float(text)
    except ValueError:
        return None
