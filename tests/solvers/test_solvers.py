"""Solvers: every solver reaches the Newton solution, keeps the same history, and the seed
claims of issue 3 (Newton = gradient descent with the matrix learning rate H⁻¹) hold with
real numbers."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from scipy import stats

from newtonglm import GLM, ConvergenceWarning
from newtonglm.design import Design
from newtonglm.design.validate import finalize
from newtonglm.engine.objective import Evaluation, GLMObjective
from newtonglm.families import Binomial, Family, Gaussian, LogitLink, LogLink, Poisson, ProbitLink
from newtonglm.solvers import (
    SOLVERS,
    IterationRecord,
    NewtonSolver,
    OptimalGradientDescentSolver,
    StopReason,
    StopRule,
    get_solver,
)
from newtonglm.solvers.history import HISTORY_COLUMNS
from newtonglm.solvers.trust_region import dogleg_step

# Tolerances, stated once (the "coefficients to 1e-6 relative").
#: Coefficients against the Newton fit: rtol, plus atol = COEF_ATOL_SE × SE for those near 0.
COEF_RTOL = 1e-6
COEF_ATOL_SE = 1e-6
#: Deviance against the Newton fit.
DEV_RTOL = 1e-9
#: Standard errors against the Newton fit (they come from the Fisher information at the end).
SE_RTOL = 1e-6

SEED = 20260

CASES: dict[str, tuple[str, str]] = {
    "binomial-logit": ("binomial", "logit"),
    "binomial-probit": ("binomial", "probit"),
    "poisson-log": ("poisson", "log"),
}
FAMILIES: dict[str, Family] = {
    "binomial-logit": Binomial(link=LogitLink()),
    "binomial-probit": Binomial(link=ProbitLink()),
    "poisson-log": Poisson(link=LogLink()),
}
COEF_TRUE = np.array([0.3, 0.8, -0.5, 0.3])  # intercept first
FIRST_ORDER = ("gd", "gd-optimal", "lbfgs")
NEWTON_TYPE = ("newton", "newton-damped", "trust-region", "newton-cg")


def simulate(case: str, n: int = 500, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Three standardised normal columns; y from the case's family and link (intercept 0.3)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    eta = COEF_TRUE[0] + X @ COEF_TRUE[1:]
    if case == "binomial-logit":
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta)))
    elif case == "binomial-probit":
        y = rng.binomial(1, stats.norm.cdf(eta))
    else:
        y = rng.poisson(np.exp(0.5 * eta))  # mean count about 1.3
    return X, y.astype(np.float64)


def objective_for(family: Family, X: np.ndarray, y: np.ndarray) -> GLMObjective:
    """The objective a fit without intercept column handling would build (X used as is)."""
    names = [f"x{j}" for j in range(X.shape[1])]
    return GLMObjective(family, finalize(X, y, names, intercept_index=None))


def with_intercept(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(X.shape[0]), X])


def se_of(model: GLM) -> np.ndarray:
    return np.sqrt(np.diag(model.cov_params_.to_numpy()))


def all_coef(model: GLM) -> np.ndarray:
    return np.r_[model.intercept_, model.coef_]


def one_over_l(model: GLM) -> float:
    """η = 1 / L, L the largest eigenvalue of the mean Fisher information at the solution.

    Fixed-η gradient descent is stable for η < 2 / L and fastest near η = 1 / L (classical
    step for an L-smooth objective). For a binomial model on standardised columns L ≤ max W ×
    λmax(XᵀX / n) with W ≤ 1/4 (logit) or 2/π (probit), so η is of order 1–5; for the
    Poisson model W = μ, and η ≈ 0.5 here.
    """
    fisher = np.linalg.inv(model.cov_params_.to_numpy()) * model.scale_
    return 1.0 / float(np.linalg.eigvalsh(fisher / model.nobs_)[-1])


def fit(X: np.ndarray, y: np.ndarray, case: str, solver: str = "newton", **params: object) -> GLM:
    family, link = CASES[case]
    return GLM(family=family, link=link, solver=solver, **params).fit(X, y)


def empirical_order(errors: np.ndarray) -> float:
    """q = log(e_{k+1}/e_k) / log(e_k/e_{k-1}) from the last three errors above rounding noise."""
    e = errors[np.isfinite(errors) & (errors > 1e-13 * np.nanmax(errors))]
    e0, e1, e2 = e[-3:]
    return math.log(e2 / e1) / math.log(e1 / e0)


def _solver_case_params() -> list[object]:
    return [
        pytest.param(solver, case, id=f"{solver}-{case}") for solver in SOLVERS for case in CASES
    ]


# -- every solver reaches the Newton solution ------------------------------------------------


@pytest.fixture(scope="module")
def newton_fits() -> dict[str, tuple[np.ndarray, np.ndarray, GLM]]:
    out = {}
    for case in CASES:
        X, y = simulate(case)
        out[case] = (X, y, fit(X, y, case))
    return out


@pytest.mark.parametrize(("solver", "case"), _solver_case_params())
def test_solver_reaches_newton_solution(solver, case, newton_fits):
    X, y, ref = newton_fits[case]
    assert ref.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = fit(X, y, case, solver, learning_rate=one_over_l(ref))
    assert model.converged_
    assert model.stop_reason_ is StopReason.DEVIANCE_TOL
    assert model.n_iter_ <= SOLVERS[solver].default_max_iter
    np.testing.assert_allclose(
        all_coef(model), all_coef(ref), rtol=COEF_RTOL, atol=COEF_ATOL_SE * se_of(ref).min()
    )
    assert model.deviance_ == pytest.approx(ref.deviance_, rel=DEV_RTOL)
    np.testing.assert_allclose(se_of(model), se_of(ref), rtol=SE_RTOL)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_history_has_the_shared_columns(solver, newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    eta = one_over_l(ref)
    model = fit(X, y, "binomial-logit", solver, learning_rate=eta)
    history = model.history_
    extra = {"newton-damped": ["damping"], "trust-region": ["radius"]}.get(solver, [])
    assert list(history.columns) == [*HISTORY_COLUMNS, *extra]
    assert history["iteration"].tolist() == list(range(model.n_iter_ + 1))
    first = history.iloc[0]
    assert np.isnan(first["step_norm"]) and np.isnan(first["step_size"])
    assert first["grad_norm"] > 0
    steps = history.iloc[1:]
    assert (steps["step_norm"] > 0).all()
    assert (np.diff(history["seconds"]) >= 0).all()
    assert history["deviance"].iloc[-1] == pytest.approx(model.deviance_, rel=1e-14)
    # Every solver decreases the deviance on this problem (gd with a stable η included).
    assert (np.diff(history["deviance"]) <= 1e-9).all()
    if solver == "gd":
        assert steps["step_size"].eq(eta).all()
    elif solver == "gd-optimal":
        assert (steps["step_size"] > 0).all()
    elif solver == "lbfgs":
        assert steps["step_size"].isna().all()  # scipy does not expose its line-search step
    else:
        assert ((steps["step_size"] > 0) & (steps["step_size"] <= 1.0)).all()
    for column in extra:
        assert np.isnan(first[column])
        assert (steps[column] > 0).all() and np.isfinite(steps[column]).all()


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_solver_callback_sees_every_record_and_max_iter_is_honoured(solver, newton_fits):
    X, y, ref = newton_fits["poisson-log"]
    objective = objective_for(FAMILIES["poisson-log"], with_intercept(X), y)
    seen: list[IterationRecord] = []
    solver_obj = get_solver(solver, learning_rate=one_over_l(ref))
    result = solver_obj.solve(
        objective, objective.initial_coef(), StopRule(max_iter=2), seen.append
    )
    assert result.n_iter == 2
    assert result.reason is StopReason.MAX_ITER and not result.converged
    assert tuple(seen) == result.history
    assert [r.iteration for r in result.history] == [0, 1, 2]
    # The final evaluation carries the Fisher information at the returned coefficients.
    assert result.final.hess is not None
    np.testing.assert_array_equal(result.final.coef, result.coef)


class _CountingObjective(GLMObjective):
    """Records which evaluations formed the d×d Fisher information."""

    def __init__(self, family: Family, design: Design) -> None:
        super().__init__(family, design)
        self.hess_calls: list[bool] = []

    def evaluate(self, coef, *, grad=True, hess=True, weights=False, **kwargs) -> Evaluation:
        self.hess_calls.append(hess)
        return super().evaluate(coef, grad=grad, hess=hess, weights=weights, **kwargs)


@pytest.mark.parametrize("solver", ["gd", "gd-optimal", "newton-cg", "lbfgs"])
def test_matrix_free_solvers_form_the_information_only_once_at_the_end(solver, newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    design = finalize(with_intercept(X), y, ["a", "b", "c", "d"], intercept_index=0)
    objective = _CountingObjective(FAMILIES["binomial-logit"], design)
    solver_obj = get_solver(solver, learning_rate=one_over_l(ref))
    stop = StopRule(max_iter=solver_obj.default_max_iter)
    result = solver_obj.solve(objective, objective.initial_coef(), stop)
    assert result.converged
    assert objective.hess_calls[-1] is True
    assert not any(objective.hess_calls[:-1])
    assert len(objective.hess_calls) >= result.n_iter + 1


def test_get_solver_passes_learning_rate_only_to_gd():
    assert get_solver("gd", learning_rate=0.25).learning_rate == 0.25
    for name in SOLVERS:
        solver = get_solver(name, learning_rate=0.25)
        assert solver.name == name
    assert SOLVERS["gd"].default_max_iter >= 1000
    assert SOLVERS["gd-optimal"].default_max_iter >= 1000
    assert all(SOLVERS[name].default_max_iter <= 200 for name in NEWTON_TYPE)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_non_finite_start_is_reported(solver):
    X, y = simulate("poisson-log", n=50)
    objective = objective_for(FAMILIES["poisson-log"], with_intercept(X), y)
    result = get_solver(solver).solve(objective, np.full(4, 1e3), StopRule())
    assert result.reason is StopReason.NON_FINITE
    assert not result.converged and result.n_iter == 0


# -- solver-specific behaviour ----------------------------------------------------------------


def test_damping_and_radius_adapt_and_methods_are_column_scale_invariant(newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    scaled = X * np.array([1e3, 1.0, 1e-2])
    for solver, column in (("newton-damped", "damping"), ("trust-region", "radius")):
        model = fit(X, y, "binomial-logit", solver)
        rescaled = fit(scaled, y, "binomial-logit", solver)
        # diag(H)-scaled damping and norm: the same iterates whatever the column units.
        assert rescaled.n_iter_ == model.n_iter_
        np.testing.assert_allclose(
            rescaled.history_["deviance"], model.history_["deviance"], rtol=1e-12
        )
        np.testing.assert_allclose(rescaled.history_[column], model.history_[column], rtol=1e-6)
    damped = fit(X, y, "binomial-logit", "newton-damped")
    # From R's start every step is accepted with ρ ≈ 1, so λ falls by 3 per iteration.
    damping = damped.history_["damping"].to_numpy()[1:]
    np.testing.assert_allclose(damping[1:] / damping[:-1], 1.0 / 3.0, rtol=1e-12)


def test_damped_and_trust_region_reject_overshooting_steps():
    # Far below the counts (μ = e^-4 against a mean of 1.3): the full Newton step overflows,
    # Newton halves it four times; LM and the trust region reject it and damp / shrink instead.
    X, y = simulate("poisson-log", n=300)
    objective = objective_for(FAMILIES["poisson-log"], with_intercept(X), y)
    start = np.array([-4.0, 0.0, 0.0, 0.0])
    newton = NewtonSolver().solve(objective, start, StopRule())
    assert newton.converged and newton.history[1].step_size == 0.0625
    damped = get_solver("newton-damped").solve(objective, start, StopRule())
    region = get_solver("trust-region").solve(objective, start, StopRule())
    for result in (damped, region):
        assert result.converged
        np.testing.assert_allclose(result.coef, newton.coef, rtol=1e-7)
    damping = np.array([r.extra["damping"] for r in damped.history[1:]])
    assert damping[0] > 10.0  # grew from 1e-3 by rejections before the first step
    assert (np.diff(damping) < 0).all() and damping[-1] < 1e-2  # then back to near-Newton
    radius = np.array([r.extra["radius"] for r in region.history[1:]])
    first_newton = np.linalg.norm(newton.history[1].step_norm / newton.history[1].step_size)
    assert region.history[1].step_norm < first_newton  # the first step was cut back
    assert radius[-1] > radius[0]  # and the radius grew again as the model became good


def test_dogleg_step_cases():
    hess = np.array([[4.0, 1.0], [1.0, 2.0]])
    grad = np.array([1.0, -2.0])
    newton = -np.linalg.solve(hess, grad)
    scale = np.ones(2)
    step, boundary = dogleg_step(grad, hess, newton, scale, 10.0)
    np.testing.assert_allclose(step, newton)
    assert not boundary
    step, boundary = dogleg_step(grad, hess, newton, scale, 0.1)
    assert boundary and np.linalg.norm(step) == pytest.approx(0.1)
    np.testing.assert_allclose(step / 0.1, -grad / np.linalg.norm(grad))  # steepest descent
    cauchy = -(grad @ grad) / (grad @ hess @ grad) * grad
    radius = 0.5 * (np.linalg.norm(cauchy) + np.linalg.norm(newton))
    step, boundary = dogleg_step(grad, hess, newton, scale, radius)
    assert boundary and np.linalg.norm(step) == pytest.approx(radius)
    # On the segment from the Cauchy point to the Newton step.
    tau = (step - cauchy) / (newton - cauchy)
    assert tau[0] == pytest.approx(tau[1]) and 0.0 < tau[0] < 1.0


def test_lbfgs_is_stopped_by_the_shared_rule_not_by_scipy(newton_fits):
    X, y, _ = newton_fits["binomial-logit"]
    objective = objective_for(FAMILIES["binomial-logit"], with_intercept(X), y)
    stop = StopRule()
    result = SOLVERS["lbfgs"]().solve(objective, objective.initial_coef(), stop)
    dev = np.array([r.deviance for r in result.history])
    grad = np.array([r.grad_norm for r in result.history])
    assert result.converged and result.reason is StopReason.DEVIANCE_TOL
    assert abs(dev[-1] - dev[-2]) / (abs(dev[-1]) + 0.1) < stop.tol
    final = result.final
    assert final.grad is not None and final.hess is not None
    decrement = float(final.grad @ np.linalg.solve(final.hess, final.grad))
    if grad[-1] < stop.gtol * grad[0]:
        # Stopped by the gradient-ratio half of the rule, and not one iteration earlier.
        assert not (
            abs(dev[-2] - dev[-3]) / (abs(dev[-2]) + 0.1) < stop.tol
            and grad[-2] < stop.gtol * grad[0]
        )
    else:
        # scipy's line search ran into rounding noise first: then the Newton decrement at the
        # final Fisher information decides, as for the Newton-type solvers.
        assert decrement / (abs(dev[-1]) + 0.1) < stop.tol**2


def test_lbfgs_backtracks_from_an_overflowing_trial_step():
    # L-BFGS-B's first trial step has unit length; with a column in thousands it overflows
    # exp(eta). The solver hands scipy a large finite value there, so it backtracks.
    X, y = simulate("poisson-log")
    scaled = X.copy()
    scaled[:, 0] *= 1e3
    objective = objective_for(FAMILIES["poisson-log"], with_intercept(scaled), y)
    coef0 = objective.initial_coef()
    grad = objective.evaluate(coef0).grad
    assert grad is not None
    assert not objective.evaluate(coef0 - grad / np.linalg.norm(grad)).finite
    newton = NewtonSolver().solve(objective, coef0, StopRule())
    result = get_solver("lbfgs").solve(objective, coef0, StopRule(max_iter=1000))
    assert result.converged
    assert result.final.deviance == pytest.approx(newton.final.deviance, rel=DEV_RTOL)


# -- the seed claims of issue 3 --------------------------------------------------------------


@pytest.mark.parametrize(
    "coef0",
    [np.zeros(4), np.array([1e3, -1e3, 5e2, 1e4]), np.array([-7.0, 0.1, 30.0, -0.5])],
    ids=["zeros", "huge", "arbitrary"],
)
def test_claim1_newton_converges_in_one_step_on_gaussian_identity(coef0):
    rng = np.random.default_rng(SEED)
    X = with_intercept(rng.normal(size=(200, 3)))
    y = X @ np.array([1.0, 2.0, -3.0, 0.5]) + rng.normal(size=200)
    objective = objective_for(Gaussian(), X, y)
    result = NewtonSolver().solve(objective, coef0, StopRule())
    history = result.history
    assert result.converged
    assert history[1].step_size == 1.0  # the full step, no halving
    assert history[1].deviance == pytest.approx(history[-1].deviance, rel=1e-12)
    np.testing.assert_allclose(result.coef, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    # Iteration 2 only confirms it: a zero step.
    assert result.n_iter == 2 and history[2].step_norm < 1e-9 * history[1].step_norm


def _first_steps(objective: GLMObjective, coef0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    one = StopRule(max_iter=1)
    newton = NewtonSolver().solve(objective, coef0, one)
    gd_opt = OptimalGradientDescentSolver().solve(objective, coef0, one)
    assert newton.history[1].step_size == 1.0  # both full steps: nothing halved
    return newton.coef - coef0, gd_opt.coef - coef0


@pytest.mark.parametrize("case", list(CASES))
def test_claim2_one_parameter_optimal_gd_step_is_the_newton_step(case):
    X, y = simulate(case)
    objective = objective_for(FAMILIES[case], X[:, :1], y)  # one column, no intercept
    newton_step, gd_step = _first_steps(objective, np.array([0.0]))
    assert abs(newton_step[0]) > 0.1
    np.testing.assert_allclose(gd_step, newton_step, rtol=1e-12)


def test_claim2_several_parameters_directions_differ_on_anisotropic_problem():
    X, y = simulate("binomial-logit")
    # Anisotropic: column scales 1, 5, 0.2.
    objective = objective_for(FAMILIES["binomial-logit"], X * np.array([1.0, 5.0, 0.2]), y)
    newton_step, gd_step = _first_steps(objective, np.zeros(3))
    cosine = newton_step @ gd_step / (np.linalg.norm(newton_step) * np.linalg.norm(gd_step))
    angle = math.degrees(math.acos(min(cosine, 1.0)))
    assert angle > 1.0  # measured: 79.1 degrees (eigenvalues of H spread by 626)
    # gd-optimal moves along −g, Newton along −H⁻¹g.
    g = objective.evaluate(np.zeros(3)).grad
    assert g is not None
    np.testing.assert_allclose(gd_step / np.linalg.norm(gd_step), -g / np.linalg.norm(g))


def test_claim3_newton_order_quadratic_gd_linear(newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    objective = objective_for(FAMILIES["binomial-logit"], with_intercept(X), y)
    start = np.zeros(4)  # the same start for both, far enough for several Newton steps
    newton = NewtonSolver().solve(objective, start, StopRule())
    gd = get_solver("gd", learning_rate=one_over_l(ref)).solve(
        objective, start, StopRule(max_iter=SOLVERS["gd"].default_max_iter)
    )
    assert newton.converged and gd.converged
    newton_errors = np.array([r.grad_norm for r in newton.history])
    gd_errors = np.array([r.grad_norm for r in gd.history])
    # Measured: Newton |g|∞ = 63, 8.0, 0.47, 2.0e-3, 3.6e-8, so q = 2.00 over the last three;
    # gd (η = 1/L = 4.41) takes 14 steps with e_{k+1}/e_k = 0.411 at the end, q = 1.000.
    assert empirical_order(newton_errors) >= 1.8
    assert 0.8 <= empirical_order(gd_errors) <= 1.2
    assert gd_errors[-1] / gd_errors[-2] == pytest.approx(0.41, abs=0.05)


def test_claim4_rescaled_column_slows_gradient_descent_not_newton(newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    scaled = X.copy()
    scaled[:, 0] *= 1e3
    ref_scaled = fit(scaled, y, "binomial-logit")
    assert abs(ref_scaled.n_iter_ - ref.n_iter_) <= 1
    counts = {}
    for solver in ("gd", "gd-optimal"):
        # Each fit with its best fixed η (1/L of its own problem); gd-optimal needs none.
        plain = fit(X, y, "binomial-logit", solver, learning_rate=one_over_l(ref))
        with pytest.warns(ConvergenceWarning, match=re.escape(StopReason.MAX_ITER.value)):
            slow = fit(scaled, y, "binomial-logit", solver, learning_rate=one_over_l(ref_scaled))
        assert plain.converged_ and not slow.converged_
        assert slow.n_iter_ >= 10 * plain.n_iter_
        counts[solver] = (plain.n_iter_, slow.n_iter_)
    # Measured: Newton 2 -> 2 iterations. gd 15 -> 10000 (= max_iter; |g|∞ down only to 2.9e-3
    # of its start, rate 0.9999989 per step over the last 200, so about 7e6 more steps would be
    # needed); gd-optimal 10 -> 5000 (= max_iter; |g|∞ ratio 6.6e-3, rate 0.99996, about 2e5
    # more). For comparison lbfgs 6 -> 58, newton-cg 5 -> 5, newton-damped 3 -> 3 and
    # trust-region 2 -> 2.
    assert counts["gd"][1] == SOLVERS["gd"].default_max_iter


def test_claim5_learning_rate_too_large_diverges_and_is_reported(newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    start_deviance = ref.history_["deviance"].iloc[0]
    eta = one_over_l(ref)
    with pytest.warns(ConvergenceWarning, match=re.escape(StopReason.DIVERGED.value)):
        model = fit(X, y, "binomial-logit", "gd", learning_rate=3.0 * eta)  # > 2 / L
    # Measured: five rises in a row, deviance 603.00 -> 609.73, stopped after 5 steps.
    assert not model.converged_ and model.stop_reason_ is StopReason.DIVERGED
    rises = np.diff(model.history_["deviance"].to_numpy())[-5:]
    assert (rises > 0).all()
    # The coefficients reported are the best iterate, not the last, diverged one.
    assert model.deviance_ <= start_deviance
    assert model.deviance_ < model.history_["deviance"].iloc[-1]


def test_claim5_oscillating_gd_is_reported_as_diverged(newton_fits):
    # η stable for the original columns but far too large once a column is scaled by 1e3:
    # the deviance jumps from 603 to ~1e8 and oscillates without a run of five rises
    # (measured: stopped after 50 steps above the best value, largest deviance 6.1e8).
    X, y, ref = newton_fits["binomial-logit"]
    scaled = X.copy()
    scaled[:, 0] *= 1e3
    with pytest.warns(ConvergenceWarning, match=re.escape(StopReason.DIVERGED.value)):
        model = fit(scaled, y, "binomial-logit", "gd", learning_rate=one_over_l(ref))
    assert model.stop_reason_ is StopReason.DIVERGED and not model.converged_
    assert model.n_iter_ < 200
    assert model.history_["deviance"].max() > 1e3 * model.deviance_


def test_claim5_gd_overflow_is_reported_as_non_finite(newton_fits):
    X, y, ref = newton_fits["poisson-log"]
    with pytest.warns(ConvergenceWarning, match=re.escape(StopReason.NON_FINITE.value)):
        model = fit(X, y, "poisson-log", "gd", learning_rate=100.0 * one_over_l(ref))
    assert model.stop_reason_ is StopReason.NON_FINITE and not model.converged_
    assert np.isfinite(model.deviance_) and np.isfinite(all_coef(model)).all()


def test_claim5_learning_rate_too_small_makes_little_progress(newton_fits):
    X, y, ref = newton_fits["binomial-logit"]
    with pytest.warns(ConvergenceWarning, match=re.escape(StopReason.MAX_ITER.value)):
        model = fit(X, y, "binomial-logit", "gd", learning_rate=1e-5 * one_over_l(ref))
    assert not model.converged_ and model.stop_reason_ is StopReason.MAX_ITER
    assert model.n_iter_ == SOLVERS["gd"].default_max_iter
    history = model.history_
    # Measured after 10000 steps: 86% of the deviance gap from R's start to the optimum and
    # 92% of the starting |g|∞ remain.
    start = history["deviance"].iloc[0]
    assert model.deviance_ - ref.deviance_ > 0.5 * (start - ref.deviance_)
    assert history["grad_norm"].iloc[-1] > 0.5 * history["grad_norm"].iloc[0]
