"""The separation policy: when a fit checks that its MLE exists, and what it says if not.

:func:`check` runs the linear programmes of :mod:`.existence` for a binomial or Poisson fit
whose means touched the edge of their range or that did not converge, on designs it can afford
to materialise; it reports only the symptom for a distributed design and warns when the check
was skipped. :func:`message` words the finding: the columns, how many rows, where.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from .._typing import FloatArray
from ..design.base import Design
from ..design.matrix import SparseMatrix
from ..engine.objective import Evaluation
from ..exceptions import PerfectSeparationWarning, SeparationCheckWarning, warn
from ..families import Binomial, Family, Poisson
from .existence import Separation, binomial_separation, poisson_separation

__all__ = ["SEPARATION_MAX_CELLS", "check", "input_rows", "message"]

#: Largest n·d for which the separation check materialises a sparse design (160 MB).
SEPARATION_MAX_CELLS = 20_000_000


#: Information that fell below this fraction of its value at the start, in some direction, has
#: lost nearly all its rows' weight: the fingerprint of coefficients running off to infinity.
COLLAPSE = 1e-8


def collapsed(final: Evaluation, start_info: FloatArray | None) -> bool:
    """Whether the curvature collapsed in some direction between the start and the solution.

    True when the final information minus ``COLLAPSE`` times the start's is not positive
    definite: in some direction b, bᵀ H b < COLLAPSE · bᵀ H₀ b (the least generalised
    eigenvalue of the pair is below COLLAPSE). One Cholesky attempt, O(d³/3).
    """
    if start_info is None or final.hess is None or start_info.shape != final.hess.shape:
        return False
    if start_info.size == 0:
        return False
    if not np.isfinite(final.hess).all():
        return True
    diag = np.diag(start_info)
    if not (np.isfinite(start_info).all() and (diag > 0).all()):
        return False
    s = 1.0 / np.sqrt(diag)  # the same scaling of both keeps the test's rounding small
    shifted = (final.hess - COLLAPSE * start_info) * s[:, None] * s[None, :]
    _, info = lapack.dpotrf(shifted, lower=0, clean=0)
    return bool(info != 0)


def check(
    family: Family,
    design: Design,
    final: Evaluation,
    converged: bool,
    start_info: FloatArray | None = None,
) -> tuple[Separation | None, list[str]]:
    """The separating direction (None if there is none) and the notes to report.

    Runs for a binomial or Poisson fit whose fitted means reached the edge of their range
    (``final.n_boundary``), that did not converge, or whose information collapsed in some
    direction since the start (``start_info``: coefficients running off before any mean reached
    the edge, as a rare level's do); ``design`` is the design the solver fitted (kept columns).
    """
    if not isinstance(family, (Binomial, Poisson)):
        return None, []
    if not design.X.in_memory:
        if final.n_boundary == 0:
            return None, []
        # The check needs X in this process; for a distributed design only the symptom is
        # reported (and a non-convergence warning follows, if any).
        msg = (
            f"{final.n_boundary} fitted probabilities are numerically 0 or 1: the data may be "
            "(quasi-)completely separated (the separation check is not run on Dask inputs); "
            "look at the coefficients with large standard errors."
        )
        warn(msg, PerfectSeparationWarning)
        return None, [msg]
    if final.n_boundary == 0 and converged and not collapsed(final, start_info):
        return None, []
    X = design.X
    n, d = X.shape
    if isinstance(X, SparseMatrix) and n * d > SEPARATION_MAX_CELLS:
        msg = (
            f"the separation check was skipped: it needs the sparse design ({n} x {d}) as a "
            f"dense array of {n * d * 8 / 2**20:.0f} MiB. Fitted probabilities at 0 or 1 or a "
            "failure to converge may mean (quasi-)complete separation; check the columns with "
            "the largest standard errors."
        )
        warn(msg, SeparationCheckWarning)
        return None, [msg]
    find = binomial_separation if isinstance(family, Binomial) else poisson_separation
    found = find(np.asarray(X), design.y, design.weights, design.names, design.intercept_index)
    return found, []


def input_rows(design: Design, rows: np.ndarray) -> np.ndarray:
    """Positions in the user's input of the design's rows ``rows`` (after missing='drop')."""
    if design.kept_rows is None:
        return rows
    return np.flatnonzero(design.kept_rows)[rows]


def message(family: Family, found: Separation, design: Design) -> str:
    """What the warning says: the columns, how many rows run off to the edge, the remedy."""
    rows = input_rows(design, found.rows)
    shown = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
    if isinstance(family, Poisson):
        return (
            f"the Poisson maximum-likelihood estimate does not exist: {rows.size} rows with "
            f"count 0 (rows {shown}) can be fitted with mean 0 along column(s) "
            f"{list(found.columns)}, whose coefficients go to -inf; the reported coefficients "
            "and standard errors of those columns are meaningless. Pass separation='drop' to "
            "drop those rows and the coefficients only they identify (as pyfixest and "
            "ppmlhdfe do), or merge or remove the columns."
        )
    return (
        f"the data are (quasi-)completely separated by column(s) {list(found.columns)} "
        f"({rows.size} rows fitted at probability 0 or 1: rows {shown}): the maximum-likelihood "
        "estimate does not exist and the reported coefficients and standard errors are "
        "meaningless. Remove or merge those columns, or use penalised (Firth) regression."
    )
