"""A classifier's response: any two labels → 0.0 / 1.0 for ``classes_[1]``, and its checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from .._typing import FloatArray
from ..exceptions import InvalidResponseError
from .base import Design
from .validate import as_vector

__all__ = ["check_both_classes", "encode_binary", "numeric_response"]


def encode_binary(y: Any, name: str) -> tuple[FloatArray, np.ndarray]:
    """The response as 1.0 for the second of its two sorted labels, 0.0 for the first.

    Returns the encoded vector (NaN where the label is missing) and the two labels
    (``classes_``). Raises :class:`InvalidResponseError` unless there are exactly two classes.
    """
    values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 1 and values.dtype.kind in "biuf":
        # The common case without sorting a million labels: numeric 0/1 with both present
        # (then nothing is missing: NaN is neither 0 nor 1).
        is1 = values == 1
        if ((values == 0) | is1).all() and 0 < np.count_nonzero(is1) < values.size:
            classes = np.array([0, 1]).astype(values.dtype)
            if values.dtype == np.float64:
                return values, classes  # already the 0.0 / 1.0 response: no copy of n floats
            return is1.astype(np.float64), classes
    missing = np.asarray(pd.isna(values), dtype=bool)
    present = values[~missing]
    try:
        kind = type_of_target(present, input_name=name, raise_unknown=True)
    except ValueError as exc:
        raise InvalidResponseError(f"{exc} (LogisticRegression needs two classes).") from None
    if kind != "binary" or np.unique(present).shape[0] != 2:
        classes = np.unique(present) if kind != "continuous" else np.array([])
        raise InvalidResponseError(
            f"Only binary classification is supported: LogisticRegression needs exactly "
            f"two classes in {name!r}; the type of the target is {kind!r}"
            + (f" with {len(classes)} class(es)" if kind != "continuous" else "")
            + ". For proportions or grouped data use GLM(family='binomial')."
        )
    classes = np.unique(present)
    encoded = np.where(missing, np.nan, (values == classes[1]).astype(np.float64))
    return np.asarray(encoded, dtype=np.float64), classes


def check_both_classes(design: Design, classes: np.ndarray) -> None:
    """Raise unless both classes occur among the rows with positive weight."""
    y, w = design.y, design.weights
    if y.size and float(w.min()) > 0.0:
        # Every row counts (the usual case): y is 0/1 here, so its sum tells both classes
        # apart without a masked copy of y.
        ones = float(y.sum())
        present = (ones < y.size, ones > 0.0)
    else:
        kept = y[w > 0]
        present = (bool((kept == 0.0).any()), bool((kept == 1.0).any()))
    for label, found in zip(classes.tolist(), present, strict=True):
        if not found:
            raise InvalidResponseError(
                f"LogisticRegression needs both classes among rows with positive "
                f"sample_weight; class {label!r} has none, so only one class is left."
            )


def numeric_response(y: Any, name: str, family: str) -> FloatArray:
    """The response of a GLM as float64; text labels are refused with what to do instead."""
    values = np.asarray(y)
    if values.dtype.kind == "O" and values.size == len(values):  # numbers stored as objects
        try:
            return as_vector(pd.to_numeric(values.ravel(), errors="raise"), name)
        except (TypeError, ValueError):
            pass
    if values.dtype.kind in "OUSTa" or isinstance(getattr(y, "dtype", None), pd.StringDtype):
        present = pd.unique(values[~np.asarray(pd.isna(values), dtype=bool)].ravel())
        labels = ", ".join(repr(v) for v in present[:3])
        if family == "binomial" and len(present) == 2:
            first, second = sorted(str(v) for v in present)
            raise InvalidResponseError(
                f"{name!r} holds the labels {labels}, but GLM(family='binomial') needs 0/1 or "
                f"proportions: use LogisticRegression (any two labels; here P({second!r}) is "
                f"modelled), or code the response as 0/1, e.g. ({name} == {second!r})."
            )
        raise InvalidResponseError(
            f"{name!r} holds text ({labels}{', ...' if len(present) > 3 else ''}) but "
            f"family={family!r} needs numbers; convert it to numbers first."
        )
    return as_vector(values, name)
