"""Reading many workbooks on every core.

A pool of worker processes is kept for the life of the process: starting one costs about
as much as reading a province's files, and a national run reads 63 batches. Workers start
from a fork server (never a fork of a process that may hold threads) and receive the
catalogue once, when the pool starts; ``context()`` gives it to the work they run.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T, R = TypeVar("T"), TypeVar("R")
MIN_ITEMS_PER_WORKER = 16  # below this, sending the work costs more than it saves

_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)  # (workers, id of the context)
_context: object = None


def context() -> object:
    """What the pool was started with (in a worker), or what the caller passed (in process)."""
    return _context


def _set_context(value: object) -> None:
    global _context
    _context = value


def parallel_map(function: Callable[[T], R], items: list[T], workers: int, shared: object = None) -> list[R]:
    """``[function(x) for x in items]`` on ``workers`` processes, in order. ``function`` must be a
    module-level function; ``shared`` (the catalogue) reaches it through ``context()``."""
    global _pool, _pool_key
    if workers <= 1 or len(items) < 2 * MIN_ITEMS_PER_WORKER:
        _set_context(shared)
        return [function(x) for x in items]
    key = (workers, id(shared))
    if _pool is None or _pool_key != key:
        if _pool is not None:
            _pool.shutdown()
        _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                    initializer=_set_context, initargs=(shared,))
        _pool_key = key
    chunk = max(1, min(64, len(items) // (workers * 4)))
    return list(_pool.map(function, items, chunksize=chunk))
