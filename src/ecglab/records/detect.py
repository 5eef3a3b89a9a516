"""Which format a file is in, judged by its content (magic bytes, header text), then which reader reads it.

The extension is only a tie-breaker: a renamed EDF, a DICOM without ``.dcm`` or an aECG saved
as ``.txt`` are still recognised; a ``.csv`` that is really a ZIP is not mistaken for a table.
"""

from __future__ import annotations

from pathlib import Path

from ecglab.errors import RecordFormatError
from ecglab.records.limits import InputLimits, resolve_limits
from ecglab.records.record import Record
from ecglab.records.wfdb_reader import WFDB_SUFFIXES

ACCEPTED_FORMATS = ("WFDB (.hea + .dat/.mat), EDF/EDF+/BDF, CSV/TSV with a header of lead names, NumPy .npy/.npz, "
                    "DICOM 12-lead waveform, HL7 aECG XML")

_SNIFF_BYTES = 4096


def detect_format(path: str | Path) -> str:
    """One of ``wfdb``, ``edf``, ``dicom``, ``aecg``, ``npy``, ``npz``, ``csv``; an error otherwise."""
    path = Path(path)
    if path.suffix.lower() in WFDB_SUFFIXES + ("",) and path.with_suffix(".hea").is_file():
        if _looks_like_wfdb_header(path.with_suffix(".hea")):
            return "wfdb"
        raise RecordFormatError(f"{path.with_suffix('.hea')}: not a WFDB header (expected a first line "
                                f"'<record name> <number of signals> [<fs> [<samples>]]'). Accepted formats: {ACCEPTED_FORMATS}.")
    if path.is_dir():
        raise RecordFormatError(f"{path}: a directory, not a record file; pass the record's file (a WFDB record by "
                                f"its .hea). Accepted formats: {ACCEPTED_FORMATS}.")
    if not path.is_file():
        raise RecordFormatError(f"{path}: no such file. Accepted formats: {ACCEPTED_FORMATS}.")
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head:
        raise RecordFormatError(f"{path}: the file is empty. Accepted formats: {ACCEPTED_FORMATS}.")
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".npz":
        return "npz"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:8] == b"0       " or head[:8] == b"\xffBIOSEMI":
        return "edf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        if b"AnnotatedECG" in head:
            return "aecg"
        raise RecordFormatError(f"{path}: an XML file, but not an HL7 aECG (no <AnnotatedECG> root). "
                                f"Accepted formats: {ACCEPTED_FORMATS}.")
    if _is_text(head) and path.suffix.lower() in (".csv", ".txt", ".tsv", ""):
        return "csv"
    found = "text" if _is_text(head) else f"binary data starting with {head[:8]!r}"
    raise RecordFormatError(f"{path}: unrecognised content ({found}, extension '{path.suffix}'). "
                            f"Accepted formats: {ACCEPTED_FORMATS}.")


FORMAT_NAMES = {"wfdb": "WFDB", "edf": "EDF", "dicom": "DICOM waveform", "aecg": "HL7 aECG XML",
                "npy": "NumPy .npy", "npz": "NumPy .npz", "csv": "CSV"}


def read_detected(path: str | Path, fmt: str, fs: float | None = None, leads: list[str] | None = None,
                  limits: InputLimits | None = None):
    """Read ``path`` with the reader of ``fmt`` (from :func:`detect_format`); a reader's error says
    which format the content looked like. ``leads``, when given, name the file's leads in order
    (replacing stored names); ``meta["source"]`` is the path, for messages."""
    try:
        record = _read(Path(path), fmt, fs, leads, resolve_limits(limits))
        if leads is not None and len(leads) != len(record.leads):
            raise RecordFormatError(f"{path}: {len(leads)} lead names were given ({', '.join(leads)}) but the file "
                                    f"holds {len(record.leads)} leads ({', '.join(record.leads)}).")
    except RecordFormatError as exc:  # the same kind (InputTooLargeError stays one), the format added
        raise type(exc)(f"{exc} (The content looked like {FORMAT_NAMES.get(fmt, fmt)}; "
                                f"accepted formats: {ACCEPTED_FORMATS}.)") from None
    meta = dict(record.meta, source=str(path))
    return Record(record.signal, record.fs, list(leads or record.leads), meta, record.annotations)


def _read(path: Path, fmt: str, fs: float | None, leads: list[str] | None, limits: InputLimits):
    if fmt == "wfdb":
        from ecglab.records.wfdb_reader import read_wfdb

        return read_wfdb(path, limits=limits)
    if fmt in ("npy", "npz"):
        from ecglab.records.table_reader import read_numpy

        return read_numpy(path, fs=fs, leads=leads, limits=limits)
    if fmt == "csv":
        from ecglab.records.table_reader import read_csv

        return read_csv(path, fs=fs, limits=limits)
    if fmt == "edf":
        from ecglab.records.edf_reader import read_edf

        return read_edf(path, limits=limits)
    if fmt == "dicom":
        from ecglab.records.dicom_reader import read_dicom

        return read_dicom(path, limits=limits)
    if fmt == "aecg":
        from ecglab.records.aecg_reader import read_aecg

        return read_aecg(path, limits=limits)
    raise ValueError(f"no reader for format {fmt!r}; detect_format returns one of {sorted(FORMAT_NAMES)}.")


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


def _looks_like_wfdb_header(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not _is_text(head):
        return False
    for line in head.decode("latin-1").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            fields = line.split()
            return len(fields) >= 2 and fields[1].isdigit()
    return False


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head and sum(32 <= b < 127 or b in b"\r\n\t" for b in head) >= 0.95 * len(head)
