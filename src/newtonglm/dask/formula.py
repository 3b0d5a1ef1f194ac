"""A Dask DataFrame and a formula → a validated Dask design, the model spec learned once.

A first cheap pass over the columns the formula names finds every categorical level, the
missing values and the partition lengths; the model spec is then learned from a small pandas
frame in which every level occurs, and applied to every partition, so every partition has the
same columns. The formula is parsed and checked by the same rules as in memory
(``design.formula.parse``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
import pandas as pd
from dask.delayed import delayed
from formulaic import Formula, ModelSpec, model_matrix
from formulaic.errors import FormulaicError

from ..design.base import Design
from ..design.formula import missing_mask, parse, sides
from ..exceptions import EmptyDataError, FormulaError, InvalidInputError, MissingValueError
from ..families import Family
from .inputs import Encoder, design_of, validate
from .matrix import DaskMatrix, FrameChunk, Recipe

__all__ = ["FormulaDesign", "from_dataframe"]


def _categorical_columns(parsed: Formula, meta: pd.DataFrame, used: Sequence[str]) -> list[str]:
    """Columns whose levels the spec needs: non-numeric ones, and any named inside ``C(...)``."""
    out = {
        c
        for c in used
        if not pd.api.types.is_numeric_dtype(meta[c]) or pd.api.types.is_bool_dtype(meta[c])
    }
    for part in sides(parsed):
        for term in part:
            for factor in term.factors:
                expr = str(factor.expr)
                if expr.startswith("C("):
                    out.update(c for c in used if c in expr)
    return sorted(out)


def _partition_info(
    frame: pd.DataFrame, cols: list[str], cats: list[str], head: int
) -> dict[str, Any]:
    _bad, counts = missing_mask(frame[cols])
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
    #: A classifier's two labels (None without ``encode``).
    classes: np.ndarray | None


def from_dataframe(
    formula: str,
    data: Any,
    *,
    fit_intercept: bool,
    family: Family,
    sample_weight: object = None,
    offset: object = None,
    encode: Encoder | None = None,
    head: int = 50,
) -> FormulaDesign:
    """A validated Dask design from a formula and a ``dask.dataframe.DataFrame``.

    One pass over the columns the formula names finds the partition lengths, the missing values
    and every categorical level; the spec is learned from the first rows extended so that every
    level occurs, and applied to every partition. Stateful transforms (``center``, ``scale``,
    splines) would be learned from those rows only, so they are refused.
    """
    for label, value in (("sample_weight", sample_weight), ("offset", offset)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(
                f"with a Dask DataFrame, {label} must name a column of the data; got "
                f"{type(value).__name__}."
            )
    formula, parsed, used = parse(formula, data._meta, fit_intercept=fit_intercept)
    columns = [str(c) for c in data.columns]
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
    if encode is not None and response in wanted and response not in cats:
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
    if encode is not None:
        if response not in cats:
            raise FormulaError("a classifier's response must be a column of the data.")
        _, found = encode(np.asarray(levels[response]), response)
        assert found is not None
        classes = np.asarray(found)
        positive = classes[1]
    names = tuple(str(c) for c in matrices.rhs.columns)
    recipe = Recipe(
        spec,
        lhs_spec,
        response,
        positive,
        sample_weight if isinstance(sample_weight, str) else None,
        offset if isinstance(offset, str) else None,
    )
    parts = [delayed(FrameChunk, pure=True)(part, recipe) for part in frame.to_delayed()]
    matrix = DaskMatrix(parts, lengths, len(names), intercept=False)
    stats = validate(matrix, family, names, response, classes)
    design = design_of(
        matrix.with_stats(stats),
        names,
        names.index("Intercept") if "Intercept" in names else None,
        response,
        offset is not None,
    )
    features = sorted(v for v in spec.required_variables if v in columns)
    return FormulaDesign(design=design, spec=spec, used=tuple(features), classes=classes)
