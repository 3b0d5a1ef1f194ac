"""The block kernel: every pass over the design matrix X goes through this module.

A pass walks X in blocks of rows and accumulates the few sums a solver step or a statistic
needs — the deviance, Pearson's χ², the score Xᵀ r and the Fisher information Xᵀ W X — so the
memory a pass needs is bounded by one block, not by the number of rows. Xᵀ W X is a symmetric
rank-k update (BLAS ``syrk``) of √W·X written into one reused, Fortran-ordered block buffer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas, lapack

from ._typing import FloatArray
from .families import Family

__all__ = [
    "PassSums",
    "block_slices",
    "hessp_pass",
    "linear_predictor",
    "pass_sums",
    "r_factor",
    "wls_sums",
]

#: Target size of one block of X in bytes; large enough for BLAS to run at full speed,
#: small enough that the temporaries of a block stay a small fraction of X.
BLOCK_BYTES = 8 * 2**20


@dataclass(frozen=True, slots=True)
class PassSums:
    """What one pass over X at coefficients ``coef`` returns."""

    #: Deviance D = Σ w d(y, mu).
    deviance: float
    #: Pearson's χ² = Σ w (y - mu)² / V(mu).
    pearson_chi2: float
    #: Score (gradient of the log-likelihood at scale 1), Σ x_i w_i (y_i - mu_i) mu'_i / V_i.
    score: FloatArray | None
    #: Fisher information Xᵀ W X with W = w mu'² / V (the observed information too for a
    #: canonical link); None when the pass was asked not to form it.
    fisher: FloatArray | None
    #: Rows (with positive weight) whose mean reached the edge of its range, e.g. a fitted
    #: probability numerically 0 or 1.
    n_boundary: int
    #: Working weights W = w mu'² / V per row, when asked for (for Hessian-vector products
    #: at the same coefficients without recomputing eta).
    work_weights: FloatArray | None = None


def block_rows(n_features: int) -> int:
    """Number of rows per block for a design with ``n_features`` columns."""
    return max(1024, BLOCK_BYTES // (8 * max(n_features, 1)))


def block_slices(n_rows: int, n_features: int) -> Iterator[slice]:
    """Consecutive row slices covering ``range(n_rows)``."""
    step = block_rows(n_features)
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


class _GramAccumulator:
    """Accumulates Xᵀ W X (upper triangle, via syrk) and Xᵀ v over row blocks."""

    def __init__(self, n_features: int, n_rows: int) -> None:
        self.gram = np.zeros((n_features, n_features), order="F")
        self.vec = np.zeros(n_features)
        # One flat buffer reused for every block: a leading slice reshaped in Fortran order is
        # contiguous for any block length, so syrk never copies it.
        self._buf = np.empty(min(block_rows(n_features), n_rows) * n_features)
        self._syrk = blas.dsyrk

    def add_gram(self, xb: FloatArray, ww: FloatArray) -> None:
        m, d = xb.shape
        scaled = self._buf[: m * d].reshape((m, d), order="F")
        np.multiply(xb, np.sqrt(ww)[:, None], out=scaled)
        self.gram = self._syrk(1.0, scaled, beta=1.0, c=self.gram, trans=1, overwrite_c=1)

    def add_vec(self, xb: FloatArray, v: FloatArray) -> None:
        self.vec += xb.T @ v

    def symmetric_gram(self) -> FloatArray:
        upper = np.triu(self.gram)
        return upper + np.triu(upper, 1).T


def linear_predictor(X: FloatArray, coef: FloatArray, offset: FloatArray | None) -> FloatArray:
    """Return eta = X coef + offset."""
    eta = X @ coef
    if offset is not None:
        eta += offset
    return np.asarray(eta, dtype=np.float64)


def pass_sums(
    X: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    offset: FloatArray | None,
    coef: FloatArray,
    family: Family,
    *,
    score: bool = True,
    fisher: bool = True,
    keep_weights: bool = False,
) -> PassSums:
    """One blocked pass over X at ``coef``: deviance, Pearson χ², and optionally score and Fisher.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Design matrix (ideally Fortran-ordered float64).
    y, weights : ndarray of shape (n_samples,)
        Response and prior weights.
    offset : ndarray of shape (n_samples,) or None
        Offset added to the linear predictor.
    coef : ndarray of shape (n_features,)
        Coefficients at which to evaluate.
    family : Family
        Family with its link.
    score, fisher : bool, default=True
        Whether to form the score vector and the Fisher information.
    keep_weights : bool, default=False
        Whether to return the working weights (n floats) for :func:`hessp_pass`.

    Returns
    -------
    PassSums
    """
    n, d = X.shape
    link = family.link
    canonical = family.is_canonical
    acc = _GramAccumulator(d, n) if (score or fisher) else None
    kept_w = np.empty(n) if keep_weights else None
    deviance = 0.0
    pearson = 0.0
    n_boundary = 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for rows in block_slices(n, d):
            xb = X[rows]
            eta = xb @ coef
            if offset is not None:
                eta += offset[rows]
            yb, wb = y[rows], weights[rows]
            mu_raw = link.inverse(eta)
            mu = family.clip_mu(mu_raw)
            n_boundary += int(np.count_nonzero((mu != mu_raw) & (wb > 0)))
            var = family.variance(mu)
            resid = yb - mu
            deviance += float(wb @ family.unit_deviance(yb, mu, eta))
            pearson += float(wb @ (resid * resid / var))
            if acc is None and kept_w is None:
                continue
            dmu = link.inverse_derivative(eta)
            if canonical:
                # dmu/deta = V(mu): the score weight is w and the working weight w V(mu).
                score_w = wb
                work_w = wb * dmu
            else:
                score_w = wb * dmu / var
                work_w = score_w * dmu
            if kept_w is not None:
                kept_w[rows] = work_w
            if acc is None:
                continue
            if score:
                acc.add_vec(xb, score_w * resid)
            if fisher:
                acc.add_gram(xb, work_w)
    return PassSums(
        deviance=deviance,
        pearson_chi2=pearson,
        score=acc.vec if (acc is not None and score) else None,
        fisher=acc.symmetric_gram() if (acc is not None and fisher) else None,
        n_boundary=n_boundary,
        work_weights=kept_w,
    )


def hessp_pass(X: FloatArray, work_w: FloatArray, v: FloatArray) -> FloatArray:
    """Fisher-information-vector product Xᵀ W X v in one blocked pass, no d×d matrix.

    ``v`` may be a vector (d,) or a matrix (d, k) of k directions at once.
    """
    n, d = X.shape
    out = np.zeros(v.shape)
    for rows in block_slices(n, d):
        xb = X[rows]
        xv = xb @ v
        wxv = xv * (work_w[rows] if xv.ndim == 1 else work_w[rows, None])
        out += xb.T @ wxv
    return out


def wls_sums(X: FloatArray, work_w: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted least-squares normal equations: return (Xᵀ W X, Xᵀ W z) in one blocked pass."""
    n, d = X.shape
    acc = _GramAccumulator(d, n)
    for rows in block_slices(n, d):
        xb = X[rows]
        acc.add_gram(xb, work_w[rows])
        acc.add_vec(xb, work_w[rows] * z[rows])
    return acc.symmetric_gram(), acc.vec


def r_factor(X: FloatArray) -> FloatArray:
    """Upper-triangular R of a QR decomposition of X, streamed over row blocks (TSQR).

    Working on R keeps the conditioning of X itself (a Gram matrix would square it), so the
    rank check that uses it is as reliable as a QR of the whole matrix, with memory bounded by
    one block.
    """
    n, d = X.shape
    r = np.zeros((0, d))
    for rows in block_slices(n, d):
        stacked = np.vstack([r, X[rows]])
        qr, _tau, _work, info = lapack.dgeqrf(stacked)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK dgeqrf failed with info={info}")
        k = min(stacked.shape[0], d)
        r = np.triu(qr[:k])
    if r.shape[0] < d:
        r = np.vstack([r, np.zeros((d - r.shape[0], d))])
    return r
