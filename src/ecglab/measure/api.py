"""``measure(record)``: delineate, then measure; the result the CLI prints and Python users get."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecglab.inputs.waves import Wave
from ecglab.measure.delineate import delineate
from ecglab.measure.intervals import Measurements, measure_waves, signal_problem
from ecglab.records import Record


@dataclass
class MeasureResult:
    record_id: str
    fs: float
    waves: list[Wave]
    leads: list[str]  # the leads delineated
    result: Measurements = field(default_factory=Measurements)
    file: str | None = None

    measurements = property(lambda self: self.result.values)
    reasons = property(lambda self: self.result.reasons)
    beat_counts = property(lambda self: self.result.beats)

    def to_dict(self) -> dict:
        return {"file": self.file, "record_id": self.record_id, "fs": self.fs, "leads_delineated": self.leads,
                "waves": [w.to_dict() for w in self.waves], **self.result.to_dict()}


def measure(record: Record, bundle: str | Path | None = None) -> MeasureResult:
    """See :func:`ecglab.measure.measure`."""
    common = dict(record_id=str(record.meta.get("record_id", record.name)), fs=float(record.fs),
                  file=record.meta.get("source"))
    problem = signal_problem(record.signal, record.fs)
    if problem:  # never run the model on what it cannot delineate: no waves, every value None with the reason
        return MeasureResult(waves=[], leads=[], result=Measurements().fail_all(problem), **common)
    waves, leads = delineate(record, bundle)
    signal = record.signal[[record.leads.index(lead) for lead in leads]]  # rows in the order of ``leads``
    return MeasureResult(waves=waves, leads=leads, result=measure_waves(waves, signal, record.fs, leads), **common)
