"""What a fitted estimator says about its training data, computed from ``result_``.

Covariance switches, residuals, influence, Wald tests, the coefficient table, the summary and
the deviance-explained score: all from the frozen fit, never by refitting.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._typing import FloatArray
from ..analysis.summary import Summary, summarize
from ..design import formula as formula_mod
from ..design.base import Design
from ..design.groups import codes_for_design
from ..design.validate import as_vector
from ..exceptions import InvalidParameterError
from ..fitting import refit_inference
from ..inference import Inference, check_options
from ..inference import residuals as residuals_mod
from ..inference.prediction import coef_table
from ..inference.wald import HypothesisTestResult, wald_test
from .inputs import check_cov_available
from .params import cov_options
from .prediction import PredictionMixin

__all__ = ["INFERENCE_ATTRIBUTES", "PostFitMixin"]


#: Fit statistics copied from the :class:`~newtonglm.inference.compute.Inference` as ``<name>_``.
INFERENCE_ATTRIBUTES = (
    "deviance",
    "null_deviance",
    "llf",
    "aic",
    "bic",
    "pearson_chi2",
    "df_model",
    "df_resid",
    "scale",
)


class PostFitMixin(PredictionMixin):
    """Post-fit statistics of the training rows, from ``result_``."""

    term_names_: Any
    formula: Any
    fit_intercept: Any
    cov_type: Any
    scale: Any
    information: Any

    def _set_inference(self, inf: Inference) -> None:
        """Set ``inference_`` and the fit statistics copied from it."""
        self.inference_ = inf
        for attr in INFERENCE_ATTRIBUTES:
            setattr(self, f"{attr}_", getattr(inf, attr))
        self.nobs_ = inf.n_obs
        self._cov_frame: pd.DataFrame | None = None

    def with_cov(self, cov_type: str, groups: Any = None) -> Any:
        """A copy of this fitted model with the covariance recomputed, without refitting.

        The coefficients, deviance and every other fit statistic are shared; ``cov_params_``,
        the standard errors, the coefficient table, confidence and prediction intervals and
        Wald tests of the copy use ``cov_type``. This model is left unchanged.

        Parameters
        ----------
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
            Covariance type (see the class docstring).
        groups : array-like of shape (n_samples,), optional
            Cluster labels for ``cov_type="cluster"``, one per row given to ``fit`` or one per
            row fitted (after ``missing="drop"``); None reuses the labels given to ``fit``.

        Returns
        -------
        estimator
            A copy of the same class with ``cov_type`` set to ``cov_type``.
        """
        check_is_fitted(self, "coef_")
        check_options(cov_type, self.scale, self.information)
        fit = self.result_
        check_cov_available(fit, cov_type, self.information, groups)
        codes = codes_for_design(groups, None, fit.design)
        stored = codes if codes is not None else fit.groups
        options = cov_options(self, cov_type, stored if cov_type == "cluster" else codes)
        new = copy.copy(self)
        new.cov_type = cov_type
        new.result_ = refit_inference(fit, dataclasses.replace(options, groups=stored))
        new._set_inference(new.result_.inference)
        return new

    # -- residuals and influence --------------------------------------------------------
    def _fitted_parts(self) -> tuple[Design, FloatArray, FloatArray]:
        check_is_fitted(self, "coef_")
        fit = self.result_
        if not fit.design.X.in_memory:
            raise InvalidParameterError(
                "residuals and influence are per-row statistics of the training data and are "
                "not computed for a Dask fit; use predict() on the Dask data instead."
            )
        assert fit.final.hess is not None
        return fit.fitted_design, fit.final.coef, fit.final.hess

    def residuals(self, kind: str = "deviance") -> FloatArray:
        """Residuals on the training rows (after any ``missing='drop'``).

        Parameters
        ----------
        kind : str, default="deviance"
            ``"response"`` y - μ; ``"working"`` (y - μ) dη/dμ; ``"pearson"``
            √w (y - μ) / √V(μ); ``"deviance"`` sign(y - μ) √(w d(y, μ)); ``"anscombe"``
            √w (A(y) - A(μ)) / V(μ)^(1/6); ``"studentized_deviance"`` and
            ``"studentized_pearson"``, the deviance or Pearson residual over √(φ (1 - h))
            (internally studentized, R's ``rstandard``), with h the leverage.

        Returns
        -------
        ndarray of shape (n_samples,)
            As R's ``residuals.glm`` and statsmodels' ``resid_*`` define them; the Pearson,
            deviance and Anscombe residuals are not divided by the dispersion.
        """
        design, coef, fisher = self._fitted_parts()
        return residuals_mod.residuals(
            self.family_, design, coef, fisher, self.inference_.scale, kind
        )

    def influence(self) -> pd.DataFrame:
        """Leverage and influence of each training row, without forming the n × n hat matrix.

        Returns
        -------
        pandas.DataFrame
            One row per training observation; columns ``hat`` (leverage of the IRLS weighted
            design), ``cooks_distance``, ``studentized_deviance``, ``studentized_pearson``
            and ``dfbeta_<term>`` (one-step β̂ - β̂₍₋ᵢ₎, NaN for aliased terms). Definitions in
            :mod:`newtonglm.inference.residuals`; all from the expected information, as R's
            ``influence.measures`` and statsmodels' ``get_influence(observed=False)``.
        """
        design, coef, fisher = self._fitted_parts()
        return residuals_mod.influence(
            self.family_,
            design,
            coef,
            fisher,
            self.inference_.scale,
            self.term_names_,
            self.result_.kept,
        )

    def wald_test(self, hypothesis: str | list[str]) -> HypothesisTestResult:
        """Wald test of linear hypotheses on named terms, e.g. ``"x1 = 0, x2 = x3"``.

        Uses the chosen covariance (``cov_params_``) and a χ² reference, as statsmodels'
        ``wald_test(..., scalar=True)`` for a GLM; see :func:`newtonglm.inference.wald.wald_test`
        for the grammar.

        Returns
        -------
        HypothesisTestResult
            ``statistic``, ``df``, ``p_value``.
        """
        check_is_fitted(self, "coef_")
        return wald_test(self.inference_, self.term_names_, hypothesis)

    # -- inference ----------------------------------------------------------------------
    def coef_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: coef, std_err, z, p_value and a (1 - alpha) Wald interval.

        Parameters
        ----------
        alpha : float, default=0.05
            One minus the confidence level of the interval.

        Returns
        -------
        pandas.DataFrame
            Indexed by term name (formulaic naming with a formula; ``intercept`` and the
            feature names without).
        """
        check_is_fitted(self, "coef_")
        return coef_table(self.inference_, self.term_names_, alpha)

    def summary(self, alpha: float = 0.05) -> Summary:
        """A readable report of the fit: model, fit statistics, then the coefficient table.

        The header names the covariance the standard errors use and how the dispersion was
        obtained; for a Poisson fit it shows Pearson χ²/df and notes overdispersion (see
        :func:`newtonglm.inference.compute.overdispersion`).
        """
        check_is_fitted(self, "coef_")
        return summarize(
            self.result_,
            model=type(self).__name__,
            formula=self.formula,
            table=self.coef_table(alpha),
        )

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Fraction of deviance explained, D² = 1 - D(y, mu) / D(y, mean(y))."""
        check_is_fitted(self, "coef_")
        if self.formula is not None:
            y = formula_mod.build(self.formula, X, fit_intercept=self.fit_intercept).y
        y = as_vector(y, "y")
        mu = self.predict_mean(X)
        w = np.ones_like(y) if sample_weight is None else as_vector(sample_weight, "sample_weight")
        fam = self.family_
        null_mu = np.full_like(y, float(w @ y) / float(w.sum()))
        dev_null = fam.deviance(y, fam.clip_mu(null_mu), w)
        dev = fam.deviance(y, fam.clip_mu(mu), w)
        return float(1.0 - dev / dev_null) if dev_null > 0 else float("nan")
