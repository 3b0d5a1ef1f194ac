"""Dask inputs → a validated Dask design, in one validation pass over the chunks.

The counterpart of ``design.validate`` for data that stay distributed: a ``dask.array`` (X, y,
weights, offset) becomes a :class:`~.matrix.DaskMatrix` of delayed row chunks (a
``dask.dataframe`` with a formula goes through ``dask.formula``). One pass counts missing
values, negative weights and out-of-range responses per chunk and collects the sums the fit
statistics need (:class:`~.matrix.DaskStats`); the errors are those of the in-memory path, with
counts over all chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import dask
import dask.array as da
import numpy as np
import pandas as pd
from dask.delayed import delayed

from .. import parallel
from .._typing import FloatArray
from ..design.base import Design
from ..design.validate import MAX_WEIGHT, nonfinite_rows
from ..exceptions import (
    EmptyDataError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidWeightsError,
    MissingValueError,
    ShapeMismatchError,
)
from ..families import Family
from .matrix import ArrayChunk, Chunk, DaskColumn, DaskMatrix, DaskStats

__all__ = ["Encoder", "design_of", "from_arrays", "validate"]

#: A response encoder: (y, column name) → (float64 response, class labels or None).
Encoder = Callable[[Any, str], tuple[FloatArray, np.ndarray | None]]


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
    out["w_huge"] = int((wb > MAX_WEIGHT).sum())
    out["n_obs"] = int(positive.sum())
    out["sum_w"] = float(wb.sum())
    out["sum_wy"] = float(wb @ yb)
    with np.errstate(over="ignore"):
        out["sum_w_exp_offset"] = out["sum_w"] if ob is None else float(wb @ np.exp(ob))
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
    chunk: Chunk, family: Family, response_name: str, need_classes: bool
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
    # The chunks run on the threaded scheduler and sum Σ w y and Σ w e^offset by BLAS dot
    # products: BLAS serial, as for the passes (executor._compute); its own threads would
    # oversubscribe the cores and spin on into the fit's first passes.
    with parallel.serial_blas():
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
    if int(total["w_huge"]):
        raise InvalidWeightsError(
            f"sample_weight exceeds {MAX_WEIGHT:.0e} in {int(total['w_huge'])} rows: the sums of "
            "the fit would overflow double precision; divide the weights by a constant (the "
            "coefficients do not change, the standard errors scale by its square root)."
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
        sum_w_exp_offset=float(total["sum_w_exp_offset"]),
        saturated=float(total["saturated"]),
        sum_log_weights=float(total["sum_log_w"]),
    )


def design_of(
    X: DaskMatrix, names: Sequence[str], intercept_index: int | None, response: str, offset: bool
) -> Design:
    """The Design of a validated Dask matrix: placeholder columns for y, weights, offset."""
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
    encode: Encoder | None = None,
) -> tuple[Design, np.ndarray | None]:
    """A validated Dask design from a ``dask.array`` X (y, weights, offset Dask or in memory).

    ``encode`` (a classifier's label encoder) is applied to the distinct values of y, found by
    one pass; each chunk is then encoded as 1.0 for ``classes_[1]``, 0.0 otherwise. Returns the
    design and the classes (None without ``encode``).
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
    if encode is not None:
        uniques = dask.compute(*[delayed(pd.unique)(c) for c in y_chunks])
        labels = pd.unique(np.concatenate([np.asarray(u) for u in uniques]))
        _, found = encode(labels, "y")
        assert found is not None
        classes = np.asarray(found)
        positive = classes[1]
    x_chunks = list(X.to_delayed().ravel())
    parts = [
        delayed(ArrayChunk, pure=True)(
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
    design = design_of(
        matrix.with_stats(stats), names, 0 if fit_intercept else None, "y", o_chunks is not None
    )
    return design, classes
