"""The validated inputs of one fit: :class:`Design`, whatever the matrix type behind it.

Every layer above works on a Design: the engine reads its matrix, response, weights and
offset; inference reads its row sums (:attr:`Design.stats`) and names. Only ``validate.py``,
``formula.py`` (and the Dask inputs) make one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._typing import BoolArray, FloatArray
from .stats import DesignStats

__all__ = ["Design"]


@dataclass(frozen=True, slots=True)
class Design:
    """Validated inputs of one fit; every array has the same number of rows."""

    #: Design matrix: :class:`~newtonglm.design.matrix.DenseMatrix` (the user's float64
    #: array, not copied, the intercept column implicit when fitted), ``SparseMatrix``, or a
    #: distributed matrix; ``shape``, ``X @ coef``, ``take_columns`` and ``null_matrix`` work
    #: on each, ``X[rows]`` and ``np.asarray(X)`` on the in-memory ones.
    X: Any
    #: Response (for binomial: 0/1 or proportions).
    y: FloatArray
    #: Prior weights (ones when none were given).
    weights: FloatArray
    #: Offset added to the linear predictor, or None.
    offset: FloatArray | None
    #: Column names of X (term names).
    names: tuple[str, ...]
    #: Position of the intercept column in X, or None.
    intercept_index: int | None
    #: Name of the response, for messages.
    response_name: str
    #: Rows removed because of missing values (``missing='drop'``).
    n_dropped: int
    #: Which input rows were kept, shape (n_input_rows,); None when none was dropped.
    kept_rows: BoolArray | None = None
    #: False when :func:`~newtonglm.design.validate.finalize` left X's NaN/inf check to the
    #: fit (``check_x=False``), which then calls ``require_finite_x`` whenever its first full
    #: pass comes out non-finite.
    x_checked: bool = True

    @property
    def stats(self) -> DesignStats:
        """Row sums for the fit statistics (n_obs, Σ w, Σ w y, ...), from the matrix's kind."""
        stats: DesignStats = self.X.design_stats(self.y, self.weights, self.offset)
        return stats

    @property
    def n_obs(self) -> int:
        """Number of rows with a positive weight (R's ``nobs`` for a glm)."""
        return self.stats.n_obs

    def take_columns(self, kept: Sequence[int]) -> Design:
        """The design restricted to the columns ``kept`` (ascending; the non-aliased ones)."""
        kept = list(kept)
        if len(kept) == self.X.shape[1]:
            return self
        index = self.intercept_index
        return Design(
            X=self.X.take_columns(kept),
            y=self.y,
            weights=self.weights,
            offset=self.offset,
            names=tuple(self.names[j] for j in kept),
            intercept_index=kept.index(index) if index is not None and index in kept else None,
            response_name=self.response_name,
            n_dropped=self.n_dropped,
            kept_rows=self.kept_rows,
        )

    def select_rows(self, keep: BoolArray) -> Design:
        """The design on the rows where ``keep`` is true (``kept_rows`` follows them)."""
        kept = keep.copy() if self.kept_rows is None else self.kept_rows.copy()
        if self.kept_rows is not None:
            kept[kept] = keep
        return Design(
            X=self.X.select_rows(keep),
            y=self.y[keep],
            weights=self.weights[keep],
            offset=None if self.offset is None else self.offset[keep],
            names=self.names,
            intercept_index=self.intercept_index,
            response_name=self.response_name,
            n_dropped=self.n_dropped,
            kept_rows=kept,
        )

    def null(self) -> Design:
        """The null model's design: the same rows with the intercept alone, or no column."""
        intercept = self.intercept_index is not None
        return Design(
            X=self.X.null_matrix(intercept),
            y=self.y,
            weights=self.weights,
            offset=self.offset,
            names=("Intercept",) if intercept else (),
            intercept_index=0 if intercept else None,
            response_name=self.response_name,
            n_dropped=0,
        )
