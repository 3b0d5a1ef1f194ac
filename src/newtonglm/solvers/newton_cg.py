"""Truncated Newton with conjugate gradients, ``solver="newton-cg"`` — no d×d matrix.

Each outer iteration solves ``H Δ = −g`` (H the Fisher information, g the gradient of D/2)
approximately by conjugate gradients on Hessian-vector products ``Xᵀ(W (X v))``, one pass over
X each, with the working weights cached by the evaluation at the current coefficients. CG stops
at the forcing term

    ‖H Δ + g‖₂ ≤ η_k ‖g‖₂,   η_k = min(0.5, (‖g_k‖₂ / ‖g_0‖₂)^{1/2}),

loose far from the optimum (cheap steps) and tightening as the gradient shrinks, which gives
superlinear convergence (order 1.5 asymptotically). A backtracking (Armijo) line search on the
deviance then takes the step, halving it while the decrease is insufficient.

Cost: one evaluation plus one pass per CG iteration per outer iteration, O(n d) each; memory
O(n + d). The Fisher information is formed once, at the final coefficients, for inference.
"""

from __future__ import annotations

import math

import numpy as np

from .._typing import FloatArray
from ..engine.objective import Evaluation, GLMObjective
from ._steps import HESSIAN, NOISE, begin, finish
from .base import IterationCallback, SolverResult, StopReason, StopRule

__all__ = ["NewtonCGSolver", "truncated_newton_step"]

#: Armijo's sufficient-decrease constant.
ARMIJO = 1e-4
#: The line search gives up after this many halvings.
MAX_HALVINGS = 30


def truncated_newton_step(
    objective: GLMObjective, at: Evaluation, forcing: float, max_cg: int
) -> FloatArray:
    """Approximate Newton step −H⁻¹g at ``at`` by conjugate gradients on ``objective.hessp``.

    Parameters
    ----------
    objective : GLMObjective
        The objective, for Hessian-vector products.
    at : Evaluation
        Evaluation made with ``weights=True`` (its working weights define H).
    forcing : float
        Stop when the residual ``‖HΔ + g‖₂ ≤ forcing ‖g‖₂``.
    max_cg : int
        Largest number of CG iterations (Hessian-vector products).

    Returns
    -------
    ndarray of shape (n_features,)
        The step; the steepest-descent direction −g if H has no positive curvature along it.
    """
    g = at.grad
    assert g is not None
    step = np.zeros_like(g)
    resid = -g  # −g − H·step
    rr = float(resid @ resid)
    target = (forcing * forcing) * rr
    direction = resid.copy()
    for _ in range(max_cg):
        if rr <= target or rr == 0.0:
            break
        h_dir = objective.hessp(at, direction)
        curvature = float(direction @ h_dir)
        if not (np.isfinite(curvature) and curvature > 0.0):
            break  # no (measurable) positive curvature: keep the step so far
        alpha = rr / curvature
        step += alpha * direction
        resid -= alpha * h_dir
        rr_new = float(resid @ resid)
        direction = resid + (rr_new / rr) * direction
        rr = rr_new
    if not step.any():
        step = -g.copy()
    return step


class NewtonCGSolver:
    """Truncated Newton: CG on Hessian-vector products and an Armijo line search.

    ``step_size`` is the line-search fraction of the CG step. The stopping rule uses the
    decrement ``−gᵀΔ`` of the CG step Δ, which tends to the Newton decrement as CG tightens.
    """

    name = "newton-cg"
    default_max_iter = 100

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0`` by truncated Newton steps."""
        max_cg = max(20, 2 * objective.n_features)
        trace, current, early = begin(
            objective, coef0, callback, hess=False, weights=True, information=HESSIAN
        )
        if early is not None:
            return early
        assert current.grad is not None
        g0 = float(np.linalg.norm(current.grad))

        def forcing(ev: Evaluation) -> float:
            assert ev.grad is not None
            ratio = float(np.linalg.norm(ev.grad)) / g0 if g0 > 0.0 else 0.0
            return min(0.5, math.sqrt(ratio))

        step = truncated_newton_step(objective, current, forcing(current), max_cg)
        reason = StopReason.MAX_ITER
        n_iter = 0
        for n_iter in range(1, stop.max_iter + 1):
            assert current.grad is not None
            slope = float(current.grad @ step)  # derivative of D/2 along the step, < 0
            allowed = NOISE * (abs(current.deviance) + 0.1)
            size = 1.0
            for _ in range(MAX_HALVINGS + 1):
                trial = objective.evaluate(
                    current.coef + size * step, hess=False, weights=True, information=HESSIAN
                )
                # Armijo on D = 2 f, with rounding noise allowed for.
                if trial.finite and (
                    trial.deviance - current.deviance <= 2.0 * ARMIJO * size * slope + allowed
                ):
                    break
                size *= 0.5
            else:
                reason = StopReason.STEP_FAILED if trial.finite else StopReason.NON_FINITE
                n_iter -= 1
                break
            trace.record(trial, size * float(np.linalg.norm(step)), size)
            previous, current = current, trial
            assert current.grad is not None
            step = truncated_newton_step(objective, current, forcing(current), max_cg)
            if stop.converged(
                previous.deviance,
                current.deviance,
                decrement=float(-current.grad @ step),
                decrement_scale=objective.decrement_scale(current),
            ):
                reason = StopReason.DEVIANCE_TOL
                break
        return finish(objective, current, reason, n_iter, trace.history, stop)
