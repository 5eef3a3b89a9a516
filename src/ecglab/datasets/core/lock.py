"""One preparation of an output folder at a time, across processes (two runs of one config started together)."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import warnings
from pathlib import Path

from filelock import FileLock, Timeout

from ecglab.errors import DatasetError, EcglabNote


@contextlib.contextmanager
def preparation_lock(out: Path):
    """Held while ``out`` is prepared: a second process preparing the same folder waits for the first, then
    finds its dataset, instead of both writing one partial folder."""
    lock = FileLock(_lock_path(out))
    try:
        lock.acquire(timeout=0)
    except Timeout:  # before OSError: filelock's Timeout is one
        warnings.warn(f"another process is preparing {out}; waiting for it to finish.", EcglabNote, stacklevel=3)
        lock.acquire()
    except OSError as exc:
        raise DatasetError(f"cannot take the lock {lock.lock_file} that guards preparing {out} ({exc.strerror}).") from None
    try:
        yield
    finally:
        lock.release()


def _lock_path(out: Path) -> Path:
    """A file in the temporary folder named after ``out``'s absolute path, not beside the user's data."""
    key = hashlib.sha1(str(Path(out).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"ecglab-prepare-{key}.lock"
