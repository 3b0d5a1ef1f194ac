"""``sparse="auto"``: build a formula's design sparse only when that is clearly smaller.

The estimate is made before the design is built, from the formula's terms and the data's
levels: each term's columns (for categorical factors the product of their levels less the
reference) and about one stored entry per row.
"""

from __future__ import annotations

import ast
from typing import Any

import pandas as pd

__all__ = ["SPARSE_AUTO_RATIO", "estimate_sparse_bytes", "want_sparse"]

#: With ``sparse="auto"`` the design is built sparse when its CSR/CSC storage is estimated below
#: this share of the dense array's: clearly smaller, not a toss-up the dense kernel would win.
SPARSE_AUTO_RATIO = 0.5


def _is_categorical(series: pd.Series) -> bool:
    return bool(not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def estimate_sparse_bytes(parsed: Any, data: pd.DataFrame) -> tuple[float, float]:
    """Estimated bytes per row of the design stored sparse (CSC) and dense, before building it.

    Each term contributes its columns (for categorical factors, the product of their numbers
    of levels, less the reference level) and about one stored entry per row (a fraction
    (L - 1) / L of the rows for a reduced categorical); a stored entry costs 12 bytes (value
    and row index), a dense cell 8.
    """
    n_cols = 0.0
    nnz_row = 0.0
    for term in parsed.rhs if hasattr(parsed, "rhs") else parsed:
        levels = 1
        for factor in term.factors:
            expr = str(factor.expr)
            try:
                tree = ast.parse(expr, mode="eval")
            except SyntaxError:
                continue
            names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & set(data.columns)
            categorical = expr.startswith("C(") or any(_is_categorical(data[v]) for v in names)
            if categorical and names:
                levels *= max(int(data[sorted(names)].drop_duplicates().shape[0]), 1)
        if levels > 1:
            n_cols += levels - 1
            nnz_row += (levels - 1) / levels
        else:
            n_cols += 1
            nnz_row += 1
    return 12.0 * nnz_row, 8.0 * n_cols


def want_sparse(sparse: bool | str, parsed: Any, data: pd.DataFrame) -> bool:
    """Whether to build the design sparse: ``sparse`` itself, or the estimate for "auto"."""
    if isinstance(sparse, bool):
        return sparse
    sparse_bytes, dense_bytes = estimate_sparse_bytes(parsed, data)
    return sparse_bytes < SPARSE_AUTO_RATIO * dense_bytes
