"""Inference at the solution: dispersion, covariance, Wald statistics, fit statistics.

By default the covariance is the inverse Fisher information at the final coefficients (times the
dispersion, 1 for the binomial and Poisson families), from the information matrix the solver's
last pass already formed, by Cholesky. :class:`CovOptions` chooses instead a sandwich or
cluster-robust covariance, the observed information, or an estimated dispersion (the
quasi-binomial / quasi-Poisson fits); ``robust.py`` holds that maths. Row sums (n_obs, the
saturated log-likelihood) come from the design's :attr:`~newtonglm.design.base.Design.stats`, so
every kind of design, in memory or distributed, takes the same path.

Wald statistics use the standard normal reference whatever the dispersion, as statsmodels' GLM
does (R's ``summary.glm`` uses t with the residual degrees of freedom when the dispersion is
estimated). With a dispersion φ other than 1, the log-likelihood, AIC and BIC follow
statsmodels: the Poisson log-likelihood is divided by φ, the binomial one is not (statsmodels'
families differ there; R reports no likelihood or AIC for the quasi families, and neither
value is a likelihood to compare models by).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .._typing import FloatArray
from ..design.base import Design
from ..design.stats import DesignStats
from ..engine.objective import Evaluation
from ..families import Family, Poisson
from . import robust
from .options import CovOptions

__all__ = [
    "OVERDISPERSION_ALPHA",
    "OVERDISPERSION_RATIO",
    "Inference",
    "Overdispersion",
    "compute",
    "loglik",
    "overdispersion",
]

#: A Poisson fit is noted as overdispersed when Pearson χ²/df exceeds this ratio (its standard
#: errors are then too small by √1.5 ≈ 1.22 or more, enough to change conclusions) ...
OVERDISPERSION_RATIO = 1.5
#: ... and Pearson's goodness-of-fit test rejects at this level, so that a ratio that large is
#: not a chance fluctuation of a small fit (with 10 df, χ²/df > 1.5 has probability 0.13).
OVERDISPERSION_ALPHA = 0.05


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
    #: Covariance type (:data:`~newtonglm.inference.robust.COV_TYPES`), information inverted.
    cov_type: str = "nonrobust"
    information: str = "expected"
    #: How the dispersion was obtained: "fixed", "X2", "dev" or "given".
    scale_method: str = "fixed"
    #: Number of clusters for ``cov_type="cluster"``.
    n_groups: int | None = None

    @property
    def cov_label(self) -> str:
        """What the covariance is, in words, e.g. ``"HC3 (sandwich)"``."""
        info = f"{self.information} information"
        if self.cov_type == "nonrobust":
            return f"nonrobust ({info})"
        if self.cov_type == "cluster":
            return f"cluster-robust, {self.n_groups} clusters ({info} bread)"
        return f"{self.cov_type} sandwich ({info} bread)"

    @property
    def scale_label(self) -> str:
        """How the dispersion was obtained, in words."""
        return {
            "fixed": "fixed",
            "X2": "Pearson chi2 / df",
            "dev": "deviance / df",
            "given": "given",
        }.get(self.scale_method, self.scale_method)

    @property
    def z(self) -> FloatArray:
        """Wald statistics, coef / std_err."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.coef / self.std_err)

    @property
    def p_value(self) -> FloatArray:
        """Two-sided p-values of the Wald statistics (standard normal reference)."""
        return np.asarray(2.0 * sps.norm.sf(np.abs(self.z)))

    def conf_int(self, alpha: float = 0.05) -> tuple[FloatArray, FloatArray]:
        """Wald confidence intervals, coef ± z_{1-alpha/2} std_err."""
        q = sps.norm.ppf(1.0 - alpha / 2.0)
        return self.coef - q * self.std_err, self.coef + q * self.std_err


def _dispersion(
    family: Family, scale: str | float | None, final: Evaluation, df_resid: int
) -> tuple[float, str]:
    """The dispersion φ and how it was obtained."""
    if scale is None:
        if family.fixed_scale:
            return 1.0, "fixed"
        scale = "X2"  # Pearson estimate, statsmodels' default for the Gaussian family
    if isinstance(scale, str):
        if df_resid <= 0:
            return float("nan"), scale
        total = final.pearson_chi2 if scale == "X2" else final.deviance
        return total / df_resid, scale
    return float(scale), "given"


def loglik(family: Family, stats: DesignStats, deviance: float, scale: float) -> float:
    """Log-likelihood at a fit with deviance ``deviance``, all constants included.

    Binomial and Poisson: the saturated log-likelihood minus D / 2 (the Poisson one divided by
    a dispersion φ != 1, statsmodels' convention; the binomial one is not — R reports no
    likelihood for either quasi family). Gaussian: the profile log-likelihood with the MLE of
    the dispersion, σ² = D / n, as statsmodels and R's ``logLik.glm`` compute it.
    """
    if not family.fixed_scale:
        n = stats.n_obs
        with np.errstate(divide="ignore"):  # a perfect fit (D = 0) has llf = +inf
            log_sigma2 = np.log(2.0 * np.pi * deviance / n)
        return float(-0.5 * n * (log_sigma2 + 1.0) + 0.5 * stats.sum_log_weights)
    llf = stats.saturated_loglik(family) - 0.5 * deviance
    return llf / scale if isinstance(family, Poisson) else llf


def compute(
    family: Family,
    design: Design,
    final: Evaluation,
    kept: Sequence[int],
    null_dev: float,
    options: CovOptions | None = None,
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
    options : CovOptions, optional
        Covariance type, dispersion and information; the default is the inverse expected
        information with the family's own dispersion.

    Returns
    -------
    Inference
    """
    opts = CovOptions() if options is None else options
    d = design.X.shape[1]
    kept = list(kept)
    rank = len(kept)
    stats = design.stats
    n_obs = stats.n_obs
    df_resid = n_obs - rank
    deviance = final.deviance
    scale, scale_method = _dispersion(family, opts.scale, final, df_resid)
    llf = loglik(family, stats, deviance, scale)
    assert final.hess is not None
    result = robust.covariance(
        family,
        design.take_columns(kept),
        final.coef,
        final.hess,
        cov_type=opts.cov_type,
        information=opts.information,
        scale=scale,
        groups=opts.groups,
    )
    if rank == d:
        coef, cov = np.array(final.coef, dtype=np.float64), result.cov
    else:  # aliased columns: NaN coefficients, NaN rows and columns of the covariance
        coef = np.full(d, np.nan)
        coef[kept] = final.coef
        cov = np.full((d, d), np.nan)
        cov[np.ix_(kept, kept)] = result.cov
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
        cov_type=opts.cov_type,
        information=opts.information,
        scale_method=scale_method,
        n_groups=result.n_groups,
    )


@dataclass(frozen=True, slots=True)
class Overdispersion:
    """Pearson's χ² check of the dispersion of a fixed-scale (Poisson) fit."""

    #: Pearson χ² / df_resid (1 under the model, up to chance).
    ratio: float
    #: Residual degrees of freedom.
    df: int
    #: Upper-tail probability of Pearson's χ² under the model, P(χ²_df > X²).
    p_value: float

    @property
    def flagged(self) -> bool:
        """Whether the ratio is large and beyond chance (module constants)."""
        return self.ratio > OVERDISPERSION_RATIO and self.p_value < OVERDISPERSION_ALPHA

    def note(self, accounted: bool) -> str:
        """Summary note; ``accounted`` when a robust covariance or a dispersion is in use."""
        head = (
            f"Pearson chi2/df = {self.ratio:.3g} on {self.df} df (P = {self.p_value:.2g}): the "
            "counts are overdispersed relative to the Poisson model"
        )
        if accounted:
            return head + "; the standard errors above account for it (cov_type/scale)."
        return (
            head + f", so these standard errors are too small by a factor of about "
            f"{np.sqrt(self.ratio):.3g}. Consider scale='X2' (quasi-Poisson), a robust "
            "cov_type such as 'HC0', or a negative binomial model."
        )


def overdispersion(inf: Inference) -> Overdispersion:
    """Pearson χ²/df and the p-value of Pearson's goodness-of-fit test."""
    df = inf.df_resid
    if df <= 0:
        return Overdispersion(ratio=float("nan"), df=df, p_value=float("nan"))
    return Overdispersion(
        ratio=inf.pearson_chi2 / df,
        df=df,
        p_value=float(sps.chi2.sf(inf.pearson_chi2, df)),
    )
