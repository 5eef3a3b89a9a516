"""What arrives over HTTP becomes a Record: uploaded files, JSON signals, and the limits on both.

Uploaded files are written to a temporary directory of their own request, read, and the
directory is removed whatever happens. Nothing is unpickled: NumPy files load with
``allow_pickle=False`` and everything else is parsed by the format readers, under the server's
:class:`~ecglab.records.limits.InputLimits`. Messages name a file as the client called it, never
by its temporary path.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import from_json

from ecglab.errors import InputTooLargeError, RecordFormatError
from ecglab.records import InputLimits, Record, read_record
from ecglab.records.detect import group_record_files

log = logging.getLogger(__name__)

MAX_FILES = 8
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 100
MAX_EXTENSION = 16  # with MAX_STEM, far below the 255 bytes a file name may take on any file system
FS_RANGE = (25.0, 20000.0)
# A signal request nests three levels ({"signal": [[...]]}); a few more leave room for extra fields,
# while a body of 100,000 '[' is refused before a parser recurses into it.
MAX_JSON_DEPTH = 8
MAX_JSON_STRINGS = 1000
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))


class SignalFields(BaseModel):
    """A JSON signal request's fields other than the samples."""

    fs: float = Field(..., ge=FS_RANGE[0], le=FS_RANGE[1], description="sampling rate in Hz")
    leads: list[str] = Field(..., min_length=1, description="lead names, one per row, e.g. I, II, V1")
    meta: dict[str, float | str | None] = Field(default_factory=dict, description="age, sex, ... for models that use them")
    record_id: str = Field("signal", max_length=100)


class SignalRequest(SignalFields):
    """A record sent as JSON: ``signal`` (n_leads, n_samples) in mV, its rate and lead names."""

    signal: list[list[float]] = Field(..., description="one row of voltages (mV) per lead", min_length=1)


def record_from_json(body: bytes, limits: InputLimits) -> Record:
    """The record of a JSON signal request. Its nesting and number of values are checked on the raw
    bytes first, and the samples go to NumPy without a per-value validator, so neither a deep nor a
    large body costs more than a list of numbers."""
    check_json_shape(body, limits)
    try:
        data = from_json(body, allow_inf_nan=True)
    except ValueError as exc:
        raise RecordFormatError(f"the JSON body is not a valid signal request: {exc}.") from None
    if not isinstance(data, dict):
        raise RecordFormatError(f"the JSON body is not a valid signal request: expected an object with signal, fs "
                                f"and leads, found {type(data).__name__}.")
    signal = _signal_array(data.pop("signal", None), limits)
    try:
        fields = SignalFields.model_validate(data)
    except ValidationError as exc:
        raise RecordFormatError(f"the JSON body is not a valid signal request: {_first_errors(exc)}") from None
    meta = dict(fields.meta, record_id=fields.record_id)
    return Record(signal, fields.fs, fields.leads, meta)


def check_json_shape(body: bytes, limits: InputLimits) -> None:
    """Refuse a JSON body nested deeper than MAX_JSON_DEPTH, holding more than MAX_JSON_STRINGS strings
    or more numbers than ``limits`` allow, from its bytes alone (strings counted and blanked, then
    brackets and commas counted)."""
    strings = (body.count(b'"') - body.count(b'\\"')) // 2  # unescaped quotes, counted at C speed
    if strings > MAX_JSON_STRINGS:
        raise RecordFormatError(f"the JSON body holds {strings:,} strings; a signal request holds at most "
                                f"{MAX_JSON_STRINGS:,} (keys, lead names, metadata), and its signal only numbers.")
    skeleton = _JSON_STRING.sub(b'""', body)
    steps = np.frombuffer(skeleton.translate(None, _NOT_A_BRACKET), np.uint8)
    depth = int(np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1)).max(initial=0))
    if depth > MAX_JSON_DEPTH:
        raise RecordFormatError(f"the JSON body nests {depth:,} levels deep; a signal request needs 3 "
                                f"({{\"signal\": [[...], ...]}}), at most {MAX_JSON_DEPTH} are read.")
    values = skeleton.count(b",") + 1
    if values > limits.max_values:
        raise InputTooLargeError(f"the JSON body holds about {values:,} values; at most {limits.max_values:,} "
                                 "are read per request (server option --max-values).")


def _signal_array(rows, limits: InputLimits) -> np.ndarray:
    if not isinstance(rows, list) or not rows or not all(isinstance(row, list) for row in rows):
        raise RecordFormatError("the JSON body is not a valid signal request: 'signal' must be a list of rows, one "
                                f"list of voltages (mV) per lead; found {type(rows).__name__ if rows is not None else 'none'}.")
    lengths = {len(row) for row in rows}
    if len(lengths) != 1:
        raise RecordFormatError(f"every lead must hold the same number of samples; found lengths {sorted(lengths)[:10]}.")
    limits.check(len(rows), lengths.pop(), "the JSON signal")
    kinds = {type(v) for row in rows for v in row}
    if not kinds <= {int, float}:
        found = sorted(k.__name__ if k is not type(None) else "null" for k in kinds - {int, float})
        raise RecordFormatError(f"the JSON signal must hold numbers (mV); found {', '.join(found)}.")
    try:
        signal = np.asarray(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float64, e.g. 1 followed by 400 digits
        raise RecordFormatError("the JSON signal holds a number too large for a voltage.") from None
    with np.errstate(over="ignore"):
        return signal.astype(np.float32)


def _first_errors(exc: ValidationError, n: int = 3) -> str:
    errors = exc.errors(include_url=False, include_input=False)[:n]
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors) + "."


def form_fields(fs, leads, limits: InputLimits) -> tuple[float | None, list[str] | None]:
    """The multipart fields ``fs`` (a number in FS_RANGE) and ``leads`` (comma-separated names)."""
    rate = None
    if isinstance(fs, str) and fs.strip():
        try:
            rate = float(fs)
        except ValueError:
            rate = math.nan
        if not FS_RANGE[0] <= rate <= FS_RANGE[1]:
            raise RecordFormatError(f"fs must be a number (Hz) from {FS_RANGE[0]:g} to {FS_RANGE[1]:g}, found {fs[:40]!r}.")
    names = [x.strip() for x in leads.split(",") if x.strip()] if isinstance(leads, str) else []
    if len(names) > limits.max_leads:
        raise InputTooLargeError(f"the leads field names {len(names):,} leads; at most {limits.max_leads} are read.")
    return rate, names or None


def record_from_files(files: list[tuple[str, object]], fs: float | None = None, leads: list[str] | None = None,
                      limits: InputLimits | None = None) -> Record:
    """Write the uploaded ``(filename, content)`` pairs (content: bytes or a binary file) to a private
    temporary directory and read the one record they make up (e.g. a .hea with its .dat)."""
    if not files:
        raise RecordFormatError("no file uploaded; send the record's files in the multipart field 'files'.")
    if len(files) > MAX_FILES:
        raise RecordFormatError(f"at most {MAX_FILES} files per request (one record), found {len(files)}.")
    originals = {}
    for name, _ in files:
        safe = safe_file_name(name)
        if safe in originals:
            raise RecordFormatError(f"the uploaded files {originals[safe]!r} and {name!r} have the same name once made "
                                    f"safe ({safe!r}); rename one of them.")
        originals[safe] = name
    with tempfile.TemporaryDirectory(prefix="ecglab-upload-") as folder:
        paths = [_write(Path(folder) / safe, content) for safe, (_, content) in zip(originals, files)]
        records = group_record_files(paths)
        if len(records) != 1:
            raise RecordFormatError(f"the upload holds {len(records)} records ({[originals[p.name] for p in records]}); "
                                    "send the files of exactly one record (a WFDB record's .hea and .dat together).")
        record = _read_upload(records[0], fs, leads, limits, originals)
    record.meta["source"] = originals[records[0].name]
    return record


def _write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with path.open("wb") as out:
            shutil.copyfileobj(content, out)
    return path


def _read_upload(path: Path, fs, leads, limits, originals: dict[str, str]) -> Record:
    """read_record, with every failure a RecordFormatError that names the files as uploaded: a client's
    bytes that upset a reader in an unforeseen way are still the client's error, not the server's."""
    def client_words(text: str) -> str:
        for folder in {str(path.parent), str(path.parent.resolve())}:
            for safe, original in originals.items():
                text = text.replace(f"{folder}/{safe}", original)
            text = text.replace(folder + "/", "").replace(folder, "<upload>")
        return text

    try:
        return read_record(path, fs=fs, leads=leads, limits=limits)
    except RecordFormatError as exc:
        raise type(exc)(client_words(str(exc))) from None
    except MemoryError:
        raise InputTooLargeError(f"{originals[path.name]}: decoding it needs more memory than the server has.") from None
    except Exception as exc:  # noqa: BLE001 - logged with its traceback for the server's operator
        log.warning("unexpected error reading upload %r", originals[path.name], exc_info=True)
        raise RecordFormatError(f"{originals[path.name]}: could not be read as an ECG "
                                f"({type(exc).__name__}: {client_words(str(exc))[:300]}).") from None


def safe_file_name(name: str | None) -> str:
    """An uploaded file's name as written to disk: characters other than letters, digits, '.', '_'
    and '-' become '_' ('Patient 12 (copy).edf' -> 'Patient_12_copy.edf'). The stem and the extension
    are made safe separately, so a WFDB record's .hea and .dat keep matching stems. A name holding a
    path ('../x', 'a/b', 'C:\\x') is refused, not cleaned, since a client that sends one is not a browser."""
    name = name or ""
    if not name or any(c in name for c in "/\\\x00") or name.strip(".") == "":
        raise RecordFormatError(f"unacceptable file name {name!r}: expected a file name without a path "
                                "(no '/', '\\' or '..').")
    stem, _, extension = name.rpartition(".")
    if not stem.strip("."):  # no extension ('ecg'), or only a leading dot ('.ecg')
        stem, extension = name, ""
    stem = _UNSAFE_CHARACTERS.sub("_", stem).strip("._-")[:MAX_STEM] or "upload"
    extension = _UNSAFE_CHARACTERS.sub("", extension)[:MAX_EXTENSION]
    return f"{stem}.{extension}" if extension else stem


def display_payload(record: Record, seconds: float = 10.0, max_fs: float = 500.0) -> dict:
    """The first ``seconds`` of every lead for drawing, at most ``max_fs`` Hz, in mV."""
    from ecglab.signal.resample import resample

    signal = record.signal[:, : int(round(seconds * record.fs))]
    fs = record.fs
    if fs > max_fs:
        signal, fs = resample(signal, fs, max_fs), max_fs
    signal = np.nan_to_num(signal, nan=0.0, posinf=0.0, neginf=0.0)
    return {"fs": fs, "leads": list(record.leads), "duration_s": record.duration, "start_s": 0.0,
            "signal": np.round(signal, 4).tolist()}
