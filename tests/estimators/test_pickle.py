"""Pickles keep what prediction and the summary need, not the training rows (unless asked)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

from newtonglm import LogisticRegression, PoissonRegression
from newtonglm.exceptions import DataRemovedError
from tests.helpers import simulate


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 10))
    y = rng.poisson(np.exp(0.1 * X[:, 0] - 0.2 * X[:, 1])).astype(float)
    return X, y, PoissonRegression().fit(X, y)


def test_a_200k_by_10_model_pickles_to_a_few_kb(big):
    X, y, model = big
    data = pickle.dumps(model)
    assert len(data) < 20_000, len(data)
    restored = pickle.loads(data)
    new = X[:1000]
    np.testing.assert_array_equal(restored.predict(new), model.predict(new))
    np.testing.assert_array_equal(restored.coef_table(), model.coef_table())
    assert str(restored.summary()) == str(model.summary())
    pd.testing.assert_frame_equal(restored.predict_interval(new), model.predict_interval(new))
    assert restored.wald_test("x0 = 0").statistic == model.wald_test("x0 = 0").statistic
    pd.testing.assert_frame_equal(restored.history_, model.history_)
    # The model pickled is untouched: its rows are still there.
    assert model.residuals().shape == (200_000,)


def test_keep_data_pickles_the_rows(big):
    X, y, model = big
    kept = pickle.loads(pickle.dumps(copy.copy(model).set_params(keep_data=True)))
    assert len(pickle.dumps(kept)) > 8 * X.size
    np.testing.assert_array_equal(kept.residuals(), model.residuals())


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda m: m.residuals(), r"residuals\(\)"),
        (lambda m: m.influence(), r"influence\(\)"),
        (lambda m: m.fitted_values(), r"fitted_values\(\)"),
        (lambda m: m.working_weights(), r"working_weights\(\)"),
        (lambda m: m.hat_values(), r"hat_values\(\)"),
        (lambda m: m.with_cov("HC0"), r"with_cov\(\)"),
    ],
)
def test_per_row_statistics_of_an_unpickled_model_say_why_they_cannot(call, what):
    df = simulate("binomial", n=100, seed=1)
    restored = pickle.loads(pickle.dumps(LogisticRegression(formula="y ~ x + C(g)").fit(df)))
    with pytest.raises(
        DataRemovedError,
        match=rf"^{what} needs the training data, which this model no longer holds \(it was "
        r"unpickled from a model fitted with keep_data=False, the default, or remove_data\(\) "
        r"was called\); refit, or fit with keep_data=True before pickling\.$",
    ):
        call(restored)


def test_remove_data_in_memory_and_copies_keep_the_rows():
    df = simulate("poisson", n=100, seed=2)
    model = PoissonRegression(formula="y ~ x", cov_type="HC1").fit(df, exposure="expo")
    deep = copy.deepcopy(model)
    np.testing.assert_array_equal(deep.residuals(), model.residuals())
    robust = model.with_cov("HC3")  # a copy, with the rows
    assert robust.residuals().index.equals(df.index)
    before = model.predict(df)
    assert model.remove_data() is model
    np.testing.assert_array_equal(model.predict(df), before)  # exposure column still used
    with pytest.raises(DataRemovedError):
        model.influence()
    assert robust.influence().shape[0] == 100


def test_unfitted_and_refitted_models_pickle():
    model = PoissonRegression(formula="y ~ x")
    assert pickle.loads(pickle.dumps(model)).get_params() == model.get_params()
    df = simulate("poisson", n=50, seed=3)
    restored = pickle.loads(pickle.dumps(model.fit(df)))
    restored.fit(df)  # a refit brings the rows back
    assert restored.residuals().shape == (50,)
