"""The one place that tells the inputs apart: arrays, a formula on a DataFrame, or Dask.

At fit time :func:`fit_inputs` turns what was passed to ``fit`` into a validated
:class:`~newtonglm.design.base.Design`, the cluster codes of its rows and what the estimator
records about its input (formula spec, feature names, classes, offsets, row labels); at predict
time :func:`new_design` turns new data into a design matrix with the fitted columns and their
offset. Formulas go through ``formula_inputs``, Dask collections through ``dask_inputs`` (which
imports ``newtonglm.dask`` only then); nothing below the estimators asks what input it has.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import column_or_1d, validate_data

from .._typing import FloatArray
from ..design import formula as formula_mod
from ..design import groups as groups_mod
from ..design.base import Design
from ..design.frames import to_pandas
from ..design.matrix import DenseMatrix, SparseMatrix, as_matrix
from ..design.offsets import exposure_offset
from ..design.response import check_both_classes
from ..design.validate import as_vector, finalize, nonfinite_rows
from ..exceptions import (
    DataWarning,
    EmptyDataError,
    InvalidGroupsError,
    InvalidInputError,
    InvalidParameterError,
    MissingValueError,
    warn,
)
from ..families import Family, Poisson
from .formula_inputs import formula_design, offset_of_new_rows, response_of
from .inputs_base import Encoder, FitInputs, is_dask

__all__ = [
    "FitInputs",
    "check_cov_available",
    "fit_inputs",
    "is_dask",
    "new_design",
    "response_of",
]

#: Sparse formats taken as they are; any other scipy.sparse format is converted to the first.
SPARSE_FORMATS = ["csr", "csc"]


def fit_inputs(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    offset: Any,
    groups: Any,
    family: Family,
    encode: Encoder,
    exposure: Any = None,
) -> FitInputs:
    """The design (checked against ``family``), cluster codes and input record of one fit.

    ``est`` supplies the parameters (``formula``, ``fit_intercept``, ``missing``, ``sparse``)
    and, on the array path, receives scikit-learn's ``n_features_in_``/``feature_names_in_``
    from ``validate_data``.
    """
    if is_dask(X, y, sample_weight, offset, exposure):
        from .dask_inputs import dask_inputs

        if exposure is not None:
            raise InvalidParameterError(
                "exposure= is not taken with Dask inputs; add its log as a column (e.g. "
                "ddf['log_t'] = np.log(ddf['t'])) and pass offset='log_t'."
            )

        return dask_inputs(est, X, y, sample_weight, offset, groups, family, encode)
    X = to_pandas(X)
    if groups is None:
        built = _design(est, X, y, sample_weight, offset, exposure, encode)
        codes = None
    else:
        built, codes = _design_and_groups(
            est, X, y, sample_weight, offset, exposure, groups, encode
        )
    kept = built.design.kept_rows
    rows = None if kept is None else np.flatnonzero(kept)  # messages count the rows as passed
    family.check_y(built.design.y, built.design.response_name, rows)
    if isinstance(family, Poisson):
        _warn_non_integer_counts(built.design)
    if built.classes is not None:
        check_both_classes(built.design, built.classes)
    return dataclasses.replace(built, groups=codes)


def _warn_non_integer_counts(design: Design) -> None:
    """R's "non-integer x" warning, with what the fit statistics then mean."""
    fraction = (design.y != np.floor(design.y)) & (design.weights > 0)
    if fraction.any():
        first = int(np.flatnonzero(fraction)[0])
        if design.kept_rows is not None:  # the row as passed to fit, before any drop
            first = int(np.flatnonzero(design.kept_rows)[first])
        warn(
            f"family='poisson' with non-integer response: {int(fraction.sum())} values of "
            f"{design.response_name!r} are not whole numbers (first at row {first}); the "
            "coefficients are the quasi-likelihood ones, but llf_, aic_ and bic_ are not a "
            "likelihood's. For rates use an offset or exposure; otherwise scale='X2' "
            "(quasi-Poisson) for the standard errors.",
            DataWarning,
        )


def _design(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    offset: Any,
    exposure: Any,
    encode: Encoder,
) -> FitInputs:
    """The validated in-memory design (X's NaN/inf check left to the fit's first pass)."""
    if est.formula is not None:
        return formula_design(est, X, y, sample_weight, offset, exposure, encode)
    if y is None:
        raise InvalidInputError(
            "fit() requires y to be passed, but the target y is None; pass y with arrays, or "
            "a formula naming the response column of a DataFrame."
        )
    if getattr(y, "ndim", 1) == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # scikit-learn's DataConversionWarning, then 1-D
    frame_index = X.index if isinstance(X, pd.DataFrame) else None
    if _plain_arrays(X, y):
        # What validate_data would conclude, without its ~0.4 ms of checks (a fifth of a
        # 10,000-row fit): arrays carry no feature names, and nothing needs converting.
        est.n_features_in_ = X.shape[1]
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    else:
        if _n_rows(X) == 0:
            raise EmptyDataError("cannot fit a model to 0 rows: X has no rows.")
        try:
            # X alone: y's NaN (and its missing= policy) are finalize's, with the others'.
            X = validate_data(
                est, X, dtype=np.float64, accept_sparse=SPARSE_FORMATS, ensure_all_finite=False
            )
        except ValueError as exc:
            if "could not convert" not in str(exc):
                raise
            raise InvalidInputError(_strings_message(X)) from None
    feature_names = getattr(est, "feature_names_in_", None)
    names = (
        [str(c) for c in feature_names]
        if feature_names is not None
        else [f"x{j}" for j in range(X.shape[1])]
    )
    response, classes = encode(y, "y")
    if est.fit_intercept:
        names = ["intercept", *names]
    if exposure is not None:
        logged = exposure_offset(exposure, None, "exposure")
        offset = logged if offset is None else as_vector(offset, "offset") + logged
    # The intercept column stays implicit: X is used as validated, never copied.
    design = finalize(
        X,
        response,
        names,
        sample_weight=sample_weight,
        offset=offset,
        intercept_index=0 if est.fit_intercept else None,
        missing=est.missing,
        implicit_intercept=bool(est.fit_intercept),
        check_x=False,
    )
    return FitInputs(
        design, None, None, feature_names, int(X.shape[1]), classes, row_index=frame_index
    )


def _design_and_groups(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    offset: Any,
    exposure: Any,
    groups: Any,
    encode: Encoder,
) -> tuple[FitInputs, np.ndarray | None]:
    """The design and the cluster codes of its rows.

    ``groups`` holds one label per row passed to ``fit``. Rows whose label is missing are
    refused, or, with ``missing='drop'``, removed before the design is built (as rows with
    NaN in the data are) and counted in ``n_dropped_``.
    """
    labels = groups_mod.labels_of(groups, X)
    n_rows = len(X) if not hasattr(X, "shape") else int(X.shape[0])
    absent = np.asarray(pd.isna(labels), dtype=bool)
    if labels.shape[0] != n_rows or not absent.any():
        # Complete labels, or labels for the rows kept: checked against the design.
        built = _design(est, X, y, sample_weight, offset, exposure, encode)
        return built, groups_mod.codes_for_design(labels, None, built.design)
    if est.missing != "drop":
        raise InvalidGroupsError(
            f"groups has no label in {int(absent.sum())} of {n_rows} rows (first at row "
            f"{int(np.flatnonzero(absent)[0])}); every row needs a cluster label. Label "
            "them, or pass missing='drop' to drop those rows."
        )
    keep = ~absent
    Xk, yk, wk, ok, ek = (_take_rows(v, keep) for v in (X, y, sample_weight, offset, exposure))
    built = _design(est, Xk, yk, wk, ok, ek, encode)
    kept = keep.copy()
    if built.design.kept_rows is not None:
        kept[keep] = built.design.kept_rows
    design = dataclasses.replace(
        built.design, n_dropped=built.design.n_dropped + int(absent.sum()), kept_rows=kept
    )
    codes = groups_mod.codes_for_design(labels, None, design)
    rows = X.index if isinstance(X, pd.DataFrame) else None
    return dataclasses.replace(built, design=design, row_index=rows), codes


def new_design(
    est: Any, X: Any, offset: Any = None, exposure: Any = None
) -> tuple[DenseMatrix | SparseMatrix, FloatArray | None]:
    """New in-memory data → (design matrix with every fitted column, offset), as at fit time.

    A formula model's offset comes from its ``offset(...)`` terms and the columns it was fitted
    with (``offset=`` / ``exposure=`` given here replace the columns); an array model's is
    ``offset`` (plus log ``exposure``) as given.
    """
    X = to_pandas(X)
    if est.model_spec_ is not None:
        Xd: Any = formula_mod.transform(est.model_spec_, X)
        offs = offset_of_new_rows(est, X, offset, exposure)
    else:
        Xd = validate_data(
            est,
            X,
            dtype=np.float64,
            accept_sparse=SPARSE_FORMATS,
            reset=False,
            ensure_all_finite=False,
        )
        if nonfinite_rows(Xd).any():
            raise MissingValueError(
                f"X contains NaN or inf in {int(nonfinite_rows(Xd).sum())} of "
                f"{Xd.shape[0]} rows; predictions need complete rows."
            )
        Xd = as_matrix(Xd, intercept=est.result_.design.intercept_index is not None)
        offs = None if offset is None else as_vector(offset, "offset")
        if exposure is not None:
            logged = exposure_offset(exposure, None, "exposure")
            offs = logged if offs is None else offs + logged
    M = as_matrix(Xd)
    if offs is not None and offs.shape[0] != M.shape[0]:
        raise MissingValueError(f"offset has {offs.shape[0]} rows but X has {M.shape[0]}.")
    return M, offs


def _n_rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        return 1


def _strings_message(X: Any) -> str:
    """One line naming the columns that hold text, and the two ways to fit them."""
    if isinstance(X, pd.DataFrame):
        text = [
            c
            for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
        ]
        if text:
            example = next((v for v in X[text[0]] if isinstance(v, str)), X[text[0]].iloc[0])
            names = ", ".join(repr(str(c)) for c in text[:5])
            return (
                f"column(s) {names} hold text (e.g. {example!r} in {str(text[0])!r}) and cannot "
                f"enter a design matrix as numbers; fit with a formula, e.g. formula='y ~ "
                f"... + C({text[0]})', or encode them as numbers first."
            )
    return (
        "X holds text that cannot be read as numbers; fit a DataFrame with a formula "
        "(categorical columns as C(column)) or encode the text as numbers first."
    )


def _take_rows(value: Any, keep: np.ndarray) -> Any:
    """The rows ``keep`` of a fit input; None and column names (str) pass through."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.iloc[keep]
    return np.asarray(value)[keep]


def _plain_arrays(X: Any, y: Any) -> bool:
    """Whether ``validate_data`` would pass X and y through unchanged and without a word.

    A 2-D float64 NumPy X with at least one row and column, and a 1-D NumPy y of numbers, as
    long, all finite (sklearn rejects a non-finite y itself; that path keeps its message).
    """
    return (
        type(X) is np.ndarray
        and type(y) is np.ndarray
        and X.ndim == 2
        and X.dtype == np.float64
        and X.shape[0] >= 1
        and X.shape[1] >= 1
        and y.ndim == 1
        and y.shape[0] == X.shape[0]
        and y.dtype.kind in "fiub"
        and bool(np.isfinite(y).all() if y.dtype.kind == "f" else True)
    )


def check_cov_available(fit: Any, cov_type: str, information: str, groups: Any) -> None:
    """Raise when ``cov_type`` cannot be computed for the fit's kind of input (Dask)."""
    if not fit.design.X.in_memory:
        from ..dask import predict as dask_predict

        dask_predict.check_cov(cov_type, information, fit.family, groups)
