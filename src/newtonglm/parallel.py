"""Row-block parallelism for the in-memory kernel: groups of blocks on threads, BLAS serial.

A pass over X is a sum over row blocks, so it splits into contiguous groups of blocks, one per
thread, each accumulated on its own and added up in a fixed order (the result depends only on
the number of threads, never on timing). NumPy releases the GIL in its ufuncs and BLAS calls,
so the threads run in parallel. OpenBLAS parallelises a narrow Gram matrix (``syrk`` of a few
thousand rows) poorly — two of its threads were no faster than one here — while two Python
threads, each with single-threaded BLAS, ran a 200,000 x 200 pass 1.5-1.8x faster.

The kernel uses as many threads as BLAS would (``threadpoolctl``: a user's
``threadpool_limits(1)`` makes the kernel serial too), at most the CPUs this process may use,
and limits BLAS to one thread while a fit runs — a process-wide setting, restored when the fit
ends. Only fits called from the main thread do this: OpenBLAS ignores a request to raise its
thread count from any other thread, so a limit set there could not be undone. A fit called from
another thread (a thread pool, a web server) leaves BLAS alone and runs its passes serially.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["map_groups", "n_threads", "serial_blas"]

T = TypeVar("T")
S = TypeVar("S")

#: Fewer blocks than this per thread: not worth a thread (scheduling costs ~50 µs).
MIN_BLOCKS_PER_THREAD = 2

_lock = threading.Lock()
_depth = 0
_limiter: Any = None
_outer_threads = 1
_controller: Any = None
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0


def _blas_controllers() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        # Created on first use, after numpy and scipy have loaded their BLAS libraries.
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _blas_threads() -> int:
    return max((lib.get_num_threads() for lib in _blas_controllers().lib_controllers), default=1)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def n_threads(n_blocks: int) -> int:
    """Threads for a pass of ``n_blocks`` blocks: BLAS's thread count, CPUs, blocks allowing.

    BLAS's thread count is the one before :func:`serial_blas` limited it; 1 outside the main
    thread.
    """
    if n_blocks < 2 * MIN_BLOCKS_PER_THREAD or not _in_main_thread():
        return 1
    blas = _outer_threads if _limiter is not None else _blas_threads()
    return max(1, min(blas, _cpus(), n_blocks // MIN_BLOCKS_PER_THREAD))


@contextmanager
def fit_scope() -> Iterator[None]:
    """One fit: a BLAS limit that a pass inside sets (:func:`serial_blas`) holds to its end.

    Once a pass has run on threads, BLAS stays single-threaded for the rest of the fit, not
    only during its passes: with two OpenBLAS libraries loaded (NumPy's and scipy's), one
    library's idle threads spinning after a call slowed the other's next call — a 201 x 201
    Cholesky right after a NumPy pass took 14 ms instead of 0.3 ms. A fit whose passes do not
    split (small data) leaves BLAS alone and pays nothing. Re-entrant; a no-op outside the main
    thread.
    """
    global _depth, _limiter
    if not _in_main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _limiter is not None:
            _limiter.restore_original_limits()
            _limiter = None


@contextmanager
def serial_blas() -> Iterator[None]:
    """Single-threaded BLAS from here to the end of the enclosing :func:`fit_scope`.

    For work that runs on threads of its own (the kernel's groups of blocks, Dask's threaded
    scheduler); outside a fit, to the end of this block. A no-op outside the main thread.
    """
    global _limiter, _outer_threads
    with fit_scope():
        if _limiter is None and _in_main_thread():
            _outer_threads = _blas_threads()
            _limiter = _blas_controllers().limit(limits=1)
        yield


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newtonglm")
            _pool_workers = workers
        return _pool


def map_groups(
    items: Sequence[S], work: Callable[[Sequence[S]], T], threads: int | None = None
) -> list[T]:
    """``work`` on contiguous groups of ``items``, one group per thread, results in order.

    With one thread (few items, or BLAS limited to one thread) this is ``[work(items)]``.
    """
    k = n_threads(len(items)) if threads is None else max(1, min(threads, len(items)))
    if k == 1:
        return [work(items)]
    bounds = [len(items) * i // k for i in range(k + 1)]
    groups = [items[bounds[i] : bounds[i + 1]] for i in range(k)]
    pool = _executor(k - 1)
    with serial_blas():
        futures = [pool.submit(work, g) for g in groups[1:]]
        try:
            first = work(groups[0])  # this thread takes the first group
        finally:
            wait(futures)  # BLAS stays serial until every group is done, even on an error
        return [first, *(f.result() for f in futures)]
