"""A fit as a value: :class:`GLMFit`, everything ``fit_glm`` found, frozen.

The estimator copies its fitted attributes from a GLMFit and keeps it as ``result_``; post-fit
statistics (residuals, influence, robust covariances, model comparisons) are computed from it
without refitting, and a GLMFit can be tested, compared and passed on without an estimator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._typing import FloatArray
from ..design.base import Design
from ..engine.objective import Evaluation
from ..exceptions import DataRemovedError
from ..families import Family
from ..inference.compute import Inference
from ..solvers import IterationRecord, StopReason

__all__ = ["GLMFit", "NO_DATA_MESSAGE"]

#: What every per-row statistic says once the training data are gone.
NO_DATA_MESSAGE = (
    "{what} needs the training data, which this model no longer holds (it was unpickled "
    "from a model fitted with keep_data=False, the default, or remove_data() was called); "
    "refit, or fit with keep_data=True before pickling."
)


class _RemovedMatrix:
    """Stands in for a design matrix whose rows were removed: its shape, and nothing else."""

    __slots__ = ("shape", "in_memory")

    def __init__(self, shape: tuple[int, int], in_memory: bool) -> None:
        self.shape = shape
        self.in_memory = in_memory

    def __getattr__(self, name: str) -> object:
        raise DataRemovedError(NO_DATA_MESSAGE.format(what="this statistic"))

    def __getstate__(self) -> tuple[tuple[int, int], bool]:
        return self.shape, self.in_memory

    def __setstate__(self, state: tuple[tuple[int, int], bool]) -> None:
        self.shape, self.in_memory = state


@dataclass(frozen=True, slots=True)
class GLMFit:
    """The outcome of one fit: the solution, how it was reached, and its inference."""

    #: Family with its link.
    family: Family
    #: The validated design, every column (aliased ones included).
    design: Design
    #: Indices of the columns fitted (the non-aliased ones), ascending.
    kept: tuple[int, ...]
    #: The solver's evaluation at the solution on the kept columns (coefficients, deviance,
    #: score and Fisher information): what residuals, influence and sandwiches start from.
    final: Evaluation
    #: Coefficients over all columns (NaN for aliased ones), covariance and fit statistics.
    inference: Inference
    #: Cluster codes of the design's rows (``cov_type="cluster"``), or None.
    groups: np.ndarray | None
    #: The ``solver=`` name used.
    solver: str
    #: Whether the stopping rule was met (False as well when the data are separated).
    converged: bool
    #: Why the solver stopped.
    reason: StopReason
    #: Iterations taken.
    n_iter: int
    #: One record per iteration, row 0 the start.
    history: tuple[IterationRecord, ...]
    #: Passes over X the fit made (start, evaluations, rank check).
    n_passes: int
    #: Where the solver started: "mustart", "subsample" or "intercept".
    start: str
    #: Columns of a separating direction (binomial), or None.
    separation: tuple[str, ...] | None
    #: Notes for the summary (warnings raised, aliased columns).
    notes: tuple[str, ...]
    #: Empirical convergence order and linear rate of the score's max-norm.
    convergence_order: float
    convergence_rate: float
    #: Rows removed by ``separation="drop"`` (Poisson counts fitted at mean 0).
    n_separated: int = 0

    @property
    def coef(self) -> FloatArray:
        """Coefficients over all columns of the design (NaN for aliased ones)."""
        return self.inference.coef

    @property
    def fitted_design(self) -> Design:
        """The design on the fitted (non-aliased) columns, as ``final`` was evaluated on."""
        return self.design.take_columns(self.kept)

    @property
    def has_data(self) -> bool:
        """Whether the training rows are still held (per-row statistics need them)."""
        return not isinstance(self.design.X, _RemovedMatrix)

    def require_data(self, what: str) -> None:
        """Raise :class:`~newtonglm.exceptions.DataRemovedError` when the rows are gone."""
        if not self.has_data:
            raise DataRemovedError(NO_DATA_MESSAGE.format(what=what))

    def without_data(self) -> GLMFit:
        """The same fit without its training rows: what prediction and the summary need.

        The design keeps its names, intercept position, shape and drop count; the matrix,
        response, weights, offset, row mask, the solution's per-row working weights and the
        cluster codes go, so the fit's size no longer grows with the number of rows.
        """
        if not self.has_data:
            return self
        empty = np.empty(0)
        design = dataclasses.replace(
            self.design,
            X=_RemovedMatrix(tuple(self.design.X.shape), bool(self.design.X.in_memory)),
            y=empty,
            weights=empty,
            offset=None,
            kept_rows=None,
        )
        final = dataclasses.replace(self.final, work_weights=None)
        return dataclasses.replace(self, design=design, final=final, groups=None)

    def with_inference(self, inference: Inference, groups: np.ndarray | None) -> GLMFit:
        """The same fit with another covariance (``with_cov``), nothing refitted."""
        return dataclasses.replace(self, inference=inference, groups=groups)
