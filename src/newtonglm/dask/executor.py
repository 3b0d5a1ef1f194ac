"""The Dask executor: the same accumulator as in memory, run on every chunk, merged in a tree.

A fit needs, per iteration, only sums over rows — the deviance, Pearson's χ², the score Xᵀ r and
the Fisher information Xᵀ W X — so a pass over data that do not fit in memory (or live on other
machines) is one task per row chunk running
:meth:`~newtonglm.engine.accumulate.Accumulator.add_block` over the chunk's blocks, then a tree
reduction of the accumulators with ``merge``. Only the q × q sums travel; the solve stays on the
client, in the unchanged solvers. The other passes reuse the in-memory dense executor the same
way on each chunk (Hessian-vector products, R's starting sums, the R factor by TSQR: the chunks'
R factors are stacked and factored again), summed or stacked by the reduction.

The scheduler is whatever Dask uses by default — the threaded one, or a
``dask.distributed.Client`` when one is active. Importing this module registers
:class:`DaskExecutor` for :class:`~.matrix.DaskMatrix`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

import dask
import numpy as np
from dask.delayed import Delayed, delayed

from .. import parallel
from .._typing import FloatArray
from ..design.matrix import DenseMatrix
from ..engine.accumulate import Accumulator, PassSums
from ..engine.blocks import block_rows, block_slices, tsqr
from ..engine.dense import DenseExecutor
from ..engine.registry import register
from ..engine.rows import magnitude_block, weighted_block
from ..exceptions import InvalidInputError
from ..families import Family
from .matrix import Chunk, DaskMatrix

__all__ = ["FAN_IN", "DaskExecutor"]

#: Partial results merged per task of the tree reduction.
FAN_IN = 8

_DENSE = DenseExecutor()


def _tree(tasks: list[Delayed], combine: Callable[[list[Any]], Any]) -> Delayed:
    while len(tasks) > 1:
        tasks = [
            delayed(combine, pure=True)(tasks[i : i + FAN_IN]) for i in range(0, len(tasks), FAN_IN)
        ]
    return tasks[0]


def _compute(tasks: list[Delayed], combine: Callable[[list[Any]], Any]) -> Any:
    # The threaded scheduler runs the chunks' kernels on threads of this process: BLAS serial.
    with parallel.serial_blas():
        (result,) = dask.compute(_tree(tasks, combine))
    return result


def _merge_accumulators(accs: list[Accumulator]) -> Accumulator:
    # A fresh copy: a task never mutates its inputs, so a retried task sees the same values.
    out = copy.deepcopy(accs[0])
    for acc in accs[1:]:
        out.merge(acc)
    return out


def _add(values: list[Any]) -> Any:
    if isinstance(values[0], tuple):
        return tuple(sum(parts[1:], parts[0].copy()) for parts in zip(*values, strict=True))
    return sum(values[1:], values[0].copy())


def _chunk_pass(
    chunk: Chunk,
    columns: tuple[int, ...] | None,
    n_cols: int,
    intercept: bool,
    family: Family,
    coef: FloatArray,
    score: bool,
    fisher: bool,
    observed: bool = False,
) -> Accumulator:
    d = n_cols + int(intercept)
    size = block_rows(d)
    acc = Accumulator(
        family, coef, n_cols, intercept, size, score=score, fisher=fisher, observed=observed
    )
    for xb, yb, wb, ob in chunk.blocks(columns):
        for rows in block_slices(xb.shape[0], d):
            acc.add_block(xb[rows], yb[rows], wb[rows], None if ob is None else ob[rows])
    return acc


class _LazyWorkWeights:
    """The working weights at ``coef``, recomputed inside each task of a Hessian-vector pass."""

    def __init__(self, family: Family, coef: FloatArray, observed: bool) -> None:
        self.family = family
        self.coef = coef
        self.observed = observed


def _chunk_hessp(
    chunk: Chunk,
    columns: tuple[int, ...] | None,
    intercept: bool,
    family: Family,
    coef: FloatArray,
    v: FloatArray,
    observed: bool = False,
) -> FloatArray:
    out = np.zeros(v.shape)
    for xb, yb, wb, ob in chunk.blocks(columns):
        acc = Accumulator(
            family, coef, xb.shape[1], intercept, 1, score=False, fisher=False, observed=observed
        )
        work_w = np.empty(xb.shape[0])
        acc.add_block(xb, yb, wb, ob, keep_weights=work_w)
        out += _DENSE.hessp(DenseMatrix(xb, intercept), work_w, v)
    return out


def _chunk_start(
    chunk: Chunk, columns: tuple[int, ...] | None, intercept: bool, family: Family, d: int
) -> tuple[FloatArray, FloatArray]:
    gram, rhs = np.zeros((d, d)), np.zeros(d)
    for xb, yb, wb, ob in chunk.blocks(columns):
        g, r = _DENSE.start_sums(DenseMatrix(xb, intercept), yb, wb, ob, family)
        gram += g
        rhs += r
    return gram, rhs


def _chunk_magnitude(
    chunk: Chunk,
    columns: tuple[int, ...] | None,
    intercept: bool,
    family: Family,
    coef: FloatArray,
    d: int,
) -> FloatArray:
    out = np.zeros(d)
    for xb, yb, wb, ob in chunk.blocks(columns):
        out += magnitude_block(xb, yb, wb, ob, coef, intercept, family)
    return out


def _chunk_information_r(
    chunk: Chunk,
    columns: tuple[int, ...] | None,
    intercept: bool,
    family: Family,
    coef: FloatArray,
    d: int,
    observed: bool,
) -> tuple[FloatArray, int]:
    rs = [
        weighted_block(xb, yb, wb, ob, coef, intercept, family, observed=observed)
        for xb, yb, wb, ob in chunk.blocks(columns)
    ]
    return tsqr(rs, d), 0


def _chunk_r(
    chunk: Chunk, columns: tuple[int, ...] | None, intercept: bool, d: int
) -> tuple[FloatArray, int]:
    rs, count = [], 0
    for xb, _yb, wb, _ob in chunk.blocks(columns):
        r, n = _DENSE.r_factor(DenseMatrix(xb, intercept), wb)
        rs.append(r)
        count += n
    return tsqr(rs, d), count


def _stack_r(values: list[tuple[FloatArray, int]]) -> tuple[FloatArray, int]:
    return tsqr([r for r, _ in values], values[0][0].shape[1]), sum(k for _, k in values)


class DaskExecutor:
    """:class:`~newtonglm.engine.registry.Executor` for :class:`~.matrix.DaskMatrix`.

    ``y``, ``weights`` and ``offset`` are ignored wherever they are passed: each chunk carries
    its own (the design holds placeholder columns), and so are the in-memory shortcuts
    ``sqrt_weights`` and ``unit_weights``.
    """

    def pass_sums(
        self,
        X: DaskMatrix,
        y: Any,
        weights: Any,
        offset: Any,
        coef: FloatArray,
        family: Family,
        *,
        score: bool = True,
        fisher: bool = True,
        keep_weights: bool = False,
        sqrt_weights: Any = None,
        unit_weights: bool = False,
        observed: bool = False,
    ) -> PassSums:
        """One task per chunk, a tree of merges; W is kept as the coefficients, not n floats."""
        coef = np.asarray(coef, dtype=np.float64)
        p = X.shape[1] - int(X.intercept)
        tasks = [
            delayed(_chunk_pass, pure=True)(
                part, X.columns, p, X.intercept, family, coef, score, fisher, observed
            )
            for part in X.parts
        ]
        acc = _compute(tasks, _merge_accumulators)
        # Working weights are n floats: instead of keeping them, a Hessian-vector pass
        # recomputes them from the coefficients in each task (the same add_block, the same
        # numbers).
        lazy = _LazyWorkWeights(family, coef, observed) if keep_weights else None
        return acc.result(cast(Any, lazy))

    def hessp(self, X: DaskMatrix, work_weights: Any, v: FloatArray) -> FloatArray:
        """Xᵀ W X v, W recomputed per chunk from the coefficients of the ``keep_weights`` pass."""
        if not isinstance(work_weights, _LazyWorkWeights):
            raise TypeError("hessp on a Dask design needs an Evaluation made with weights=True")
        v = np.asarray(v, dtype=np.float64)
        tasks = [
            delayed(_chunk_hessp, pure=True)(
                part,
                X.columns,
                X.intercept,
                work_weights.family,
                work_weights.coef,
                v,
                work_weights.observed,
            )
            for part in X.parts
        ]
        return np.asarray(_compute(tasks, _add))

    def wls_sums(self, X: DaskMatrix, work_weights: Any, z: Any) -> tuple[FloatArray, FloatArray]:
        """Not available: per-row working weights of a Dask design never reach the client."""
        raise InvalidInputError(
            "weighted least-squares sums with per-row weights from the client are not "
            "available for a Dask design; this statistic needs in-memory data."
        )

    def start_sums(
        self, X: DaskMatrix, y: Any, weights: Any, offset: Any, family: Family
    ) -> tuple[FloatArray, FloatArray]:
        """R's starting normal equations, the dense executor's on every chunk, summed."""
        tasks = [
            delayed(_chunk_start, pure=True)(part, X.columns, X.intercept, family, X.shape[1])
            for part in X.parts
        ]
        gram, rhs = _compute(tasks, _add)
        return np.asarray(gram), np.asarray(rhs)

    def score_magnitude(
        self, X: DaskMatrix, y: Any, weights: Any, offset: Any, coef: FloatArray, family: Family
    ) -> FloatArray:
        """Σ_i |x_ij s_i| per coefficient, chunk by chunk, summed."""
        coef = np.asarray(coef, dtype=np.float64)
        tasks = [
            delayed(_chunk_magnitude, pure=True)(
                part, X.columns, X.intercept, family, coef, X.shape[1]
            )
            for part in X.parts
        ]
        return np.asarray(_compute(tasks, _add))

    def information_r_factor(
        self,
        X: DaskMatrix,
        y: Any,
        weights: Any,
        offset: Any,
        coef: FloatArray,
        family: Family,
        *,
        observed: bool = False,
    ) -> FloatArray:
        """R of a QR of √W·X at ``coef``: each chunk's R, stacked and factored again."""
        coef = np.asarray(coef, dtype=np.float64)
        tasks = [
            delayed(_chunk_information_r, pure=True)(
                part, X.columns, X.intercept, family, coef, X.shape[1], observed
            )
            for part in X.parts
        ]
        r, _ = _compute(tasks, _stack_r)
        return np.asarray(r)

    def r_factor(self, X: DaskMatrix, weights: Any) -> tuple[FloatArray, int]:
        """R of a QR of the rows with positive weight (TSQR over chunks), and their number."""
        tasks = [
            delayed(_chunk_r, pure=True)(part, X.columns, X.intercept, X.shape[1])
            for part in X.parts
        ]
        r, n = _compute(tasks, _stack_r)
        return np.asarray(r), int(n)


register(DaskMatrix, DaskExecutor())
