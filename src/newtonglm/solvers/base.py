"""The solver protocol, the shared stopping rule and the per-iteration record.

Every solver minimises a :class:`~newtonglm.objective.GLMObjective` from ``coef0`` under one
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
from ..objective import Evaluation, GLMObjective

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
    DIVERGED = "objective kept increasing"
    NON_FINITE = "objective or derivatives became non-finite"
    STEP_FAILED = "no step size decreased the objective"


@dataclass(frozen=True, slots=True)
class StopRule:
    """When to stop.

    Converged when R's rule holds, ``|D_k - D_{k-1}| / (|D_k| + 0.1) < tol``, and — for solvers
    that have a Newton direction Δ — the Newton decrement ``λ² = -gᵀΔ`` (the deviance decrease
    the next full step would bring) is below ``tol² (|D_k| + 0.1)``. The second condition costs
    nothing for Newton's method on a canonical link (after R's rule holds, λ² is already far
    smaller), but stops linearly convergent Fisher scoring (probit, cloglog) from ending about
    1e-3 standard errors short of the optimum, where R's rule alone would stop it.
    """

    #: Tolerance on the relative deviance change.
    tol: float = 1e-8
    #: Largest number of iterations (steps) allowed.
    max_iter: int = 100

    def converged(self, dev_old: float, dev_new: float, decrement: float | None = None) -> bool:
        """Whether a step from ``dev_old`` to ``dev_new`` (and the next decrement) meet the rule."""
        if not relative_change(dev_old, dev_new) < self.tol:
            return False
        return decrement is None or decrement / (abs(dev_new) + 0.1) < self.tol**2


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

    name: str

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


def grad_norm(ev: Evaluation) -> float:
    """Max-norm of the gradient of an evaluation (NaN when it has none)."""
    return float(np.max(np.abs(ev.grad))) if ev.grad is not None and ev.grad.size else float("nan")
