"""Solver diagnostics: the per-iteration history as a DataFrame."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .solvers.base import IterationRecord

__all__ = ["HISTORY_COLUMNS", "history_frame"]

#: The columns every solver's history has, in this order; solver-specific ones follow.
HISTORY_COLUMNS = ("iteration", "deviance", "grad_norm", "step_norm", "step_size", "seconds")


def history_frame(records: Sequence[IterationRecord]) -> pd.DataFrame:
    """One row per iteration (row 0 is the starting point), HISTORY_COLUMNS first."""
    extra_cols: list[str] = []
    for rec in records:
        extra_cols.extend(k for k in rec.extra if k not in extra_cols)
    rows = [
        {
            "iteration": rec.iteration,
            "deviance": rec.deviance,
            "grad_norm": rec.grad_norm,
            "step_norm": rec.step_norm,
            "step_size": rec.step_size,
            "seconds": rec.seconds,
            **{k: rec.extra.get(k, float("nan")) for k in extra_cols},
        }
        for rec in records
    ]
    frame = pd.DataFrame(rows, columns=[*HISTORY_COLUMNS, *extra_cols])
    return frame.astype({"iteration": "int64"})
