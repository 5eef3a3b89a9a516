"""The file formats ecglab reads: one table that detection, reading, the command line's help, the
REST API's description, the web page and the folder dataset all read.

Adding a format is a reader module (``records/<name>_reader.py``, returning a :class:`Record`) and
one entry here. The entries are in the order their content tests run: the first that recognises a
file names its format. A content test sees the path and the file's first bytes (``None`` when the
path is not a file, e.g. a WFDB record named without its suffix); readers are imported only when a
file of theirs is read, so this table costs nothing to import.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ecglab.errors import RecordFormatError

SNIFF_BYTES = 4096
WFDB_SUFFIXES = (".hea", ".dat", ".mat", ".atr", ".xyz")


@dataclass(frozen=True)
class FileFormat:
    name: str  # what :func:`~ecglab.records.detect.detect_format` returns
    title: str  # what messages call it
    description: str  # what help texts list
    extensions: tuple[str, ...]  # the first names a record (a WFDB record by its .hea)
    recognises: Callable[[Path, bytes | None], bool]
    reader: str  # "module:function", called as function(path, limits=…, **the options below)
    reader_options: tuple[str, ...] = ()  # of "fs", "leads": for files that store no rate / no lead names

    def read(self, path: Path, fs: float | None, leads: list[str] | None, limits):
        module, _, function = self.reader.partition(":")
        given = {"fs": fs, "leads": leads}
        options = {key: given[key] for key in self.reader_options}
        return getattr(importlib.import_module(module), function)(path, limits=limits, **options)


def is_text(head: bytes) -> bool:
    return b"\x00" not in head and sum(32 <= b < 127 or b in b"\r\n\t" for b in head) >= 0.95 * len(head)


def _looks_like_wfdb_header(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not is_text(head):
        return False
    for line in head.decode("latin-1").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            fields = line.split()
            return len(fields) >= 2 and fields[1].isdigit()
    return False


def _wfdb(path: Path, head: bytes | None) -> bool:
    """A header beside the file (or the record named without suffix); a .hea that is no WFDB header is an error."""
    header = path.with_suffix(".hea")
    if path.suffix.lower() not in WFDB_SUFFIXES + ("",) or not header.is_file():
        return False
    if _looks_like_wfdb_header(header):
        return True
    raise RecordFormatError(f"{header}: not a WFDB header (expected a first line "
                            f"'<record name> <number of signals> [<fs> [<samples>]]'). Accepted formats: {accepted_formats()}.")


def looks_like_xml(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


FORMATS: dict[str, FileFormat] = {f.name: f for f in (
    FileFormat("wfdb", "WFDB", "WFDB (.hea + .dat/.mat)", (".hea", ".dat", ".mat"), _wfdb,
               "ecglab.records.wfdb_reader:read_wfdb"),
    FileFormat("npy", "NumPy .npy", "NumPy .npy", (".npy",),
               lambda path, head: bool(head) and head.startswith(b"\x93NUMPY"),
               "ecglab.records.table_reader:read_numpy", ("fs", "leads")),
    FileFormat("npz", "NumPy .npz", "NumPy .npz", (".npz",),
               lambda path, head: bool(head) and head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".npz",
               "ecglab.records.table_reader:read_numpy", ("fs", "leads")),
    FileFormat("dicom", "DICOM waveform", "DICOM 12-lead waveform", (".dcm",),
               lambda path, head: bool(head) and len(head) >= 132 and head[128:132] == b"DICM",
               "ecglab.records.dicom_reader:read_dicom"),
    FileFormat("edf", "EDF", "EDF/EDF+/BDF", (".edf", ".bdf"),
               lambda path, head: bool(head) and head[:8] in (b"0       ", b"\xffBIOSEMI"),
               "ecglab.records.edf_reader:read_edf"),
    FileFormat("aecg", "HL7 aECG XML", "HL7 aECG XML", (".xml",),
               lambda path, head: bool(head) and looks_like_xml(head) and b"AnnotatedECG" in head,
               "ecglab.records.aecg_reader:read_aecg"),
    FileFormat("csv", "CSV", "CSV/TSV with a header of lead names", (".csv", ".tsv", ".txt"),
               lambda path, head: bool(head) and not looks_like_xml(head) and is_text(head)
               and path.suffix.lower() in (".csv", ".tsv", ".txt", ""),
               "ecglab.records.table_reader:read_csv", ("fs",)),
)}


def accepted_formats() -> str:
    """The formats as one phrase, for messages and help texts."""
    return ", ".join(f.description for f in FORMATS.values())


def extensions(formats=None) -> tuple[str, ...]:
    """The extensions of ``formats`` (default: all), in the table's order."""
    return tuple(ext for f in (formats or FORMATS.values()) for ext in f.extensions)
