"""The rank policy: which columns are aliased, and whether to refuse them or drop them as R does.

A Gram matrix that is clearly full rank settles it without another pass; otherwise the decision
is R's rule on the R factor of a QR of X itself (one more pass, by the design's executor), which
keeps X's own conditioning.
"""

from __future__ import annotations

from .._typing import FloatArray
from ..design.base import Design
from ..engine.linalg import aliased_columns, clearly_full_rank
from ..engine.registry import executor_for
from ..exceptions import RankDeficientError, RankDeficientWarning, warn

__all__ = ["kept_columns"]


def kept_columns(design: Design, gram: FloatArray, policy: str) -> tuple[list[int], int]:
    """The non-aliased columns of ``design`` and the passes over X the check made (0 or 1).

    Parameters
    ----------
    design : Design
        The full design.
    gram : ndarray of shape (n_features, n_features)
        A weighted Gram matrix Xᵀ W X of the design (the start's information or R's start's).
    policy : {"raise", "drop"}
        ``on_rank_deficient``: raise :class:`RankDeficientError` naming the aliased columns, or
        drop them with a :class:`RankDeficientWarning` (their coefficients are NaN).
    """
    d = design.X.shape[1]
    if clearly_full_rank(gram):
        return list(range(d)), 0
    # Near or exact collinearity: decide on a QR of X itself (rows with positive weight).
    r, n_rows = executor_for(design.X).r_factor(design.X, design.weights)
    aliased = aliased_columns(r)
    if not aliased:
        return list(range(d)), 1
    names = [design.names[j] for j in aliased]
    if policy == "raise" or len(aliased) == d:
        raise RankDeficientError(
            f"the design matrix is rank deficient (rank {d - len(aliased)} < {d} columns, "
            f"n_samples = {n_rows}): column(s) {names} are linear combinations of "
            "earlier columns. Remove them, or pass on_rank_deficient='drop' to drop them "
            "as R does."
        )
    warn(
        f"column(s) {names} are aliased (linear combinations of earlier columns) and were "
        "dropped; their coefficients and standard errors are NaN.",
        RankDeficientWarning,
    )
    dropped = set(aliased)
    return [j for j in range(d) if j not in dropped], 1
