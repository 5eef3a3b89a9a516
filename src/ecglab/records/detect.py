"""Which format a file is in, judged by its content (magic bytes, header text), then which reader reads it.

The extension is only a tie-breaker: a renamed EDF, a DICOM without ``.dcm`` or an aECG saved
as ``.txt`` are still recognised; a ``.csv`` that is really a ZIP is not mistaken for a table.
"""

from __future__ import annotations

from pathlib import Path

from ecglab.errors import RecordFormatError
from ecglab.records.formats import FORMATS, SNIFF_BYTES, WFDB_SUFFIXES, accepted_formats, is_text, looks_like_xml
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import Record

ACCEPTED_FORMATS = accepted_formats()


def detect_format(path: str | Path) -> str:
    """The name of the first format of :data:`~ecglab.records.formats.FORMATS` that recognises the
    file (``wfdb``, ``npy``, …); an error that says what the file looked like otherwise."""
    path = Path(path)
    head = None
    if path.is_file():
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    for fmt in FORMATS.values():
        if fmt.recognises(path, head):
            return fmt.name
    if path.is_dir():
        raise RecordFormatError(f"{path}: a directory, not a record file; pass the record's file (a WFDB record by "
                                f"its .hea). Accepted formats: {ACCEPTED_FORMATS}.")
    if head is None:
        raise RecordFormatError(f"{path}: no such file. Accepted formats: {ACCEPTED_FORMATS}.")
    if not head:
        raise RecordFormatError(f"{path}: the file is empty. Accepted formats: {ACCEPTED_FORMATS}.")
    if looks_like_xml(head):
        raise RecordFormatError(f"{path}: an XML file, but not an HL7 aECG (no <AnnotatedECG> root). "
                                f"Accepted formats: {ACCEPTED_FORMATS}.")
    found = "text" if is_text(head) else f"binary data starting with {head[:8]!r}"
    raise RecordFormatError(f"{path}: unrecognised content ({found}, extension '{path.suffix}'). "
                            f"Accepted formats: {ACCEPTED_FORMATS}.")


def read_detected(path: str | Path, fmt: str, fs: float | None = None, leads: list[str] | None = None,
                  limits: InputLimits | None = None):
    """Read ``path`` with the reader of ``fmt`` (from :func:`detect_format`); a reader's error says
    which format the content looked like. ``leads``, when given, name the file's leads in order
    (replacing stored names); ``meta["source"]`` is the path, for messages."""
    try:
        record = _format(fmt).read(Path(path), fs, leads, resolve_limits(limits))
        if leads is not None and len(leads) != len(record.leads):
            raise RecordFormatError(f"{path}: {len(leads)} lead names were given ({', '.join(leads)}) but the file "
                                    f"holds {len(record.leads)} leads ({', '.join(record.leads)}).")
    except RecordFormatError as exc:  # the same kind (InputTooLargeError stays one), the format added
        raise type(exc)(f"{exc} (The content looked like {FORMATS[fmt].title}; "
                                f"accepted formats: {ACCEPTED_FORMATS}.)") from None
    meta = dict(record.meta, source=str(path))
    return Record(record.signal, record.fs, list(leads or record.leads), meta, record.annotations)


def record_files(paths) -> list[Path]:
    """One path per record among ``paths``; a directory stands for the record files directly in it.
    In a directory, files of no accepted format (a README, a RECORDS list) are passed over, and a
    table counts only with a .csv or .tsv extension and when it looks like signals
    (:func:`~ecglab.records.table_reader.is_signal_table`; a labels.csv does not)."""
    found = []
    for path in map(Path, paths):
        if not path.is_dir():
            found.append(path)
            continue
        inside = [p for p in sorted(path.iterdir()) if p.is_file() and _accepted(p)]
        if not inside:
            raise RecordFormatError(f"{path}: a directory holding no ECG record file. Accepted formats: {ACCEPTED_FORMATS}.")
        found.extend(inside)
    return group_record_files(found)


def _accepted(path: Path) -> bool:
    try:
        fmt = detect_format(path)
    except RecordFormatError:
        return False
    if fmt != "csv":
        return True
    from ecglab.records.table_reader import is_signal_table

    return path.suffix.lower() in (".csv", ".tsv") and is_signal_table(path)


def group_record_files(paths) -> list[Path]:
    """One path per record: a WFDB record given as ``.hea`` and ``.dat`` (and ``.atr``) counts once."""
    seen, out = set(), []
    for path in map(Path, paths):
        if path.suffix.lower() in WFDB_SUFFIXES and path.with_suffix(".hea").is_file():
            path = path.with_suffix(".hea")
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _format(name: str):
    if name not in FORMATS:
        raise ValueError(f"no reader for format {name!r}; detect_format returns one of {sorted(FORMATS)}.")
    return FORMATS[name]
