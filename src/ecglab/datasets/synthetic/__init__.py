"""Built-in synthetic ECGs, the project's default data: generated from a seed, never downloaded.

Two tasks, one command::

    ecglab prepare synthetic --out data/synth --task record --n 2000 --fs 100
    ecglab prepare synthetic --out data/beats --task beat --n 40

* ``record``: 12-lead 10 s records, multilabel over PTB-XL's superclasses NORM, MI, STTC, CD,
  HYP (:mod:`.twelve_lead`).
* ``beat``: MLII rhythm strips with AAMI N/S/V/F/Q beats (:mod:`.rhythm_strips`), cut into
  beats by :func:`ecglab.signal.beats.extract_beats`, the segmentation real data uses.

Difficulty is calibrated so that a figure means something: disease severities start near zero
and normal variation is wide, so mild cases overlap normal ones as in real data. On 2,000 records
at 100 Hz the demo's resnet1d (10 epochs) reaches test macro AUROC 0.956 and logistic regression on
the raw samples 0.553; neither saturates. The knobs are module constants: disease severity ranges
in :mod:`.twelve_lead`, between-patient variability there and in :mod:`.rhythm_strips`, and
recording noise in :mod:`.noise`.
"""

from __future__ import annotations

from ecglab.datasets.registry import PrepareContext, register_dataset
from ecglab.datasets.synthetic.rhythm_strips import CLASSES as BEAT_CLASSES
from ecglab.datasets.synthetic.rhythm_strips import beat_dataset, generate_beat_recordings
from ecglab.datasets.synthetic.twelve_lead import CLASSES as RECORD_CLASSES
from ecglab.datasets.synthetic.twelve_lead import generate_records
from ecglab.errors import DatasetError
from ecglab.records import STANDARD_12_LEADS
from ecglab.signal.beats import BeatSpec
from ecglab.signal.preprocess import Preprocessing

# Per task: how many records (record task) or patients (beat task), and at what rate.
DEFAULTS = {"record": {"n": 2000, "fs": 100.0}, "beat": {"n": 40, "fs": 360.0}}


@register_dataset("synthetic", "built-in synthetic ECGs: 12-lead records with PTB-XL-like superclasses "
                  "(--task record) or MIT-BIH-like AAMI beats (--task beat); generated, never downloaded",
                  needs_source=False)
def build_synthetic(ctx: PrepareContext, task: str = "record", n: int | None = None, fs: float | None = None,
                    seed: int = 0):
    if task not in DEFAULTS:
        raise DatasetError(f"synthetic --task must be one of {sorted(DEFAULTS)}, found {task!r}.")
    n = int(DEFAULTS[task]["n"] if n is None else n)
    fs = float(DEFAULTS[task]["fs"] if fs is None else fs)
    source = {"generator": __name__, "task": task, "n": n, "fs": fs, "seed": seed}
    if task == "record":
        signals, labels, meta = generate_records(n, fs=fs, seed=seed)
        return ctx.write(signals, labels, meta, name="synthetic", kind="multilabel", classes=RECORD_CLASSES,
                         fs=fs, leads=STANDARD_12_LEADS, preprocessing=Preprocessing(fs=fs).model_dump(),
                         source=source, extra={"input": "record"})
    if n < 3:
        raise DatasetError(f"the beat task needs at least 3 patients (one per split), found --n {n}.")
    spec = BeatSpec()
    beats, labels, meta = beat_dataset(generate_beat_recordings(n, fs=fs, seed=seed), spec)
    return ctx.write(beats, labels, meta, name="synthetic-beat", kind="multiclass", classes=BEAT_CLASSES,
                     fs=spec.fs, leads=["MLII"], preprocessing=Preprocessing(fs=spec.fs).model_dump(), source=source,
                     extra={"input": "beat", "beats": spec.model_dump()})


__all__ = ["BEAT_CLASSES", "RECORD_CLASSES", "beat_dataset", "build_synthetic", "generate_beat_recordings",
           "generate_records"]
