"""Input validation: arrays or DataFrames in, a clean :class:`Design` out.

This is the one place that turns what a user passes to ``fit`` into float64 arrays: it checks
lengths, finiteness (naming the offending columns and counting rows), weights, and applies the
``missing=`` policy. The formula path (``formula.py``) builds X and y from a DataFrame and then
hands them to :func:`finalize` like every other input.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from types import ModuleType

import numpy as np
import scipy.sparse as sp

from .. import parallel
from .._typing import BoolArray, FloatArray
from ..exceptions import (
    EmptyDataError,
    InvalidWeightsError,
    MissingValueError,
    ShapeMismatchError,
)
from .base import Design
from .matrix import DenseMatrix, as_matrix, block_layout

_compiled: ModuleType | None
try:  # the compiled kernel's row scan (src/newtonglm/_gram.c), built when a compiler was found
    from .. import _gram as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None

#: Entries of X from which its row sums run with single-threaded BLAS (see nonfinite_rows).
_SERIAL_BLAS_SIZE = 2**20
#: Largest prior weight accepted: Σ w x² and the deviance stay far inside double range.
MAX_WEIGHT = 1e150
#: Rows per piece of the compiled row scan (pieces are split over the kernel's threads).
_SCAN_ROWS = 65536

__all__ = ["as_vector", "finalize", "input_row", "nonfinite_rows", "require_finite_x"]


def as_vector(values: object, name: str) -> FloatArray:
    """Convert a 1-d input (array, list, Series, single-column frame) to a float64 vector."""
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ShapeMismatchError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise MissingValueError(f"{name} must be numeric; got dtype {arr.dtype}.") from None


def input_row(position: int, kept_rows: BoolArray | None) -> int:
    """Row ``position`` of the rows kept, numbered as in the input (before rows were dropped)."""
    return position if kept_rows is None else int(np.flatnonzero(kept_rows)[position])


def _sparse_nonfinite(values: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the stored NaN / ±inf entries of a CSR or CSC matrix."""
    m = values if values.format in ("csr", "csc") else values.tocsr()
    where = np.flatnonzero(~np.isfinite(m.data))
    major = np.searchsorted(m.indptr, where, side="right") - 1
    minor = m.indices[where]
    return (major, minor) if m.format == "csr" else (minor, major)


def nonfinite_rows(values: FloatArray) -> BoolArray:
    """Boolean mask of rows holding NaN or ±inf (any column for a matrix, sparse included)."""
    if sp.issparse(values):
        bad = np.zeros(values.shape[0], dtype=bool)
        bad[_sparse_nonfinite(values)[0]] = True
        return bad
    if values.ndim == 2 and _compiled is not None and _scannable(values):
        # One read of X in C (a row is flagged when its sum of x * 0 is NaN), the GIL released
        # and the rows split over threads: 1,000,000 x 20 in ~15 ms on one thread, where BLAS's
        # X @ 1 on a C-ordered X took 28 ms single-threaded inside a fit.
        bad = np.zeros(values.shape[0], dtype=bool)
        scan = _compiled.nonfinite_rows
        pieces = [
            slice(a, min(a + _SCAN_ROWS, values.shape[0]))
            for a in range(0, values.shape[0], _SCAN_ROWS)
        ]

        def run(group: Sequence[slice]) -> None:
            for rows in group:
                scan(values[rows], bad[rows])

        parallel.map_groups(pieces, run)  # threads when there are pieces enough; no BLAS
        return bad
    if values.ndim == 2:
        # A row sum is non-finite whenever the row holds NaN or inf (and, rarely, when finite
        # values overflow); only those candidate rows are checked element by element, so no
        # n × d temporary is made. The sums by BLAS (X @ 1): NumPy's sum along short rows of a
        # C-ordered X took 23 ms at 1,000,000 x 20, the product 5 ms in either order.
        # Large X: single-threaded BLAS (held to the end of the fit, as the kernel's threaded
        # passes would set it anyway): OpenBLAS's threads left spinning after a threaded gemv
        # slowed the fit's first passes by ~20 ms at 1,000,000 x 20.
        big = values.size >= _SERIAL_BLAS_SIZE
        with (
            parallel.serial_blas() if big else nullcontext(),
            np.errstate(over="ignore", invalid="ignore"),
        ):
            sums = values @ np.ones(values.shape[1]) if values.shape[1] else np.zeros(len(values))
            candidates = np.flatnonzero(~np.isfinite(sums))
        bad = np.zeros(values.shape[0], dtype=bool)
        if candidates.size:
            bad[candidates] = ~np.isfinite(values[candidates]).all(axis=1)
        return bad
    return np.asarray(~np.isfinite(values), dtype=bool)


def _scannable(values: np.ndarray) -> bool:
    """Whether the compiled row scan reads ``values``: float64, unit stride along rows or cols."""
    return values.dtype == np.float64 and block_layout(values) is not None


def _describe_nonfinite(X: FloatArray, names: Sequence[str]) -> str:
    if sp.issparse(X):
        bad_rows, bad_cols = _sparse_nonfinite(X)
        pairs = np.unique(np.column_stack([bad_rows, bad_cols]), axis=0)  # a row once per column
        counts = np.bincount(pairs[:, 1], minlength=X.shape[1])
    else:
        counts = (~np.isfinite(X)).sum(axis=0)
    cols = [f"{names[int(j)]!r} ({int(counts[j])} rows)" for j in np.flatnonzero(counts)]
    return ", ".join(cols[:10]) + (f" and {len(cols) - 10} more" if len(cols) > 10 else "")


def _x_part(X: FloatArray, names: Sequence[str], implicit_intercept: bool) -> str:
    """The message's part on X: its columns holding NaN/inf, by name.

    ``names`` leads with the intercept's name when the intercept is implicit (not in X).
    """
    return "X columns " + _describe_nonfinite(X, names[1:] if implicit_intercept else names)


def _nonfinite_error(n_bad: int, n: int, parts: list[str]) -> MissingValueError:
    return MissingValueError(
        f"input contains NaN or inf in {n_bad} of {n} rows: "
        + "; ".join(parts)
        + ". Clean them, or pass missing='drop' to drop those rows."
    )


def require_finite_x(design: Design) -> None:
    """Raise :class:`MissingValueError` if X holds NaN or inf (as :func:`finalize` would have).

    For a design built with ``check_x=False``. A fit calls it when its first full pass comes
    out non-finite: a NaN or inf anywhere in X makes that pass's Gram diagonal NaN or inf
    (``W x²`` with ``W >= 0``, and ``0 * inf`` is NaN), so a finite pass proves X finite and
    the separate read of X is saved. Finite values can overflow the pass too; then this scan
    finds nothing and the fit goes on.
    """
    if design.x_checked or not isinstance(design.X, DenseMatrix):
        return
    X = design.X.data
    bad = nonfinite_rows(X)
    if bad.any():
        raise _nonfinite_error(
            int(bad.sum()), X.shape[0], [_x_part(X, design.names, design.X.intercept)]
        )


def finalize(
    X: FloatArray,
    y: FloatArray,
    names: Sequence[str],
    *,
    sample_weight: object = None,
    offset: object = None,
    intercept_index: int | None,
    response_name: str = "y",
    missing: str = "raise",
    n_dropped: int = 0,
    implicit_intercept: bool = False,
    kept_rows: BoolArray | None = None,
    check_x: bool = True,
) -> Design:
    """Check lengths, finiteness and weights; apply the missing-value policy; return a Design.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Design matrix, intercept column included when the model has one (sparse CSR/CSC
        is kept sparse).
    y : ndarray of shape (n_samples,)
        Response.
    names : sequence of str
        Column names of X.
    sample_weight, offset : array-like of shape (n_samples,) or None
        Prior weights and offset.
    intercept_index : int or None
        Position of the intercept column.
    response_name : str, default="y"
        Name used in messages.
    missing : {"raise", "drop"}, default="raise"
        What to do with rows holding NaN or inf.
    n_dropped : int, default=0
        Rows already dropped upstream (formula path).
    implicit_intercept : bool, default=False
        X lacks the intercept column, which is then implicit at ``intercept_index == 0``
        (``names`` includes it): X is used as it is, not copied.
    kept_rows : ndarray of bool or None, default=None
        Which of the user's rows the inputs here are (the rows kept upstream), None when they
        are all of them; combined with the rows dropped here into ``Design.kept_rows``.
    check_x : bool, default=True
        False: with ``missing='raise'`` and a dense X, leave X's NaN/inf check to the caller's
        first pass over X (see :func:`require_finite_x`; saves one read of X).

    Returns
    -------
    Design
    """
    if implicit_intercept and intercept_index != 0:
        raise ValueError("an implicit intercept must be column 0")
    n = X.shape[0]
    if n == 0:
        raise EmptyDataError("cannot fit a model to 0 rows; X is empty.")
    arrays: dict[str, FloatArray] = {response_name: y}
    weights = None if sample_weight is None else as_vector(sample_weight, "sample_weight")
    offs = None if offset is None else as_vector(offset, "offset")
    if weights is not None:
        arrays["sample_weight"] = weights
    if offs is not None:
        arrays["offset"] = offs
    for label, arr in arrays.items():
        if arr.shape[0] != n:
            raise ShapeMismatchError(
                f"{label} has {arr.shape[0]} rows but X has {n}; they must have one row per "
                "observation."
            )

    defer = not check_x and missing == "raise" and isinstance(X, np.ndarray) and X.ndim == 2
    x_bad = np.zeros(n, dtype=bool) if defer else nonfinite_rows(X)
    bad = x_bad.copy()
    for arr in arrays.values():
        bad |= ~np.isfinite(arr)
    if bad.any():
        if missing == "drop":
            keep = ~bad
            X, y = X[np.flatnonzero(keep)], y[keep]
            weights = None if weights is None else weights[keep]
            offs = None if offs is None else offs[keep]
            n_dropped += int(bad.sum())
            if kept_rows is None:
                kept_rows = keep
            else:  # rows of the user's input that survived both steps
                kept_rows = kept_rows.copy()
                kept_rows[kept_rows] = keep
            if X.shape[0] == 0:
                raise EmptyDataError(
                    f"every one of the {n} rows holds NaN or inf; nothing is left to fit after "
                    "missing='drop'."
                )
        else:
            if defer:  # the message names X's columns and counts every bad row
                x_bad = nonfinite_rows(X)
                bad |= x_bad
            parts = [_x_part(X, names, implicit_intercept)] if x_bad.any() else []
            for label, arr in arrays.items():
                k = int((~np.isfinite(arr)).sum())
                if k:
                    parts.append(f"{label!r} ({k} rows)")
            raise _nonfinite_error(int(bad.sum()), n, parts)

    unit = weights is None
    if weights is None:
        # Unit weights as a read-only broadcast of one 1.0: an n-vector of ones costs
        # 8 bytes a row (5% of X at 20 columns) and carries no information.
        weights = np.broadcast_to(np.float64(1.0), (X.shape[0],))
    else:
        negative = weights < 0
        if negative.any():
            first = input_row(int(np.flatnonzero(negative)[0]), kept_rows)
            raise InvalidWeightsError(
                f"sample_weight must be >= 0; {int(negative.sum())} of {weights.size} weights "
                f"are negative (first at row {first})."
            )
        if float(weights.max()) > MAX_WEIGHT:
            row = int(np.argmax(weights))
            raise InvalidWeightsError(
                f"sample_weight reaches {float(weights[row]):.0e} (row "
                f"{input_row(row, kept_rows)}): the sums of the "
                "fit would overflow double precision; divide the weights by a constant (the "
                "coefficients do not change, the standard errors scale by its square root)."
            )
        if not (weights > 0).any():
            raise InvalidWeightsError(
                f"sample_weight is zero for all {weights.size} rows; at least one row needs a "
                "positive weight."
            )
    return Design(
        X=as_matrix(X, intercept=implicit_intercept),
        y=np.ascontiguousarray(y, dtype=np.float64),
        weights=weights if unit else np.ascontiguousarray(weights, dtype=np.float64),
        offset=None if offs is None else np.ascontiguousarray(offs, dtype=np.float64),
        names=tuple(names),
        intercept_index=intercept_index,
        response_name=response_name,
        n_dropped=n_dropped,
        kept_rows=kept_rows,
        x_checked=not defer,
    )
