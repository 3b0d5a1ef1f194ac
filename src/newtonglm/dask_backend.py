"""The Dask executor: the same block kernel, run on every chunk of a Dask collection.

A fit needs, per iteration, only sums over rows — the deviance, Pearson's χ², the score Xᵀ r and
the Fisher information Xᵀ W X — so a pass over data that do not fit in memory (or live on other
machines) is: one task per row chunk running :meth:`kernel.Accumulator.add_block` over the
chunk's blocks, then a tree reduction of the accumulators with :meth:`~kernel.Accumulator.merge`.
Only the q × q sums travel; the solve stays on the client, in the unchanged solvers. The other
passes reuse the in-memory kernel the same way: :func:`kernel.hessp_pass`,
:func:`kernel.wls_sums` and :func:`kernel.r_factor` (TSQR: the chunks' R factors are stacked and
factored again) on each chunk, summed or stacked by the reduction.

A :class:`DaskMatrix` is a list of delayed *parts*, one per row chunk, each computing to
``(xb, yb, wb, ob)``: the chunk's raw design block (without the implicit intercept), response,
prior weights and offset. Nothing is persisted: every pass recomputes the parts from their
source (Parquet files, a Dask array), so memory is bounded by a few chunks per worker whatever
the number of rows. The scheduler is whatever Dask uses by default — the threaded one, or a
``dask.distributed.Client`` when one is active.

Inputs become a :class:`DaskMatrix` in :mod:`.dask_design`. This module is imported only when
a Dask design is seen, so Dask stays an optional dependency.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import dask
import numpy as np
import pandas as pd
from dask.delayed import Delayed, delayed
from formulaic import ModelSpec

from . import kernel, parallel
from ._typing import FloatArray
from .design import Design
from .exceptions import (
    InvalidInputError,
)
from .families import Family, Gaussian, Poisson
from .matrix import DenseMatrix
from .solvers import NewtonSolver, StopRule

__all__ = [
    "DaskColumn",
    "DaskMatrix",
    "DaskStats",
    "hessp_pass",
    "initial_wls",
    "is_dask",
    "loglik",
    "null_deviance",
    "pass_sums",
    "r_factor_positive",
]

#: Partial results merged per task of the tree reduction.
FAN_IN = 8


def is_dask(*values: object) -> bool:
    """Whether any of ``values`` is a Dask collection (never imports Dask itself)."""
    if sys.modules.get("dask") is None:
        return False
    return any(dask.is_dask_collection(v) for v in values)


# -- the design ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaskStats:
    """Sums over all rows that the fit statistics need, from the validation pass."""

    #: Rows with a positive weight (R's ``nobs``).
    n_obs: int
    #: Σ w and Σ w y.
    sum_weights: float
    sum_wy: float
    #: Σ w e^offset (Σ w without an offset): the Poisson intercept-only start.
    sum_w_exp_offset: float
    #: Log-likelihood of the saturated model (binomial and Poisson).
    saturated_loglik: float
    #: Σ log w over the rows with positive weight (the Gaussian log-likelihood).
    sum_log_weights: float


class DaskColumn:
    """Stands for y, the weights or the offset of a Dask design: the values live in the chunks.

    Any attempt to use it as an array fails loudly instead of pulling the column to the client.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"DaskColumn({self.name!r})"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInputError(
            f"the {self.name!r} column of a Dask design is distributed over chunks and is not "
            "materialised on the client; this operation needs in-memory data."
        )


class DaskMatrix:
    """A design matrix held as delayed row chunks, ``[1, data]`` or ``data`` as DenseMatrix.

    Parameters
    ----------
    parts : list of Delayed
        One per row chunk, each computing to ``(xb, yb, wb, ob)`` (``ob`` may be None).
    lengths : sequence of int
        Rows per chunk.
    n_cols : int
        Columns of the raw blocks ``xb``.
    intercept : bool
        Whether a leading column of ones is implicit.
    stats : DaskStats or None
        Sums from the validation pass.
    columns : sequence of int or None
        Raw columns used (None: all), after dropping aliased columns.
    """

    is_distributed = True
    ndim = 2

    def __init__(
        self,
        parts: list[Delayed],
        lengths: Sequence[int],
        n_cols: int,
        intercept: bool,
        stats: DaskStats | None = None,
        columns: Sequence[int] | None = None,
    ) -> None:
        self.parts = parts
        self.lengths = tuple(int(n) for n in lengths)
        self.n_cols = int(n_cols)
        self.intercept = bool(intercept)
        self.stats = stats
        self.columns = None if columns is None else tuple(int(j) for j in columns)

    @property
    def shape(self) -> tuple[int, int]:
        """(n_samples, n_features), the intercept column included."""
        p = self.n_cols if self.columns is None else len(self.columns)
        return sum(self.lengths), p + int(self.intercept)

    @property
    def n_chunks(self) -> int:
        """Number of row chunks (tasks per pass)."""
        return len(self.parts)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        n, d = self.shape
        return f"DaskMatrix({n} x {d}, {self.n_chunks} chunks, intercept={self.intercept})"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInputError(
            "a Dask design matrix is not materialised on the client; this operation needs "
            "in-memory data (call .compute() on the data and fit again if it fits in memory)."
        )

    def with_stats(self, stats: DaskStats) -> DaskMatrix:
        """The same matrix carrying ``stats``."""
        return DaskMatrix(
            self.parts, self.lengths, self.n_cols, self.intercept, stats, self.columns
        )

    def take_columns(self, kept: Sequence[int]) -> DaskMatrix:
        """The matrix restricted to columns ``kept`` (ascending), selected inside each task."""
        kept = list(kept)
        if kept == list(range(self.shape[1])):
            return self
        raw = list(range(self.n_cols)) if self.columns is None else list(self.columns)
        offset = int(self.intercept)
        intercept = self.intercept and 0 in kept
        cols = [raw[j - offset] for j in kept if not (self.intercept and j == 0)]
        if self.intercept and not intercept:
            raise InvalidInputError("the implicit intercept of a Dask design cannot be dropped")
        return DaskMatrix(self.parts, self.lengths, self.n_cols, intercept, self.stats, cols)

    def select_rows(self, mask: object) -> DaskMatrix:
        """Not available: rows are selected inside each task (see :func:`r_factor_positive`)."""
        raise InvalidInputError("rows of a Dask design are selected inside each task")


class _ArrayChunk:
    """One row chunk of in-memory arrays: ``(xb, yb, wb, ob)``, handed to the kernel whole."""

    __slots__ = ("parts",)

    def __init__(self, xb: Any, yb: Any, wb: Any, ob: Any, positive: Any) -> None:
        self.parts = _pack(xb, yb, wb, ob, positive)

    def blocks(self, columns: tuple[int, ...] | None) -> Iterator[tuple[Any, ...]]:
        xb, yb, wb, ob = self.parts
        if columns is not None:
            xb = np.asfortranarray(xb[:, list(columns)])
        yield xb, yb, wb, ob


class _FrameChunk:
    """One partition of a DataFrame, turned into design blocks by the fitted spec as needed.

    The formula is evaluated on :data:`FRAME_ROWS` rows at a time, so a task holds the
    partition and one design block, never the partition's whole design matrix.
    """

    __slots__ = ("frame", "recipe")

    def __init__(self, frame: pd.DataFrame, recipe: _Recipe) -> None:
        self.frame = frame
        self.recipe = recipe

    def blocks(self, columns: tuple[int, ...] | None) -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(self.frame), FRAME_ROWS):
            xb, yb, wb, ob = self.recipe.apply(self.frame.iloc[start : start + FRAME_ROWS])
            if columns is not None:
                xb = np.asfortranarray(xb[:, list(columns)])
            yield xb, yb, wb, ob


_Chunk = _ArrayChunk | _FrameChunk


# -- passes: one task per chunk, a tree reduction, the result on the client ----------------------


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


def _merge_accumulators(accs: list[kernel.Accumulator]) -> kernel.Accumulator:
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
    chunk: _Chunk,
    columns: tuple[int, ...] | None,
    n_cols: int,
    intercept: bool,
    family: Family,
    coef: FloatArray,
    score: bool,
    fisher: bool,
) -> kernel.Accumulator:
    d = n_cols + int(intercept)
    acc = kernel.Accumulator(
        family, coef, n_cols, intercept, kernel.block_rows(d), score=score, fisher=fisher
    )
    for xb, yb, wb, ob in chunk.blocks(columns):
        for rows in kernel.block_slices(xb.shape[0], d):
            acc.add_block(xb[rows], yb[rows], wb[rows], None if ob is None else ob[rows])
    return acc


class _LazyWorkWeights:
    """The working weights at ``coef``, recomputed inside each task of a Hessian-vector pass."""

    def __init__(self, family: Family, coef: FloatArray) -> None:
        self.family = family
        self.coef = coef


def pass_sums(
    X: DaskMatrix,
    y: object,
    weights: object,
    offset: object,
    coef: FloatArray,
    family: Family,
    *,
    score: bool = True,
    fisher: bool = True,
    keep_weights: bool = False,
    sqrt_weights: object = None,
    unit_weights: bool = False,
) -> kernel.PassSums:
    """:func:`kernel.pass_sums` on a Dask design: one task per chunk, a tree of merges.

    ``sqrt_weights`` and ``unit_weights`` (in-memory shortcuts) are ignored: each chunk
    carries its own weights.
    """
    coef = np.asarray(coef, dtype=np.float64)
    p = X.shape[1] - int(X.intercept)
    tasks = [
        delayed(_chunk_pass, pure=True)(
            part, X.columns, p, X.intercept, family, coef, score, fisher
        )
        for part in X.parts
    ]
    acc = _compute(tasks, _merge_accumulators)
    # Working weights are n floats: instead of keeping them, a Hessian-vector pass recomputes
    # them from the coefficients in each task (the same add_block, so the same numbers).
    lazy = _LazyWorkWeights(family, coef) if keep_weights else None
    return cast(kernel.PassSums, acc.result(cast(Any, lazy)))


def _chunk_hessp(
    chunk: _Chunk,
    columns: tuple[int, ...] | None,
    intercept: bool,
    family: Family,
    coef: FloatArray,
    v: FloatArray,
) -> FloatArray:
    out = np.zeros(v.shape)
    for xb, yb, wb, ob in chunk.blocks(columns):
        acc = kernel.Accumulator(family, coef, xb.shape[1], intercept, 1, score=False, fisher=False)
        work_w = np.empty(xb.shape[0])
        acc.add_block(xb, yb, wb, ob, keep_weights=work_w)
        out += kernel.hessp_pass(DenseMatrix(xb, intercept), work_w, v)
    return out


def hessp_pass(X: DaskMatrix, work_w: object, v: FloatArray) -> FloatArray:
    """:func:`kernel.hessp_pass` on a Dask design (W recomputed per chunk from the coefficients)."""
    if not isinstance(work_w, _LazyWorkWeights):
        raise TypeError("hessp on a Dask design needs an Evaluation made with weights=True")
    v = np.asarray(v, dtype=np.float64)
    tasks = [
        delayed(_chunk_hessp, pure=True)(
            part, X.columns, X.intercept, work_w.family, work_w.coef, v
        )
        for part in X.parts
    ]
    return np.asarray(_compute(tasks, _add))


def _chunk_wls(
    chunk: _Chunk, columns: tuple[int, ...] | None, intercept: bool, family: Family, d: int
) -> tuple[FloatArray, FloatArray]:
    gram, rhs = np.zeros((d, d)), np.zeros(d)
    for xb, yb, wb, ob in chunk.blocks(columns):
        g, r = kernel.start_sums(DenseMatrix(xb, intercept), yb, wb, ob, family)
        gram += g
        rhs += r
    return gram, rhs


def initial_wls(X: DaskMatrix, family: Family) -> tuple[FloatArray, FloatArray]:
    """R's starting normal equations (``GLMObjective.initial_wls``), summed over chunks."""
    tasks = [
        delayed(_chunk_wls, pure=True)(part, X.columns, X.intercept, family, X.shape[1])
        for part in X.parts
    ]
    gram, rhs = _compute(tasks, _add)
    return np.asarray(gram), np.asarray(rhs)


def _chunk_r(
    chunk: _Chunk, columns: tuple[int, ...] | None, intercept: bool, d: int
) -> tuple[FloatArray, int]:
    rs, count = [np.zeros((0, d))], 0
    for xb, _yb, wb, _ob in chunk.blocks(columns):
        positive = wb > 0
        if not positive.all():
            xb = np.asfortranarray(xb[positive])
        rs.append(kernel.r_factor(DenseMatrix(xb, intercept)))
        count += int(positive.sum())
    return kernel.r_factor(np.vstack(rs)), count


def _stack_r(values: list[tuple[FloatArray, int]]) -> tuple[FloatArray, int]:
    stacked = np.vstack([r for r, _ in values])
    return kernel.r_factor(stacked), sum(k for _, k in values)


def r_factor_positive(X: DaskMatrix) -> tuple[FloatArray, int]:
    """R of a QR of the rows with positive weight (TSQR over chunks), and their number."""
    tasks = [
        delayed(_chunk_r, pure=True)(part, X.columns, X.intercept, X.shape[1]) for part in X.parts
    ]
    r, n = _compute(tasks, _stack_r)
    return np.asarray(r), int(n)


def null_deviance(family: Family, design: Design, stop: StopRule) -> float:
    """:func:`inference.null_deviance` on a Dask design, as R defines it.

    Without an intercept mu = g⁻¹(offset); with one and no offset, mu is the weighted mean of y;
    with both, the intercept-only model is fitted by Newton's method, as in memory.
    """
    from .objective import GLMObjective

    X = cast(DaskMatrix, design.X)
    assert X.stats is not None
    if design.intercept_index is None:
        empty = X.take_columns([])
        return pass_sums(
            empty, None, None, None, np.zeros(0), family, score=False, fisher=False
        ).deviance
    ones = DaskMatrix(X.parts, X.lengths, X.n_cols, True, X.stats, columns=())
    if design.offset is None:
        mean = X.stats.sum_wy / X.stats.sum_weights
        eta = family.link.link(np.array([mean]))
        return pass_sums(ones, None, None, None, eta, family, score=False, fisher=False).deviance
    null = Design(
        X=cast(Any, ones),
        y=design.y,
        weights=design.weights,
        offset=design.offset,
        names=("Intercept",),
        intercept_index=0,
        response_name=design.response_name,
        n_dropped=0,
    )
    objective = GLMObjective(family, null)
    return NewtonSolver().solve(objective, objective.initial_coef(), stop).final.deviance


def loglik(family: Family, X: DaskMatrix, deviance: float, scale: float) -> float:
    """Log-likelihood at the fit, from the validation pass's sums (as ``inference.compute``)."""
    stats = X.stats
    assert stats is not None
    if isinstance(family, Gaussian):
        # Gaussian.loglik: the profile likelihood with sigma² = D / n.
        n = stats.n_obs
        return float(
            -0.5 * n * (np.log(2.0 * np.pi * deviance / n) + 1.0) + 0.5 * stats.sum_log_weights
        )
    llf = stats.saturated_loglik - 0.5 * deviance
    return llf / scale if isinstance(family, Poisson) else llf


# -- turning a chunk's source into blocks ------------------------------------------------------


def _pack(xb: Any, yb: Any, wb: Any, ob: Any, positive: Any) -> tuple[Any, ...]:
    xb = np.asarray(xb, dtype=np.float64)
    if xb.ndim == 1:
        xb = xb[:, None]
    yb = np.asarray(yb)
    if positive is not None:
        missing = pd.isna(yb)
        yb = np.where(missing, np.nan, (yb == positive).astype(np.float64))
    yb = np.ascontiguousarray(yb, dtype=np.float64)
    wb = np.ones(xb.shape[0]) if wb is None else np.ascontiguousarray(wb, dtype=np.float64)
    ob = None if ob is None else np.ascontiguousarray(ob, dtype=np.float64)
    return xb, yb, wb, ob


#: Rows per evaluation of the formula inside a task: formulaic's cost per call is negligible
#: at this size, and the design block (rows x columns doubles) stays small.
FRAME_ROWS = 65_536


@dataclass(frozen=True, slots=True)
class _Recipe:
    """How a partition's rows become ``(xb, yb, wb, ob)``: the fitted spec and the columns."""

    spec: ModelSpec
    lhs_spec: ModelSpec | None
    response: str
    positive: Any
    weight_col: str | None
    offset_col: str | None

    def apply(self, frame: pd.DataFrame) -> tuple[Any, ...]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrix = self.spec.get_model_matrix(frame, na_action="ignore")
            if self.lhs_spec is None:
                yb = frame[self.response].to_numpy()
            else:
                lhs = self.lhs_spec.get_model_matrix(frame, na_action="ignore")
                yb = lhs.to_numpy(float)[:, 0]
        # Column by column into a Fortran block (DataFrame.to_numpy is slow on formulaic's
        # one-block-per-column frames).
        xb = np.empty(matrix.shape, order="F")
        for j, (_name, col) in enumerate(matrix.items()):
            xb[:, j] = col.to_numpy(dtype=np.float64)
        wb = None if self.weight_col is None else frame[self.weight_col].to_numpy(np.float64)
        ob = None if self.offset_col is None else frame[self.offset_col].to_numpy(np.float64)
        return _pack(xb, yb, wb, ob, self.positive)
