"""One fit, start to finish: start, rank and separation policies, solve, inference → GLMFit.

``fit.fit_glm`` is the whole fit as a function returning a frozen ``result.GLMFit``; ``start``
chooses where the solver starts, ``aliasing`` decides which columns are aliased, and
``separation`` detects (quasi-)complete separation of binomial data.
"""

from __future__ import annotations

from .fit import FitOptions, fit_glm, refit_inference
from .result import GLMFit

__all__ = ["FitOptions", "GLMFit", "fit_glm", "refit_inference"]
