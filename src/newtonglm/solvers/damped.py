"""Levenberg–Marquardt damped Newton, ``solver="newton-damped"``.

Each iteration solves ``(H + λ diag(H)) Δ = −g`` with H the Fisher information and g the
gradient of D/2, and judges the step by the ratio of the actual to the predicted decrease,

    ρ = (D_k − D(coef + Δ)) / (−2 gᵀΔ − ΔᵀHΔ),

(the denominator is the decrease of the quadratic model of D). A step with ρ ≤ 0 is rejected
and retried with a larger λ; an accepted step with ρ > 0.75 divides λ by 3, one with ρ < 0.25
doubles it. λ → 0 is Newton's method; λ → ∞ is a short gradient step.

The damping is Marquardt's, scaled by diag(H) rather than the identity: it keeps the method
invariant to rescaling a column (as Newton's method is, and as λ I would not be — a column
multiplied by 1e3 would see its damping shrink by 1e6), and makes λ dimensionless. The price is
that for large λ the step tends to the *diagonally preconditioned* gradient step
``−diag(H)⁻¹ g / λ`` rather than plain gradient descent.
"""

from __future__ import annotations

import functools

import numpy as np

from .._typing import FloatArray
from ..engine.objective import GLMObjective
from ._steps import (
    ACCEPT,
    HESSIAN,
    MAX_REJECTIONS,
    begin,
    decrement_floor,
    done,
    newton_decrement,
    newton_direction,
    reduction_ratio,
)
from .base import IterationCallback, SolverResult, StopReason, StopRule

__all__ = ["DampedNewtonSolver"]


def _diagonal(hess: FloatArray) -> FloatArray:
    diag = np.diag(hess).copy()
    floor = np.finfo(np.float64).eps * max(float(diag.max(initial=0.0)), 1.0)
    return np.maximum(diag, floor)


class DampedNewtonSolver:
    """Levenberg–Marquardt damped Newton (Fisher scoring) with ratio-controlled damping.

    The ``damping`` column of the history is the λ with which each accepted step was computed.
    ``step_size`` is 1.0 (the damped step is always taken whole); rejected trials cost one
    evaluation each and do not count as iterations, as Newton's halvings do not.

    Parameters
    ----------
    damping : float, default=1e-3
        Initial λ (relative to diag(H)). Small, because the default start — one
        weighted-least-squares step — is usually close enough for near-Newton steps.
    """

    name = "newton-damped"
    default_max_iter = 200

    def __init__(self, damping: float = 1e-3) -> None:
        self.damping = damping

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by Levenberg–Marquardt steps."""
        trace, current, early = begin(objective, coef0, callback, information=HESSIAN)
        if early is not None:
            return early
        lam = float(self.damping)
        reason = StopReason.MAX_ITER
        n_iter = 0
        for n_iter in range(1, stop.max_iter + 1):
            assert current.grad is not None and current.hess is not None
            diag = _diagonal(current.hess)
            growth = 2.0
            for _ in range(MAX_REJECTIONS + 1):
                step = newton_direction(current.hess + lam * np.diag(diag), current.grad)
                trial = objective.evaluate(current.coef + step, information=HESSIAN)
                rho = reduction_ratio(current, trial, step)
                if rho > ACCEPT:
                    break
                # Rejected: damp harder, by a factor that doubles with every rejection in a row.
                lam = max(lam, 1e-12) * growth
                growth *= 2.0
            else:
                reason = StopReason.STEP_FAILED if trial.finite else StopReason.NON_FINITE
                n_iter -= 1
                break
            trace.record(trial, float(np.linalg.norm(step)), 1.0, damping=lam)
            if rho > 0.75:
                lam /= 3.0
            elif rho < 0.25:
                lam *= 2.0
            previous, current = current, trial
            # The stopping rule uses the undamped Newton decrement, exactly as "newton" does.
            if stop.converged(
                previous.deviance,
                current.deviance,
                decrement=newton_decrement(current),
                decrement_floor=functools.partial(decrement_floor, objective, current),
                decrement_scale=objective.decrement_scale(current),
            ):
                reason = StopReason.DEVIANCE_TOL
                break
        return done(current, reason, n_iter, trace)
