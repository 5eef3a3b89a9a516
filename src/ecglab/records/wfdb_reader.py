"""WFDB records (.hea with .dat, .mat or .xyz signal files), read with wfdb-python.

The header is parsed here first, once, from its text: the declared signal count, sample count,
samples per frame, gains and signal files are checked (against :class:`InputLimits` and against
the files on disk) before wfdb parses anything or decodes a sample, so a header declaring
100,000 signals or a 20 kB FLAC file declaring 16 M samples is refused at once. Signals are read
at their own rates (samples per frame) and resampled to the highest voltage channel's rate;
channels that are not voltages are left out (:mod:`ecglab.records.units`).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ecglab.errors import RecordFormatError
from ecglab.records.formats import WFDB_SUFFIXES
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import Annotations, Record, normalize_lead_name
from ecglab.records.units import voltage_channels

FLAC_FORMATS = ("508", "516", "524")
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3,
                     "311": 4 / 3}
_HEADER_MAX_BYTES = 1 << 20  # a 64-signal header with long comments is a few kB

_FS_FIELD = re.compile(r"^\d+(\.\d*)?([eE][-+]?\d+)?(/[^ ]*)?$")  # fs[/counter frequency[(base counter)]]
_FMT_FIELD = re.compile(r"^(\d+)(?:x(\d+))?(?::\d+)?(?:\+(\d+))?$")  # format[xsamples per frame][:skew][+offset]
_GAIN_FIELD = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\([-+]?\d+\))?(/\S*)?$")  # gain[(baseline)][/units]


@dataclass
class _SignalFile:
    name: str
    fmt: str
    frame_samples: int = 0  # samples of all its signals in one frame
    byte_offset: int = 0


@dataclass
class _Header:
    """What a header declares, from its text: enough to bound and check a record before reading it."""

    n_sig: int
    sig_len: int | None
    max_spf: int = 1
    files: dict[str, _SignalFile] = field(default_factory=dict)


def record_base(path: str | Path) -> Path:
    """The record's path without suffix, whichever of its files (.hea, .dat, .mat, .xyz, .atr) is given."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in WFDB_SUFFIXES else path


def _hea(base: Path) -> Path:
    return base.parent / (base.name + ".hea")


def read_wfdb(path: str | Path, annotation_extension: str | None = "atr", limits: InputLimits | None = None) -> Record:
    """Read a WFDB record given any of its files (or its path without suffix), in mV at one rate;
    beat annotations if present. Channels that are not voltages are left out and named in
    ``meta["dropped_channels"]``."""
    import wfdb

    base = record_base(path)
    _check_record(base, resolve_limits(limits))
    try:
        rec = wfdb.rdrecord(str(base), smooth_frames=False)
    except Exception as exc:  # wfdb raises bare ValueErrors, IndexErrors, etc. on broken files
        raise RecordFormatError(
            f"{base}: the WFDB header or its signal file could not be read ({type(exc).__name__}: {exc}). "
            "Expected a .hea header whose signal file (.dat or .mat) holds as many samples as it declares."
        ) from None
    if not rec.e_p_signal or not any(len(channel) for channel in rec.e_p_signal):
        raise RecordFormatError(f"{base}: the WFDB record holds no samples.")
    keep, scales, dropped = voltage_channels(list(rec.sig_name), list(rec.units), f"{base}.hea")
    rates = [float(rec.fs) * rec.samps_per_frame[i] for i in keep]
    fs = max(rates)
    channels = [_resampled(rec.e_p_signal[i] * scale, rate, fs, base, rates) for i, scale, rate in zip(keep, scales, rates)]
    n_samples = min(len(channel) for channel in channels)
    signal = np.stack([channel[:n_samples] for channel in channels]).astype(np.float32)
    comments = list(rec.comments or [])
    meta = {"record_id": rec.record_name, "comments": comments, **_age_sex(header_fields(comments))}
    if dropped:
        meta["dropped_channels"] = dropped
    return Record(signal, fs, [rec.sig_name[i] for i in keep], meta, _read_annotations(base, annotation_extension))


def _resampled(channel: np.ndarray, rate: float, fs: float, base: Path, rates: list[float]) -> np.ndarray:
    """One channel at ``fs``; refused when the two rates have no small whole-number ratio to resample by."""
    if rate == fs:
        return channel.astype(np.float32)
    from ecglab.signal.resample import resample

    ratio = Fraction(fs / rate).limit_denominator(1000)
    if abs(float(ratio) - fs / rate) > 1e-9 * fs / rate:
        raise RecordFormatError(f"{base}.hea: the voltage channels are sampled at {sorted(set(rates))} Hz, which "
                                "cannot be resampled to one rate exactly (expected rates in a ratio p/q with q ≤ 1000).")
    return resample(channel, rate, fs)


def read_wfdb_header(path: str | Path, limits: InputLimits | None = None) -> dict:
    """A WFDB header without its signal: ``fs``, ``n_samples``, ``leads`` (standard names) and the
    ``comments`` lines, where databases keep age, sex and diagnoses."""
    import wfdb

    base = record_base(path)
    _parse_header(_hea(base), resolve_limits(limits))  # before wfdb parses it: a hostile header costs nothing
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises bare ValueErrors and friends on malformed headers
        raise RecordFormatError(f"{base}.hea: not a readable WFDB header ({type(exc).__name__}: {exc}).") from None
    return {"fs": float(header.fs), "n_samples": int(header.sig_len or 0),
            "leads": [normalize_lead_name(name) for name in header.sig_name or []], "comments": list(header.comments or [])}


def _check_record(base: Path, limits: InputLimits) -> None:
    """Bound and check a record from its header text (and its segments' headers) before wfdb reads it."""
    path = _hea(base)
    if not path.is_file():
        raise RecordFormatError(f"{base}: no WFDB header {path.name} found.")
    header = _parse_header(path, limits)
    if isinstance(header, list):  # a multi-segment record: its segment names
        segments = [_parse_header(_hea(base.parent / name), limits, segment_of=path) for name in header]
        for name, segment in zip(header, segments):
            _check_files(base.parent / name, segment)
        n_sig = max([s.n_sig for s in segments] or [0])
        sig_len = sum(s.sig_len or 0 for s in segments)
        limits.check(n_sig, sig_len * max([s.max_spf for s in segments] or [1]), str(path))
        return
    limits.check(header.n_sig, (header.sig_len or 0) * header.max_spf, str(path))  # before looking at the files
    _check_files(base, header)
    limits.check(header.n_sig, (header.sig_len or 0) * header.max_spf, str(path))  # a length taken from the file size


def _parse_header(path: Path, limits: InputLimits, segment_of: Path | None = None) -> _Header | list[str]:
    """The header at ``path`` checked from its text; for a multi-segment header, its segment names."""
    where = f"{path}" + (f" (a segment of {segment_of})" if segment_of else "")
    if not path.is_file():
        raise RecordFormatError(f"{where}: the WFDB header is not there.")
    with open(path, "rb") as handle:
        text = handle.read(_HEADER_MAX_BYTES + 1).decode("ascii", errors="ignore")
    lines = (line.split() for line in io.StringIO(text) if line.strip() and not line.lstrip().startswith("#"))
    record = next(lines, [])
    if len(record) < 2:
        raise RecordFormatError(f"{where}: no record line (expected 'NAME N_SIGNALS [FS [N_SAMPLES]]').")
    n_sig = _whole(record[1], "number of signals", where)
    limits.check(n_sig, 0, where)  # first, from the record line alone: 100,000 declared signals cost nothing
    if len(text) > _HEADER_MAX_BYTES:
        raise RecordFormatError(f"{where}: the header is over {_HEADER_MAX_BYTES:,} bytes; expected a few kB.")
    lines = [record, *lines]
    if len(record) > 2 and not _FS_FIELD.match(record[2]):
        raise RecordFormatError(f"{where}: the sampling rate field {record[2]!r} is not a number "
                                "(expected e.g. '500' on the record line: NAME N_SIGNALS FS N_SAMPLES).")
    sig_len = _whole(record[3], "number of samples", where) if len(record) > 3 else None
    if "/" in record[0]:
        if segment_of:
            raise RecordFormatError(f"{where}: a multi-segment header inside a multi-segment record.")
        n_seg = _whole(record[0].split("/", 1)[1], "number of segments", where)
        if len(lines) - 1 != n_seg:
            raise RecordFormatError(f"{where}: the header declares {n_seg} segments but lists {len(lines) - 1}.")
        return [line[0] for line in lines[1:] if line[0] != "~"]
    if len(lines) - 1 != n_sig:
        raise RecordFormatError(f"{where}: the header declares {n_sig} signals but describes {len(lines) - 1} "
                                "(one line per signal is expected after the record line).")
    header = _Header(n_sig, sig_len)
    for number, line in enumerate(lines[1:], 1):
        _add_signal(header, line, f"{where}: signal {number}")
    return header


def _add_signal(header: _Header, line: list[str], where: str) -> None:
    """One signal line ('FILE FORMAT[xSPF][:SKEW][+OFFSET] [GAIN[(BASELINE)][/UNITS] ...]') into ``header``."""
    fmt_field = _FMT_FIELD.match(line[1]) if len(line) > 1 else None
    if fmt_field is None:
        raise RecordFormatError(f"{where}: the format field {line[1] if len(line) > 1 else ''!r} is not a WFDB "
                                "format (expected e.g. '212', '16x4' or '16+24').")
    if len(line) > 2 and not _GAIN_FIELD.match(line[2]):
        raise RecordFormatError(f"{where}: the gain field {line[2]!r} is not a number (expected e.g. '200', "
                                "'1000(0)/mV' or '200/uV': ADC units per physical unit).")
    fmt, spf = fmt_field.group(1), int(fmt_field.group(2) or 1)
    if spf < 1:
        raise RecordFormatError(f"{where}: {spf} samples per frame; expected at least 1.")
    header.max_spf = max(header.max_spf, spf)
    signal_file = header.files.setdefault(line[0], _SignalFile(line[0], fmt, 0, int(fmt_field.group(3) or 0)))
    signal_file.frame_samples += spf


def _whole(text: str, what: str, where: str) -> int:
    if not text.isdigit():
        raise RecordFormatError(f"{where}: the {what} field {text!r} is not a whole number.")
    return int(text)


def _check_files(base: Path, header: _Header) -> None:
    """Every signal file is there and holds the samples the header declares (FLAC files must declare them)."""
    for signal_file in header.files.values():
        path = base.parent / signal_file.name
        if signal_file.name == "~":
            continue
        if not path.is_file():
            raise RecordFormatError(f"{_hea(base)}: the header's signal file {signal_file.name} is not there "
                                    f"(expected it next to the header, in {base.parent}).")
        if signal_file.fmt in FLAC_FORMATS:
            if header.sig_len is None:
                raise RecordFormatError(f"{_hea(base)}: {signal_file.name} is FLAC-compressed (format "
                                        f"{signal_file.fmt}) but the header declares no number of samples; "
                                        "expected it on the record line.")
            continue
        per_sample = _BYTES_PER_SAMPLE.get(signal_file.fmt)
        if per_sample is None:
            continue  # wfdb names an unknown format
        size = path.stat().st_size
        if header.sig_len is None:  # wfdb takes the length from the first file's size: bound that length
            header.sig_len = int((size - signal_file.byte_offset) // (signal_file.frame_samples * per_sample))
            continue
        needed = signal_file.byte_offset + math.ceil(header.sig_len * signal_file.frame_samples * per_sample)
        if size < needed:
            raise RecordFormatError(f"{path}: the signal file is truncated: the header declares {header.sig_len:,} "
                                    f"samples × {signal_file.frame_samples} per frame in format {signal_file.fmt} "
                                    f"({needed:,} bytes), but the file holds {size:,} bytes.")


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
