"""What arrives over HTTP becomes a Record: size limits, uploaded files, JSON signals.

Uploaded files are written to a temporary directory of their own request, read, and the
directory is removed whatever happens. Nothing is unpickled: NumPy files load with
``allow_pickle=False`` and everything else is parsed by the format readers.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from ecglab.errors import RecordFormatError
from ecglab.records import Record, read_record
from ecglab.records.detect import group_record_files

MAX_FILES = 8
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 100


class SignalRequest(BaseModel):
    """A record sent as JSON: ``signal`` (n_leads, n_samples) in mV, its rate and lead names."""

    signal: list[list[float]] = Field(..., description="one row of voltages (mV) per lead", min_length=1)
    fs: float = Field(..., ge=25, le=20000, description="sampling rate in Hz")
    leads: list[str] = Field(..., min_length=1, description="lead names, one per row, e.g. I, II, V1")
    meta: dict[str, float | str | None] = Field(default_factory=dict, description="age, sex, ... for models that use them")
    record_id: str = Field("signal", max_length=100)


def record_from_json(body: bytes) -> Record:
    try:
        request = SignalRequest.model_validate(json.loads(body))
    except ValueError as exc:  # invalid JSON and pydantic's ValidationError alike
        raise RecordFormatError(f"the JSON body is not a valid signal request: {exc}") from None
    lengths = {len(row) for row in request.signal}
    if len(lengths) != 1:
        raise RecordFormatError(f"every lead must hold the same number of samples; found lengths {sorted(lengths)}.")
    signal = np.asarray(request.signal, dtype=np.float64)
    with np.errstate(over="ignore"):
        signal = signal.astype(np.float32)
    meta = dict(request.meta, record_id=request.record_id)
    return Record(signal, request.fs, request.leads, meta)


def record_from_files(files: list[tuple[str, bytes]], fs: float | None = None, leads: list[str] | None = None) -> Record:
    """Write the uploaded ``(filename, content)`` pairs to a private temporary directory and read the
    one record they make up (e.g. a .hea with its .dat)."""
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
        paths = []
        for safe, (_, content) in zip(originals, files):
            path = Path(folder) / safe
            path.write_bytes(content)
            paths.append(path)
        records = group_record_files(paths)
        if len(records) != 1:
            raise RecordFormatError(f"the upload holds {len(records)} records ({[originals[p.name] for p in records]}); "
                                    "send the files of exactly one record (a WFDB record's .hea and .dat together).")
        try:
            record = read_record(records[0], fs=fs, leads=leads)
        except RecordFormatError as exc:  # name the uploaded file, not the server's temporary folder
            raise RecordFormatError(str(exc).replace(folder + "/", "")) from None
    record.meta["source"] = originals[records[0].name]
    return record


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
    extension = _UNSAFE_CHARACTERS.sub("", extension)
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


class BodyLimit:
    """ASGI middleware: a request body larger than ``max_bytes`` gets 413 before the app sees it.

    The body is read here (counting, so a missing or lying Content-Length does not help) and
    replayed to the app.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._too_large(send)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, send):
        detail = json.dumps({"detail": f"the upload is larger than the limit of {self.max_bytes / 1e6:g} MB "
                                       "(server option --max-upload-mb)."}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(detail)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": detail})
