"""Every frame and dtype an analyst hands us: the same fit as the plain pandas one, or our words.

The reference is statsmodels on the same rows with the factor as an object column; the frames
under test are pandas ``string`` dtypes (python and pyarrow storage), parquet read back with
``dtype_backend="pyarrow"`` (``large_string``, ``double[pyarrow]``), ``category`` with a
declared but unused level, polars and pyarrow tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from newtonglm import GLM, LogisticRegression, PoissonRegression
from newtonglm.design.frames import normalise_columns, to_pandas, type_name
from newtonglm.exceptions import FormulaError, InvalidInputError
from tests.helpers import simulate

FORMULA = "y ~ x + C(g)"


@pytest.fixture
def frame() -> pd.DataFrame:
    df = simulate("poisson", n=120, seed=8)
    return df.assign(g=df["g"].astype(object), region=df["g"].map({"a": "north", "b": "south"}))


@pytest.fixture
def reference(frame):
    return smf.glm(
        "y ~ x + C(g)", frame, family=__import__("statsmodels.api").api.families.Poisson()
    ).fit(tol=1e-13)


def _key(name: str) -> str:
    """A term's name without ``C(...)`` (formulaic and patsy order and spell terms apart)."""
    return name.replace("C(g)", "g")


def _check(model, reference) -> None:
    ours = model.coef_table().rename(index=_key)
    theirs = pd.DataFrame({"coef": reference.params, "std_err": reference.bse}).rename(index=_key)
    assert sorted(ours.index) == sorted(theirs.index)
    theirs = theirs.loc[ours.index]
    np.testing.assert_allclose(ours["coef"], theirs["coef"], rtol=1e-8)
    np.testing.assert_allclose(ours["std_err"], theirs["std_err"], rtol=1e-7)


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]", "str", "category"])
def test_string_dtypes_are_factors_with_and_without_c(frame, reference, dtype):
    typed = frame.assign(g=frame["g"].astype(dtype))
    for formula in ("y ~ x + C(g)", "y ~ x + g"):
        _check(PoissonRegression(formula=formula, tol=1e-12).fit(typed), reference)


def test_parquet_with_the_pyarrow_backend(tmp_path, frame, reference):
    path = tmp_path / "data.parquet"
    frame[["y", "x", "g"]].to_parquet(path)
    back = pd.read_parquet(path, dtype_backend="pyarrow")
    assert pa.types.is_large_string(back["g"].dtype.pyarrow_dtype) or pa.types.is_string(
        back["g"].dtype.pyarrow_dtype
    )
    model = PoissonRegression(formula="y ~ x + g", tol=1e-12).fit(back)
    _check(model, reference)
    np.testing.assert_allclose(model.predict(back), reference.fittedvalues, rtol=1e-9)


def test_large_string_arrow_column_is_a_factor(frame, reference):
    arrow = pd.ArrowDtype(pa.large_string())
    typed = frame.assign(g=frame["g"].astype(arrow))
    _check(PoissonRegression(formula="y ~ x + g", tol=1e-12).fit(typed), reference)


def test_unused_category_level_is_dropped_as_r_does(frame, reference):
    typed = frame.assign(g=pd.Categorical(frame["g"], categories=["a", "b", "c", "d"]))
    model = PoissonRegression(formula=FORMULA, tol=1e-12).fit(typed)
    assert model.term_names_ == ("Intercept", "x", "C(g)[T.b]", "C(g)[T.c]")
    _check(model, reference)
    # New data may carry the unused level in its dtype, as long as its rows use fitted levels.
    np.testing.assert_allclose(model.predict(typed), reference.fittedvalues, rtol=1e-9)


def test_a_level_left_unused_by_dropped_rows_is_dropped_too(frame):
    typed = frame.assign(g=frame["g"].astype("category"))
    typed.loc[typed["g"] == "c", "x"] = np.nan
    model = PoissonRegression(formula=FORMULA, missing="drop").fit(typed)
    assert model.term_names_ == ("Intercept", "x", "C(g)[T.b]")
    complete = frame[frame["g"] != "c"]
    expected = smf.glm("y ~ x + C(g)", complete, family=sm.families.Poisson()).fit(tol=1e-13)
    _check(model, expected)


@pytest.mark.parametrize("dtype", ["datetime64[ns]", "datetime64[ns, UTC]"])
def test_dates_in_a_formula_are_refused_in_words(frame, dtype):
    dated = frame.assign(when=pd.to_datetime("2026-01-01") + pd.to_timedelta(np.arange(120), "D"))
    if dtype.endswith("UTC]"):
        dated["when"] = dated["when"].dt.tz_localize("UTC")
    with pytest.raises(
        FormulaError,
        match=r"^column 'when' holds dates \(datetime64\[\w+(, UTC)?\]\); a model needs numbers or "
        r"categories: convert it, e\.g\. to days since a date",
    ):
        PoissonRegression(formula="y ~ x + when").fit(dated)


def test_durations_are_refused_in_words(frame):
    timed = frame.assign(lag=pd.to_timedelta(np.arange(120), "h"))
    with pytest.raises(FormulaError, match=r"^column 'lag' holds durations"):
        PoissonRegression(formula="y ~ lag").fit(timed)


def test_polars_with_a_formula_equals_pandas(frame, reference):
    polars_frame = pl.from_pandas(frame[["y", "x", "g"]].astype({"g": str}))
    model = PoissonRegression(formula=FORMULA, tol=1e-12).fit(polars_frame)
    _check(model, reference)
    np.testing.assert_allclose(model.predict(polars_frame), reference.fittedvalues, rtol=1e-9)


def test_polars_and_pyarrow_without_a_formula_keep_the_column_names(frame):
    expected = LogisticRegression().fit(frame[["x", "z"]], (frame["y"] > 1).astype(int))
    y = (frame["y"] > 1).astype(int).to_numpy()
    for table in (pl.from_pandas(frame[["x", "z"]]), pa.Table.from_pandas(frame[["x", "z"]])):
        model = LogisticRegression().fit(table, y)
        assert list(model.feature_names_in_) == ["x", "z"]
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-12)
        np.testing.assert_allclose(
            model.predict_proba(table), expected.predict_proba(frame[["x", "z"]])
        )


def test_pyarrow_table_with_a_formula(frame, reference):
    table = pa.Table.from_pandas(frame[["y", "x", "g"]].astype({"g": str}), preserve_index=False)
    _check(PoissonRegression(formula=FORMULA, tol=1e-12).fit(table), reference)


def test_frames_that_are_not_eager_are_named_by_module(frame):
    lazy = pl.from_pandas(frame[["y", "x"]]).lazy()
    with pytest.raises(InvalidInputError, match=r"got polars\.LazyFrame\.$"):
        PoissonRegression(formula="y ~ x").fit(lazy)
    assert type_name(np.zeros(2)) == "numpy.ndarray"


def test_to_pandas_passes_pandas_and_arrays_through(frame):
    assert to_pandas(frame) is frame
    arr = np.zeros((2, 2))
    assert to_pandas(arr) is arr


def test_normalise_leaves_the_caller_frame_alone(frame):
    typed = frame.assign(g=frame["g"].astype("string"))
    out = normalise_columns(typed, ["g"])
    assert out["g"].dtype == object and typed["g"].dtype == "string"


def test_gaussian_glm_on_polars_matches(frame):
    data = pl.from_pandas(frame[["x", "z", "g"]].astype({"g": str}))
    model = GLM(family="gaussian", formula="x ~ z + C(g)", tol=1e-12).fit(data)
    expected = smf.glm("x ~ z + C(g)", frame, family=sm.families.Gaussian()).fit()
    _check(model, expected)
