"""Bad input gets a clear error (exact type and message), never a silent wrong answer."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from newtonglm import GLM, LogisticRegression, PoissonRegression
from newtonglm.exceptions import (
    ConvergenceWarning,
    EmptyDataError,
    FormulaError,
    InvalidInputError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidWeightsError,
    MissingValueError,
    PerfectSeparationWarning,
    RankDeficientError,
    RankDeficientWarning,
    ShapeMismatchError,
    UnseenLevelError,
)
from tests.helpers import simulate


@pytest.fixture
def frame():
    return simulate("poisson", n=200, seed=11)


def test_missing_raise_names_columns_and_rows(frame):
    frame.loc[[3, 5, 9], "x"] = np.nan
    frame.loc[4, "g"] = None
    with pytest.raises(MissingValueError, match=r"4 of 200 rows.*'g' \(1 rows\).*'x' \(3 rows\)"):
        PoissonRegression(formula="y ~ x + C(g)").fit(frame)


def test_missing_raise_array_names_feature_and_fix():
    X = np.arange(20.0).reshape(10, 2)
    X[2, 1] = np.inf
    with pytest.raises(
        MissingValueError,
        match=r"NaN or inf in 1 of 10 rows.*'x1' \(1 rows\)"
        r".*missing='drop'",
    ):
        PoissonRegression().fit(X, np.arange(10.0))


def test_missing_drop_records_n_dropped(frame):
    clean = PoissonRegression(formula="y ~ x + C(g)").fit(frame.drop(index=[3, 5]))
    frame.loc[[3, 5], "x"] = np.nan
    model = PoissonRegression(formula="y ~ x + C(g)", missing="drop").fit(frame)
    assert model.n_dropped_ == 2
    np.testing.assert_allclose(model.coef_, clean.coef_, rtol=1e-12)
    assert "Rows dropped (missing)" in str(model.summary())


def test_missing_drop_weights_and_offset_arrays(frame):
    w = frame["w"].to_numpy().copy()
    w[7] = np.nan
    model = PoissonRegression(formula="y ~ x", missing="drop").fit(frame, sample_weight=w)
    assert model.n_dropped_ == 1
    with pytest.raises(MissingValueError, match=r"'sample_weight' \(1 rows\)"):
        PoissonRegression(formula="y ~ x").fit(frame, sample_weight=w)


def test_missing_transform_result_named(frame):
    frame.loc[0, "z"] = -1.0
    with pytest.raises(MissingValueError, match=r"np\.log\(z \+ 1\).*1 rows"):
        PoissonRegression(formula="y ~ np.log(z + 1)").fit(frame)


def test_binomial_response_outside_unit_interval():
    X = np.random.default_rng(0).normal(size=(10, 1))
    y = np.array([0, 1, 2, 0, 1, 0, 1, 1.5, 0, 1])
    with pytest.raises(
        InvalidResponseError,
        match=r"y in \[0, 1\].*2 values outside \[0, 1\] "
        r"\(first at row 2\)",
    ):
        GLM(family="binomial").fit(X, y)


def test_logistic_needs_two_classes():
    X = np.random.default_rng(0).normal(size=(9, 1))
    with pytest.raises(InvalidResponseError, match=r"Only binary classification.*3 class"):
        LogisticRegression().fit(X, np.array(["a", "b", "c"] * 3))


def test_logistic_accepts_any_two_labels():
    df = simulate("binomial", n=300, seed=2)
    labels = np.where(df["y"] == 1, "yes", "no")
    model = LogisticRegression().fit(df[["x", "z"]], labels)
    assert list(model.classes_) == ["no", "yes"]
    assert set(model.predict(df[["x", "z"]])) <= {"no", "yes"}
    assert model.predict_proba(df[["x", "z"]]).shape == (300, 2)


def test_poisson_negative_counts():
    X = np.random.default_rng(0).normal(size=(30, 1))
    y = np.arange(30.0)
    y[[17, 20, 25]] = -1
    with pytest.raises(
        InvalidResponseError,
        match=r"column 'y' has 3 negative values "
        r"\(first at row 17\)",
    ):
        PoissonRegression().fit(X, y)


def test_poisson_negative_counts_formula_names_response(frame):
    frame.loc[5, "y"] = -2
    with pytest.raises(InvalidResponseError, match=r"column 'y' has 1 negative values"):
        PoissonRegression(formula="y ~ x").fit(frame)


def test_negative_weights():
    X = np.random.default_rng(0).normal(size=(10, 1))
    w = np.ones(10)
    w[4] = -1
    with pytest.raises(
        InvalidWeightsError,
        match=r"1 of 10 weights are negative \(first at row "
        r"4\)",
    ):
        PoissonRegression().fit(X, np.ones(10), sample_weight=w)


def test_all_zero_weights():
    X = np.random.default_rng(0).normal(size=(10, 1))
    with pytest.raises(InvalidWeightsError, match=r"zero for all 10 rows"):
        PoissonRegression().fit(X, np.ones(10), sample_weight=np.zeros(10))


def test_length_mismatch_weights_and_offset():
    X = np.random.default_rng(0).normal(size=(10, 1))
    with pytest.raises(ShapeMismatchError, match=r"sample_weight has 9 rows but X has 10"):
        PoissonRegression().fit(X, np.ones(10), sample_weight=np.ones(9))
    with pytest.raises(ShapeMismatchError, match=r"offset has 11 rows but X has 10"):
        PoissonRegression().fit(X, np.ones(10), offset=np.zeros(11))


def test_empty_data(frame):
    with pytest.raises(EmptyDataError, match=r"0 rows"):
        PoissonRegression(formula="y ~ x").fit(frame.iloc[:0])


def test_formula_missing_column(frame):
    with pytest.raises(
        FormulaError,
        match=r"names column\(s\) \['nope'\] that are not in the "
        r"data",
    ):
        PoissonRegression(formula="y ~ x + nope").fit(frame)


def test_formula_without_tilde(frame):
    with pytest.raises(FormulaError, match=r"has no '~'"):
        PoissonRegression(formula="x + z").fit(frame)


def test_formula_with_a_different_y_is_refused(frame):
    other = frame["y"] + 1
    with pytest.raises(
        InvalidParameterError,
        match=r"^y differs from the formula's response 'y' in \d+ of \d+ rows \(first at row 0\); "
        r"pass the same column, or no y, or use a one-sided formula",
    ):
        PoissonRegression(formula="y ~ x").fit(frame, other)


def test_unseen_level_names_column_and_level(frame):
    model = PoissonRegression(formula="y ~ x + C(g)").fit(frame)
    new = frame.head(3).copy()
    new.loc[new.index[1], "g"] = "zzz"
    with pytest.raises(UnseenLevelError, match=r"column 'g' has level\(s\) 'zzz' not seen"):
        model.predict(new)


def test_rank_deficient_raises_naming_aliased_columns(frame):
    frame["x2"] = 2.0 * frame["x"] - frame["z"]
    with pytest.raises(RankDeficientError, match=r"rank 3 < 4 columns.*\['x2'\]"):
        PoissonRegression(formula="y ~ x + z + x2").fit(frame)


def test_rank_deficient_drop_like_r(frame):
    frame["x2"] = 2.0 * frame["x"] - frame["z"]
    reference = PoissonRegression(formula="y ~ x + z").fit(frame)
    with pytest.warns(RankDeficientWarning, match=r"\['x2'\]"):
        model = PoissonRegression(formula="y ~ x + z + x2", on_rank_deficient="drop").fit(frame)
    table = model.coef_table()
    assert np.isnan(table.loc["x2", "coef"]) and np.isnan(table.loc["x2", "std_err"])
    np.testing.assert_allclose(
        table.loc[["Intercept", "x", "z"], "coef"], reference.coef_table()["coef"], rtol=1e-12
    )
    np.testing.assert_allclose(model.predict(frame), reference.predict(frame), rtol=1e-12)
    assert model.df_resid_ == reference.df_resid_
    assert "aliased" in str(model.summary())


def test_complete_separation_warns_and_not_converged():
    x = np.linspace(-2, 2, 40)
    y = (x > 0.1).astype(float)
    X = np.column_stack([x, np.random.default_rng(0).normal(size=40)])
    with pytest.warns(PerfectSeparationWarning, match=r"separated by column\(s\) \['x0'\]"):
        model = LogisticRegression().fit(X, y)
    assert not model.converged_
    assert model.separation_ == ["x0"]
    assert "separated" in str(model.summary())


def test_quasi_complete_separation_detected():
    rng = np.random.default_rng(1)
    g = np.repeat([0.0, 1.0], 50)
    y = np.where(g == 1, 1.0, rng.binomial(1, 0.4, size=100))  # every g == 1 row is a success
    X = np.column_stack([g, rng.normal(size=100)])
    with pytest.warns(PerfectSeparationWarning, match=r"\['x0'\]"):
        model = GLM(family="binomial").fit(X, y)
    assert not model.converged_


def test_no_separation_warning_on_ordinary_data():
    df = simulate("binomial", n=300, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression().fit(df[["x", "z"]], df["y"])
    assert model.converged_ and model.separation_ is None


def test_non_convergence_warns_and_flags():
    df = simulate("binomial", n=300, seed=5)
    with pytest.warns(ConvergenceWarning, match=r"did not converge.*max_iter.*Increase max_iter"):
        model = GLM(family="binomial", link="cloglog", max_iter=1).fit(df[["x", "z"]], df["y"])
    assert not model.converged_
    assert model.n_iter_ == 1


@pytest.mark.parametrize(
    "params,match",
    [
        ({"solver": "magic"}, r"solver='magic' is not a known solver"),
        ({"tol": -1.0}, r"tol must be a positive number"),
        ({"max_iter": 0}, r"max_iter must be a positive integer or None"),
        ({"learning_rate": 0.0}, r"learning_rate must be a positive number"),
        ({"missing": "ignore"}, r"missing='ignore' is not accepted"),
        ({"on_rank_deficient": "keep"}, r"on_rank_deficient='keep' is not accepted"),
        ({"family": "gamma"}, r"family='gamma' is not a known family"),
        ({"link": "probit", "family": "poisson"}, r"does not support link='probit'"),
    ],
)
def test_bad_parameters(params, match):
    X = np.random.default_rng(0).normal(size=(10, 1))
    with pytest.raises(InvalidParameterError, match=match):
        GLM(**{"family": "poisson", **params}).fit(X, np.ones(10))


def test_errors_are_value_errors():
    assert issubclass(MissingValueError, ValueError)
    assert issubclass(ConvergenceWarning, RuntimeWarning)
    assert issubclass(PerfectSeparationWarning, RuntimeWarning)


def test_predict_rejects_nan():
    df = simulate("poisson", n=50, seed=1)
    model = PoissonRegression().fit(df[["x", "z"]].to_numpy(), df["y"])
    X = df[["x", "z"]].to_numpy().copy()
    X[0, 0] = np.nan
    with pytest.raises(MissingValueError, match=r"NaN or inf in 1 of 50 rows"):
        model.predict(X)


def test_formula_predict_requires_dataframe():
    df = simulate("poisson", n=50, seed=1)
    model = PoissonRegression(formula="y ~ x").fit(df)
    with pytest.raises(ValueError, match=r"pass new data as a pandas DataFrame"):
        model.predict(np.zeros((3, 1)))


def test_formula_requires_dataframe():
    with pytest.raises(
        InvalidInputError,
        match=r"X must be a DataFrame \(pandas, polars, pyarrow, ...\) holding the columns the "
        r"formula names; got numpy.ndarray",
    ):
        PoissonRegression(formula="y ~ x").fit(np.zeros((3, 2)))


def test_proportion_response_rejected_by_classifier_but_fits_grouped():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4], "p": [0.1, 0.4, 0.5, 0.9], "n": [10, 10, 10, 10]})
    with pytest.raises(InvalidResponseError, match=r"continuous"):
        LogisticRegression(formula="p ~ x").fit(df)
    model = GLM(family="binomial", formula="p ~ x").fit(df, sample_weight="n")
    assert model.converged_


def test_near_collinear_column_kept_by_r_rule_after_exact_qr(frame):
    # Residual of x2 on (1, x) is ~1e-6 of its norm: above R's 1e-7, so R keeps it. The cheap
    # Gram check cannot tell (squared: 1e-12), so the exact QR pass decides.
    rng = np.random.default_rng(0)
    frame["x2"] = frame["x"] + 1e-6 * rng.normal(size=len(frame))
    model = PoissonRegression(formula="y ~ x + x2").fit(frame)
    assert np.isfinite(model.coef_).all()
    # The intercept start's evaluation, the solver's n_iter evaluations, the rank check's QR
    # pass, and — the information's rcond being ~1e-12 here — one QR of √W·X per Newton
    # direction (n_iter + 1 of them), which keeps the steps and the stop exact.
    assert model.start_ == "intercept"
    assert model.n_passes_ == model.n_iter_ + 2 + (model.n_iter_ + 1)


def test_missing_inside_stateful_transform_names_raw_column(frame):
    # formulaic does not list the arguments of center() among its required variables; the
    # factor expressions are read too, so the NaN is reported against 'z' itself (rather than
    # as 200 NaN rows of 'center(z)' after the mean became NaN).
    frame.loc[2, "z"] = np.nan
    with pytest.raises(MissingValueError, match=r"1 of 200 rows, in columns 'z' \(1 rows\)"):
        PoissonRegression(formula="y ~ x + center(z)").fit(frame)
