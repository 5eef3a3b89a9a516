"""MIT-BIH Supraventricular Arrhythmia Database (Greenwald 1990) as single-beat inputs with AAMI classes.

78 half-hour two-lead records at 128 Hz (leads ``ECG1``/``ECG2``; ECG1 is usually a modified lead
II, so it stands in for MLII as in the Predictor), beat annotations in the MIT-BIH symbol set:
read by the same beat-database reader (:mod:`ecglab.datasets.beatdb`) and written like
``mitbih`` datasets, record and patient ids prefixed ``svdb:``. To train on MIT-BIH and SVDB
at once, prepare ``mitbih --add svdb=DIR``.
"""

from __future__ import annotations

from ecglab.datasets.mitbih import write_beat_dataset
from ecglab.datasets.core.options import choice
from ecglab.datasets.core.registry import PrepareContext, register_dataset
from ecglab.datasets.core.selection import record_ids

SPLITS = ("patient", "all", "intra")


@register_dataset("svdb", "MIT-BIH Supraventricular Arrhythmia (raw WFDB, 128 Hz): AAMI beats N S V F Q; "
                          "--split patient|all|intra",
                          version=2)  # 2: beats carry p_consistency and qrs_difference
def prepare_svdb(ctx: PrepareContext, split: str = "patient", seed: int = 0, records: str | None = None,
                 lead: str = "MLII", beats: str = "context", bandpass: str | None = None, dtype: str | None = None,
                 peaks: str = "annotated"):
    protocol = choice(split, SPLITS, "split")
    sources = [("svdb", ctx.source, record_ids(ctx.source, records))]
    return write_beat_dataset(ctx, sources, protocol, seed, lead, beats, bandpass, dtype, excluded=[], peaks=peaks)
