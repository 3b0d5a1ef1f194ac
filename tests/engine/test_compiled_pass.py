"""The compiled GLM pass (newtonglm._gram.glm_pass / glm_rows) against the NumPy path.

The compiled kernel evaluates the canonical binomial, Poisson and Gaussian families row by row
with its own vectorised exp and log; every sum of a pass (deviance, Pearson's χ², score, Fisher
information, boundary count, working weights) must match the NumPy path of
:class:`newtonglm.engine.accumulate.Accumulator`, and the deviance must not depend on the block
split.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from newtonglm import _gram
from newtonglm.design import validate
from newtonglm.design.matrix import DenseMatrix, SparseMatrix
from newtonglm.engine import accumulate, gram
from newtonglm.engine.accumulate import PassSums
from newtonglm.families import Binomial, Family, Gaussian, Poisson, get_family
from tests.helpers import numpy_rows, pass_sums, start_sums

#: Both paths add the same terms in a different order, with exp/log within 2 ulp.
RTOL = 1e-11

FAMILIES = {"binomial": Binomial(), "poisson": Poisson(), "gaussian": Gaussian()}


def _data(family: str, n: int, p: int, seed: int, scale: float = 0.4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = rng.normal(0.0, scale, p + 1)
    eta = coef[0] + X @ coef[1:]
    if family == "binomial":
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = eta + rng.standard_normal(n)
    return X, y, coef


def _passes(
    M: DenseMatrix | SparseMatrix,
    y: np.ndarray,
    weights: np.ndarray,
    offset: np.ndarray | None,
    coef: np.ndarray,
    family: Family,
    **kw: bool,
) -> tuple[PassSums, PassSums]:
    """The pass with the compiled kernel, and with the NumPy path."""
    compiled = pass_sums(M, y, weights, offset, coef, family, **kw)
    with numpy_rows():
        reference = pass_sums(M, y, weights, offset, coef, family, **kw)
    return compiled, reference


def _assert_same(a: PassSums, b: PassSums, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(a.deviance, b.deviance, rtol=rtol)
    np.testing.assert_allclose(a.pearson_chi2, b.pearson_chi2, rtol=rtol)
    assert a.n_boundary == b.n_boundary
    for name in ("score", "fisher", "work_weights"):
        x, ref = getattr(a, name), getattr(b, name)
        assert (x is None) == (ref is None), name
        if ref is not None:
            atol = 1e-12 * max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(x, ref, rtol=rtol, atol=atol, err_msg=name)


def test_compiled_pass_is_used() -> None:
    assert accumulate.fused_code(Binomial()) == 0
    assert accumulate.fused_code(Poisson()) == 1
    assert accumulate.fused_code(Gaussian()) == 2
    for family, link in [("binomial", "probit"), ("binomial", "cloglog"), ("gaussian", "log")]:
        assert accumulate.fused_code(get_family(family, link)) is None


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(
    "layout", ["F", "C", "C wide", "F wide", "strided"], ids=lambda s: s.replace(" ", "-")
)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("offset", [False, True])
@pytest.mark.parametrize(("score", "fisher"), [(True, True), (True, False), (False, False)])
def test_compiled_pass_matches_numpy(
    family: str, layout: str, weighted: bool, offset: bool, score: bool, fisher: bool
) -> None:
    # Wide blocks take the packed kernel (from 32 columns row-major, 80 column-major).
    p = {"C wide": 41, "F wide": 85}.get(layout, 6)
    X, y, coef = _data(family, 3003, p, seed=len(layout) + 10 * weighted + 100 * offset)
    coef = coef / np.sqrt(p / 6)
    if layout in ("F", "F wide"):
        X = np.asfortranarray(X)
    elif layout == "strided":  # every other column: neither layout, eta by BLAS, Gram by syrk
        X = np.asfortranarray(np.repeat(X, 2, axis=1))[:, ::2]
    rng = np.random.default_rng(7)
    w = rng.uniform(0.2, 3.0, y.size) if weighted else np.ones(y.size)
    if weighted:
        w[::50] = 0.0  # rows of weight 0 take no part
    off = rng.normal(0.0, 0.3, y.size) if offset else None
    for intercept in (True, False):
        M = DenseMatrix(X, intercept=intercept)
        c = coef if intercept else coef[1:]
        a, b = _passes(
            M,
            y,
            w,
            off,
            c,
            FAMILIES[family],
            score=score,
            fisher=fisher,
            keep_weights=True,
            unit_weights=not weighted,
        )
        _assert_same(a, b)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 31, 33, 2047, 2049, 4100])
def test_compiled_pass_every_tail_length(family: str, n: int) -> None:
    X, y, coef = _data(family, n, 3, seed=n)
    for X_ in (X, np.asfortranarray(X)):
        a, b = _passes(DenseMatrix(X_, intercept=True), y, np.ones(n), None, coef, FAMILIES[family])
        _assert_same(a, b)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("p", [0, 1, 7, 8, 9, 23, 24, 25, 47])
@pytest.mark.parametrize("m", [1, 8, 129, 2049, 5000])
def test_packed_kernel_matches_tiles(family: str, order: str, p: int, m: int) -> None:
    """The wide blocks' packed kernel (forced here at every width) against the 4 x 4 tiles.

    Widths around the packed rows' multiples of 8 and 24 columns; lengths around its 128-row
    sub-blocks and its chunks; the fused pass and R's start, with and without an intercept.
    """
    X, y, coef = _data(family, m, p, seed=p * 7 + m)
    if order == "F":
        X = np.asfortranarray(X)
    rng = np.random.default_rng(m + p)
    w = rng.uniform(0.2, 3.0, m)
    off = rng.normal(0.0, 0.2, m)
    code = accumulate.fused_code(FAMILIES[family])
    for intercept in (True, False):
        d = p + int(intercept)
        c = coef if intercept else coef[1:]
        for start in (False, True):
            out = []
            for packed in (0, 1):
                G = np.zeros((d + 1, d + 1), order="F")  # one column more, as a _Gram has
                S = np.zeros(d)
                wout = None if start else np.zeros(m)
                sums = _gram.glm_pass(
                    X, None if start else c, intercept, off, y, w, code, G, S, wout, packed
                )
                out.append((np.triu(G), S, wout, sums))
            (G0, S0, w0, s0), (G1, S1, w1, s1) = out
            scale = max(1.0, float(np.abs(G0).max(initial=0.0)))
            np.testing.assert_allclose(G1, G0, rtol=1e-12, atol=1e-13 * scale)
            scale = max(1.0, float(np.abs(S0).max(initial=0.0)))
            np.testing.assert_allclose(S1, S0, rtol=1e-12, atol=1e-13 * scale)
            if not start:
                np.testing.assert_allclose(w1, w0, rtol=1e-12)
            np.testing.assert_allclose(s1[0] + s1[1], s0[0] + s0[1], rtol=1e-13)
            np.testing.assert_allclose(s1[2] + s1[3], s0[2] + s0[3], rtol=1e-13)
            assert s1[4] == s0[4]


def test_binomial_extreme_eta_exact() -> None:
    """|eta| up to 800: the deviance in its log-sum-exp form, the clipped rows counted."""
    rng = np.random.default_rng(3)
    n = 4000
    eta = np.concatenate([rng.uniform(-800, 800, n // 2), rng.uniform(-40, 40, n // 2)])
    y = (rng.random(n) < 0.5).astype(float)
    X = eta[:, None].copy()
    w = np.ones(n)
    a, b = _passes(DenseMatrix(X), y, w, None, np.array([1.0]), Binomial())
    # Exact: d = 2 log(1 + e^(-eta)) for y = 1, 2 log(1 + e^eta) for y = 0.
    exact = 2.0 * np.sum(np.logaddexp(0.0, np.where(y == 1.0, -eta, eta)))
    np.testing.assert_allclose(a.deviance, exact, rtol=1e-14)
    with np.errstate(over="ignore"):
        mu = 1.0 / (1.0 + np.exp(-eta))
    eps = np.finfo(float).eps
    assert a.n_boundary == b.n_boundary == int(np.sum((mu < eps) | (mu > 1.0 - eps)))
    np.testing.assert_allclose(a.score, b.score, rtol=1e-13)
    np.testing.assert_allclose(a.fisher, b.fisher, rtol=1e-13)


@pytest.mark.parametrize("eta", [15.0, 24.0, 36.0, -15.0, -24.0])
def test_binomial_large_eta_more_exact_than_one_minus_mu(eta: float) -> None:
    """At eta = 24, y = 0 the deviance is 2 softplus(24), not -2 log(1 - mu) (cancellation)."""
    y = np.array([0.0 if eta > 0 else 1.0])
    a, b = _passes(DenseMatrix(np.array([[eta]])), y, np.ones(1), None, np.ones(1), Binomial())
    exact = 2.0 * np.logaddexp(0.0, abs(eta))
    np.testing.assert_allclose(a.deviance, exact, rtol=1e-15)
    np.testing.assert_allclose(b.deviance, exact, rtol=1e-15)


def test_binomial_proportions() -> None:
    """y in [0, 1] with weights as trials, mixed with 0/1 rows and rows at their mean."""
    rng = np.random.default_rng(11)
    n = 3001
    X = rng.standard_normal((n, 3))
    coef = np.array([0.2, 0.5, -0.3, 0.8])
    trials = rng.integers(1, 20, n).astype(float)
    mu = 1.0 / (1.0 + np.exp(-(coef[0] + X @ coef[1:])))
    y = rng.binomial(trials.astype(int), mu) / trials
    y[::7] = (rng.random(y[::7].size) < 0.5).astype(float)
    X[5] = 0.0  # row 5: mu = expit(0.2) exactly ...
    y[5] = 1.0 / (1.0 + np.exp(-0.2))  # ... and y at it
    X[9] = [900.0, 0.0, 0.0]  # mu clipped at 1 - eps, a proportion y
    y[9] = 0.75
    a, b = _passes(DenseMatrix(X, intercept=True), y, trials, None, coef, Binomial())
    _assert_same(a, b)
    assert a.n_boundary == 1


def test_poisson_extremes() -> None:
    """eta below exp's range and at the log link's cap (709); zero and large counts."""
    eta = np.array([-800.0, -745.5, -740.0, -40.0, -1.0, 0.0, 3.0, 20.0, 700.0, 709.5, 750.0])
    y = np.array([0.0, 1.0, 7.0, 1e6, 0.5])
    # Intercept-only with eta as the offset: the sums stay finite (mu up to e^709, one row each).
    for e in eta:
        off = np.full(y.size, e)
        M = DenseMatrix(np.zeros((y.size, 0)), intercept=True)
        a, b = _passes(M, y, np.ones(y.size), off, np.zeros(1), Poisson())
        _assert_same(a, b, rtol=1e-13)
        assert a.n_boundary == (y.size if e < -36.0 else 0)


def test_nan_coefficients_give_nan_sums() -> None:
    X, y, coef = _data("binomial", 100, 2, seed=1)
    coef[1] = np.nan
    a, b = _passes(DenseMatrix(X, intercept=True), y, np.ones(100), None, coef, Binomial())
    assert np.isnan(a.deviance) and np.isnan(b.deviance)
    assert np.isnan(a.fisher).any() and np.isnan(b.fisher).any()


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_deviance_does_not_depend_on_block_split(family: str) -> None:
    """Compensated sums: the same deviance, to the last bit, however the rows are split."""
    X, y, coef = _data(family, 30_000, 4, seed=5)
    fam = FAMILIES[family]
    totals = set()
    for step in (30_000, 700, 2048, 4999):
        acc = accumulate.Accumulator(fam, coef, 4, True, step, unit_weights=True)
        for start in range(0, y.size, step):
            rows = slice(start, start + step)
            acc.add_block(X[rows], y[rows], np.ones(y[rows].size), None)
        totals.add(acc.result().deviance)
    assert len(totals) == 1


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_sparse_design_uses_the_compiled_rows(family: str) -> None:
    rng = np.random.default_rng(2)
    n = 4000
    dense = rng.standard_normal((n, 2))
    groups = rng.integers(0, 30, n)
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), groups)), shape=(n, 30))
    X = sp.hstack([sp.csr_matrix(dense), onehot[:, 1:]], format="csr")
    coef = np.concatenate([[0.1, 0.3, -0.2], rng.normal(0.0, 0.3, 29)])
    eta = coef[0] + X @ coef[1:]
    y = (
        (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
        if family == "binomial"
        else rng.poisson(np.exp(eta)).astype(float)
    )
    M = SparseMatrix(X, intercept=True)
    a, b = _passes(M, y, np.ones(n), None, coef, FAMILIES[family])
    _assert_same(a, b)


def test_glm_rows_exp_within_two_ulp() -> None:
    """The kernel's exp (Poisson's mean, W = mu at y = 0) against NumPy's, over its range."""
    rng = np.random.default_rng(0)
    eta = np.concatenate([rng.uniform(-36, 709, 100_000), rng.standard_normal(100_000)])
    W, U = np.empty(eta.size), np.empty(eta.size)
    _gram.glm_rows(eta, np.zeros(eta.size), None, 1, W, U)
    ref = np.exp(eta)
    assert np.max(np.abs(W - ref) / np.spacing(ref)) <= 2.0


def test_glm_rows_log_within_two_ulp() -> None:
    """The kernel's log, through Poisson's deviance row by row at mu = 1: 2 (y log y - y + 1)."""
    y = np.concatenate([np.geomspace(1e-300, 1e300, 3000), np.linspace(0.5, 2.0, 3001)])
    for yi in y:
        dev, dev_c, *_ = _gram.glm_rows(
            np.zeros(1), np.array([yi]), None, 1, np.empty(1), np.empty(1)
        )
        ref = 2.0 * ((np.log(yi) * yi - yi) + 1.0)
        assert abs(dev + dev_c - max(ref, 0.0)) <= 4.0 * np.spacing(abs(yi * np.log(yi)) + yi + 1.0)


def test_glm_kernel_argument_errors() -> None:
    eta, y, W, U = np.zeros(4), np.zeros(4), np.empty(4), np.empty(4)
    with pytest.raises(ValueError, match="unknown family code 3"):
        _gram.glm_rows(eta, y, None, 3, W, U)
    with pytest.raises(ValueError, match="y must be a contiguous float64 vector of length 4"):
        _gram.glm_rows(eta, np.zeros(3), None, 0, W, U)
    with pytest.raises(ValueError, match="coef must be a contiguous float64 vector of length 3"):
        _gram.glm_pass(np.zeros((4, 2)), np.zeros(2), True, None, y, None, 0, None, None, None)
    with pytest.raises(ValueError, match="G must be a Fortran-ordered float64"):
        _gram.glm_pass(
            np.zeros((4, 2)),
            np.zeros(3),
            True,
            None,
            y,
            None,
            0,
            np.zeros((2, 2), order="F"),
            None,
            None,
        )
    with pytest.raises(ValueError, match="A must be a column-major or row-major"):
        _gram.glm_pass(
            np.zeros((4, 4))[:, ::2], np.zeros(2), False, None, y, None, 0, None, None, None
        )


@pytest.mark.parametrize(
    "layout", ["C", "F", "C column slice", "every other column", "every third row"]
)
@pytest.mark.parametrize("n", [5, 2049, 300_000])
def test_nonfinite_rows_scan(layout: str, n: int) -> None:
    """The compiled row scan of validate.nonfinite_rows (threaded when large) against NumPy."""
    rng = np.random.default_rng(n)
    base = rng.standard_normal((3 * n, 8))
    bad_rows = rng.choice(3 * n, size=min(4, n), replace=False)
    base[bad_rows, rng.integers(0, 8, bad_rows.size)] = [np.nan, np.inf, -np.inf, np.nan][
        : bad_rows.size
    ]
    base[0, 0] = 1e308  # finite values whose row sum overflows are not flagged
    base[0, 1] = 1e308
    X = {
        "C": base[:n],
        "F": np.asfortranarray(base[:n]),
        "C column slice": base[:n, 2:5],
        "every other column": base[:n, ::2],
        "every third row": base[::3],
    }[layout]
    expected = ~np.isfinite(X).all(axis=1)
    assert validate._scannable(X) == (layout != "every other column")
    np.testing.assert_array_equal(validate.nonfinite_rows(X), expected)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("layout", ["F", "C", "strided"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("offset", [False, True])
def test_compiled_start_matches_numpy(
    family: str, layout: str, weighted: bool, offset: bool
) -> None:
    """R's start (the weighted least squares at mustart) on the compiled path and on NumPy's."""
    X, y, _coef = _data(family, 3003, 5, seed=3)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.asfortranarray(np.repeat(X, 2, axis=1))[:, ::2]
    rng = np.random.default_rng(8)
    if family == "binomial" and weighted:  # proportions of trials
        w = rng.integers(1, 9, y.size).astype(float)
        y = rng.binomial(w.astype(int), 0.3) / w
    else:
        w = rng.uniform(0.2, 3.0, y.size) if weighted else np.ones(y.size)
    if weighted:
        w[::40] = 0.0
    off = rng.normal(0.0, 0.3, y.size) if offset else None
    fam = FAMILIES[family]
    for intercept in (True, False):
        M = DenseMatrix(X, intercept=intercept)
        gram, rhs = start_sums(M, y, w, off, fam)
        with numpy_rows():
            ref_gram, ref_rhs = start_sums(M, y, w, off, fam)
        np.testing.assert_allclose(gram, ref_gram, rtol=RTOL, atol=1e-12 * np.abs(ref_gram).max())
        np.testing.assert_allclose(rhs, ref_rhs, rtol=RTOL, atol=1e-12 * np.abs(ref_rhs).max())


def test_blocks_wider_than_the_packed_kernel() -> None:
    """Past PACKED_MAX_COLS a C-ordered block goes to BLAS and a Fortran one to the tiles."""
    assert gram._compiled is not None
    p = gram._compiled.PACKED_MAX_COLS + 6
    X, y, coef = _data("binomial", 1500, p, seed=3, scale=0.02)
    sums = []
    for X_ in (X, np.asfortranarray(X)):
        M = DenseMatrix(X_, intercept=True)
        sums.append(pass_sums(M, y, np.ones(y.size), None, coef, Binomial()))
    _assert_same(sums[0], sums[1])
