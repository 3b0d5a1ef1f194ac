"""What a fit says when it reached the optimum but something about it needs saying."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import newtonglm as ng
from newtonglm.exceptions import BoundaryWarning, CovarianceWarning
from newtonglm.inference import robust


def _one_extreme_row() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = (rng.random(300) < 1.0 / (1.0 + np.exp(-x))).astype(float)
    x[0], y[0] = 60.0, 1.0  # fitted probability 1 - e^-60: numerically 1, yet the MLE exists
    return x[:, None], y


def test_fitted_probabilities_at_0_or_1_are_said_at_the_optimum() -> None:
    X, y = _one_extreme_row()
    with pytest.warns(BoundaryWarning, match=r"^1 fitted probabilities are numerically 0 or 1"):
        est = ng.LogisticRegression().fit(X, y)
    assert est.converged_ and np.isfinite(est.inference_.std_err).all()
    eta = est.intercept_ + 60.0 * est.coef_[0]
    msg = [n for n in est.result_.notes if "numerically 0 or 1" in n][0]
    assert f"largest |eta| = {abs(eta):.3g}" in msg


def test_no_boundary_warning_on_ordinary_data() -> None:
    X, y = _one_extreme_row()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ng.LogisticRegression().fit(X[1:], y[1:])


def test_a_converged_fit_without_a_covariance_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _one_extreme_row()
    monkeypatch.setattr(robust, "inverse_and_rcond", lambda a: (np.full(a.shape, np.nan), 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundaryWarning)
        with pytest.warns(CovarianceWarning, match=r"standard errors of \['intercept', 'x0'\]"):
            est = ng.LogisticRegression().fit(X, y)
    assert est.converged_ and np.isnan(est.inference_.std_err).all()
