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
from ..design.base import Design
from ..design.groups import codes_for_design
from ..design.validate import as_vector
from ..exceptions import InvalidParameterError
from ..fitting import refit_inference
from ..inference import Inference, check_options
from ..inference import residuals as residuals_mod
from ..inference.prediction import coef_table
from ..inference.wald import HypothesisTestResult, wald_test
from .inputs import check_cov_available, response_of
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
        fit.require_data("with_cov()")
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
    def _fitted_parts(self, what: str) -> tuple[Design, FloatArray, FloatArray]:
        check_is_fitted(self, "coef_")
        fit = self.result_
        fit.require_data(what)
        if not fit.design.X.in_memory:
            raise InvalidParameterError(
                "residuals and influence are per-row statistics of the training data and are "
                "not computed for a Dask fit; use predict() on the Dask data instead."
            )
        assert fit.final.hess is not None
        return fit.fitted_design, fit.final.coef, fit.final.hess

    def _row_labels(self) -> pd.Index | None:
        """Labels of the fitted rows when ``fit`` was given a DataFrame, else None."""
        index = self.__dict__.get("_row_index")
        if index is None:
            return None
        kept = self.result_.design.kept_rows
        return index if kept is None else index[kept]

    def _by_row(self, values: FloatArray, name: str) -> Any:
        """``values`` (one per fitted row) as a Series labelled by row, or as given."""
        labels = self._row_labels()
        return values if labels is None else pd.Series(values, index=labels, name=name)

    def residuals(self, kind: str = "deviance") -> Any:
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
        pandas.Series or ndarray of shape (n_fitted_rows,)
            As R's ``residuals.glm`` and statsmodels' ``resid_*`` define them; the Pearson,
            deviance and Anscombe residuals are not divided by the dispersion. A Series
            indexed by the labels of the rows fitted when ``fit`` was given a DataFrame (as
            statsmodels' are), an array otherwise.
        """
        design, coef, fisher = self._fitted_parts("residuals()")
        values = residuals_mod.residuals(
            self.family_, design, coef, fisher, self.inference_.scale, kind
        )
        return self._by_row(values, kind)

    def fitted_values(self, kind: str = "mean") -> Any:
        """Fitted mean μ (``kind="mean"``) or linear predictor η (``"linear"``) of each row.

        Returns
        -------
        pandas.Series or ndarray of shape (n_fitted_rows,)
            Labelled by row as :meth:`residuals` is.
        """
        if kind not in ("mean", "linear"):
            raise InvalidParameterError(
                f"kind={kind!r} is not accepted; use 'mean' (mu = g^-1(eta)) or 'linear' (eta)."
            )
        design, coef, _ = self._fitted_parts("fitted_values()")
        rows = residuals_mod.row_fit(self.family_, design, coef)
        return self._by_row(rows.mu if kind == "mean" else rows.eta, kind)

    def working_weights(self) -> Any:
        """IRLS working weights W = w (dμ/dη)² / V(μ) of each row at the solution.

        Returns
        -------
        pandas.Series or ndarray of shape (n_fitted_rows,)
            Labelled by row as :meth:`residuals` is.
        """
        design, coef, _ = self._fitted_parts("working_weights()")
        rows = residuals_mod.row_fit(self.family_, design, coef)
        return self._by_row(rows.work_weights, "working_weights")

    def hat_values(self) -> Any:
        """Leverage h of each row: the diagonal of the IRLS hat matrix (``influence()["hat"]``).

        Returns
        -------
        pandas.Series or ndarray of shape (n_fitted_rows,)
            Labelled by row as :meth:`residuals` is.
        """
        design, coef, fisher = self._fitted_parts("hat_values()")
        rows = residuals_mod.row_fit(self.family_, design, coef)
        h = residuals_mod.leverage(design.X, rows.work_weights, fisher)
        return self._by_row(h, "hat")

    def influence(self) -> pd.DataFrame:
        """Leverage and influence of each training row, without forming the n × n hat matrix.

        Returns
        -------
        pandas.DataFrame
            One row per training observation, indexed by the rows' labels when ``fit`` was
            given a DataFrame; columns ``hat`` (leverage of the IRLS weighted design),
            ``cooks_distance``, ``studentized_deviance``, ``studentized_pearson`` and
            ``dfbeta_<term>`` (one-step β̂ - β̂₍₋ᵢ₎, NaN for aliased terms). Definitions in
            :mod:`newtonglm.inference.residuals`; all from the expected information, as R's
            ``influence.measures`` and statsmodels' ``get_influence(observed=False)``.
        """
        design, coef, fisher = self._fitted_parts("influence()")
        frame = residuals_mod.influence(
            self.family_,
            design,
            coef,
            fisher,
            self.inference_.scale,
            self.term_names_,
            self.result_.kept,
        )
        labels = self._row_labels()
        if labels is not None:
            frame.index = labels
        return frame

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

    def score(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        offset: Any = None,
        exposure: Any = None,
    ) -> float:
        """Fraction of deviance explained, D² = 1 - D(y, μ) / D(y, mean(y)), on ``X``'s rows.

        μ is ``predict_mean`` of the rows scored, offset included: a formula model computes
        the offset of ``X`` as at fit time (its ``offset(...)`` terms and remembered offset /
        exposure columns); ``offset`` and ``exposure`` give it for arrays. ``y`` defaults to
        the formula's response in ``X``. The null model is the weighted mean of ``y``, as in
        scikit-learn's ``d2_tweedie_score`` (an offset is not part of it).

        Parameters
        ----------
        X : array-like or DataFrame
            Rows to score.
        y : array-like of shape (n_samples,), optional
            Their response (needed without a formula).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows in the two deviances.
        offset, exposure : array-like of shape (n_samples,) or str, optional
            The rows' offset, or exposure (log taken), as for ``predict``.

        Returns
        -------
        float
        """
        check_is_fitted(self, "coef_")
        y = as_vector(response_of(self, X, y), "y")
        mu = self.predict_mean(X, offset, exposure=exposure)
        w = np.ones_like(y) if sample_weight is None else as_vector(sample_weight, "sample_weight")
        fam = self.family_
        null_mu = np.full_like(y, float(w @ y) / float(w.sum()))
        dev_null = fam.deviance(y, fam.clip_mu(null_mu), w)
        dev = fam.deviance(y, fam.clip_mu(mu), w)
        return float(1.0 - dev / dev_null) if dev_null > 0 else float("nan")
