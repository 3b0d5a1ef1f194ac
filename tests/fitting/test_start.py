"""The subsample start: when it is used, that the fit is still the full-data MLE, fallbacks.

The thresholds are lowered (a 1,000-row subsample of 10,000+ rows) so that the start is
exercised on data small enough for statsmodels to fit in the test.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import statsmodels.api as sm

from newtonglm import GLM, LogisticRegression, PoissonRegression
from newtonglm.exceptions import ConvergenceWarning, MissingValueError, RankDeficientError
from newtonglm.fitting import start
from newtonglm.solvers import SOLVERS
from tests.estimators.test_against_statsmodels import FAMILY_LINKS, sm_family

#: The canonical link of each family (Fisher scoring is Newton's method there).
CANONICAL = {"binomial": "logit", "poisson": "log", "gaussian": "identity"}

#: Coefficients and standard errors against statsmodels' exact MLE (tol 1e-13), relative, as
#: in test_against_statsmodels; deviance tighter.
RTOL_COEF = 1e-6
RTOL_DEV = 1e-9
N_ROWS = 12_000


@pytest.fixture(autouse=True)
def small_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start, "SAMPLE_ROWS", 1_000)
    monkeypatch.setattr(start, "MAX_SAMPLE_ROWS", 2_000)
    monkeypatch.setattr(start, "MIN_ROWS_PER_SAMPLED", 10)


def data(family: str, seed: int = 0, n: int = N_ROWS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.normal(size=(n, 4)))
    eta = 0.3 + X @ np.array([0.5, -0.4, 0.2, 0.1])
    if family == "binomial":
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    return X, y


def reference(family: str, link: str, X, y, **kwargs):
    return sm.GLM(y, sm.add_constant(X), family=sm_family(family, link), **kwargs).fit(
        tol=1e-13, maxiter=200
    )


def assert_same_fit(model, ref) -> None:
    coef = np.r_[model.intercept_, model.coef_]
    se = np.asarray(ref.bse)
    np.testing.assert_allclose(coef, ref.params, rtol=RTOL_COEF, atol=RTOL_COEF * se.min())
    np.testing.assert_allclose(model.coef_table()["std_err"], se, rtol=RTOL_COEF)
    assert model.deviance_ == pytest.approx(ref.deviance, rel=RTOL_DEV)
    assert model.llf_ == pytest.approx(ref.llf, rel=RTOL_DEV)


def test_subsample_rows_spread_over_the_data_and_only_for_large_data() -> None:
    assert start.subsample_rows(9_999, 5) is None
    # A tenth of the rows, between SAMPLE_ROWS and MAX_SAMPLE_ROWS (patched: 1,000 and 2,000).
    assert 1_000 <= start.subsample_rows(10_000, 5).sum() <= 1_000 + start.N_RUNS
    assert 2_000 <= start.subsample_rows(30_000, 5).sum() <= 2_000 + start.N_RUNS
    mask = start.subsample_rows(N_ROWS, 5)
    assert mask is not None
    assert 1_200 <= mask.sum() <= 1_200 + start.N_RUNS
    rows = np.flatnonzero(mask)
    assert rows[0] == 0 and rows[-1] == N_ROWS - 1  # first and last runs at the ends
    # Wide designs take 50 rows per coefficient.
    assert start.subsample_rows(N_ROWS, 100) is None


@pytest.mark.parametrize(("family", "link"), FAMILY_LINKS)
def test_subsample_start_gives_the_full_data_mle(family: str, link: str) -> None:
    X, y = data(family)
    model = GLM(family=family, link=link).fit(X, y)
    assert model.start_ == "subsample"
    assert model.converged_
    # The start's full-data pass is the solver's first evaluation: n_iter + 1 passes, and one
    # more for probit and cloglog, whose Newton steps use the observed information: Fisher's at
    # the solution, for the standard errors.
    assert model.n_passes_ == model.n_iter_ + 1 + (link != CANONICAL[family])
    assert_same_fit(model, reference(family, link, X, y))


def test_subsample_start_subsamples_weights_and_offset_with_the_rows() -> None:
    X, y = data("poisson", seed=1)
    rng = np.random.default_rng(2)
    w = rng.uniform(0.5, 2.0, size=y.size)
    offset = np.log(rng.uniform(0.5, 3.0, size=y.size))
    model = PoissonRegression().fit(X, y, sample_weight=w, offset=offset)
    assert model.start_ == "subsample"
    ref = reference("poisson", "log", X, y, var_weights=w, offset=offset)
    assert_same_fit(model, ref)


@pytest.mark.parametrize("solver", sorted(set(SOLVERS) - {"gd", "gd-optimal"}))
def test_every_solver_starts_from_the_subsample(solver: str) -> None:
    X, y = data("binomial", seed=3)
    model = LogisticRegression(solver=solver).fit(X, y)
    assert model.start_ == "subsample" and model.converged_
    assert_same_fit(model, reference("binomial", "logit", X, y))


def test_sparse_design_uses_the_subsample_start() -> None:
    X, y = data("binomial", seed=4)
    model = LogisticRegression().fit(sp.csr_matrix(X), y)
    assert model.start_ == "subsample"
    assert_same_fit(model, reference("binomial", "logit", X, y))


def full_passes_with_fisher(monkeypatch: pytest.MonkeyPatch, n_rows: int) -> list[bool]:
    """Spy on the kernel: for each pass over all ``n_rows`` rows, whether it formed the Gram."""
    from newtonglm.engine.dense import DenseExecutor
    from newtonglm.engine.sparse import SparseExecutor

    calls: list[bool] = []

    def spy_on(executor: type) -> None:
        pass_sums = executor.pass_sums

        def spy(self, X, *args, **kwargs):
            if X.shape[0] == n_rows:
                calls.append(kwargs.get("fisher", True))
            return pass_sums(self, X, *args, **kwargs)

        monkeypatch.setattr(executor, "pass_sums", spy)

    spy_on(DenseExecutor)
    spy_on(SparseExecutor)
    return calls


@pytest.mark.parametrize(("family", "link"), FAMILY_LINKS)
def test_newton_on_a_wide_design_takes_its_first_step_with_the_subsample_curvature(
    monkeypatch: pytest.MonkeyPatch, family: str, link: str
) -> None:
    """The start's full pass forms no Gram; every later pass and the inference do."""
    monkeypatch.setattr(start, "CURVATURE_MIN_COLS", 5)  # the 4 columns and the intercept
    calls = full_passes_with_fisher(monkeypatch, N_ROWS)
    X, y = data(family, seed=8)
    model = GLM(family=family, link=link).fit(X, y)
    assert model.start_ == "subsample" and model.converged_
    fisher_at_the_end = link != CANONICAL[family]  # as in the test above
    assert calls == [False] + [True] * (model.n_iter_ + fisher_at_the_end)
    assert model.n_passes_ == model.n_iter_ + 1 + fisher_at_the_end
    assert_same_fit(model, reference(family, link, X, y))


def test_subsample_curvature_with_weights_and_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subsample's Fisher information is scaled by the ratio of total weights."""
    monkeypatch.setattr(start, "CURVATURE_MIN_COLS", 5)
    calls = full_passes_with_fisher(monkeypatch, N_ROWS)
    X, y = data("poisson", seed=11)
    rng = np.random.default_rng(12)
    w = rng.uniform(0.2, 5.0, size=y.size)
    offset = np.log(rng.uniform(0.5, 3.0, size=y.size))
    model = PoissonRegression().fit(X, y, sample_weight=w, offset=offset)
    assert model.start_ == "subsample" and calls[0] is False
    assert_same_fit(model, reference("poisson", "log", X, y, var_weights=w, offset=offset))


@pytest.mark.parametrize(
    ("solver", "min_cols", "sparse"),
    [
        ("newton", 64, False),
        ("newton", 5, True),
        ("lbfgs", 5, False),
        ("newton-damped", 5, False),
        ("trust-region", 5, False),
    ],
)
def test_narrow_or_sparse_designs_and_other_solvers_start_with_the_full_fisher_information(
    monkeypatch: pytest.MonkeyPatch, solver: str, min_cols: int, sparse: bool
) -> None:
    monkeypatch.setattr(start, "CURVATURE_MIN_COLS", min_cols)
    calls = full_passes_with_fisher(monkeypatch, N_ROWS)
    X, y = data("binomial", seed=9)
    model = LogisticRegression(solver=solver).fit(sp.csr_matrix(X) if sparse else X, y)
    assert model.start_ == "subsample"
    assert calls[0] is True


def test_no_step_from_the_subsample_curvature_still_reports_the_fisher_information(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A solver that stops before its first step returns the start's evaluation as its final
    one; the fit then forms the Fisher information there for the standard errors."""
    import newtonglm.fitting.fit as fit_module
    from newtonglm.solvers.base import SolverResult, StopReason
    from newtonglm.solvers.newton import NewtonSolver

    class NoStep(NewtonSolver):
        def solve(self, objective, coef0, stop, callback=None):  # its first step failed
            ev = objective.evaluate(coef0)
            return SolverResult(coef0, False, StopReason.STEP_FAILED, 0, (), ev)

    monkeypatch.setattr(fit_module, "get_solver", lambda name, **kwargs: NoStep())
    monkeypatch.setattr(start, "CURVATURE_MIN_COLS", 5)
    calls = full_passes_with_fisher(monkeypatch, N_ROWS)
    X, y = data("binomial", seed=10)
    with pytest.warns(ConvergenceWarning):
        model = LogisticRegression().fit(X, y)
    assert model.start_ == "subsample" and model.n_iter_ == 0
    assert calls == [False, True]
    X1 = np.column_stack([np.ones(y.size), X])
    mu = 1.0 / (1.0 + np.exp(-(X1 @ np.r_[model.intercept_, model.coef_])))
    fisher = X1.T @ (X1 * (mu * (1.0 - mu))[:, None])
    np.testing.assert_allclose(
        model.coef_table()["std_err"], np.sqrt(np.diag(np.linalg.inv(fisher))), rtol=1e-10
    )


def test_rare_column_missing_from_the_subsample_falls_back_to_mustart() -> None:
    X, y = data("binomial", seed=5)
    rare = np.zeros(y.size)
    rows = np.flatnonzero(~start.subsample_rows(y.size, 6))[:40]  # rows outside the sample
    rare[rows] = 1.0
    X = np.column_stack([X, rare])
    model = LogisticRegression().fit(X, y)
    assert model.start_ == "mustart"
    assert_same_fit(model, reference("binomial", "logit", X, y))


def test_aliased_column_is_still_reported_with_the_subsample_thresholds() -> None:
    X, y = data("poisson", seed=6)
    X = np.column_stack([X, X[:, 0] - X[:, 1]])
    with pytest.raises(RankDeficientError, match=r"column\(s\) \['x4'\]"):
        PoissonRegression().fit(X, y)


def test_small_data_keep_r_start() -> None:
    X, y = data("binomial", seed=7, n=5_000)
    model = LogisticRegression().fit(X, y)
    assert model.start_ == "mustart"
    assert model.n_passes_ == model.n_iter_ + 2  # R's start pass + evaluations


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("in_subsample", [True, False])
@pytest.mark.parametrize("zero_weight", [False, True])
@pytest.mark.parametrize("family", ["binomial", "poisson"])
@pytest.mark.parametrize("curvature_min_cols", [64, 5])
def test_nonfinite_x_found_by_the_first_full_pass(
    monkeypatch: pytest.MonkeyPatch,
    value: float,
    in_subsample: bool,
    zero_weight: bool,
    family: str,
    curvature_min_cols: int,
) -> None:
    """X's NaN/inf check is left to the fit's first full pass; the error is finalize's.

    A bad entry inside or outside the subsample, in a row of weight 0 or not: the subsample
    start's full-data pass is then non-finite (its Fisher information, or with the
    subsample's curvature its deviance and score), R's start runs, and its pass (non-finite
    too) triggers the scan that names the column and counts the rows.
    """
    monkeypatch.setattr(start, "CURVATURE_MIN_COLS", curvature_min_cols)
    X, y = data(family)
    mask = start.subsample_rows(*X.shape)
    assert mask is not None
    rows = np.flatnonzero(mask if in_subsample else ~mask)[[5, 17]]
    X[rows, 2] = value
    w = np.ones(y.size)
    if zero_weight:
        w[rows] = 0.0
    est = LogisticRegression() if family == "binomial" else PoissonRegression()
    with pytest.raises(
        MissingValueError,
        match=rf"NaN or inf in 2 of {N_ROWS} rows: X columns 'x2' \(2 rows\)\. Clean them",
    ):
        est.fit(X, y, sample_weight=w)


def test_finite_x_is_not_scanned_separately(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fit of finite X reads it for the passes only (no separate NaN/inf scan)."""
    from newtonglm.design import validate

    calls: list[int] = []
    scan = validate.nonfinite_rows
    monkeypatch.setattr(validate, "nonfinite_rows", lambda v: calls.append(1) or scan(v))
    X, y = data("poisson")
    for n in (N_ROWS, 500):  # the subsample start, and R's start
        PoissonRegression().fit(X[:n], y[:n])
    assert calls == []


# -- Poisson's intercept-only start ----------------------------------------------------------


def test_poisson_small_data_start_at_the_intercept_only_estimate() -> None:
    X, y = data("poisson", seed=8, n=5_000)  # below the subsample's size
    model = PoissonRegression().fit(X, y)
    assert model.start_ == "intercept"
    assert model.n_passes_ == model.n_iter_ + 1  # the start's pass is the solver's first
    assert_same_fit(model, reference("poisson", "log", X, y))
    # The solver's first record is the intercept-only model: its deviance is the null deviance.
    assert model.history_["deviance"].iloc[0] == pytest.approx(model.null_deviance_, rel=1e-12)


def test_poisson_intercept_start_with_weights_and_offset_is_the_intercept_only_mle() -> None:
    X, y = data("poisson", seed=9, n=5_000)
    rng = np.random.default_rng(9)
    w = rng.uniform(0.2, 3.0, y.size)
    off = rng.normal(0.0, 0.5, y.size)
    est = PoissonRegression()
    from newtonglm.engine.objective import GLMObjective
    from newtonglm.estimators.inputs import fit_inputs

    design = fit_inputs(est, X, y, w, off, None, est._family(), est._encode_response).design

    first = start.intercept_start(est._family(), design, GLMObjective(est._family(), design))
    assert first is not None
    null = sm.GLM(
        y, np.ones((y.size, 1)), family=sm.families.Poisson(), offset=off, var_weights=w
    ).fit(tol=1e-13)
    expected = np.zeros(X.shape[1] + 1)
    expected[design.intercept_index] = null.params[0]
    np.testing.assert_allclose(first.coef, expected, rtol=1e-12, atol=0)
    model = PoissonRegression().fit(X, y, sample_weight=w, offset=off)
    assert model.start_ == "intercept"
    assert_same_fit(model, reference("poisson", "log", X, y, offset=off, var_weights=w))


def test_other_fits_keep_r_start() -> None:
    X, y = data("poisson", seed=10, n=5_000)
    assert PoissonRegression(fit_intercept=False).fit(X, y).start_ == "mustart"
    assert PoissonRegression(solver="lbfgs").fit(X, y).start_ == "mustart"
    assert GLM(family="gaussian", link="log").fit(X, y + 1.0).start_ == "mustart"
    Xb, yb = data("binomial", seed=10, n=5_000)
    assert LogisticRegression().fit(Xb, yb).start_ == "mustart"


def test_poisson_intercept_start_on_non_finite_x_still_names_the_column() -> None:
    X, y = data("poisson", seed=11, n=5_000)
    X[17, 2] = np.inf
    with pytest.raises(MissingValueError, match=r"'x2' \(1 rows\)"):
        PoissonRegression().fit(X, y)


def test_poisson_aliased_column_dropped_fits_as_the_kept_columns_alone() -> None:
    X, y = data("poisson", seed=12, n=5_000)
    Xa = np.column_stack([X, X[:, 0] - X[:, 1]])
    alone = PoissonRegression().fit(X, y)
    with pytest.warns(Warning, match="aliased"):
        dropped = PoissonRegression(on_rank_deficient="drop").fit(Xa, y)
    assert dropped.start_ == "intercept"
    # The same start and trajectory as the fit without the aliased column.
    np.testing.assert_allclose(dropped.coef_[:4], alone.coef_, rtol=1e-13)
    assert np.isnan(dropped.coef_[4])
    assert dropped.n_iter_ == alone.n_iter_
