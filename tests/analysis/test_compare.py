"""Likelihood-ratio tests, Wald tests and analysis of deviance, against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import newtonglm
from newtonglm import GLM, PoissonRegression, anova, lr_test
from newtonglm.analysis.compare import ANOVA_COLUMNS
from newtonglm.exceptions import (
    HypothesisError,
    InvalidParameterError,
    NonNestedModelsError,
)
from newtonglm.inference.wald import parse_hypothesis
from tests.helpers import simulate
from tests.inference.test_inference import (
    CASE_IDS,
    CASES,
    FORMULA,
    RTOL,
    TIGHT_TOL,
    assert_close,
    our_fit,
    sm_fit,
    wls_reference,
)

#: Nested formulas, smallest first; FORMULA (the largest) is "y ~ x + z + C(g)".
NESTED = ["y ~ x", "y ~ x + z", FORMULA]
HYPOTHESES = [
    "x = 0",
    "x = 0, C(g)[T.b] = C(g)[T.c]",
    "2*x - z = 0.1",
    "x + z = 0, C(g)[T.b] = 0",
]


def assert_test_matches(result, statistic, df, p_value) -> None:
    assert result.df == df
    assert_close(result.statistic, statistic)
    assert_close(result.p_value, p_value)


# -- likelihood-ratio tests -------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_lr_test_matches_statsmodels(case):
    small, large = our_fit(case, formula="y ~ x"), our_fit(case)
    ref_small, ref_large = sm_fit(case, formula="y ~ x"), sm_fit(case)
    statistic = 2.0 * (ref_large.llf - ref_small.llf)
    df = int(ref_small.df_resid - ref_large.df_resid)
    result = lr_test(small, large)
    assert_test_matches(result, statistic, df, stats.chi2.sf(statistic, df))
    assert result.test == "likelihood ratio"
    assert "chi2(3)" in str(result)


@pytest.mark.parametrize("scale", ["X2", "dev"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_lr_test_with_estimated_dispersion_scales_by_the_full_model(case, scale):
    small, large = our_fit(case, formula="y ~ x", scale=scale), our_fit(case, scale=scale)
    ref_small, ref_large = sm_fit(case, formula="y ~ x", scale=scale), sm_fit(case, scale=scale)
    # R's anova(..., test="Chisq") for quasi families: deviance change / dispersion of the
    # larger model.
    statistic = (ref_small.deviance - ref_large.deviance) / ref_large.scale
    result = lr_test(small, large)
    assert_test_matches(result, statistic, 3, stats.chi2.sf(statistic, 3))


# -- Wald tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("hypothesis", HYPOTHESES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_wald_test_matches_statsmodels(case, hypothesis):
    ref = sm_fit(case).wald_test(hypothesis, scalar=True)
    result = our_fit(case, tol=TIGHT_TOL).wald_test(hypothesis)
    assert ref.distribution == "chi2"
    assert_test_matches(result, ref.statistic, int(ref.df_denom), ref.pvalue)
    assert result.test == "Wald"


@pytest.mark.parametrize(
    "options,sm_options",
    [
        ({"cov_type": "HC0", "information": "observed"}, {"cov_type": "HC0"}),
        ({"scale": "X2"}, {"scale": "X2"}),
    ],
    ids=["HC0", "X2"],
)
@pytest.mark.parametrize("case", CASES[1::2], ids=CASE_IDS[1::2])
def test_wald_test_uses_the_chosen_covariance(case, options, sm_options):
    hypothesis = HYPOTHESES[1]
    ref = sm_fit(case, **sm_options).wald_test(hypothesis, scalar=True)
    result = our_fit(case, tol=TIGHT_TOL, **options).wald_test(hypothesis)
    assert_test_matches(result, ref.statistic, int(ref.df_denom), ref.pvalue)


@pytest.mark.parametrize("cov_type", ["HC1", "HC3"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_robust_wald_test_matches_statsmodels_wls(case, cov_type):
    # statsmodels' GLM gives plain HC0 for HC1-HC3; the WLS of the final IRLS step does not.
    ref = sm_fit(case)
    _, wls = wls_reference(case, ref, cov_type)
    model = our_fit(case).with_cov(cov_type)
    for hypothesis in HYPOTHESES:
        theirs = wls.wald_test(hypothesis, scalar=True)
        assert_test_matches(
            model.wald_test(hypothesis), theirs.statistic, int(theirs.df_denom), theirs.pvalue
        )


def test_wald_test_of_one_coefficient_is_its_squared_z():
    model = our_fit(CASES[0])
    table = model.coef_table()
    result = model.wald_test(["z = 0"])
    np.testing.assert_allclose(result.statistic, table.loc["z", "z"] ** 2, rtol=1e-12)
    np.testing.assert_allclose(result.p_value, table.loc["z", "p_value"], rtol=1e-10)


def test_parse_hypothesis_grammar():
    names = ["Intercept", "x", "x:z", "C(g, Sum)[S.a]", "z"]
    R, q = parse_hypothesis("x = 0, 2*x:z - 0.5 * z = 1, C(g, Sum)[S.a] = x + 3", names)
    np.testing.assert_array_equal(R, [[0, 1, 0, 0, 0], [0, 0, 2, 0, -0.5], [0, -1, 0, 1, 0]])
    np.testing.assert_array_equal(q, [0, 1, 3])
    R2, q2 = parse_hypothesis(["x", "-z + 1e-1 = -x"], names)
    np.testing.assert_array_equal(R2, [[0, 1, 0, 0, 0], [0, 1, 0, 0, -1]])
    np.testing.assert_allclose(q2, [0.0, -0.1])


@pytest.mark.parametrize(
    "hypothesis,message",
    [
        ("x1 = 0", r"'x1' in hypothesis 'x1 = 0' is not a term of the model"),
        ("xx = 0", r"'xx' in hypothesis 'xx = 0' is not a term"),
        ("x * z = 0", r"multiplies two terms \('x' \* 'z'\)"),
        ("x = z = 0", r"has 2 '=' signs"),
        ("x = 0,, z = 0", r"has an empty constraint"),
        ("x - x = 0", r"involves no coefficient"),
        ("x = ", r"has an empty side"),
        ("x 2 = 0", r"expected '\+', '-' or '=' after a term, got 2.0"),
        ("x + = 0", r"ends with an operator"),
        ("x + * z = 0", r"has '\*' where a term belongs"),
        ("x = 0, 2*x = 0", r"the 2 constraints in .* are linearly dependent"),
    ],
)
def test_wald_test_errors_are_clear(hypothesis, message):
    model = our_fit(CASES[0])
    with pytest.raises(HypothesisError, match=message):
        model.wald_test(hypothesis)


def test_wald_test_refuses_aliased_terms():
    df = simulate("poisson", n=200, seed=6).assign(x2=lambda d: 2.0 * d["x"])
    with pytest.warns(RuntimeWarning, match="aliased"):
        model = GLM(family="poisson", formula="y ~ x + z + x2", on_rank_deficient="drop").fit(df)
    with pytest.raises(HypothesisError, match=r"involves aliased term\(s\) \['x2'\]"):
        model.wald_test("x2 = 0")
    assert model.wald_test("z = 0").df == 1


# -- analysis of deviance ---------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_anova_matches_statsmodels_deviances(case):
    ours = [our_fit(case, formula=f) for f in NESTED]
    refs = [sm_fit(case, formula=f) for f in NESTED]
    table = anova(*ours)
    assert list(table.columns) == ["model", *ANOVA_COLUMNS]
    assert table["model"].tolist() == NESTED
    assert table["resid_df"].tolist() == [int(r.df_resid) for r in refs]
    assert_close(table["resid_deviance"], [r.deviance for r in refs])
    dev = np.array([refs[0].deviance - refs[1].deviance, refs[1].deviance - refs[2].deviance])
    dfs = np.array([refs[0].df_resid - refs[1].df_resid, refs[1].df_resid - refs[2].df_resid])
    assert np.isnan(table.loc[1, ["df", "deviance", "p_value"]].to_numpy(dtype=float)).all()
    np.testing.assert_array_equal(table["df"].iloc[1:], dfs)
    assert_close(table["deviance"].iloc[1:], dev)
    assert_close(table["p_value"].iloc[1:], stats.chi2.sf(dev, dfs))
    # The last row is the likelihood-ratio test of the last two models.
    last = lr_test(ours[1], ours[2])
    np.testing.assert_allclose(table["p_value"].iloc[-1], last.p_value, rtol=1e-12)


def test_anova_with_estimated_dispersion_uses_the_largest_model_and_any_order():
    case = CASES[-1]
    ours = [our_fit(case, formula=f, scale="X2") for f in NESTED]
    refs = [sm_fit(case, formula=f, scale="X2") for f in NESTED]
    table = anova(*ours)
    scale = refs[-1].scale  # the model with the most parameters
    dev = np.array([refs[0].deviance - refs[1].deviance, refs[1].deviance - refs[2].deviance])
    assert_close(table["p_value"].iloc[1:], stats.chi2.sf(dev / scale, [1, 2]))
    assert table.attrs["scale"] == pytest.approx(scale, rel=RTOL)
    # Largest first, as R allows: negative df and deviance changes, the same p-values.
    backwards = anova(*ours[::-1])
    np.testing.assert_array_equal(backwards["df"].iloc[1:], [-2, -1])
    np.testing.assert_allclose(
        backwards["p_value"].iloc[1:], table["p_value"].iloc[1:][::-1], rtol=1e-12
    )


# -- nesting is checked -------------------------------------------------------------------------
def _poisson(formula, df, **fit):
    return PoissonRegression(formula=formula).fit(df, **fit)


def test_lr_test_refuses_models_that_are_not_nested():
    df = simulate("poisson", seed=1)
    x_only, z_only = _poisson("y ~ x", df), _poisson("y ~ z", df)
    full = _poisson("y ~ x + z", df)
    with pytest.raises(NonNestedModelsError, match=r"not nested: term\(s\) \['x'\]"):
        lr_test(x_only, z_only)
    with pytest.raises(NonNestedModelsError, match=r"call lr_test\(restricted, full\)"):
        lr_test(full, x_only)
    with pytest.raises(NonNestedModelsError, match=r"same terms; there is nothing to test"):
        lr_test(full, _poisson("y ~ z + x", df))


def test_lr_test_refuses_models_on_different_data():
    df = simulate("poisson", seed=1)
    small = _poisson("y ~ x", df)
    with pytest.raises(NonNestedModelsError, match=r"fitted on 400 and 399 rows"):
        lr_test(small, _poisson("y ~ x + z", df.iloc[1:]))
    other_y = df.assign(y=df["y"][::-1].to_numpy())
    with pytest.raises(NonNestedModelsError, match=r"different response"):
        lr_test(small, _poisson("y ~ x + z", other_y))
    with pytest.raises(NonNestedModelsError, match=r"different sample weights"):
        lr_test(small, _poisson("y ~ x + z", df, sample_weight=df["w"]))
    with pytest.raises(NonNestedModelsError, match=r"different offsets"):
        lr_test(small, _poisson("y ~ x + z", df, offset=np.log(df["expo"])))
    binomial = simulate("binomial", seed=1)
    with pytest.raises(NonNestedModelsError, match=r"binomial/logit vs binomial/probit"):
        lr_test(
            GLM(formula="y ~ x").fit(binomial),
            GLM(link="probit", formula="y ~ x + z").fit(binomial),
        )


def test_lr_test_checks_column_values_not_only_names():
    df = simulate("poisson", seed=1)
    y = df["y"].to_numpy()
    # Array fits name their columns x0, x1, ...: the same name, different columns.
    small = PoissonRegression().fit(df[["z"]].to_numpy(), y)
    large = PoissonRegression().fit(df[["x", "z"]].to_numpy(), y)
    with pytest.raises(NonNestedModelsError, match=r"term\(s\) \['x0'\] have the same name"):
        lr_test(small, large)
    nested = PoissonRegression().fit(df[["z", "x"]].to_numpy(), y)
    assert lr_test(small, nested).df == 1


def test_anova_errors():
    df = simulate("poisson", seed=1)
    model = _poisson("y ~ x", df)
    with pytest.raises(InvalidParameterError, match=r"anova needs at least two fitted models"):
        anova(model)
    with pytest.raises(NonNestedModelsError, match=r"anova \(models 2 and 3\)"):
        anova(model, _poisson("y ~ x + z", df), _poisson("y ~ x + C(g)", df))
    with pytest.raises(InvalidParameterError, match=r"model 2 must be a fitted newtonglm model"):
        anova(model, PoissonRegression())


def test_public_names():
    assert {"lr_test", "anova", "HypothesisTestResult", "plot_diagnostics"} <= set(
        newtonglm.__all__
    )
    df = simulate("poisson")
    result = lr_test(_poisson("y ~ x", df), _poisson("y ~ x + z", df))
    assert isinstance(result, newtonglm.HypothesisTestResult)
