"""Solvers behind the ``solver=`` argument; each minimises the same GLM objective."""

from __future__ import annotations

from ..exceptions import InvalidParameterError
from .base import IterationRecord, Solver, SolverResult, StopReason, StopRule
from .newton import NewtonSolver

__all__ = [
    "SOLVERS",
    "IterationRecord",
    "NewtonSolver",
    "Solver",
    "SolverResult",
    "StopReason",
    "StopRule",
    "get_solver",
]

#: Registry of solver names to classes; ``solver=`` accepts these names.
SOLVERS: dict[str, type] = {NewtonSolver.name: NewtonSolver}


def get_solver(name: str) -> Solver:
    """Return a fresh solver called ``name``."""
    try:
        cls = SOLVERS[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"solver={name!r} is not a known solver; use one of {sorted(SOLVERS)}."
        ) from None
    solver: Solver = cls()
    return solver
