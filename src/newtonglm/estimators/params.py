"""The estimators' parameters, checked when ``fit`` starts (``__init__`` only stores them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InvalidGroupsError, InvalidParameterError
from ..fitting import FitOptions
from ..inference import CovOptions, check_options
from ..solvers import SOLVERS, IterationRecord
from ..solvers.base import IterationCallback

__all__ = ["check_params", "cov_options", "fit_options"]


def check_params(est: Any) -> None:
    """Raise :class:`InvalidParameterError` naming the first parameter that is not accepted."""
    if est.solver not in SOLVERS:
        raise InvalidParameterError(
            f"solver={est.solver!r} is not a known solver; use one of {sorted(SOLVERS)}."
        )
    if not (isinstance(est.tol, (int, float)) and est.tol > 0):
        raise InvalidParameterError(f"tol must be a positive number; got {est.tol!r}.")
    if est.max_iter is not None and not (
        isinstance(est.max_iter, (int, np.integer)) and est.max_iter >= 1
    ):
        raise InvalidParameterError(
            f"max_iter must be a positive integer or None; got {est.max_iter!r}."
        )
    if not (isinstance(est.learning_rate, (int, float)) and est.learning_rate > 0):
        raise InvalidParameterError(
            f"learning_rate must be a positive number; got {est.learning_rate!r}."
        )
    for name, allowed in (
        ("missing", ("raise", "drop")),
        ("on_rank_deficient", ("raise", "drop")),
    ):
        value = getattr(est, name)
        if value not in allowed:
            raise InvalidParameterError(
                f"{name}={value!r} is not accepted; use one of {list(allowed)}."
            )
    separation = getattr(est, "separation", "warn")
    if separation not in ("warn", "drop"):
        raise InvalidParameterError(
            f"separation={separation!r} is not accepted; use one of ['warn', 'drop']."
        )
    if separation == "drop" and getattr(est, "family", "poisson") != "poisson":
        raise InvalidParameterError(
            "separation='drop' applies to Poisson fits (counts of 0 fitted at mean 0); for a "
            f"separated {est.family} fit use separation='warn' and remove or merge the columns."
        )
    if not (isinstance(est.sparse, bool) or est.sparse == "auto"):
        raise InvalidParameterError(
            f"sparse={est.sparse!r} is not accepted; use 'auto', True or False."
        )
    if est.formula is not None and not isinstance(est.formula, str):
        raise InvalidParameterError(
            f"formula must be a string such as 'y ~ x + C(g)'; got {type(est.formula).__name__}."
        )
    check_options(est.cov_type, est.scale, est.information)


def cov_options(est: Any, cov_type: str, codes: np.ndarray | None) -> CovOptions:
    """The covariance options of ``est`` with ``cov_type`` and the cluster codes."""
    if cov_type == "cluster" and codes is None:
        raise InvalidGroupsError(
            "cov_type='cluster' needs cluster labels: pass groups= (one label per row)."
        )
    if cov_type != "cluster" and codes is not None:
        raise InvalidParameterError(
            f"groups= is used only with cov_type='cluster'; got cov_type={cov_type!r}."
        )
    return CovOptions(cov_type=cov_type, scale=est.scale, information=est.information, groups=codes)


def fit_options(est: Any, cov: CovOptions) -> FitOptions:
    """The :class:`~newtonglm.fitting.FitOptions` of ``est``'s parameters."""
    return FitOptions(
        solver=est.solver,
        learning_rate=float(est.learning_rate),
        tol=float(est.tol),
        max_iter=est.max_iter,
        on_rank_deficient=est.on_rank_deficient,
        separation=getattr(est, "separation", "warn"),
        cov=cov,
        callback=_progress(est.verbose),
    )


def _progress(verbose: Any) -> IterationCallback | None:
    """One line per iteration on standard error when ``verbose`` is positive."""
    if not verbose:
        return None
    import sys

    def report(rec: IterationRecord) -> None:
        sys.stderr.write(
            f"[newtonglm] iter {rec.iteration:3d}  deviance {rec.deviance:.10g}  "
            f"|grad|max {rec.grad_norm:.3e}  step {rec.step_size:g}\n"
        )

    return report
