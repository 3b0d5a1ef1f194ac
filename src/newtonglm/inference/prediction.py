"""Tables of a fit: the coefficient table, and predictions with standard errors and intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import FloatArray
from ..design.matrix import DenseMatrix, SparseMatrix, linear_predictor
from ..engine.blocks import block_slices
from ..families import Link
from .compute import Inference
from .options import check_alpha

__all__ = [
    "COEF_TABLE_COLUMNS",
    "PREDICTION_COLUMNS",
    "coef_table",
    "prediction_frame",
    "prediction_se",
]

COEF_TABLE_COLUMNS = ("coef", "std_err", "z", "p_value", "ci_lower", "ci_upper")


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
    for rows in block_slices(n, d):
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
    eta = linear_predictor(X, inf.coef[kept], offset)
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
