"""Does the maximum-likelihood estimate exist? Linear programmes that find the direction if not.

**Binomial** (Konis 2007, ``safeBinaryRegression`` / ``detectseparation``): the data are
(quasi-)completely separated when some direction b moves every fitted probability towards its
observed outcome: (2y_i − 1) x_iᵀb ≥ 0 for the 0/1 rows, x_iᵀb = 0 for rows with a proportion
strictly between 0 and 1, strictly for at least one row. Then the likelihood keeps rising along
b. Whatever the link: probit and cloglog are monotone too.

**Poisson** (Correia, Guimarães & Zylkin 2019, the check behind ``ppmlhdfe`` and pyfixest): the
MLE does not exist when some direction b has x_iᵀb = 0 on every row with y > 0 and x_iᵀb ≤ 0 on
the rows with y = 0, strictly for at least one: those rows' means can go to 0 at no cost (a
factor level whose counts are all 0 is the common case). After removing the rows it finds, the
rest may still be separated along another direction, so the check repeats until none is left.

Both are one LP: the direction of least L1 norm with Σ s_i x_iᵀb = m (the number of sign
rows) under ``s_i x_iᵀb ≥ 0``
(the sign rows) and ``x_iᵀb = 0`` (the interior rows). It exists exactly when the data are
separated; its sparse non-zero entries name the columns involved and its strictly positive
margins the rows whose fitted means run off to the edge. Rows of zero weight are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

from .._typing import FloatArray

__all__ = ["Separation", "binomial_separation", "poisson_separation", "separating_direction"]

#: Margins above this fraction of the largest are strict (the LP's tolerances are ~1e-9).
STRICT = 1e-7
#: Poisson: at most this many rounds of removing separated rows and looking again.
MAX_ROUNDS = 10


@dataclass(frozen=True, slots=True)
class Separation:
    """A direction along which the likelihood rises without bound."""

    #: Columns of the direction (the intercept only when it is the sole one).
    columns: tuple[str, ...]
    #: Positions (in the design's rows) of the rows whose fitted means go to 0 or 1.
    rows: np.ndarray


def separating_direction(signed: FloatArray, interior: FloatArray) -> FloatArray | None:
    """B with signed b ≥ 0, interior b = 0 and Σ signed b = 1, of least L1 norm; None if none.

    ``signed`` holds the rows s_i x_i, ``interior`` the rows that must stay on the hyperplane.
    """
    d = signed.shape[1]
    if signed.shape[0] == 0 or d == 0:
        return None
    both = np.hstack
    a_ub = sparse.csr_matrix(both([-signed, signed]))
    a_eq_rows = [both([signed.sum(axis=0), -signed.sum(axis=0)])[None, :]]
    if interior.shape[0]:
        a_eq_rows.insert(0, both([interior, -interior]))
    a_eq = np.vstack(a_eq_rows)
    b_eq = np.zeros(a_eq.shape[0])
    # Σ margins = (number of rows), not 1: margins of order 1 stay well above HiGHS's absolute
    # feasibility tolerance (1e-7), which a normalisation to 1 over n rows (margins ~ 1/n)
    # would blur with the sign of a genuine zero margin.
    b_eq[-1] = float(signed.shape[0])
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
    if interior.shape[0] and np.abs(interior @ b).max() > 1e-6 * max(float(margins.max()), 1e-12):
        return None
    return b


def _scaled(X: FloatArray) -> FloatArray:
    # Columns scaled to unit max-abs so the LP's tolerances mean the same for every column.
    colscale = np.max(np.abs(X), axis=0) if X.shape[0] else np.ones(X.shape[1])
    colscale[colscale == 0] = 1.0
    return X / colscale


def _named(b: FloatArray, names: Sequence[str], intercept_index: int | None) -> tuple[str, ...]:
    involved = [int(j) for j in np.flatnonzero(np.abs(b) > 1e-8 * np.abs(b).max())]
    if intercept_index is not None and len(involved) > 1:
        involved = [j for j in involved if j != intercept_index]
    return tuple(names[j] for j in involved)


def binomial_separation(
    X: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    names: Sequence[str],
    intercept_index: int | None = None,
) -> Separation | None:
    """The separating direction of binomial data (0/1 outcomes or proportions), or None."""
    use = np.flatnonzero(weights > 0)
    Xs, yu = _scaled(X[use]), y[use]
    ones, zeros = yu >= 1.0, yu <= 0.0
    strict = ones | zeros
    sign = np.where(ones, 1.0, -1.0)[strict]
    signed = sign[:, None] * Xs[strict]  # rows s_i x_i
    b = separating_direction(signed, Xs[~strict])
    if b is None:
        return None
    margins = signed @ b
    rows = use[np.flatnonzero(strict)[margins > STRICT * margins.max()]]
    return Separation(_named(b, names, intercept_index), np.sort(rows))


def poisson_separation(
    X: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    names: Sequence[str],
    intercept_index: int | None = None,
) -> Separation | None:
    """The y = 0 rows whose means can go to 0 (and the columns that take them there), or None."""
    use = np.flatnonzero(weights > 0)
    Xs, yu = _scaled(X[use]), y[use]
    alive = np.ones(use.size, dtype=bool)
    separated: list[np.ndarray] = []
    columns: list[str] = []
    for _ in range(MAX_ROUNDS):
        zero = alive & (yu <= 0.0)
        signed = -Xs[zero]  # s_i = -1: x_iᵀb ≤ 0 on the zero counts
        b = separating_direction(signed, Xs[alive & (yu > 0.0)])
        if b is None:
            break
        margins = signed @ b
        found = np.flatnonzero(zero)[margins > STRICT * margins.max()]
        if found.size == 0:
            break
        separated.append(found)
        alive[found] = False
        columns += [c for c in _named(b, names, intercept_index) if c not in columns]
    if not separated:
        return None
    return Separation(tuple(columns), np.sort(use[np.concatenate(separated)]))
