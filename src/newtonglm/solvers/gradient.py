"""Gradient descent on the mean negative log-likelihood, fixed η ("gd") or optimal η ("gd-optimal").

Both minimise ``f̄(coef) = (D / 2) / Σw``, the mean negative log-likelihood up to a constant, so
a learning rate means the same thing whatever the number of rows. ``"gd"`` steps
``coef ← coef − η ∇f̄`` with the user's fixed η; ``"gd-optimal"`` takes the exact minimiser of
the local quadratic model along ``−∇f̄``,

    η_k = Σw · gᵀg / gᵀHg,     g = ∇(D/2),  H = Xᵀ W X (Fisher information),

where ``Hg`` is one Hessian-vector product Xᵀ(W (X g)) from the working weights cached by the
evaluation — O(n d) per iteration, no d×d matrix. With one coefficient that step *is* the
Newton step; with several it only follows the gradient, so its speed depends on the
conditioning of H (Newton's method is gradient descent with the matrix learning rate H⁻¹).

Both are first-order methods: they stop under the shared :class:`~.base.StopRule` with the
gradient-ratio condition ``|g_k|∞ < gtol |g_0|∞``, and they compute the Fisher information once,
at the final coefficients, for inference.
"""

from __future__ import annotations

import numpy as np

from .._typing import FloatArray
from ..engine.objective import GLMObjective
from ._steps import begin, finish, gradient_ratio, rose
from .base import IterationCallback, SolverResult, StopReason, StopRule, grad_norm

__all__ = ["GradientDescentSolver", "OptimalGradientDescentSolver"]

#: gd stops as diverged after this many consecutive rises of the objective ...
MAX_RISES = 5
#: ... or after this many consecutive steps above the best objective so far (oscillation).
MAX_ABOVE_BEST = 50
#: gd-optimal's safeguard gives up after this many halvings of η (a factor 2**-30 ≈ 1e-9).
MAX_HALVINGS = 30


class GradientDescentSolver:
    """Gradient descent with a fixed learning rate, ``solver="gd"``.

    ``coef ← coef − η ∇f̄`` on the mean negative log-likelihood ``f̄ = (D / 2) / Σw``; one pass
    over X per iteration. Converges linearly when ``η < 2 / L``, L the largest eigenvalue of
    the mean Fisher information Xᵀ W X / Σw along the path (fastest near η = 1 / L, at the
    rate 1 − μ/L with μ the smallest eigenvalue). Then the objective falls at every step; with
    a larger η it grows or oscillates, and the fit stops with ``StopReason.DIVERGED`` once it
    has risen in ``MAX_RISES`` consecutive steps or stayed above its best value so far for
    ``MAX_ABOVE_BEST`` consecutive steps (``NON_FINITE`` if it overflows). The coefficients
    returned after DIVERGED or NON_FINITE are the best iterate seen, not the last one.

    Parameters
    ----------
    learning_rate : float, default=0.1
        The fixed step η, on the scale of the mean negative log-likelihood. A logistic model
        has W ≤ 1/4, so L ≤ λmax(XᵀX / n) / 4 and on standardised columns η of order 1–5 is
        stable; a Poisson model has W = μ, so L grows with the counts.
    """

    name = "gd"
    default_max_iter = 10_000

    def __init__(self, learning_rate: float = 0.1) -> None:
        self.learning_rate = learning_rate

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by fixed-η gradient steps."""
        eta = float(self.learning_rate)
        total_weight = objective.total_weight
        trace, current, early = begin(objective, coef0, callback, hess=False)
        if early is not None:
            return early
        g0_norm = grad_norm(current)
        reason = StopReason.MAX_ITER
        n_iter = 0
        rises = 0
        best, above_best = current, 0
        for n_iter in range(1, stop.max_iter + 1):
            assert current.grad is not None
            step = (-eta / total_weight) * current.grad
            trial = objective.evaluate(current.coef + step, hess=False)
            if not trial.finite:
                reason = StopReason.NON_FINITE
                n_iter -= 1
                break
            trace.record(trial, float(np.linalg.norm(step)), eta)
            rises = rises + 1 if rose(current.deviance, trial.deviance) else 0
            if rose(best.deviance, trial.deviance):
                above_best += 1
            else:
                above_best = 0
                if trial.deviance < best.deviance:
                    best = trial
            previous, current = current, trial
            if stop.converged(
                previous.deviance,
                current.deviance,
                grad_ratio=gradient_ratio(current, g0_norm),
            ):
                reason = StopReason.DEVIANCE_TOL
                break
            if rises >= MAX_RISES or above_best >= MAX_ABOVE_BEST:
                reason = StopReason.DIVERGED
                break
        if reason in (StopReason.DIVERGED, StopReason.NON_FINITE):
            current = best
        return finish(objective, current, reason, n_iter, trace.history, stop)


class OptimalGradientDescentSolver:
    """Gradient descent with the optimal step ``η_k = Σw gᵀg / gᵀHg``, ``solver="gd-optimal"``.

    The step minimises the local quadratic model along ``−g``; ``Hg`` is one Hessian-vector
    product, so an iteration costs two passes over X (evaluation with cached working weights,
    then ``hessp``). If the objective rises, η is halved until it does not; the ``step_size``
    column records the η actually used, on the same mean scale as ``"gd"``'s learning rate.
    """

    name = "gd-optimal"
    default_max_iter = 5_000

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by gradient steps of the model-optimal length."""
        total_weight = objective.total_weight
        trace, current, early = begin(objective, coef0, callback, hess=False, weights=True)
        if early is not None:
            return early
        g0_norm = grad_norm(current)
        reason = StopReason.MAX_ITER
        n_iter = 0
        eta = 1.0  # fallback when the model has no curvature along g
        for n_iter in range(1, stop.max_iter + 1):
            g = current.grad
            assert g is not None
            gg = float(g @ g)
            if gg == 0.0:
                # Exactly stationary: nothing to do, and the rule below cannot fail to hold.
                eta = 0.0
            else:
                curvature = float(g @ objective.hessp(current, g))
                if np.isfinite(curvature) and curvature > 0.0:
                    eta = total_weight * gg / curvature
            size = eta
            for _ in range(MAX_HALVINGS + 1):
                step = (-size / total_weight) * g
                trial = objective.evaluate(current.coef + step, hess=False, weights=True)
                if trial.finite and not rose(current.deviance, trial.deviance):
                    break
                size *= 0.5
            else:
                reason = StopReason.STEP_FAILED if trial.finite else StopReason.NON_FINITE
                n_iter -= 1
                break
            trace.record(trial, float(np.linalg.norm(step)), size)
            previous, current = current, trial
            if stop.converged(
                previous.deviance,
                current.deviance,
                grad_ratio=gradient_ratio(current, g0_norm),
            ):
                reason = StopReason.DEVIANCE_TOL
                break
        return finish(objective, current, reason, n_iter, trace.history, stop)
