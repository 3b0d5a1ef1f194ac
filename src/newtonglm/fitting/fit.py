"""One fit, start to finish: :func:`fit_glm` turns a family and a design into a :class:`GLMFit`.

Order of calls: :func:`~.start.prepare` (choose the start; the rank check on the way) →
the solver's ``solve`` under one :class:`~newtonglm.solvers.StopRule` → the separation policy
(:func:`~.separation.check`) → a warning with its remedy when the fit is not a converged MLE →
the null deviance → :func:`newtonglm.inference.compute` → the frozen result. No estimator, no
DataFrame: the estimator builds the design and copies its attributes from the result.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..design.base import Design
from ..design.matrix import linear_predictor
from ..engine import gram
from ..engine.objective import Evaluation
from ..exceptions import (
    BoundaryWarning,
    ConvergenceWarning,
    CovarianceWarning,
    PerfectSeparationWarning,
    PoissonSeparationWarning,
    RankDeficientWarning,
    warn,
)
from ..families import Binomial, Family, Poisson
from ..inference import CovOptions, Inference, compute, null_deviance
from ..solvers import SolverResult, StopReason, StopRule, get_solver
from ..solvers.base import IterationCallback
from ..solvers.history import convergence_order, convergence_rate
from . import separation
from .result import GLMFit
from .start import Start, prepare

__all__ = ["FitOptions", "fit_glm", "refit_inference"]


@dataclass(frozen=True, slots=True)
class FitOptions:
    """How to fit: the solver and its stopping rule, the rank policy and the covariance."""

    #: ``solver=`` name (see ``newtonglm.solvers.SOLVERS``).
    solver: str = "newton"
    #: Fixed step of ``solver="gd"`` (ignored by the other solvers).
    learning_rate: float = 0.1
    #: Tolerance of the stopping rule (also the null model's).
    tol: float = 1e-8
    #: Iteration limit; None is the solver's own default.
    max_iter: int | None = None
    #: ``on_rank_deficient``: "raise" or "drop".
    on_rank_deficient: str = "raise"
    #: Covariance type, dispersion, information and cluster codes.
    cov: CovOptions = field(default_factory=CovOptions)
    #: Called with every iteration's record (``verbose=``).
    callback: IterationCallback | None = None
    #: When the Poisson MLE does not exist: "warn", or "drop" the rows whose means run off to 0
    #: and the coefficients only they identify, and fit the rest.
    separation: str = "warn"


#: separation="drop" removes separated rows and looks again at most this many times.
MAX_DROPS = 5


def _solve(family: Family, design: Design, opts: FitOptions) -> tuple[Start, SolverResult]:
    """Start, solve, and the evaluation at the solution that inference starts from."""
    begun = prepare(family, design, solver=opts.solver, on_rank_deficient=opts.on_rank_deficient)
    solver = get_solver(opts.solver, learning_rate=float(opts.learning_rate))
    max_iter = solver.default_max_iter if opts.max_iter is None else int(opts.max_iter)
    stop = StopRule(tol=float(opts.tol), max_iter=max_iter)
    objective = begun.objective
    result = solver.solve(objective, begun.coef, stop, opts.callback)
    final = result.final
    if not final.hess_exact or (final.information != "expected" and objective.observed_differs):
        # Inference starts from Fisher's information at the solution: a subsample start's
        # estimate (no step taken) or the observed information Newton stepped with is not it.
        result = dataclasses.replace(result, final=objective.evaluate(result.coef))
    return begun, result


def _without_rows(design: Design, opts: FitOptions, rows: np.ndarray) -> tuple[Design, FitOptions]:
    """The design and options without ``rows`` (cluster codes recoded for the rows left)."""
    keep = np.ones(design.X.shape[0], dtype=bool)
    keep[rows] = False
    groups = opts.cov.groups
    if groups is not None:
        groups = np.unique(groups[keep], return_inverse=True)[1].astype(np.intp)
    cov = dataclasses.replace(opts.cov, groups=groups)
    return design.select_rows(keep), dataclasses.replace(opts, on_rank_deficient="drop", cov=cov)


def fit_glm(family: Family, design: Design, options: FitOptions | None = None) -> GLMFit:
    """Fit the GLM ``family`` to ``design`` by maximum likelihood.

    Parameters
    ----------
    family : Family
        Family with its link.
    design : Design
        The validated design (response checked against the family by the caller).
    options : FitOptions, optional
        Solver, tolerance, rank policy, separation policy and covariance; the defaults are the
        estimators'.

    Returns
    -------
    GLMFit
        Frozen; warnings (non-convergence, separation, aliased columns) were issued and are
        also kept in ``notes``.
    """
    opts = FitOptions() if options is None else options
    if design.X.in_memory:
        gram.warn_if_fallback()
    n_separated, passes = 0, 0
    notes: list[str] = []
    for _ in range(MAX_DROPS):
        begun, result = _solve(family, design, opts)
        found, notes = separation.check(
            family, begun.design, result.final, result.converged, begun.start_info
        )
        if not (found is not None and opts.separation == "drop" and isinstance(family, Poisson)):
            break
        # pyfixest's remedy: the rows whose means run off to 0, and the coefficients only they
        # identify (aliased once they are gone), leave the fit.
        passes += begun.passes + begun.objective.n_passes
        where = separation.input_rows(design, found.rows)
        n_separated += found.rows.size
        design, opts = _without_rows(design, opts, found.rows)
        shown = ", ".join(str(int(r)) for r in where[:5]) + (", ..." if where.size > 5 else "")
        dropped_note = (
            f"separation='drop' dropped {found.rows.size} rows with count 0 that columns "
            f"{list(found.columns)} fit at mean 0 (rows {shown}); coefficients only they "
            "identified are NaN."
        )
        warn(dropped_note, PoissonSeparationWarning)
        with warnings.catch_warnings():  # the drop of those columns is the note above
            warnings.simplefilter("ignore", RankDeficientWarning)
            begun, result = _solve(family, design, opts)
        found, notes = separation.check(
            family, begun.design, result.final, result.converged, begun.start_info
        )
        notes.insert(0, dropped_note)
        if found is None:
            break
    converged = result.converged
    if found is not None:
        # The root cause of any convergence trouble: say that, not "increase max_iter".
        converged = False
        msg = separation.message(family, found, begun.design)
        warn(
            msg,
            PoissonSeparationWarning if isinstance(family, Poisson) else PerfectSeparationWarning,
        )
        notes.append(msg)
    elif not converged:
        warn(
            f"{opts.solver} solver did not converge: {result.reason.value} after "
            f"{result.n_iter} iterations (tol={opts.tol:g}). {_advice(result.reason)}",
            ConvergenceWarning,
        )
        notes.append(f"did not converge ({result.reason.value}).")
    elif result.final.n_boundary and design.X.in_memory and isinstance(family, Binomial):
        notes.append(_boundary_warning(begun.design, result.final))
    # The null model is always fitted by Newton to the same tol, whatever solver and max_iter.
    null_dev = null_deviance(family, design, StopRule(tol=float(opts.tol)))
    inference = compute(family, design, result.final, begun.kept, null_dev, opts.cov)
    if converged and not np.isfinite(inference.std_err[list(begun.kept)]).all():
        notes.append(_covariance_warning(inference, begun.kept, design.names))
    if len(begun.kept) < design.X.shape[1]:
        kept = set(begun.kept)
        dropped = [name for j, name in enumerate(design.names) if j not in kept]
        notes.append(f"aliased column(s) {dropped} dropped; their coefficients are NaN.")
    # Order and rate from the score's max-norm, the error proxy every solver records.
    grad_norms = [rec.grad_norm for rec in result.history]
    return GLMFit(
        family=family,
        design=design,
        kept=begun.kept,
        final=result.final,
        inference=inference,
        groups=opts.cov.groups,
        solver=opts.solver,
        converged=converged,
        reason=result.reason,
        n_iter=result.n_iter,
        history=result.history,
        n_passes=passes + begun.passes + begun.objective.n_passes,
        start=begun.kind,
        separation=None if found is None else found.columns,
        notes=tuple(notes),
        convergence_order=convergence_order(grad_norms),
        convergence_rate=convergence_rate(grad_norms),
        n_separated=n_separated,
    )


def refit_inference(fit: GLMFit, cov: CovOptions) -> GLMFit:
    """``fit`` with its covariance recomputed under ``cov`` (nothing refitted)."""
    inference = compute(
        fit.family, fit.design, fit.final, fit.kept, fit.inference.null_deviance, cov
    )
    return fit.with_inference(inference, cov.groups)


def _boundary_warning(design: Design, final: Evaluation) -> str:
    """Warn that fitted probabilities at the solution are numerically 0 or 1 (R's warning)."""
    eta = linear_predictor(design.X, final.coef, design.offset)
    positive = design.weights > 0
    largest = float(np.max(np.abs(eta[positive]))) if positive.any() else float("nan")
    msg = (
        f"{final.n_boundary} fitted probabilities are numerically 0 or 1 (largest |eta| = "
        f"{largest:.3g}): the estimate is the maximum-likelihood one, but those rows are fitted "
        "at the edge of the range; look for near-separation in the columns with the largest "
        "coefficients."
    )
    warn(msg, BoundaryWarning)
    return msg


def _covariance_warning(inference: Inference, kept: Sequence[int], names: Sequence[str]) -> str:
    """Warn that the covariance could not be computed at a converged fit, naming the terms."""
    bad = [names[j] for j in kept if not np.isfinite(inference.std_err[j])]
    if not np.isfinite(inference.scale):
        msg = (
            f"the dispersion cannot be estimated from {inference.df_resid} residual degrees of "
            f"freedom, so the standard errors of {bad[:10]} are NaN; pass a number as scale= to "
            "fix it, or fit more rows than coefficients."
        )
        warn(msg, CovarianceWarning)
        return msg
    msg = (
        f"the covariance of the coefficients could not be computed: the information matrix at "
        f"the solution is not positive definite, so the standard errors of {bad[:10]} are NaN. "
        "The design is (nearly) rank deficient where the fitted weights are not negligible; "
        "remove or merge those columns."
    )
    warn(msg, CovarianceWarning)
    return msg


def _advice(reason: StopReason) -> str:
    """What to try after a solver stopped for ``reason``."""
    if reason is StopReason.UNCERTIFIED:
        return (
            "The estimate is not within sqrt(tol) standard errors of the optimum; use a "
            "Newton-type solver ('newton', the default, certifies the optimum) or a smaller tol."
        )
    if reason in (StopReason.DIVERGED, StopReason.NON_FINITE):
        return (
            "Use a smaller learning_rate (solver='gd'), or a solver that adapts its step "
            "('newton', 'gd-optimal', 'lbfgs'); check the data for extreme values."
        )
    return (
        "Increase max_iter, loosen tol, or try another solver; check the data for extreme values."
    )
