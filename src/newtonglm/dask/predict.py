"""Lazy predictions on Dask collections, and the covariances a Dask fit can give.

Predictions stay lazy: a Dask array for a Dask array, a Dask Series for a Dask DataFrame (the
fitted formula spec applied to every partition).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
from formulaic import ModelSpec

from .._typing import FloatArray
from ..design.formula import transform
from ..design.matrix import DenseMatrix
from ..design.offsets import OffsetSpec
from ..exceptions import InvalidInputError, InvalidParameterError, ShapeMismatchError
from ..families import Family

__all__ = ["apply", "check_cov", "predict_linear", "proba"]


def _eta_block(xb: Any, coef: FloatArray, intercept: bool) -> FloatArray:
    return DenseMatrix(np.asarray(xb, dtype=np.float64), intercept).matvec(coef)


def _eta_frame(
    frame: pd.DataFrame,
    spec: ModelSpec,
    coef: FloatArray,
    offsets: OffsetSpec,
    offset_col: str | None,
    exposure_col: str | None,
) -> pd.Series:
    eta = transform(spec, frame) @ coef
    offs = offsets.offset(frame, given=offset_col, exposure=exposure_col)
    if offs is not None:
        eta = eta + offs
    return pd.Series(eta, index=frame.index, dtype=np.float64)


def predict_linear(
    X: Any,
    offset: Any,
    coef: FloatArray,
    intercept: bool,
    spec: ModelSpec | None,
    offsets: OffsetSpec | None = None,
    exposure: Any = None,
) -> Any:
    """Lazy eta = X coef + offset: a Dask array for a Dask array, a Dask Series for a frame.

    A formula model's offset is computed partition by partition as at fit time
    (``offsets``: its ``offset(...)`` terms and remembered columns); ``offset`` and
    ``exposure`` name columns of the Dask DataFrame that replace the remembered ones.
    """
    if spec is not None:
        if not hasattr(X, "map_partitions"):
            raise InvalidInputError(
                "this model was fitted with a formula; pass a Dask DataFrame to predict."
            )
        for label, value in (("offset", offset), ("exposure", exposure)):
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(f"with a Dask DataFrame, {label} must name a column of it.")
        return X.map_partitions(
            _eta_frame,
            spec,
            coef,
            offsets or OffsetSpec(),
            offset,
            exposure,
            meta=pd.Series(dtype=np.float64),
        )
    if exposure is not None:
        raise InvalidInputError(
            "exposure= is not taken with Dask arrays; pass offset=np.log(exposure) instead."
        )
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
