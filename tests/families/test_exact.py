"""The binomial likelihood in log space, against 400-digit arithmetic and the closed forms.

``ProbabilityLink.log_probs / hazards / hazard_slopes`` against mpmath over the whole range of η
where float64 can hold the result; ``families.exact.binomial_rows`` against the textbook formulas
where μ is representable, and finite, exact values where μ itself rounds to 0 or 1.
"""

from __future__ import annotations

import mpmath as mm
import numpy as np
import pytest

from newtonglm.families import CLogLogLink, LogitLink, ProbitLink
from newtonglm.families.exact import BOUNDARY_EPS, binomial_rows

#: Against 400 digits. The probit tails are bounded by scipy's log_ndtr (5e-11 at η = -700).
RTOL = {"logit": 1e-14, "probit": 1e-10, "cloglog": 1e-13}
LINKS = {"logit": LogitLink(), "probit": ProbitLink(), "cloglog": CLogLogLink()}
ETAS = {
    "logit": [-700, -300, -38, -20, -5, -1e-4, 0, 1e-6, 0.5, 3, 8.3, 25, 40, 300],
    "probit": [-700, -300, -45, -30, -25, -10, -3, -1e-4, 0, 0.5, 3, 10, 25, 30, 40, 300],
    # e^e^η leaves double range beyond η ≈ 6.6: a (≈ t e^-t) then underflows (checked below).
    "cloglog": [-700, -300, -40, -20.5, -19.5, -10, -3, -1e-4, 0, 1e-6, 0.5, 3, 6, 6.5],
}
mm.mp.dps = 400  # so that 1 - μ keeps its digits where μ is 1e-300


def _mp_pieces(link: str, e: mm.mpf) -> tuple[mm.mpf, mm.mpf, mm.mpf]:
    if link == "probit":
        return mm.ncdf(e), mm.ncdf(-e), mm.npdf(e)
    if link == "cloglog":
        t = mm.e**e
        return -mm.expm1(-t), mm.e ** (-t), t * mm.e ** (-t)
    mu = 1 / (1 + mm.e ** (-e))
    return mu, 1 - mu, mu * (1 - mu)


def _mp_a(link: str, e: mm.mpf) -> mm.mpf:
    mu, _, d = _mp_pieces(link, e)
    return d / mu


def _mp_b(link: str, e: mm.mpf) -> mm.mpf:
    _, m1, d = _mp_pieces(link, e)
    return d / m1


@pytest.mark.parametrize("name", list(LINKS))
def test_log_space_quantities_match_400_digit_arithmetic(name: str) -> None:
    link, etas = LINKS[name], np.array(ETAS[name], dtype=float)
    (lm, l1), (a, b), (da, db) = (
        link.log_probs(etas),
        link.hazards(etas),
        link.hazard_slopes(etas),
    )
    for i, e in enumerate(etas):
        E = mm.mpf(e)
        mu, m1, d = _mp_pieces(name, E)
        expected = {
            "log mu": mm.log(mu),
            "log(1 - mu)": mm.log(m1),
            "a": d / mu,
            "b": d / m1,
            "a'": mm.diff(lambda x: _mp_a(name, x), E),
            "b'": mm.diff(lambda x: _mp_b(name, x), E),
        }
        got = {"log mu": lm, "log(1 - mu)": l1, "a": a, "b": b, "a'": da, "b'": db}
        for key, ref in expected.items():
            ref = float(ref)
            assert got[key][i] == pytest.approx(ref, rel=RTOL[name], abs=1e-300), (key, e)


def test_cloglog_far_right_tail_stays_finite_and_exact() -> None:
    eta = np.array([10.0, 50.0, 300.0])
    lm, l1 = CLogLogLink().log_probs(eta)
    np.testing.assert_array_equal(l1, -np.exp(eta))  # log(1 - μ) = -e^η exactly
    assert (lm <= 0).all() and (lm > -1e-300).all()  # μ = 1 to double precision


@pytest.mark.parametrize("name", list(LINKS))
def test_rows_equal_the_closed_forms_where_mu_is_representable(name: str) -> None:
    link = LINKS[name]
    rng = np.random.default_rng(1)
    eta = rng.uniform(-4.0, 2.5, 200)  # cloglog's 1 - μ = exp(-e^η) is 5e-6 at η = 2.5
    y = np.where(rng.random(200) < 0.3, rng.random(200), (rng.random(200) < 0.5) * 1.0)
    mu = link.inverse(eta)
    dmu = link.inverse_derivative(eta)
    v = mu * (1.0 - mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2.0 * (
            np.where(y > 0, y * np.log(y / mu), 0.0)
            + np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
        )
    for observed in (False, True):
        rows = binomial_rows(link, y, eta, observed=observed)
        np.testing.assert_allclose(rows.deviance, dev, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(rows.score, (y - mu) * dmu / v, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(rows.pearson, (y - mu) ** 2 / v, rtol=1e-10, atol=1e-13)
        if not observed:
            np.testing.assert_allclose(rows.weight, dmu**2 / v, rtol=1e-10)
        else:
            # Observed weight = -d(score)/dη, by central differences.
            h = 1e-5
            up = binomial_rows(link, y, eta + h).score
            down = binomial_rows(link, y, eta - h).score
            np.testing.assert_allclose(rows.weight, -(up - down) / (2 * h), rtol=1e-6, atol=1e-9)
            assert (rows.weight >= 0).all()  # concave log-likelihood in η
        assert not rows.at_edge.any()


@pytest.mark.parametrize("name", ["probit", "cloglog"])
def test_rows_stay_exact_where_mu_rounds_to_0_or_1(name: str) -> None:
    link = LINKS[name]
    low = {"probit": -40.0, "cloglog": -400.0}[name]  # log μ ≈ -804.6 / -400
    eta = np.array([low, low, 9.0, 9.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    rows = binomial_rows(link, y, eta, observed=True)
    lm, l1 = link.log_probs(eta)
    # -2 log μ for y = 1, -2 log(1 - μ) for y = 0: huge but finite, no clip at eps.
    np.testing.assert_allclose(rows.deviance, -2.0 * np.where(y > 0, lm, l1), rtol=1e-15)
    assert np.isfinite(rows.deviance).all() and np.isfinite(rows.score).all()
    assert rows.deviance[0] > 700.0  # a clipped mean would have given -2 log(eps) = 72
    assert rows.at_edge.tolist() == [True, True, True, True]
    assert BOUNDARY_EPS == 10 * np.finfo(float).eps  # R's glm.fit threshold
