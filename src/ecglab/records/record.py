"""The Record: one ECG as plain arrays, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecglab.errors import RecordFormatError

STANDARD_12_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

_CANONICAL = {name.upper(): name for name in STANDARD_12_LEADS}
_CANONICAL.update({"MLII": "MLII", "MLI": "MLI", "MLIII": "MLIII", "ML2": "MLII"})


def normalize_lead_name(name: str) -> str:
    """Map the spellings found in real files ('AVR', 'avr', 'Lead II', 'ML II', DICOM's
    'Lead I (Einthoven)', HL7 aECG's 'MDC_ECG_LEAD_AVR') to one name."""
    key = str(name).strip().upper().split("(")[0].replace(" ", "").replace("_", "")
    for prefix in ("MDCECGLEAD", "LEAD"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return _CANONICAL.get(key, str(name).strip())


@dataclass
class Annotations:
    """Beat annotations: sample index of each R peak and its label symbol (MIT-BIH style)."""

    samples: np.ndarray
    symbols: list[str]


@dataclass
class Record:
    """An ECG: ``signal`` float32 (n_leads, n_samples) in mV, its rate, lead names and metadata."""

    signal: np.ndarray
    fs: float
    leads: list[str]
    meta: dict = field(default_factory=dict)
    annotations: Annotations | None = None

    def __post_init__(self):
        name = self.meta.get("record_id", "record")
        signal = np.asarray(self.signal)
        if signal.ndim == 1:
            signal = signal[None, :]
        if signal.ndim != 2:
            raise RecordFormatError(
                f"{name}: expected a signal of shape (n_leads, n_samples), found {signal.ndim} dimensions {signal.shape}."
            )
        if len(self.leads) != signal.shape[0]:
            raise RecordFormatError(
                f"{name}: the signal has {signal.shape[0]} leads but {len(self.leads)} lead names were given ({self.leads})."
            )
        if signal.shape[1] == 0:
            raise RecordFormatError(f"{name}: the signal holds no samples.")
        if not np.isfinite(self.fs) or self.fs <= 0:
            raise RecordFormatError(f"{name}: expected a positive sampling rate, found {self.fs}.")
        self.signal = signal.astype(np.float32, copy=False)
        self.fs = float(self.fs)
        self.leads = [normalize_lead_name(lead) for lead in self.leads]

    @property
    def n_samples(self) -> int:
        return self.signal.shape[1]

    @property
    def duration(self) -> float:
        return self.n_samples / self.fs

    def select_leads(self, wanted: list[str]) -> "Record":
        """The record with exactly ``wanted`` leads, in that order; a clear error names any missing."""
        wanted = [normalize_lead_name(lead) for lead in wanted]
        missing = [lead for lead in wanted if lead not in self.leads]
        if missing:
            raise RecordFormatError(
                f"{self.meta.get('record_id', 'record')}: the model needs leads {wanted}; "
                f"missing {missing} (the record has {self.leads})."
            )
        index = [self.leads.index(lead) for lead in wanted]
        return Record(self.signal[index], self.fs, wanted, dict(self.meta), self.annotations)

    def check_finite(self) -> "Record":
        bad = ~np.isfinite(self.signal)
        if bad.any():
            leads = sorted({self.leads[i] for i in np.nonzero(bad)[0]})
            raise RecordFormatError(
                f"{self.meta.get('record_id', 'record')}: {int(bad.sum())} samples are NaN or infinite "
                f"(leads {leads}); expected finite voltages in mV."
            )
        return self
