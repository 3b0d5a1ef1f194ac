"""Inference at the solution: dispersion, covariance, Wald statistics, fit statistics.

By default the covariance is the inverse Fisher information at the final coefficients (times the
dispersion, 1 for the binomial and Poisson families), from the information matrix the solver's
last pass already formed, by Cholesky. :class:`CovOptions` chooses instead a sandwich or
cluster-robust covariance, the observed information, or an estimated dispersion (the
quasi-binomial / quasi-Poisson fits); ``robust.py`` holds that maths.

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
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import kernel, robust
from ._typing import FloatArray
from .design import Design
from .exceptions import InvalidParameterError
from .families import Family, Poisson
from .links import Link
from .matrix import DenseMatrix, SparseMatrix
from .objective import Evaluation, GLMObjective
from .solvers import NewtonSolver, StopRule

__all__ = [
    "COEF_TABLE_COLUMNS",
    "OVERDISPERSION_ALPHA",
    "OVERDISPERSION_RATIO",
    "PREDICTION_COLUMNS",
    "SCALE_METHODS",
    "CovOptions",
    "Inference",
    "Overdispersion",
    "check_alpha",
    "check_options",
    "coef_table",
    "compute",
    "null_deviance",
    "overdispersion",
    "prediction_frame",
    "prediction_se",
    "subset_design",
]

#: A Poisson fit is noted as overdispersed when Pearson χ²/df exceeds this ratio (its standard
#: errors are then too small by √1.5 ≈ 1.22 or more, enough to change conclusions) ...
OVERDISPERSION_RATIO = 1.5
#: ... and Pearson's goodness-of-fit test rejects at this level, so that a ratio that large is
#: not a chance fluctuation of a small fit (with 10 df, χ²/df > 1.5 has probability 0.13).
OVERDISPERSION_ALPHA = 0.05

#: Accepted strings for ``scale=``: Pearson χ² / df and deviance / df.
SCALE_METHODS = ("X2", "dev")
#: Columns of a prediction frame, as statsmodels' ``get_prediction`` names them.
PREDICTION_COLUMNS = (
    "mean",
    "mean_se",
    "mean_ci_lower",
    "mean_ci_upper",
    "linear",
    "linear_se",
    "linear_ci_lower",
    "linear_ci_upper",
)


def _real(value: object) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value)


def check_options(cov_type: object, scale: object, information: object) -> None:
    """Raise :class:`InvalidParameterError` unless the covariance parameters are accepted."""
    if cov_type not in robust.COV_TYPES:
        raise InvalidParameterError(
            f"cov_type={cov_type!r} is not accepted; use one of {list(robust.COV_TYPES)}."
        )
    if information not in robust.INFORMATION_KINDS:
        raise InvalidParameterError(
            f"information={information!r} is not accepted; use one of "
            f"{list(robust.INFORMATION_KINDS)}."
        )
    value = _real(scale)
    if not (
        scale is None
        or (isinstance(scale, str) and scale in SCALE_METHODS)
        or (value is not None and np.isfinite(value) and value > 0)
    ):
        raise InvalidParameterError(
            f"scale={scale!r} is not accepted; use None (the family's own dispersion), "
            "'X2' (Pearson chi2 / df), 'dev' (deviance / df) or a positive number."
        )


def check_alpha(alpha: object) -> None:
    """Raise :class:`InvalidParameterError` unless 0 < alpha < 1."""
    value = _real(alpha)
    if value is None or not 0.0 < value < 1.0:
        raise InvalidParameterError(f"alpha must be in (0, 1); got {alpha!r}.")


@dataclass(frozen=True, slots=True)
class CovOptions:
    """How the dispersion and the covariance are computed (an estimator's parameters)."""

    #: One of :data:`newtonglm.robust.COV_TYPES`.
    cov_type: str = "nonrobust"
    #: None (the family's default), "X2", "dev", or a fixed positive dispersion.
    scale: str | float | None = None
    #: Information matrix inverted: "expected" or "observed".
    information: str = "expected"
    #: Cluster codes 0 .. G-1, one per row of the design (``cov_type="cluster"``).
    groups: np.ndarray | None = None


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
    #: Covariance type (:data:`newtonglm.robust.COV_TYPES`) and information matrix inverted.
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
    if getattr(design.X, "is_distributed", False):
        from . import dask_backend

        return dask_backend.null_deviance(family, design, stop)
    y, w, offset = design.y, design.weights, design.offset
    if design.intercept_index is not None and offset is None:
        return family.null_deviance(y, w)  # mu is the weighted mean of y
    if design.intercept_index is None:
        # mu is known without a fit: g⁻¹(offset), or g⁻¹(0). Blockwise, so that no n-length
        # temporaries are made.
        total = 0.0
        for rows in kernel.block_slices(y.shape[0], 1):
            if offset is None:
                mu = family.link.inverse(np.zeros(rows.stop - rows.start))
            else:
                mu = family.link.inverse(offset[rows])
            total += family.deviance(y[rows], mu, w[rows])
        return total
    ones = Design(
        X=DenseMatrix(np.empty((y.shape[0], 0)), intercept=True),
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


def subset_design(design: Design, kept: Sequence[int]) -> Design:
    """The design restricted to the columns ``kept`` (the non-aliased ones)."""
    kept = list(kept)
    if len(kept) == design.X.shape[1]:
        return design
    index = design.intercept_index
    return Design(
        X=design.X.take_columns(kept),
        y=design.y,
        weights=design.weights,
        offset=design.offset,
        names=tuple(design.names[j] for j in kept),
        intercept_index=kept.index(index) if index is not None and index in kept else None,
        response_name=design.response_name,
        n_dropped=design.n_dropped,
        kept_rows=design.kept_rows,
    )


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
    X: Any = design.X
    distributed = getattr(X, "is_distributed", False)
    n_obs = X.stats.n_obs if distributed else design.n_obs
    df_resid = n_obs - rank
    deviance = final.deviance
    scale, scale_method = _dispersion(family, opts.scale, final, df_resid)
    if distributed:  # from the sums of the Dask design's validation pass
        from . import dask_backend

        llf = dask_backend.loglik(family, X, deviance, scale)
    elif family.fixed_scale:
        llf = family.saturated_loglik(design.y, design.weights) - 0.5 * deviance
        if isinstance(family, Poisson):
            # statsmodels' convention at a dispersion φ != 1: the Poisson log-likelihood is
            # divided by φ, the binomial one is not (R reports no likelihood for either).
            llf /= scale
    else:
        eta = design.X.take_columns(kept) @ final.coef
        if design.offset is not None:
            eta = eta + design.offset
        llf = family.loglik(design.y, family.link.inverse(eta), design.weights)
    assert final.hess is not None
    result = robust.covariance(
        family,
        subset_design(design, kept),
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


def coef_table(inf: Inference, names: Sequence[str], alpha: float = 0.05) -> pd.DataFrame:
    """Coefficient table indexed by term name: coef, std_err, z, p_value, ci_lower, ci_upper.

    Built on ``inf.cov`` (the chosen covariance); ``table.attrs["covariance"]`` says which.
    """
    check_alpha(alpha)
    lower, upper = inf.conf_int(alpha)
    table = pd.DataFrame(
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
    table.attrs["covariance"] = inf.cov_label
    return table


def prediction_se(X: FloatArray | DenseMatrix | SparseMatrix, cov: FloatArray) -> FloatArray:
    """Standard errors of x_iᵀβ, √(x_iᵀ V x_i) per row, one block of rows at a time."""
    n, d = X.shape
    se = np.empty(n)
    for rows in kernel.block_slices(n, d):
        xb = X[rows]
        se[rows] = np.einsum("ij,ij->i", xb @ cov, xb)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.maximum(se, 0.0))


def prediction_frame(
    inf: Inference,
    kept: Sequence[int],
    link: Link,
    X: FloatArray | DenseMatrix | SparseMatrix,
    offset: FloatArray | None,
    alpha: float,
    index: pd.Index,
) -> pd.DataFrame:
    """Predictions with standard errors and intervals, as statsmodels' ``get_prediction``.

    ``linear = Xβ + offset``, ``linear_se = √(xᵀ V x)``, the normal interval
    ``linear ± z_{1-α/2} linear_se``; ``mean = g⁻¹(linear)``, ``mean_se = |dμ/dη| linear_se``
    (delta method) and the mean's interval is the linear one transformed by g⁻¹.

    Parameters
    ----------
    inf : Inference
        The fit's inference (coefficients and the chosen covariance).
    kept : sequence of int
        Fitted (non-aliased) columns.
    link : Link
        The model's link.
    X : ndarray of shape (n_samples, len(kept))
        New design matrix on the fitted columns.
    offset : ndarray of shape (n_samples,) or None
        Offset of the new rows.
    alpha : float
        One minus the confidence level.
    index : pandas.Index
        Row labels.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PREDICTION_COLUMNS`.
    """
    kept = list(kept)
    eta = kernel.linear_predictor(X, inf.coef[kept], offset)
    se = prediction_se(X, inf.cov[np.ix_(kept, kept)])
    q = float(stats.norm.ppf(1.0 - alpha / 2.0))
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi = link.inverse(eta - q * se), link.inverse(eta + q * se)
        frame = {
            "mean": np.asarray(link.inverse(eta)),
            "mean_se": np.abs(link.inverse_derivative(eta)) * se,
            "mean_ci_lower": np.minimum(lo, hi),  # ordered for a decreasing link too
            "mean_ci_upper": np.maximum(lo, hi),
            "linear": eta,
            "linear_se": se,
            "linear_ci_lower": eta - q * se,
            "linear_ci_upper": eta + q * se,
        }
    return pd.DataFrame(frame, index=index, columns=list(PREDICTION_COLUMNS))


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
        p_value=float(stats.chi2.sf(inf.pearson_chi2, df)),
    )
