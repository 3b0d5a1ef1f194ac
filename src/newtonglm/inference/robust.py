"""Covariance of the coefficients: model-based, sandwich (HC0–HC3) and one-way cluster-robust.

With the bread ``B = I⁻¹`` (inverse expected or observed information at scale 1) and the per-row
score factor ``s_i = w_i (y_i - μ_i) (dμ/dη)_i / V(μ_i)`` (row i's score is ``s_i x_i``), the
sandwich is ``c · B (Σ_i u_i² x_i x_iᵀ) B``, as R's ``sandwich::vcovHC`` defines it for a glm:

============  ===================================  =====================================
cov_type      u_i                                  c
============  ===================================  =====================================
HC0           s_i                                  1
HC1           s_i                                  n / (n - p)
HC2           s_i / √(1 - h_i)                     1
HC3           s_i / (1 - h_i)                      1
cluster       group sums S_g = Σ_{i∈g} s_i x_i     G / (G - 1) · (n - 1) / (n - p)
============  ===================================  =====================================

with n the observations of positive weight, p the fitted coefficients, h_i the leverage of the
IRLS weighted design (:func:`newtonglm.inference.residuals.leverage`) and G the number of
clusters; the cluster meat is ``Σ_g S_g S_gᵀ`` and its factor statsmodels' default
(``use_correction=True``), the same as Stata's and ``sandwich::vcovCL(type="HC1")``. The
dispersion cancels out of every sandwich, so it is the same whatever ``scale`` the model uses.
At convergence the sandwich with the expected-information bread equals the
heteroskedasticity-robust covariance of the final IRLS weighted least-squares problem, which is
how the tests check HC1–HC3.

The observed information, for a non-canonical link, weights row i by
``W_i (1 + (y_i - μ_i) (V g'' + V' g') / (V g'))`` instead of ``W_i`` (statsmodels'
``hessian_factor(observed=True)``); for a canonical link it equals the expected information.
Every matrix here comes from blocked passes over X; nothing n × n is formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from .._typing import CovType, FloatArray, Information
from ..design.base import Design
from ..design.matrix import DenseMatrix, SparseMatrix
from ..engine.blocks import block_slices, tsqr
from ..engine.linalg import inverse_and_rcond
from ..engine.registry import executor_for
from ..exceptions import InvalidGroupsError
from ..families import Family
from .residuals import RowFit, leverage, row_fit

__all__ = [
    "COV_TYPES",
    "INFORMATION_KINDS",
    "RobustCov",
    "covariance",
    "observed_information",
    "weighted_gram",
]

#: Accepted values of ``cov_type=`` (the members of :data:`newtonglm._typing.CovType`).
COV_TYPES: tuple[str, ...] = get_args(CovType)
#: Accepted values of ``information=`` (the members of :data:`newtonglm._typing.Information`).
INFORMATION_KINDS: tuple[str, ...] = get_args(Information)


@dataclass(frozen=True, slots=True)
class RobustCov:
    """A covariance matrix on the fitted columns and what it took."""

    #: Covariance of the fitted coefficients, shape (p, p).
    cov: FloatArray
    #: Number of clusters (``cov_type='cluster'`` only).
    n_groups: int | None = None


def weighted_gram(X: FloatArray | DenseMatrix | SparseMatrix, weights: FloatArray) -> FloatArray:
    """Xᵀ diag(weights) X in one blocked pass; weights may be negative (observed information).

    A sparse X goes through the sparse kernel, as Xᵀ W₊ X - Xᵀ W₋ X when weights change sign.
    """
    if isinstance(X, SparseMatrix):
        zero = np.zeros(X.shape[0])
        executor = executor_for(X)
        out = executor.wls_sums(X, np.maximum(weights, 0.0), zero)[0]
        if (weights < 0).any():
            out -= executor.wls_sums(X, np.maximum(-weights, 0.0), zero)[0]
        return np.asarray(0.5 * (out + out.T))
    n, d = X.shape
    out = np.zeros((d, d))
    for rows in block_slices(n, d):
        xb = X[rows]
        out += xb.T @ (xb * weights[rows][:, None])
    return np.asarray(0.5 * (out + out.T))


def observed_information(
    family: Family, design: Design, rows: RowFit, fisher: FloatArray
) -> FloatArray:
    """Observed information (minus the Hessian of the log-likelihood at scale 1).

    Equal to the expected information ``fisher`` for a canonical link (returned as is).
    """
    if family.is_canonical:
        return fisher
    link, mu = family.link, rows.mu
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        var = rows.variance
        gprime = link.derivative(mu)
        curvature = var * link.second_derivative(mu) + family.variance_derivative(mu) * gprime
        factor = 1.0 + (rows.y - mu) * curvature / (var * gprime)
        weights = np.where(rows.weights > 0, rows.work_weights * factor, 0.0)
    return weighted_gram(design.X, weights)


#: Below this reciprocal condition number of the (equilibrated) information, its Cholesky
#: inverse may lose more than ~1e-9 of the standard errors' precision (eps / rcond); the
#: inverse then comes from a QR of √W·X, which keeps X's own conditioning (R's approach).
RCOND_QR = 1e-6
#: Largest n·d² for which that QR is done (streamed, a dense block at a time).
QR_MAX_FLOPS = 2e10


def _qr_ready(design: Design) -> bool:
    n, d = design.X.shape
    return bool(design.X.in_memory and n * d * d <= QR_MAX_FLOPS)


def _qr_inverse(design: Design, work_weights: FloatArray) -> FloatArray:
    """(Xᵀ W X)⁻¹ = R⁻¹ R⁻ᵀ from R of a streamed QR of √W·X (rows of positive weight)."""
    X = design.X
    n, d = X.shape
    sw = np.sqrt(np.maximum(work_weights, 0.0))
    blocks = (X.rows(rows) * sw[rows][:, None] for rows in block_slices(n, d))
    r = tsqr(blocks, d)
    try:
        r_inv = linalg.solve_triangular(r, np.eye(d), lower=False, check_finite=True)
    except (linalg.LinAlgError, ValueError):
        return np.full((d, d), np.nan)
    cov = r_inv @ r_inv.T
    return np.asarray(0.5 * (cov + cov.T))


def _group_sums(
    X: FloatArray | DenseMatrix | SparseMatrix, score: FloatArray, codes: np.ndarray, n_groups: int
) -> FloatArray:
    n, d = X.shape
    if isinstance(X, SparseMatrix):
        # Σ_{i in g} s_i x_i for every g at once: a sparse (groups x n) times X product.
        member = sp.csr_matrix((score, (codes, np.arange(n))), shape=(n_groups, n))
        body = np.asarray((member @ X.data).toarray())
        if not X.intercept:
            return body
        return np.column_stack([np.bincount(codes, weights=score, minlength=n_groups), body])
    sums = np.zeros((n_groups, d))
    for rows in block_slices(n, d):
        np.add.at(sums, codes[rows], X[rows] * score[rows][:, None])
    return sums


def covariance(
    family: Family,
    design: Design,
    coef: FloatArray,
    fisher: FloatArray,
    *,
    cov_type: str = "nonrobust",
    information: str = "expected",
    scale: float = 1.0,
    groups: np.ndarray | None = None,
) -> RobustCov:
    """Covariance of the fitted coefficients.

    Parameters
    ----------
    family : Family
        Family with its link.
    design : Design
        The design on the fitted (non-aliased) columns.
    coef : ndarray of shape (p,)
        Coefficients at the solution, on those columns.
    fisher : ndarray of shape (p, p)
        Expected information Xᵀ W X at the solution (scale 1).
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, default="nonrobust"
        ``"nonrobust"`` is ``scale · I⁻¹``; the others are sandwiches (module docstring).
    information : {"expected", "observed"}, default="expected"
        Which information matrix is inverted (the bread of a sandwich).
    scale : float, default=1.0
        Dispersion φ (used by ``"nonrobust"`` only).
    groups : ndarray of int of shape (n_samples,), optional
        Cluster codes ``0 .. G-1`` per row, for ``cov_type="cluster"``.

    Returns
    -------
    RobustCov
    """
    canonical_or_expected = information == "expected" or family.is_canonical
    if cov_type == "nonrobust" and canonical_or_expected:
        bread, rcond = inverse_and_rcond(fisher)  # no pass over X needed, unless ill-conditioned
        if rcond < RCOND_QR and _qr_ready(design):
            bread = _qr_inverse(design, row_fit(family, design, coef).work_weights)
        return RobustCov(cov=bread * scale)
    rows = row_fit(family, design, coef)
    info = fisher if canonical_or_expected else observed_information(family, design, rows, fisher)
    bread, rcond = inverse_and_rcond(info)
    if rcond < RCOND_QR and canonical_or_expected and _qr_ready(design):
        bread = _qr_inverse(design, rows.work_weights)
    if cov_type == "nonrobust":
        return RobustCov(cov=bread * scale)
    X = design.X
    n_obs, p = design.n_obs, X.shape[1]
    score = rows.score_factor
    n_groups = None
    if cov_type == "cluster":
        if groups is None:
            raise InvalidGroupsError(
                "cov_type='cluster' needs cluster labels: pass groups= to fit() or with_cov()."
            )
        n_codes = int(groups.max()) + 1 if groups.size else 0
        n_groups = int(np.unique(groups[design.weights > 0]).size)
        if n_groups < 2:
            raise InvalidGroupsError(
                f"cov_type='cluster' needs at least 2 clusters among the rows with positive "
                f"weight; groups has {n_groups}."
            )
        sums = _group_sums(X, score, groups, n_codes)
        meat = sums.T @ sums
        factor = n_groups / (n_groups - 1.0) * (n_obs - 1.0) / (n_obs - p)
    else:
        u2 = score * score
        factor = 1.0
        if cov_type in ("HC2", "HC3"):
            h = leverage(X, rows.work_weights, fisher)
            power = 1.0 if cov_type == "HC2" else 2.0
            with np.errstate(divide="ignore", invalid="ignore"):
                # Rows with no score (zero weight, or y == mu) add nothing even at h = 1.
                u2 = np.where(u2 == 0.0, 0.0, u2 / (1.0 - h) ** power)
        elif cov_type == "HC1":
            factor = n_obs / (n_obs - p)
        meat = weighted_gram(X, u2)
    cov = factor * (bread @ meat @ bread)
    return RobustCov(cov=np.asarray(0.5 * (cov + cov.T)), n_groups=n_groups)
