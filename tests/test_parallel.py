"""Row-block threads: same sums as one thread, BLAS limits set and restored, user limits obeyed."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from newtonglm import LogisticRegression, PoissonRegression, parallel
from newtonglm.design.matrix import DenseMatrix
from newtonglm.engine import blocks
from newtonglm.families import Binomial, Poisson
from tests.helpers import hessp, pass_sums, start_sums

#: Sums over the same blocks added in a different grouping: rounding only.
RTOL_REGROUPED = 1e-12


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 rows x 6 columns per block, so a few thousand rows make dozens of blocks.
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 40 * 6 * 8)


def design(family: str, n: int = 3_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.normal(size=(n, 5)))
    eta = 0.2 + X @ np.array([0.4, -0.3, 0.2, 0.1, -0.1])
    if family == "binomial":
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(0.5 * eta)).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_pass_sums_on_threads_equal_one_thread(
    small_blocks: None, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y, w = design(family)
    fam = Binomial() if family == "binomial" else Poisson()
    coef = np.array([0.1, 0.3, -0.2, 0.1, 0.0, 0.05])
    M = DenseMatrix(X, intercept=True)
    offset = np.linspace(-0.1, 0.1, y.size)
    with threadpool_limits(1):
        serial = pass_sums(M, y, w, offset, coef, fam, keep_weights=True)
        start_serial = start_sums(M, y, w, offset, fam)
    threaded = parallel.map_groups(list(range(8)), lambda g: list(g), threads=3)
    assert threaded == [[0, 1], [2, 3, 4], [5, 6, 7]]  # contiguous groups, in order

    original = parallel.map_groups
    # Every pass on 3 threads, whatever the machine has.
    monkeypatch.setattr(parallel, "map_groups", lambda items, work: original(items, work, 3))
    many = pass_sums(M, y, w, offset, coef, fam, keep_weights=True)
    start_many = start_sums(M, y, w, offset, fam)
    assert many.deviance == pytest.approx(serial.deviance, rel=RTOL_REGROUPED)
    assert many.pearson_chi2 == pytest.approx(serial.pearson_chi2, rel=RTOL_REGROUPED)
    np.testing.assert_allclose(many.score, serial.score, rtol=RTOL_REGROUPED, atol=1e-12)
    np.testing.assert_allclose(many.fisher, serial.fisher, rtol=RTOL_REGROUPED)
    np.testing.assert_array_equal(many.work_weights, serial.work_weights)  # row by row
    assert many.n_boundary == serial.n_boundary
    v = np.array([0.3, -0.1, 0.2, 0.05, -0.4, 0.1])
    np.testing.assert_allclose(
        hessp(M, many.work_weights, v),
        serial.fisher @ v,
        rtol=RTOL_REGROUPED,
        atol=1e-10,
    )
    for a, b in zip(start_many, start_serial, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL_REGROUPED, atol=1e-12)


def test_serial_blas_limits_and_restores_when_nested() -> None:
    before = blas_threads()
    with parallel.serial_blas():
        assert blas_threads() == [1] * len(before)
        with parallel.serial_blas():
            assert parallel.n_threads(1_000) == min(max(before), parallel._cpus())
        assert blas_threads() == [1] * len(before)  # the inner exit does not restore
    assert blas_threads() == before


def test_fit_outside_the_main_thread_leaves_blas_alone_and_runs_serially(
    small_blocks: None,
) -> None:
    before = blas_threads()
    X, y, w = design("binomial", seed=2)
    seen: list = []

    def fit() -> None:
        seen.append((parallel.n_threads(1_000), blas_threads()))
        with parallel.serial_blas():
            seen.append((parallel.n_threads(1_000), blas_threads()))
        seen.append(LogisticRegression().fit(X, y).coef_)

    t = threading.Thread(target=fit)
    t.start()
    t.join(30)
    assert seen[0] == (1, before) and seen[1] == (1, before)
    np.testing.assert_allclose(seen[2], LogisticRegression().fit(X, y).coef_, rtol=1e-10)
    assert blas_threads() == before


def test_user_blas_limit_of_one_makes_the_kernel_serial() -> None:
    with threadpool_limits(1, user_api="blas"):
        assert parallel.n_threads(1_000) == 1
        with parallel.serial_blas():
            assert parallel.n_threads(1_000) == 1


def test_n_threads_needs_enough_blocks() -> None:
    assert parallel.n_threads(1) == 1
    assert parallel.n_threads(2 * parallel.MIN_BLOCKS_PER_THREAD - 1) == 1


def test_error_in_a_group_propagates_and_restores_blas() -> None:
    before = blas_threads()

    def work(group):
        if 0 in group:
            raise ValueError("boom")
        return len(group)

    with pytest.raises(ValueError, match="boom"):
        parallel.map_groups(list(range(8)), work, threads=2)
    assert blas_threads() == before


@pytest.mark.parametrize("model", [LogisticRegression, PoissonRegression])
def test_fit_on_threads_matches_fit_on_one_thread(small_blocks: None, model) -> None:
    X, y, w = design("binomial" if model is LogisticRegression else "poisson", seed=1)
    threaded = model().fit(X, y, sample_weight=w)
    with threadpool_limits(1):
        serial = model().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(threaded.coef_, serial.coef_, rtol=1e-10)
    np.testing.assert_allclose(threaded.cov_params_, serial.cov_params_, rtol=1e-10)
    assert threaded.deviance_ == pytest.approx(serial.deviance_, rel=1e-12)
    assert threaded.n_iter_ == serial.n_iter_
