"""A solve's history as a table, and the convergence order and rate read off it.

The history is a DataFrame with one row per iteration (row 0 the start), the columns every solver
records (:data:`HISTORY_COLUMNS`) and any of its own; the empirical order and linear rate are
estimated from its ``grad_norm`` column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .base import IterationRecord

__all__ = [
    "HISTORY_COLUMNS",
    "convergence_order",
    "convergence_rate",
    "describe_convergence",
    "history_frame",
]

#: The columns every solver's history has, in this order; solver-specific ones follow.
HISTORY_COLUMNS = ("iteration", "deviance", "grad_norm", "step_norm", "step_size", "seconds")
#: Errors below this fraction of the largest one are rounding noise, not convergence.
_NOISE = 1e-13


def history_frame(records: Sequence[IterationRecord]) -> pd.DataFrame:
    """One row per iteration (row 0 is the starting point), HISTORY_COLUMNS first."""
    extra_cols: list[str] = []
    for rec in records:
        extra_cols.extend(k for k in rec.extra if k not in extra_cols)
    columns: dict[str, np.ndarray] = {
        "iteration": np.fromiter((r.iteration for r in records), np.int64, len(records)),
        **{
            name: np.fromiter((getattr(r, name) for r in records), np.float64, len(records))
            for name in HISTORY_COLUMNS[1:]
        },
        **{
            k: np.fromiter(
                (r.extra.get(k, float("nan")) for r in records), np.float64, len(records)
            )
            for k in extra_cols
        },
    }
    # Built column-wise from typed arrays: a per-fit cost of ~0.2 ms instead of ~3 ms.
    return pd.DataFrame(columns, copy=False)


def _usable(errors: Sequence[float]) -> list[float]:
    # Plain floats: a history has a few to a few thousand rows, and NumPy's per-call cost on
    # such short arrays was ~60 µs of every fit (order and rate are set by fit).
    e = [x for x in map(float, errors) if math.isfinite(x) and x > 0.0]
    if not e:
        return e
    # Drop the tail lost in rounding noise: ratios there say nothing about the method.
    floor = _NOISE * max(e)
    return [x for x in e if x > floor]


def convergence_order(errors: Sequence[float]) -> float:
    """Empirical order q from the last three usable errors e_{k-1}, e_k, e_{k+1}.

    ``q = log(e_{k+1} / e_k) / log(e_k / e_{k-1})``: 1 for linear convergence, 2 for quadratic.
    NaN when fewer than three usable (finite, positive, above rounding noise) errors remain or
    the errors are not decreasing.

    Parameters
    ----------
    errors : sequence of float
        An error sequence, e.g. the history's ``grad_norm`` column.

    Returns
    -------
    float
    """
    e = _usable(errors)
    if len(e) < 3:
        return float("nan")
    e0, e1, e2 = e[-3:]
    if not (e2 < e1 < e0):
        return float("nan")
    return math.log(e2 / e1) / math.log(e1 / e0)


def convergence_rate(errors: Sequence[float], last: int = 5) -> float:
    """Linear rate: the geometric mean of e_{k+1} / e_k over the final ``last`` usable steps."""
    e = _usable(errors)
    if len(e) < 2:
        return float("nan")
    tail = e[-(last + 1) :]
    logs = [math.log(b / a) for a, b in zip(tail[:-1], tail[1:], strict=True)]
    return math.exp(sum(logs) / len(logs))


def describe_convergence(order: float, rate: float) -> str:
    """Words for the summary: ``"quadratic, q ≈ 2.0"`` or ``"linear, rate 0.93"``."""
    if math.isnan(order) and math.isnan(rate):
        return "n/a (too few iterations)"
    if not math.isnan(order) and order >= 1.5:
        kind = "quadratic" if order >= 1.8 else "superlinear"
        return f"{kind}, q ≈ {order:.1f}"
    if not math.isnan(rate):
        return f"linear, rate {rate:.2g}"
    return f"q ≈ {order:.1f}"
