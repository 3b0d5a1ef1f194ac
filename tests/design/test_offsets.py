"""``offset(...)`` terms, ``exposure=`` and remembered offset columns, against statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from newtonglm import GLM, PoissonRegression
from newtonglm.design.offsets import OffsetSpec, split_offset_terms
from newtonglm.exceptions import FormulaError, InvalidInputError
from tests.helpers import simulate


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("y ~ x", ("y ~ x", ())),
        ("y ~ x + offset(np.log(t))", ("y ~ x", ("np.log(t)",))),
        ("y ~ offset(log_t) + x + C(g)", ("y ~ x + C(g)", ("log_t",))),
        ("y ~ offset(a) + offset(np.log(b * 2))", ("y ~ 1", ("a", "np.log(b * 2)"))),
        ("y ~ x + my_offset(z)", ("y ~ x + my_offset(z)", ())),
        ("y ~ x + offset( np.log(t) ) - 1", ("y ~ x - 1", ("np.log(t)",))),
    ],
)
def test_split_offset_terms(formula, expected):
    assert split_offset_terms(formula) == expected


def test_unclosed_offset_term_is_an_error():
    with pytest.raises(FormulaError, match=r"has an offset\( without its closing '\)'"):
        split_offset_terms("y ~ x + offset(np.log(t)")


@pytest.fixture
def frame() -> pd.DataFrame:
    return simulate("poisson", n=250, seed=4)


@pytest.fixture
def reference(frame):
    return smf.glm(
        "y ~ x + C(g)", frame, family=sm.families.Poisson(), offset=np.log(frame["expo"])
    ).fit(tol=1e-13)


@pytest.mark.parametrize(
    ("formula", "kwargs"),
    [
        ("y ~ x + C(g) + offset(np.log(expo))", {}),
        ("y ~ x + C(g)", {"exposure": "expo"}),
        ("y ~ x + C(g)", {"offset": "logexpo"}),
        ("y ~ x + C(g)", {"offset": np.log(simulate("poisson", n=250, seed=4)["expo"])}),
        ("y ~ x + C(g)", {"exposure": simulate("poisson", n=250, seed=4)["expo"].to_numpy()}),
    ],
)
def test_every_way_of_giving_the_offset_is_the_same_fit(frame, reference, formula, kwargs):
    data = frame.assign(logexpo=np.log(frame["expo"]))
    model = PoissonRegression(formula=formula, tol=1e-12).fit(data, **kwargs)
    np.testing.assert_allclose(
        model.coef_table()["coef"].sort_index(), reference.params.sort_index(), rtol=1e-9
    )
    np.testing.assert_allclose(model.deviance_, reference.deviance, rtol=1e-12)


def test_exposure_on_the_array_path(frame, reference):
    X = pd.get_dummies(frame[["x", "g"]], drop_first=True, dtype=float)
    model = PoissonRegression(tol=1e-12).fit(X, frame["y"], exposure=frame["expo"])
    assert model.deviance_ == pytest.approx(reference.deviance, rel=1e-12)
    both = PoissonRegression(tol=1e-12).fit(
        X, frame["y"], offset=np.full(len(X), 0.5), exposure=frame["expo"]
    )
    assert both.intercept_ == pytest.approx(model.intercept_ - 0.5, rel=1e-9)


def test_offset_terms_combine_with_an_offset_column(frame):
    data = frame.assign(half=0.25 * np.log(frame["expo"]))
    model = PoissonRegression(formula="y ~ x + offset(0.75 * np.log(expo))", tol=1e-12).fit(
        data, offset="half"
    )
    expected = smf.glm(
        "y ~ x", frame, family=sm.families.Poisson(), offset=np.log(frame["expo"])
    ).fit(tol=1e-13)
    np.testing.assert_allclose(model.coef_table()["coef"], expected.params, rtol=1e-9)
    np.testing.assert_allclose(model.predict(data), expected.fittedvalues, rtol=1e-9)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_exposure_must_be_positive(frame, bad):
    data = frame.copy()
    data.loc[data.index[7], "expo"] = bad
    with pytest.raises(
        InvalidInputError,
        match=r"^exposure 'expo' must be > 0; 1 of 250 values are not \(first at row 7\); drop "
        r"those rows or pass an offset instead\.$",
    ):
        PoissonRegression(formula="y ~ x").fit(data, exposure="expo")


def test_missing_exposure_with_missing_drop_drops_the_row(frame):
    data = frame.copy()
    data.loc[data.index[3], "expo"] = np.nan
    model = PoissonRegression(formula="y ~ x", missing="drop").fit(data, exposure="expo")
    assert model.n_dropped_ == 1


def test_offset_term_that_cannot_be_evaluated(frame):
    with pytest.raises(
        FormulaError, match=r"^cannot evaluate offset\(np\.log\(nope\)\) on the data"
    ):
        PoissonRegression(formula="y ~ x + offset(np.log(nope))").fit(frame)


def test_predict_exposure_replaces_the_remembered_column(frame, reference):
    model = PoissonRegression(formula="y ~ x + C(g)", tol=1e-12).fit(frame, exposure="expo")
    doubled = model.predict(frame, exposure=2 * frame["expo"].to_numpy())
    np.testing.assert_allclose(doubled, 2 * reference.fittedvalues, rtol=1e-9)
    eta = model.predict(frame, kind="linear")
    np.testing.assert_allclose(eta, np.log(reference.fittedvalues), rtol=1e-9)


def test_offset_spec_is_empty_without_offsets():
    assert OffsetSpec().empty and not OffsetSpec(terms=("a",)).empty
    assert OffsetSpec().offset(pd.DataFrame({"a": [1.0]})) is None


def test_gaussian_offset_term(frame):
    data = frame.assign(base=2.0 * frame["z"])
    model = GLM(family="gaussian", formula="x ~ z + offset(base)").fit(data)
    expected = smf.glm("x ~ z", data, family=sm.families.Gaussian(), offset=data["base"]).fit()
    np.testing.assert_allclose(model.coef_table()["coef"], expected.params, rtol=1e-9)
