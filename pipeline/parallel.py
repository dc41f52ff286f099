"""Reading workbooks in worker processes that a hostile file cannot take the caller down with.

Spreadsheet readers are native code: a file can make one abort the process, allocate without
bound or run for minutes. So every read runs in a worker process with a memory limit
(``RLIMIT_AS``) and a time limit per item; a worker that dies or overruns is replaced and
only its own item fails (``failed(item, cause)`` says what stands in for its result), while
the other items of the batch are still read.

The workers are kept for the life of the process: starting one costs about as much as
reading a province's files, and a national run reads 63 batches. They start from a fork
server (never a fork of a process that may hold threads), receive the shared object (the
catalogue) once, when they start; ``context()`` gives it to the work they run.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TypeVar

T, R = TypeVar("T"), TypeVar("R")
MEMORY_LIMIT_BYTES = 2 * 1024**3  # the address space of one worker: far above a report, far below the machine
TIME_LIMIT_SECONDS = 30.0  # per item
# Imported once by the fork server, not by every worker (the reader imports babel only where
# a number was typed as text, so that the caller of a check need not).
PRELOAD = ["pipeline.workbook.reader", "babel.numbers"]

CRASHED, OUT_OF_MEMORY, TIMED_OUT = "crashed", "out_of_memory", "timed_out"

_context: object = None


def context() -> object:
    """What the workers were started with (in a worker), or what the caller passed (in process)."""
    return _context


def _set_context(value: object) -> None:
    global _context
    _context = value


def _serve(connection: Connection, shared: object, memory: int) -> None:
    """A worker: run each (function, item) received and send back (True, result) or (False, exception).
    Its standard error goes nowhere: a native reader's dying words are not for the user (the
    caller turns its death into a finding)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, resource.getrlimit(resource.RLIMIT_AS)[1]))
    nowhere = os.open(os.devnull, os.O_WRONLY)
    os.dup2(nowhere, 2)
    os.close(nowhere)
    _set_context(shared)
    while True:
        try:
            function, item = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer = (True, function(item))
        except MemoryError:
            answer = (False, MemoryError())
        except Exception as e:  # a bug in the work, not in the file: re-raised in the caller
            answer = (False, e)
        connection.send(answer)


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.Process
    connection: Connection


class _Workers:
    """A set of worker processes for one shared object; dead ones are replaced."""

    def __init__(self, count: int, shared: object, memory: int) -> None:
        self.shared, self.memory = shared, memory
        self.idle = [self.start() for _ in range(count)]
        self.count = count

    def start(self) -> _Worker:
        ours, theirs = multiprocessing.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(theirs, self.shared, self.memory), daemon=True)
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def stop(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.connection.close()

    def close(self) -> None:
        for worker in self.idle:
            self.stop(worker)
        self.idle = []


_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)
_pool: _Workers | None = None
_pool_key: tuple = ()


_starting: threading.Thread | None = None


def start_early(shared: object, count: int = 1, memory: int = MEMORY_LIMIT_BYTES) -> None:
    """Start the workers in the background now (while the caller imports what it needs next):
    the next ``parallel_map`` with the same ``shared`` finds them ready."""
    global _starting
    _starting = threading.Thread(target=_workers, args=(count, shared, memory), daemon=True)
    _starting.start()


def _workers(count: int, shared: object, memory: int) -> _Workers:
    global _pool, _pool_key, _starting
    if _starting is not None and _starting is not threading.current_thread():
        _starting.join()
        _starting = None
    key = (id(shared), memory)
    if _pool is None or _pool_key != key:
        if _pool is not None:
            _pool.close()
        _pool, _pool_key = _Workers(count, shared, memory), key
    while _pool.count < count:
        _pool.idle.append(_pool.start())
        _pool.count += 1
    return _pool


def _cause(worker: _Worker) -> str:
    """Why a worker ended: killed (the system's memory killer) or crashed (a native abort)."""
    worker.process.join(5)
    return OUT_OF_MEMORY if worker.process.exitcode == -9 else CRASHED


def parallel_map(function: Callable[[T], R], items: list[T], workers: int, shared: object = None,
                 failed: Callable[[T, str], R] | None = None, time_limit: float = TIME_LIMIT_SECONDS,
                 memory_limit: int = MEMORY_LIMIT_BYTES) -> list[R]:
    """``[function(x) for x in items]`` on up to ``workers`` worker processes, in order.
    ``function`` must be a module-level function; ``shared`` (the catalogue) reaches it through
    ``context()``. An item whose worker dies (a native abort, memory past ``memory_limit``) or
    runs past ``time_limit`` seconds gets ``failed(item, cause)`` (cause: CRASHED,
    OUT_OF_MEMORY or TIMED_OUT) instead; without ``failed`` it raises RuntimeError."""
    if not items:
        return []
    pool = _workers(max(1, min(workers, len(items))), shared, memory_limit)
    results: list = [None] * len(items)
    todo = deque(range(len(items)))
    busy: dict[_Worker, tuple[int, float]] = {}

    def fail(index: int, cause: str) -> None:
        if failed is None:
            raise RuntimeError(f"worker {cause} on item {index}")
        results[index] = failed(items[index], cause)

    try:
        _run(pool, function, items, todo, busy, results, fail, time_limit)
    finally:
        for worker in busy:  # an error raised midway: their answers must not reach the next call
            pool.stop(worker)
            pool.idle.append(pool.start())
    return results


def _run(pool: _Workers, function: Callable, items: list, todo: deque, busy: dict, results: list,
         fail: Callable[[int, str], None], time_limit: float) -> None:
    while todo or busy:
        while todo and pool.idle:
            worker, index = pool.idle.pop(), todo.popleft()
            try:
                worker.connection.send((function, items[index]))
            except (OSError, ValueError):  # died while idle: replace it, the item waits for the next
                pool.stop(worker)
                pool.idle.append(pool.start())
                todo.appendleft(index)
                continue
            busy[worker] = (index, time.monotonic())
        now = time.monotonic()
        wait_for = max(0.0, min(started + time_limit for _, started in busy.values()) - now)
        ready = set(wait([w.connection for w in busy], wait_for))
        for worker, (index, started) in list(busy.items()):
            if worker.connection in ready:
                try:
                    ok, value = worker.connection.recv()
                except (EOFError, OSError):
                    del busy[worker]
                    cause = _cause(worker)
                    pool.stop(worker)
                    pool.idle.append(pool.start())
                    fail(index, cause)
                    continue
                del busy[worker]
                pool.idle.append(worker)
                if ok:
                    results[index] = value
                elif isinstance(value, MemoryError):
                    fail(index, OUT_OF_MEMORY)
                else:
                    raise value
            elif time.monotonic() - started > time_limit:
                del busy[worker]
                pool.stop(worker)
                pool.idle.append(pool.start())
                fail(index, TIMED_OUT)
