"""The engine: every pass over the design matrix, and the objective the solvers minimise.

``registry`` defines the one :class:`Executor` interface and finds a matrix's executor by its
type; ``dense`` and ``sparse`` are the in-memory executors, built from ``accumulate`` (one
pass's sums, block by block, through the compiled kernel ``newtonglm._gram`` where it applies)
and ``blocks`` (row blocks, exact sums, the streamed QR). ``objective`` turns passes into
:class:`Evaluation` values of half the deviance; ``linalg`` is the d × d algebra of a step
(normal equations, inverses, the rank check).
"""

from __future__ import annotations

from .accumulate import PassSums
from .objective import Evaluation, GLMObjective
from .registry import Executor, executor_for, register

__all__ = ["Evaluation", "Executor", "GLMObjective", "PassSums", "executor_for", "register"]
