"""Starting values: an IRLS fit on a subsample (large data); Poisson's intercept-only estimate.

R's start (``mustart``, one weighted least-squares pass over X) lands a few Newton steps away
from the maximum-likelihood estimate, and every step costs a pass over all of X. On a large
design the same start computed on a spread-out subsample of ``m`` rows — fitted to convergence
there, at ``m / n`` of the cost per pass — is within sampling error of the full estimate, so the
full-data solver needs fewer passes: at 1,000,000 x 20, a logistic fit makes 4 passes over X
instead of 5 and a Poisson fit 4 instead of 6.

The subsample only chooses where the solver starts; the solver, its stopping rule and every
reported number come from the full data. Whenever the subsample could mislead (it is not
clearly full rank, its fit fails or touches the edge of the mean's range, as under separation),
:func:`subsample_start` returns None and the fit uses R's start.

Below the subsample's size a Poisson fit with an intercept by Newton's method starts from the
intercept-only estimate, ``log(Σ w y / Σ w e^offset)`` in closed form: the solver's first
evaluation is then the only pass before the first Newton step, where R's start needs its own
pass and lands no closer for the log link (:func:`intercept_start`).

:func:`prepare` is the policy: it picks the start, runs the rank check on the way (with the
start's Fisher information, or R's start's normal equations) and hands the solver its objective
on the kept columns, primed with the start's evaluation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._typing import FloatArray
from ..design.base import Design
from ..design.matrix import DenseMatrix
from ..design.validate import require_finite_x
from ..engine import linalg
from ..engine.objective import Evaluation, GLMObjective
from ..families import Family, LogLink, Poisson
from ..solvers import NewtonSolver, StopRule
from .aliasing import kept_columns

__all__ = [
    "CURVATURE_MIN_COLS",
    "MAX_SAMPLE_ROWS",
    "MIN_ROWS_PER_SAMPLED",
    "SAMPLE_ROWS",
    "Start",
    "intercept_start",
    "prepare",
    "subsample_rows",
    "subsample_start",
]

#: Rows in the subsample: a tenth of the data (``MIN_ROWS_PER_SAMPLED``), at least this many
#: (and 50 per coefficient for very wide designs) and at most ``MAX_SAMPLE_ROWS``. 20,000
#: rather than 50,000 lets 200,000-row data take the start: at 200,000 x 200 (100 rows per
#: coefficient in the subsample) logistic 5 -> 4 passes (0.70 -> 0.64 s), Poisson 6 -> 4
#: (0.91 -> 0.69 s).
SAMPLE_ROWS = 20_000
#: Largest subsample. The start's error shrinks as 1/√m; the deviance change after two Newton
#: steps from it, as 1/m², passes R's test at tol 1e-8 once m is of order 1e5 whatever n is.
#: Measured at 1,000,000 x 20: Poisson 3 -> 2 iterations (200 -> 160 ms) with 100,000 rows
#: instead of 50,000; logistic 2 iterations either way (158 vs 160-169 ms).
MAX_SAMPLE_ROWS = 100_000
#: The subsample is used only when the data have this many times its rows: below that its
#: passes are too large a fraction of a full pass to pay off (measured at 200,000 x 200: a
#: subsample of 40,000 rows gained half as much as one of 20,000).
MIN_ROWS_PER_SAMPLED = 10
#: The subsample is taken as this many evenly spaced runs of consecutive rows (contiguous reads,
#: and no bias from data sorted by time or group beyond what 64 strata keep).
N_RUNS = 64
#: The subsample fit only needs to get within its sampling error of the full estimate: a
#: relative deviance change of 1e-5 on 100,000 rows is a coefficient step of about 1/√(n I),
#: that error. From 1e-6: Poisson 4 -> 3 subsample iterations at 1,000,000 x 20 and at
#: 200,000 x 200, the full-data iterations unchanged (logistic 2 either way; 1e-3 would save
#: one more there but stops a step short of the sampling error).
SAMPLE_TOL = 1e-5
SAMPLE_MAX_ITER = 25


def subsample_rows(n_rows: int, n_coef: int) -> np.ndarray | None:
    """Boolean mask of the rows in the subsample, or None when the data are too small for one."""
    m = max(SAMPLE_ROWS, 50 * n_coef)
    if n_rows < MIN_ROWS_PER_SAMPLED * m:
        return None
    m = max(m, min(MAX_SAMPLE_ROWS, n_rows // MIN_ROWS_PER_SAMPLED))
    run = -(-m // N_RUNS)
    starts = np.linspace(0, n_rows - run, N_RUNS).astype(np.int64)
    mask = np.zeros(n_rows, dtype=bool)
    for s in starts:
        mask[s : s + run] = True
    return mask


#: Newton's first step takes the subsample's curvature (no Gram in the full pass at the start)
#: from this many coefficients. Wide, the Gram is most of a pass; narrow, it is not, and the
#: cruder first step more often costs an iteration. Measured on 6 seeds of data like the
#: benchmark's (mean fit times): 200,000 x 200 Poisson 3 iterations in every seed either way,
#: 0.65 -> 0.54 s; logistic 3 iterations -> 3 in half the seeds (0.67 -> 0.53 s) and 4 in the
#: others (0.69 -> 0.67 s); 400,000 x 64: 3 iterations either way, 0.25 -> 0.19 s (logistic),
#: 0.27 -> 0.21 s (Poisson); 1,000,000 x 20: 2 -> 3 iterations in 11 of the 12 fits. Dense
#: designs only: a sparse one-hot Gram is cheap beside the read (the benchmark's sparse
#: logistic case, 1,000,000 x 1,005, took an iteration more: 0.99 -> 1.11 s).
CURVATURE_MIN_COLS = 64


def subsample_start(
    family: Family, design: Design, objective: GLMObjective, *, newton: bool = False
) -> Evaluation | None:
    """Fit the model on a subsample and evaluate the full objective there (one pass over X).

    Returns the full-data :class:`~newtonglm.engine.objective.Evaluation` at the subsample's
    estimate (deviance, score and Fisher information, counted in ``objective.n_passes``), or
    None when the design is small or not in memory, or the subsample fit is not trustworthy.

    For Newton's method on a dense design of at least ``CURVATURE_MIN_COLS`` columns, the full
    pass leaves out the Fisher information, the costly part of a pass on a wide design (the
    deviance and score need a single read of X), and the evaluation carries the subsample's
    Fisher information at the same coefficients, scaled by the ratio of total weights
    (``hess_exact=False``): the first Newton step takes the curvature estimated on m rows,
    accurate to about √(d / m) where the start is within sampling error of the estimate, so
    it lands nearly where the exact step would. Every later step, the convergence test and
    everything reported use the full Fisher information at their own point.
    """
    X = design.X
    if not X.in_memory:
        return None
    mask = subsample_rows(X.shape[0], X.shape[1])
    if mask is None:
        return None
    sub = dataclasses.replace(
        design,
        X=X.select_rows(mask),
        y=design.y[mask],
        weights=design.weights[mask],
        offset=None if design.offset is None else design.offset[mask],
        kept_rows=None,
    )
    sub_objective = GLMObjective(family, sub)
    gram, rhs = sub_objective.initial_wls()
    if not linalg.clearly_full_rank(gram):
        return None  # e.g. a rare level absent from the subsample
    result = NewtonSolver().solve(
        sub_objective,
        linalg.solve_normal_equations(gram, rhs),
        StopRule(tol=SAMPLE_TOL, max_iter=SAMPLE_MAX_ITER),
    )
    if not result.converged or result.final.n_boundary > 0 or not np.isfinite(result.coef).all():
        return None
    sub_weight = sub_objective.total_weight
    del sub, sub_objective  # release the subsample's copy of X before the full passes
    # Newton steps with the observed information (the exact Hessian): its start is evaluated
    # with it, so that the solver's first evaluation is this one.
    information = "observed" if newton else "expected"
    if not (newton and isinstance(X, DenseMatrix) and X.shape[1] >= CURVATURE_MIN_COLS):
        return objective.evaluate(result.coef, information=information)
    full = objective.evaluate(result.coef, hess=False)
    assert result.final.hess is not None
    scale = objective.total_weight / sub_weight
    return dataclasses.replace(
        full,
        hess=scale * result.final.hess,
        hess_exact=False,
        information=result.final.information,
    )


def intercept_start(family: Family, design: Design, objective: GLMObjective) -> Evaluation | None:
    """Poisson (log link) with an intercept: the full objective at the intercept-only estimate.

    The intercept-only maximum-likelihood estimate has a closed form, log(Σ w y / Σ w e^offset)
    (other coefficients 0), so the first pass over X is already the solver's first evaluation
    (deviance, score, Fisher information; counted in ``objective.n_passes``). Measured on the
    benchmark's Poisson data, 10,000 x 10 and 100,000 x 20: 4 Newton iterations from either
    start, 5 passes instead of 6. The binomial family keeps R's start: from its intercept-only
    estimate a logistic fit needed more iterations (10,000 x 10: 2 -> 4, 4 -> 5 passes). A Dask
    design takes the two sums from its validation pass (the same start, no extra pass).

    None (R's start is used) for other families or links, without an intercept, or when the
    estimate is not finite (every count 0, or Σ w e^offset overflows).
    """
    if not (
        isinstance(family, Poisson)
        and isinstance(family.link, LogLink)
        and design.intercept_index is not None
    ):
        return None
    stats = design.stats  # a distributed design's from its validation pass
    total, exposure = stats.sum_wy, stats.sum_w_exp_offset
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        b0 = float(np.log(total) - np.log(exposure))
    if not (total > 0.0 and np.isfinite(b0)):
        return None
    coef = np.zeros(design.X.shape[1])
    coef[design.intercept_index] = b0
    return objective.evaluate(coef)


@dataclass(frozen=True, slots=True)
class Start:
    """Where the solver starts, and what the rank check decided on the way."""

    #: The objective to minimise, on the kept columns (primed with the start's evaluation).
    objective: GLMObjective
    #: The design on the kept columns.
    design: Design
    #: Indices of the kept (non-aliased) columns of the full design.
    kept: tuple[int, ...]
    #: Starting coefficients on the kept columns.
    coef: FloatArray
    #: "mustart" (R's first IRLS iteration), "subsample" or "intercept".
    kind: str
    #: Passes over X made by objectives left behind and by the rank check's QR.
    passes: int
    #: The information at the start (kept columns): the curvature before the fit, for the
    #: separation policy to see it collapse in some direction.
    start_info: FloatArray


def _usable(start: Evaluation | None) -> bool:
    # Non-finite sums: X's NaN/inf check is left to R's start pass. (A finite deviance and
    # score of a full pass prove X finite: a NaN or inf entry makes its row's eta, and so
    # both, non-finite.)
    return start is not None and start.hess is not None and start.finite


def prepare(family: Family, design: Design, *, solver: str, on_rank_deficient: str) -> Start:
    """Choose the start, check the rank on the way, and set up the objective on the kept columns.

    Large data start from a fit on a subsample (fewer passes over X); its Fisher information,
    clearly full rank, also settles the rank check (full rank on a subset of the rows is full
    rank on all of them). Newton's method on a Poisson (log link) model with an intercept
    starts from the intercept-only estimate. Otherwise — and whenever a start's information is
    not clearly full rank — R's start, whose pass makes the rank check. Aliased columns are
    refused or dropped (``on_rank_deficient``) by :func:`~.aliasing.kept_columns`.
    """
    objective = GLMObjective(family, design)
    d = design.X.shape[1]
    kind = "subsample"
    start = subsample_start(family, design, objective, newton=solver == "newton")
    if start is not None and not (
        _usable(start) and start.hess is not None and linalg.clearly_full_rank(start.hess)
    ):
        start = None
    if start is None and solver == "newton":
        # Poisson: the intercept-only estimate, a pass sooner than R's start. Newton only:
        # a first-order or quasi-Newton solver gains more from R's start, which is itself
        # a weighted least-squares step (lbfgs at 100,000 x 20 Poisson: 33 iterations from
        # the intercept-only estimate, 31 from R's start, and a coefficient 2.7e-6 of its
        # standard error from the MLE, 1.8e-6 from R's start: tol bounds the gradient).
        start = intercept_start(family, design, objective)
        kind = "intercept"
        if not _usable(start):
            start = None
    if start is not None:
        assert start.hess is not None
        kept, rank_passes = kept_columns(design, start.hess, on_rank_deficient)
        info = start.hess
    else:
        kind = "mustart"
        gram, rhs = objective.initial_wls()
        if not (np.isfinite(np.diag(gram)).all() and np.isfinite(rhs).all()):
            # X's NaN/inf check was left to this first full pass (a finite subsample start
            # would have proved X finite as well: its pass is over all of X).
            require_finite_x(design)
        kept, rank_passes = kept_columns(design, gram, on_rank_deficient)
        info = gram
    passes = rank_passes
    fit_design = design
    start_info = np.asarray(info[np.ix_(kept, kept)], dtype=np.float64)
    if len(kept) < d:
        passes += objective.n_passes
        fit_design = design.take_columns(kept)
        objective = GLMObjective(family, fit_design)
        # The start a fit of the kept columns alone makes.
        if start is not None:
            start = intercept_start(family, fit_design, objective)
            if not _usable(start):
                coef0 = objective.initial_coef()
                return Start(
                    objective, fit_design, tuple(kept), coef0, "mustart", passes, start_info
                )
    if start is not None:
        objective.prime(start)
        return Start(objective, fit_design, tuple(kept), start.coef, kind, passes, start_info)
    # R's first iteration; for a subset of columns its normal equations are sub-blocks.
    if len(kept) < d:
        gram, rhs = gram[np.ix_(kept, kept)], rhs[kept]
    coef0 = linalg.solve_normal_equations(gram, rhs)
    return Start(objective, fit_design, tuple(kept), coef0, kind, passes, start_info)
