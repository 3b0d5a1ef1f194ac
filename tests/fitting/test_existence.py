"""Maximum-likelihood estimates that do not exist: found, named, never a normal converged fit.

Issue 20's classes: a Poisson factor level whose counts are all 0 (and any direction with the same
effect), binomial separation with weights (zeros included), grouped proportions, probit and
cloglog links and rare factor levels; and pyfixest's remedy for Poisson, ``separation="drop"``,
against statsmodels on the data without those rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import newtonglm as ng
from newtonglm.exceptions import (
    InvalidParameterError,
    PerfectSeparationWarning,
    PoissonSeparationWarning,
)
from newtonglm.fitting.existence import binomial_separation, poisson_separation


def _zero_level_counts() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(list("abcd"), size=n)})
    df["c"] = rng.poisson(np.exp(0.2 * df.x)).astype(float)
    df.loc[df.g == "d", "c"] = 0.0
    return df


def test_poisson_zero_level_is_named_with_its_rows() -> None:
    df = _zero_level_counts()
    n_d = int((df.g == "d").sum())
    with pytest.warns(
        PoissonSeparationWarning, match=rf"{n_d} rows with count 0 .* \['C\(g\)\[T.d\]'\]"
    ):
        model = ng.PoissonRegression(formula="c ~ x + C(g)").fit(df)
    assert not model.converged_
    assert model.separation_ == ["C(g)[T.d]"]
    assert issubclass(PoissonSeparationWarning, PerfectSeparationWarning)


def test_poisson_separation_drop_equals_the_fit_without_those_rows(smf_formulaic) -> None:
    df = _zero_level_counts()
    with pytest.warns(PoissonSeparationWarning, match=r"separation='drop' dropped \d+ rows"):
        model = ng.PoissonRegression(formula="c ~ x + C(g)", separation="drop").fit(df)
    assert model.converged_ and model.n_separated_ == int((df.g == "d").sum())
    ref = smf_formulaic.glm("c ~ x + C(g)", df[df.g != "d"], family=sm.families.Poisson()).fit(
        tol=1e-12
    )
    table = model.coef_table()
    assert np.isnan(table.loc["C(g)[T.d]", "coef"])
    for term in ref.params.index:
        assert table.loc[term, "coef"] == pytest.approx(ref.params[term], rel=1e-7, abs=1e-10)
        assert table.loc[term, "std_err"] == pytest.approx(ref.bse[term], rel=1e-7)
    assert model.deviance_ == pytest.approx(ref.deviance, rel=1e-9)


@pytest.fixture
def smf_formulaic():
    from statsmodels.formula import options

    options.formula_engine = "formulaic"
    return smf


def test_poisson_direction_that_is_not_a_factor_level() -> None:
    # x is 0 on every positive count and > 0 on some zero counts: along -x those means go to 0.
    rng = np.random.default_rng(1)
    n = 300
    z = rng.normal(size=n)
    y = rng.poisson(np.exp(0.3 + 0.2 * z)).astype(float)
    x = np.where((y == 0) & (rng.random(n) < 0.5), rng.uniform(0.5, 2.0, n), 0.0)
    found = poisson_separation(
        np.column_stack([np.ones(n), z, x]), y, np.ones(n), ["Intercept", "z", "x"], 0
    )
    assert found is not None and found.columns == ("x",)
    np.testing.assert_array_equal(found.rows, np.flatnonzero(x > 0))
    with pytest.warns(PoissonSeparationWarning, match=r"\['x1'\]"):
        model = ng.PoissonRegression().fit(np.column_stack([z, x]), y)
    assert not model.converged_


def test_poisson_without_separation_is_silent() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 3))
    y = rng.poisson(np.exp(0.2 + X @ np.array([0.3, -0.2, 0.1]))).astype(float)
    assert (
        poisson_separation(np.column_stack([np.ones(500), X]), y, np.ones(500), list("iabc"))
        is None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ng.PoissonRegression().fit(X, y).converged_


def _separated_binomial(kind: str) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    y = (x > 0).astype(float)
    w = np.ones(n)
    if kind == "zero weights":
        w[rng.choice(n, 20, replace=False)] = 0.0
        y[w == 0] = 1.0 - y[w == 0]  # rows of zero weight break it: they must not count
    elif kind == "grouped":
        w = rng.integers(1, 10, n).astype(float)
        y = np.where(x > 0, 1.0, 0.0)
        inside = np.abs(x) < 0.3
        y[inside] = rng.integers(1, 5, inside.sum()) / 5.0  # proportions: x b = 0 needed there
        x[inside] = 0.0
    elif kind == "rare level":
        x = (rng.random(n) < 0.02).astype(float)
        x[:3] = 1.0
        y = (rng.random(n) < 0.4).astype(float)
        y[x == 1] = 1.0  # every row of the rare level is a success
    return np.column_stack([x, z]), y, w


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
@pytest.mark.parametrize("kind", ["plain", "zero weights", "grouped", "rare level"])
def test_binomial_separation_is_found_for_every_link_weights_and_grouped_data(kind, link) -> None:
    X, y, w = _separated_binomial(kind)
    with pytest.warns(PerfectSeparationWarning, match=r"separated by column\(s\) \['x0'\]"):
        model = ng.GLM(family="binomial", link=link).fit(X, y, sample_weight=w)
    assert not model.converged_ and model.separation_ == ["x0"]
    found = binomial_separation(np.column_stack([np.ones(len(y)), X]), y, w, ["i", "x0", "x1"], 0)
    assert found is not None and found.columns == ("x0",)


def test_separation_drop_is_for_poisson() -> None:
    with pytest.raises(InvalidParameterError, match=r"separation='drop' applies to Poisson fits"):
        ng.GLM(family="binomial", separation="drop").fit(np.eye(3), np.array([0.0, 1.0, 1.0]))
