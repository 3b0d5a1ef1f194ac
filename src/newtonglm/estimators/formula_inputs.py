"""The formula door: a DataFrame (pandas, or any frame narwhals converts) and a formula.

``y`` may be given beside the data — equal to the formula's response (what scikit-learn's
cross-validation passes, so that scorers and ``StratifiedKFold`` work), or the response of a
one-sided formula ``"~ x + C(g)"``. ``offset(...)`` terms in the formula, an ``offset=`` column
and an ``exposure=`` column (log taken) are remembered (:class:`~newtonglm.design.offsets.
OffsetSpec`), so predictions and scores on new rows use their own offsets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..design import formula as formula_mod
from ..design.frames import to_pandas, type_name
from ..design.offsets import OffsetSpec, split_offset_terms
from ..design.validate import finalize, input_row
from ..exceptions import InvalidInputError, InvalidParameterError
from .inputs_base import Encoder, FitInputs

__all__ = ["formula_design", "offset_of_new_rows", "response_of"]


def _frame(est: Any, X: Any) -> pd.DataFrame:
    X = to_pandas(X)
    if not isinstance(X, pd.DataFrame):
        raise InvalidInputError(
            f"with formula={est.formula!r}, X must be a DataFrame (pandas, polars, pyarrow, ...) "
            f"holding the columns the formula names; got {type_name(X)}."
        )
    return X


def _aligned(y: Any, data: pd.DataFrame) -> np.ndarray:
    """``y`` one value per row of ``data``: a Series by its index, anything else by position."""
    if isinstance(y, pd.Series) and not y.index.equals(data.index):
        y = y.reindex(data.index)
    values = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return values


def _same(given: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Rows where the given response differs from the formula's (NaN equal to NaN)."""
    try:
        a, b = given.astype(np.float64), found.astype(np.float64)
        return np.asarray(~((a == b) | (np.isnan(a) & np.isnan(b))))
    except (TypeError, ValueError):
        return np.asarray(given.astype(str) != found.astype(str))


def formula_design(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    offset: Any,
    exposure: Any,
    encode: Encoder,
) -> FitInputs:
    """The validated design of a formula fit, and what the model remembers of its input."""
    data = _frame(est, X)
    formula, terms = split_offset_terms(est.formula)
    spec_offset = OffsetSpec(
        terms=terms,
        column=offset if isinstance(offset, str) else None,
        exposure=exposure if isinstance(exposure, str) else None,
    )
    offs = spec_offset.offset(data, given=offset, exposure=exposure)
    one_sided = formula.split("~", 1)[0].strip() == ""
    given = None if y is None else _aligned(y, data)
    if given is not None and given.shape[0] != len(data):
        raise InvalidParameterError(
            f"y has {given.shape[0]} rows but the data has {len(data)}; pass one response per "
            "row (or none: the formula names the response column)."
        )
    parts = formula_mod.build(
        formula,
        data,
        fit_intercept=est.fit_intercept,
        sample_weight=sample_weight,
        offset=offs,
        missing=est.missing,
        sparse=est.sparse,
        response=given if one_sided else None,
    )
    if given is not None and not one_sided:
        kept = given if parts.kept_rows is None else given[parts.kept_rows]
        differ = _same(kept, np.asarray(parts.y))
        if differ.any():
            raise InvalidParameterError(
                f"y differs from the formula's response {parts.response_name!r} in "
                f"{int(differ.sum())} of {differ.size} rows (first at row "
                f"{input_row(int(np.flatnonzero(differ)[0]), parts.kept_rows)}); pass the same "
                "column, or no y, or use a "
                "one-sided formula ('~ x + ...') with y."
            )
    used = sorted(v for v in parts.spec.required_variables if v in data.columns)
    response, classes = encode(parts.y, parts.response_name)
    design = finalize(
        parts.X,
        response,
        parts.names,
        sample_weight=parts.sample_weight,
        offset=parts.offset,
        intercept_index=parts.intercept_index,
        response_name=parts.response_name,
        missing=est.missing,
        n_dropped=parts.n_dropped,
        kept_rows=parts.kept_rows,
    )
    return FitInputs(
        design,
        None,
        parts.spec,
        np.asarray(used, dtype=object),
        len(used),
        classes,
        offset_spec=spec_offset,
        row_index=data.index,
    )


def offset_of_new_rows(est: Any, data: pd.DataFrame, offset: Any, exposure: Any) -> Any:
    """The offset of new rows of a formula model: its terms and remembered columns."""
    spec = getattr(est, "offset_spec_", None) or OffsetSpec()
    return spec.offset(data, given=offset, exposure=exposure)


def response_of(est: Any, X: Any, y: Any) -> Any:
    """The response of the rows ``X`` to score: ``y`` when given, else the formula's response."""
    if y is not None:
        return y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else y
    if est.formula is None:
        raise InvalidParameterError(
            "score() needs y with arrays: pass the response of the rows scored."
        )
    formula, _ = split_offset_terms(est.formula)
    lhs = formula.split("~", 1)[0].strip()
    if lhs == "":
        raise InvalidParameterError(
            f"formula={est.formula!r} is one-sided: pass y, the response of the rows scored."
        )
    data = _frame(est, X)
    if lhs in data.columns:  # the common case: the response is a column, read as it is
        return data[lhs].to_numpy()
    return formula_mod.build(formula, data, fit_intercept=est.fit_intercept, sparse=True).y
