"""Dask inputs: the same kernel on every chunk gives the in-memory fit, on both schedulers.

Every fit statistic of a Dask fit is compared with the numpy fit of the same data. The sums of a
Dask pass are added in another order (per chunk, then a tree), so they differ from the in-memory
ones by rounding only; RTOL says how far that may move each result.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from newtonglm import GLM, LogisticRegression, PoissonRegression  # noqa: E402
from newtonglm.engine.accumulate import Accumulator  # noqa: E402
from newtonglm.exceptions import (  # noqa: E402
    FormulaError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidWeightsError,
    MissingValueError,
    RankDeficientError,
    RankDeficientWarning,
)
from newtonglm.families import Binomial  # noqa: E402

#: Agreement of a Dask fit with the numpy fit. Newton-type and gradient solvers reproduce every
#: statistic to rounding. scipy's L-BFGS line search ends in the rounding noise of the deviance,
#: so sums that differ in the 16th digit move its last step, and its coefficients, by ~1e-8
#: relative (both within the tolerance of the optimum); its deviance-based statistics agree.
RTOL = 1e-10
LBFGS_COEF_RTOL = 1e-6

STATS = ("deviance_", "null_deviance_", "llf_", "aic_", "bic_", "pearson_chi2_")


@pytest.fixture(autouse=True)
def _threads():
    with dask.config.set(scheduler="threads"):
        yield


def _data(family: str, n: int = 6000, p: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    eta = 0.2 + X @ rng.normal(0.0, 0.4, p)
    offset = rng.normal(0.0, 0.2, n)
    weights = rng.uniform(0.5, 2.0, n)
    if family == "binomial":
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(eta + offset)))).astype(float)
    elif family == "poisson":
        y = rng.poisson(np.exp(eta + offset)).astype(float)
    else:
        y = eta + offset + rng.normal(0.0, 1.0, n)
    return X, y, weights, offset


def _assert_same_fit(a, b, coef_rtol: float = RTOL) -> None:
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=coef_rtol)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=coef_rtol)
    np.testing.assert_allclose(b.inference_.std_err, a.inference_.std_err, rtol=coef_rtol)
    for attr in STATS:
        np.testing.assert_allclose(getattr(b, attr), getattr(a, attr), rtol=RTOL, err_msg=attr)
    assert (b.df_model_, b.df_resid_, b.nobs_) == (a.df_model_, a.df_resid_, a.nobs_)
    assert (b.n_iter_, b.converged_, b.stop_reason_) == (a.n_iter_, a.converged_, a.stop_reason_)
    np.testing.assert_allclose(b.history_["deviance"], a.history_["deviance"], rtol=RTOL)
    assert b.term_names_ == a.term_names_


@pytest.mark.parametrize(
    ("family", "link"),
    [("binomial", None), ("binomial", "probit"), ("poisson", None), ("gaussian", None)],
)
def test_dask_array_fit_matches_numpy(family: str, link: str | None) -> None:
    X, y, w, off = _data(family)
    a = GLM(family=family, link=link).fit(X, y, sample_weight=w, offset=off)
    b = GLM(family=family, link=link).fit(
        da.from_array(X, chunks=(1000, 2)),  # column chunks are joined
        da.from_array(y, chunks=1700),  # rechunked to X's rows
        sample_weight=w,  # in memory: split like X
        offset=da.from_array(off, chunks=1000),
    )
    _assert_same_fit(a, b)


@pytest.mark.parametrize(
    "solver", ["newton", "gd", "gd-optimal", "lbfgs", "newton-cg", "trust-region", "newton-damped"]
)
@pytest.mark.filterwarnings("ignore::newtonglm.exceptions.ConvergenceWarning")
def test_dask_every_solver_matches_numpy(solver: str) -> None:
    X, y, _w, off = _data("binomial", n=3000)
    # gd needs ~1000 iterations here; 60 (stopping at max_iter) are enough to compare paths.
    kw = {"solver": solver, "max_iter": 60 if solver == "gd" else 5000}
    a = LogisticRegression(**kw).fit(X, y, offset=off)
    b = LogisticRegression(**kw).fit(da.from_array(X, chunks=(700, 4)), y, offset=off)
    _assert_same_fit(a, b, LBFGS_COEF_RTOL if solver == "lbfgs" else RTOL)
    assert b.n_passes_ == a.n_passes_


def test_dask_no_intercept_and_scale_match_numpy() -> None:
    X, y, w, off = _data("poisson")
    kw = {"fit_intercept": False, "scale": "X2"}
    a = PoissonRegression(**kw).fit(X, y, sample_weight=w, offset=off)
    b = PoissonRegression(**kw).fit(
        da.from_array(X, chunks=(900, 4)), y, sample_weight=w, offset=off
    )
    _assert_same_fit(a, b)
    assert b.scale_ == pytest.approx(a.scale_, rel=RTOL)


def _frame(n: int = 8000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.standard_normal(n),
            "z": rng.uniform(-1.0, 1.0, n),
            "g": rng.choice(["a", "b", "c"], n),
            "h": rng.integers(0, 3, n),
            "w": rng.integers(1, 4, n).astype(float),
            "expo": rng.uniform(0.5, 3.0, n),
        }
    )
    # Level "d" occurs only in the last partition: levels must come from all of the data.
    df.loc[n - 300 :, "g"] = "d"
    eta = 0.1 + 0.5 * df["x"] - 0.3 * df["z"] + 0.3 * (df["g"] == "b") - 0.2 * (df["g"] == "d")
    df["log_expo"] = np.log(df["expo"])
    df["count"] = rng.poisson(np.exp(eta + df["log_expo"])).astype(float)
    df["label"] = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-eta)), "yes", "no")
    return df


def test_dask_dataframe_formula_matches_pandas() -> None:
    df = _frame()
    formula = "count ~ x + z + C(g) + C(h) + x:C(g)"
    kw = {"sample_weight": "w", "offset": "log_expo"}
    a = PoissonRegression(formula=formula).fit(df, **kw)
    ddf = dd.from_pandas(df, npartitions=5)
    b = PoissonRegression(formula=formula).fit(ddf, **kw)
    _assert_same_fit(a, b)
    assert "C(g)[T.d]" in b.term_names_
    assert list(b.feature_names_in_) == list(a.feature_names_in_)
    pred = b.predict(ddf, offset="log_expo")
    assert dask.is_dask_collection(pred)
    np.testing.assert_allclose(pred.compute(), a.predict(df, offset="log_expo"), rtol=1e-12)


def test_dask_dataframe_classifier_labels_and_lazy_predictions() -> None:
    df = _frame()
    ddf = dd.from_pandas(df, npartitions=4)
    a = LogisticRegression(formula="label ~ x + C(g)").fit(df)
    b = LogisticRegression(formula="label ~ x + C(g)").fit(ddf)
    _assert_same_fit(a, b)
    assert list(b.classes_) == ["no", "yes"]
    proba = b.predict_proba(ddf)
    labels = b.predict(ddf)
    assert dask.is_dask_collection(proba) and dask.is_dask_collection(labels)
    np.testing.assert_allclose(proba.compute().to_numpy(), a.predict_proba(df), rtol=1e-12)
    assert (labels.compute().to_numpy() == a.predict(df)).all()


def test_dask_array_predictions_are_lazy_and_match() -> None:
    X, y, _w, _off = _data("binomial", n=2000)
    model = LogisticRegression().fit(da.from_array(X, chunks=(500, 4)), y)
    Xd = da.from_array(X, chunks=(300, 4))
    for method in ("predict", "predict_proba", "predict_mean", "decision_function"):
        lazy = getattr(model, method)(Xd)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_array_equal(lazy.compute(), getattr(model, method)(X))


def test_dask_rank_deficient_drop_matches_numpy() -> None:
    X, y, _w, _off = _data("poisson", n=3000)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.raises(RankDeficientError, match=r"\['x4'\]"):
        PoissonRegression().fit(da.from_array(X, chunks=(700, 5)), y)
    with pytest.warns(RankDeficientWarning, match="aliased"):
        a = PoissonRegression(on_rank_deficient="drop").fit(X, y)
    with pytest.warns(RankDeficientWarning, match="aliased"):
        b = PoissonRegression(on_rank_deficient="drop").fit(da.from_array(X, chunks=(700, 5)), y)
    assert np.isnan(b.coef_[4])
    np.testing.assert_allclose(b.coef_[:4], a.coef_[:4], rtol=RTOL)
    np.testing.assert_allclose(b.deviance_, a.deviance_, rtol=RTOL)


def test_dask_missing_values_raise_with_counts() -> None:
    X, y, _w, _off = _data("binomial", n=1000)
    X[[3, 500, 900], 1] = np.nan
    with pytest.raises(MissingValueError, match=r"3 of 1000 rows.*'x1' \(3 rows\)"):
        LogisticRegression().fit(da.from_array(X, chunks=(300, 4)), y)
    with pytest.raises(InvalidParameterError, match="missing='drop' is not supported with Dask"):
        LogisticRegression(missing="drop").fit(da.from_array(X, chunks=(300, 4)), y)
    df = _frame(n=2000)
    df.loc[[10, 1500], "z"] = np.nan
    with pytest.raises(MissingValueError, match=r"'z' \(2 rows\)"):
        PoissonRegression(formula="count ~ x + z").fit(dd.from_pandas(df, npartitions=3))


def test_dask_invalid_inputs_raise_clear_errors() -> None:
    X, y, w, _off = _data("poisson", n=1000)
    Xd = da.from_array(X, chunks=(300, 4))
    with pytest.raises(InvalidResponseError, match="needs y >= 0"):
        PoissonRegression().fit(Xd, -y - 1.0)
    with pytest.raises(InvalidWeightsError, match="1 of 1000 weights are negative"):
        PoissonRegression().fit(Xd, y, sample_weight=np.where(np.arange(1000) == 7, -1.0, w))
    with pytest.raises(InvalidParameterError, match="cov_type='HC0' is not available"):
        PoissonRegression(cov_type="HC0").fit(Xd, y)
    model = PoissonRegression().fit(Xd, y)
    with pytest.raises(InvalidParameterError, match="not computed for a Dask fit"):
        model.residuals()
    with pytest.raises(InvalidParameterError, match="not available for a Dask fit"):
        model.with_cov("HC1")
    df = _frame(n=1000)
    with pytest.raises(FormulaError, match="stateful transform"):
        PoissonRegression(formula="count ~ center(x)").fit(dd.from_pandas(df, npartitions=2))


@pytest.mark.parametrize("order", ["F", "C"])  # the compiled path, and the BLAS path's buffer
def test_accumulator_pickles_without_a_block_buffer(order: str) -> None:
    X, y, w, _off = _data("binomial", n=5000, p=20)
    acc = Accumulator(Binomial(), np.zeros(21), 20, True, 5000)
    acc.add_block(np.asarray(X, order=order), y, w, None)
    assert len(pickle.dumps(acc)) < 20_000  # the q x q sums (22 x 22 doubles), coefficients


def test_import_without_dask_still_works() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["dask"] = None  # any "import dask" now raises ImportError
        import numpy as np
        import newtonglm
        rng = np.random.default_rng(0)
        X = rng.standard_normal((200, 2))
        y = (rng.random(200) < 0.5).astype(float)
        model = newtonglm.LogisticRegression().fit(X, y)
        model.predict_proba(X)
        assert not any(name.startswith("dask") for name in sys.modules if sys.modules[name])
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


# -- dask.distributed: a LocalCluster of worker processes on loopback ----------------------------


def _cluster(n_workers: int = 2):
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    )


def test_distributed_local_cluster_matches_numpy() -> None:
    X, y, w, off = _data("poisson", n=5000)
    df = _frame(n=4000)
    a = PoissonRegression().fit(X, y, sample_weight=w, offset=off)
    af = LogisticRegression(formula="label ~ x + z + C(g)").fit(df)
    with _cluster() as cluster, distributed.Client(cluster):
        b = PoissonRegression().fit(
            da.from_array(X, chunks=(800, 4)), y, sample_weight=w, offset=off
        )
        bf = LogisticRegression(formula="label ~ x + z + C(g)").fit(
            dd.from_pandas(df, npartitions=4)
        )
        bl = PoissonRegression(solver="lbfgs").fit(da.from_array(X, chunks=(800, 4)), y)
    _assert_same_fit(a, b)
    _assert_same_fit(af, bf)
    al = PoissonRegression(solver="lbfgs").fit(X, y)
    _assert_same_fit(al, bl, LBFGS_COEF_RTOL)


def _block_that_kills_its_worker(block: np.ndarray, counter: str, kill_at: int, block_info=None):
    """X's chunk 1; at its ``kill_at``-th computation it kills the worker process running it."""
    if block_info[None]["chunk-location"][0] == 1:
        path = Path(counter)
        calls = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(calls))
        if calls == kill_at:
            Path(counter + ".killed").write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
    return block


def test_distributed_fit_survives_a_killed_worker(tmp_path: Path) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    X, y, _w, off = _data("binomial", n=4000)
    a = LogisticRegression().fit(X, y, offset=off)
    counter = str(tmp_path / "calls")
    # Passes: validation (1), starting WLS (2), Newton evaluations (3, 4, ...): the worker
    # computing chunk 1 dies in the middle of the second Newton evaluation.
    Xd = da.from_array(X, chunks=(1000, 4)).map_blocks(
        _block_that_kills_its_worker, counter, 4, dtype=np.float64
    )
    with _cluster() as cluster, distributed.Client(cluster) as client:
        before = set(client.run(os.getpid).values())
        b = LogisticRegression().fit(Xd, y, offset=off)
        client.wait_for_workers(2, timeout=60)
        after = set(client.run(os.getpid).values())
    killed = int(Path(counter + ".killed").read_text())
    assert killed in before and killed not in after
    assert int(Path(counter).read_text()) > 4  # chunk 1 was recomputed after the kill
    _assert_same_fit(a, b)


def test_dask_formula_model_remembers_its_offset_column() -> None:
    df = _frame()
    ddf = dd.from_pandas(df, npartitions=3)
    formula = "count ~ x + C(g)"
    on_dask = PoissonRegression(formula=formula).fit(ddf, offset="log_expo")
    in_memory = PoissonRegression(formula=formula).fit(df, offset="log_expo")
    expected = in_memory.predict(df)
    np.testing.assert_allclose(on_dask.predict(ddf).compute(), expected, rtol=1e-10)
    np.testing.assert_allclose(in_memory.predict(ddf).compute(), expected, rtol=1e-12)


def test_pandas_fitted_offset_terms_and_exposure_predict_on_dask() -> None:
    df = _frame().assign(expo=lambda d: np.exp(d["log_expo"]))
    ddf = dd.from_pandas(df, npartitions=3)
    by_term = PoissonRegression(formula="count ~ x + offset(np.log(expo))").fit(df)
    by_exposure = PoissonRegression(formula="count ~ x").fit(df, exposure="expo")
    for model in (by_term, by_exposure):
        np.testing.assert_allclose(model.predict(ddf).compute(), model.predict(df), rtol=1e-12)


def test_dask_refuses_offset_terms_and_exposure_in_words() -> None:
    ddf = dd.from_pandas(_frame().assign(expo=1.0), npartitions=2)
    with pytest.raises(InvalidParameterError, match=r"offset\(\.\.\.\) terms are not evaluated"):
        PoissonRegression(formula="count ~ x + offset(np.log(expo))").fit(ddf)
    with pytest.raises(InvalidParameterError, match=r"^exposure= is not taken with Dask inputs"):
        PoissonRegression(formula="count ~ x").fit(ddf, exposure="expo")
