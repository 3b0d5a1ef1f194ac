"""Covariance choices, dispersion and prediction intervals, against statsmodels fitted live.

statsmodels' GLM returns plain HC0 whatever HC1–HC3 is asked (its issue 7798), and its HC0 and
cluster sandwiches use the *observed* information as bread. So: HC0 and cluster are compared
with statsmodels' GLM at ``information="observed"`` (the same as "expected" for logit and log);
HC0–HC3 with the default expected-information bread are compared with statsmodels' WLS on the
final IRLS problem (working response and working weights at statsmodels' converged fit), whose
heteroskedasticity-robust covariance equals the GLM sandwich at convergence.
"""

from __future__ import annotations

import functools
import pickle

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.formula import options

from newtonglm import GLM, LogisticRegression, PoissonRegression
from newtonglm.engine import blocks
from newtonglm.exceptions import DataRemovedError, InvalidGroupsError, InvalidParameterError
from newtonglm.families import (
    Binomial,
    CLogLogLink,
    Gaussian,
    IdentityLink,
    LogitLink,
    LogLink,
    Poisson,
    ProbitLink,
)
from newtonglm.inference.compute import OVERDISPERSION_RATIO
from newtonglm.inference.prediction import PREDICTION_COLUMNS
from tests.helpers import simulate

options.formula_engine = "formulaic"  # term names as newtonglm's (as the smf fixture does)

# Tolerance, stated once: every number against statsmodels at the bound. Quantities
# that cross zero (coefficients, interval bounds, z, linear predictors) also get an absolute
# floor of RTOL times their natural scale (a standard error, or 1 for z).
RTOL = 1e-6

#: p-values between 1e-9 and 1e-27 have a relative error of about z times the absolute error of
#: z, so two small effects show when they are compared without an absolute floor: the default
#: tol=1e-8 leaves the coefficients up to ~2e-7 standard errors from the exact MLE, and
#: statsmodels' reported covariance uses the working weights of its last IRLS step, one step
#: behind its final coefficients. Together they reach 1.01e-6 relative (logit with an offset: a
#: p-value of 1.5e-9, 6.7e-7 from the tolerance, 3.3e-7 from statsmodels' lag) and 1.1e-6 for
#: the Wald tests; such comparisons fit with tol=TIGHT_TOL (a tighter fit, not a looser
#: comparison), which leaves statsmodels' lag alone, at most 8e-7.
TIGHT_TOL = 1e-10

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
FORMULA = "y ~ x + z + C(g)"
#: (family, link, weighted, with_offset): every family/link, with and without weights, offset.
CASES = [(f, lk, w, o) for f, lk in FAMILY_LINKS for w in (False, True) for o in (False, True)]
CASE_IDS = [
    f"{f}-{lk}-{'weights' if w else 'noweights'}-{'offset' if o else 'nooffset'}"
    for f, lk, w, o in CASES
]
HC_TYPES = ["HC0", "HC1", "HC2", "HC3"]


def assert_close(actual, desired, floor=0.0) -> None:
    """|actual - desired| <= RTOL (|desired| + floor), elementwise; floor may be an array."""
    a = np.asarray(actual, dtype=float)
    d = np.asarray(desired, dtype=float)
    assert a.shape == d.shape, (a.shape, d.shape)
    err = np.abs(a - d)
    bound = RTOL * (np.abs(d) + np.broadcast_to(np.asarray(floor, dtype=float), d.shape))
    worst = np.unravel_index(np.argmax(err - bound), d.shape) if d.ndim else ()
    assert np.all(err <= bound), (
        f"not within RTOL={RTOL:g}: worst at {worst}, actual {a[worst]!r}, desired {d[worst]!r}"
    )


def sm_family(family: str, link: str):
    cls = sm.families.Binomial if family == "binomial" else sm.families.Poisson
    return cls(link=LINKS[link]())


@functools.cache
def case_data(family, link, weighted, with_offset):
    """Simulated data, weights and offset of one case (the same for every test)."""
    df = simulate(family, seed=11 + 17 * FAMILY_LINKS.index((family, link)))
    weights = df["w"].to_numpy() if weighted else None
    offset = None
    if with_offset:
        offset = (0.1 if family == "binomial" else 1.0) * np.log(df["expo"].to_numpy())
    return df, weights, offset


def sm_fit(case, formula=FORMULA, **fit_kwargs):
    """statsmodels' GLM on a case, fitted to its tightest tolerance."""
    family, link, _, _ = case
    df, weights, offset = case_data(*case)
    kwargs = {}
    if weights is not None:
        kwargs["var_weights"] = weights
    if offset is not None:
        kwargs["offset"] = offset
    model = smf.glm(formula, df, family=sm_family(family, link), **kwargs)
    return model.fit(tol=1e-13, maxiter=200, **fit_kwargs)


def our_fit(case, formula=FORMULA, groups=None, **params):
    """newtonglm's GLM on a case, with its default tolerance."""
    family, link, _, _ = case
    df, weights, offset = case_data(*case)
    model = GLM(family=family, link=link, formula=formula, **params)
    return model.fit(df, sample_weight=weights, offset=offset, groups=groups)


@functools.cache
def cached_pair(case):
    """(ours, statsmodels) with default options, shared by the tests of one case."""
    return our_fit(case), sm_fit(case)


def cluster_labels(n: int) -> np.ndarray:
    """30 clusters of unequal sizes, labelled by strings."""
    rng = np.random.default_rng(2024)
    return np.array([f"c{k:02d}" for k in rng.integers(0, 30, size=n)])


def ref_table(ref) -> pd.DataFrame:
    ci = np.asarray(ref.conf_int())
    return pd.DataFrame(
        {
            "coef": np.asarray(ref.params),
            "std_err": np.asarray(ref.bse),
            "z": np.asarray(ref.tvalues),
            "p_value": np.asarray(ref.pvalues),
            "ci_lower": ci[:, 0],
            "ci_upper": ci[:, 1],
        },
        index=list(ref.params.index),
    )


def assert_inference_matches(model, ref) -> None:
    """coef_table (SE, z, p, interval) and the covariance matrix, aligned by term name."""
    ours = model.coef_table()
    theirs = ref_table(ref).loc[ours.index]
    se = theirs["std_err"].to_numpy()
    np.testing.assert_allclose(ours["std_err"], se, rtol=RTOL)
    np.testing.assert_allclose(ours["z"], theirs["z"], rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(ours["p_value"], theirs["p_value"], rtol=RTOL)
    for col in ("ci_lower", "ci_upper"):
        assert_close(ours[col], theirs[col], floor=se)
    names = list(ours.index)
    ref_cov = pd.DataFrame(
        np.asarray(ref.cov_params()), index=ref.params.index, columns=ref.params.index
    )
    np.testing.assert_allclose(
        model.cov_params_.loc[names, names].to_numpy(),
        ref_cov.loc[names, names].to_numpy(),
        rtol=RTOL,
        atol=RTOL * se.min() ** 2,
    )


def wls_reference(case, ref, cov_type: str, **cov_kwds):
    """statsmodels' WLS of the final IRLS step at statsmodels' converged GLM fit.

    The columns carry the GLM's term names, so ``wls.wald_test`` parses the same hypotheses.
    """
    df, weights, offset = case_data(*case)
    fam = ref.model.family
    mu = np.asarray(ref.mu)
    gprime = fam.link.deriv(mu)
    prior = np.ones_like(mu) if weights is None else weights
    work_w = prior / (gprime**2 * fam.variance(mu))
    X = pd.DataFrame(ref.model.exog, columns=ref.params.index)
    z = X.to_numpy() @ np.asarray(ref.params) + (df["y"].to_numpy() - mu) * gprime  # no offset
    wls = sm.WLS(z, X, weights=work_w).fit(cov_type=cov_type, cov_kwds=cov_kwds or None)
    return pd.Series(wls.bse, index=ref.params.index), wls


def assert_matches_wls(robust, ref, se_ref, wls) -> None:
    """SE, z, p and the covariance matrix of ``robust`` against the WLS route."""
    table = robust.coef_table()
    np.testing.assert_allclose(table["std_err"], se_ref.loc[table.index], rtol=RTOL)
    z_ref = ref.params.loc[table.index] / se_ref.loc[table.index]
    np.testing.assert_allclose(table["z"], z_ref, rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(table["p_value"], 2.0 * stats.norm.sf(np.abs(z_ref)), rtol=RTOL)
    names = list(table.index)
    cov_ref = pd.DataFrame(wls.cov_params(), index=ref.params.index, columns=ref.params.index)
    np.testing.assert_allclose(
        robust.cov_params_.loc[names, names],
        cov_ref.loc[names, names],
        rtol=RTOL,
        atol=RTOL * se_ref.min() ** 2,
    )


# -- covariance types against statsmodels -----------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_hc0_observed_bread_matches_statsmodels_glm(case):
    ours = our_fit(case, cov_type="HC0", information="observed")
    ref = sm_fit(case, cov_type="HC0")
    assert_inference_matches(ours, ref)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] in ("logit", "log")], ids=str)
def test_hc0_default_matches_statsmodels_glm_canonical_link(case):
    # Canonical links: observed = expected information, so the default bread matches too.
    assert_inference_matches(our_fit(case, cov_type="HC0"), sm_fit(case, cov_type="HC0"))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cluster_matches_statsmodels_glm_default_correction(case):
    df, _, _ = case_data(*case)
    labels = cluster_labels(len(df))
    ours = our_fit(case, cov_type="cluster", information="observed", groups=labels)
    # statsmodels' defaults: use_correction=True, i.e. G/(G-1) (n-1)/(n-p).
    ref = sm_fit(case, cov_type="cluster", cov_kwds={"groups": pd.factorize(labels)[0]})
    assert_inference_matches(ours, ref)
    assert ours.inference_.n_groups == 30


@pytest.mark.parametrize("cov_type", HC_TYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_hc_matches_statsmodels_wls_on_final_irls_step(case, cov_type):
    ours, ref = cached_pair(case)
    se_ref, wls = wls_reference(case, ref, cov_type)
    # The WLS route reproduces the GLM's coefficients (one more IRLS step from statsmodels'
    # converged fit), so it is the same problem.
    assert_close(wls.params, ref.params, floor=se_ref)
    assert_matches_wls(ours.with_cov(cov_type), ref, se_ref, wls)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_cluster_expected_bread_matches_statsmodels_wls_on_final_irls_step(case):
    # statsmodels' WLS cluster covariance has the same default factor G/(G-1) (n-1)/(n-p).
    ours, ref = cached_pair(case)
    df, _, _ = case_data(*case)
    labels = cluster_labels(len(df))
    se_ref, wls = wls_reference(case, ref, "cluster", groups=pd.factorize(labels)[0])
    assert_matches_wls(ours.with_cov("cluster", groups=labels), ref, se_ref, wls)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_nonrobust_matches_statsmodels_glm(case):
    # SE, z, p (no absolute floor on p), interval and covariance at RTOL, default options but
    # the fit's tol (TIGHT_TOL); test_against_statsmodels.py checks the default fit.
    assert_inference_matches(our_fit(case, tol=TIGHT_TOL), cached_pair(case)[1])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_observed_information_matches_statsmodels_hessian(case):
    ref = sm_fit(case)
    ours = our_fit(case, information="observed")
    hess = ref.model.hessian(np.asarray(ref.params), observed=True)
    cov_ref = pd.DataFrame(np.linalg.inv(-hess), index=ref.params.index, columns=ref.params.index)
    names = list(ours.term_names_)
    se_ref = np.sqrt(np.diag(cov_ref.loc[names, names]))
    np.testing.assert_allclose(ours.coef_table()["std_err"], se_ref, rtol=RTOL)
    np.testing.assert_allclose(
        ours.cov_params_.loc[names, names],
        cov_ref.loc[names, names],
        rtol=RTOL,
        atol=RTOL * se_ref.min() ** 2,
    )
    expected = our_fit(case)
    differs = not np.allclose(ours.cov_params_, expected.cov_params_, rtol=1e-6)
    assert differs == (case[1] in ("probit", "cloglog"))  # equal only for canonical links


@pytest.mark.parametrize("scale", ["X2", "dev", 2.0])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_scale_matches_statsmodels(case, scale):
    ours = our_fit(case, scale=scale)
    ref = sm_fit(case, scale=scale)
    assert not ref.use_t  # statsmodels' GLM keeps normal z whatever the scale; so do we
    np.testing.assert_allclose(ours.scale_, ref.scale, rtol=RTOL)
    assert_inference_matches(ours, ref)
    for ours_stat, ref_stat in [
        (ours.llf_, ref.llf),
        (ours.aic_, ref.aic),
        (ours.bic_, ref.bic),
        (ours.deviance_, ref.deviance),
        (ours.pearson_chi2_, ref.pearson_chi2),
    ]:
        np.testing.assert_allclose(ours_stat, ref_stat, rtol=RTOL)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_robust_covariance_does_not_depend_on_scale(case):
    ours = our_fit(case, scale="X2", cov_type="HC0", information="observed")
    assert_inference_matches(ours, sm_fit(case, scale="X2", cov_type="HC0"))
    unscaled = our_fit(case, cov_type="HC0", information="observed")
    np.testing.assert_allclose(ours.cov_params_, unscaled.cov_params_, rtol=1e-12)


def test_cov_type_matches_statsmodels_on_arrays_without_formula():
    df = simulate("poisson", seed=5)
    X = df[["x", "z"]].to_numpy()
    labels = cluster_labels(len(df))
    ref = sm.GLM(df["y"], sm.add_constant(X), family=sm.families.Poisson()).fit(
        tol=1e-13, cov_type="cluster", cov_kwds={"groups": pd.factorize(labels)[0]}
    )
    ours = PoissonRegression(cov_type="cluster").fit(X, df["y"], groups=labels)
    np.testing.assert_allclose(ours.coef_table()["std_err"], ref.bse, rtol=RTOL)


@pytest.mark.parametrize("cov_type", HC_TYPES)
def test_gaussian_identity_sandwich_equals_statsmodels_ols(cov_type):
    # For the Gaussian family with the identity link the GLM sandwich is OLS's HCx exactly.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = 1.0 + X @ [0.5, -0.3] + rng.normal(size=200) * (1.0 + np.abs(X[:, 0]))
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov_type)
    ours = GLM(family="gaussian", cov_type=cov_type).fit(X, y)
    assert_close(ours.coef_table()["std_err"], ref.bse)


# -- with_cov ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cov_type", ["nonrobust", *HC_TYPES, "cluster"])
def test_with_cov_equals_fitting_with_that_cov_type(cov_type):
    case = ("binomial", "probit", True, True)
    df, _, _ = case_data(*case)
    labels = cluster_labels(len(df))
    base = our_fit(case, groups=labels if cov_type == "cluster" else None, cov_type=cov_type)
    start = our_fit(case)
    before = start.cov_params_.copy()
    switched = start.with_cov(cov_type, groups=labels if cov_type == "cluster" else None)
    assert switched is not start and switched.cov_type == cov_type
    np.testing.assert_array_equal(switched.cov_params_, base.cov_params_)
    pd.testing.assert_frame_equal(switched.coef_table(), base.coef_table())
    pd.testing.assert_frame_equal(start.cov_params_, before)  # the original is unchanged
    assert start.cov_type == "nonrobust"
    np.testing.assert_array_equal(switched.coef_, start.coef_)
    assert switched.n_iter_ == start.n_iter_


def test_with_cov_reuses_cluster_labels_given_to_fit_and_pickles():
    case = ("poisson", "log", False, True)
    df, _, _ = case_data(*case)
    labels = cluster_labels(len(df))
    clustered = our_fit(case, cov_type="cluster", groups=labels)
    back = clustered.with_cov("HC1").with_cov("cluster")
    np.testing.assert_array_equal(back.cov_params_, clustered.cov_params_)
    restored = pickle.loads(pickle.dumps(back.set_params(keep_data=True)))
    np.testing.assert_array_equal(restored.cov_params_, clustered.cov_params_)
    assert restored.with_cov("HC3").cov_type == "HC3"
    lean = pickle.loads(pickle.dumps(back.set_params(keep_data=False)))
    np.testing.assert_array_equal(lean.cov_params_, clustered.cov_params_)
    with pytest.raises(DataRemovedError, match=r"^with_cov\(\) needs the training data"):
        lean.with_cov("HC3")


def test_groups_may_name_a_column_with_a_formula():
    case = ("binomial", "logit", False, False)
    df, _, _ = case_data(*case)
    df = df.assign(cluster=cluster_labels(len(df)))
    by_name = GLM(formula=FORMULA, cov_type="cluster").fit(df, groups="cluster")
    by_values = GLM(formula=FORMULA, cov_type="cluster").fit(df, groups=df["cluster"].to_numpy())
    np.testing.assert_array_equal(by_name.cov_params_, by_values.cov_params_)


# -- properties of the robust covariances ------------------------------------------------------
@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3", "cluster"])
def test_zero_weight_rows_equal_removed_rows(cov_type):
    df = simulate("poisson", seed=21)
    weights = df["w"].to_numpy().copy()
    weights[::7] = 0.0
    labels = cluster_labels(len(df))
    keep = weights > 0
    full = GLM(family="poisson", formula=FORMULA, cov_type=cov_type).fit(
        df, sample_weight=weights, groups=labels if cov_type == "cluster" else None
    )
    kept = GLM(family="poisson", formula=FORMULA, cov_type=cov_type).fit(
        df[keep],
        sample_weight=weights[keep],
        groups=labels[keep] if cov_type == "cluster" else None,
    )
    np.testing.assert_allclose(full.cov_params_, kept.cov_params_, rtol=1e-9)


def test_robust_covariances_are_invariant_to_the_block_size(monkeypatch):
    df = simulate("binomial", n=2600, seed=8)
    labels = cluster_labels(len(df))
    kwargs = {
        "family": "binomial",
        "link": "cloglog",
        "formula": FORMULA,
        "information": "observed",
    }
    whole = {
        c: GLM(cov_type=c, **kwargs).fit(df, groups=labels if c == "cluster" else None)
        for c in ("HC3", "cluster")
    }
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)  # 1024-row blocks: three blocks
    assert blocks.block_rows(6) == 1024
    for cov_type, ref in whole.items():
        blocked = ref.with_cov(cov_type, groups=labels if cov_type == "cluster" else None)
        # Rounding only: relative 1e-12, with a floor for entries that nearly cancel.
        scale = float(np.abs(ref.cov_params_.to_numpy()).max())
        np.testing.assert_allclose(
            blocked.cov_params_, ref.cov_params_, rtol=1e-12, atol=1e-12 * scale
        )


# -- predictions ------------------------------------------------------------------------------
def assert_prediction_matches(frame, ref, new, offset) -> None:
    mean = ref.get_prediction(new, offset=offset).summary_frame()
    linear = ref.get_prediction(new, offset=offset, which="linear").summary_frame()
    assert list(frame.columns) == list(PREDICTION_COLUMNS)
    mean_cols = ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    np.testing.assert_allclose(frame[mean_cols], mean[mean_cols], rtol=RTOL)
    ours_lin = frame[["linear", "linear_se", "linear_ci_lower", "linear_ci_upper"]].to_numpy()
    theirs_lin = linear[["predicted", "se", "ci_lower", "ci_upper"]].to_numpy()
    assert_close(ours_lin, theirs_lin, floor=linear["se"].to_numpy()[:, None])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_predict_interval_matches_statsmodels_get_prediction(case):
    ours, ref = cached_pair(case)
    df, _, offset = case_data(*case)
    new = df.iloc[::25]
    new_offset = np.zeros(len(new)) if offset is None else offset[::25]
    ours_offset = None if offset is None else new_offset
    frame = ours.predict_interval(new, offset=ours_offset)
    assert frame.index.equals(new.index)
    assert_prediction_matches(frame, ref, new, new_offset)
    np.testing.assert_allclose(frame["mean"], ours.predict(new, offset=ours_offset), rtol=1e-14)
    np.testing.assert_allclose(
        frame["linear"], ours.predict(new, offset=ours_offset, kind="linear"), rtol=1e-14
    )


@pytest.mark.parametrize("case", [c for c in CASES if c[3]], ids=str)
def test_predict_interval_uses_the_robust_covariance_and_scale(case):
    df, _, offset = case_data(*case)
    new = df.iloc[::40]
    robust = our_fit(case, cov_type="HC0", information="observed")
    assert_prediction_matches(
        robust.predict_interval(new, offset=offset[::40]),
        sm_fit(case, cov_type="HC0"),
        new,
        offset[::40],
    )
    # A dispersion and another level: statsmodels' summary_frame(alpha=0.1).
    frame = our_fit(case, scale="X2").predict_interval(new, offset=offset[::40], alpha=0.1)
    ref = sm_fit(case, scale="X2")
    mean = ref.get_prediction(new, offset=offset[::40]).summary_frame(alpha=0.1)
    np.testing.assert_allclose(frame[list(mean.columns)], mean, rtol=RTOL)


def test_predict_interval_without_formula_and_for_the_classifier():
    df = simulate("binomial", seed=2)
    X = df[["x", "z"]].to_numpy()
    ref = sm.GLM(df["y"], sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    model = LogisticRegression().fit(X, df["y"])
    frame = model.predict_interval(X[:30])
    assert isinstance(frame.index, pd.RangeIndex)
    mean = ref.get_prediction(sm.add_constant(X[:30])).summary_frame()
    np.testing.assert_allclose(frame[list(mean.columns)], mean, rtol=RTOL)
    # The classifier's predict keeps returning labels; probabilities are predict_mean.
    assert set(np.unique(model.predict(X[:30]))) <= {0.0, 1.0}
    np.testing.assert_allclose(frame["mean"], model.predict_proba(X[:30])[:, 1], rtol=1e-14)


def test_predict_keeps_its_default_and_takes_kind():
    case = ("poisson", "log", False, True)
    ours, _ = cached_pair(case)
    df, _, offset = case_data(*case)
    np.testing.assert_array_equal(ours.predict(df, offset=offset), ours.predict_mean(df, offset))
    np.testing.assert_array_equal(
        ours.predict(df, offset=offset, kind="linear"), ours.predict_linear(df, offset)
    )
    with pytest.raises(InvalidParameterError, match=r"kind='response' is not accepted"):
        ours.predict(df, offset=offset, kind="response")
    poisson = PoissonRegression(formula=FORMULA).fit(df, offset=offset)
    np.testing.assert_allclose(
        poisson.predict(df, offset=offset, kind="linear"),
        np.log(poisson.predict(df, offset=offset)),
    )


# -- reporting --------------------------------------------------------------------------------
def test_coef_table_and_summary_name_the_covariance_and_scale():
    case = ("binomial", "logit", False, False)
    df, _, _ = case_data(*case)
    model = our_fit(case, cov_type="cluster", groups=cluster_labels(len(df)), scale="X2")
    table = model.coef_table()
    assert table.attrs["covariance"] == "cluster-robust, 30 clusters (expected information bread)"
    text = str(model.summary())
    assert "Covariance:" in text and "cluster-robust, 30 clusters" in text
    assert "(Pearson chi2 / df)" in text
    plain = str(our_fit(case).summary())
    assert "nonrobust (expected information)" in plain and "1 (fixed)" in plain
    assert (
        "HC3 sandwich (observed information bread)"
        in our_fit(case, cov_type="HC3", information="observed").coef_table().attrs["covariance"]
    )


def _overdispersed(seed: int = 0, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    mean = np.exp(1.0 + 0.3 * x)
    # Negative binomial counts with size 2: variance mu + mu²/2, far above the Poisson mu.
    y = rng.negative_binomial(2, 2 / (2 + mean)).astype(float)
    return pd.DataFrame({"x": x, "y": y})


def test_summary_notes_poisson_overdispersion():
    df = _overdispersed()
    model = PoissonRegression(formula="y ~ x").fit(df)
    ratio = model.pearson_chi2_ / model.df_resid_
    assert ratio > OVERDISPERSION_RATIO
    text = str(model.summary())
    assert "Pearson chi2/df" in text
    assert "overdispersed" in text and "too small by a factor of about" in text
    quasi = PoissonRegression(formula="y ~ x", scale="X2").fit(df)
    assert "account for it" in str(quasi.summary())


def test_summary_has_no_overdispersion_note_for_poisson_counts():
    case = ("poisson", "log", False, True)
    ours, _ = cached_pair(case)
    text = str(ours.summary())
    assert "Pearson chi2/df" in text and "overdispersed" not in text
    binomial, _ = cached_pair(("binomial", "logit", False, False))
    assert "Pearson chi2/df" not in str(binomial.summary())


def test_overdispersion_note_needs_a_ratio_beyond_chance():
    # Three residual df: even a ratio above the threshold is not flagged when P >= 0.05.
    df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "y": [3.0, 1.0, 6.0, 2.0, 9.0]})
    model = PoissonRegression(formula="y ~ x").fit(df)
    ratio = model.pearson_chi2_ / model.df_resid_
    p = stats.chi2.sf(model.pearson_chi2_, model.df_resid_)
    assert ratio > OVERDISPERSION_RATIO and p >= 0.05
    assert "overdispersed" not in str(model.summary())


# -- link and family derivatives used by the observed information and Anscombe residuals ------
MU = np.linspace(0.02, 0.98, 25)
LINK_OBJECTS = [
    (LogitLink(), sm.families.links.Logit(), MU),
    (ProbitLink(), sm.families.links.Probit(), MU),
    (CLogLogLink(), sm.families.links.CLogLog(), MU),
    (LogLink(), sm.families.links.Log(), np.linspace(0.1, 20.0, 25)),
    (IdentityLink(), sm.families.links.Identity(), np.linspace(-3.0, 3.0, 25)),
]


@pytest.mark.parametrize("ours,theirs,mu", LINK_OBJECTS, ids=lambda v: getattr(v, "name", ""))
def test_link_second_derivative_matches_statsmodels_and_finite_differences(ours, theirs, mu):
    np.testing.assert_allclose(ours.second_derivative(mu), theirs.deriv2(mu), rtol=RTOL, atol=1e-12)
    h = 1e-6 * np.maximum(np.abs(mu), 1e-3)
    fd = (ours.derivative(mu + h) - ours.derivative(mu - h)) / (2.0 * h)
    np.testing.assert_allclose(ours.second_derivative(mu), fd, rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize(
    "family,theirs,mu",
    [
        (Binomial(), sm.families.Binomial(), MU),
        (Poisson(), sm.families.Poisson(), np.linspace(0.1, 20.0, 25)),
        (Gaussian(), sm.families.Gaussian(), np.linspace(-3.0, 3.0, 25)),
    ],
    ids=["binomial", "poisson", "gaussian"],
)
def test_family_variance_derivative_and_anscombe_transform(family, theirs, mu):
    np.testing.assert_allclose(
        family.variance_derivative(mu), theirs.variance.deriv(mu), rtol=RTOL, atol=1e-15
    )
    # A'(mu) = V(mu)^(-1/3), by central differences.
    h = 1e-6 * np.maximum(np.abs(mu), 1e-2)
    fd = (family.anscombe_transform(mu + h) - family.anscombe_transform(mu - h)) / (2.0 * h)
    np.testing.assert_allclose(fd, family.variance(mu) ** (-1.0 / 3.0), rtol=RTOL)


# -- errors -----------------------------------------------------------------------------------
def test_invalid_covariance_parameters_are_refused_in_fit():
    df = simulate("poisson", n=50, seed=1)
    X, y = df[["x"]].to_numpy(), df["y"]
    PoissonRegression(cov_type="HC9", scale="X3", information="hessian")  # __init__ only assigns
    with pytest.raises(InvalidParameterError, match=r"cov_type='HC9' is not accepted"):
        PoissonRegression(cov_type="HC9").fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"scale='X3' is not accepted"):
        PoissonRegression(scale="X3").fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"scale=-1.0 is not accepted"):
        PoissonRegression(scale=-1.0).fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"information='hessian' is not accepted"):
        PoissonRegression(information="hessian").fit(X, y)
    model = PoissonRegression().fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"cov_type='robust' is not accepted"):
        model.with_cov("robust")
    with pytest.raises(InvalidParameterError, match=r"alpha must be in \(0, 1\)"):
        model.predict_interval(X, alpha=1.5)


def test_cluster_label_errors_are_clear():
    df = simulate("poisson", n=60, seed=1)
    X, y = df[["x"]].to_numpy(), df["y"]
    model = PoissonRegression(cov_type="cluster")
    with pytest.raises(InvalidGroupsError, match=r"cov_type='cluster' needs cluster labels"):
        model.fit(X, y)
    with pytest.raises(InvalidGroupsError, match=r"groups has 59 labels but the model has 60"):
        model.fit(X, y, groups=np.arange(59))
    with pytest.raises(InvalidGroupsError, match=r"at least 2 clusters.*groups has 1"):
        model.fit(X, y, groups=np.zeros(60))
    labels = np.array(["a", "b"] * 30, dtype=object)
    labels[7] = None
    with pytest.raises(
        InvalidGroupsError, match=r"no label in 1 of 60 rows \(first at row 7\).*missing='drop'"
    ):
        model.fit(X, y, groups=labels)
    with pytest.raises(InvalidGroupsError, match=r"groups='g' names no column"):
        model.fit(X, y, groups="g")
    with pytest.raises(
        InvalidParameterError, match=r"groups= is used only with cov_type='cluster'"
    ):
        PoissonRegression().fit(X, y, groups=np.arange(60) % 3)
    fitted = PoissonRegression().fit(X, y)
    with pytest.raises(InvalidGroupsError, match=r"cov_type='cluster' needs cluster labels"):
        fitted.with_cov("cluster")


#: Rows of the missing-value tests: NaN in x, in the offset, in the weights; no cluster label.
NAN_X, NAN_OFFSET, NAN_WEIGHT, NO_LABEL = [3, 9, 250], [17], [40, 41], [5, 120, 399]


def missing_case(family: str, link: str):
    """Data with NaN in x, the offset and the weights, and 30 string cluster labels."""
    df = simulate(family, seed=31)
    df.loc[NAN_X, "x"] = np.nan
    offset = (0.1 if family == "binomial" else 1.0) * np.log(df["expo"].to_numpy())
    offset[NAN_OFFSET] = np.nan
    weights = df["w"].to_numpy().copy()
    weights[NAN_WEIGHT] = np.nan
    return df, weights, offset, cluster_labels(len(df)).astype(object)


def by_hand_reference(family, link, df, weights, offset, labels, keep, formula):
    """statsmodels' cluster covariance on the rows kept, removed by hand."""
    given = {
        "family": sm_family(family, link),
        "var_weights": weights[keep],
        "offset": offset[keep],
    }
    if formula:
        model = smf.glm(FORMULA, df[keep], **given)
    else:
        X = sm.add_constant(df.loc[keep, ["x", "z"]].to_numpy())
        model = sm.GLM(df.loc[keep, "y"].to_numpy(), X, **given)
    groups = pd.factorize(labels[keep])[0]
    return model.fit(tol=1e-13, maxiter=200, cov_type="cluster", cov_kwds={"groups": groups})


def aligned(ours, ref) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """statsmodels' coefficients, standard errors and covariance in our term order."""
    names = list(ours.term_names_)
    ref_names = list(ref.params.index) if isinstance(ref.params, pd.Series) else names
    coef = pd.Series(np.asarray(ref.params), index=ref_names).loc[names]
    se = pd.Series(np.asarray(ref.bse), index=ref_names).loc[names]
    cov = pd.DataFrame(np.asarray(ref.cov_params()), index=ref_names, columns=ref_names)
    return coef, se, cov.loc[names, names]


def fit_missing(family, link, df, weights, offset, groups, formula, **params):
    model = GLM(family=family, link=link, formula=FORMULA if formula else None, **params)
    if formula:
        return model.fit(df, sample_weight=weights, offset=offset, groups=groups)
    return model.fit(df[["x", "z"]].to_numpy(), df["y"], weights, offset, groups)


MISSING_CASES = [("poisson", "log"), ("binomial", "logit"), ("binomial", "cloglog")]


@pytest.mark.parametrize("formula", [True, False], ids=["formula", "arrays"])
@pytest.mark.parametrize("family,link", MISSING_CASES)
def test_cluster_with_missing_drop_matches_statsmodels_on_rows_removed_by_hand(
    family, link, formula
):
    df, weights, offset, labels = missing_case(family, link)
    keep = np.ones(len(df), dtype=bool)
    keep[NAN_X + NAN_OFFSET + NAN_WEIGHT] = False
    ref = by_hand_reference(family, link, df, weights, offset, labels, keep, formula)
    params = {"missing": "drop", "cov_type": "cluster", "information": "observed"}
    ours = fit_missing(family, link, df, weights, offset, labels, formula, **params)
    assert ours.n_dropped_ == 6 and ours.inference_.n_groups == 30
    np.testing.assert_array_equal(ours.result_.design.kept_rows, keep)
    _, se, cov = aligned(ours, ref)
    np.testing.assert_allclose(ours.coef_table()["std_err"], se, rtol=RTOL)
    np.testing.assert_allclose(ours.cov_params_, cov, rtol=RTOL, atol=RTOL * se.min() ** 2)
    # Labels for the rows kept work too, and so do with_cov with either length.
    by_kept = fit_missing(family, link, df, weights, offset, labels[keep], formula, **params)
    np.testing.assert_array_equal(by_kept.cov_params_, ours.cov_params_)
    plain = fit_missing(
        family, link, df, weights, offset, None, formula, missing="drop", information="observed"
    )
    for given in (labels, labels[keep]):
        np.testing.assert_array_equal(
            plain.with_cov("cluster", groups=given).cov_params_, ours.cov_params_
        )


@pytest.mark.parametrize("formula", [True, False], ids=["formula", "arrays"])
@pytest.mark.parametrize("family,link", MISSING_CASES)
def test_rows_without_cluster_label_are_dropped_with_missing_drop(family, link, formula):
    df, weights, offset, labels = missing_case(family, link)
    labels[NO_LABEL[0]] = None
    labels[NO_LABEL[1:]] = np.nan
    labels[NAN_X[0]] = None  # a row missing both: counted once
    keep = np.ones(len(df), dtype=bool)
    keep[NAN_X + NAN_OFFSET + NAN_WEIGHT + NO_LABEL] = False
    ref = by_hand_reference(family, link, df, weights, offset, labels, keep, formula)
    params = {"missing": "drop", "cov_type": "cluster", "information": "observed"}
    ours = fit_missing(family, link, df, weights, offset, labels, formula, **params)
    assert ours.n_dropped_ == 9 and ours.nobs_ == keep.sum()
    np.testing.assert_array_equal(ours.result_.design.kept_rows, keep)
    coef, se, _ = aligned(ours, ref)
    assert_close(ours.coef_table()["coef"], coef, floor=se)
    np.testing.assert_allclose(ours.coef_table()["std_err"], se, rtol=RTOL)
    assert "Rows dropped (missing):" in str(ours.summary())
    with pytest.raises(InvalidGroupsError, match=r"no label in 4 of 400 rows \(first at row 3\)"):
        fit_missing(family, link, df, weights, offset, labels, formula, cov_type="cluster")
    # with_cov cannot drop rows without refitting: a missing label of a fitted row is an error.
    fitted = fit_missing(family, link, df, weights, offset, None, formula, missing="drop")
    with pytest.raises(InvalidGroupsError, match=r"no label in 3 of 394 rows"):
        fitted.with_cov("cluster", groups=labels)


def test_cluster_label_column_with_missing_values_in_a_formula():
    df, weights, offset, labels = missing_case("poisson", "log")
    labels[NO_LABEL] = None
    df = df.assign(cluster=labels)
    model = GLM(family="poisson", formula=FORMULA, missing="drop", cov_type="cluster")
    by_name = model.fit(df, sample_weight=weights, offset=offset, groups="cluster")
    by_values = GLM(family="poisson", formula=FORMULA, missing="drop", cov_type="cluster").fit(
        df, sample_weight=weights, offset=offset, groups=labels
    )
    assert by_name.n_dropped_ == 9
    np.testing.assert_array_equal(by_name.cov_params_, by_values.cov_params_)


def test_kept_rows_combines_rows_dropped_by_the_formula_and_by_the_design():
    # NaN in z is dropped by formula.py; log(0) = -inf appears only in the design matrix.
    df = simulate("poisson", n=200, seed=12).assign(u=lambda d: d["expo"])
    df.loc[[4, 60], "z"] = np.nan
    df.loc[[10, 61], "u"] = 0.0
    labels = cluster_labels(len(df))
    formula = "y ~ x + z + np.log(u)"
    with np.errstate(divide="ignore"):
        model = GLM(family="poisson", formula=formula, missing="drop", cov_type="cluster").fit(
            df, groups=labels
        )
    keep = np.ones(len(df), dtype=bool)
    keep[[4, 60, 10, 61]] = False
    np.testing.assert_array_equal(model.result_.design.kept_rows, keep)
    assert model.n_dropped_ == 4
    clean = GLM(family="poisson", formula=formula, cov_type="cluster").fit(
        df[keep], groups=labels[keep]
    )
    np.testing.assert_allclose(model.cov_params_, clean.cov_params_, rtol=1e-12)
