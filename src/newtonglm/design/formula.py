"""The formulaic bridge: formula + DataFrame → design matrix, and the fitted spec → new data.

The model spec learned at fit time (categorical levels, stateful transforms) is kept and
re-applied to new data, so prediction sees the same columns; a level the fit never saw is an
error naming the column and the level, never a silent row of zeros.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from formulaic import Formula, ModelSpec, model_matrix
from formulaic.errors import FormulaicError

from .._typing import BoolArray, FloatArray
from ..exceptions import (
    EmptyDataError,
    FormulaError,
    InvalidInputError,
    MissingValueError,
    ShapeMismatchError,
    UnseenLevelError,
)
from .frames import drop_unused_levels, normalise_columns
from .storage import SPARSE_AUTO_RATIO, want_sparse
from .validate import as_vector

__all__ = [
    "FormulaParts",
    "build",
    "missing_mask",
    "parse",
    "resolve_column",
    "sides",
    "transform",
]


try:  # formulaic >= 1.0 names the warning; older releases warn with a plain UserWarning.
    from formulaic.errors import DataMismatchWarning as _MismatchWarning
except ImportError:  # pragma: no cover
    _MismatchWarning = UserWarning  # type: ignore[misc,assignment]


@dataclass(frozen=True, slots=True)
class FormulaParts:
    """What the formula path hands on to :func:`newtonglm.design.validate.finalize`."""

    #: Design matrix (float64): a Fortran ndarray, or a scipy.sparse CSC matrix.
    X: FloatArray | sp.csc_matrix
    #: Response values as found in the data (not yet converted for classifiers).
    y: np.ndarray
    #: Term (column) names, formulaic's naming (``Intercept``, ``C(g)[T.b]``, ``x:z``).
    names: tuple[str, ...]
    #: Fitted right-hand-side spec, re-applied to new data by :func:`transform`.
    spec: ModelSpec
    #: Name of the response (the left-hand side).
    response_name: str
    #: Index of the ``Intercept`` column, or None.
    intercept_index: int | None
    #: Prior weights and offset, aligned with the rows kept.
    sample_weight: FloatArray | None
    offset: FloatArray | None
    #: Rows dropped for missing values before the design was built.
    n_dropped: int
    #: Which rows of the data were kept, None when none was dropped.
    kept_rows: BoolArray | None = None


def _factor_names(parsed: Any, data: pd.DataFrame) -> set[str]:
    """Columns of ``data`` named anywhere in the formula's factor expressions.

    formulaic's ``required_variables`` omits the arguments of stateful transforms such as
    ``center(z)``; reading the names from each factor's expression finds them, so a NaN in
    ``z`` is reported against ``z`` rather than as a whole column of NaN after centring.
    """
    names: set[str] = set()
    for part in sides(parsed):
        for term in part:
            for factor in term.factors:
                try:
                    tree = ast.parse(str(factor.expr), mode="eval")
                except SyntaxError:
                    continue
                names.update(
                    node.id
                    for node in ast.walk(tree)
                    if isinstance(node, ast.Name) and node.id in data.columns
                )
    return names


def sides(parsed: Any) -> tuple[Any, ...]:
    """The parts of a parsed formula: (lhs, rhs), or (rhs,) for a one-sided formula."""
    return (parsed.lhs, parsed.rhs) if hasattr(parsed, "lhs") else (parsed,)


def parse(formula: str, data: Any, *, fit_intercept: bool) -> tuple[str, Any, list[str]]:
    """Parse ``formula`` against the columns of ``data`` (a DataFrame, or a Dask frame's meta).

    Returns the formula as evaluated (``- 1`` appended when ``fit_intercept`` is False), the
    parsed formulaic ``Formula`` and the sorted columns it uses (transform arguments
    included). Raises :class:`FormulaError` for a formula without ``~``, one formulaic cannot
    parse, or one naming columns the data lacks.
    """
    if "~" not in formula:
        raise FormulaError(f"formula={formula!r} has no '~'; write it as 'y ~ x1 + x2'.")
    if not fit_intercept:
        formula = f"{formula} - 1"
    try:
        parsed = Formula(formula)
        required = set().union(*(part.required_variables for part in sides(parsed)))
    except (FormulaicError, SyntaxError, ValueError, AttributeError) as exc:
        raise FormulaError(f"cannot parse formula={formula!r}: {exc}") from None
    columns = [str(c) for c in data.columns]
    used = sorted(required | _factor_names(parsed, data))
    absent = [v for v in used if v not in columns]
    if absent:
        raise FormulaError(
            f"formula={formula!r} names column(s) {absent} that are not in the data "
            f"({len(columns)} columns: {columns[:20]}); check the spelling."
        )
    return formula, parsed, used


def resolve_column(value: object, data: pd.DataFrame, label: str) -> FloatArray | None:
    """Return ``value`` as a float vector; a string names a column of ``data``."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in data.columns:
            raise FormulaError(
                f"{label}={value!r} names no column of the data; available columns: "
                f"{list(map(str, data.columns))[:20]}."
            )
        value = data[value]
    return as_vector(value, label)


def missing_mask(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Rows with NaN/None (any column) or ±inf (numeric columns), and the count per column."""
    bad = np.zeros(len(frame), dtype=bool)
    counts: dict[str, int] = {}
    for col in frame.columns:
        series = frame[col]
        mask = series.isna().to_numpy().copy()
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            mask |= np.isinf(series.to_numpy(dtype=np.float64, na_value=np.nan))
        if mask.any():
            counts[str(col)] = int(mask.sum())
            bad |= mask
    return bad, counts


def build(
    formula: str,
    data: Any,
    *,
    fit_intercept: bool = True,
    sample_weight: object = None,
    offset: object = None,
    missing: str = "raise",
    sparse: bool | str = False,
    response: object = None,
) -> FormulaParts:
    """Evaluate ``formula`` on ``data`` and return the design and the spec to reuse.

    Parameters
    ----------
    formula : str
        A Wilkinson formula with a single response, e.g. ``"y ~ x + C(g)"``.
    data : pandas.DataFrame
        The data the formula refers to.
    fit_intercept : bool, default=True
        When False, the intercept is removed from the formula (as ``- 1`` would).
    sample_weight, offset : array-like, str or None
        Prior weights and offset; a string names a column of ``data``.
    missing : {"raise", "drop"}, default="raise"
        What to do with rows holding missing values in the columns the formula uses.
    sparse : {"auto", True, False}, default=False
        Build the design as a scipy.sparse CSC matrix (formulaic's ``output="sparse"``);
        "auto" does so when it is estimated clearly smaller
        (:func:`~.storage.estimate_sparse_bytes`) and keeps it only if it really is.
    response : array-like of shape (n_samples,), optional
        The response of a one-sided formula (``"~ x + C(g)"``), one value per row of ``data``.

    Returns
    -------
    FormulaParts
    """
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(
            f"with formula={formula!r}, X must be a pandas DataFrame holding the columns the "
            f"formula names; got {type(data).__name__}."
        )
    formula, parsed, used = parse(formula, data, fit_intercept=fit_intercept)
    data = normalise_columns(data, used)
    n_rows = len(data)
    one_sided = not hasattr(parsed, "lhs")
    given_y = None
    if one_sided:
        if response is None:
            raise FormulaError(
                f"formula={formula!r} has no response; write it as 'y ~ x1 + x2', or pass y to "
                "fit() with a one-sided formula."
            )
        given_y = np.asarray(response)
        if given_y.ndim == 2 and given_y.shape[1] == 1:
            given_y = given_y[:, 0]
        if given_y.shape[0] != n_rows:
            raise ShapeMismatchError(
                f"y has {given_y.shape[0]} rows but the data has {n_rows}; they must have one "
                "row per observation."
            )
    weights = resolve_column(sample_weight, data, "sample_weight")
    offs = resolve_column(offset, data, "offset")
    for label, arr in (("sample_weight", weights), ("offset", offs)):
        if arr is not None and arr.shape[0] != n_rows:
            raise ShapeMismatchError(
                f"{label} has {arr.shape[0]} rows but the data has {n_rows}; they must have "
                "one row per observation."
            )
    cols = [v for v in used if v in data.columns]
    bad, counts = missing_mask(data[cols])
    if given_y is not None:
        absent_y = np.asarray(pd.isna(given_y), dtype=bool)
        if absent_y.any():
            counts["y"] = int(absent_y.sum())
            bad |= absent_y
    for label, arr in (("sample_weight", weights), ("offset", offs)):
        if arr is not None:
            mask = ~np.isfinite(arr)
            if mask.any():
                counts[label] = int(mask.sum())
                bad |= mask
    n_dropped = 0
    keep: BoolArray | None = None
    if bad.any():
        if missing != "drop":
            detail = ", ".join(f"{k!r} ({v} rows)" for k, v in counts.items())
            raise MissingValueError(
                f"data contains NaN, None or inf in {int(bad.sum())} of {n_rows} rows, in "
                f"columns {detail}. Clean them, or pass missing='drop' to drop those rows."
            )
        keep = ~bad
        data = data.loc[keep]
        weights = None if weights is None else weights[keep]
        offs = None if offs is None else offs[keep]
        given_y = None if given_y is None else given_y[keep]
        n_dropped = int(bad.sum())
    if len(data) == 0:
        raise EmptyDataError(
            f"no rows to fit: the data has {n_rows} rows and {n_dropped} were dropped for "
            "missing values."
        )
    data = drop_unused_levels(data, used)
    as_sparse = want_sparse(sparse, parsed, data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _MismatchWarning)
            matrices = model_matrix(
                formula, data, na_action="ignore", output="sparse" if as_sparse else "pandas"
            )
    except FormulaicError as exc:
        raise FormulaError(f"cannot evaluate formula={formula!r} on the data: {exc}") from None
    if one_sided:
        lhs, rhs = None, matrices
    else:
        lhs, rhs = matrices.lhs, matrices.rhs
    response_name = "y" if one_sided else str(parsed.lhs).strip()
    if given_y is not None:
        y = given_y
    elif lhs is None or lhs.shape[1] == 0:
        raise FormulaError(f"formula={formula!r} has no response; write it as 'y ~ x1 + x2'.")
    elif response_name in data.columns:
        # The raw column, so a classifier sees its labels ("yes"/"no"), not dummy columns.
        y = data[response_name].to_numpy()
    elif lhs.shape[1] == 1:
        y = lhs.toarray()[:, 0] if sp.issparse(lhs) else lhs.to_numpy()[:, 0]
    else:
        raise FormulaError(
            f"formula={formula!r} has a response with {lhs.shape[1]} columns; newtonglm needs a "
            "single response (for grouped binomial data use the proportion, e.g. "
            "'I(successes / trials) ~ x', with sample_weight='trials')."
        )
    spec = rhs.model_spec
    names = tuple(str(c) for c in spec.column_names)
    X: FloatArray | sp.csc_matrix
    if sp.issparse(rhs):
        X = sp.csc_matrix(rhs, dtype=np.float64)
        n, d = X.shape
        stored = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
        if sparse == "auto" and stored >= SPARSE_AUTO_RATIO * 8 * n * d:
            # The estimate was wrong: the dense array is not much larger; use it after all.
            X = np.asfortranarray(X.toarray())
            spec = spec.update(output="numpy")
    else:
        X = np.asfortranarray(rhs.to_numpy(dtype=np.float64))
    return FormulaParts(
        X=X,
        y=y,
        names=names,
        spec=spec,
        response_name=response_name,
        intercept_index=names.index("Intercept") if "Intercept" in names else None,
        sample_weight=weights,
        offset=offs,
        n_dropped=n_dropped,
        kept_rows=keep,
    )


def transform(spec: ModelSpec, data: Any) -> FloatArray | sp.csc_matrix:
    """Apply a fitted spec to new data; unseen categorical levels and NaN are errors.

    The result has the fit's storage: a scipy.sparse CSC matrix when the fit was sparse.
    """
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(
            "this model was fitted with a formula; pass new data as a pandas DataFrame with the "
            f"columns {sorted(spec.required_variables)}; got {type(data).__name__}."
        )
    required = sorted(spec.required_variables)
    absent = [v for v in required if v not in data.columns]
    if absent:
        raise FormulaError(f"new data lacks column(s) {absent} that the fitted formula needs.")
    data = normalise_columns(data, required)
    bad, counts = missing_mask(data[required])
    if bad.any():
        detail = ", ".join(f"{k!r} ({v} rows)" for k, v in counts.items())
        raise MissingValueError(
            f"new data contains NaN, None or inf in {int(bad.sum())} of {len(data)} rows, in "
            f"columns {detail}; predictions need complete rows."
        )
    _check_levels(spec, data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _MismatchWarning)
            matrix = spec.get_model_matrix(data, na_action="ignore")
    except _MismatchWarning as exc:  # pragma: no cover - _check_levels finds these first
        raise UnseenLevelError(str(exc)) from None
    except FormulaicError as exc:
        raise FormulaError(f"cannot apply the fitted formula to the new data: {exc}") from None
    if sp.issparse(matrix):
        return sp.csc_matrix(matrix, dtype=np.float64)
    if isinstance(matrix, pd.DataFrame):
        return np.asfortranarray(matrix.to_numpy(dtype=np.float64))
    return np.asfortranarray(np.asarray(matrix, dtype=np.float64))


def _check_levels(spec: ModelSpec, data: pd.DataFrame) -> None:
    """Raise UnseenLevelError when a categorical column holds a level the fit did not see."""
    for factor, (kind, state) in spec.encoder_state.items():
        levels = state.get("categories") if isinstance(state, dict) else None
        if getattr(kind, "value", kind) != "categorical" or levels is None:
            continue
        for var in spec.required_variables:
            if var in data.columns and re.search(rf"(?<![\w.]){re.escape(var)}(?![\w.])", factor):
                seen = set(levels)
                unseen = [v for v in pd.unique(data[var]) if v not in seen]
                if unseen:
                    shown = ", ".join(map(repr, unseen[:5]))
                    raise UnseenLevelError(
                        f"column {var!r} has level(s) {shown} not seen when the model was fitted "
                        f"(known levels: {list(levels)[:20]}); refit with data containing them "
                        "or map them to a known level."
                    )
