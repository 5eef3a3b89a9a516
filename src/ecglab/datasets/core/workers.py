"""The reading processes behind ``PrepareContext.imap``: batches in, outcomes out, in order.

Workers are started by a ``forkserver`` that has imported numpy, pandas, scipy and wfdb once,
not forked from the caller: forking a process that holds threads (torch's OpenMP pool, Arrow's
allocator thread, a progress bar's refresh thread) copies their locks and thread objects half-made
into each worker, the likely cause of rare aborts at exit ("terminate called without an active
exception").

Each worker has a pipe of its own: batch ``k`` goes to worker ``k mod n``, so results come back in
order without a shared queue; a thread sends while the caller receives, so large batches and large
results never wait on each other. That is what makes an interruption safe. With ``concurrent.futures``
on a forkserver, Ctrl-C hung about one run in ten: a worker caught while writing to the shared
result queue, or while starting, left the pool waiting for it forever. Here workers ignore
Ctrl-C, and a caller that is interrupted (or stops early) kills them: nothing is shared that a
killed worker could leave half-written, and the processes are daemons, which never hold up exit.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from typing import Callable, Iterable, Iterator, Sequence

from ecglab.errors import DatasetError, EcglabError

# imported once by the forkserver (about a second per worker otherwise)
PRELOAD = ("ecglab.datasets.core.options", "wfdb")
BATCHES_IN_FLIGHT = 2  # per worker: enough to keep it busy, few enough that results never pile up


def read_batches(fn: Callable, batches: Iterable[tuple[int, Sequence]], workers: int) -> Iterator[tuple[int, list]]:
    """``(first, outcomes)`` for each ``(first, items)`` batch, in order; ``outcomes[i]`` is
    :func:`call` of ``fn`` on ``items[i]``. With ``workers`` > 1 they run in reading processes.

    Batches are sent from a thread of their own while this one receives: a worker blocked sending a
    large result must never wait on a caller blocked sending it the next large batch."""
    if workers <= 1:
        for first, items in batches:
            yield first, call_batch(fn, items)
        return
    processes, connections = _start(workers)
    feeder = _Feeder(fn, batches, connections, BATCHES_IN_FLIGHT * workers)
    try:
        while (sent := feeder.next_sent()) is not None:
            result = _receive(*sent)
            feeder.slots.release()
            yield result
    except BaseException:  # interrupted, failed or closed early: the batches in hand are not wanted
        for process in processes:
            process.kill()
        raise
    else:
        for connection in connections:
            connection.send(None)
    finally:
        feeder.stop()
        for process in processes:
            process.join()
        for connection in connections:
            connection.close()


class _Feeder:
    """Sends batch ``k`` to worker ``k mod n`` with at most ``in_flight`` batches unanswered, and
    queues ``(first, connection)`` in sending order for the receiver."""

    def __init__(self, fn: Callable, batches: Iterable, connections: list, in_flight: int):
        self.slots, self.sent, self._stopped = threading.Semaphore(in_flight), queue.Queue(), threading.Event()
        self._thread = threading.Thread(target=self._feed, args=(fn, batches, connections), daemon=True,
                                        name="ecglab-feeder")
        self._thread.start()

    def _feed(self, fn, batches, connections) -> None:
        try:
            for k, (first, items) in enumerate(batches):
                self.slots.acquire()
                if self._stopped.is_set():
                    return
                connection = connections[k % len(connections)]
                try:
                    connection.send((fn, items))
                except OSError:  # the worker is gone
                    raise _stopped_abruptly() from None
                self.sent.put((first, connection))
        except BaseException as exc:  # a failing batch source, or a worker gone while sending
            if not self._stopped.is_set():
                self.sent.put(exc)
        finally:
            self.sent.put(None)

    def next_sent(self) -> tuple | None:
        """The next batch sent (None when all are); re-raises what stopped the sending."""
        sent = self.sent.get()
        if isinstance(sent, BaseException):
            raise sent
        return sent

    def stop(self) -> None:
        self._stopped.set()
        self.slots.release()  # wake a feeder waiting for a slot, so that it sees the stop
        self._thread.join()


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


def _stopped_abruptly() -> DatasetError:
    return DatasetError(
        "a reading process stopped abruptly. Reading processes start fresh and import the main script: a script "
        "that calls prepare() (or train() with measured meta features) must do so under `if __name__ == "
        "\"__main__\":`. Otherwise a process may have run out of memory: try fewer --workers.")


def _receive(first: int, connection) -> tuple[int, list]:
    try:
        ok, value = connection.recv()
    except (EOFError, OSError):
        raise _stopped_abruptly() from None
    if not ok:
        raise value
    return first, value
