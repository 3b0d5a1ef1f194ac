"""What a fit's input becomes (:class:`FitInputs`), shared by the array, formula and Dask doors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import ModelSpec

from .._typing import FloatArray
from ..design.base import Design
from ..design.offsets import OffsetSpec
from ..exceptions import InvalidParameterError

__all__ = ["Encoder", "FitInputs", "check_no_y", "is_dask"]

#: A response encoder: (y, column name) → (float64 response, class labels or None).
Encoder = Callable[[Any, str], tuple[FloatArray, np.ndarray | None]]


@dataclass(frozen=True, slots=True)
class FitInputs:
    """What the input of one ``fit`` call became."""

    #: The validated design.
    design: Design
    #: Cluster codes of the design's rows, or None.
    groups: np.ndarray | None
    #: The fitted formula spec (None without a formula).
    model_spec: ModelSpec | None
    #: Names of the input columns used (None for arrays without names).
    feature_names: np.ndarray | None
    #: Number of input columns used.
    n_features: int
    #: A classifier's two labels, or None.
    classes: np.ndarray | None
    #: Where a formula model's offset comes from (terms, columns), to compute it on new rows.
    offset_spec: OffsetSpec | None = None
    #: Index of the DataFrame passed to ``fit`` (every row; ``design.kept_rows`` picks the
    #: fitted ones), so per-row results carry the rows' labels; None for arrays.
    row_index: pd.Index | None = None


def is_dask(*values: Any) -> bool:
    """Whether any input is a Dask collection (without importing Dask when it is not loaded)."""
    if sys.modules.get("dask") is None:  # never imported (or blocked): no Dask input possible
        return False
    import dask

    return any(dask.is_dask_collection(v) for v in values)


def check_no_y(est: Any, y: Any) -> None:
    """Refuse a separate ``y`` where the response must come from the data (Dask frames)."""
    if y is not None:
        raise InvalidParameterError(
            f"with formula={est.formula!r} and a Dask DataFrame the response comes from the "
            "data; call fit(data) without y."
        )
