"""WFDB records (.hea with .dat or .mat signal files), read with wfdb-python."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ecglab.errors import RecordFormatError
from ecglab.records.record import Annotations, Record, normalize_lead_name

_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}


def read_wfdb(path: str | Path, annotation_extension: str | None = "atr") -> Record:
    """Read a WFDB record given its path with or without ``.hea``; beat annotations if present."""
    import wfdb

    base = Path(path)
    if base.suffix in (".hea", ".dat", ".mat", ".atr"):
        base = base.with_suffix("")
    if not base.with_suffix(".hea").exists():
        raise RecordFormatError(f"{base}: no WFDB header {base.with_suffix('.hea').name} found.")
    _check_header(base, _read_header(base))
    try:
        rec = wfdb.rdrecord(str(base))
    except Exception as exc:  # wfdb raises bare ValueErrors, IndexErrors, etc. on broken files
        raise RecordFormatError(
            f"{base}: the WFDB header or its signal file could not be read ({type(exc).__name__}: {exc}). "
            "Expected a .hea header whose signal file (.dat or .mat) holds as many samples as it declares."
        ) from None
    if rec.p_signal is None or rec.p_signal.size == 0:
        raise RecordFormatError(f"{base}: the WFDB record holds no samples.")
    scale = np.array([_UNIT_TO_MV.get(str(u).strip().lower(), 1.0) for u in rec.units], dtype=np.float32)
    signal = rec.p_signal.T.astype(np.float32) * scale[:, None]
    comments = list(rec.comments or [])
    meta = {"record_id": rec.record_name, "comments": comments, **_age_sex(header_fields(comments))}
    return Record(signal, rec.fs, list(rec.sig_name), meta, _read_annotations(base, annotation_extension))


def read_wfdb_header(path: str | Path) -> dict:
    """A WFDB header without its signal: ``fs``, ``n_samples``, ``leads`` (standard names) and the
    ``comments`` lines, where databases keep age, sex and diagnoses."""
    base = Path(path)
    if base.suffix == ".hea":
        base = base.with_suffix("")
    header = _read_header(base)
    return {"fs": float(header.fs), "n_samples": int(header.sig_len or 0),
            "leads": [normalize_lead_name(name) for name in header.sig_name or []], "comments": list(header.comments or [])}


def _read_header(base: Path):
    """wfdb's header of the record at ``base`` (its path without suffix)."""
    import wfdb

    try:
        return wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises bare ValueErrors and friends on malformed headers
        raise RecordFormatError(f"{base}.hea: not a readable WFDB header ({type(exc).__name__}: {exc}).") from None


_FS_FIELD = re.compile(r"^\d+(\.\d*)?([eE][-+]?\d+)?(/[^ ]*)?$")  # fs[/counter frequency[(base counter)]]


def _check_header(base: Path, header) -> None:
    """What wfdb reports as an IndexError or a missing file, or silently replaces, said plainly."""
    record_line = next((line.split() for line in base.with_suffix(".hea").read_text(errors="replace").splitlines()
                        if line.strip() and not line.lstrip().startswith("#")), [])
    if len(record_line) > 2 and not _FS_FIELD.match(record_line[2]):
        raise RecordFormatError(f"{base}.hea: the sampling rate field {record_line[2]!r} is not a number "
                                "(expected e.g. '500' on the record line: NAME N_SIGNALS FS N_SAMPLES).")
    described = len(header.sig_name or [])
    if getattr(header, "n_seg", None) is None and described != header.n_sig:  # multi-segment headers list segments
        raise RecordFormatError(f"{base}.hea: the header declares {header.n_sig} signals but describes {described} "
                                "(one line per signal is expected after the record line).")
    for name in sorted(set(getattr(header, "file_name", None) or [])):
        if not (base.parent / name).is_file():
            raise RecordFormatError(f"{base}.hea: the header's signal file {name} is not there "
                                    f"(expected it next to the header, in {base.parent}).")


def header_fields(comments: list[str]) -> dict[str, str]:
    """``Key: value`` header comments (CinC ``# Age: 74``, PTB ``age: 81``) as {lower-case key: value}."""
    fields = {}
    for line in comments:
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def clinical_fields(comments: list[str]) -> dict:
    """Age (float or None) and sex ('M', 'F' or None) from header comments."""
    return _age_sex(header_fields(comments), keep_missing=True)


def _age_sex(fields: dict[str, str], keep_missing: bool = False) -> dict:
    try:
        age = float(fields.get("age", ""))
        age = None if np.isnan(age) else age
    except ValueError:
        age = None
    sex = {"male": "M", "m": "M", "female": "F", "f": "F"}.get(fields.get("sex", "").lower())
    found = {"age": age, "sex": sex}
    return found if keep_missing else {k: v for k, v in found.items() if v is not None}


def _read_annotations(base: Path, extension: str | None) -> Annotations | None:
    if not extension or not base.with_suffix("." + extension).exists():
        return None
    import wfdb

    try:
        ann = wfdb.rdann(str(base), extension)
    except Exception as exc:
        raise RecordFormatError(f"{base}.{extension}: the annotation file could not be read ({exc}).") from None
    return Annotations(np.asarray(ann.sample, dtype=np.int64), list(ann.symbol))
