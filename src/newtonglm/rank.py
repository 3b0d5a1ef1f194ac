"""Rank check: which columns of X are aliased (linearly dependent on earlier columns).

Works on the R factor of a QR of X (streamed by :func:`newtonglm.kernel.r_factor`), so the
check keeps X's own conditioning. Columns are taken in order, as R's ``glm`` does: a column is
aliased when its component orthogonal to the kept earlier columns is below ``tol`` times its
norm — R's rule (``lm.fit``'s ``tol = 1e-7``).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from ._typing import FloatArray

__all__ = ["RANK_TOL", "aliased_columns", "clearly_full_rank"]

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
