"""Per-row results carry the labels of the rows fitted, as statsmodels' do; arrays stay arrays.

The issue's case: a 60-row DataFrame with a string index and three incomplete rows dropped by
``missing="drop"``; every per-row statistic must be found again with ``df.loc[label]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from newtonglm import LogisticRegression, PoissonRegression
from newtonglm.exceptions import InvalidParameterError
from tests.helpers import simulate

RESIDUALS = {
    "response": "resid_response",
    "working": "resid_working",
    "pearson": "resid_pearson",
    "deviance": "resid_deviance",
    "anscombe": "resid_anscombe_unscaled",
}


@pytest.fixture
def frame() -> pd.DataFrame:
    df = simulate("poisson", n=60, seed=11)
    df.index = [f"id{i:03d}" for i in range(60)][::-1]  # labels unlike positions
    df.loc[df.index[[4, 17, 40]], "x"] = np.nan
    return df


@pytest.fixture
def fitted(frame):
    model = PoissonRegression(formula="y ~ x + z", missing="drop", tol=1e-12).fit(frame)
    rows = frame.dropna()
    exog = sm.add_constant(rows[["x", "z"]])
    reference = sm.GLM(rows["y"], exog, family=sm.families.Poisson()).fit(tol=1e-13)
    return model, reference, rows


@pytest.mark.parametrize("kind", sorted(RESIDUALS))
def test_residuals_are_series_labelled_by_the_rows_fitted(fitted, kind):
    model, reference, rows = fitted
    got = model.residuals(kind)
    expected = getattr(reference, RESIDUALS[kind])
    assert isinstance(got, pd.Series) and got.name == kind
    pd.testing.assert_index_equal(got.index, rows.index)
    # statsmodels gives a Series for most kinds (same labels) and an array for Anscombe's.
    np.testing.assert_allclose(got.loc[rows.index], np.asarray(expected), rtol=1e-8)


def test_studentized_residuals_and_influence_by_label(fitted):
    model, reference, rows = fitted
    infl = reference.get_influence(observed=False)
    table = model.influence()
    pd.testing.assert_index_equal(table.index, rows.index)
    label = rows.index[7]
    position = rows.index.get_loc(label)
    assert table.loc[label, "hat"] == pytest.approx(infl.hat_matrix_diag[position], rel=1e-8)
    np.testing.assert_allclose(table["cooks_distance"], infl.cooks_distance[0], rtol=1e-7)
    stud = model.residuals("studentized_pearson")
    pd.testing.assert_index_equal(stud.index, rows.index)
    np.testing.assert_allclose(stud, infl.resid_studentized, rtol=1e-7)


def test_fitted_values_working_weights_and_hat_values_by_label(fitted):
    model, reference, rows = fitted
    mu = model.fitted_values()
    pd.testing.assert_series_equal(
        mu, reference.fittedvalues.rename("mean"), check_exact=False, rtol=1e-9
    )
    eta = model.fitted_values("linear")
    np.testing.assert_allclose(eta.loc[rows.index], np.log(reference.fittedvalues), rtol=1e-9)
    weights = model.working_weights()
    pd.testing.assert_index_equal(weights.index, rows.index)
    np.testing.assert_allclose(weights, reference.model.weights, rtol=1e-9)  # IRLS weights
    hat = model.hat_values()
    np.testing.assert_allclose(
        hat.loc[rows.index], reference.get_influence().hat_matrix_diag, rtol=1e-8
    )
    with pytest.raises(InvalidParameterError, match=r"^kind='probability' is not accepted"):
        model.fitted_values("probability")


def test_array_path_with_a_dataframe_is_labelled_too(frame):
    rows = frame.dropna()
    model = PoissonRegression(missing="drop").fit(frame[["x", "z"]], frame["y"])
    assert model.n_dropped_ == 3
    pd.testing.assert_index_equal(model.residuals().index, rows.index)
    pd.testing.assert_index_equal(model.influence().index, rows.index)


def test_arrays_in_arrays_out(frame):
    rows = frame.dropna()
    model = PoissonRegression().fit(rows[["x", "z"]].to_numpy(), rows["y"].to_numpy())
    for values in (model.residuals(), model.fitted_values(), model.working_weights()):
        assert type(values) is np.ndarray and values.shape == (57,)
    assert isinstance(model.influence().index, pd.RangeIndex)


def test_groups_dropped_rows_keep_the_labels_of_the_rest():
    df = simulate("binomial", n=50, seed=2)
    df.index = pd.Index([f"r{i}" for i in range(50)])
    groups = np.where(np.arange(50) % 7 == 3, None, np.arange(50) % 5).astype(object)
    model = LogisticRegression(formula="y ~ x + z", missing="drop", cov_type="cluster").fit(
        df, groups=groups
    )
    kept = df.index[pd.notna(groups)]
    pd.testing.assert_index_equal(model.residuals().index, kept)
