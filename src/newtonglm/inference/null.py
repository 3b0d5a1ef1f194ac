"""The null model's deviance, as R's ``glm`` defines it, for every kind of design.

With an intercept: the intercept-only model with the same weights and offset — μ the weighted
mean of y when there is no offset (from the design's row sums), an intercept-only Newton fit
otherwise. Without an intercept: μ = g⁻¹(offset) (or g⁻¹(0)), one pass.
"""

from __future__ import annotations

import numpy as np

from ..design.base import Design
from ..engine.objective import GLMObjective
from ..families import Family
from ..solvers import NewtonSolver, StopRule

__all__ = ["null_deviance"]


def null_deviance(family: Family, design: Design, stop: StopRule) -> float:
    """Deviance of the null model of ``design`` (fitted by Newton's method to ``stop``)."""
    if design.intercept_index is not None and design.offset is None:
        return design.stats.null_deviance(family)  # μ is the weighted mean of y
    objective = GLMObjective(family, design.null())
    if design.intercept_index is None:
        return objective.deviance(np.zeros(0))  # μ = g⁻¹(offset): no fit
    return NewtonSolver().solve(objective, objective.initial_coef(), stop).final.deviance
