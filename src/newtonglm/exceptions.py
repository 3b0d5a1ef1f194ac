"""Every exception and warning newtonglm raises, in one place.

Errors about the user's input derive from :class:`InvalidInputError`, itself a ``ValueError``,
so ``except ValueError`` keeps working; each message names the column, the count and the fix.
Warnings derive from ``RuntimeWarning`` (and scikit-learn's ``ConvergenceWarning`` where that
is the established name); :func:`warn` issues them at the user's line, however deep inside
the package the condition was found.
"""

from __future__ import annotations

import os
import sys
import warnings

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = [
    "BoundaryWarning",
    "ConvergenceWarning",
    "CovarianceWarning",
    "DataRemovedError",
    "DataWarning",
    "EmptyDataError",
    "FormulaError",
    "HypothesisError",
    "InvalidGroupsError",
    "InvalidInputError",
    "InvalidParameterError",
    "InvalidResponseError",
    "InvalidWeightsError",
    "MissingValueError",
    "NewtonGLMError",
    "NonNestedModelsError",
    "PerfectSeparationWarning",
    "PerformanceWarning",
    "PoissonSeparationWarning",
    "RankDeficientError",
    "RankDeficientWarning",
    "SeparationCheckWarning",
    "ShapeMismatchError",
    "UnseenLevelError",
    "warn",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first calling frame outside newtonglm.

    A fixed ``stacklevel`` points at whichever package function happened to call the helper
    that found the problem; this points at the user's ``fit(...)`` (or scikit-learn's call of
    it), as a warning should.
    """
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


class NewtonGLMError(Exception):
    """Base class of every exception newtonglm raises on purpose."""


class InvalidInputError(NewtonGLMError, ValueError):
    """The data or the arguments cannot be fitted as given."""


class InvalidParameterError(InvalidInputError):
    """A constructor parameter has a value newtonglm does not accept."""


class MissingValueError(InvalidInputError):
    """NaN or infinite values in X, y, sample weights or offset (with ``missing='raise'``)."""


class InvalidResponseError(InvalidInputError):
    """The response is outside the family's range (e.g. negative counts, y > 1 for binomial)."""


class InvalidWeightsError(InvalidInputError):
    """Sample weights are negative, or all zero."""


class ShapeMismatchError(InvalidInputError):
    """X, y, sample weights and offset do not have the same number of rows."""


class EmptyDataError(InvalidInputError):
    """No rows (or no rows left after dropping missing values)."""


class FormulaError(InvalidInputError):
    """The formula cannot be evaluated on the data (e.g. it names a missing column)."""


class UnseenLevelError(InvalidInputError):
    """New data holds a categorical level the model was not fitted on."""


class RankDeficientError(InvalidInputError):
    """The design matrix has linearly dependent (aliased) columns."""


class DataRemovedError(NewtonGLMError, ValueError):
    """A per-row statistic was asked of a model whose training data were not kept."""


class InvalidGroupsError(InvalidInputError):
    """Cluster labels for ``cov_type='cluster'`` are missing, misaligned or too few."""


class HypothesisError(InvalidInputError):
    """A Wald hypothesis cannot be parsed, names unknown terms, or is redundant."""


class NonNestedModelsError(InvalidInputError):
    """Models passed to a likelihood-ratio test or ``anova`` are not nested on the same data."""


class ConvergenceWarning(_SklearnConvergenceWarning, RuntimeWarning):
    """The solver stopped before its convergence criterion was met."""


class PerfectSeparationWarning(RuntimeWarning):
    """A binomial fit is (quasi-)completely separated: some MLE coefficients are infinite."""


class PoissonSeparationWarning(PerfectSeparationWarning):
    """The Poisson MLE does not exist: counts of 0 that some columns fit at mean 0."""


class RankDeficientWarning(RuntimeWarning):
    """Aliased columns were dropped from the fit (``on_rank_deficient='drop'``)."""


class SeparationCheckWarning(RuntimeWarning):
    """The check for (quasi-)complete separation could not run (e.g. too large a design)."""


class BoundaryWarning(RuntimeWarning):
    """Fitted probabilities at the solution are numerically 0 or 1 (R's glm warns so too)."""


class CovarianceWarning(RuntimeWarning):
    """The covariance of the coefficients could not be computed (standard errors are NaN)."""


class DataWarning(RuntimeWarning):
    """The data are accepted but something about them changes what the results mean."""


class PerformanceWarning(RuntimeWarning):
    """The results are right but slower than they should be (the compiled kernel is missing)."""
