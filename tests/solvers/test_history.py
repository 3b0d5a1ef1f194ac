"""Solver diagnostics: the empirical convergence order and rate, and the fitted attributes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from newtonglm import GLM
from newtonglm.solvers.history import convergence_order, convergence_rate, describe_convergence


def test_order_of_a_quadratic_sequence_is_two() -> None:
    errors = [1e-1, 1e-2, 1e-4, 1e-8]  # e_{k+1} = e_k²
    assert convergence_order(errors) == pytest.approx(2.0, rel=1e-12)


def test_order_and_rate_of_a_linear_sequence() -> None:
    errors = [0.5**k for k in range(12)]
    assert convergence_order(errors) == pytest.approx(1.0, rel=1e-12)
    assert convergence_rate(errors) == pytest.approx(0.5, rel=1e-12)


def test_rate_is_the_geometric_mean_of_the_last_ratios() -> None:
    errors = [8.0, 4.0, 3.0, 1.5, 1.0, 0.25, 0.2]
    ratios = np.array(errors[1:]) / np.array(errors[:-1])
    assert convergence_rate(errors, last=3) == pytest.approx(
        float(np.exp(np.mean(np.log(ratios[-3:])))), rel=1e-14
    )
    assert convergence_rate(errors) == pytest.approx(
        float(np.exp(np.mean(np.log(ratios[-5:])))), rel=1e-14
    )


def test_unusable_errors_are_skipped_and_too_few_give_nan() -> None:
    # NaN, inf, 0 and negative entries are dropped; so is the tail below 1e-13 of the largest
    # (rounding noise): what is left of this sequence is quadratic.
    errors = [float("nan"), 1e-1, float("inf"), 1e-2, 0.0, 1e-4, -1.0, 1e-8, 1e-20]
    assert convergence_order(errors) == pytest.approx(2.0, rel=1e-12)
    assert math.isnan(convergence_order([1.0, 0.5]))
    assert math.isnan(convergence_rate([1.0]))
    assert math.isnan(convergence_rate([]))
    assert math.isnan(convergence_order([1.0, 2.0, 0.5]))  # not decreasing


def test_describe_convergence() -> None:
    assert describe_convergence(2.0, float("nan")) == "quadratic, q ≈ 2.0"
    assert describe_convergence(1.0, 0.93) == "linear, rate 0.93"
    assert describe_convergence(float("nan"), float("nan")) == "n/a (too few iterations)"


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 3))
    y = rng.binomial(1, 1.0 / (1.0 + np.exp(-(X @ np.array([1.0, -0.5, 0.3]))))).astype(float)
    return X, y


def test_fitted_order_and_rate_come_from_the_history(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    newton = GLM(family="binomial").fit(X, y)
    gd = GLM(family="binomial", solver="gd-optimal", max_iter=5000).fit(X, y)
    for model in (newton, gd):
        errors = model.history_["grad_norm"].to_numpy()
        assert model.convergence_order_ == convergence_order(errors)
        assert model.convergence_rate_ == convergence_rate(errors)
    # Measured: Newton |g|∞ = 5.1, 0.26, 7.8e-4, 7.1e-9 (q = 2.00); gd-optimal 16 steps, the
    # last at e_{k+1} / e_k ≈ 0.33 (q = 0.83 from its last three).
    assert newton.convergence_order_ == pytest.approx(2.0, abs=0.05)
    assert 0.7 <= gd.convergence_order_ <= 1.2
    assert 0.2 < gd.convergence_rate_ < 0.5
