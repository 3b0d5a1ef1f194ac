"""One executor interface for every pass over X, looked up by the type of the matrix.

A fit needs, per step, only sums over rows. :class:`Executor` names the passes every matrix type
must run — the deviance / score / Fisher information pass, the Fisher-information-vector
product, weighted least-squares sums, R's starting sums and the R factor for the rank check —
and :func:`executor_for` finds the executor of a matrix by its type. The objective and the
solvers call only these; they never import an executor module.

The in-memory executors (``dense``, ``sparse``) are registered here; another backend registers
its matrix type when it is imported (``newtonglm.dask`` does, on the first Dask input), so a
new executor is one module and one :func:`register` call.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._typing import FloatArray
from ..design.matrix import DenseMatrix, SparseMatrix
from ..families import Family
from .accumulate import PassSums
from .dense import DenseExecutor
from .sparse import SparseExecutor

__all__ = ["Executor", "executor_for", "register"]


class Executor(Protocol):
    """The passes over a design matrix that a fit makes (``X`` is the executor's matrix type).

    ``y``, ``weights`` and ``offset`` are the design's (an executor whose rows carry them, as
    Dask's chunks do, may ignore them); ``coef`` includes the intercept when X has one.
    """

    def pass_sums(
        self,
        X: Any,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
        *,
        score: bool = True,
        fisher: bool = True,
        keep_weights: bool = False,
        sqrt_weights: FloatArray | None = None,
        unit_weights: bool = False,
        observed: bool = False,
    ) -> PassSums:
        """Deviance, Pearson χ² and optionally score and Fisher information at ``coef``.

        ``keep_weights`` asks for the working weights as an opaque handle
        (``PassSums.work_weights``) that :meth:`hessp` accepts; ``sqrt_weights`` (√w) and
        ``unit_weights`` (every w is 1) are shortcuts an executor may use or ignore.
        ``observed`` asks for the observed information instead of Fisher's, for families
        whose rows are in log space (``Family.log_space``; otherwise it is ignored).
        """
        ...

    def hessp(self, X: Any, work_weights: Any, v: FloatArray) -> FloatArray:
        """Xᵀ W X v for a vector (d,) or matrix (d, k) ``v``, W from a ``keep_weights`` pass."""
        ...

    def wls_sums(
        self, X: Any, work_weights: FloatArray, z: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Weighted least-squares normal equations (Xᵀ W X, Xᵀ W z)."""
        ...

    def start_sums(
        self,
        X: Any,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        family: Family,
    ) -> tuple[FloatArray, FloatArray]:
        """R's first IRLS iteration: (Xᵀ W X, Xᵀ W z) at ``mu0 = family.starting_mu(y)``."""
        ...

    def score_magnitude(
        self,
        X: Any,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
    ) -> FloatArray:
        """Σ_i |x_ij s_i| per coefficient: the size of the terms the score sums (its rounding)."""
        ...

    def information_r_factor(
        self,
        X: Any,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
        *,
        observed: bool = False,
    ) -> FloatArray:
        """R of a QR of √W·X at ``coef`` (RᵀR = the information, with X's conditioning)."""
        ...

    def r_factor(self, X: Any, weights: FloatArray) -> tuple[FloatArray, int]:
        """R of a QR of the rows with positive weight (the rank check), and their number."""
        ...


_EXECUTORS: dict[type, Executor] = {
    DenseMatrix: DenseExecutor(),
    SparseMatrix: SparseExecutor(),
}


def register(matrix_type: type, executor: Executor) -> None:
    """Let ``executor`` run the passes over every matrix of ``matrix_type``."""
    _EXECUTORS[matrix_type] = executor


def executor_for(X: object) -> Executor:
    """The executor registered for the type of ``X`` (or the nearest of its base classes)."""
    for cls in type(X).__mro__:
        executor = _EXECUTORS.get(cls)
        if executor is not None:
            return executor
    raise TypeError(
        f"no executor runs passes over a {type(X).__name__}; wrap arrays with "
        "newtonglm.design.as_matrix, or import the backend that registers this matrix type."
    )
