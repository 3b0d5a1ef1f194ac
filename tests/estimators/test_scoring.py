"""Scores and scikit-learn's scorers on formula and array models, offsets included.

Every number is checked against scikit-learn's metrics applied by hand to statsmodels'
predictions on the same rows (``d2_tweedie_score`` with power 1 is the Poisson D²). Both sides
fit to a tight tolerance: the default stop (tol=1e-8) certifies the deviance, which leaves the
coefficients, and so a fold's log-loss, a few 1e-9 from the optimum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
import statsmodels.api as sm
from sklearn.metrics import (
    accuracy_score,
    d2_tweedie_score,
    log_loss,
    mean_poisson_deviance,
    roc_auc_score,
)
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from newtonglm import LogisticRegression, PoissonRegression
from newtonglm.exceptions import InvalidParameterError
from tests.helpers import simulate


@pytest.fixture
def rates() -> pd.DataFrame:
    df = simulate("poisson", n=300, seed=3)
    return df.assign(logexpo=np.log(df["expo"]))


def _sm_poisson(df: pd.DataFrame) -> sm.GLM:
    exog = sm.add_constant(df[["x", "z"]].to_numpy())
    return sm.GLM(df["y"].to_numpy(), exog, family=sm.families.Poisson(), offset=df["logexpo"])


def _sm_mean(res, df: pd.DataFrame) -> np.ndarray:
    exog = sm.add_constant(df[["x", "z"]].to_numpy())
    return res.predict(exog, offset=df["logexpo"].to_numpy())


def test_array_score_uses_the_offset_given(rates):
    X, y, off = rates[["x", "z"]].to_numpy(), rates["y"].to_numpy(), rates["logexpo"].to_numpy()
    model = PoissonRegression().fit(X, y, offset=off)
    expected = d2_tweedie_score(y, _sm_mean(_sm_poisson(rates).fit(tol=1e-13), rates), power=1)
    assert model.score(X, y, offset=off) == pytest.approx(expected, rel=1e-9)
    assert model.score(X, y, exposure=rates["expo"].to_numpy()) == pytest.approx(expected, 1e-9)
    # Without its offset the same model scores the wrong means: what the issue saw (-3.16).
    assert model.score(X, y) < expected - 0.5


@pytest.mark.parametrize(
    ("formula", "fit_kwargs"),
    [
        ("y ~ x + z", {"offset": "logexpo"}),
        ("y ~ x + z", {"exposure": "expo"}),
        ("y ~ x + z + offset(np.log(expo))", {}),
        ("y ~ offset(logexpo) + x + z", {}),
    ],
)
def test_formula_score_and_predict_use_the_rows_own_offset(rates, formula, fit_kwargs):
    train, test = rates.iloc[:200], rates.iloc[200:]
    model = PoissonRegression(formula=formula, tol=1e-10).fit(train, **fit_kwargs)
    res = _sm_poisson(train).fit(tol=1e-13)
    np.testing.assert_allclose(model.predict(test), _sm_mean(res, test), rtol=1e-9)
    expected = d2_tweedie_score(test["y"], _sm_mean(res, test), power=1)
    assert model.score(test) == pytest.approx(expected, rel=1e-9)
    assert model.score(test, test["y"]) == pytest.approx(expected, rel=1e-9)


def test_cross_val_score_of_a_rate_model_equals_the_folds_by_hand(rates):
    model = PoissonRegression(formula="y ~ x + z + offset(np.log(expo))", tol=1e-10)
    cv = KFold(4, shuffle=True, random_state=0)
    d2 = cross_val_score(model, rates, rates["y"], cv=cv)
    dev = cross_val_score(model, rates, rates["y"], cv=cv, scoring="neg_mean_poisson_deviance")
    by_hand_d2, by_hand_dev = [], []
    for train, test in cv.split(rates):
        res = _sm_poisson(rates.iloc[train]).fit(tol=1e-13)
        mu = _sm_mean(res, rates.iloc[test])
        by_hand_d2.append(d2_tweedie_score(rates["y"].iloc[test], mu, power=1))
        by_hand_dev.append(-mean_poisson_deviance(rates["y"].iloc[test], mu))
    np.testing.assert_allclose(d2, by_hand_d2, rtol=1e-9)
    np.testing.assert_allclose(dev, by_hand_dev, rtol=1e-9)
    assert (d2 > 0).all()


@pytest.fixture
def labels() -> pd.DataFrame:
    df = simulate("binomial", n=240, seed=5)
    return df.assign(outcome=np.where(df["y"] == 1, "yes", "no"))


def _sm_proba(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    def exog(d: pd.DataFrame) -> np.ndarray:
        dummies = pd.get_dummies(d["g"]).reindex(columns=["b", "c"], fill_value=False)
        return np.column_stack([np.ones(len(d)), d["x"], dummies.to_numpy(dtype=float)])

    y = (train["outcome"] == "yes").to_numpy(dtype=float)
    res = sm.GLM(y, exog(train), family=sm.families.Binomial()).fit(tol=1e-13)
    return np.asarray(res.predict(exog(test)))


@pytest.mark.parametrize("formula", ["outcome ~ x + C(g)", "~ x + C(g)"])
@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc", "accuracy"])
def test_scorers_with_stratified_folds_equal_the_metrics_by_hand(labels, formula, scoring):
    model = LogisticRegression(formula=formula, tol=1e-10)
    cv = StratifiedKFold(5, shuffle=True, random_state=1)
    scores = cross_val_score(model, labels, labels["outcome"], scoring=scoring, cv=cv)
    by_hand = []
    for train, test in cv.split(labels, labels["outcome"]):
        p = _sm_proba(labels.iloc[train], labels.iloc[test])
        truth = (labels["outcome"].iloc[test] == "yes").to_numpy()
        if scoring == "neg_log_loss":
            by_hand.append(-log_loss(truth, p))
        elif scoring == "roc_auc":
            by_hand.append(roc_auc_score(truth, p))
        else:
            by_hand.append(accuracy_score(truth, p > 0.5))
    np.testing.assert_allclose(scores, by_hand, rtol=1e-9)


def test_classifier_score_uses_the_y_it_is_given(labels):
    model = LogisticRegression(formula="outcome ~ x + C(g)").fit(labels)
    flipped = np.where(labels["outcome"] == "yes", "no", "yes")
    predicted = np.where(_sm_proba(labels, labels) > 0.5, "yes", "no")
    assert model.score(labels) == pytest.approx(accuracy_score(labels["outcome"], predicted))
    assert model.score(labels, flipped) == pytest.approx(accuracy_score(flipped, predicted))
    assert model.score(labels, flipped) != pytest.approx(model.score(labels))


def test_one_sided_formula_needs_y_to_score(labels):
    model = LogisticRegression(formula="~ x + C(g)").fit(labels, labels["outcome"])
    with pytest.raises(
        InvalidParameterError,
        match=r"^formula='~ x \+ C\(g\)' is one-sided: pass y, the response of the rows scored\.$",
    ):
        model.score(labels)


def test_array_score_needs_y(rates):
    model = PoissonRegression().fit(rates[["x"]].to_numpy(), rates["y"].to_numpy())
    with pytest.raises(InvalidParameterError, match=r"^score\(\) needs y with arrays"):
        model.score(rates[["x"]].to_numpy())


def test_array_offsets_reach_score_through_metadata_routing(rates):
    # scikit-learn routes metadata to fit and score, not to the predict a scorer calls: with
    # arrays only the default score (D²) sees the offset; other scorers need the formula path.
    X, y, off = rates[["x", "z"]].to_numpy(), rates["y"].to_numpy(), rates["logexpo"].to_numpy()
    cv = KFold(3, shuffle=True, random_state=2)
    with sklearn.config_context(enable_metadata_routing=True):
        est = PoissonRegression(tol=1e-10).set_fit_request(offset=True)
        d2 = cross_val_score(
            est.set_score_request(offset=True), X, y, params={"offset": off}, cv=cv
        )
    by_hand = []
    for train, test in cv.split(X):
        res = _sm_poisson(rates.iloc[train]).fit(tol=1e-13)
        by_hand.append(d2_tweedie_score(y[test], _sm_mean(res, rates.iloc[test]), power=1))
    np.testing.assert_allclose(d2, by_hand, rtol=1e-9)
