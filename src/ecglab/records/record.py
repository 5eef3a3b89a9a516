"""The Record: one ECG as plain arrays, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ecglab.errors import RecordFormatError

STANDARD_12_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]

_CANONICAL = {name.upper(): name for name in STANDARD_12_LEADS}
_CANONICAL.update({"MLII": "MLII", "MLI": "MLI", "MLIII": "MLIII", "ML2": "MLII"})

# Leads that stand in for each other when a model asks for one and the record has the other. The
# modified limb leads of Holter and monitoring ECGs (MLI, MLII, MLIII; Mason & Likar 1966) move the
# limb electrodes onto the torso but measure the same axes as the limb leads I, II, III, so a beat
# model trained on MIT-BIH's MLII reads lead II of a 12-lead ECG and the other way round.
# a lead and the leads that may stand in for it, in order of preference; SVDB's ECG1 is usually a modified lead II
LEAD_EQUIVALENTS = {"MLI": ("I",), "I": ("MLI",), "MLII": ("II", "ECG1"), "II": ("MLII", "ECG1"), "MLIII": ("III",),
                    "III": ("MLIII",)}


# 'V1/V2/ECG2': whichever of these leads a record has, the first preferred. A two-lead Holter's second lead is a
# chest lead that differs between recorders (MIT-BIH: V1, V2, V4 or V5; SVDB: ECG2, unnamed); a beat model
# trained on such records reads any of them
LEAD_CHOICE = "/"


def lead_choices(wanted: str) -> list[str]:
    """The leads that a wanted lead accepts, in order of preference: 'V1/V2/ECG2' any of three, 'MLII' itself."""
    return [normalize_lead_name(part) for part in str(wanted).split(LEAD_CHOICE) if part.strip()]


def accepted_leads(wanted: str, equivalents: bool = True) -> list[str]:
    """The leads that may supply ``wanted``, in order of preference: its choices (:func:`lead_choices`), then
    (``equivalents``) their stand-ins from :data:`LEAD_EQUIVALENTS`."""
    choices = lead_choices(wanted)
    return choices + ([other for choice in choices for other in LEAD_EQUIVALENTS.get(choice, ())] if equivalents else [])


def normalize_lead_name(name: str) -> str:
    """Map the spellings found in real files ('AVR', 'avr', 'Lead II', 'ML II', DICOM's
    'Lead I (Einthoven)', HL7 aECG's 'MDC_ECG_LEAD_AVR') to one name; each of a choice ('v1/v2', :func:`lead_choices`)."""
    if LEAD_CHOICE in str(name):
        return LEAD_CHOICE.join(lead_choices(name))
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
        name = self.name
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

    @property
    def name(self) -> str:
        """How messages name the record: the file it was read from, else its id."""
        return str(self.meta.get("source") or self.meta.get("record_id", "record"))

    def lead_sources(self, wanted: list[str], equivalents: bool = False) -> dict[str, str]:
        """For each lead in ``wanted``, the record's lead that supplies it: the lead itself (or the first of a
        choice, :func:`lead_choices`, that the record has) or, with ``equivalents``, its stand-in from
        :data:`LEAD_EQUIVALENTS`. A clear error names any missing."""
        wanted = [normalize_lead_name(lead) for lead in wanted]
        sources = {lead: self.lead_source(lead, equivalents) for lead in wanted}
        missing = [lead for lead, source in sources.items() if source is None]
        if missing:
            stand_ins = [f"{' or '.join(LEAD_EQUIVALENTS[choice])} for {choice}" for lead in missing
                         for choice in lead_choices(lead) if equivalents and choice in LEAD_EQUIVALENTS]
            choices = [lead for lead in wanted if LEAD_CHOICE in lead]
            raise RecordFormatError(
                f"{self.name}: the model needs leads {wanted}"
                + (f" ({', '.join(choices)}: any one of these)" if choices else "") + f"; missing {missing}"
                + (f" (equivalent leads would do: {', '.join(stand_ins)})" if stand_ins else "")
                + f"; the record has {self.leads}."
            )
        return sources

    def missing_leads(self, wanted: list[str], equivalents: bool = False) -> list[str]:
        """The leads of ``wanted`` that no lead of the record supplies (:meth:`lead_source`)."""
        return [lead for lead in wanted if self.lead_source(lead, equivalents) is None]

    def lead_source(self, wanted: str, equivalents: bool = False) -> str | None:
        """The record's lead that supplies ``wanted`` (:func:`accepted_leads`, first preferred); None if none does."""
        return next((lead for lead in accepted_leads(wanted, equivalents) if lead in self.leads), None)

    def select_leads(self, wanted: list[str], equivalents: bool = False) -> "Record":
        """The record with exactly ``wanted`` leads, in that order and under those names; with
        ``equivalents`` a missing lead may be supplied by its stand-in (:meth:`lead_sources`)."""
        wanted = [normalize_lead_name(lead) for lead in wanted]
        sources = self.lead_sources(wanted, equivalents)
        index = [self.leads.index(sources[lead]) for lead in wanted]
        return Record(self.signal[index], self.fs, wanted, dict(self.meta), self.annotations)

    def voting_leads(self, first: str) -> np.ndarray:
        """What the R-peak detector reads (:func:`ecglab.signal.rpeaks.detect_r_peaks`): lead ``first`` (or its
        stand-in, :meth:`lead_sources`), on which the peaks are placed, then every other lead of the record, which
        vote on where beats are."""
        source = next(iter(self.lead_sources([first], equivalents=True).values()))
        order = [self.leads.index(source)] + [i for i, lead in enumerate(self.leads) if lead != source]
        return self.signal[order]

    def check_finite(self) -> "Record":
        bad = ~np.isfinite(self.signal)
        if bad.any():
            leads = sorted({self.leads[i] for i in np.nonzero(bad)[0]})
            raise RecordFormatError(
                f"{self.name}: {int(bad.sum())} samples are NaN or infinite "
                f"(leads {leads}); expected finite voltages in mV."
            )
        return self
