"""Largest discrepancy vs statsmodels of every inference quantity of issue 5.

Fits newtonglm (default ``tol=1e-8``) and statsmodels' GLM (``tol=1e-13``) to the same simulated
data over binomial (logit, probit, cloglog) and Poisson (log), three datasets each, each without
and with prior weights and an offset (48 cases), and prints a markdown table: quantity, number
of cases, the largest absolute and relative differences, and the case where the relative one
occurs. Run:
``PYTHONPATH=src .venv/bin/python benchmarks/inference_accuracy.py``.

References (all statsmodels, computed here):

- nonrobust, scale: ``GLM.fit(scale=...)``; HC0 and cluster: ``GLM.fit(cov_type=...)``, whose
  bread is the *observed* information (newtonglm with ``information="observed"``; for HC0 the
  default expected-information bread is also compared with the WLS route below);
- HC0–HC3 (expected bread): ``WLS(z, X, weights=W).fit(cov_type=...)`` with the working
  response z and working weights W at statsmodels' converged fit (statsmodels' GLM returns
  plain HC0 whatever HC1–HC3 is asked, its issue 7798);
- residuals: ``resid_*`` (Anscombe: ``resid_anscombe_unscaled``); hat, Cook's distance,
  dfbeta and studentized residuals: ``get_influence(observed=False)`` (the expected
  information, R's choice; statsmodels' default is observed), the studentized deviance
  residual as ``GLMInfluence(resid=resid_deviance / √scale).resid_studentized``;
- predictions: ``get_prediction(...).summary_frame()`` for the mean and ``which="linear"``;
- LR test: ``2 (llf_full - llf_restricted)`` and its χ² p-value (statsmodels has no LR test
  method for GLM results), with an estimated dispersion the deviance difference over the full
  model's ``scale``; Wald: ``wald_test(..., scalar=True)``; anova: the deviances, their
  differences and χ² p-values of the statsmodels fits.

Relative differences are ``|ours - ref| / (|ref| + floor)``; the floor is 0 except for
quantities that cross zero, where it is their natural scale (stated in the table), as in the
tests. The largest relative differences are in p-values of order 1e-23, where a relative error
in the standard error is multiplied by about z² ≈ 100: statsmodels' reported covariance uses the
working weights of its last IRLS iteration, one step behind its final coefficients (a few 1e-9
relative in its SEs), and the default tol=1e-8 leaves our coefficients up to ~2e-7 SE from the
exact MLE.
"""

from __future__ import annotations

import itertools
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.formula import options
from statsmodels.stats.outliers_influence import GLMInfluence

from newtonglm import GLM, anova, lr_test

options.formula_engine = "formulaic"  # term names as newtonglm's

FORMULA = "y ~ x + z + C(g)"
SMALLER = ["y ~ x", "y ~ x + z"]  # nested in FORMULA, for the LR test and anova
HYPOTHESES = ["x = 0", "x = 0, C(g)[T.b] = C(g)[T.c]", "2*x - z = 0.1"]
LINKS = {
    "logit": sm.families.links.Logit,
    "probit": sm.families.links.Probit,
    "cloglog": sm.families.links.CLogLog,
    "log": sm.families.links.Log,
}
FAMILY_LINKS = [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog")]
FAMILY_LINKS += [("poisson", "log")]
RESIDUALS = {
    "response": "resid_response",
    "working": "resid_working",
    "pearson": "resid_pearson",
    "deviance": "resid_deviance",
    "anscombe": "resid_anscombe_unscaled",
}
N_GROUPS = 25


def simulate(family: str, n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Two continuous predictors, a 3-level factor, weights, an exposure and cluster labels."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.uniform(-1.0, 1.0, size=n),
            "g": rng.choice(["a", "b", "c"], size=n),
            "w": rng.uniform(0.5, 3.0, size=n),
            "expo": rng.uniform(0.5, 4.0, size=n),
            "cluster": rng.integers(0, N_GROUPS, size=n),
        }
    )
    eta = 0.2 + 0.6 * df["x"] - 0.5 * df["z"] + 0.4 * (df["g"] == "b") - 0.3 * (df["g"] == "c")
    if family == "binomial":
        df["y"] = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta))).astype(float)
    else:
        df["y"] = rng.poisson(np.exp(0.3 * eta) * df["expo"]).astype(float)
    return df


@dataclass
class Worst:
    """Largest differences of one quantity over the cases."""

    floor: str = ""
    cases: set[str] = field(default_factory=set)
    abs_diff: float = 0.0
    rel_diff: float = 0.0
    where: str = ""


RESULTS: dict[str, Worst] = defaultdict(Worst)


def record(quantity: str, case: str, ours, ref, floor=0.0, floor_label: str = "") -> None:
    """Fold the differences of one quantity in one case into RESULTS."""
    a = np.asarray(ours, dtype=float)
    r = np.asarray(ref, dtype=float)
    assert a.shape == r.shape, (quantity, a.shape, r.shape)
    err = np.abs(a - r)
    rel = err / (np.abs(r) + np.broadcast_to(np.asarray(floor, dtype=float), r.shape))
    entry = RESULTS[quantity]
    entry.floor = floor_label
    entry.cases.add(case)
    entry.abs_diff = max(entry.abs_diff, float(err.max()))
    if float(rel.max()) >= entry.rel_diff:
        entry.rel_diff, entry.where = float(rel.max()), case


def sm_family(family: str, link: str):
    cls = sm.families.Binomial if family == "binomial" else sm.families.Poisson
    return cls(link=LINKS[link]())


def fit_pair(df, family, link, weights, offset, formula=FORMULA, sm_fit=None, **params):
    """(newtonglm, statsmodels) fits of one formula."""
    kwargs = {}
    if weights is not None:
        kwargs["var_weights"] = weights
    if offset is not None:
        kwargs["offset"] = offset
    ref = smf.glm(formula, df, family=sm_family(family, link), **kwargs).fit(
        tol=1e-13, maxiter=200, **(sm_fit or {})
    )
    groups = params.pop("groups", None)
    ours = GLM(family=family, link=link, formula=formula, **params).fit(
        df, sample_weight=weights, offset=offset, groups=groups
    )
    return ours, ref


def by_name(ref_values, ref, names) -> np.ndarray:
    return pd.Series(np.asarray(ref_values), index=list(ref.params.index)).loc[names].to_numpy()


def cov_by_name(cov, ref, names) -> np.ndarray:
    index = list(ref.params.index)
    return pd.DataFrame(np.asarray(cov), index=index, columns=index).loc[names, names].to_numpy()


def wls_reference(df, ref, weights, cov_type: str, **cov_kwds):
    """Robust covariance of the final IRLS weighted least squares problem at statsmodels' fit."""
    fam = ref.model.family
    mu = np.asarray(ref.mu)
    gprime = fam.link.deriv(mu)
    prior = np.ones_like(mu) if weights is None else weights
    X = pd.DataFrame(ref.model.exog, columns=list(ref.params.index))  # named, for wald_test
    z = X.to_numpy() @ np.asarray(ref.params) + (df["y"].to_numpy() - mu) * gprime  # no offset
    wls = sm.WLS(z, X, weights=prior / (gprime**2 * fam.variance(mu)))
    return wls.fit(cov_type=cov_type, cov_kwds=cov_kwds or None)


def check_covariances(case, df, family, link, weights, offset, ours, ref) -> None:
    names = list(ours.term_names_)
    record(
        "coefficients",
        case,
        ours.coef_table()["coef"],
        by_name(ref.params, ref, names),
        floor=by_name(ref.bse, ref, names),
        floor_label="SE",
    )
    record("SE nonrobust", case, ours.coef_table()["std_err"], by_name(ref.bse, ref, names))
    record(
        "covariance nonrobust (matrix)",
        case,
        ours.cov_params_.to_numpy(),
        cov_by_name(ref.cov_params(), ref, names),
        floor=float(ref.bse.min()) ** 2,
        floor_label="min SE²",
    )
    ref_z, ref_p = by_name(ref.tvalues, ref, names), by_name(ref.pvalues, ref, names)
    record("z nonrobust", case, ours.coef_table()["z"], ref_z, floor=1.0, floor_label="1")
    record("p-value nonrobust", case, ours.coef_table()["p_value"], ref_p)
    hess = ref.model.hessian(np.asarray(ref.params), observed=True)
    observed_se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    observed = GLM(family=family, link=link, formula=FORMULA, information="observed")
    observed.fit(df, sample_weight=weights, offset=offset)
    record(
        "SE nonrobust, observed information",
        case,
        observed.coef_table()["std_err"],
        by_name(observed_se, ref, names),
    )
    labels = df["cluster"].to_numpy()
    for cov_type in ("HC0", "cluster"):
        sm_kw = {"cov_type": cov_type}
        if cov_type == "cluster":
            sm_kw["cov_kwds"] = {"groups": labels}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "cov_type not fully supported with var_weights"
            ref_c = smf.glm(
                FORMULA,
                df,
                family=sm_family(family, link),
                **({} if weights is None else {"var_weights": weights}),
                **({} if offset is None else {"offset": offset}),
            ).fit(tol=1e-13, maxiter=200, **sm_kw)
        ours_c = ours.with_cov(cov_type, groups=labels if cov_type == "cluster" else None)
        # statsmodels' bread is the observed information; so is ours here.
        observed = GLM(
            family=family, link=link, formula=FORMULA, cov_type=cov_type, information="observed"
        )
        observed = observed.fit(
            df,
            sample_weight=weights,
            offset=offset,
            groups=labels if cov_type == "cluster" else None,
        )
        record(
            f"SE {cov_type} (observed bread) vs GLM",
            case,
            observed.coef_table()["std_err"],
            by_name(ref_c.bse, ref_c, names),
        )
        groups = {"groups": labels} if cov_type == "cluster" else {}
        wls = wls_reference(df, ref, weights, cov_type, **groups)
        record(
            f"SE {cov_type} (expected bread) vs WLS",
            case,
            ours_c.coef_table()["std_err"],
            by_name(wls.bse, ref, names),
        )
    for cov_type in ("HC1", "HC2", "HC3"):
        wls = wls_reference(df, ref, weights, cov_type)
        robust = ours.with_cov(cov_type)
        record(
            f"SE {cov_type} vs WLS",
            case,
            robust.coef_table()["std_err"],
            by_name(wls.bse, ref, names),
        )
        record(
            f"covariance {cov_type} vs WLS (matrix)",
            case,
            robust.cov_params_.to_numpy(),
            cov_by_name(wls.cov_params(), ref, names),
            floor=float(wls.bse.min()) ** 2,
            floor_label="min SE²",
        )


def check_scales(case, df, family, link, weights, offset) -> None:
    for scale in ("X2", "dev"):
        ours, ref = fit_pair(
            df, family, link, weights, offset, scale=scale, sm_fit={"scale": scale}
        )
        names = list(ours.term_names_)
        record(f"scale {scale} (φ)", case, ours.scale_, ref.scale)
        record(
            f"SE scale={scale}", case, ours.coef_table()["std_err"], by_name(ref.bse, ref, names)
        )
        record(
            f"p-value scale={scale}",
            case,
            ours.coef_table()["p_value"],
            by_name(ref.pvalues, ref, names),
        )
        record(f"llf / AIC scale={scale}", case, [ours.llf_, ours.aic_], [ref.llf, ref.aic])
        if scale == "X2":
            check_influence(case, ours, ref, suffix=" (scale X2)")
            check_predictions(case, df, offset, ours, ref, suffix=" (scale X2)")
            small, ref_small = fit_pair(
                df,
                family,
                link,
                weights,
                offset,
                formula=SMALLER[0],
                scale=scale,
                sm_fit={"scale": scale},
            )
            result = lr_test(small, ours)
            statistic = (ref_small.deviance - ref.deviance) / ref.scale
            record("LR statistic (scale X2)", case, result.statistic, statistic)
            record(
                "LR p-value (scale X2)", case, result.p_value, stats.chi2.sf(statistic, result.df)
            )


def check_residuals(case, ours, ref) -> None:
    for kind, attr in RESIDUALS.items():
        theirs = np.asarray(getattr(ref, attr))
        record(
            f"residual {kind}",
            case,
            ours.residuals(kind),
            theirs,
            floor=np.abs(theirs).mean(),
            floor_label="mean |r|",
        )


def check_influence(case, ours, ref, suffix="") -> None:
    infl = ref.get_influence(observed=False)
    stud_pearson = np.asarray(infl.resid_studentized)
    stud_dev = np.asarray(
        GLMInfluence(
            ref,
            resid=np.asarray(ref.resid_deviance) / np.sqrt(ref.scale),
            hat_matrix_diag=infl.hat_matrix_diag,
        ).resid_studentized
    )
    frame = ours.influence()
    names = list(ours.term_names_)
    record("hat values" + suffix, case, frame["hat"], infl.hat_matrix_diag)
    record("Cook's distance" + suffix, case, frame["cooks_distance"], infl.cooks_distance[0])
    for kind, theirs in (("studentized_pearson", stud_pearson), ("studentized_deviance", stud_dev)):
        record(
            f"residual {kind}" + suffix,
            case,
            ours.residuals(kind),
            theirs,
            floor=np.abs(theirs).mean(),
            floor_label="mean |r|",
        )
        record(
            f"influence {kind}" + suffix,
            case,
            frame[kind],
            theirs,
            floor=np.abs(theirs).mean(),
            floor_label="mean |r|",
        )
    d_params = pd.DataFrame(infl.d_params, columns=list(ref.params.index))[names].to_numpy()
    record(
        "dfbeta" + suffix,
        case,
        frame[[f"dfbeta_{n}" for n in names]],
        d_params,
        floor=np.abs(d_params).mean(0),
        floor_label="column mean |dfbeta|",
    )


def check_predictions(case, df, offset, ours, ref, suffix="") -> None:
    new = df.iloc[::10]
    new_offset = None if offset is None else offset[::10]
    frame = ours.predict_interval(new, offset=new_offset)
    sm_offset = np.zeros(len(new)) if new_offset is None else new_offset
    mean = ref.get_prediction(new, offset=sm_offset).summary_frame()
    linear = ref.get_prediction(new, offset=sm_offset, which="linear").summary_frame()
    se = linear["se"].to_numpy()
    record("prediction mean" + suffix, case, frame["mean"], mean["mean"])
    record("prediction mean_se" + suffix, case, frame["mean_se"], mean["mean_se"])
    record(
        "prediction mean CI" + suffix,
        case,
        frame[["mean_ci_lower", "mean_ci_upper"]],
        mean[["mean_ci_lower", "mean_ci_upper"]],
    )
    record(
        "prediction linear" + suffix,
        case,
        frame["linear"],
        linear["predicted"],
        floor=se,
        floor_label="linear_se",
    )
    record("prediction linear_se" + suffix, case, frame["linear_se"], se)
    record(
        "prediction linear CI" + suffix,
        case,
        frame[["linear_ci_lower", "linear_ci_upper"]],
        linear[["ci_lower", "ci_upper"]],
        floor=se[:, None],
        floor_label="linear_se",
    )


def check_tests(case, df, family, link, weights, offset, ours, ref) -> None:
    pairs = [fit_pair(df, family, link, weights, offset, formula=f) for f in SMALLER]
    result = lr_test(pairs[0][0], ours)
    statistic = 2.0 * (ref.llf - pairs[0][1].llf)
    record("LR statistic", case, result.statistic, statistic)
    record("LR p-value", case, result.p_value, stats.chi2.sf(statistic, result.df))
    for hypothesis in HYPOTHESES:
        theirs = ref.wald_test(hypothesis, scalar=True)
        mine = ours.wald_test(hypothesis)
        record("Wald statistic", case, mine.statistic, theirs.statistic)
        record("Wald p-value", case, mine.p_value, theirs.pvalue)
        theirs_hc3 = wls_reference(df, ref, weights, "HC3").wald_test(hypothesis, scalar=True)
        mine_hc3 = ours.with_cov("HC3").wald_test(hypothesis)
        record("Wald statistic (HC3) vs WLS", case, mine_hc3.statistic, theirs_hc3.statistic)
        record("Wald p-value (HC3) vs WLS", case, mine_hc3.p_value, theirs_hc3.pvalue)
    table = anova(pairs[0][0], pairs[1][0], ours)
    refs = [pairs[0][1], pairs[1][1], ref]
    dev = np.array([refs[0].deviance - refs[1].deviance, refs[1].deviance - refs[2].deviance])
    record("anova resid_deviance", case, table["resid_deviance"], [r.deviance for r in refs])
    record("anova deviance change", case, table["deviance"].iloc[1:], dev)
    record(
        "anova p-value",
        case,
        table["p_value"].iloc[1:],
        stats.chi2.sf(dev, table["df"].iloc[1:].to_numpy(dtype=float)),
    )


#: One simulated dataset per seed and family/link (each fitted four ways).
SEEDS = (100, 200, 300)


def main() -> None:
    combos = itertools.product(FAMILY_LINKS, SEEDS, (False, True), (False, True))
    for (family, link), seed, weighted, with_offset in combos:
        df = simulate(family, seed=seed + FAMILY_LINKS.index((family, link)))
        weights = df["w"].to_numpy() if weighted else None
        offset = None
        if with_offset:
            offset = (0.1 if family == "binomial" else 1.0) * np.log(df["expo"].to_numpy())
        case = (
            f"{family}/{link}{' +weights' if weighted else ''}"
            f"{' +offset' if with_offset else ''} (seed {seed})"
        )
        ours, ref = fit_pair(df, family, link, weights, offset)
        check_covariances(case, df, family, link, weights, offset, ours, ref)
        check_residuals(case, ours, ref)
        check_influence(case, ours, ref)
        check_predictions(case, df, offset, ours, ref)
        check_tests(case, df, family, link, weights, offset, ours, ref)
        check_scales(case, df, family, link, weights, offset)
    print("| quantity | cases | max abs diff | max rel diff | floor | worst case |")
    print("|---|---|---|---|---|---|")
    for quantity, entry in RESULTS.items():
        print(
            f"| {quantity} | {len(entry.cases)} | {entry.abs_diff:.1e} | {entry.rel_diff:.1e} | "
            f"{entry.floor or '0'} | {entry.where} |"
        )


if __name__ == "__main__":
    main()
