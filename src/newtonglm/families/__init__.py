"""The maths of the response: links and exponential families. Never sees the design matrix.

A link maps the mean to the linear predictor (``η = g(μ)``) with its derivatives; a family owns
its link and gives the variance, unit deviance, log-likelihood, starting means and the checks
of the response, row by row. Everything above works through these two small frozen objects.
"""

from __future__ import annotations

from .families import Binomial, Family, Gaussian, Poisson, get_family
from .links import (
    CLogLogLink,
    IdentityLink,
    Link,
    LogitLink,
    LogLink,
    ProbabilityLink,
    ProbitLink,
    get_link,
)

__all__ = [
    "Binomial",
    "CLogLogLink",
    "Family",
    "Gaussian",
    "IdentityLink",
    "Link",
    "LogLink",
    "LogitLink",
    "Poisson",
    "ProbabilityLink",
    "ProbitLink",
    "get_family",
    "get_link",
]
