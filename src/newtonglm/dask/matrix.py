"""The Dask design: a matrix of delayed row chunks, the columns that stand for y, w and offset.

A :class:`DaskMatrix` is a list of delayed *parts*, one per row chunk, each computing to a chunk
object whose ``blocks`` yield ``(xb, yb, wb, ob)``: the chunk's raw design block (without the
implicit intercept), response, prior weights and offset. Nothing is persisted: every pass
recomputes the parts from their source (Parquet files, a Dask array), so memory is bounded by a
few chunks per worker whatever the number of rows. Its row sums come from the validation pass
(:class:`DaskStats`); its passes from the executor registered for it (``dask.executor``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from dask.delayed import Delayed
from formulaic import ModelSpec

from ..engine.registry import executor_for
from ..exceptions import InvalidInputError
from ..families import Family

__all__ = [
    "FRAME_ROWS",
    "ArrayChunk",
    "DaskColumn",
    "DaskDesignStats",
    "DaskMatrix",
    "DaskStats",
    "FrameChunk",
    "Recipe",
]


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
    #: Log-likelihood of the saturated model under the family validated for (binomial, Poisson).
    saturated: float
    #: Σ log w over the rows with positive weight (the Gaussian log-likelihood).
    sum_log_weights: float


class DaskDesignStats:
    """:class:`~newtonglm.design.stats.DesignStats` of a Dask design (validation-pass sums)."""

    def __init__(self, matrix: DaskMatrix, stats: DaskStats) -> None:
        self.matrix = matrix
        self.n_obs = stats.n_obs
        self.sum_weights = stats.sum_weights
        self.sum_wy = stats.sum_wy
        self.sum_w_exp_offset = stats.sum_w_exp_offset
        self.sum_log_weights = stats.sum_log_weights
        self._saturated = stats.saturated

    def saturated_loglik(self, family: Family) -> float:
        """From the validation pass, which ran with the fit's family."""
        return self._saturated

    def null_deviance(self, family: Family) -> float:
        """One pass at μ = Σ w y / Σ w over the intercept-only matrix."""
        ones = self.matrix.null_matrix(True)
        eta = family.link.link(np.array([self.sum_wy / self.sum_weights]))
        none: Any = None  # the chunks carry y, the weights and the offset
        sums = executor_for(ones).pass_sums(
            ones, none, none, None, eta, family, score=False, fisher=False
        )
        return sums.deviance


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

    ndim = 2
    #: The rows live in the chunks, not in this process.
    in_memory = False

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
        """Not available: rows are selected inside each task (see the executor's r_factor)."""
        raise InvalidInputError("rows of a Dask design are selected inside each task")

    def null_matrix(self, intercept: bool) -> DaskMatrix:
        """The same chunks with no columns but the implicit intercept, if ``intercept``."""
        return DaskMatrix(self.parts, self.lengths, self.n_cols, intercept, self.stats, ())

    def design_stats(self, y: object, weights: object, offset: object) -> DaskDesignStats:
        """The row sums of a design on this matrix, from its validation pass."""
        if self.stats is None:
            raise InvalidInputError("a Dask design matrix has no row sums before validation")
        return DaskDesignStats(self, self.stats)


class ArrayChunk:
    """One row chunk of in-memory arrays: ``(xb, yb, wb, ob)``, handed to the kernel whole."""

    __slots__ = ("parts",)

    def __init__(self, xb: Any, yb: Any, wb: Any, ob: Any, positive: Any) -> None:
        self.parts = _pack(xb, yb, wb, ob, positive)

    def blocks(self, columns: tuple[int, ...] | None) -> Iterator[tuple[Any, ...]]:
        """The chunk as one block ``(xb, yb, wb, ob)``, restricted to ``columns`` if given."""
        xb, yb, wb, ob = self.parts
        if columns is not None:
            xb = np.asfortranarray(xb[:, list(columns)])
        yield xb, yb, wb, ob


class FrameChunk:
    """One partition of a DataFrame, turned into design blocks by the fitted spec as needed.

    The formula is evaluated on :data:`FRAME_ROWS` rows at a time, so a task holds the
    partition and one design block, never the partition's whole design matrix.
    """

    __slots__ = ("frame", "recipe")

    def __init__(self, frame: pd.DataFrame, recipe: Recipe) -> None:
        self.frame = frame
        self.recipe = recipe

    def blocks(self, columns: tuple[int, ...] | None) -> Iterator[tuple[Any, ...]]:
        """``(xb, yb, wb, ob)`` of ``FRAME_ROWS`` rows at a time, restricted to ``columns``."""
        for start in range(0, len(self.frame), FRAME_ROWS):
            xb, yb, wb, ob = self.recipe.apply(self.frame.iloc[start : start + FRAME_ROWS])
            if columns is not None:
                xb = np.asfortranarray(xb[:, list(columns)])
            yield xb, yb, wb, ob


Chunk = ArrayChunk | FrameChunk


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
class Recipe:
    """How a partition's rows become ``(xb, yb, wb, ob)``: the fitted spec and the columns."""

    spec: ModelSpec
    lhs_spec: ModelSpec | None
    response: str
    positive: Any
    weight_col: str | None
    offset_col: str | None

    def apply(self, frame: pd.DataFrame) -> tuple[Any, ...]:
        """The rows of ``frame`` as ``(xb, yb, wb, ob)``."""
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
