"""What the solvers share: the start of a solve, its end, the Newton direction and step tests.

Every solver module imports these from here, never from another solver, so a solver can be
read, changed or removed alone. The order of calls every solve follows: :func:`begin`
(evaluate the start, record row 0, stop early if it is not finite) → iterations, each taking a
direction and judging a step by :func:`rose` / :func:`reduction_ratio` → the stopping rule
(:class:`~.base.StopRule`) → :func:`done` (the last evaluation carries the Fisher
information) or :func:`finish` (one more pass to form it).
"""

from __future__ import annotations

import numpy as np

from .._typing import FloatArray
from ..engine.linalg import cholesky_solve, solve_normal_equations
from ..engine.objective import Evaluation, GLMObjective
from .base import (
    IterationCallback,
    IterationRecord,
    SolverResult,
    StopReason,
    StopRule,
    Trace,
    grad_norm,
)

__all__ = [
    "ACCEPT",
    "HESSIAN",
    "MAX_REJECTIONS",
    "NOISE",
    "begin",
    "done",
    "finish",
    "gradient_ratio",
    "decrement_floor",
    "newton_decrement",
    "newton_direction",
    "reduction_ratio",
    "rose",
]

#: The information second-order solvers step with: the observed one, the exact Hessian of the
#: log-likelihood (the objective gives Fisher's where it cannot form the observed one).
HESSIAN = "observed"
#: Relative deviance changes below this are rounding noise, not a rise (a deviance summed over
#: n rows carries an error of a few ulps times √n; 1e-12 is far above that and far below tol).
NOISE = 1e-12
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


def begin(
    objective: GLMObjective,
    coef0: FloatArray,
    callback: IterationCallback | None,
    *,
    hess: bool = True,
    weights: bool = False,
    information: str = "expected",
) -> tuple[Trace, Evaluation, SolverResult | None]:
    """Evaluate the start, record it as row 0; the result to return at once if not finite.

    ``hess``, ``weights`` and ``information`` are passed to :meth:`GLMObjective.evaluate`;
    without the information matrix the early result takes one more pass for it
    (:func:`finish`).
    """
    trace = Trace(callback)
    current = objective.evaluate(coef0, hess=hess, weights=weights, information=information)
    trace.record(current)
    if current.finite:
        return trace, current, None
    if hess:
        early = SolverResult(coef0, False, StopReason.NON_FINITE, 0, trace.history, current)
    else:
        early = finish(objective, current, StopReason.NON_FINITE, 0, trace.history)
    return trace, current, early


def done(current: Evaluation, reason: StopReason, n_iter: int, trace: Trace) -> SolverResult:
    """The result at ``current``, whose evaluation carries the Fisher information."""
    return SolverResult(
        coef=current.coef,
        converged=reason is StopReason.DEVIANCE_TOL,
        reason=reason,
        n_iter=n_iter,
        history=trace.history,
        final=current,
    )


def rose(dev_old: float, dev_new: float) -> bool:
    """Whether the deviance rose by more than rounding noise (or became non-finite)."""
    return not dev_new - dev_old <= NOISE * (abs(dev_old) + 0.1)


def gradient_ratio(ev: Evaluation, g0_norm: float) -> float:
    """|g_k|∞ / |g_0|∞ for the first-order stopping condition (0 when g_0 is exactly 0)."""
    gn = grad_norm(ev)
    if g0_norm > 0.0:
        return gn / g0_norm
    return 0.0 if gn == 0.0 else float("inf")


def finish(
    objective: GLMObjective,
    current: Evaluation,
    reason: StopReason,
    n_iter: int,
    history: tuple[IterationRecord, ...],
    stop: StopRule | None = None,
) -> SolverResult:
    """The result at ``current``, with one more pass for the Fisher information inference needs.

    For solvers that never form the d×d information while iterating (first-order, newton-cg).
    With ``stop``, a fit that met the stopping rule is :meth:`~.base.StopRule.certified` by the
    Newton decrement from that information; if the optimum is farther than ``tol`` allows, it
    stops with ``StopReason.UNCERTIFIED``.
    """
    final = objective.evaluate(current.coef)
    if stop is not None and reason is StopReason.DEVIANCE_TOL:
        # The decrement in the exact Hessian's metric (the observed information, one more
        # pass where it differs from Fisher's): the distance to the optimum in its own units.
        exact = final
        if objective.observed_differs:
            exact = objective.evaluate(current.coef, information=HESSIAN)
        decrement = newton_decrement(exact)
        scale = objective.decrement_scale(exact)
        if not stop.certified(decrement, scale, decrement_floor(objective, exact)):
            reason = StopReason.UNCERTIFIED
    return SolverResult(
        coef=final.coef,
        converged=reason is StopReason.DEVIANCE_TOL,
        reason=reason,
        n_iter=n_iter,
        history=history,
        final=final,
    )


def newton_direction(hess: FloatArray, grad: FloatArray) -> FloatArray:
    """Solve hess Δ = -grad by Cholesky; fall back to least squares if hess is not PD."""
    return solve_normal_equations(hess, -grad)


_EPS = float(np.finfo(np.float64).eps)


def decrement_floor(objective: GLMObjective, ev: Evaluation) -> float:
    """The Newton decrement that rounding alone can produce at ``ev`` (one more pass).

    Below it, a decrement says nothing more about the distance to the optimum. Score component
    j is a sum of n terms x_ij s_i, so its rounding is about δ_j = √n eps Σ_i |x_ij s_i| (the
    magnitudes of its terms, ``GLMObjective.score_magnitude``); an error δ in the score moves
    the decrement gᵀH⁻¹g by about δᵀH⁻¹δ. Far below ``tol`` on well-posed fits; it binds where
    the score sums large terms that cancel (very unequal weights, ill-conditioned designs). 0
    (no floor) when it cannot be estimated.
    """
    if ev.hess is None:
        return 0.0
    n_rows = objective.design.X.shape[0]
    delta = np.sqrt(n_rows) * _EPS * objective.score_magnitude(ev.coef)
    z = cholesky_solve(ev.hess, delta)
    if z is None:
        return 0.0
    value = float(delta @ z)
    return value if np.isfinite(value) else 0.0
