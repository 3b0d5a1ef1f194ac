"""Limited-memory BFGS through scipy, ``solver="lbfgs"``.

scipy's L-BFGS-B (without bounds) minimises the mean negative log-likelihood
``f̄ = (D / 2) / Σw`` with its gradient, one pass over X per function evaluation, building a
curvature model from the last ``memory`` steps instead of the Fisher information. scipy's own
tolerances are switched off (``ftol = gtol = 0``): a callback records the history after every
iteration and stops scipy (by raising ``StopIteration``) when the shared
:class:`~.base.StopRule` holds, with the first-order gradient-ratio condition, so the decision
to stop is the same as for every other solver.

scipy's line search works on function values, so it cannot resolve a decrease below the
rounding noise of the deviance (coefficients within about ``sqrt(eps · D)`` standard errors of
the optimum). If scipy stops there on its own before the gradient ratio is met, the fit still
counts as converged when the deviance change is below ``tol`` and the Newton decrement
``gᵀH⁻¹g`` from the Fisher information at the end (computed anyway, for inference) meets the
rule's Newton-type condition, the one ``"newton"`` stops on.

A trial point where the deviance is not finite (``exp`` overflow on a too-long first step) is
reported to scipy as a finite value far above the current one, so that its line search
backtracks instead of giving up. The ``step_size`` column is NaN: scipy does not expose the
line-search fraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .._typing import FloatArray
from ..engine.objective import Evaluation, GLMObjective
from ._steps import begin, finish, gradient_ratio, newton_decrement
from .base import IterationCallback, SolverResult, StopReason, StopRule, grad_norm

__all__ = ["LBFGSSolver"]


@dataclass
class _State:
    """What the scipy callbacks share with the solver (mutable, private to one solve)."""

    #: Last accepted iterate.
    current: Evaluation
    #: Most recent evaluation, usually the point scipy accepts next.
    last: Evaluation
    #: Deviance of the iterate before ``current``.
    previous_deviance: float = float("nan")
    converged: bool = False


class LBFGSSolver:
    """scipy's L-BFGS-B on the mean negative log-likelihood, stopped by the shared rule.

    Parameters
    ----------
    memory : int, default=10
        Number of step / gradient-change pairs kept for the inverse-Hessian model
        (scipy's ``maxcor``).
    """

    name = "lbfgs"
    default_max_iter = 1_000

    def __init__(self, memory: int = 10) -> None:
        self.memory = memory

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by L-BFGS, one record per iteration."""
        total_weight = objective.total_weight
        trace, start, early = begin(objective, coef0, callback, hess=False)
        if early is not None:
            return early
        g0_norm = grad_norm(start)
        state = _State(current=start, last=start)

        def evaluation(x: FloatArray) -> Evaluation:
            if np.array_equal(x, state.last.coef):
                return state.last
            state.last = objective.evaluate(x, hess=False)
            return state.last

        def fun(x: FloatArray) -> tuple[float, FloatArray]:
            ev = evaluation(x)
            if not ev.finite:
                # An infinite value makes scipy's line search give up at once; a finite value
                # far above the current one (with the current gradient) makes it backtrack.
                cur = state.current
                assert cur.grad is not None
                value = 0.5 * cur.deviance / total_weight
                return value + 1e3 * (1.0 + abs(value)), cur.grad / total_weight
            assert ev.grad is not None
            return 0.5 * ev.deviance / total_weight, ev.grad / total_weight

        def on_iteration(intermediate_result: optimize.OptimizeResult) -> None:
            ev = evaluation(np.array(intermediate_result.x, dtype=np.float64))
            trace.record(ev, float(np.linalg.norm(ev.coef - state.current.coef)), np.nan)
            state.previous_deviance, state.current = state.current.deviance, ev
            if stop.converged(
                state.previous_deviance, ev.deviance, grad_ratio=gradient_ratio(ev, g0_norm)
            ):
                state.converged = True
                raise StopIteration

        optimize.minimize(
            fun,
            np.array(coef0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=on_iteration,
            options={
                "maxiter": stop.max_iter,
                "maxfun": max(15_000, 50 * stop.max_iter),
                "maxcor": self.memory,
                "ftol": 0.0,
                "gtol": 0.0,
            },
        )
        n_iter = len(trace.history) - 1
        if state.converged:
            reason = StopReason.DEVIANCE_TOL
        elif n_iter >= stop.max_iter:
            reason = StopReason.MAX_ITER
        elif not state.last.finite:
            reason = StopReason.NON_FINITE
        else:
            # scipy stopped on its own: its line search found no decrease, which near the
            # optimum means the decrease is below the rounding noise of the deviance (a sum of
            # n positive terms, noise ~ n·eps·D at worst). Judge by the Newton decrement, the
            # deviance decrease still available, against the larger of tol² and that noise:
            # a line search cannot resolve less, and λ² = 64·eps·D leaves the coefficients
            # within 1.2e-7·sqrt(D) standard errors of the optimum.
            final = objective.evaluate(state.current.coef)
            decrement = newton_decrement(final)
            floor = 64.0 * np.finfo(np.float64).eps * (abs(final.deviance) + 0.1)
            converged = final.finite and stop.converged(
                state.previous_deviance,
                final.deviance,
                decrement=decrement if decrement > floor else 0.0,
                decrement_scale=objective.decrement_scale(final),
            )
            reason = StopReason.DEVIANCE_TOL if converged else StopReason.STEP_FAILED
            return SolverResult(final.coef, converged, reason, n_iter, trace.history, final)
        return finish(objective, state.current, reason, n_iter, trace.history, stop)
