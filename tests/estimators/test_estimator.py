"""The estimator surface: fitted attributes, history, weights, formulas, sklearn tooling."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from newtonglm import GLM, LogisticRegression, PoissonRegression
from newtonglm.solvers.history import HISTORY_COLUMNS
from tests.helpers import simulate

RTOL = 1e-10  # same data, same solver: agreement limited only by the stopping rule


def test_history_columns_and_monotone_deviance():
    df = simulate("binomial", seed=4)
    model = LogisticRegression(formula="y ~ x + z + C(g)").fit(df)
    history = model.history_
    assert tuple(history.columns) == HISTORY_COLUMNS
    assert history["iteration"].tolist() == list(range(model.n_iter_ + 1))
    assert (np.diff(history["deviance"]) <= 1e-9).all()
    assert history["step_size"].iloc[1:].eq(1.0).all()
    assert np.isnan(history["step_norm"].iloc[0])
    assert (np.diff(history["seconds"]) >= 0).all()
    assert history["deviance"].iloc[-1] == pytest.approx(model.deviance_, rel=1e-14)
    # Newton on a canonical link: the score vanishes quadratically.
    assert history["grad_norm"].iloc[-1] < 1e-8 * history["grad_norm"].iloc[0]


def test_step_halving_recorded_when_full_step_overshoots():
    # A Poisson model whose first full step overshoots (huge counts with a far start).
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, size=200)
    y = rng.poisson(np.exp(0.1 + 0.9 * x)).astype(float)
    y[:5] = 0.0
    model = PoissonRegression(tol=1e-10).fit(x[:, None], y)
    assert model.converged_
    assert model.history_["step_size"].iloc[1:].le(1.0).all()
    ref = stats.poisson  # sanity: deviance finite and llf equals the scipy log-pmf sum
    mu = model.predict(x[:, None])
    np.testing.assert_allclose(model.llf_, ref.logpmf(y, mu).sum(), rtol=1e-8)


def test_integer_weights_equal_repeated_rows():
    df = simulate("poisson", n=120, seed=9)
    w = np.random.default_rng(0).integers(0, 4, size=120)
    X, y = df[["x", "z"]].to_numpy(), df["y"].to_numpy()
    weighted = PoissonRegression().fit(X, y, sample_weight=w)
    repeated = PoissonRegression().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=RTOL)
    np.testing.assert_allclose(
        weighted.coef_table()["std_err"], repeated.coef_table()["std_err"], rtol=1e-9
    )
    np.testing.assert_allclose(weighted.deviance_, repeated.deviance_, rtol=RTOL)
    np.testing.assert_allclose(weighted.llf_, repeated.llf_, rtol=RTOL)


def test_zero_weight_rows_are_ignored_like_r():
    df = simulate("binomial", n=150, seed=10)
    w = np.ones(150)
    w[:20] = 0.0
    X, y = df[["x", "z"]].to_numpy(), df["y"].to_numpy()
    full = LogisticRegression().fit(X, y, sample_weight=w)
    subset = LogisticRegression().fit(X[20:], y[20:])
    np.testing.assert_allclose(full.coef_, subset.coef_, rtol=RTOL)
    assert full.nobs_ == 130 and full.df_resid_ == subset.df_resid_
    np.testing.assert_allclose(full.aic_, subset.aic_, rtol=RTOL)
    np.testing.assert_allclose(full.bic_, subset.bic_, rtol=RTOL)


def test_row_permutation_invariance():
    df = simulate("poisson", n=200, seed=12)
    perm = np.random.default_rng(1).permutation(200)
    a = PoissonRegression(formula="y ~ x + C(g)").fit(df)
    b = PoissonRegression(formula="y ~ x + C(g)").fit(df.iloc[perm])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=RTOL)


def test_column_rescaling_changes_coefficient_by_scale_only():
    df = simulate("binomial", n=300, seed=13)
    X = df[["x", "z"]].to_numpy()
    a = LogisticRegression().fit(X, df["y"])
    b = LogisticRegression().fit(X * np.array([1000.0, 1.0]), df["y"])
    np.testing.assert_allclose(b.coef_ * np.array([1000.0, 1.0]), a.coef_, rtol=1e-9)
    np.testing.assert_allclose(b.deviance_, a.deviance_, rtol=1e-12)
    np.testing.assert_allclose(b.coef_table()["z"], a.coef_table()["z"], rtol=1e-8)


def test_coef_table_columns_alpha_and_names():
    df = simulate("binomial", seed=14)
    model = LogisticRegression(formula="y ~ x * C(g)").fit(df)
    table = model.coef_table(alpha=0.1)
    assert list(table.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    assert list(table.index) == [
        "Intercept",
        "x",
        "C(g)[T.b]",
        "C(g)[T.c]",
        "x:C(g)[T.b]",
        "x:C(g)[T.c]",
    ]
    q = stats.norm.ppf(0.95)
    np.testing.assert_allclose(table["ci_upper"] - table["coef"], q * table["std_err"])
    assert model.intercept_ == table.loc["Intercept", "coef"]
    np.testing.assert_array_equal(model.coef_, table["coef"].iloc[1:])


def test_array_names_intercept_and_dataframe_features():
    df = simulate("poisson", seed=15)
    model = PoissonRegression().fit(df[["x", "z"]], df["y"])
    assert list(model.coef_table().index) == ["intercept", "x", "z"]
    assert list(model.feature_names_in_) == ["x", "z"]


def test_fit_intercept_false_with_formula_removes_intercept():
    df = simulate("poisson", seed=16)
    model = PoissonRegression(formula="y ~ x + z", fit_intercept=False).fit(df)
    assert "Intercept" not in model.coef_table().index
    assert model.intercept_ == 0.0


def test_predict_new_data_reuses_levels_and_offset():
    df = simulate("poisson", seed=17)
    model = PoissonRegression(formula="y ~ x + C(g)").fit(df, offset=np.log(df["expo"]))
    new = df.iloc[[5, 1, 2]].copy()  # fewer levels than the fit saw: same columns anyway
    new["g"] = ["c", "c", "c"]
    mu = model.predict(new, offset=np.log(new["expo"]))
    table = model.coef_table()["coef"]
    eta = table["Intercept"] + table["x"] * new["x"] + table["C(g)[T.c]"] + np.log(new["expo"])
    np.testing.assert_allclose(mu, np.exp(eta), rtol=1e-12)


def test_grouped_binomial_via_formula_proportion():
    from newtonglm import datasets

    df = datasets.load("menarche")
    df["p"] = df["menarche"] / df["total"]
    model = GLM(family="binomial", formula="p ~ age").fit(df, sample_weight="total")
    assert model.converged_ and model.df_resid_ == len(df) - 2


def test_summary_text_and_html():
    df = simulate("binomial", seed=18)
    model = LogisticRegression(formula="y ~ x + z").fit(df)
    text = str(model.summary())
    for label in (
        "binomial",
        "logit",
        "newton",
        "Observations",
        "Df residuals",
        "Deviance",
        "Pearson chi2",
        "Log-likelihood",
        "AIC",
        "BIC",
        "Iterations",
        "Converged",
        "std_err",
        "p_value",
    ):
        assert label in text
    html = model.summary()._repr_html_()
    assert html.startswith("<div>") and "<table" in html and "ci_upper" in html


def test_verbose_writes_one_line_per_iteration(capsys):
    df = simulate("binomial", seed=19)
    model = LogisticRegression(verbose=1).fit(df[["x", "z"]], df["y"])
    err = capsys.readouterr().err
    assert err.count("[newtonglm] iter") == model.n_iter_ + 1


def test_pickle_round_trip_formula_model():
    df = simulate("poisson", seed=20)
    model = PoissonRegression(formula="y ~ x + C(g)").fit(df)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(df), model.predict(df))
    pd.testing.assert_frame_equal(again.coef_table(), model.coef_table())


def test_pipeline_clone_gridsearch_cross_val():
    df = simulate("binomial", n=300, seed=21)
    X, y = df[["x", "z"]].to_numpy(), df["y"].to_numpy()
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and (scores > 0.5).all()
    search = GridSearchCV(LogisticRegression(), {"link": ["logit", "probit"]}, cv=3).fit(X, y)
    assert search.best_params_["link"] in {"logit", "probit"}
    cloned = clone(LogisticRegression(link="probit", tol=1e-10))
    assert cloned.get_params()["link"] == "probit" and not hasattr(cloned, "coef_")


def test_poisson_score_is_deviance_explained():
    df = simulate("poisson", seed=22)
    model = PoissonRegression().fit(df[["x", "z"]], df["y"])
    d2 = model.score(df[["x", "z"]], df["y"])
    np.testing.assert_allclose(d2, 1 - model.deviance_ / model.null_deviance_, rtol=1e-10)


def test_passes_over_x_are_counted():
    df = simulate("binomial", seed=23)
    model = LogisticRegression().fit(df[["x", "z"]], df["y"])
    # WLS start (its Gram also settles the rank check) + start point + one per accepted step
    assert model.n_passes_ == model.n_iter_ + 2


def test_lazy_frames_absent_before_fit_and_separate_after_with_cov():
    model = LogisticRegression()
    for attr in ("history_", "cov_params_"):
        assert not hasattr(model, attr)
    df = simulate("binomial", seed=5)
    X, y = df[["x", "z"]].to_numpy(), df["y"].to_numpy()
    model.fit(X, y)
    history, cov = model.history_, model.cov_params_
    assert model.history_ is history and model.cov_params_ is cov  # built once
    robust = model.with_cov("HC0")
    assert model.cov_params_ is cov
    np.testing.assert_allclose(robust.cov_params_.to_numpy(), robust.inference_.cov, rtol=0)
    assert not np.allclose(robust.cov_params_.to_numpy(), cov.to_numpy(), rtol=1e-6)
    model.fit(X[:150], y[:150])  # a refit replaces both
    assert model.history_ is not history and model.cov_params_ is not cov
    assert len(pickle.loads(pickle.dumps(model)).history_) == len(model.history_)


def test_unit_weights_and_binary_float_response_cost_no_n_vectors():
    df = simulate("binomial", seed=6)
    X, y = np.asfortranarray(df[["x", "z"]].to_numpy()), df["y"].to_numpy(dtype=np.float64)
    model = LogisticRegression().fit(X, y)
    design = model.result_.design
    assert design.weights.strides == (0,) and not design.weights.flags.writeable
    assert np.shares_memory(design.y, y)  # the 0.0 / 1.0 response is used as given
    assert np.shares_memory(design.X.data, X)
    weighted = LogisticRegression().fit(X, y, sample_weight=np.full(y.size, 2.0))
    assert weighted.result_.design.weights.strides == (8,)
    # Doubled weights double the deviance: the same MLE, reached along a different path.
    np.testing.assert_allclose(weighted.coef_, model.coef_, rtol=1e-6)
