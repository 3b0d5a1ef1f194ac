"""The small dense linear algebra of a fit: normal equations, inverses, the rank check.

Everything here works on d × d matrices (or the d × d R factor of X), never on n rows, by LAPACK
directly: scipy's ``cho_factor``/``cho_solve`` wrappers check and copy more than a fit's small
systems cost to factor.

The rank check works on the R factor of a QR of X (streamed by an executor's ``r_factor``), so
it keeps X's own conditioning. Columns are taken in order, as R's ``glm`` does: a column is
aliased when its component orthogonal to the kept earlier columns is below ``tol`` times its
norm — R's rule (``lm.fit``'s ``tol = 1e-7``).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .._typing import FloatArray
from .blocks import mirror_upper

__all__ = [
    "RANK_TOL",
    "aliased_columns",
    "cholesky_solve",
    "cholesky_solve_rcond",
    "clearly_full_rank",
    "gram_r_factor",
    "inverse",
    "inverse_and_rcond",
    "solve_normal_equations",
]

#: Relative residual norm below which a column counts as aliased (R's default for glm).
RANK_TOL = 1e-7


#: Squared relative residual above which a Gram-based check is conclusive (rounding in a Gram
#: matrix is ~d·eps ≈ 1e-14, far below; R's rule corresponds to 1e-14, far above 1e-10 too).
GRAM_SAFE = 1e-10


def clearly_full_rank(gram: FloatArray) -> bool:
    """Whether a weighted Gram matrix Xᵀ W X is full rank beyond any doubt.

    The Cholesky factor of the unit-diagonal scaled Gram has L_jj² = the squared relative
    residual of column j after projecting out the earlier columns. When every L_jj² exceeds
    ``GRAM_SAFE`` the design is full rank and the exact QR check can be skipped (saving a pass
    over X); otherwise the caller runs :func:`aliased_columns` on a QR of X itself.
    """
    diag = np.diag(gram)
    if not (diag > 0).all() or not np.isfinite(gram).all():
        return False
    scale = 1.0 / np.sqrt(diag)
    # LAPACK directly: np.linalg.cholesky's error handling costs more than this factorisation.
    chol, info = lapack.dpotrf(gram * scale[:, None] * scale[None, :], lower=1, clean=0)
    if info != 0:  # not positive definite
        return False
    return bool(np.min(np.diag(chol)) ** 2 > GRAM_SAFE)


def aliased_columns(r: FloatArray, tol: float = RANK_TOL) -> list[int]:
    """Indices of columns aliased with earlier kept columns, given R from a QR of X.

    Parameters
    ----------
    r : ndarray of shape (n_features, n_features)
        Upper-triangular factor with X = Q R (column norms and angles of X are those of R).
    tol : float, default=RANK_TOL
        Relative residual norm threshold.

    Returns
    -------
    list of int
        Aliased column indices, in increasing order.
    """
    d = r.shape[1]
    basis = np.zeros((r.shape[0], 0))
    aliased: list[int] = []
    for j in range(d):
        col = r[:, j]
        norm = float(np.linalg.norm(col))
        if norm == 0.0:
            aliased.append(j)
            continue
        resid = col.copy()
        for _ in range(2):  # Gram-Schmidt twice is enough for orthogonality to machine precision
            resid -= basis @ (basis.T @ resid)
        rnorm = float(np.linalg.norm(resid))
        if rnorm <= tol * norm:
            aliased.append(j)
        else:
            basis = np.column_stack([basis, resid / rnorm])
    return aliased


def gram_r_factor(gram: FloatArray, tol: float) -> FloatArray:
    """An R with Rᵀ R = ``gram`` (a Gram matrix XᵀX), built in column order, aliasing exact.

    A column whose squared relative residual after the earlier kept columns is at most
    ``tol`` gets a zero diagonal (its column of R lies in the span of the earlier ones), so
    :func:`aliased_columns` finds it aliased; the others keep their residual.
    """
    d = gram.shape[0]
    r = np.zeros((d, d))
    kept: list[int] = []
    factor = np.zeros((0, 0))
    for j in range(d):
        gjj = float(gram[j, j])
        if gjj <= 0.0:
            continue
        col = gram[kept, j]
        a = linalg.solve_triangular(factor, col, trans="T") if kept else col
        resid2 = gjj - float(a @ a)
        r[kept, j] = a
        if resid2 > tol * gjj:
            r[j, j] = np.sqrt(resid2)
            k = len(kept)
            grown = np.zeros((k + 1, k + 1))
            grown[:k, :k] = factor
            grown[:k, k] = a
            grown[k, k] = r[j, j]
            factor = grown
            kept.append(j)
    return r


def cholesky_solve(matrix: FloatArray, rhs: FloatArray) -> FloatArray | None:
    """Solve matrix x = rhs by Cholesky; None when the matrix is not (numerically) PD."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    if not (matrix.size and np.isfinite(matrix).all() and np.isfinite(rhs).all()):
        return None
    factor, info = lapack.dpotrf(matrix, lower=0, clean=0)
    if info != 0:
        return None
    x, info = lapack.dpotrs(factor, rhs, lower=0)
    return np.asarray(x, dtype=np.float64) if info == 0 else None


def cholesky_solve_rcond(matrix: FloatArray, rhs: FloatArray) -> tuple[FloatArray | None, float]:
    """Solve matrix x = rhs by Cholesky of the equilibrated matrix; with its reciprocal condition.

    (None, 0.0) when the matrix is not (numerically) positive definite. The rcond estimate
    (LAPACK ``pocon``, O(d²) from the factor) says how many digits the solution kept.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    diag = np.diag(matrix) if matrix.size else np.zeros(0)
    if not (matrix.size and np.isfinite(matrix).all() and np.isfinite(rhs).all()):
        return None, 0.0
    if not (diag > 0).all():
        return None, 0.0
    s = 1.0 / np.sqrt(diag)
    c = matrix * s[:, None] * s[None, :]
    factor, info = lapack.dpotrf(c, lower=0, clean=0)
    if info != 0:
        return None, 0.0
    rcond, _ = lapack.dpocon(factor, float(np.abs(c).sum(axis=0).max()))
    x, info = lapack.dpotrs(factor, rhs * s, lower=0)
    return (np.asarray(x * s, dtype=np.float64) if info == 0 else None), float(rcond)


def solve_normal_equations(gram: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve gram β = rhs by Cholesky (least squares if gram is numerically singular)."""
    gram = np.asarray(gram, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    if gram.size and np.isfinite(gram).all() and np.isfinite(rhs).all():
        factor, info = lapack.dpotrf(gram, lower=0, clean=0)
        if info == 0:
            x, info = lapack.dpotrs(factor, rhs, lower=0)
            if info == 0:
                return np.asarray(x, dtype=np.float64)
    # Not positive definite (e.g. under separation), empty or non-finite: least squares.
    return np.asarray(linalg.lstsq(gram, rhs)[0], dtype=np.float64)


def inverse(information: FloatArray) -> FloatArray:
    """Inverse of a symmetric positive-definite matrix by Cholesky; NaN when it is not."""
    return inverse_and_rcond(information)[0]


def inverse_and_rcond(information: FloatArray) -> tuple[FloatArray, float]:
    """The inverse by Cholesky of the equilibrated matrix, and its reciprocal condition number.

    The matrix is scaled to unit diagonal first (the accuracy of Cholesky is that of the
    equilibrated matrix, van der Sluis), and LAPACK's ``pocon`` estimates the 1-norm reciprocal
    condition number from the factor at O(d²): a small one says the inverse (and so the standard
    errors) has lost about log10(1/rcond) digits, and a QR of √W·X should give it instead.
    (NaN, 0.0) when the matrix is not positive definite.
    """
    a = np.asarray(information, dtype=np.float64)
    d = a.shape[0]
    if d == 0:
        return np.zeros((0, 0)), 1.0
    diag = np.diag(a)
    if np.isfinite(a).all() and (diag > 0).all():
        s = 1.0 / np.sqrt(diag)
        c = a * s[:, None] * s[None, :]
        factor, info = lapack.dpotrf(c, lower=0, clean=0)
        if info == 0:
            rcond, _ = lapack.dpocon(factor, float(np.abs(c).sum(axis=0).max()))
            inv, info = lapack.dpotri(factor, lower=0)
            if info == 0:  # potri fills the upper triangle
                return mirror_upper(inv) * s[:, None] * s[None, :], float(rcond)
    return np.full((d, d), np.nan), 0.0
