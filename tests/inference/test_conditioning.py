"""Standard errors on ill-conditioned designs, exact; huge weights, handled or refused in words.

When the column-equilibrated information's reciprocal condition number is small, its Cholesky
inverse loses digits (forming Xᵀ W X squares the condition number of √W·X); newtonglm then takes
the covariance from a QR of √W·X, as R does. The reference here is that QR, written with NumPy,
at newtonglm's own estimate (and statsmodels' SVD-based IRLS).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

import newtonglm as ng
from newtonglm.exceptions import InvalidWeightsError
from newtonglm.inference import robust

#: The issue's bar for standard errors on a numerically full-rank design.
SE_RTOL = 1e-8


def _qr_std_err(X: np.ndarray, coef: np.ndarray, family: str) -> np.ndarray:
    eta = X @ coef
    if family == "binomial":
        mu = 1.0 / (1.0 + np.exp(-eta))
        W = mu * (1.0 - mu)
    else:
        W = np.exp(eta)
    R = np.linalg.qr(np.sqrt(W)[:, None] * X, mode="r")
    r_inv = np.linalg.inv(R)
    return np.sqrt(np.sum(r_inv**2, axis=1))


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_large_mean_small_spread_column_has_exact_standard_errors(family: str) -> None:
    # The example: 200 rows, a column 1e4 + 0.01 N(0, 1) beside two standard normals
    # (its SEs were 4.2e-4 relative from the QR's, which agreed with statsmodels to 4e-11).
    rng = np.random.default_rng(1)
    n = 200
    X = np.column_stack([1e4 + 0.01 * rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)])
    if family == "binomial":
        y = (rng.random(n) < 0.5).astype(float)
        model = ng.LogisticRegression().fit(X, y)
        sm_family = sm.families.Binomial()
    else:
        y = rng.poisson(np.exp(0.3 + 0.2 * X[:, 1])).astype(float)
        model = ng.PoissonRegression().fit(X, y)
        sm_family = sm.families.Poisson()
    Xi = np.column_stack([np.ones(n), X])
    exact = _qr_std_err(Xi, model.inference_.coef, family)
    np.testing.assert_allclose(model.inference_.std_err, exact, rtol=SE_RTOL)
    ref = sm.GLM(y, Xi, family=sm_family).fit(tol=1e-14)
    np.testing.assert_allclose(model.inference_.std_err, ref.bse, rtol=1e-7)


def test_well_conditioned_designs_keep_the_cholesky_inverse(monkeypatch) -> None:
    calls: list[int] = []
    original = robust._qr_inverse
    monkeypatch.setattr(robust, "_qr_inverse", lambda *a: calls.append(1) or original(*a))
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1000, 5))
    y = (rng.random(1000) < 0.5).astype(float)
    ng.LogisticRegression().fit(X, y)
    assert calls == []
    X[:, 0] = 1e4 + 0.01 * X[:, 0]
    ng.LogisticRegression().fit(X, y)
    assert calls == [1]


@pytest.mark.parametrize(
    ("family", "link"), [("binomial", "logit"), ("binomial", "probit"), ("poisson", "log")]
)
def test_huge_weights_scale_the_sums_and_nothing_else(family: str, link: str) -> None:
    # Weights of ~1e15: coefficients unchanged, deviance and Pearson's χ² × 1e15, SEs / √1e15.
    rng = np.random.default_rng(3)
    n = 300
    X = rng.normal(size=(n, 3))
    eta = X @ np.array([0.5, -0.4, 0.2])
    y = (
        (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
        if family == "binomial"
        else rng.poisson(np.exp(eta)).astype(float)
    )
    w = rng.uniform(0.5, 2.0, n)
    small = ng.GLM(family=family, link=link).fit(X, y, sample_weight=w)
    huge = ng.GLM(family=family, link=link).fit(X, y, sample_weight=1e15 * w)
    assert huge.converged_
    np.testing.assert_allclose(huge.inference_.coef, small.inference_.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(
        huge.inference_.std_err * np.sqrt(1e15), small.inference_.std_err, rtol=1e-7
    )
    assert huge.deviance_ == pytest.approx(1e15 * small.deviance_, rel=1e-9)
    assert huge.pearson_chi2_ == pytest.approx(1e15 * small.pearson_chi2_, rel=1e-7)


def test_weights_beyond_what_the_sums_can_hold_are_refused() -> None:
    X = np.random.default_rng(4).normal(size=(20, 2))
    y = np.tile([0.0, 1.0], 10)
    w = np.ones(20)
    w[3] = 1e200
    with pytest.raises(InvalidWeightsError, match=r"sample_weight reaches 1e\+200 \(row 3\)"):
        ng.LogisticRegression().fit(X, y, sample_weight=w)
