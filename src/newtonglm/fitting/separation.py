"""Detect (quasi-)complete separation in binomial data by linear programming.

Data are separated when some direction b makes every fitted probability move towards its
observed outcome: (2y_i - 1) x_iᵀ b >= 0 for all 0/1 rows, x_iᵀ b = 0 for rows with proportions
strictly between 0 and 1, with strict inequality for at least one row. Then the likelihood
keeps rising along b and the MLE does not exist. Following Konis (2007, the ``safeBinaryRegression``
/ ``detectseparation`` approach) this is a linear programme: we look for the direction of least
L1 norm with Σ (2y_i - 1) x_iᵀ b = 1 under those constraints. It exists exactly when the data
are separated, and its (sparse) non-zero entries name the columns involved.

:func:`check` is the policy a fit applies: run the check for a binomial fit whose means touched
the edge of their range or that did not converge, on designs it can afford to materialise;
report only the symptom for a distributed design; warn when the check was skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize, sparse

from .._typing import FloatArray
from ..design.base import Design
from ..design.matrix import SparseMatrix
from ..engine.objective import Evaluation
from ..exceptions import PerfectSeparationWarning, SeparationCheckWarning, warn
from ..families import Binomial, Family

__all__ = ["SEPARATION_MAX_CELLS", "check", "separating_columns"]

#: Largest n·d for which the separation check materialises a sparse design (160 MB).
SEPARATION_MAX_CELLS = 20_000_000


def check(
    family: Family, design: Design, final: Evaluation, converged: bool
) -> tuple[tuple[str, ...] | None, list[str]]:
    """The columns of a separating direction (None if there is none) and the notes to report.

    Runs for a binomial fit whose fitted means reached 0 or 1 (``final.n_boundary``) or that
    did not converge; ``design`` is the design the solver fitted (the kept columns).
    """
    if not isinstance(family, Binomial):
        return None, []
    if not design.X.in_memory:
        if final.n_boundary == 0:
            return None, []
        # The check needs X in this process; for a distributed design only the symptom is
        # reported (and a non-convergence warning follows, if any).
        msg = (
            f"{final.n_boundary} fitted probabilities are numerically 0 or 1: the data may be "
            "(quasi-)completely separated (the separation check is not run on Dask inputs); "
            "look at the coefficients with large standard errors."
        )
        warn(msg, PerfectSeparationWarning)
        return None, [msg]
    if final.n_boundary == 0 and converged:
        return None, []
    X = design.X
    n, d = X.shape
    if isinstance(X, SparseMatrix) and n * d > SEPARATION_MAX_CELLS:
        msg = (
            f"the separation check was skipped: it needs the sparse design ({n} x {d}) as a "
            f"dense array of {n * d * 8 / 2**20:.0f} MiB. Fitted probabilities at 0 or 1 or a "
            "failure to converge may mean (quasi-)complete separation; check the columns with "
            "the largest standard errors."
        )
        warn(msg, SeparationCheckWarning)
        return None, [msg]
    columns = separating_columns(
        np.asarray(X), design.y, design.weights, design.names, design.intercept_index
    )
    return (None if columns is None else tuple(columns)), []


def separating_columns(
    X: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    names: Sequence[str],
    intercept_index: int | None = None,
) -> list[str] | None:
    """Return the columns of a separating direction, or None when the data are not separated.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        0/1 outcomes or proportions.
    weights : ndarray of shape (n_samples,)
        Rows with zero weight are ignored.
    names : sequence of str
        Column names of X.
    intercept_index : int or None
        The intercept is named only when it is the sole column of the direction.

    Returns
    -------
    list of str or None
    """
    use = weights > 0
    X, y = X[use], y[use]
    d = X.shape[1]
    # Columns scaled to unit max-abs so the LP's tolerances mean the same for every column.
    colscale = np.max(np.abs(X), axis=0)
    colscale[colscale == 0] = 1.0
    Xs = X / colscale
    ones, zeros = y >= 1.0, y <= 0.0
    strict = ones | zeros
    signed = np.where(ones, 1.0, -1.0)[strict, None] * Xs[strict]  # rows s_i x_i
    interior = Xs[~strict]
    # Variables b = b_plus - b_minus >= 0; minimise |b|_1 (the sparsest separating direction,
    # so the fewest columns are named) subject to s_i x_i b >= 0 and Σ s_i x_i b = 1.
    both = np.hstack
    a_ub = sparse.csr_matrix(both([-signed, signed]))
    a_eq_rows = [both([signed.sum(axis=0), -signed.sum(axis=0)])[None, :]]
    if interior.shape[0]:
        a_eq_rows.insert(0, both([interior, -interior]))
    a_eq = np.vstack(a_eq_rows)
    b_eq = np.zeros(a_eq.shape[0])
    b_eq[-1] = 1.0
    res = optimize.linprog(
        np.ones(2 * d),
        A_ub=a_ub,
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=sparse.csr_matrix(a_eq),
        b_eq=b_eq,
        bounds=[(0.0, None)] * (2 * d),
        method="highs",
    )
    if res.status != 0:  # infeasible: no separating direction
        return None
    b = np.asarray(res.x[:d] - res.x[d:])
    margins = signed @ b
    if margins.min() < -1e-6 * max(float(margins.max()), 1e-12):
        return None  # a numerical artefact of the LP tolerances, not a separating direction
    involved = [int(j) for j in np.flatnonzero(np.abs(b) > 1e-8 * np.abs(b).max())]
    if intercept_index is not None and len(involved) > 1:
        involved = [j for j in involved if j != intercept_index]
    return [names[j] for j in involved]
