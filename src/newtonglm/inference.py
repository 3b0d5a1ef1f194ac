"""Inference at the solution: covariance, Wald statistics, deviance-based fit statistics.

Covariance is the inverse Fisher information at the final coefficients (times the dispersion,
which is 1 for the binomial and Poisson families), computed from the information matrix the
solver's last pass already formed, by Cholesky, never by an explicit inverse of X.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, stats

from ._typing import FloatArray
from .design import Design
from .exceptions import InvalidParameterError
from .families import Family
from .objective import Evaluation, GLMObjective
from .solvers import NewtonSolver, StopRule

__all__ = ["COEF_TABLE_COLUMNS", "Inference", "coef_table", "compute", "null_deviance"]

COEF_TABLE_COLUMNS = ("coef", "std_err", "z", "p_value", "ci_lower", "ci_upper")


@dataclass(frozen=True, slots=True)
class Inference:
    """Everything inferential about a fit; arrays are over all columns of X (aliased = NaN)."""

    #: Coefficients, NaN for aliased columns.
    coef: FloatArray
    #: Covariance matrix of the coefficients (NaN rows/columns for aliased ones).
    cov: FloatArray
    #: Standard errors.
    std_err: FloatArray
    #: Dispersion used (1 for binomial and Poisson).
    scale: float
    #: Deviance, null deviance and Pearson's χ².
    deviance: float
    null_deviance: float
    pearson_chi2: float
    #: Log-likelihood (all constants included), AIC and BIC as R and statsmodels define them.
    llf: float
    aic: float
    bic: float
    #: Number of observations with positive weight, rank, and degrees of freedom.
    n_obs: int
    rank: int
    df_model: int
    df_resid: int

    @property
    def z(self) -> FloatArray:
        """Wald statistics, coef / std_err."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.coef / self.std_err)

    @property
    def p_value(self) -> FloatArray:
        """Two-sided p-values of the Wald statistics (standard normal reference)."""
        return np.asarray(2.0 * stats.norm.sf(np.abs(self.z)))

    def conf_int(self, alpha: float = 0.05) -> tuple[FloatArray, FloatArray]:
        """Wald confidence intervals, coef ± z_{1-alpha/2} std_err."""
        q = stats.norm.ppf(1.0 - alpha / 2.0)
        return self.coef - q * self.std_err, self.coef + q * self.std_err


def null_deviance(family: Family, design: Design, stop: StopRule) -> float:
    """Deviance of the null model, as R's ``glm`` defines it.

    With an intercept: the intercept-only model with the same weights and offset (the weighted
    mean of y when there is no offset; an intercept-only fit otherwise). Without an intercept:
    mu = g⁻¹(offset).
    """
    y, w, offset = design.y, design.weights, design.offset
    if design.intercept_index is None:
        eta = np.zeros_like(y) if offset is None else offset
        return family.deviance(y, family.link.inverse(eta), w)
    if offset is None:
        mu = np.full_like(y, float(w @ y) / float(w.sum()))
        return family.deviance(y, mu, w)
    ones = Design(
        X=np.ones((y.shape[0], 1), order="F"),
        y=y,
        weights=w,
        offset=offset,
        names=("Intercept",),
        intercept_index=0,
        response_name=design.response_name,
        n_dropped=0,
    )
    objective = GLMObjective(family, ones)
    result = NewtonSolver().solve(objective, objective.initial_coef(), stop)
    return result.final.deviance


def compute(
    family: Family,
    design: Design,
    final: Evaluation,
    kept: Sequence[int],
    null_dev: float,
) -> Inference:
    """Inference from the solver's final evaluation on the kept (non-aliased) columns.

    Parameters
    ----------
    family : Family
        Family with its link.
    design : Design
        The full design (all columns, aliased included).
    final : Evaluation
        Evaluation at the solution on the kept columns, with the Fisher information.
    kept : sequence of int
        Indices of the columns of ``design.X`` that were fitted.
    null_dev : float
        Null deviance.

    Returns
    -------
    Inference
    """
    d = design.X.shape[1]
    kept = list(kept)
    rank = len(kept)
    n_obs = design.n_obs
    df_resid = n_obs - rank
    deviance = final.deviance
    if family.fixed_scale:
        scale = 1.0
        llf = family.saturated_loglik(design.y, design.weights) - 0.5 * deviance
    else:
        # Pearson estimate of the dispersion, as statsmodels' default for GLM.
        scale = final.pearson_chi2 / df_resid if df_resid > 0 else float("nan")
        eta = design.X[:, kept] @ final.coef
        if design.offset is not None:
            eta = eta + design.offset
        llf = family.loglik(design.y, family.link.inverse(eta), design.weights)
    assert final.hess is not None
    try:
        cov_kept = linalg.cho_solve(linalg.cho_factor(final.hess), np.eye(rank)) * scale
    except linalg.LinAlgError:
        cov_kept = np.full((rank, rank), np.nan)
    coef = np.full(d, np.nan)
    coef[kept] = final.coef
    cov = np.full((d, d), np.nan)
    cov[np.ix_(kept, kept)] = cov_kept
    with np.errstate(invalid="ignore"):
        std_err = np.sqrt(np.diag(cov))
    k = rank  # statsmodels and R count the coefficients (df_model + 1)
    return Inference(
        coef=coef,
        cov=cov,
        std_err=std_err,
        scale=scale,
        deviance=deviance,
        null_deviance=null_dev,
        pearson_chi2=final.pearson_chi2,
        llf=llf,
        aic=-2.0 * llf + 2.0 * k,
        bic=-2.0 * llf + np.log(n_obs) * k,
        n_obs=n_obs,
        rank=rank,
        df_model=rank - (1 if design.intercept_index is not None else 0),
        df_resid=df_resid,
    )


def coef_table(inf: Inference, names: Sequence[str], alpha: float = 0.05) -> pd.DataFrame:
    """Coefficient table indexed by term name: coef, std_err, z, p_value, ci_lower, ci_upper."""
    if not 0.0 < alpha < 1.0:
        raise InvalidParameterError(f"alpha must be in (0, 1); got {alpha!r}.")
    lower, upper = inf.conf_int(alpha)
    return pd.DataFrame(
        {
            "coef": inf.coef,
            "std_err": inf.std_err,
            "z": inf.z,
            "p_value": inf.p_value,
            "ci_lower": lower,
            "ci_upper": upper,
        },
        index=pd.Index(list(names), name="term"),
    )
