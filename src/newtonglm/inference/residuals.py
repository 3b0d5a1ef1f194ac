"""Residuals, leverage and influence of a fitted GLM, in blocked passes over X.

Everything here is per row of the training data, at the final coefficients, on the fitted
(non-aliased) columns. Leverage is the diagonal of the hat matrix of the IRLS weighted least
squares problem, ``h_i = W_i x_iᵀ (Xᵀ W X)⁻¹ x_i``, computed one block of rows at a time from
the Cholesky factor of ``Xᵀ W X``: the n × n hat matrix is never formed.

Definitions (R's ``residuals.glm``, ``hatvalues``, ``rstandard``, ``cooks.distance`` and
``dfbeta``; statsmodels' ``GLMResults.resid_*`` and ``GLMInfluence`` with the expected
information), with prior weights w, working weights ``W = w (dμ/dη)² / V(μ)`` and dispersion φ:

- response ``y - μ``; working ``(y - μ) dη/dμ``; Pearson ``√w (y - μ) / √V(μ)``;
- deviance ``sign(y - μ) √(w d(y, μ))``; Anscombe ``√w (A(y) - A(μ)) / V(μ)^(1/6)`` (unscaled);
- studentized (internally, R's ``rstandard``) ``r / √(φ (1 - h))`` for r Pearson or deviance;
- Cook's distance ``r_P² h / (φ p (1 - h)²)`` with p the number of fitted coefficients;
- dfbeta, the one-step change β̂ - β̂₍₋ᵢ₎ from deleting row i,
  ``(Xᵀ W X)⁻¹ x_i W_i r_working,i / (1 - h_i)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg

from .._typing import FloatArray
from ..design.base import Design
from ..design.matrix import DenseMatrix, SparseMatrix, linear_predictor
from ..engine.blocks import block_slices
from ..exceptions import InvalidParameterError
from ..families import Family

__all__ = [
    "INFLUENCE_COLUMNS",
    "RESIDUAL_KINDS",
    "RowFit",
    "influence",
    "leverage",
    "residuals",
    "row_fit",
]

#: Residual kinds accepted by :func:`residuals`.
RESIDUAL_KINDS = (
    "response",
    "working",
    "pearson",
    "deviance",
    "anscombe",
    "studentized_deviance",
    "studentized_pearson",
)
#: Columns of :func:`influence`, before one ``dfbeta_<term>`` column per term.
INFLUENCE_COLUMNS = ("hat", "cooks_distance", "studentized_deviance", "studentized_pearson")


@dataclass(frozen=True, slots=True)
class RowFit:
    """Per-row quantities of a fit at its coefficients (n floats each, no n × d array)."""

    #: Response, prior weights.
    y: FloatArray
    weights: FloatArray
    #: Linear predictor (offset included) and fitted mean.
    eta: FloatArray
    mu: FloatArray
    #: Variance function V(μ) and dμ/dη.
    variance: FloatArray
    dmu_deta: FloatArray

    @property
    def work_weights(self) -> FloatArray:
        """IRLS working weights, W = w (dμ/dη)² / V(μ)."""
        return np.asarray(self.weights * self.dmu_deta**2 / self.variance)

    @property
    def work_resid(self) -> FloatArray:
        """Working residuals, (y - μ) dη/dμ."""
        return np.asarray((self.y - self.mu) / self.dmu_deta)

    @property
    def score_factor(self) -> FloatArray:
        """Per-row score factor s = w (y - μ) (dμ/dη) / V(μ); row i's score is s_i x_i."""
        return np.asarray(self.weights * (self.y - self.mu) * self.dmu_deta / self.variance)


def row_fit(family: Family, design: Design, coef: FloatArray) -> RowFit:
    """Per-row fitted quantities at ``coef`` on the columns of ``design`` (one pass)."""
    eta = linear_predictor(design.X, coef, design.offset)
    with np.errstate(over="ignore", under="ignore"):
        mu = family.clip_mu(family.link.inverse(eta))
        return RowFit(
            y=design.y,
            weights=design.weights,
            eta=eta,
            mu=np.asarray(mu, dtype=np.float64),
            variance=np.asarray(family.variance(mu), dtype=np.float64),
            dmu_deta=np.asarray(family.link.inverse_derivative(eta), dtype=np.float64),
        )


def _cholesky(fisher: FloatArray) -> tuple[FloatArray, bool] | None:
    try:
        return linalg.cho_factor(fisher, lower=True)  # type: ignore[no-any-return]
    except linalg.LinAlgError:
        return None


def leverage(
    X: FloatArray | DenseMatrix | SparseMatrix, work_weights: FloatArray, fisher: FloatArray
) -> FloatArray:
    """Hat values h_i = W_i x_iᵀ (Xᵀ W X)⁻¹ x_i, one block of rows at a time.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Fitted columns of the design matrix.
    work_weights : ndarray of shape (n_samples,)
        Working weights W.
    fisher : ndarray of shape (n_features, n_features)
        Xᵀ W X (the expected information at the solution).

    Returns
    -------
    ndarray of shape (n_samples,)
        NaN everywhere when ``fisher`` is not positive definite.
    """
    n, d = X.shape
    factor = _cholesky(fisher)
    if factor is None:
        return np.full(n, np.nan)
    chol = factor[0]
    h = np.empty(n)
    for rows in block_slices(n, d):
        xw = X[rows] * np.sqrt(work_weights[rows])[:, None]
        a = linalg.solve_triangular(chol, xw.T, lower=True, check_finite=False)
        h[rows] = np.einsum("ij,ij->j", a, a)
    return h


def _anscombe(family: Family, rows: RowFit) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = family.anscombe_transform(rows.y) - family.anscombe_transform(rows.mu)
        return np.asarray(np.sqrt(rows.weights) * diff / rows.variance ** (1.0 / 6.0))


def _pearson(rows: RowFit) -> FloatArray:
    return np.asarray(np.sqrt(rows.weights) * (rows.y - rows.mu) / np.sqrt(rows.variance))


def _deviance(family: Family, rows: RowFit) -> FloatArray:
    unit = family.unit_deviance(rows.y, rows.mu, rows.eta)
    return np.asarray(np.sign(rows.y - rows.mu) * np.sqrt(rows.weights * unit))


def residuals(
    family: Family,
    design: Design,
    coef: FloatArray,
    fisher: FloatArray,
    scale: float,
    kind: str = "deviance",
) -> FloatArray:
    """Residuals of one kind on the training rows; see the module docstring for definitions.

    Parameters
    ----------
    family : Family
        Family with its link.
    design : Design
        The design on the fitted (non-aliased) columns.
    coef : ndarray of shape (n_features,)
        Fitted coefficients on those columns.
    fisher : ndarray of shape (n_features, n_features)
        Expected information Xᵀ W X at ``coef`` (for the studentized kinds).
    scale : float
        Dispersion φ (for the studentized kinds).
    kind : str, default="deviance"
        One of :data:`RESIDUAL_KINDS`.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if kind not in RESIDUAL_KINDS:
        raise InvalidParameterError(
            f"kind={kind!r} is not a residual kind; use one of {list(RESIDUAL_KINDS)}."
        )
    rows = row_fit(family, design, coef)
    if kind == "response":
        return np.asarray(rows.y - rows.mu)
    if kind == "working":
        return rows.work_resid
    if kind == "pearson":
        return _pearson(rows)
    if kind == "deviance":
        return _deviance(family, rows)
    if kind == "anscombe":
        return _anscombe(family, rows)
    h = leverage(design.X, rows.work_weights, fisher)
    r = _pearson(rows) if kind == "studentized_pearson" else _deviance(family, rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(r / np.sqrt(scale * (1.0 - h)))


def influence(
    family: Family,
    design: Design,
    coef: FloatArray,
    fisher: FloatArray,
    scale: float,
    names: Sequence[str],
    kept: Sequence[int],
) -> pd.DataFrame:
    """Influence measures, one row per training observation, in one blocked pass for dfbeta.

    Parameters
    ----------
    family, design, coef, fisher, scale
        As for :func:`residuals` (``design`` and ``coef`` on the fitted columns).
    names : sequence of str
        All term names (aliased ones included; their dfbeta column is NaN).
    kept : sequence of int
        Positions in ``names`` of the fitted columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``hat``, ``cooks_distance``, ``studentized_deviance``, ``studentized_pearson``
        and ``dfbeta_<term>`` for every term.
    """
    rows = row_fit(family, design, coef)
    X = design.X
    n, d = X.shape
    work_w = rows.work_weights
    h = leverage(X, work_w, fisher)
    pearson = _pearson(rows)
    dev = _deviance(family, rows)
    dfbeta = np.full((n, len(names)), np.nan)
    factor = _cholesky(fisher)
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus_h = 1.0 - h
        stud_p = pearson / np.sqrt(scale * one_minus_h)
        stud_d = dev / np.sqrt(scale * one_minus_h)
        cooks = stud_p**2 * h / (one_minus_h * d)
        step = rows.score_factor / one_minus_h  # W_i r_working,i / (1 - h_i)
    if factor is not None:
        kept_cols = np.asarray(kept)
        for block in block_slices(n, d):
            scaled = X[block] * step[block][:, None]
            dfbeta[block, kept_cols] = linalg.cho_solve(factor, scaled.T, check_finite=False).T
    frame = pd.DataFrame(
        {
            "hat": h,
            "cooks_distance": cooks,
            "studentized_deviance": stud_d,
            "studentized_pearson": stud_p,
        }
    )
    dfb = pd.DataFrame(dfbeta, columns=[f"dfbeta_{name}" for name in names])
    return pd.concat([frame, dfb], axis=1)
