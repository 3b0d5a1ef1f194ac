"""What ``fit`` does with the response it is handed: missing values, fractions, text labels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.exceptions import DataConversionWarning

from newtonglm import GLM, LogisticRegression, PoissonRegression
from newtonglm.exceptions import (
    DataWarning,
    InvalidParameterError,
    InvalidResponseError,
    MissingValueError,
)
from tests.helpers import simulate


@pytest.fixture
def arrays():
    df = simulate("poisson", n=80, seed=6)
    X, y = df[["x", "z"]].to_numpy(), df["y"].to_numpy().copy()
    y[[5, 20, 61]] = np.nan
    return X, y


def test_nan_y_on_the_array_path_is_dropped_with_missing_drop(arrays):
    X, y = arrays
    model = PoissonRegression(missing="drop", tol=1e-12).fit(X, y)
    assert model.n_dropped_ == 3
    keep = ~np.isnan(y)
    expected = sm.GLM(y[keep], sm.add_constant(X[keep]), family=sm.families.Poisson()).fit(
        tol=1e-13
    )
    np.testing.assert_allclose(model.coef_table()["coef"], expected.params, rtol=1e-9)


def test_nan_y_on_the_array_path_is_named_by_default(arrays):
    X, y = arrays
    with pytest.raises(
        MissingValueError,
        match=r"^input contains NaN or inf in 3 of 80 rows: 'y' \(3 rows\)\. Clean them, or pass "
        r"missing='drop' to drop those rows\.$",
    ):
        PoissonRegression().fit(X, y)


def test_missing_class_label_is_dropped_with_missing_drop(arrays):
    X, _ = arrays
    labels = np.where(np.arange(80) % 3 == 0, "yes", "no").astype(object)
    labels[[2, 9]] = None
    model = LogisticRegression(missing="drop").fit(X, labels)
    assert model.n_dropped_ == 2 and list(model.classes_) == ["no", "yes"]


def test_a_column_vector_y_warns_as_scikit_learn_does(arrays):
    X, y = arrays
    y = np.nan_to_num(y)[:, None]
    with pytest.warns(DataConversionWarning):
        PoissonRegression().fit(X, y)


def test_fit_without_y_says_what_is_needed(arrays):
    X, _ = arrays
    with pytest.raises(ValueError, match=r"requires y to be passed, but the target y is None"):
        PoissonRegression().fit(X)


@pytest.mark.parametrize("formula", [None, "y ~ x + z"])
def test_non_integer_poisson_counts_warn_as_r_does(formula):
    df = simulate("poisson", n=60, seed=1)
    df.loc[df.index[[4, 9]], "y"] += 0.5
    with pytest.warns(
        DataWarning,
        match=r"^family='poisson' with non-integer response: 2 values of 'y' are not whole "
        r"numbers \(first at row 4\); the coefficients are the quasi-likelihood ones, but llf_, "
        r"aic_ and bic_ are not a likelihood's",
    ):
        if formula is None:
            PoissonRegression().fit(df[["x", "z"]], df["y"])
        else:
            GLM(family="poisson", formula=formula).fit(df)


def test_integer_counts_and_zero_weight_fractions_do_not_warn():
    df = simulate("poisson", n=60, seed=1)
    weights = np.ones(60)
    df.loc[df.index[3], "y"] = 0.5
    weights[3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        PoissonRegression().fit(df[["x"]], df["y"], sample_weight=weights)
        PoissonRegression(formula="y ~ x").fit(df.drop(index=df.index[3]))


def test_first_non_integer_row_counts_rows_dropped_before_it():
    df = simulate("poisson", n=30, seed=2)
    df.loc[df.index[0], "x"] = np.nan
    df.loc[df.index[6], "y"] = 1.5
    with pytest.warns(DataWarning, match=r"\(first at row 6\)"):
        PoissonRegression(formula="y ~ x", missing="drop").fit(df)


def test_binomial_glm_with_text_labels_says_what_to_do():
    df = simulate("binomial", n=40, seed=3)
    df["answer"] = np.where(df["y"] == 1, "yes", "no")
    message = (
        r"^'answer' holds the labels '(yes|no)', '(yes|no)', but GLM\(family='binomial'\) needs "
        r"0/1 or proportions: use LogisticRegression \(any two labels; here P\('yes'\) is "
        r"modelled\), or code the response as 0/1, e\.g\. \(answer == 'yes'\)\.$"
    )
    with pytest.raises(InvalidResponseError, match=message):
        GLM(family="binomial", formula="answer ~ x").fit(df)
    with pytest.raises(InvalidResponseError, match=message.replace("answer", "y")):
        GLM(family="binomial").fit(df[["x"]], df["answer"])


def test_text_response_for_other_families():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "c", "d"]})
    with pytest.raises(
        InvalidResponseError,
        match=r"^'y' holds text \('a', 'b', 'c', \.\.\.\) but family='poisson' needs numbers",
    ):
        PoissonRegression(formula="y ~ x").fit(df)


def test_family_names_stay_case_sensitive_with_a_clear_error():
    with pytest.raises(
        InvalidParameterError,
        match=r"^family='Binomial' is not a known family; use one of \['binomial', 'gaussian', "
        r"'poisson'\]\.$",
    ):
        GLM(family="Binomial").fit(np.zeros((4, 1)), np.array([0.0, 1.0, 0.0, 1.0]))


def test_messages_count_rows_as_passed_when_earlier_rows_were_dropped():
    df = simulate("poisson", n=30, seed=2)
    df.loc[df.index[1], "x"] = np.nan
    bad_weights = df.assign(w=np.where(np.arange(30) == 5, -1.0, 1.0))
    with pytest.raises(ValueError, match=r"are negative \(first at row 5\)\.$"):
        PoissonRegression(formula="y ~ x", missing="drop").fit(bad_weights, sample_weight="w")
    negative = df.assign(y=np.where(np.arange(30) == 8, -2.0, df["y"]))
    with pytest.raises(InvalidResponseError, match=r"negative values \(first at row 8\)\.$"):
        PoissonRegression(formula="y ~ x", missing="drop").fit(negative)
    with pytest.raises(InvalidResponseError, match=r"negative values \(first at row 8\)\.$"):
        PoissonRegression(missing="drop").fit(negative[["x"]], negative["y"])
