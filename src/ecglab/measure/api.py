"""``measure(record)``: delineate, then measure; the result the CLI prints and Python users get."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecglab.inference.delineate import measure_record
from ecglab.inputs.intervals import Measurements
from ecglab.inputs.waves import Wave
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
    waves, leads, result = measure_record(record, bundle)
    return MeasureResult(waves=waves, leads=leads, result=result, **common)
