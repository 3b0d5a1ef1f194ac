"""Trust-region Newton with the dogleg step, ``solver="trust-region"``.

Each iteration minimises the quadratic model of D/2 (gradient g, Fisher information H, which is
positive definite on a full-rank design) over the ellipsoid ``‖S Δ‖₂ ≤ r`` with
``S = diag(H)^{1/2}``, by Powell's dogleg: the Newton step when it fits, else the path from
the model's minimiser along −g (the Cauchy point) towards the Newton step, cut at the boundary.
The radius follows the ratio ρ of actual to predicted decrease: a step with ρ ≤ 0 is rejected
and retried in a quarter of the radius; ρ < 0.25 shrinks the radius to a quarter of the step,
ρ > 0.75 on a step that reached the boundary doubles it.

Measuring steps in the ``S``-norm — ``Σ H_jj Δ_j²``, roughly coefficient changes in units of
their standard errors — makes the method invariant to rescaling a column, as Newton's method
is. The first radius is the length of the first Newton step, so the method takes Newton steps
for as long as the quadratic model predicts the deviance well, and differs from Newton only
where it does not.
"""

from __future__ import annotations

import functools
import math

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
    newton_direction,
    reduction_ratio,
)
from .base import IterationCallback, SolverResult, StopReason, StopRule

__all__ = ["TrustRegionSolver", "dogleg_step"]

#: Largest radius (in the S-norm) the adaptation may reach.
MAX_RADIUS = 1e10


def dogleg_step(
    grad: FloatArray,
    hess: FloatArray,
    newton: FloatArray,
    scale: FloatArray,
    radius: float,
) -> tuple[FloatArray, bool]:
    """Dogleg minimiser of ``gᵀΔ + ½ ΔᵀHΔ`` subject to ``‖scale · Δ‖₂ ≤ radius``.

    Parameters
    ----------
    grad : ndarray of shape (n_features,)
        Gradient g.
    hess : ndarray of shape (n_features, n_features)
        Positive definite model Hessian H.
    newton : ndarray of shape (n_features,)
        The Newton step −H⁻¹g.
    scale : ndarray of shape (n_features,)
        Positive diagonal S of the norm.
    radius : float
        Trust radius r.

    Returns
    -------
    step : ndarray of shape (n_features,)
    on_boundary : bool
        Whether the step was cut at the boundary.
    """
    newton_s = scale * newton
    if float(np.linalg.norm(newton_s)) <= radius:
        return newton, False
    # Steepest descent in the scaled variables s = S Δ: gradient S⁻¹g, Hessian S⁻¹HS⁻¹.
    grad_s = grad / scale
    direction = grad_s / scale  # −(Cauchy direction) back in Δ-space
    curvature = float(direction @ hess @ direction)
    gs2 = float(grad_s @ grad_s)
    norm_gs = math.sqrt(gs2)
    cauchy_s = -(gs2 / curvature) * grad_s if curvature > 0 else -np.inf * grad_s
    if not np.isfinite(cauchy_s).all() or float(np.linalg.norm(cauchy_s)) >= radius:
        return -(radius / norm_gs) * direction, True
    # On the segment cauchy + τ (newton − cauchy), τ in [0, 1], find ‖·‖ = radius.
    diff = newton_s - cauchy_s
    a = float(diff @ diff)
    b = 2.0 * float(cauchy_s @ diff)
    c = float(cauchy_s @ cauchy_s) - radius * radius
    tau = (-b + math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    return (cauchy_s + tau * diff) / scale, True


class TrustRegionSolver:
    """Dogleg trust-region Newton (Fisher scoring).

    The history's ``radius`` column holds the radius each accepted step was computed with, in
    the ``diag(H)^{1/2}``-scaled norm. ``step_size`` is 1.0 (the dogleg step is always taken
    whole); rejected trials cost one evaluation each and do not count as iterations.
    """

    name = "trust-region"
    default_max_iter = 200

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by dogleg trust-region steps."""
        trace, current, early = begin(objective, coef0, callback, information=HESSIAN)
        if early is not None:
            return early
        assert current.grad is not None and current.hess is not None
        newton = newton_direction(current.hess, current.grad)
        scale = _scale(current.hess)
        radius = max(float(np.linalg.norm(scale * newton)), np.finfo(np.float64).tiny)
        reason = StopReason.MAX_ITER
        n_iter = 0
        for n_iter in range(1, stop.max_iter + 1):
            assert current.grad is not None and current.hess is not None
            for _ in range(MAX_REJECTIONS + 1):
                step, on_boundary = dogleg_step(current.grad, current.hess, newton, scale, radius)
                trial = objective.evaluate(current.coef + step, information=HESSIAN)
                rho = reduction_ratio(current, trial, step)
                if rho > ACCEPT:
                    break
                radius = 0.25 * float(np.linalg.norm(scale * step))
            else:
                reason = StopReason.STEP_FAILED if trial.finite else StopReason.NON_FINITE
                n_iter -= 1
                break
            trace.record(trial, float(np.linalg.norm(step)), 1.0, radius=radius)
            if rho < 0.25:
                radius = 0.25 * float(np.linalg.norm(scale * step))
            elif rho > 0.75 and on_boundary:
                radius = min(2.0 * radius, MAX_RADIUS)
            previous, current = current, trial
            assert current.grad is not None and current.hess is not None
            newton = newton_direction(current.hess, current.grad)
            scale = _scale(current.hess)
            if stop.converged(
                previous.deviance,
                current.deviance,
                decrement=float(-current.grad @ newton),
                decrement_floor=functools.partial(decrement_floor, objective, current),
                decrement_scale=objective.decrement_scale(current),
            ):
                reason = StopReason.DEVIANCE_TOL
                break
        return done(current, reason, n_iter, trace)


def _scale(hess: FloatArray) -> FloatArray:
    diag = np.diag(hess)
    floor = np.finfo(np.float64).eps * max(float(diag.max(initial=0.0)), 1.0)
    return np.sqrt(np.maximum(diag, floor))
