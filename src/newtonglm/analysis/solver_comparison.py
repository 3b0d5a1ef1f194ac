"""Several solvers on one model: iterations, time, deviance and coefficients side by side."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..solvers import SOLVERS

__all__ = ["COMPARE_COLUMNS", "compare_solvers"]

#: The columns of :func:`compare_solvers`' result.
COMPARE_COLUMNS = (
    "solver",
    "n_iter",
    "seconds",
    "deviance",
    "deviance_gap",
    "max_coef_diff",
    "converged",
)


def compare_solvers(
    estimator: Any,
    X: Any,
    y: Any = None,
    solvers: Sequence[str] | None = None,
    **fit_params: Any,
) -> pd.DataFrame:
    """Fit the same model with several solvers and compare them.

    Parameters
    ----------
    estimator : GLM, LogisticRegression or PoissonRegression
        A (fitted or unfitted) estimator; it is cloned for every solver, so formula, family,
        link, tol and the other parameters are shared. ``max_iter`` is reset to each
        solver's own default unless it was set explicitly.
    X, y : data as for ``estimator.fit`` (with a formula: the DataFrame, and y None).
    solvers : sequence of str, optional
        Solver names; None means every registered solver.
    **fit_params
        Passed to ``fit`` (``sample_weight``, ``offset``).

    Returns
    -------
    pandas.DataFrame
        One row per solver with columns ``solver``, ``n_iter``, ``seconds``, ``deviance``,
        ``deviance_gap`` (to the best deviance), ``max_coef_diff`` (largest absolute
        coefficient difference to the Newton fit) and ``converged``. The fitted estimators
        are in ``result.attrs["models"]`` (solver name → estimator), for
        :func:`newtonglm.plot_convergence`.
    """
    names = list(SOLVERS) if solvers is None else list(solvers)
    models: dict[str, Any] = {}
    rows = []
    for name in dict.fromkeys(["newton", *names]):  # Newton first: it is the reference
        model = clone(estimator).set_params(solver=name)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-convergence is reported in the table
            model.fit(X, y, **fit_params)
        seconds = time.perf_counter() - start
        models[name] = model
        rows.append((name, model.n_iter_, seconds, model.deviance_, bool(model.converged_)))
    reference = models["newton"].inference_.coef
    best = min(r[3] for r in rows)
    frame = pd.DataFrame(
        [
            {
                "solver": name,
                "n_iter": n_iter,
                "seconds": seconds,
                "deviance": dev,
                "deviance_gap": dev - best,
                "max_coef_diff": float(np.nanmax(np.abs(models[name].inference_.coef - reference))),
                "converged": conv,
            }
            for name, n_iter, seconds, dev, conv in rows
            if name in names
        ],
        columns=list(COMPARE_COLUMNS),
    )
    frame.attrs["models"] = {k: v for k, v in models.items() if k in names}
    return frame
