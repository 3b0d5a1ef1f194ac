"""Detect (quasi-)complete separation in binomial data by linear programming.

Data are separated when some direction b makes every fitted probability move towards its
observed outcome: (2y_i - 1) x_iᵀ b >= 0 for all 0/1 rows, x_iᵀ b = 0 for rows with proportions
strictly between 0 and 1, with strict inequality for at least one row. Then the likelihood
keeps rising along b and the MLE does not exist. Following Konis (2007, the ``safeBinaryRegression``
/ ``detectseparation`` approach), we maximise Σ (2y_i - 1) x_iᵀ b over the box -1 <= b <= 1
subject to those constraints: a positive optimum proves separation, and the non-zero entries of
b name the columns involved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize, sparse

from ._typing import FloatArray

__all__ = ["separating_columns"]


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
    # Columns scaled to unit max-abs so the LP tolerance means the same for every column.
    colscale = np.max(np.abs(X), axis=0)
    colscale[colscale == 0] = 1.0
    Xs = X / colscale
    ones, zeros = y >= 1.0, y <= 0.0
    sign = np.where(ones, 1.0, -1.0)
    strict = ones | zeros
    a_ub = -(sign[strict, None] * Xs[strict])
    c = a_ub.sum(axis=0)  # minimise -Σ s_i x_i b
    interior = ~strict
    res = optimize.linprog(
        c,
        A_ub=sparse.csr_matrix(a_ub),
        b_ub=np.zeros(a_ub.shape[0]),
        A_eq=sparse.csr_matrix(Xs[interior]) if interior.any() else None,
        b_eq=np.zeros(int(interior.sum())) if interior.any() else None,
        bounds=[(-1.0, 1.0)] * X.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= 1e-7 * max(1, int(strict.sum())) ** 0.5:
        return None
    b = np.asarray(res.x)
    margins = sign[strict] * (Xs[strict] @ b)
    if margins.min() < -1e-7:  # not a genuine separating direction (numerical noise)
        return None
    involved = [j for j in np.flatnonzero(np.abs(b) > 1e-6)]
    if intercept_index is not None and len(involved) > 1:
        involved = [j for j in involved if j != intercept_index]
    return [names[j] for j in involved]
