"""Newton's method with the exact Hessian, R's step-halving; IRLS / Fisher scoring where needed.

Each iteration solves H Δ = score by Cholesky and halves the step while the deviance is
non-finite or has risen by more than the tolerance, as R's ``glm.fit`` does. H is the observed
information (minus the Hessian of the log-likelihood): for a canonical link it is the Fisher
information Xᵀ W X, so this is IRLS exactly; for probit and cloglog it is the exact Hessian of
the log-space likelihood (``families.exact``), so convergence is quadratic near the optimum
where Fisher scoring's is only linear. Where the observed information is not positive definite
(far from the optimum, for a family whose log-likelihood is not concave in η) the step is
Fisher scoring's; the history's ``observed`` column (non-canonical links) says which was used.

The stopping rule is the shared :class:`~.base.StopRule` with the Newton decrement, and a floor
for the decrement rounding alone produces (``_steps.decrement_floor``).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import linalg

from .._typing import FloatArray
from ..engine.linalg import cholesky_solve_rcond
from ..engine.objective import Evaluation, GLMObjective
from ._steps import begin, decrement_floor, done, newton_direction
from .base import IterationCallback, SolverResult, StopReason, StopRule

__all__ = ["NewtonSolver"]

#: Step-halving gives up after this many halvings (step size 2**-30 ≈ 1e-9).
MAX_HALVINGS = 30
#: Below this reciprocal condition number of the equilibrated information, the step (and the
#: decrement) come from a QR of √W·X instead of the Cholesky factor (eps / rcond > 2e-8).
RCOND_QR = 1e-8


def _direction(objective: GLMObjective, ev: Evaluation) -> tuple[Evaluation, FloatArray]:
    """The Newton direction at ``ev``; Fisher scoring's (one more pass) where H is not PD.

    On an ill-conditioned design (the equilibrated H's rcond below ``RCOND_QR``) the Cholesky
    solve has lost digits, and so has the decrement it gives; the step then comes from R of a
    QR of √W·X (one more pass), RᵀR Δ = -g, which keeps X's own conditioning. (Taking it only
    near the optimum saved passes but, on the worst designs, let an inaccurate Cholesky
    decrement stop the fit early.)
    """
    assert ev.grad is not None and ev.hess is not None
    step, rcond = cholesky_solve_rcond(ev.hess, -ev.grad)
    if step is not None and rcond < RCOND_QR:
        r = objective.information_r(ev)
        try:
            half = linalg.solve_triangular(r, -ev.grad, trans="T", check_finite=True)
            exact = linalg.solve_triangular(r, half, check_finite=True)
        except (linalg.LinAlgError, ValueError):
            exact = None
        if exact is not None and np.isfinite(exact).all():
            return ev, np.asarray(exact, dtype=np.float64)
    if step is not None:
        return ev, step
    if ev.information == "observed" and objective.observed_differs:
        ev = objective.evaluate(ev.coef)  # Fisher's information at the same point
    assert ev.grad is not None and ev.hess is not None
    return ev, newton_direction(ev.hess, ev.grad)  # least squares if still singular


class NewtonSolver:
    """Newton / IRLS solver; the default ``solver="newton"``."""

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
        trace, current, early = begin(objective, coef0, callback, information="observed")
        if early is not None:
            return early
        reason = StopReason.MAX_ITER
        n_iter = 0
        current, direction = _direction(objective, current)
        for n_iter in range(1, stop.max_iter + 1):
            size = 1.0
            for _ in range(MAX_HALVINGS + 1):
                trial = objective.evaluate(current.coef + size * direction, information="observed")
                # R halves on a non-finite deviance or on a rise larger than the tolerance.
                rise = (trial.deviance - current.deviance) / (0.1 + abs(trial.deviance))
                if trial.finite and not rise >= stop.tol:
                    break
                size *= 0.5
            else:
                reason = StopReason.STEP_FAILED if trial.finite else StopReason.NON_FINITE
                n_iter -= 1
                break
            extra = {}
            if objective.observed_differs:  # which information the step was taken with
                extra["observed"] = float(current.information == "observed")
            trace.record(trial, float(np.linalg.norm(size * direction)), size, **extra)
            previous = current
            current, direction = _direction(objective, trial)
            assert current.grad is not None
            decrement = float(-current.grad @ direction)
            if stop.converged(
                previous.deviance,
                current.deviance,
                decrement=decrement,
                decrement_floor=functools.partial(decrement_floor, objective, current),
                decrement_scale=objective.decrement_scale(current),
            ):
                reason = StopReason.DEVIANCE_TOL
                break
        return done(current, reason, n_iter, trace)
