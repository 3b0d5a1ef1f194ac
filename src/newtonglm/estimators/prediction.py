"""Predictions of a fitted estimator: linear predictor, mean, and intervals, for new data.

New in-memory data go through ``inputs.new_design`` (the fitted formula spec, or the fitted
feature count); Dask collections are predicted lazily by ``newtonglm.dask.predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._typing import FloatArray
from ..design.matrix import as_matrix, linear_predictor
from ..exceptions import InvalidParameterError
from ..inference import check_alpha
from ..inference.prediction import prediction_frame
from .inputs import is_dask, new_design

__all__ = ["PredictionMixin"]


class PredictionMixin:
    """``predict_linear``, ``predict_mean`` and ``predict_interval`` from ``result_``."""

    result_: Any
    inference_: Any
    family_: Any
    model_spec_: Any
    offset_spec_: Any

    def _linear_predictor(self, X: Any, offset: Any = None, exposure: Any = None) -> FloatArray:
        check_is_fitted(self, "coef_")
        full = np.nan_to_num(self.inference_.coef)  # aliased (NaN) coefficients count as 0
        if is_dask(X, offset):  # a lazy Dask array (or Series, for a Dask DataFrame)
            from ..dask import predict as dask_predict

            implicit = self.model_spec_ is None and self.result_.design.intercept_index is not None
            return dask_predict.predict_linear(  # type: ignore[no-any-return]
                X, offset, full, implicit, self.model_spec_, self.offset_spec_, exposure
            )
        Xd, offs = new_design(self, X, offset, exposure)
        return linear_predictor(Xd, full, offs)

    def predict_linear(self, X: Any, offset: Any = None, *, exposure: Any = None) -> FloatArray:
        """Linear predictor eta = X coef + offset for new data.

        A formula model adds the offset of the new rows as at fit time (its ``offset(...)``
        terms and the offset / exposure columns it was fitted with); ``offset`` and
        ``exposure`` (log taken) give it for arrays, or replace the remembered columns.
        """
        return self._linear_predictor(X, offset, exposure)

    def predict_mean(self, X: Any, offset: Any = None, *, exposure: Any = None) -> FloatArray:
        """Fitted mean mu = g⁻¹(eta) for new data (offsets as for ``predict_linear``)."""
        eta = self._linear_predictor(X, offset, exposure)
        if is_dask(eta):
            from ..dask import predict as dask_predict

            return dask_predict.apply(eta, self.family_.link.inverse)  # type: ignore[no-any-return]
        return np.asarray(self.family_.link.inverse(eta))

    def _predict_kind(self, X: Any, offset: Any, kind: str, exposure: Any = None) -> FloatArray:
        if kind == "mean":
            return self.predict_mean(X, offset, exposure=exposure)
        if kind == "linear":
            return self.predict_linear(X, offset, exposure=exposure)
        raise InvalidParameterError(
            f"kind={kind!r} is not accepted; use 'mean' (mu = g^-1(eta)) or 'linear' (eta)."
        )

    def predict_interval(
        self, X: Any, offset: Any = None, alpha: float = 0.05, *, exposure: Any = None
    ) -> pd.DataFrame:
        """Predictions with standard errors and (1 - alpha) confidence intervals.

        On the link scale, ``linear = xᵀβ + offset`` with ``linear_se = √(xᵀ V x)`` (V the
        chosen covariance, ``cov_params_``) and the normal interval ``linear ± z linear_se``.
        On the response scale, ``mean = g⁻¹(linear)``, ``mean_se = |dμ/dη| linear_se`` (delta
        method) and the interval is the link-scale interval transformed by g⁻¹, so it stays
        inside the range of the mean — as statsmodels' ``get_prediction`` computes them.

        Parameters
        ----------
        X : array-like or DataFrame
            New data, as for ``predict`` (with a formula, a DataFrame through the fitted spec).
        offset : array-like of shape (n_samples,) or str, optional
            Offset of the new rows (e.g. log exposure); a formula model computes it from the
            new data as at fit time when None.
        alpha : float, default=0.05
            One minus the confidence level.
        exposure : array-like of shape (n_samples,) or str, optional
            Exposure of the new rows (log taken, added to the offset).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`newtonglm.inference.prediction.PREDICTION_COLUMNS`, one row per row
            of ``X`` (its index when ``X`` is a DataFrame).
        """
        check_is_fitted(self, "coef_")
        check_alpha(alpha)
        Xd, offs = new_design(self, X, offset, exposure)
        kept = list(self.result_.kept)
        Xk = as_matrix(Xd).take_columns(kept)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(Xd.shape[0])
        return prediction_frame(self.inference_, kept, self.family_.link, Xk, offs, alpha, index)
