"""Families: deviance, log-likelihood against scipy.stats, response checks, the object contract."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from newtonglm.exceptions import InvalidParameterError, InvalidResponseError
from newtonglm.families import Binomial, Family, Gaussian, Poisson, get_family
from newtonglm.families.links import (
    CLogLogLink,
    IdentityLink,
    Link,
    LogitLink,
    LogLink,
    ProbitLink,
)

# Tolerances, stated once.
#: Log-likelihoods against scipy.stats, relative.
RTOL_LOGLIK = 1e-10
#: Identities that hold by construction up to rounding (llf = saturated - D/2).
RTOL_IDENTITY = 1e-12
#: Logit deviance through eta (log-sum-exp) against the mu path for moderate eta: relative, and
#: an absolute floor for the cancellation near y == mu, ~eps * |y log mu|.
RTOL_ETA_PATH = 1e-9
ATOL_ETA_PATH = 1e-12
#: Logit deviance through eta against the analytic expression at eta = ±50.
RTOL_EXTREME = 1e-12

# derandomize: the same examples on every run, so a failure is reproducible, never flaky.
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True)
SEED = 20240611

FAMILY_CASES: dict[str, Family] = {
    "binomial-logit": Binomial(link=LogitLink()),
    "binomial-probit": Binomial(link=ProbitLink()),
    "binomial-cloglog": Binomial(link=CLogLogLink()),
    "poisson-log": Poisson(link=LogLink()),
    "gaussian-identity": Gaussian(link=IdentityLink()),
}
BINOMIAL_CASES = ["binomial-logit", "binomial-probit", "binomial-cloglog"]


def _floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


# (y, mu) strategies on each family's range.
Y_MU = {
    "binomial": (_floats(0.0, 1.0), _floats(1e-6, 1.0 - 1e-6)),
    "poisson": (_floats(0.0, 1e4), _floats(1e-6, 1e4)),
    "gaussian": (_floats(-1e4, 1e4), _floats(-1e4, 1e4)),
}


def _y_interior(family: Family, rng: np.random.Generator, n: int) -> np.ndarray:
    """Values of y strictly inside the family's mean range."""
    if family.name == "binomial":
        return rng.uniform(1e-6, 1.0 - 1e-6, size=n)
    if family.name == "poisson":
        return np.exp(rng.uniform(np.log(1e-6), np.log(1e4), size=n))
    return rng.uniform(-1e4, 1e4, size=n)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_family_deviance_is_nonnegative(case: str) -> None:
    family = FAMILY_CASES[case]
    y_st, mu_st = Y_MU[family.name]

    @SETTINGS
    @given(rows=st.lists(st.tuples(y_st, mu_st, _floats(0.0, 10.0)), min_size=1, max_size=20))
    @example(rows=[(1e-6, 1e-6, 1.0), (0.3, 0.3, 1.0), (1.0 - 1e-6, 1.0 - 1e-6, 2.0)])
    def check(rows: list[tuple[float, float, float]]) -> None:
        y, mu, w = np.array(rows).T
        unit = family.unit_deviance(y, mu)
        assert (unit >= 0.0).all(), (y[unit < 0], mu[unit < 0], unit[unit < 0])
        assert family.deviance(y, mu, w) >= 0.0

    check()


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_family_unit_deviance_is_zero_at_y_equals_mu(case: str) -> None:
    family = FAMILY_CASES[case]
    y = _y_interior(family, np.random.default_rng(SEED), 10_000)
    unit = family.unit_deviance(y, y.copy())
    nonzero = np.flatnonzero(unit != 0.0)
    assert nonzero.size == 0, (
        f"{nonzero.size} of {y.size} rows have d(y, y) != 0, e.g. y={y[nonzero[:3]].tolist()} "
        f"-> {unit[nonzero[:3]].tolist()}"
    )
    assert family.deviance(y, y.copy(), np.full(y.size, 2.5)) == 0.0


@pytest.mark.parametrize(
    ("case", "y"),
    [
        ("binomial-logit", [0.0, 1.0]),
        ("binomial-probit", [0.0, 1.0]),
        ("binomial-cloglog", [0.0, 1.0]),
        ("poisson-log", [0.0]),
    ],
    ids=["binomial-logit", "binomial-probit", "binomial-cloglog", "poisson-log"],
)
def test_family_unit_deviance_is_zero_at_y_equals_mu_on_boundary(case: str, y: list) -> None:
    # d(y, mu) -> 0 as mu -> y at the edge of the range too: R's binomial()$dev.resids(0, 0, 1)
    # and poisson()$dev.resids(0, 0, 1) are exactly 0.
    family = FAMILY_CASES[case]
    y_arr = np.array(y)
    np.testing.assert_array_equal(family.unit_deviance(y_arr, y_arr.copy()), 0.0)


@pytest.mark.parametrize("case", BINOMIAL_CASES)
def test_binomial_loglik_matches_scipy_binom(case: str) -> None:
    family = FAMILY_CASES[case]
    rng = np.random.default_rng(SEED)
    n = 200
    m = rng.integers(1, 30, size=n).astype(float)
    mu = rng.uniform(0.02, 0.98, size=n)
    k = rng.binomial(m.astype(int), mu).astype(float)
    y = k / m
    expected = stats.binom.logpmf(k, m, mu).sum()
    assert family.loglik(y, mu, weights=m) == pytest.approx(expected, rel=RTOL_LOGLIK)
    saturated = stats.binom.logpmf(k, m, y).sum()
    assert family.saturated_loglik(y, weights=m) == pytest.approx(saturated, rel=RTOL_LOGLIK)


@pytest.mark.parametrize("case", BINOMIAL_CASES)
def test_binomial_loglik_matches_scipy_bernoulli_unweighted(case: str) -> None:
    family = FAMILY_CASES[case]
    rng = np.random.default_rng(SEED + 1)
    mu = rng.uniform(0.02, 0.98, size=300)
    y = rng.binomial(1, mu).astype(float)
    expected = stats.bernoulli.logpmf(y, mu).sum()
    assert family.loglik(y, mu) == pytest.approx(expected, rel=RTOL_LOGLIK)
    assert family.saturated_loglik(y) == 0.0


def test_poisson_loglik_matches_scipy_poisson_weighted() -> None:
    family = FAMILY_CASES["poisson-log"]
    rng = np.random.default_rng(SEED)
    n = 300
    mu = rng.uniform(0.05, 20.0, size=n)
    y = rng.poisson(mu).astype(float)
    w = rng.uniform(0.5, 3.0, size=n)
    expected = w @ stats.poisson.logpmf(y, mu)
    assert family.loglik(y, mu, weights=w) == pytest.approx(expected, rel=RTOL_LOGLIK)
    assert family.loglik(y, mu) == pytest.approx(stats.poisson.logpmf(y, mu).sum(), rel=RTOL_LOGLIK)
    saturated = w @ stats.poisson.logpmf(y, y)
    assert family.saturated_loglik(y, weights=w) == pytest.approx(saturated, rel=RTOL_LOGLIK)


def test_gaussian_loglik_matches_scipy_norm_at_mle_scale() -> None:
    # Profile log-likelihood: sigma² = D / n, row i has variance sigma² / w_i.
    family = FAMILY_CASES["gaussian-identity"]
    rng = np.random.default_rng(SEED)
    n = 250
    mu = rng.normal(size=n)
    y = mu + rng.normal(scale=0.7, size=n)
    w = rng.uniform(0.5, 3.0, size=n)
    sigma2 = (w @ (y - mu) ** 2) / n
    expected = stats.norm.logpdf(y, mu, np.sqrt(sigma2 / w)).sum()
    assert family.loglik(y, mu, weights=w) == pytest.approx(expected, rel=RTOL_LOGLIK)


@pytest.mark.parametrize("case", ["binomial-logit", "binomial-cloglog", "poisson-log"])
def test_family_loglik_is_saturated_minus_half_deviance(case: str) -> None:
    family = FAMILY_CASES[case]
    rng = np.random.default_rng(SEED)
    n = 100
    w = rng.integers(1, 10, size=n).astype(float)
    if family.name == "binomial":
        mu = rng.uniform(0.05, 0.95, size=n)
        y = rng.binomial(w.astype(int), mu) / w
    else:
        mu = rng.uniform(0.1, 10.0, size=n)
        y = rng.poisson(mu).astype(float)
    expected = family.saturated_loglik(y, w) - 0.5 * family.deviance(y, mu, w)
    assert family.loglik(y, mu, w) == pytest.approx(expected, rel=RTOL_IDENTITY)


@SETTINGS
@given(y=_floats(0.0, 1.0), eta=_floats(-10.0, 10.0))
def test_binomial_logit_deviance_eta_path_matches_mu_path(y: float, eta: float) -> None:
    family = Binomial(link=LogitLink())
    y_arr, eta_arr = np.array([y]), np.array([eta])
    mu = family.link.inverse(eta_arr)
    via_eta = family.unit_deviance(y_arr, mu, eta_arr)
    via_mu = family.unit_deviance(y_arr, mu)
    np.testing.assert_allclose(via_eta, via_mu, rtol=RTOL_ETA_PATH, atol=ATOL_ETA_PATH)


@pytest.mark.parametrize("eta", [-50.0, 50.0])
@pytest.mark.parametrize("y", [0.0, 0.3, 1.0])
def test_binomial_logit_deviance_eta_path_exact_where_mu_rounds(y: float, eta: float) -> None:
    family = Binomial(link=LogitLink())
    eta_arr, y_arr = np.array([eta]), np.array([y])
    mu = family.link.inverse(eta_arr)
    # 1 - mu rounds to 0 (eta = 50) or mu is below eps (eta = -50): the mu path would clip.
    assert family.clip_mu(mu)[0] != mu[0]
    # log mu = -log(1 + e^-eta), log(1 - mu) = -log(1 + e^eta), each written so exp never
    # overflows.
    tail = np.log1p(np.exp(-abs(eta)))
    log_mu = -tail if eta > 0 else eta - tail
    log_1m_mu = -eta - tail if eta > 0 else -tail
    ym = 1.0 - y
    y_log_y = y * np.log(y) if y > 0 else 0.0
    ym_log_ym = ym * np.log(ym) if ym > 0 else 0.0
    expected = 2.0 * (y_log_y - y * log_mu + ym_log_ym - ym * log_1m_mu)
    got = family.unit_deviance(y_arr, mu, eta_arr)
    assert np.isfinite(got).all()
    assert got[0] == pytest.approx(expected, rel=RTOL_EXTREME)
    assert family.deviance(y_arr, mu, np.array([3.0]), eta=eta_arr) == pytest.approx(
        3.0 * expected, rel=RTOL_EXTREME
    )


@SETTINGS
@given(y=_floats(0.0, 1e3), eta=_floats(-10.0, 7.0))
def test_poisson_deviance_eta_path_matches_mu_path(y: float, eta: float) -> None:
    family = Poisson(link=LogLink())
    y_arr, eta_arr = np.array([y]), np.array([eta])
    mu = family.link.inverse(eta_arr)
    via_eta = family.unit_deviance(y_arr, mu, eta_arr)
    via_mu = family.unit_deviance(y_arr, mu)
    # eta and log(exp(eta)) differ by ~eps |eta|, times y.
    scale = ATOL_ETA_PATH * max(1.0, y)
    np.testing.assert_allclose(via_eta, via_mu, rtol=RTOL_ETA_PATH, atol=scale)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_family_variance_matches_scipy(case: str) -> None:
    family = FAMILY_CASES[case]
    mu = np.array([0.05, 0.3, 0.5, 0.9])
    expected = {
        "binomial": stats.binom.var(1, mu),
        "poisson": stats.poisson.var(mu),
        "gaussian": np.ones_like(mu),
    }[family.name]
    np.testing.assert_allclose(family.variance(mu), expected, rtol=RTOL_IDENTITY)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_family_starting_mu_inside_link_range(case: str) -> None:
    family = FAMILY_CASES[case]
    y = np.array([0.0, 1.0, 0.0, 1.0]) if family.name == "binomial" else np.array([0.0, 3.0])
    w = np.full(y.size, 2.0)
    eta = family.link.link(family.starting_mu(y, w))
    assert np.isfinite(eta).all()


def test_poisson_check_y_counts_negative_values() -> None:
    y = np.array([1.0, 0.0, -1.0, 2.0, -3.0, -0.5])
    with pytest.raises(
        InvalidResponseError,
        match=r"family='poisson' needs y >= 0; column 'claims' has 3 negative values "
        r"\(first at row 2\)\.",
    ):
        Poisson().check_y(y, "claims")


def test_binomial_check_y_counts_values_outside_unit_interval() -> None:
    y = np.array([0.0, 1.0, 1.5, 0.5, -0.1])
    with pytest.raises(
        InvalidResponseError,
        match=r"family='binomial' needs y in \[0, 1\].*column 'y' has 2 values outside "
        r"\[0, 1\] \(first at row 2\)\.",
    ):
        Binomial().check_y(y)


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_family_check_y_accepts_valid_response(case: str) -> None:
    family = FAMILY_CASES[case]
    y = np.array([0.0, 1.0, 0.25]) if family.name == "binomial" else np.array([0.0, 2.0, 7.5])
    family.check_y(y)


@pytest.mark.parametrize(
    ("cls", "link"),
    [
        (Poisson, LogitLink()),
        (Poisson, IdentityLink()),
        (Binomial, LogLink()),
        (Binomial, IdentityLink()),
        (Gaussian, ProbitLink()),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Link) else v.__name__,
)
def test_family_rejects_unsupported_link(cls: type[Family], link: Link) -> None:
    with pytest.raises(
        InvalidParameterError,
        match=rf"family='{cls.name}' does not support link='{link.name}'; use one of ",
    ):
        cls(link=link)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("binomial", "probit"), Binomial(link=ProbitLink())),
        (("binomial", None), Binomial(link=LogitLink())),
        (("binomial", CLogLogLink()), Binomial(link=CLogLogLink())),
        (("poisson", None), Poisson(link=LogLink())),
        (("gaussian", None), Gaussian(link=IdentityLink())),
        ((Binomial(), "cloglog"), Binomial(link=CLogLogLink())),
    ],
)
def test_get_family_resolves_name_and_link(args: tuple, expected: Family) -> None:
    family = get_family(*args)
    assert family == expected
    assert type(family.link) is type(expected.link)


def test_get_family_unknown_name_raises() -> None:
    with pytest.raises(InvalidParameterError, match=r"family='nope' is not a known family"):
        get_family("nope")


def test_get_family_unsupported_link_raises() -> None:
    with pytest.raises(InvalidParameterError, match=r"family='poisson' does not support"):
        get_family("poisson", "logit")


@pytest.mark.parametrize("case", list(FAMILY_CASES))
def test_family_pickle_round_trip(case: str) -> None:
    family = FAMILY_CASES[case]
    restored = pickle.loads(pickle.dumps(family))
    assert restored == family
    assert type(restored) is type(family)
    assert type(restored.link) is type(family.link)


def test_family_equality_depends_on_family_and_link() -> None:
    assert Binomial() == Binomial(link=LogitLink())
    assert hash(Binomial(link=ProbitLink())) == hash(Binomial(link=ProbitLink()))
    assert Binomial(link=ProbitLink()) != Binomial(link=LogitLink())
    assert Poisson(link=LogLink()) != Gaussian(link=LogLink())


@pytest.mark.parametrize(
    ("family", "text", "canonical"),
    [
        (Binomial(), "Binomial(link=LogitLink())", True),
        (Binomial(link=ProbitLink()), "Binomial(link=ProbitLink())", False),
        (Binomial(link=CLogLogLink()), "Binomial(link=CLogLogLink())", False),
        (Poisson(), "Poisson(link=LogLink())", True),
        (Gaussian(), "Gaussian(link=IdentityLink())", True),
        (Gaussian(link=LogLink()), "Gaussian(link=LogLink())", False),
    ],
)
def test_family_repr_and_canonical(family: Family, text: str, canonical: bool) -> None:
    assert repr(family) == text
    assert family.is_canonical is canonical


@pytest.mark.parametrize(
    "y",
    [
        [0.0, 1.0, 2.0, 7.0, 40.0],  # integer counts: the log y! table
        [0.0, 0.5, 2.25, 7.0],  # non-integer responses: gammaln per row
        [0.0, 3.0, 2.0**21],  # a count beyond the table
    ],
    ids=["counts", "non-integer", "large-count"],
)
def test_poisson_saturated_loglik_matches_scipy_on_every_path(y: list) -> None:
    family = FAMILY_CASES["poisson-log"]
    y_arr = np.asarray(y)
    # y log y - y - log Γ(y + 1) row by row (scipy's Poisson pmf at mu = y for counts).
    direct = sum((v * math.log(v) if v > 0 else 0.0) - v - math.lgamma(v + 1.0) for v in y_arr)
    if (y_arr == np.round(y_arr)).all():
        assert direct == pytest.approx(stats.poisson.logpmf(y_arr, y_arr).sum(), rel=1e-9)
    # The terms of a large count cancel to ~1e-8 of their size: an absolute floor for that.
    assert family.saturated_loglik(y_arr) == pytest.approx(direct, rel=RTOL_IDENTITY, abs=1e-7)


def test_poisson_unit_deviance_matches_r_formula_including_zero_counts() -> None:
    family = FAMILY_CASES["poisson-log"]
    y = np.array([0.0, 0.0, 1.0, 3.0, 10.0, 2.0])
    mu = np.array([0.0, 0.7, 1.0, 2.5, 12.0, 1e-300])
    # R's poisson()$dev.resids: 2 (y log(y / mu) - (y - mu)), with 0 log 0 = 0 and mu clipped
    # at eps; 0 where y == mu (also y == mu == 0).
    mu_c = np.maximum(mu, np.finfo(float).eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = np.where(y > 0, y * np.log(y / mu_c), 0.0)
    expected = np.where(y == mu, 0.0, 2.0 * (ylog - (y - mu_c)))
    np.testing.assert_allclose(family.unit_deviance(y, mu), expected, rtol=1e-14, atol=0)
    assert family.unit_deviance(y, mu)[0] == 0.0


@pytest.mark.parametrize(
    "family,y",
    [
        (Binomial(), np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])),
        (Binomial(), np.ones(5)),
        (Binomial(), np.zeros(5)),
        (Binomial(), np.array([0.0, 0.25, 1.0, 0.5, 0.75])),  # proportions: the general path
        (Poisson(), np.array([0.0, 3.0, 1.0, 0.0, 7.0, 2.0, 0.0])),
        (Poisson(), np.array([2.5, 0.5, 4.0])),
        (Poisson(), np.zeros(4)),
    ],
    ids=["binary", "all-ones", "all-zeros", "proportions", "counts", "fractional", "zeros"],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_null_deviance_closed_forms_match_the_sum_of_unit_deviances(
    family: Family, y: np.ndarray, weighted: bool
) -> None:
    w = np.linspace(0.5, 2.0, y.size) if weighted else np.ones(y.size)
    mean = float(w @ y) / float(w.sum())
    by_rows = float(w @ family.unit_deviance(y, np.full(y.size, mean)))
    assert family.null_deviance(y, w) == pytest.approx(by_rows, rel=1e-12, abs=1e-12)
    assert Family.null_deviance(family, y, w) == pytest.approx(by_rows, rel=1e-12, abs=1e-12)
