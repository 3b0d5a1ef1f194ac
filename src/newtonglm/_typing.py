"""Type aliases shared across the package."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
SolverName = Literal[
    "newton", "newton-damped", "trust-region", "newton-cg", "lbfgs", "gd", "gd-optimal"
]
FamilyName = Literal["binomial", "poisson", "gaussian"]
LinkName = Literal["logit", "probit", "cloglog", "log", "identity"]
MissingPolicy = Literal["raise", "drop"]
RankPolicy = Literal["raise", "drop"]
#: Covariance of the coefficients (``cov_type=``); definitions in :mod:`newtonglm.inference.robust`.
CovType = Literal["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"]
#: Information matrix inverted for the covariance (``information=``).
Information = Literal["expected", "observed"]
