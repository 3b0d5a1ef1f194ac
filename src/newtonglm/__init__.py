"""newtonglm: generalized linear models by Newton's method / IRLS, with exact inference.

>>> from newtonglm import PoissonRegression, datasets
>>> df = datasets.load("insurance")
>>> model = PoissonRegression(formula="claims ~ C(district) + group + age")
>>> model.fit(df, offset=np.log(df["holders"]))  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import datasets
from .analysis.compare import anova, lr_test
from .analysis.plotting import plot_convergence, plot_diagnostics  # matplotlib only when called
from .analysis.solver_comparison import compare_solvers
from .analysis.versions import show_versions
from .estimators import GLM, LogisticRegression, PoissonRegression
from .exceptions import ConvergenceWarning, PerfectSeparationWarning
from .families import (
    Binomial,
    CLogLogLink,
    Gaussian,
    IdentityLink,
    LogitLink,
    LogLink,
    Poisson,
    ProbitLink,
)
from .inference.wald import HypothesisTestResult

try:
    __version__ = version("newtonglm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "GLM",
    "Binomial",
    "CLogLogLink",
    "ConvergenceWarning",
    "Gaussian",
    "HypothesisTestResult",
    "IdentityLink",
    "LogLink",
    "LogisticRegression",
    "LogitLink",
    "PerfectSeparationWarning",
    "Poisson",
    "PoissonRegression",
    "ProbitLink",
    "__version__",
    "anova",
    "compare_solvers",
    "datasets",
    "lr_test",
    "plot_convergence",
    "plot_diagnostics",
    "show_versions",
]
