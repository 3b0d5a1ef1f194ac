"""Row blocks, the thread's block buffer, exact sums, symmetric fills and the streamed QR.

The pieces every executor's pass is built from: a pass walks X in blocks of about
:data:`BLOCK_BYTES` (so a pass needs memory for one block, not for n rows), scales a block into
the thread's reused buffer, adds deviance parts exactly (so a sum does not depend on the block
split), and fills the other triangle of a symmetric result. :func:`tsqr` is the one streamed QR
(R factor of stacked blocks) behind every rank check.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterable, Iterator

import numpy as np
from scipy.linalg import lapack

from .._typing import FloatArray

__all__ = [
    "BLOCK_BYTES",
    "block_rows",
    "block_slices",
    "exact_sum",
    "f64",
    "mirror_upper",
    "scratch",
    "tsqr",
]

#: Target size of one block of X in bytes: large enough for BLAS to run at full speed and for
#: the per-block Python overhead to vanish, small enough that the scaled copy of a block is
#: still in cache when ``syrk`` reads it (2 MiB measured best at 1,000,000 x 20; 8 MiB and
#: more were up to 3x slower per pass).
BLOCK_BYTES = 2 * 2**20


def block_rows(n_features: int) -> int:
    """Number of rows per block for a design with ``n_features`` columns."""
    return max(1024, BLOCK_BYTES // (8 * max(n_features, 1)))


def block_slices(n_rows: int, n_features: int) -> Iterator[slice]:
    """Consecutive row slices covering ``range(n_rows)``."""
    step = block_rows(n_features)
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


_THREAD_SCRATCH = threading.local()


def scratch(size: int) -> FloatArray:
    """A block buffer of at least ``size`` floats, reused by every pass of the calling thread.

    Kept between passes and fits (one block, at most ~2 MiB per thread): a fresh buffer per
    pass can be a fresh mapping whose pages fault in again on the first write (measured: a
    10,000 x 10 Poisson fit of six passes 5-8% faster with the buffer kept). The buffer is
    scratch inside one ``Gram.add`` call, so accumulators of one thread can share it.
    """
    buf: FloatArray | None = getattr(_THREAD_SCRATCH, "buf", None)
    if buf is None or buf.size < size:
        buf = np.empty(size)
        _THREAD_SCRATCH.buf = buf
    return buf[:size]


@functools.lru_cache(maxsize=32)
def _lower_triangle(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices below the diagonal of a d x d matrix (np.triu costs ~15 µs a call)."""
    return np.tril_indices(d, -1)


def mirror_upper(a: FloatArray) -> FloatArray:
    """A C-ordered copy of the square ``a`` with its upper triangle mirrored below the diagonal.

    For the symmetric matrices of a fit that LAPACK or the kernel fill on one side only.
    """
    out = np.array(a, dtype=np.float64, order="C")
    lower = _lower_triangle(out.shape[0])
    out[lower] = out.T[lower]
    return out


def exact_sum(parts: list[float]) -> float:
    """The sum of ``parts``, correctly rounded (plain sum where it overflows or meets ∞ - ∞)."""
    try:
        return math.fsum(parts)
    except (OverflowError, ValueError):
        return float(sum(parts))


def f64(a: FloatArray) -> FloatArray:
    """``a`` as a C-contiguous float64 array (itself when it already is one)."""
    return np.ascontiguousarray(a, dtype=np.float64)


def tsqr(blocks: Iterable[FloatArray], n_cols: int) -> FloatArray:
    """Upper-triangular R of a QR of the rows of ``blocks`` stacked, one block at a time.

    Each step factors the R so far stacked on the next block (TSQR), so memory is bounded by
    one block, and R keeps the conditioning of X itself (a Gram matrix would square it).
    Blocks may themselves be R factors (of chunks): the result is the R of all their rows.
    Rows short of ``n_cols`` are padded with zero rows.
    """
    r = np.zeros((0, n_cols))
    for block in blocks:
        stacked = np.vstack([r, block])
        qr, _tau, _work, info = lapack.dgeqrf(stacked)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK dgeqrf failed with info={info}")
        r = np.triu(qr[: min(stacked.shape[0], n_cols)])
    if r.shape[0] < n_cols:
        r = np.vstack([r, np.zeros((n_cols - r.shape[0], n_cols))])
    return r
