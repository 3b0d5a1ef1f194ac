"""The one stopping rule: the decrement in standard-error units, its floor, certificates."""

from __future__ import annotations

import numpy as np
import pytest

from newtonglm.design.validate import finalize
from newtonglm.engine.objective import GLMObjective
from newtonglm.families import Binomial, Gaussian, ProbitLink
from newtonglm.solvers import StopReason, StopRule, _steps


def test_decrement_limit_is_relative_for_small_deviances_and_absolute_for_huge_ones() -> None:
    rule = StopRule(tol=1e-8)
    # |D| + 0.1 = 1e4: the limit is tol² (|D| + 0.1) = 1e-12.
    assert rule.converged(1e4, 1e4, decrement=0.9e-12)
    assert not rule.converged(1e4, 1e4, decrement=1.1e-12)
    # D = 1e10 (weights of 1e6): tol² D = 1e-6 would leave 1e-3 SE; the limit is tol φ = 1e-8.
    assert not rule.converged(1e10, 1e10, decrement=1e-7)
    assert rule.converged(1e10, 1e10, decrement=0.9e-8)
    assert rule.converged(1e10, 1e10, decrement=0.9e-6, decrement_scale=100.0)  # φ = 100


def test_the_floor_is_asked_only_when_it_decides() -> None:
    rule = StopRule(tol=1e-8)
    asked: list[int] = []

    def floor() -> float:
        asked.append(1)
        return 1e-6

    assert rule.converged(1.0, 1.0, decrement=1e-20, decrement_floor=floor)  # passed anyway
    assert not rule.converged(1.0, 2.0, decrement=1e-7, decrement_floor=floor)  # R's rule fails
    assert asked == []
    assert rule.converged(1.0, 1.0, decrement=1e-7, decrement_floor=floor)  # below the floor
    assert not rule.converged(1.0, 1.0, decrement=1e-5, decrement_floor=floor)
    assert asked == [1, 1]


def test_certified_means_within_sqrt_tol_standard_errors() -> None:
    rule = StopRule(tol=1e-8)
    assert rule.certified(1e-8) and not rule.certified(1.01e-8)
    assert rule.certified(1e-6, scale=100.0)
    assert rule.certified(1e-7, floor=2e-7)
    assert "farther than tol" in StopReason.UNCERTIFIED.value


@pytest.mark.parametrize("family", [Binomial(link=ProbitLink()), Gaussian()])
def test_decrement_floor_is_the_score_rounding_in_the_information_metric(family) -> None:
    rng = np.random.default_rng(4)
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=n), 1e4 + rng.normal(size=n)])
    eta = X @ np.array([0.1, 0.5, 0.0])
    y = (rng.random(n) < 0.5).astype(float) if isinstance(family, Binomial) else eta + 1.0
    w = rng.uniform(0.5, 2.0, n)
    design = finalize(X, y, ["a", "b", "c"], sample_weight=w, intercept_index=0)
    objective = GLMObjective(family, design)
    coef = np.array([0.2, 0.4, 0.0])
    ev = objective.evaluate(coef, information="observed")
    # Σ_i |x_ij s_i| by hand: s_i = w_i dℓ/dη = -n * (gradient of D/2 per row).
    mu = family.link.inverse(X @ coef)
    s = w * (y - mu) * family.link.inverse_derivative(X @ coef) / family.variance(mu)
    delta = np.sqrt(n) * np.finfo(float).eps * (np.abs(X).T @ np.abs(s))
    expected = float(delta @ np.linalg.solve(ev.hess, delta))
    assert _steps.decrement_floor(objective, ev) == pytest.approx(expected, rel=1e-8)
    assert objective.decrement_scale(ev) == (
        1.0 if family.fixed_scale else pytest.approx(ev.deviance / (n - 3))
    )
