"""Inference at the solution: dispersion, covariance, fit statistics, tables, residuals, tests.

``compute`` turns the solver's final evaluation into a frozen :class:`Inference` (coefficients,
covariance by the ``options`` chosen, deviance, log-likelihood, AIC/BIC); ``robust`` holds the
sandwich and cluster covariances, ``null`` the null deviance, ``residuals`` the per-row
residuals and influence, ``prediction`` the coefficient table and prediction intervals,
``wald`` the Wald tests. Every matrix here comes from blocked passes over X; nothing n × n.
"""

from __future__ import annotations

from .compute import Inference, compute
from .null import null_deviance
from .options import CovOptions, check_alpha, check_options

__all__ = ["CovOptions", "Inference", "check_alpha", "check_options", "compute", "null_deviance"]
