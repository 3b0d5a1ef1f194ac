"""DataFrames at the door: any library's frame to pandas, and its columns in a form the fit reads.

polars DataFrames, pyarrow Tables and the other frames narwhals knows are converted to pandas
once, keeping the column names. Then the columns a formula uses are normalised: pandas'
``string`` dtype (python or pyarrow storage, ``large_string`` from parquet) becomes object, so
formulaic treats it as a factor like any text column; a datetime column is refused in words (a
model needs numbers or categories); a categorical's levels that no fitted row uses are dropped,
as R drops them, instead of becoming an all-zero, aliased dummy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..exceptions import FormulaError, InvalidInputError

__all__ = ["drop_unused_levels", "normalise_columns", "to_pandas", "type_name"]

#: Top-level modules whose frames narwhals converts (lazy ones are refused by narwhals itself).
_NARWHALS_MODULES = ("polars", "pyarrow", "modin", "cudf", "duckdb", "ibis", "pyspark", "dask")


def type_name(obj: object) -> str:
    """The type of ``obj`` by its module, e.g. ``polars.DataFrame``, ``numpy.ndarray``."""
    return f"{type(obj).__module__.split('.')[0]}.{type(obj).__name__}"


def to_pandas(data: Any) -> Any:
    """``data`` as a pandas DataFrame when it is another library's frame; otherwise unchanged."""
    if isinstance(data, pd.DataFrame):
        return data
    module = type(data).__module__.split(".")[0]
    if module not in _NARWHALS_MODULES or module == "dask":
        return data
    try:
        import narwhals as nw

        frame = nw.from_native(data, eager_only=True)
    except (ImportError, TypeError):
        return data
    try:
        return frame.to_pandas()
    except Exception as exc:  # noqa: BLE001 - the library's own conversion error, in our words
        raise InvalidInputError(
            f"cannot convert the {type_name(data)} to pandas: {exc}; convert it yourself "
            "(e.g. .to_pandas()) and fit again."
        ) from None


def _is_string_dtype(dtype: Any) -> bool:
    if isinstance(dtype, pd.StringDtype):
        return True
    arrow = getattr(dtype, "pyarrow_dtype", None)
    if arrow is not None:
        import pyarrow as pa

        return bool(pa.types.is_string(arrow) or pa.types.is_large_string(arrow))
    return False


def normalise_columns(data: pd.DataFrame, used: Sequence[str]) -> pd.DataFrame:
    """The columns in ``used`` as formulaic reads them (string dtypes to object); dates refused."""
    frame = data
    for col in used:
        if col not in data.columns:
            continue
        dtype = data[col].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
            raise FormulaError(
                f"column {col!r} holds dates ({dtype}); a model needs numbers or categories: "
                f"convert it, e.g. to days since a date (data[{col!r}].sub(t0).dt.days) or to a "
                f"factor of its year (data[{col!r}].dt.year, then C(...))."
            )
        if pd.api.types.is_timedelta64_dtype(dtype):
            raise FormulaError(
                f"column {col!r} holds durations ({dtype}); convert it to a number first, e.g. "
                f"data[{col!r}].dt.total_seconds()."
            )
        if _is_string_dtype(dtype):
            if frame is data:
                frame = data.copy(deep=False)
            values = frame[col].astype(object)
            frame[col] = values.where(values.notna(), None)
    return frame


def drop_unused_levels(data: pd.DataFrame, used: Sequence[str]) -> pd.DataFrame:
    """Categorical columns in ``used`` without the levels none of ``data``'s rows has (as R)."""
    frame = data
    for col in used:
        if col in data.columns and isinstance(data[col].dtype, pd.CategoricalDtype):
            series = data[col]
            if len(series.cat.categories) != series.nunique(dropna=True):
                if frame is data:
                    frame = data.copy(deep=False)
                frame[col] = series.cat.remove_unused_categories()
    return frame
