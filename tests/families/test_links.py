"""Link functions: inverses, derivatives, overflow safety, and the frozen-object contract."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newtonglm.exceptions import InvalidParameterError
from newtonglm.families.links import (
    CLogLogLink,
    IdentityLink,
    Link,
    LogitLink,
    LogLink,
    ProbitLink,
    get_link,
)

# Tolerances, stated once.
#: inverse(link(mu)) against mu, relative.
RTOL_ROUNDTRIP = 1e-12
#: derivative(mu) * inverse_derivative(link(mu)) against 1.
RTOL_CHAIN = 1e-12
#: inverse_derivative against a central finite difference of inverse: relative, plus an
#: absolute floor (on the probability scale) for the float64 rounding of mu itself, ~eps / h.
RTOL_FD = 1e-6
ATOL_FD = 1e-10
#: Relative finite-difference step.
FD_STEP = 1e-5

# derandomize: the same examples on every run, so a failure is reproducible, never flaky.
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True)

# Valid mu range and a range of eta on which a finite difference of inverse is meaningful.
MU_BINOMIAL = (1e-6, 1.0 - 1e-6)
MU_POSITIVE = (1e-6, 1e6)
MU_REAL = (-1e6, 1e6)
ETA_BINOMIAL = (-8.0, 8.0)
ETA_LOG = (-30.0, 30.0)
ETA_REAL = (-1e3, 1e3)

# link, mu range, eta range
LINK_CASES = {
    "logit": (LogitLink(), MU_BINOMIAL, ETA_BINOMIAL),
    "probit": (ProbitLink(), MU_BINOMIAL, ETA_BINOMIAL),
    "cloglog": (CLogLogLink(), MU_BINOMIAL, ETA_BINOMIAL),
    "log": (LogLink(), MU_POSITIVE, ETA_LOG),
    "identity": (IdentityLink(), MU_REAL, ETA_REAL),
}
ALL_LINKS = list(LINK_CASES)
BINOMIAL_LINKS = ["logit", "probit", "cloglog"]
LINK_CLASSES = [LogitLink, ProbitLink, CLogLogLink, LogLink, IdentityLink]


def _floats(bounds: tuple[float, float]) -> st.SearchStrategy[float]:
    lo, hi = bounds
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("name", ALL_LINKS)
def test_link_inverse_of_link_is_identity(name: str) -> None:
    link, mu_range, _ = LINK_CASES[name]

    @SETTINGS
    @given(mu=_floats(mu_range))
    def check(mu: float) -> None:
        mu_arr = np.array([mu])
        back = link.inverse(link.link(mu_arr))
        np.testing.assert_allclose(back, mu_arr, rtol=RTOL_ROUNDTRIP, atol=0.0)

    check()


@pytest.mark.parametrize("name", ALL_LINKS)
def test_link_inverse_derivative_matches_finite_difference(name: str) -> None:
    link, _, eta_range = LINK_CASES[name]

    @SETTINGS
    @given(eta=_floats(eta_range))
    def check(eta: float) -> None:
        h = FD_STEP * max(1.0, abs(eta))
        plus, minus = link.inverse(np.array([eta + h, eta - h]))
        fd = (plus - minus) / (2.0 * h)
        analytic = link.inverse_derivative(np.array([eta]))[0]
        np.testing.assert_allclose(fd, analytic, rtol=RTOL_FD, atol=ATOL_FD)

    check()


@pytest.mark.parametrize("name", ALL_LINKS)
def test_link_derivative_times_inverse_derivative_is_one(name: str) -> None:
    link, mu_range, _ = LINK_CASES[name]

    @SETTINGS
    @given(mu=_floats(mu_range))
    def check(mu: float) -> None:
        mu_arr = np.array([mu])
        product = link.derivative(mu_arr) * link.inverse_derivative(link.link(mu_arr))
        np.testing.assert_allclose(product, 1.0, rtol=RTOL_CHAIN, atol=0.0)

    check()


def test_link_derivative_values_at_known_points() -> None:
    # dη/dμ in closed form at mu = 0.25: logit 1/(mu(1-mu)); cloglog -1/((1-mu) log(1-mu));
    # probit 1/φ(Φ⁻¹(mu)) with Φ⁻¹(0.25) = -0.6744897501960817; log 1/mu.
    mu = np.array([0.25])
    phi = np.exp(-0.5 * 0.6744897501960817**2) / np.sqrt(2.0 * np.pi)
    expected = {
        "logit": 1.0 / (0.25 * 0.75),
        "probit": 1.0 / phi,
        "cloglog": -1.0 / (0.75 * np.log(0.75)),
        "log": 4.0,
        "identity": 1.0,
    }
    for name, value in expected.items():
        got = LINK_CASES[name][0].derivative(mu)
        np.testing.assert_allclose(got, value, rtol=RTOL_CHAIN, err_msg=name)


@pytest.mark.parametrize("name", BINOMIAL_LINKS)
def test_link_inverse_stays_in_unit_interval_for_extreme_eta(name: str) -> None:
    link = LINK_CASES[name][0]
    eta = np.linspace(-1000.0, 1000.0, 4001)
    # Overflow, division by zero and invalid operations are errors; underflow to 0 is the
    # correct result for mu (or dμ/dη) far in a tail and numpy ignores it by default.
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        mu = link.inverse(eta)
        dmu = link.inverse_derivative(eta)
    assert np.isfinite(mu).all()
    assert ((mu >= 0.0) & (mu <= 1.0)).all()
    assert mu[0] == pytest.approx(0.0, abs=1e-300)
    assert mu[-1] == 1.0
    assert np.all(np.diff(mu) >= 0.0)
    assert np.isfinite(dmu).all()
    assert (dmu >= 0.0).all()


def test_link_log_inverse_stays_finite_for_extreme_eta() -> None:
    link = LogLink()
    eta = np.linspace(-1000.0, 1000.0, 4001)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        mu = link.inverse(eta)
        dmu = link.inverse_derivative(eta)
    assert np.isfinite(mu).all()
    assert (mu >= 0.0).all()
    assert np.isfinite(dmu).all()


@pytest.mark.parametrize("cls", LINK_CLASSES, ids=lambda c: c.__name__)
def test_link_frozen_objects_compare_equal(cls: type[Link]) -> None:
    assert cls() == cls()
    assert hash(cls()) == hash(cls())
    others = [other() for other in LINK_CLASSES if other is not cls]
    assert all(cls() != other for other in others)


@pytest.mark.parametrize("cls", LINK_CLASSES, ids=lambda c: c.__name__)
def test_link_pickle_round_trip(cls: type[Link]) -> None:
    link = cls()
    restored = pickle.loads(pickle.dumps(link))
    assert restored == link
    assert type(restored) is cls
    eta = np.linspace(-3.0, 3.0, 7)
    np.testing.assert_array_equal(restored.inverse(eta), link.inverse(eta))


@pytest.mark.parametrize("cls", LINK_CLASSES, ids=lambda c: c.__name__)
def test_link_repr_is_constructor_call(cls: type[Link]) -> None:
    assert repr(cls()) == f"{cls.__name__}()"


@pytest.mark.parametrize("cls", LINK_CLASSES, ids=lambda c: c.__name__)
def test_get_link_resolves_name(cls: type[Link]) -> None:
    link = get_link(cls.name)
    assert link == cls()
    assert get_link(link) is link


def test_get_link_unknown_name_raises() -> None:
    with pytest.raises(InvalidParameterError, match=r"link='nope' is not a known link"):
        get_link("nope")


def test_logit_inverse_keeps_scalar_and_array_shapes_and_matches_scipy() -> None:
    from scipy import special

    link = LogitLink()
    eta = np.array([-800.0, -40.0, -1.0, 0.0, 2.5, 40.0, 800.0])
    np.testing.assert_allclose(link.inverse(eta), special.expit(eta), rtol=1e-15, atol=0)
    assert np.shape(link.inverse(0.5)) == ()
    assert float(link.inverse(0.0)) == 0.5
    assert link.inverse([[0.0, 0.0]]).shape == (1, 2)
