"""The solver protocol, the shared stopping rule and the per-iteration record.

Every solver minimises a :class:`~newtonglm.engine.objective.GLMObjective` from ``coef0`` under one
:class:`StopRule`, and returns a frozen :class:`SolverResult` whose ``history`` holds one
:class:`IterationRecord` per iteration (row 0 is the starting point), so iteration counts and
histories are comparable across solvers.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .._typing import FloatArray
from ..engine.objective import Evaluation, GLMObjective

__all__ = [
    "IterationRecord",
    "Solver",
    "SolverResult",
    "StopReason",
    "StopRule",
    "relative_change",
]


class StopReason(enum.Enum):
    """Why a solver stopped."""

    DEVIANCE_TOL = "relative deviance change (and Newton decrement) below tol"
    MAX_ITER = "reached max_iter"
    DIVERGED = "objective kept increasing or oscillating (learning rate too large?)"
    NON_FINITE = "objective or derivatives became non-finite"
    STEP_FAILED = "no step size decreased the objective"
    UNCERTIFIED = (
        "the stopping rule held, but the Newton decrement at the end puts the optimum farther "
        "than tol allows"
    )


@dataclass(frozen=True, slots=True)
class StopRule:
    """When to stop — one rule for every solver, so iteration counts are comparable.

    Converged when both hold:

    1. R's rule on the deviance, ``|D_k - D_{k-1}| / (|D_k| + 0.1) < tol``;
    2. the gradient is small. Solvers with a Newton direction Δ measure that scale-free, by the
       Newton decrement ``λ² = -gᵀΔ`` (the deviance decrease the next full Newton step would
       bring): ``λ² < tol² (|D_k| + 0.1)``. First-order solvers, which have no Δ, use the
       gradient's max-norm relative to its value at the start: ``|g_k|∞ < gtol |g_0|∞``.

    Condition 2 costs Newton's method on a canonical link nothing (once R's rule holds, λ² is
    already far smaller), but it keeps linearly convergent methods — Fisher scoring for probit
    and cloglog, gradient descent — from stopping far short of the optimum, where the deviance
    barely changes per step although the coefficients are still 1e-3 standard errors away.

    The decrement is the squared distance to the optimum in standard-error units (times the
    dispersion φ, ``decrement_scale``), so the Newton condition also asks ``λ² ≤ tol φ`` (the
    estimate within √tol = 1e-4 standard errors at the default tol), which binds where the
    deviance is huge (very large weights); a decrement at or below the rounding floor
    (``_steps.decrement_floor``) counts as 0. Solvers without a Newton direction are
    :meth:`certified` at the end, from the information their last pass forms for inference:
    a fit that stopped on the gradient but is farther than that from the optimum stops with
    ``StopReason.UNCERTIFIED``, not as converged.
    """

    #: Tolerance on the relative deviance change (and, squared, on the Newton decrement).
    tol: float = 1e-8
    #: Largest number of iterations (steps) allowed.
    max_iter: int = 100
    #: Bound on |g_k|∞ / |g_0|∞ for first-order solvers.
    gtol: float = 1e-8

    def converged(
        self,
        dev_old: float,
        dev_new: float,
        *,
        decrement: float | None = None,
        grad_ratio: float | None = None,
        decrement_floor: Callable[[], float] | None = None,
        decrement_scale: float = 1.0,
    ) -> bool:
        """Whether the rule holds after a step from deviance ``dev_old`` to ``dev_new``.

        Parameters
        ----------
        dev_old, dev_new : float
            Deviance before and after the step.
        decrement : float, optional
            Newton decrement -gᵀΔ at the new point (Newton-type solvers).
        grad_ratio : float, optional
            |g_k|∞ / |g_0|∞ at the new point (first-order solvers).
        decrement_floor : callable, optional
            The decrement rounding alone produces at the new point (``_steps.decrement_floor``);
            a decrement at or below it counts as 0. Called only when it decides.
        decrement_scale : float, default=1.0
            The dispersion φ (1 for binomial and Poisson): the decrement's unit.
        """
        if not relative_change(dev_old, dev_new) < self.tol:
            return False
        if decrement is not None:
            # A dispersion below 0.1 tol (a Gaussian fit with next to no residual) leaves the
            # relative rule alone: φ tol would then ask less than rounding can give.
            scale = max(decrement_scale, 0.1 * self.tol)
            limit = min(self.tol**2 * (abs(dev_new) + 0.1), self.tol * scale)
            if not decrement < limit:
                if decrement_floor is None or not decrement <= decrement_floor():
                    return False
        return grad_ratio is None or grad_ratio < self.gtol

    def certified(self, decrement: float, scale: float = 1.0, floor: float = 0.0) -> bool:
        """Whether a decrement puts the estimate within √tol standard errors of the optimum.

        ``decrement`` is gᵀH⁻¹g at the estimate, ``scale`` the dispersion, ``floor`` the
        decrement rounding alone produces there.
        """
        return bool(decrement <= max(self.tol * scale, floor))


def relative_change(dev_old: float, dev_new: float) -> float:
    """R's relative deviance change, |D_new - D_old| / (|D_new| + 0.1)."""
    return abs(dev_new - dev_old) / (abs(dev_new) + 0.1)


@dataclass(frozen=True, slots=True)
class IterationRecord:
    """One row of a fit's history."""

    #: Iteration number; 0 is the starting point.
    iteration: int
    #: Deviance after the iteration.
    deviance: float
    #: Max-norm of the score (gradient of the log-likelihood) after the iteration.
    grad_norm: float
    #: Euclidean norm of the coefficient change taken (NaN at the start).
    step_norm: float
    #: Fraction of the full step taken (1.0 = full Newton step; η for gradient descent).
    step_size: float
    #: Seconds since the fit started.
    seconds: float
    #: Solver-specific columns (e.g. ``damping``, ``radius``).
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SolverResult:
    """What a solver returns."""

    #: Final coefficients.
    coef: FloatArray
    #: Whether the stopping rule was met.
    converged: bool
    #: Why the solver stopped.
    reason: StopReason
    #: Number of iterations (steps) taken.
    n_iter: int
    #: One record per iteration, starting with iteration 0.
    history: tuple[IterationRecord, ...]
    #: Objective, gradient and Fisher information at ``coef`` (for inference, no extra pass).
    final: Evaluation


IterationCallback = Callable[[IterationRecord], None]


class Solver(Protocol):
    """A minimiser of a GLM objective."""

    #: The ``solver=`` name.
    name: str
    #: max_iter used when the estimator's ``max_iter`` is None.
    default_max_iter: int

    def solve(
        self,
        objective: GLMObjective,
        coef0: FloatArray,
        stop: StopRule,
        callback: IterationCallback | None = None,
    ) -> SolverResult:
        """Minimise ``objective`` from ``coef0``."""
        ...


class Clock:
    """Seconds since construction (the start of a fit)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self._t0


class Trace:
    """The history of one solve: its clock, its records and the per-iteration callback.

    Every solver records its starting point and then one row per accepted step through
    :meth:`record`, so all histories share one format and one numbering (row k = iteration k).
    """

    def __init__(self, callback: IterationCallback | None = None) -> None:
        self._clock = Clock()
        self._callback = callback
        self._records: list[IterationRecord] = []

    def record(
        self,
        ev: Evaluation,
        step_norm: float = float("nan"),
        step_size: float = float("nan"),
        **extra: float,
    ) -> None:
        """Append the row for the point ``ev`` reached by a step of ``step_norm``."""
        rec = IterationRecord(
            len(self._records),
            ev.deviance,
            grad_norm(ev),
            float(step_norm),
            float(step_size),
            self._clock(),
            extra,
        )
        self._records.append(rec)
        if self._callback is not None:
            self._callback(rec)

    @property
    def history(self) -> tuple[IterationRecord, ...]:
        """The records so far, row 0 being the starting point."""
        return tuple(self._records)


def grad_norm(ev: Evaluation) -> float:
    """Max-norm of the gradient of an evaluation (NaN when it has none)."""
    return float(np.max(np.abs(ev.grad))) if ev.grad is not None and ev.grad.size else float("nan")
