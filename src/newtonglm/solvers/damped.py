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

import numpy as np

from .._typing import FloatArray
from ..objective import Evaluation, GLMObjective
from .base import (
    IterationCallback,
    SolverResult,
    StopReason,
    StopRule,
    Trace,
)
from .gradient import NOISE, rose
from .newton import newton_direction

__all__ = ["DampedNewtonSolver", "newton_decrement", "reduction_ratio"]

#: A step is accepted when ρ exceeds this.
ACCEPT = 0.0
#: Consecutive rejected steps before giving up (each increases the damping by a growing factor).
MAX_REJECTIONS = 30
#: Predicted decreases below this multiple of ``|D| + 0.1`` are too small for ρ to be measured
#: (the actual decrease would be rounding noise); such steps are judged by ``rose`` alone.
TINY_PREDICTION = 1e3 * NOISE


def reduction_ratio(current: Evaluation, trial: Evaluation, step: FloatArray) -> float:
    """ρ = actual / predicted decrease of the deviance for ``step`` from ``current``.

    The prediction is the quadratic model ``−2 gᵀΔ − ΔᵀHΔ`` with the Fisher information at
    ``current``. When it is below rounding resolution, ρ is 1 if the deviance did not rise and
    −1 otherwise; a non-finite trial gives −inf.
    """
    if not trial.finite:
        return float("-inf")
    assert current.grad is not None and current.hess is not None
    predicted = -2.0 * float(current.grad @ step) - float(step @ current.hess @ step)
    if predicted <= TINY_PREDICTION * (abs(current.deviance) + 0.1):
        return -1.0 if rose(current.deviance, trial.deviance) else 1.0
    return (current.deviance - trial.deviance) / predicted


def newton_decrement(ev: Evaluation) -> float:
    """Newton decrement ``gᵀH⁻¹g`` (the deviance decrease a full Newton step would bring)."""
    assert ev.grad is not None and ev.hess is not None
    return float(-ev.grad @ newton_direction(ev.hess, ev.grad))


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
        trace = Trace(callback)
        current = objective.evaluate(coef0)
        trace.record(current)
        if not current.finite:
            return SolverResult(coef0, False, StopReason.NON_FINITE, 0, trace.history, current)
        lam = float(self.damping)
        reason = StopReason.MAX_ITER
        n_iter = 0
        for n_iter in range(1, stop.max_iter + 1):
            assert current.grad is not None and current.hess is not None
            diag = _diagonal(current.hess)
            growth = 2.0
            for _ in range(MAX_REJECTIONS + 1):
                step = newton_direction(current.hess + lam * np.diag(diag), current.grad)
                trial = objective.evaluate(current.coef + step)
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
                previous.deviance, current.deviance, decrement=newton_decrement(current)
            ):
                reason = StopReason.DEVIANCE_TOL
                break
        return SolverResult(
            coef=current.coef,
            converged=reason is StopReason.DEVIANCE_TOL,
            reason=reason,
            n_iter=n_iter,
            history=trace.history,
            final=current,
        )
