"""Every registered executor gives the same sums as the dense one, on the same data.

The test is parametrized over the registry's matrix types (``engine.registry``), so a backend
that registers a new matrix type must say here how to build one from arrays, and is then held
to the same numbers on arrival: the pass (deviance, Pearson χ², score, Fisher information,
boundary count), the Fisher-information-vector product, R's starting sums, the magnitudes of the
score's terms and the rank check's R factor (up to the signs of its rows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from newtonglm.design.matrix import DenseMatrix, SparseMatrix
from newtonglm.engine import executor_for, registry
from newtonglm.families import Binomial, Family, Gaussian, Poisson, ProbitLink

#: Sums of the same products in another order (blocks, chunks, a sparse split).
RTOL = 1e-10

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: Build a matrix of a registered type holding X (intercept implicit) and its rows' y, w, offset.
Maker = Callable[[np.ndarray, bool, Arrays, Family], object]


def _dense(X: np.ndarray, intercept: bool, rows: Arrays, family: Family) -> object:
    return DenseMatrix(np.asfortranarray(X), intercept=intercept)


def _sparse(X: np.ndarray, intercept: bool, rows: Arrays, family: Family) -> object:
    return SparseMatrix(sp.csr_matrix(X), intercept=intercept)


def _dask(X: np.ndarray, intercept: bool, rows: Arrays, family: Family) -> object:
    da = pytest.importorskip("dask.array")
    from newtonglm.dask.inputs import from_arrays

    _, y, w, o = rows
    chunked = da.from_array(X, chunks=(137, -1))
    design, _ = from_arrays(chunked, y, w, o, fit_intercept=intercept, family=family)
    return design.X


MAKERS: dict[str, Maker] = {"DenseMatrix": _dense, "SparseMatrix": _sparse, "DaskMatrix": _dask}
FAMILIES: dict[str, Family] = {
    "poisson": Poisson(),
    "logit": Binomial(),
    "probit": Binomial(link=ProbitLink()),
    "gaussian": Gaussian(),
}


def _data(family: str) -> Arrays:
    rng = np.random.default_rng(7)
    n = 500
    X = rng.normal(size=(n, 3))
    X[:, 2] = (rng.random(n) < 0.2).astype(float)  # a sparse-ish dummy column
    eta = 0.3 + X @ np.array([0.4, -0.3, 0.5])
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "gaussian":
        y = eta + rng.normal(size=n)
    else:
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    w[:7] = 0.0  # rows of zero weight count in no sum and are left out of the rank check
    return X, y, w, rng.normal(0.0, 0.2, n)


def test_every_registered_matrix_type_is_tested_here() -> None:
    pytest.importorskip("dask")
    import newtonglm.dask  # noqa: F401  (registers its matrix type)

    assert {cls.__name__ for cls in registry._EXECUTORS} <= set(MAKERS)


@pytest.mark.parametrize("kind", [k for k in MAKERS if k != "DenseMatrix"])
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("intercept", [True, False])
def test_executor_matches_the_dense_executor(kind: str, family: str, intercept: bool) -> None:
    X, y, w, o = _data(family)
    fam = FAMILIES[family]
    reference = _dense(X, intercept, (X, y, w, o), fam)
    other = MAKERS[kind](X, intercept, (X, y, w, o), fam)
    dense_ex, ex = executor_for(reference), executor_for(other)
    assert type(ex) is not type(dense_ex)
    coef = np.linspace(-0.2, 0.3, X.shape[1] + int(intercept))
    if family == "poisson" and intercept:
        coef[0] = 0.3
    a = dense_ex.pass_sums(reference, y, w, o, coef, fam, keep_weights=True)
    b = ex.pass_sums(other, y, w, o, coef, fam, keep_weights=True)
    np.testing.assert_allclose(b.deviance, a.deviance, rtol=RTOL)
    np.testing.assert_allclose(b.pearson_chi2, a.pearson_chi2, rtol=RTOL)
    np.testing.assert_allclose(b.score, a.score, rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(b.fisher, a.fisher, rtol=RTOL, atol=1e-10)
    assert b.n_boundary == a.n_boundary
    v = np.arange(1.0, coef.size + 1.0)
    np.testing.assert_allclose(
        ex.hessp(other, b.work_weights, v), dense_ex.hessp(reference, a.work_weights, v), rtol=RTOL
    )
    for got, want in zip(
        ex.start_sums(other, y, w, o, fam),
        dense_ex.start_sums(reference, y, w, o, fam),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(
        ex.score_magnitude(other, y, w, o, coef, fam),
        dense_ex.score_magnitude(reference, y, w, o, coef, fam),
        rtol=RTOL,
    )
    (r_b, n_b), (r_a, n_a) = ex.r_factor(other, w), dense_ex.r_factor(reference, w)
    assert n_b == n_a == int((w > 0).sum())
    np.testing.assert_allclose(np.abs(r_b), np.abs(r_a), rtol=1e-9, atol=1e-9)
