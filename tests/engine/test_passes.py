"""Block kernel and objective: derivatives, block-size invariance, weights, and the R factor."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from newtonglm.design import Design
from newtonglm.design.matrix import DenseMatrix
from newtonglm.design.validate import finalize
from newtonglm.engine import accumulate, blocks, dense, gram, linalg
from newtonglm.engine.accumulate import PassSums
from newtonglm.engine.objective import GLMObjective
from newtonglm.families import (
    Binomial,
    CLogLogLink,
    Family,
    LogitLink,
    LogLink,
    Poisson,
    ProbitLink,
)
from tests.helpers import hessp, pass_sums, r_factor, wls_sums

# Tolerances, stated once; vectors and matrices are compared in norm (‖a - b‖ ≤ rtol ‖b‖).
#: Gradient against central differences of D / 2.
RTOL_GRAD = 1e-6
#: Hessian (Fisher information) against central differences of the gradient.
RTOL_HESS = 1e-6
#: Sums that differ only in the order of floating-point additions (block size, duplicated
#: rows, permuted rows).
RTOL_SUMS = 1e-12
#: RᵀR against XᵀX.
RTOL_QR = 1e-12
#: Finite-difference step (coefficients are O(1)).
FD_STEP = 1e-5

SEED = 12345

FAMILY_CASES: dict[str, Family] = {
    "binomial-logit": Binomial(link=LogitLink()),
    "binomial-probit": Binomial(link=ProbitLink()),
    "binomial-cloglog": Binomial(link=CLogLogLink()),
    "poisson-log": Poisson(link=LogLink()),
}
CANONICAL_CASES = ["binomial-logit", "poisson-log"]
COEF_TRUE = np.array([-0.3, 0.8, -0.5, 0.4])


def _assert_close(actual: np.ndarray, desired: np.ndarray, rtol: float) -> None:
    """‖actual - desired‖ ≤ rtol ‖desired‖ (Frobenius norm for matrices)."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    err = float(np.linalg.norm(actual - desired))
    ref = float(np.linalg.norm(desired))
    assert err <= rtol * ref, f"relative error {err / ref:.3e} > {rtol:.1e}"


def _simulate(family: Family, n: int, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """Seeded X (intercept first), y, sample weights and offset for ``family``."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            np.ones(n),
            rng.normal(size=n),
            rng.uniform(-1.0, 1.0, size=n),
            rng.binomial(1, 0.4, size=n).astype(float),
        ]
    )
    offset = rng.normal(scale=0.2, size=n)
    weights = rng.uniform(0.5, 3.0, size=n)
    mu = family.link.inverse(X @ COEF_TRUE + offset)
    if family.name == "binomial":
        y = rng.binomial(1, mu).astype(float)
    else:
        y = rng.poisson(mu).astype(float)
    return X, y, weights, offset


def _design(X: np.ndarray, y: np.ndarray, weights: np.ndarray, offset: np.ndarray) -> Design:
    names = [f"x{j}" for j in range(X.shape[1])]
    names[0] = "Intercept"
    return finalize(X, y, names, sample_weight=weights, offset=offset, intercept_index=0)


def _objective(case: str, n: int = 500, seed: int = SEED) -> GLMObjective:
    family = FAMILY_CASES[case]
    return GLMObjective(family, _design(*_simulate(family, n, seed)))


def _coef_off_optimum(seed: int = SEED) -> np.ndarray:
    """Coefficients near the truth but not at the MLE, so the gradient is far from zero."""
    return COEF_TRUE + np.random.default_rng(seed + 1).normal(scale=0.3, size=COEF_TRUE.size)


def _central_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of f at x; column j is ∂f/∂x_j."""
    cols = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = FD_STEP
        cols.append((np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2.0 * FD_STEP))
    return np.column_stack(cols)


def _sums(objective: GLMObjective, coef: np.ndarray) -> PassSums:
    d = objective.design
    return pass_sums(d.X, d.y, d.weights, d.offset, coef, objective.family)


def _assert_sums_equal(a: PassSums, b: PassSums, factor: float = 1.0) -> None:
    """a equals factor × b, up to the order of additions."""
    assert a.deviance == pytest.approx(factor * b.deviance, rel=RTOL_SUMS)
    assert a.pearson_chi2 == pytest.approx(factor * b.pearson_chi2, rel=RTOL_SUMS)
    _assert_close(a.score, factor * b.score, RTOL_SUMS)
    _assert_close(a.fisher, factor * b.fisher, RTOL_SUMS)


# -- derivatives --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_objective_grad_matches_finite_difference(case: str) -> None:
    objective = _objective(case)
    coef = _coef_off_optimum()
    grad = objective.evaluate(coef).grad
    fd = _central_jacobian(lambda c: np.array([0.5 * objective.deviance(c)]), coef)[0]
    assert np.linalg.norm(grad) > 1.0  # far from the optimum, so the comparison means something
    _assert_close(grad, fd, RTOL_GRAD)


@pytest.mark.parametrize("case", CANONICAL_CASES)
def test_objective_hess_matches_finite_difference_canonical(case: str) -> None:
    objective = _objective(case)
    coef = _coef_off_optimum()
    hess = objective.evaluate(coef).hess
    fd = _central_jacobian(lambda c: objective.evaluate(c, hess=False).grad, coef)
    _assert_close(hess, fd, RTOL_HESS)
    np.testing.assert_array_equal(hess, hess.T)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_objective_hess_matches_finite_difference_at_y_equals_mu(case: str) -> None:
    # With y = mu(coef) the observed information equals the expected one for every link, so the
    # Fisher information is the exact Hessian there, canonical link or not.
    family = FAMILY_CASES[case]
    X, _, weights, offset = _simulate(family, 500)
    coef = _coef_off_optimum()
    y = family.link.inverse(X @ coef + offset)
    objective = GLMObjective(family, _design(X, y, weights, offset))
    hess = objective.evaluate(coef).hess
    fd = _central_jacobian(lambda c: objective.evaluate(c, hess=False).grad, coef)
    _assert_close(hess, fd, RTOL_HESS)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_objective_evaluate_matches_kernel_pass(case: str) -> None:
    objective = _objective(case)
    coef = _coef_off_optimum()
    ev = objective.evaluate(coef)
    sums = _sums(objective, coef)
    assert ev.deviance == sums.deviance
    assert ev.value == 0.5 * sums.deviance
    np.testing.assert_array_equal(ev.grad, -sums.score)
    np.testing.assert_array_equal(ev.hess, sums.fisher)
    assert ev.finite


# -- blocks -------------------------------------------------------------------------------------
def test_block_slices_cover_rows_in_order() -> None:
    n, d = 5000, 3
    rows = np.concatenate([np.arange(n)[s] for s in blocks.block_slices(n, d)])
    np.testing.assert_array_equal(rows, np.arange(n))


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_pass_sums_same_with_three_row_blocks(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    objective = _objective(case, n=301)
    coef = _coef_off_optimum()
    whole = _sums(objective, coef)
    assert len(list(blocks.block_slices(301, 4))) == 1
    monkeypatch.setattr(blocks, "block_rows", lambda n_features: 3)
    assert len(list(blocks.block_slices(301, 4))) == 101  # the last block has 1 row
    blocked = _sums(objective, coef)
    _assert_sums_equal(blocked, whole)
    assert blocked.n_boundary == whole.n_boundary


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_pass_sums_same_with_small_block_bytes(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 3500
    objective = _objective(case, n=n)
    coef = _coef_off_optimum()
    whole = _sums(objective, coef)
    assert len(list(blocks.block_slices(n, 4))) == 1
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 8)
    assert [s.stop - s.start for s in blocks.block_slices(n, 4)] == [1024, 1024, 1024, 428]
    blocked = _sums(objective, coef)
    _assert_sums_equal(blocked, whole)
    assert blocked.n_boundary == whole.n_boundary


def test_wls_sums_same_with_three_row_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(SEED)
    X = np.asfortranarray(rng.normal(size=(200, 5)))
    w = rng.uniform(0.1, 2.0, size=200)
    z = rng.normal(size=200)
    gram, rhs = wls_sums(X, w, z)
    _assert_close(gram, X.T @ (w[:, None] * X), RTOL_SUMS)
    _assert_close(rhs, X.T @ (w * z), RTOL_SUMS)
    monkeypatch.setattr(blocks, "block_rows", lambda n_features: 3)
    gram_b, rhs_b = wls_sums(X, w, z)
    _assert_close(gram_b, gram, RTOL_SUMS)
    _assert_close(rhs_b, rhs, RTOL_SUMS)


# -- weights and row order ----------------------------------------------------------------------
@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_pass_sums_duplicated_rows_equal_weight_two(case: str) -> None:
    family = FAMILY_CASES[case]
    X, y, w, offset = _simulate(family, 400)
    coef = _coef_off_optimum()
    once = GLMObjective(family, _design(X, y, w, offset))
    twice = GLMObjective(
        family,
        _design(np.vstack([X, X]), np.tile(y, 2), np.tile(w, 2), np.tile(offset, 2)),
    )
    doubled = GLMObjective(family, _design(X, y, 2.0 * w, offset))
    s_once, s_twice, s_doubled = (_sums(o, coef) for o in (once, twice, doubled))
    _assert_sums_equal(s_twice, s_doubled)
    assert s_twice.n_boundary == s_doubled.n_boundary
    _assert_sums_equal(s_twice, s_once, factor=2.0)
    assert s_twice.n_boundary == 2 * s_once.n_boundary


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_pass_sums_invariant_to_row_permutation(case: str) -> None:
    family = FAMILY_CASES[case]
    X, y, w, offset = _simulate(family, 400)
    perm = np.random.default_rng(SEED + 2).permutation(X.shape[0])
    coef = _coef_off_optimum()
    original = _sums(GLMObjective(family, _design(X, y, w, offset)), coef)
    permuted = _sums(GLMObjective(family, _design(X[perm], y[perm], w[perm], offset[perm])), coef)
    _assert_sums_equal(permuted, original)
    assert permuted.n_boundary == original.n_boundary


def test_pass_sums_zero_weight_rows_do_not_count() -> None:
    family = FAMILY_CASES["binomial-probit"]
    X, y, w, offset = _simulate(family, 300)
    coef = _coef_off_optimum()
    full = _sums(GLMObjective(family, _design(X, y, w, offset)), coef)
    # Append rows with weight 0 and a response that would otherwise dominate every sum.
    extra = X[:50] * 3.0
    padded = _design(
        np.vstack([X, extra]),
        np.concatenate([y, 1.0 - y[:50]]),
        np.concatenate([w, np.zeros(50)]),
        np.concatenate([offset, np.full(50, 5.0)]),
    )
    with_zeros = _sums(GLMObjective(family, padded), coef)
    _assert_sums_equal(with_zeros, full)
    assert with_zeros.n_boundary == full.n_boundary


# -- R factor and rank --------------------------------------------------------------------------
@pytest.mark.parametrize("rows_per_block", [3, 7, 10_000])
def test_r_factor_is_upper_triangular_with_gram_of_x(
    rows_per_block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(SEED)
    X = np.asfortranarray(rng.normal(size=(100, 5)) @ rng.normal(size=(5, 5)))
    monkeypatch.setattr(blocks, "block_rows", lambda n_features: rows_per_block)
    R = r_factor(X)
    assert R.shape == (5, 5)
    np.testing.assert_array_equal(np.tril(R, -1), 0.0)
    _assert_close(R.T @ R, X.T @ X, RTOL_QR)
    # Unique up to the signs of its rows: |diag R| matches a one-shot QR.
    ref = np.linalg.qr(X, mode="r")
    np.testing.assert_allclose(np.abs(np.diag(R)), np.abs(np.diag(ref)), rtol=RTOL_QR)


def test_r_factor_fewer_rows_than_columns() -> None:
    X = np.asfortranarray(np.random.default_rng(SEED).normal(size=(3, 5)))
    R = r_factor(X)
    assert R.shape == (5, 5)
    np.testing.assert_array_equal(np.tril(R, -1), 0.0)
    np.testing.assert_array_equal(R[3:], 0.0)
    _assert_close(R.T @ R, X.T @ X, RTOL_QR)


@pytest.mark.parametrize("rows_per_block", [7, 10_000])
def test_aliased_columns_finds_linear_combination(
    rows_per_block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(SEED)
    base = np.column_stack([np.ones(200), rng.normal(size=(200, 3))])
    combo = 0.5 * base[:, 0] + 2.0 * base[:, 1] - base[:, 2]
    X = np.asfortranarray(np.column_stack([base[:, :3], combo, base[:, 3]]))
    monkeypatch.setattr(blocks, "block_rows", lambda n_features: rows_per_block)
    assert linalg.aliased_columns(r_factor(X)) == [3]
    assert linalg.aliased_columns(r_factor(np.asfortranarray(base))) == []


def test_aliased_columns_finds_duplicate_and_zero_columns() -> None:
    rng = np.random.default_rng(SEED)
    a, b = rng.normal(size=(2, 150))
    X = np.asfortranarray(np.column_stack([np.ones(150), a, np.zeros(150), b, a]))
    assert linalg.aliased_columns(r_factor(X)) == [2, 4]


# -- start --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_objective_initial_coef_is_finite(case: str) -> None:
    objective = _objective(case)
    coef0 = objective.initial_coef()
    assert coef0.shape == (objective.n_features,)
    assert np.isfinite(coef0).all()
    assert np.isfinite(objective.deviance(coef0))


# -- layouts: the user's array used as it is, intercept implicit -----------------------------


def _layouts(X: np.ndarray) -> dict[str, DenseMatrix]:
    """The same intercept-first matrix in every layout the kernel accepts without copying."""
    raw = X[:, 1:]
    wide = np.asfortranarray(np.column_stack([raw, raw[:, :1]]))
    return {
        "explicit-F": DenseMatrix(np.asfortranarray(X)),
        "explicit-C": DenseMatrix(np.ascontiguousarray(X)),
        "implicit-F": DenseMatrix(np.asfortranarray(raw), intercept=True),
        "implicit-C": DenseMatrix(np.ascontiguousarray(raw), intercept=True),
        # A Fortran column slice (e.g. a formula matrix without its first column).
        "implicit-F-slice": DenseMatrix(wide[:, :-1], intercept=True),
    }


def _direct_sums(family: Family, X: np.ndarray, y, w, offset, coef) -> tuple[np.ndarray, ...]:
    """Score and Fisher information straight from their definitions, with whole arrays."""
    eta = X @ coef + offset
    mu = family.clip_mu(family.link.inverse(eta))
    var = family.variance(mu)
    dmu = var if family.is_canonical else family.link.inverse_derivative(eta)
    score = X.T @ (w * dmu * (y - mu) / var)
    fisher = X.T @ ((w * dmu * dmu / var)[:, None] * X)
    return score, fisher


@pytest.mark.parametrize("case", list(FAMILY_CASES))
@pytest.mark.parametrize(
    "layout", ["explicit-F", "explicit-C", "implicit-F", "implicit-C", "implicit-F-slice"]
)
def test_pass_sums_every_layout_matches_direct_formula(
    case: str, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = FAMILY_CASES[case]
    X, y, w, offset = _simulate(family, 2500)
    coef = _coef_off_optimum()
    monkeypatch.setattr(blocks, "block_rows", lambda n_features: 1000)  # 3 blocks, last short
    M = _layouts(X)[layout]
    assert M.shape == X.shape
    np.testing.assert_array_equal(np.asarray(M), X)
    sums = pass_sums(M, y, w, offset, coef, family, keep_weights=True)
    score, fisher = _direct_sums(family, X, y, w, offset, coef)
    _assert_close(sums.score, score, RTOL_SUMS)
    _assert_close(sums.fisher, fisher, RTOL_SUMS)
    reference = pass_sums(np.asfortranarray(X), y, w, offset, coef, family)
    assert sums.deviance == pytest.approx(reference.deviance, rel=RTOL_SUMS)
    assert sums.pearson_chi2 == pytest.approx(reference.pearson_chi2, rel=RTOL_SUMS)
    v = np.random.default_rng(3).normal(size=(X.shape[1], 2))
    _assert_close(hessp(M, sums.work_weights, v), fisher @ v, RTOL_SUMS)
    z = np.random.default_rng(4).normal(size=X.shape[0])
    gram, rhs = wls_sums(M, w, z)
    _assert_close(gram, X.T @ (w[:, None] * X), RTOL_SUMS)
    _assert_close(rhs, X.T @ (w * z), RTOL_SUMS)
    _assert_close(r_factor(M).T @ r_factor(M), X.T @ X, RTOL_QR)


def test_score_only_pass_matches_full_pass() -> None:
    family = FAMILY_CASES["binomial-probit"]
    X, y, w, offset = _simulate(family, 700)
    M = DenseMatrix(np.ascontiguousarray(X[:, 1:]), intercept=True)
    coef = _coef_off_optimum()
    full = pass_sums(M, y, w, offset, coef, family)
    score_only = pass_sums(M, y, w, offset, coef, family, fisher=False)
    assert score_only.fisher is None
    _assert_close(score_only.score, full.score, RTOL_SUMS)


def test_saturated_logit_rows_keep_their_score() -> None:
    # At |eta| ~ 40 mu is clipped and mu' underflows; the score of such a row must stay
    # w (y - mu) (a canonical link), not collapse to 0.
    family = FAMILY_CASES["binomial-logit"]
    X = np.array([[1.0, 40.0], [1.0, -40.0], [1.0, 0.5]])
    y = np.array([0.0, 1.0, 1.0])
    w = np.ones(3)
    sums = pass_sums(X, y, w, None, np.array([0.0, 1.0]), family)
    mu = family.clip_mu(family.link.inverse(X @ np.array([0.0, 1.0])))
    _assert_close(sums.score, X.T @ (y - mu), RTOL_SUMS)
    assert sums.n_boundary == 2


def test_fit_does_not_copy_a_float64_array() -> None:
    rng = np.random.default_rng(0)
    for X in (rng.normal(size=(200, 3)), np.asfortranarray(rng.normal(size=(200, 3)))):
        y = rng.binomial(1, 0.5, size=200).astype(float)
        design = finalize(
            X, y, ["intercept", "a", "b", "c"], intercept_index=0, implicit_intercept=True
        )
        assert design.X.data is X
        assert design.X.shape == (200, 4)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_unit_weights_shortcut_matches_general_pass(case: str) -> None:
    family = FAMILY_CASES[case]
    X, y, _w, offset = _simulate(family, 900)
    ones = np.ones(X.shape[0])
    coef = _coef_off_optimum()
    general = pass_sums(X, y, ones, offset, coef, family, keep_weights=True)
    shortcut = pass_sums(X, y, ones, offset, coef, family, keep_weights=True, unit_weights=True)
    _assert_sums_equal(shortcut, general)
    _assert_close(shortcut.work_weights, general.work_weights, RTOL_SUMS)


def _accumulate_one_block(
    M: DenseMatrix,
    y: np.ndarray,
    w: np.ndarray,
    offset: np.ndarray | None,
    coef: np.ndarray,
    family: Family,
    **options: bool,
) -> PassSums:
    """The general path's sums of ``M`` as one block: an Accumulator, as pass_sums builds it."""
    keep = options.pop("keep_weights")
    unit = options.pop("unit_weights")
    acc = accumulate.Accumulator(
        family, coef, M.data.shape[1], M.intercept, M.shape[0], unit_weights=unit, **options
    )
    kept = np.empty(M.shape[0]) if keep else None
    acc.add_block(M.data, y, w, offset, keep_weights=kept)
    return acc.result(kept)


@pytest.mark.parametrize("case", CANONICAL_CASES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize(
    ("score", "fisher"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_one_block_pass_equals_the_accumulator(
    case: str,
    order: str,
    intercept: bool,
    score: bool,
    fisher: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A design of one block takes one direct call of the compiled pass (dense._one_block):
    # the same sums, to the bit, as the Accumulator that larger designs go through.
    if gram.compiled() is None:
        pytest.skip("the compiled kernel is not built")
    family = FAMILY_CASES[case]
    X, y, w, offset = _simulate(family, 700)
    data = np.asarray(X[:, 1:] if intercept else X, order=order)
    M = DenseMatrix(data, intercept=intercept)
    coef = _coef_off_optimum()
    assert M.shape[0] <= blocks.block_rows(M.shape[1])  # one block
    calls: list[int] = []
    one_block = dense._one_block

    def spy(*args: object, **kwargs: object) -> PassSums:
        calls.append(1)
        return one_block(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dense, "_one_block", spy)
    for weights, off, unit in ((w, offset, False), (np.ones(700), None, True)):
        options = dict(score=score, fisher=fisher, keep_weights=True, unit_weights=unit)
        fast = pass_sums(M, y, weights, off, coef, family, **options)
        general = _accumulate_one_block(M, y, weights, off, coef, family, **options)
        assert fast.deviance == general.deviance
        assert fast.pearson_chi2 == general.pearson_chi2
        assert fast.n_boundary == general.n_boundary
        for a, b in ((fast.score, general.score), (fast.fisher, general.fisher)):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(fast.work_weights, general.work_weights)
    assert len(calls) == 2  # both passes took the one-block path
    if fisher:
        np.testing.assert_array_equal(fast.fisher, fast.fisher.T)  # both triangles filled


def test_mirror_upper_copies_the_upper_triangle_below() -> None:
    a = np.asfortranarray(
        np.triu(np.arange(1.0, 17.0).reshape(4, 4)) + np.tril(np.full((4, 4), 9e9), -1)
    )
    out = blocks.mirror_upper(a)
    np.testing.assert_array_equal(out, np.triu(a) + np.triu(a, 1).T)
    assert out.flags.c_contiguous and out is not a


def test_rows_whose_weight_underflows_keep_their_score(kernel_path: str) -> None:
    # Probit at η = ±40: the Fisher weight a b underflows to 0, the score term (-b, about -40,
    # for y = 0 at η = 40) does not; both kernel paths must add it to the score.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 2))
    X[:3, 0] = 40.0
    y = (rng.random(50) < 0.5).astype(float)
    y[:3] = 0.0
    fam = Binomial(link=ProbitLink())
    coef = np.array([0.0, 1.0, 0.0])
    for observed in (False, True):
        sums = pass_sums(
            DenseMatrix(np.asfortranarray(X), intercept=True),
            y,
            np.ones(50),
            None,
            coef,
            fam,
            observed=observed,
        )
        eta = coef[0] + X @ coef[1:]
        lm, l1 = fam.link.log_probs(eta)
        a, b = fam.link.hazards(eta)
        s = y * a - (1 - y) * b
        expected = np.concatenate([[s.sum()], X.T @ s])
        np.testing.assert_allclose(sums.score, expected, rtol=1e-12)
        assert np.isfinite(sums.deviance) and sums.n_boundary == 3
