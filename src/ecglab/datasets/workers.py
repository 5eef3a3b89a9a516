"""The reading processes behind ``PrepareContext.imap``: batches in, outcomes out, in order.

Workers are started by a ``forkserver`` that has imported numpy, pandas, scipy and wfdb once,
not forked from the caller: forking a process that holds threads (torch's OpenMP pool, Arrow's
allocator thread, a progress bar's refresh thread) copies their locks and thread objects half-made
into each worker, the likely cause of rare aborts at exit ("terminate called without an active
exception").

Each worker has a pipe of its own: batch ``k`` goes to worker ``k mod n``, so results come back in
order without a shared queue. That is what makes an interruption safe. With ``concurrent.futures``
on a forkserver, Ctrl-C hung about one run in ten: a worker caught while writing to the shared
result queue, or while starting, left the pool waiting for it forever. Here workers ignore
Ctrl-C, and a caller that is interrupted (or stops early) kills them: nothing is shared that a
killed worker could leave half-written, and the processes are daemons, which never hold up exit.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from typing import Callable, Iterable, Iterator, Sequence

from ecglab.errors import DatasetError, EcglabError

# imported once by the forkserver (about a second per worker otherwise)
PRELOAD = ("ecglab.datasets.options", "wfdb")
BATCHES_IN_FLIGHT = 2  # per worker: enough to keep it busy, few enough that results never pile up


def read_batches(fn: Callable, batches: Iterable[tuple[int, Sequence]], workers: int) -> Iterator[tuple[int, list]]:
    """``(first, outcomes)`` for each ``(first, items)`` batch, in order; ``outcomes[i]`` is
    :func:`call` of ``fn`` on ``items[i]``. With ``workers`` > 1 they run in reading processes."""
    if workers <= 1:
        for first, items in batches:
            yield first, call_batch(fn, items)
        return
    processes, connections = _start(workers)
    try:
        pending: deque = deque()
        for k, (first, items) in enumerate(batches):
            connection = connections[k % workers]
            connection.send((fn, items))
            pending.append((first, connection))
            if len(pending) >= BATCHES_IN_FLIGHT * workers:
                yield _receive(*pending.popleft())
        while pending:
            yield _receive(*pending.popleft())
    except BaseException:  # interrupted, failed or closed early: the batches in hand are not wanted
        for process in processes:
            process.kill()
        raise
    else:
        for connection in connections:
            connection.send(None)
    finally:
        for process in processes:
            process.join()
        for connection in connections:
            connection.close()


def call_batch(fn: Callable, items: Sequence) -> list:
    return [call(fn, item) for item in items]


def call(fn: Callable, item):
    """``(True, fn(item))``, or ``(False, reason)`` when the item cannot be read (a user's file, not a bug)."""
    try:
        return True, fn(item)
    except EcglabError as exc:
        return False, str(exc)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _start(workers: int):
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    processes, connections = [], []
    try:
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs,), daemon=True, name="ecglab-reader")
            process.start()
            theirs.close()
            processes.append(process)
            connections.append(ours)
    except BaseException:
        for process in processes:
            process.kill()
            process.join()
        raise
    return processes, connections


def _serve(connection) -> None:
    """A worker: read batches until told to stop; Ctrl-C is the caller's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (task := connection.recv()) is not None:
        fn, items = task
        try:
            connection.send((True, call_batch(fn, items)))
        except Exception as exc:  # a bug, not an unreadable record: the caller re-raises it
            connection.send((False, exc))


def _receive(first: int, connection) -> tuple[int, list]:
    try:
        ok, value = connection.recv()
    except (EOFError, OSError):
        raise DatasetError(
            "a reading process stopped abruptly. Reading processes start fresh and import the main script: a "
            "script that calls prepare() must do so under `if __name__ == \"__main__\":`. Otherwise a process may "
            "have run out of memory: try fewer --workers.") from None
    if not ok:
        raise value
    return first, value
