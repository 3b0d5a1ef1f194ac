"""Offsets a formula model remembers: ``offset(...)`` terms, an offset column, an exposure column.

R and statsmodels users write ``y ~ x + offset(np.log(exposure))``; formulaic has no such term,
so the terms are taken out of the formula here and evaluated on the data as expressions. A
formula model also remembers which column its ``offset=`` or ``exposure=`` came from, so that
``predict`` and ``score`` (and so every scikit-learn scorer) use the offset of the rows scored.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from formulaic import model_matrix
from formulaic.errors import FormulaicError

from .._typing import FloatArray
from ..exceptions import FormulaError, InvalidInputError
from .validate import as_vector

__all__ = ["OffsetSpec", "exposure_offset", "split_offset_terms"]

_OFFSET = re.compile(r"(?<![\w.])offset\s*\(")


def split_offset_terms(formula: str) -> tuple[str, tuple[str, ...]]:
    """The formula without its ``offset(expr)`` terms, and the expressions ``expr``."""
    if "~" not in formula or not _OFFSET.search(formula):
        return formula, ()
    lhs, rhs = formula.split("~", 1)
    exprs: list[str] = []
    while (match := _OFFSET.search(rhs)) is not None:
        depth, end = 1, match.end()
        while end < len(rhs) and depth:
            depth += {"(": 1, ")": -1}.get(rhs[end], 0)
            end += 1
        if depth:
            raise FormulaError(f"formula={formula!r} has an offset( without its closing ')'.")
        exprs.append(rhs[match.end() : end - 1].strip())
        before, after = rhs[: match.start()].rstrip(), rhs[end:].lstrip()
        if before.endswith("+"):
            rhs = before[:-1].rstrip() + (" " + after if after else "")
        elif after.startswith("+"):
            rhs = (before + " " if before else "") + after[1:].lstrip()
        else:
            rhs = (before + " " + after).strip()
    if not rhs.strip():
        rhs = "1"
    return f"{lhs.rstrip()} ~ {rhs.strip()}", tuple(exprs)


def _evaluate(expr: str, data: Any) -> FloatArray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrix = model_matrix(
                f"0 + I({expr})", data, na_action="ignore", context={"np": np, "numpy": np}
            )
    except (FormulaicError, SyntaxError, NameError, ValueError, TypeError) as exc:
        raise FormulaError(f"cannot evaluate offset({expr}) on the data: {exc}") from None
    return np.asarray(matrix.to_numpy(dtype=np.float64)[:, 0])


def exposure_offset(exposure: object, data: Any, label: str = "exposure") -> FloatArray:
    """log(exposure), after checking every exposure is > 0 (a string names a column)."""
    values = data[exposure] if isinstance(exposure, str) else exposure
    name = repr(exposure) if isinstance(exposure, str) else label
    arr = as_vector(values, label)
    bad = ~(arr > 0) & np.isfinite(arr)
    if bad.any():
        raise InvalidInputError(
            f"{label} {name} must be > 0; {int(bad.sum())} of {arr.size} values are not (first "
            f"at row {int(np.flatnonzero(bad)[0])}); drop those rows or pass an offset instead."
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.log(arr))


@dataclass(frozen=True, slots=True)
class OffsetSpec:
    """Where a formula model's offset comes from, to compute it again on new rows."""

    #: ``offset(...)`` expressions taken out of the formula.
    terms: tuple[str, ...] = ()
    #: Column given as ``offset=`` at fit time, or None.
    column: str | None = None
    #: Column given as ``exposure=`` at fit time (its log is added), or None.
    exposure: str | None = None

    @property
    def empty(self) -> bool:
        """Whether the model has no remembered offset."""
        return not (self.terms or self.column or self.exposure)

    def offset(self, data: Any, given: object = None, exposure: object = None) -> FloatArray | None:
        """The offset of ``data``'s rows.

        The ``offset(...)`` terms, plus ``given`` / ``exposure`` when passed (a string names a
        column), otherwise the columns remembered from the fit.
        """
        parts: list[FloatArray] = [_evaluate(expr, data) for expr in self.terms]
        if given is not None:
            parts.append(as_vector(data[given] if isinstance(given, str) else given, "offset"))
        elif self.column is not None:
            parts.append(as_vector(data[self.column], "offset"))
        if exposure is not None:
            parts.append(exposure_offset(exposure, data))
        elif self.exposure is not None and given is None:
            parts.append(exposure_offset(self.exposure, data))
        if not parts:
            return None
        return np.asarray(np.sum(parts, axis=0), dtype=np.float64)
