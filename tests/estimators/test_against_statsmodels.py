"""Every number newtonglm reports, against statsmodels' GLM fitted live on the same data.

statsmodels is fitted to a tighter tolerance (1e-13) than newtonglm's default (1e-8), so the
comparison is between newtonglm's default fit and the exact maximum-likelihood estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from newtonglm import GLM, LogisticRegression, PoissonRegression, datasets
from tests.helpers import simulate

# Tolerances, stated once: coefficients and standard errors at the 1e-6 bound; the
# scalar fit statistics, which are smooth functions at the optimum, far tighter.
RTOL_COEF = 1e-6
RTOL_SE = 1e-6
RTOL_STAT = 1e-9
# Pearson's chi2 is not stationary at the optimum, so it inherits the coefficients' first-order
# error (~1e-7 standard errors after a non-canonical Fisher-scoring fit).
RTOL_PEARSON = 1e-7

LINKS = {
    "logit": sm.families.links.Logit,
    "probit": sm.families.links.Probit,
    "cloglog": sm.families.links.CLogLog,
    "log": sm.families.links.Log,
}
FAMILY_LINKS = [
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("poisson", "log"),
]
FORMULAS = ["y ~ x + z", "y ~ x + C(g)", "y ~ x * C(g) + z"]


def sm_family(family: str, link: str):
    cls = sm.families.Binomial if family == "binomial" else sm.families.Poisson
    return cls(link=LINKS[link]())


def assert_matches(model, ref, names=None) -> None:
    """Compare a fitted newtonglm model with a statsmodels GLMResults, term by term.

    Coefficients must agree to RTOL_COEF relative, or to RTOL_COEF standard errors for
    coefficients near zero (where a relative bound means nothing); z, p and the interval
    bounds accordingly.
    """
    table = model.coef_table()
    index = names or list(ref.params.index)
    assert sorted(table.index) == sorted(index)
    ref_frame = pd.DataFrame(
        {
            "coef": np.asarray(ref.params),
            "std_err": np.asarray(ref.bse),
            "z": np.asarray(ref.tvalues),
            "p_value": np.asarray(ref.pvalues),
            "ci_lower": np.asarray(ref.conf_int())[:, 0],
            "ci_upper": np.asarray(ref.conf_int())[:, 1],
        },
        index=index,
    ).loc[table.index]
    se = ref_frame["std_err"].to_numpy()
    np.testing.assert_allclose(table["std_err"], se, rtol=RTOL_SE)
    for col in ("coef", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(
            table[col], ref_frame[col], rtol=RTOL_COEF, atol=RTOL_COEF * se.min()
        )
    np.testing.assert_allclose(table["z"], ref_frame["z"], rtol=RTOL_COEF, atol=RTOL_COEF)
    np.testing.assert_allclose(table["p_value"], ref_frame["p_value"], rtol=1e-6, atol=RTOL_COEF)
    ref_cov = pd.DataFrame(np.asarray(ref.cov_params()), index=index, columns=index)
    ref_cov = ref_cov.loc[table.index, table.index]
    np.testing.assert_allclose(
        model.cov_params_.to_numpy(), ref_cov.to_numpy(), rtol=RTOL_SE, atol=RTOL_SE * se.min() ** 2
    )
    for ours, theirs in [
        (model.deviance_, ref.deviance),
        (model.null_deviance_, ref.null_deviance),
        (model.llf_, ref.llf),
        (model.aic_, ref.aic),
        (model.bic_, ref.bic),
    ]:
        np.testing.assert_allclose(ours, theirs, rtol=RTOL_STAT)
    np.testing.assert_allclose(model.pearson_chi2_, ref.pearson_chi2, rtol=RTOL_PEARSON)
    assert model.df_model_ == ref.df_model
    assert model.df_resid_ == ref.df_resid
    assert model.converged_


@pytest.mark.parametrize("family,link", FAMILY_LINKS)
@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("with_offset", [False, True], ids=["no_offset", "offset"])
def test_newton_matches_statsmodels_simulated(smf, family, link, formula, weighted, with_offset):
    df = simulate(family, seed=hash((family, link, formula)) % 1000)
    offset = 0.1 * np.log(df["expo"]) if family == "binomial" else np.log(df["expo"])
    kwargs = {}
    if weighted:
        kwargs["var_weights"] = df["w"]
    if with_offset:
        kwargs["offset"] = offset
    ref = smf.glm(formula, df, family=sm_family(family, link), **kwargs).fit(tol=1e-13, maxiter=200)
    model = GLM(family=family, link=link, formula=formula).fit(
        df,
        sample_weight=df["w"] if weighted else None,
        offset=offset if with_offset else None,
    )
    assert_matches(model, ref)


@pytest.mark.parametrize("family,link", FAMILY_LINKS)
@pytest.mark.parametrize("order", ["F", "C"])
def test_newton_matches_statsmodels_arrays(family, link, order, kernel_path):
    df = simulate(family, seed=7)
    X = np.asarray(df[["x", "z"]].to_numpy(), order=order)
    ref = sm.GLM(df["y"], sm.add_constant(X), family=sm_family(family, link)).fit(tol=1e-13)
    model = GLM(family=family, link=link).fit(X, df["y"])
    assert_matches(model, ref, names=["intercept", "x0", "x1"])
    np.testing.assert_allclose(model.intercept_, ref.params.iloc[0], rtol=RTOL_COEF)
    np.testing.assert_allclose(model.coef_, ref.params.iloc[1:], rtol=RTOL_COEF)


def test_newton_matches_statsmodels_no_intercept():
    df = simulate("poisson", seed=3)
    X = df[["x", "z"]].to_numpy()
    ref = sm.GLM(df["y"], X, family=sm.families.Poisson()).fit(tol=1e-13)
    model = PoissonRegression(fit_intercept=False).fit(X, df["y"])
    np.testing.assert_allclose(model.coef_, ref.params, rtol=RTOL_COEF)
    np.testing.assert_allclose(model.coef_table()["std_err"], ref.bse, rtol=RTOL_SE)
    assert model.intercept_ == 0.0
    np.testing.assert_allclose(model.deviance_, ref.deviance, rtol=RTOL_STAT)
    np.testing.assert_allclose(model.llf_, ref.llf, rtol=RTOL_STAT)
    # R's null model without an intercept is mu = g^-1(offset) = exp(0) = 1 (statsmodels
    # always adds an intercept to its null model, so compare with the closed form instead).
    y = df["y"].to_numpy()
    r_null = 2.0 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - (y - 1.0))
    np.testing.assert_allclose(model.null_deviance_, r_null, rtol=RTOL_STAT)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_grouped_binomial_matches_statsmodels_two_column_endog(link):
    """Proportions with sample_weight = trials equal R's cbind(successes, failures) fit."""
    df = datasets.load("menarche")
    successes, trials = df["menarche"].to_numpy(), df["total"].to_numpy()
    exog = sm.add_constant(df[["age"]].to_numpy())
    endog = np.column_stack([successes, trials - successes])
    ref = sm.GLM(endog, exog, family=sm_family("binomial", link)).fit(tol=1e-13)
    model = GLM(family="binomial", link=link).fit(
        df[["age"]].to_numpy(), successes / trials, sample_weight=trials
    )
    assert_matches(model, ref, names=["intercept", "x0"])


def test_logistic_matches_statsmodels_pima(smf, kernel_path):
    df = datasets.load("pima")
    formula = "diabetes ~ npreg + glu + bmi + ped + age"
    ref = smf.glm(formula, df, family=sm.families.Binomial()).fit(tol=1e-13)
    model = LogisticRegression(formula=formula).fit(df)
    assert_matches(model, ref)


def test_poisson_matches_statsmodels_insurance_exposure(smf, kernel_path):
    df = datasets.load("insurance")
    formula = "claims ~ C(district) + group + age"
    offset = np.log(df["holders"])
    ref = smf.glm(formula, df, family=sm.families.Poisson(), offset=offset).fit(tol=1e-13)
    model = PoissonRegression(formula=formula).fit(df, offset=offset)
    assert_matches(model, ref)


def test_poisson_matches_statsmodels_ships_interaction_offset_column(smf):
    df = datasets.load("ships")
    df = df[df["service"] > 0].reset_index(drop=True)
    df["log_service"] = np.log(df["service"])
    formula = "incidents ~ C(type) + C(year) + C(period)"
    ref = smf.glm(formula, df, family=sm.families.Poisson(), offset=df["log_service"]).fit(
        tol=1e-13
    )
    model = PoissonRegression(formula=formula).fit(df, offset="log_service")
    assert_matches(model, ref)


def test_poisson_published_r_insurance():
    """MASS Insurance, R 4.x: glm(Claims ~ District + Group + Age + offset(log(Holders)),
    family = poisson, data = Insurance) with Group and Age as *unordered* factors
    (treatment contrasts) — a reference independent of statsmodels: the residual deviance
    51.42 on 54 degrees of freedom and null deviance 236.26 on 63 (Venables & Ripley,
    Modern Applied Statistics with S, 4th ed., section 7.3, report the same deviances)."""
    df = datasets.load("insurance")
    model = PoissonRegression(formula="claims ~ C(district) + group + age").fit(
        df, offset=np.log(df["holders"])
    )
    assert model.df_resid_ == 54
    assert round(model.deviance_, 2) == 51.42
    assert round(model.null_deviance_, 2) == 236.26
