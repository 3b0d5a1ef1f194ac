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

Inputs (:func:`from_arrays`, :func:`from_dataframe`) are validated in one pass that counts
missing values, negative weights and out-of-range responses per chunk and collects the sums the
fit statistics need (:class:`DaskStats`). With a formula, a first cheap pass over the columns the
formula names finds every categorical level and the partition lengths; the model spec is then
learned once from a small pandas frame holding every level and applied to every partition.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import dask
import dask.array as da
import numpy as np
import pandas as pd
from dask.delayed import Delayed, delayed
from formulaic import Formula, ModelSpec, model_matrix
from formulaic.errors import FormulaicError

from . import kernel
from ._typing import FloatArray
from .design import Design, nonfinite_rows
from .exceptions import (
    EmptyDataError,
    FormulaError,
    InvalidInputError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidWeightsError,
    MissingValueError,
    ShapeMismatchError,
)
from .families import Family, Gaussian, Poisson
from .matrix import DenseMatrix
from .solvers import NewtonSolver, StopRule

__all__ = [
    "DaskMatrix",
    "DaskStats",
    "from_arrays",
    "from_dataframe",
    "hessp_pass",
    "initial_wls",
    "is_dask",
    "null_deviance",
    "pass_sums",
    "predict_linear",
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
    acc.release_buffer()  # only the q × q sums travel back
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
) -> kernel.PassSums:
    """:func:`kernel.pass_sums` on a Dask design: one task per chunk, a tree of merges."""
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
    from .objective import wls_start

    gram, rhs = np.zeros((d, d)), np.zeros(d)
    for xb, yb, wb, ob in chunk.blocks(columns):
        z, work_w = wls_start(family, yb, wb, ob)
        g, r = kernel.wls_sums(DenseMatrix(xb, intercept), work_w, z)
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


# -- validation ---------------------------------------------------------------------------------


def _block_stats(
    block: tuple[Any, ...], family: Family, response_name: str, need_classes: bool
) -> dict[str, Any]:
    xb, yb, wb, ob = block
    out: dict[str, Any] = {
        "n": xb.shape[0],
        "x_nonfinite": (~np.isfinite(xb)).sum(axis=0),
        "y_nonfinite": int((~np.isfinite(yb)).sum()),
        "w_nonfinite": int((~np.isfinite(wb)).sum()),
        "o_nonfinite": 0 if ob is None else int((~np.isfinite(ob)).sum()),
    }
    bad = (nonfinite_rows(xb) if xb.shape[1] else False) | ~np.isfinite(yb) | ~np.isfinite(wb)
    if ob is not None:
        bad |= ~np.isfinite(ob)
    out["rows_bad"] = int(np.sum(bad))
    if out["rows_bad"]:
        return out
    positive = wb > 0
    out["w_negative"] = int((wb < 0).sum())
    out["n_obs"] = int(positive.sum())
    out["sum_w"] = float(wb.sum())
    out["sum_wy"] = float(wb @ yb)
    out["sum_log_w"] = float(np.log(wb[positive]).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        out["saturated"] = family.saturated_loglik(yb, wb) if family.fixed_scale else 0.0
    try:
        family.check_y(yb, response_name)
    except InvalidResponseError as exc:
        out["y_error"] = str(exc)
    if need_classes:
        out["n_class"] = np.array([(yb[positive] == 0).sum(), (yb[positive] == 1).sum()])
    return out


def _sum_stats(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Add the per-block (or per-chunk) counts and sums; keep the first response error."""
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "y_error":
                out.setdefault(key, value)
            elif key in out:
                out[key] = out[key] + value
            else:
                out[key] = value
    return out


def _chunk_stats(
    chunk: _Chunk, family: Family, response_name: str, need_classes: bool
) -> dict[str, Any]:
    return _sum_stats(
        [_block_stats(b, family, response_name, need_classes) for b in chunk.blocks(None)]
    )


def validate(
    X: DaskMatrix,
    family: Family,
    names: Sequence[str],
    response_name: str,
    classes: np.ndarray | None = None,
) -> DaskStats:
    """One pass: missing values, weights and the response's range, as ``design.finalize``.

    Raises the same errors as the in-memory path (with counts over all chunks); returns the sums
    the fit statistics need.
    """
    tasks = [
        delayed(_chunk_stats, pure=True)(part, family, response_name, classes is not None)
        for part in X.parts
    ]
    chunks = dask.compute(*tasks)
    errors = [(k, c["y_error"]) for k, c in enumerate(chunks) if c.get("y_error")]
    total = _sum_stats(chunks)
    n = int(total.get("n", 0))
    if n == 0:
        raise EmptyDataError("cannot fit a model to 0 rows; X is empty.")
    n_bad = int(total["rows_bad"])
    if n_bad:
        x_names = list(names)[1:] if X.intercept else list(names)
        parts = [f"{x_names[j]!r} ({int(k)} rows)" for j, k in enumerate(total["x_nonfinite"]) if k]
        for label, key in (
            (response_name, "y_nonfinite"),
            ("sample_weight", "w_nonfinite"),
            ("offset", "o_nonfinite"),
        ):
            if total[key]:
                parts.append(f"{label!r} ({int(total[key])} rows)")
        raise MissingValueError(
            f"input contains NaN or inf in {n_bad} of {n} rows: columns "
            + ", ".join(parts[:10])
            + ". Clean them first (e.g. dask_dataframe.dropna()); missing='drop' is not "
            "supported with Dask inputs."
        )
    negative = int(total["w_negative"])
    if negative:
        raise InvalidWeightsError(
            f"sample_weight must be >= 0; {negative} of {n} weights are negative."
        )
    n_obs = int(total["n_obs"])
    if n_obs == 0:
        raise InvalidWeightsError(
            f"sample_weight is zero for all {n} rows; at least one row needs a positive weight."
        )
    if errors:
        k, message = errors[0]
        raise InvalidResponseError(
            f"{message} [in {len(errors)} of {len(chunks)} chunks; the first is chunk {k}, "
            "rows counted within its blocks]"
        )
    if classes is not None:
        for label, count in zip(classes, total["n_class"], strict=True):
            if count == 0:
                raise InvalidResponseError(
                    f"LogisticRegression needs both classes among rows with positive "
                    f"sample_weight; class {label!r} has none, so only one class is left."
                )
    return DaskStats(
        n_obs=n_obs,
        sum_weights=float(total["sum_w"]),
        sum_wy=float(total["sum_wy"]),
        saturated_loglik=float(total["saturated"]),
        sum_log_weights=float(total["sum_log_w"]),
    )


def _design(
    X: DaskMatrix, names: Sequence[str], intercept_index: int | None, response: str, offset: bool
) -> Design:
    return Design(
        X=cast(Any, X),
        y=cast(Any, DaskColumn(response)),
        weights=cast(Any, DaskColumn("sample_weight")),
        offset=cast(Any, DaskColumn("offset")) if offset else None,
        names=tuple(names),
        intercept_index=intercept_index,
        response_name=response,
        n_dropped=0,
    )


# -- arrays -------------------------------------------------------------------------------------


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


def _vector_chunks(values: object, rows: tuple[int, ...], label: str) -> list[Any] | None:
    if values is None:
        return None
    if not dask.is_dask_collection(values):
        arr = np.asarray(values)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        values = da.from_array(arr, chunks=(rows,))
    arr_d = cast(Any, values)
    if hasattr(arr_d, "to_dask_array"):
        arr_d = arr_d.to_dask_array(lengths=True)
    if arr_d.ndim == 2 and arr_d.shape[1] == 1:
        arr_d = arr_d[:, 0]
    if arr_d.ndim != 1:
        raise ShapeMismatchError(f"{label} must be one-dimensional; got shape {arr_d.shape}.")
    if arr_d.shape[0] != sum(rows):
        raise ShapeMismatchError(
            f"{label} has {arr_d.shape[0]} rows but X has {sum(rows)}; they must have one row "
            "per observation."
        )
    return list(arr_d.rechunk((rows,)).to_delayed().ravel())


def from_arrays(
    X: Any,
    y: Any,
    sample_weight: Any,
    offset: Any,
    *,
    fit_intercept: bool,
    family: Family,
    encode_y: Callable[[Any, str], Any] | None = None,
) -> Design:
    """A validated Dask design from a ``dask.array`` X (y, weights, offset Dask or in memory).

    ``encode_y`` (a classifier's label encoder) is applied to the distinct values of y, found
    by one pass; each chunk is then encoded as 1.0 for ``classes_[1]``, 0.0 otherwise.
    """
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    X = da.asarray(X)
    if X.ndim != 2:
        raise ShapeMismatchError(f"X must be 2-dimensional; got shape {X.shape}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    X = X.rechunk({1: -1})
    if X.dtype != np.float64:
        X = X.astype(np.float64)
    if y is None:
        raise InvalidParameterError("fit() needs y (or a formula and a Dask DataFrame).")
    rows = tuple(int(n) for n in X.chunks[0])
    y_chunks = _vector_chunks(y, rows, "y")
    assert y_chunks is not None
    w_chunks = _vector_chunks(sample_weight, rows, "sample_weight")
    o_chunks = _vector_chunks(offset, rows, "offset")
    classes = None
    positive = None
    if encode_y is not None:
        uniques = dask.compute(*[delayed(pd.unique)(c) for c in y_chunks])
        labels = pd.unique(np.concatenate([np.asarray(u) for u in uniques]))
        encode_y(labels, "y")
        classes = np.asarray(encode_y.__self__.classes_)  # type: ignore[attr-defined]
        positive = classes[1]
    x_chunks = list(X.to_delayed().ravel())
    parts = [
        delayed(_ArrayChunk, pure=True)(
            x_chunks[k],
            y_chunks[k],
            None if w_chunks is None else w_chunks[k],
            None if o_chunks is None else o_chunks[k],
            positive,
        )
        for k in range(len(rows))
    ]
    p = int(X.shape[1])
    matrix = DaskMatrix(parts, rows, p, intercept=fit_intercept)
    names = [f"x{j}" for j in range(p)]
    if fit_intercept:
        names = ["intercept", *names]
    stats = validate(matrix, family, names, "y", classes)
    return _design(
        matrix.with_stats(stats), names, 0 if fit_intercept else None, "y", o_chunks is not None
    )


# -- data frames with a formula -----------------------------------------------------------------


def _categorical_columns(parsed: Formula, meta: pd.DataFrame, used: Sequence[str]) -> list[str]:
    """Columns whose levels the spec needs: non-numeric ones, and any named inside ``C(...)``."""
    out = {
        c
        for c in used
        if not pd.api.types.is_numeric_dtype(meta[c]) or pd.api.types.is_bool_dtype(meta[c])
    }
    for part in (parsed.lhs, parsed.rhs):
        for term in part:
            for factor in term.factors:
                expr = str(factor.expr)
                if expr.startswith("C("):
                    out.update(c for c in used if c in expr)
    return sorted(out)


def _partition_info(
    frame: pd.DataFrame, cols: list[str], cats: list[str], head: int
) -> dict[str, Any]:
    from .formula import _missing_mask

    _bad, counts = _missing_mask(frame[cols])
    return {
        "n": len(frame),
        "missing": counts,
        "levels": {c: pd.unique(frame[c].dropna()) for c in cats},
        "head": frame.iloc[:head] if head else None,
    }


def _spec_frame(head: pd.DataFrame, levels: dict[str, list[Any]]) -> pd.DataFrame:
    """A small frame of the data's first rows in which every level of every categorical occurs."""
    frame = head.copy()
    extra = []
    for col, values in levels.items():
        present = set(frame[col].dropna())
        for value in values:
            if value not in present:
                row = frame.iloc[[0]].copy()
                row[col] = value
                extra.append(row)
    if extra:
        frame = pd.concat([frame, *extra], ignore_index=True)
    for col, values in levels.items():
        if isinstance(head[col].dtype, pd.CategoricalDtype):
            frame[col] = pd.Categorical(frame[col].astype(object), categories=values)
    return frame


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


@dataclass(frozen=True, slots=True)
class FormulaDesign:
    """What :func:`from_dataframe` hands back to the estimator."""

    #: The validated Dask design.
    design: Design
    #: Fitted right-hand-side spec (for predictions on new data).
    spec: ModelSpec
    #: Columns of the data the right-hand side uses (``feature_names_in_``).
    used: tuple[str, ...]


def from_dataframe(
    formula: str,
    data: Any,
    *,
    fit_intercept: bool,
    family: Family,
    sample_weight: object = None,
    offset: object = None,
    encode_y: Callable[[Any, str], Any] | None = None,
    head: int = 50,
) -> FormulaDesign:
    """A validated Dask design from a formula and a ``dask.dataframe.DataFrame``.

    One pass over the columns the formula names finds the partition lengths, the missing values
    and every categorical level; the spec is learned from the first rows extended so that every
    level occurs, and applied to every partition. Stateful transforms (``center``, ``scale``,
    splines) would be learned from those rows only, so they are refused.
    """
    if "~" not in formula:
        raise FormulaError(f"formula={formula!r} has no '~'; write it as 'y ~ x1 + x2'.")
    if not fit_intercept:
        formula = f"{formula} - 1"
    for label, value in (("sample_weight", sample_weight), ("offset", offset)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(
                f"with a Dask DataFrame, {label} must name a column of the data; got "
                f"{type(value).__name__}."
            )
    try:
        parsed = Formula(formula)
        required = set(parsed.lhs.required_variables) | set(parsed.rhs.required_variables)
    except (FormulaicError, SyntaxError, ValueError, AttributeError) as exc:
        raise FormulaError(f"cannot parse formula={formula!r}: {exc}") from None
    columns = [str(c) for c in data.columns]
    from .formula import _factor_names

    required |= _factor_names(parsed, data._meta)  # arguments of transforms such as center(z)
    used = sorted(v for v in required if v in columns)
    absent = sorted(v for v in required if v not in columns)
    if absent:
        raise FormulaError(
            f"formula={formula!r} names column(s) {absent} that are not in the data "
            f"({len(columns)} columns: {columns[:20]}); check the spelling."
        )
    extra = [c for c in (sample_weight, offset) if isinstance(c, str)]
    for label, col in (("sample_weight", sample_weight), ("offset", offset)):
        if isinstance(col, str) and col not in columns:
            raise FormulaError(
                f"{label}={col!r} names no column of the data; available columns: {columns[:20]}."
            )
    wanted = sorted(set(used) | set(extra))
    frame = data[wanted]
    meta = frame._meta
    response = str(parsed.lhs).strip()
    cats = _categorical_columns(parsed, meta, used)
    if encode_y is not None and response in wanted and response not in cats:
        cats.append(response)
    infos = dask.compute(
        *[
            delayed(_partition_info, pure=True)(part, wanted, cats, head if k == 0 else 0)
            for k, part in enumerate(frame.to_delayed())
        ]
    )
    lengths = [info["n"] for info in infos]
    n = sum(lengths)
    missing: dict[str, int] = {}
    for info in infos:
        for col, k in info["missing"].items():
            missing[col] = missing.get(col, 0) + k
    if missing:
        detail = ", ".join(f"{k!r} ({v} rows)" for k, v in sorted(missing.items()))
        raise MissingValueError(
            f"data contains NaN, None or inf in columns {detail} (of {n} rows). Clean them "
            "first, e.g. data.dropna(subset=[...]); missing='drop' is not supported with Dask "
            "inputs."
        )
    if n == 0:
        raise EmptyDataError("no rows to fit: the data has 0 rows.")
    levels: dict[str, list[Any]] = {}
    for col in cats:
        values = pd.unique(np.concatenate([np.asarray(info["levels"][col]) for info in infos]))
        dtype = meta[col].dtype
        if (
            isinstance(dtype, pd.CategoricalDtype)
            and dtype.categories is not None
            and not (
                len(dtype.categories) == 1 and str(dtype.categories[0]) == "__UNKNOWN_CATEGORIES__"
            )
        ):
            levels[col] = list(dtype.categories)
        else:
            levels[col] = sorted(values.tolist())
    small = _spec_frame(infos[0]["head"], levels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrices = model_matrix(formula, small, na_action="ignore")
    except FormulaicError as exc:
        raise FormulaError(f"cannot evaluate formula={formula!r} on the data: {exc}") from None
    spec = matrices.rhs.model_spec
    if spec.transform_state:
        raise FormulaError(
            f"formula={formula!r} uses stateful transform(s) {sorted(spec.transform_state)}, "
            "whose state (means, scales, knots) would be learned from one partition; with a "
            "Dask DataFrame compute those columns first and name them in the formula."
        )
    lhs = matrices.lhs
    if lhs is None or lhs.shape[1] == 0:
        raise FormulaError(f"formula={formula!r} has no response; write it as 'y ~ x1 + x2'.")
    if response not in columns and lhs.shape[1] != 1:
        raise FormulaError(f"formula={formula!r} needs a single response column.")
    lhs_spec = None if response in columns else lhs.model_spec
    classes = None
    positive = None
    if encode_y is not None:
        if response not in cats:
            raise FormulaError("a classifier's response must be a column of the data.")
        encode_y(np.asarray(levels[response]), response)
        classes = np.asarray(encode_y.__self__.classes_)  # type: ignore[attr-defined]
        positive = classes[1]
    names = tuple(str(c) for c in matrices.rhs.columns)
    recipe = _Recipe(
        spec,
        lhs_spec,
        response,
        positive,
        sample_weight if isinstance(sample_weight, str) else None,
        offset if isinstance(offset, str) else None,
    )
    parts = [delayed(_FrameChunk, pure=True)(part, recipe) for part in frame.to_delayed()]
    matrix = DaskMatrix(parts, lengths, len(names), intercept=False)
    stats = validate(matrix, family, names, response, classes)
    design = _design(
        matrix.with_stats(stats),
        names,
        names.index("Intercept") if "Intercept" in names else None,
        response,
        offset is not None,
    )
    features = sorted(v for v in spec.required_variables if v in columns)
    return FormulaDesign(design=design, spec=spec, used=tuple(features))


# -- prediction ---------------------------------------------------------------------------------


def _eta_block(xb: Any, coef: FloatArray, intercept: bool) -> FloatArray:
    return DenseMatrix(np.asarray(xb, dtype=np.float64), intercept).matvec(coef)


def _eta_frame(
    frame: pd.DataFrame, spec: ModelSpec, coef: FloatArray, offset_col: str | None
) -> pd.Series:
    from .formula import transform

    eta = transform(spec, frame) @ coef
    if offset_col is not None:
        eta = eta + frame[offset_col].to_numpy(dtype=np.float64)
    return pd.Series(eta, index=frame.index, dtype=np.float64)


def predict_linear(
    X: Any, offset: Any, coef: FloatArray, intercept: bool, spec: ModelSpec | None
) -> Any:
    """Lazy eta = X coef + offset: a Dask array for a Dask array, a Dask Series for a frame."""
    if spec is not None:
        if not hasattr(X, "map_partitions"):
            raise InvalidInputError(
                "this model was fitted with a formula; pass a Dask DataFrame to predict."
            )
        if offset is not None and not isinstance(offset, str):
            raise InvalidInputError("with a Dask DataFrame, offset must name a column of it.")
        return X.map_partitions(_eta_frame, spec, coef, offset, meta=pd.Series(dtype=np.float64))
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    X = da.asarray(X).rechunk({1: -1})
    if X.shape[1] + int(intercept) != coef.shape[0]:
        raise ShapeMismatchError(
            f"X has {X.shape[1]} features, but the model was fitted with "
            f"{coef.shape[0] - int(intercept)} features."
        )
    eta = X.map_blocks(_eta_block, coef, intercept, drop_axis=1, dtype=np.float64)
    if offset is not None:
        eta = eta + (offset if dask.is_dask_collection(offset) else np.asarray(offset, float))
    return eta


def apply(values: Any, func: Callable[[Any], Any], dtype: Any = np.float64) -> Any:
    """``func`` on every chunk of a lazy Dask array or Series (prediction transforms)."""
    if hasattr(values, "map_partitions"):
        return values.map_partitions(
            lambda s: pd.Series(func(s.to_numpy()), index=s.index),
            meta=pd.Series(dtype=dtype),
        )
    return values.map_blocks(func, dtype=dtype)


def proba(p: Any, classes: np.ndarray) -> Any:
    """Lazy class probabilities ``[1 - p, p]`` from a lazy Dask array or Series of p."""
    if hasattr(p, "map_partitions"):
        names = [str(c) for c in classes]
        return p.map_partitions(
            lambda s: pd.DataFrame({names[0]: 1.0 - s, names[1]: s}, index=s.index),
            meta=pd.DataFrame({names[0]: pd.Series(dtype=float), names[1]: pd.Series(dtype=float)}),
        )
    return da.stack([1.0 - p, p], axis=1)


def check_cov(cov_type: str, information: str, family: Family, groups: object) -> None:
    """Raise unless the covariance needs no per-row pass (the only kind on Dask)."""
    if cov_type != "nonrobust" or groups is not None:
        raise InvalidParameterError(
            f"cov_type={cov_type!r} is not available for a Dask fit: sandwich and cluster "
            "covariances need per-row scores on the client. Use cov_type='nonrobust' "
            "(optionally with scale='X2')."
        )
    if information == "observed" and not family.is_canonical:
        raise InvalidParameterError(
            "information='observed' with a non-canonical link is not available for a Dask fit; "
            "use information='expected'."
        )
