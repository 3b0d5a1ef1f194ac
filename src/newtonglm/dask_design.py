"""Dask inputs → a validated Dask design; lazy predictions on Dask collections.

The counterpart of ``design.py`` and ``formula.py`` for data that stay distributed: a
``dask.array`` (X, y, weights, offset) or, with a formula, a ``dask.dataframe`` become a
:class:`~.dask_backend.DaskMatrix` of delayed row chunks. Inputs are validated in one pass that
counts missing values, negative weights and out-of-range responses per chunk and collects the
sums the fit statistics need (:class:`~.dask_backend.DaskStats`). With a formula, a first cheap
pass over the columns the formula names finds every categorical level and the partition
lengths; the model spec is then learned once from a small pandas frame in which every level
occurs, and applied to every partition, so every partition has the same columns.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import dask
import dask.array as da
import numpy as np
import pandas as pd
from dask.delayed import delayed
from formulaic import Formula, ModelSpec, model_matrix
from formulaic.errors import FormulaicError

from . import parallel
from ._typing import FloatArray
from .dask_backend import (
    DaskColumn,
    DaskMatrix,
    DaskStats,
    _ArrayChunk,
    _Chunk,
    _FrameChunk,
    _Recipe,
)
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
from .families import Family
from .matrix import DenseMatrix

__all__ = [
    "FormulaDesign",
    "apply",
    "check_cov",
    "from_arrays",
    "from_dataframe",
    "predict_linear",
    "proba",
    "validate",
]


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
    # The chunks run on the threaded scheduler and sum Σ w y and Σ w e^offset by BLAS dot
    # products: BLAS serial, as for the passes (dask_backend._compute); its own threads would
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
