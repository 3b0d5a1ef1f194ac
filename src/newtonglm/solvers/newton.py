"""Newton's method / IRLS (Fisher scoring), with R's step-halving.

Each iteration solves (Xᵀ W X) Δ = score by Cholesky — the weighted least-squares step of IRLS —
and halves the step while the deviance is non-finite or has risen by more than the tolerance,
as R's ``glm.fit`` does. For a canonical link the Fisher information is the Hessian, so this is
exactly Newton's method; for other links it is Fisher scoring.
"""

from __future__ import annotations

import numpy as np

from .._typing import FloatArray
from ..engine.objective import GLMObjective
from ._steps import begin, done, newton_direction
from .base import IterationCallback, SolverResult, StopReason, StopRule

__all__ = ["NewtonSolver"]

#: Step-halving gives up after this many halvings (step size 2**-30 ≈ 1e-9).
MAX_HALVINGS = 30


class NewtonSolver:
    """IRLS / Newton solver; the default ``solver="newton"``."""

    name = "newton"
    default_max_iter = 100

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by Newton steps with step-halving."""
        trace, current, early = begin(objective, coef0, callback)
        if early is not None:
            return early
        reason = StopReason.MAX_ITER
        n_iter = 0
        assert current.grad is not None and current.hess is not None
        direction = newton_direction(current.hess, current.grad)
        for n_iter in range(1, stop.max_iter + 1):
            size = 1.0
            for _ in range(MAX_HALVINGS + 1):
                trial = objective.evaluate(current.coef + size * direction)
                # R halves on a non-finite deviance or on a rise larger than the tolerance.
                rise = (trial.deviance - current.deviance) / (0.1 + abs(trial.deviance))
                if trial.finite and not rise >= stop.tol:
                    break
                size *= 0.5
            else:
                reason = StopReason.STEP_FAILED if trial.finite else StopReason.NON_FINITE
                n_iter -= 1
                break
            trace.record(trial, float(np.linalg.norm(size * direction)), size)
            previous, current = current, trial
            assert current.grad is not None and current.hess is not None
            direction = newton_direction(current.hess, current.grad)
            decrement = float(-current.grad @ direction)
            if stop.converged(previous.deviance, current.deviance, decrement=decrement):
                reason = StopReason.DEVIANCE_TOL
                break
        return done(current, reason, n_iter, trace)
