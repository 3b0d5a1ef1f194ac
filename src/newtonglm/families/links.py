"""Link functions g(mu) = eta and their inverses, as small frozen, picklable objects.

Each link gives ``link(mu)`` (g), ``inverse(eta)`` (g⁻¹), ``derivative(mu)`` (dη/dμ = g'(μ)),
``inverse_derivative(eta)`` (dμ/dη) and ``second_derivative(mu)`` (d²η/dμ² = g''(μ), for the
observed information of a non-canonical link). The inverses are written to stay finite for any
finite eta: ``expit`` rather than ``1 / (1 + exp(-eta))``, ``-expm1(-exp(eta))`` for cloglog, and
exp clipped below the float64 overflow threshold for the log link.

The three links of a probability (logit, probit, cloglog) are each a :class:`ProbabilityLink`:
they also give log μ and log(1 - μ) (``log_probs``), the hazards μ'/μ and μ'/(1 - μ)
(``hazards``) and their slopes in η (``hazard_slopes``), all in log space, so the binomial
likelihood, its score and both informations stay exact where μ itself rounds to 0 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .._typing import FloatArray
from ..exceptions import InvalidParameterError

__all__ = [
    "CLogLogLink",
    "IdentityLink",
    "Link",
    "LogLink",
    "LogitLink",
    "ProbabilityLink",
    "ProbitLink",
    "get_link",
]

# exp(709.78) is the largest finite float64; clipping eta there keeps mu finite.
_MAX_EXP = 709.0
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_LOG_SQRT_2PI = float(np.log(_SQRT_2PI))
#: Below this cloglog's μ = 1 - exp(-e^η) is e^η (1 - e^η/2 + ...): log μ = η - e^η / 2.
_CLOGLOG_TAIL = -20.0
#: Below this x, x + φ(x)/Φ(x) is its asymptotic series (the direct sum cancels).
_PROBIT_TAIL = -30.0
#: Below this t, t / (1 - e^-t) - 1 is taken from its series (the direct form cancels).
_SERIES_T = 1e-3

Pair = tuple[FloatArray, FloatArray]


@dataclass(frozen=True, slots=True)
class Link:
    """Base class of the links; subclasses implement the four functions."""

    name = "link"

    def link(self, mu: FloatArray) -> FloatArray:
        """Linear predictor eta = g(mu)."""
        raise NotImplementedError

    def inverse(self, eta: FloatArray) -> FloatArray:
        """Mean mu = g⁻¹(eta)."""
        raise NotImplementedError

    def derivative(self, mu: FloatArray) -> FloatArray:
        """dη/dμ = g'(mu)."""
        raise NotImplementedError

    def inverse_derivative(self, eta: FloatArray) -> FloatArray:
        """dμ/dη = 1 / g'(g⁻¹(eta))."""
        raise NotImplementedError

    def second_derivative(self, mu: FloatArray) -> FloatArray:
        """d²η/dμ² = g''(mu)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _tail_sum(x: FloatArray, direct: FloatArray) -> FloatArray:
    """Return x + φ(x)/Φ(x): ``direct`` where it is accurate, a series in the far tail.

    λ(x) = u + 1/u - 2/u³ + 10/u⁵ - 74/u⁷ + 706/u⁹ - 8162/u¹¹ + 110410/u¹³ - ... for x = -u
    → -∞ (the Mills ratio); from u = 30 the terms kept leave an error below 1e-16 relative.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 1.0 / np.square(x)
        tail = 706.0 - v * (8162.0 - 110410.0 * v)
        series = -(1.0 / x) * (1.0 - v * (2.0 - v * (10.0 - v * (74.0 - v * tail))))
    return np.where(x < _PROBIT_TAIL, series, direct)


@dataclass(frozen=True, slots=True)
class ProbabilityLink(Link):
    """A link of a probability, μ = F(η) ∈ (0, 1), with its log-space quantities.

    With a = dμ/dη / μ and b = dμ/dη / (1 - μ) (both ≥ 0), the binomial log-likelihood of a
    proportion y with weight w is ``w [y log μ + (1 - y) log(1 - μ)]``, its derivative in η is
    ``w (y a - (1 - y) b)``, the Fisher weight ``w a b`` and the observed one
    ``w (-y a' + (1 - y) b')`` — all from these three methods, never from μ.
    """

    name = "probability"

    def log_probs(self, eta: FloatArray) -> Pair:
        """(log μ, log(1 - μ)), finite for every finite η."""
        raise NotImplementedError

    def hazards(self, eta: FloatArray) -> Pair:
        """(a, b) = (μ' / μ, μ' / (1 - μ)) with μ' = dμ/dη."""
        raise NotImplementedError

    def hazard_slopes(self, eta: FloatArray) -> Pair:
        """(da/dη, db/dη), so that log μ'' = a' and log(1 - μ)'' = -b'."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, repr=False)
class LogitLink(ProbabilityLink):
    """Logit link, eta = log(mu / (1 - mu)); canonical for the binomial family."""

    name = "logit"

    def link(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return special.logit(mu)

    def inverse(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        # 1 / (1 + e^-eta) in place with numpy's ufuncs: the formula scipy's expit uses (to an
        # ulp), at a quarter of its cost — this runs on every block of every pass.
        with np.errstate(over="ignore"):
            e = np.exp(np.negative(np.asarray(eta, dtype=np.float64)))
        if e.ndim == 0:
            return np.asarray(1.0 / (1.0 + e))
        e += 1.0
        return np.reciprocal(e, out=e)

    def derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return 1.0 / (mu * (1.0 - mu))

    def inverse_derivative(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        # mu (1 - mu) without cancellation for large |eta|.
        return special.expit(eta) * special.expit(-eta)

    def second_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        # g' = 1 / (mu (1 - mu)), so g'' = (2 mu - 1) / (mu (1 - mu))².
        v = mu * (1.0 - mu)
        return (2.0 * mu - 1.0) / (v * v)

    def log_probs(self, eta: FloatArray) -> Pair:  # noqa: D102
        return -np.logaddexp(0.0, np.negative(eta)), -np.logaddexp(0.0, eta)

    def hazards(self, eta: FloatArray) -> Pair:  # noqa: D102
        return special.expit(np.negative(eta)), special.expit(eta)  # 1 - μ, μ

    def hazard_slopes(self, eta: FloatArray) -> Pair:  # noqa: D102
        v = special.expit(eta) * special.expit(np.negative(eta))
        return -v, v


@dataclass(frozen=True, slots=True, repr=False)
class ProbitLink(ProbabilityLink):
    """Probit link, eta = Φ⁻¹(mu), the standard normal quantile."""

    name = "probit"

    def link(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return special.ndtri(mu)

    def inverse(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        return special.ndtr(eta)

    def derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return 1.0 / self.inverse_derivative(special.ndtri(mu))

    def inverse_derivative(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        return np.exp(-0.5 * eta * eta) / _SQRT_2PI

    def second_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        # g' = 1 / φ(η) with η = Φ⁻¹(mu), and φ'(η) = -η φ(η), so g'' = η / φ(η)².
        eta = special.ndtri(mu)
        phi = self.inverse_derivative(eta)
        return np.asarray(eta / (phi * phi))

    def log_probs(self, eta: FloatArray) -> Pair:  # noqa: D102
        return special.log_ndtr(eta), special.log_ndtr(np.negative(eta))

    def hazards(self, eta: FloatArray) -> Pair:  # noqa: D102
        # Mills ratios φ(η)/Φ(η) and φ(η)/Φ(-η) from logs: exact in both tails.
        log_mu, log1m = self.log_probs(eta)
        log_phi = -0.5 * np.square(eta) - _LOG_SQRT_2PI
        return np.exp(log_phi - log_mu), np.exp(log_phi - log1m)

    def hazard_slopes(self, eta: FloatArray) -> Pair:  # noqa: D102
        # λ(x) = φ(x)/Φ(x) has λ' = -λ (x + λ); b(η) = λ(-η), so b' = b (b - η). In the far
        # tails x + λ(x) cancels; there it is its asymptotic series in u = -x.
        eta = np.asarray(eta, dtype=np.float64)
        a, b = self.hazards(eta)
        return -a * _tail_sum(eta, eta + a), b * _tail_sum(-eta, b - eta)


@dataclass(frozen=True, slots=True, repr=False)
class CLogLogLink(ProbabilityLink):
    """Complementary log-log link, eta = log(-log(1 - mu))."""

    name = "cloglog"

    def link(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.log(-np.log1p(-mu))

    def inverse(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        with np.errstate(over="ignore"):
            return -np.expm1(-np.exp(np.minimum(eta, _MAX_EXP)))

    def derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return -1.0 / ((1.0 - mu) * np.log1p(-mu))

    def inverse_derivative(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        eta = np.minimum(eta, _MAX_EXP)
        return np.exp(eta - np.exp(eta))

    def second_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        # g' = -1 / ((1 - mu) L) with L = log(1 - mu); d[(1 - mu) L]/dmu = -(1 + L).
        log1m = np.log1p(-mu)
        d = (1.0 - mu) * log1m
        return -(1.0 + log1m) / (d * d)

    @staticmethod
    def _t(eta: FloatArray) -> FloatArray:
        with np.errstate(over="ignore"):
            return np.exp(np.minimum(eta, _MAX_EXP))

    def log_probs(self, eta: FloatArray) -> Pair:  # noqa: D102
        # log(1 - μ) = -e^η exactly; log μ = log(1 - e^-t): log(-expm1(-t)) for small t,
        # log1p(-e^-t) for large t, and η - t/2 where t underflows the expm1 form.
        eta = np.asarray(eta, dtype=np.float64)
        t = self._t(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu = np.where(
                eta < _CLOGLOG_TAIL,
                eta - 0.5 * t,
                np.where(t > 0.693, np.log1p(-np.exp(-t)), np.log(-np.expm1(-t))),
            )
        return log_mu, -t

    def hazards(self, eta: FloatArray) -> Pair:  # noqa: D102
        t = self._t(np.asarray(eta, dtype=np.float64))
        with np.errstate(over="ignore", invalid="ignore"):
            a = np.where(t > 0.0, t / np.expm1(t), 1.0)  # μ'/μ = t / (e^t - 1), 1 at t = 0
        return a, t

    def hazard_slopes(self, eta: FloatArray) -> Pair:  # noqa: D102
        # a = t / (e^t - 1), a' = t da/dt = a (1 - t / (1 - e^-t)); b = t, b' = t. The factor
        # 1 - t / (1 - e^-t) = -t/2 - t²/12 + t⁴/720 - ... for small t (the direct form cancels).
        t = self._t(np.asarray(eta, dtype=np.float64))
        a, _ = self.hazards(eta)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            direct = 1.0 - t / -np.expm1(-t)
            series = -t / 2.0 - t * t / 12.0 + t**4 / 720.0
        return a * np.where(t < _SERIES_T, series, direct), t


@dataclass(frozen=True, slots=True, repr=False)
class LogLink(Link):
    """Log link, eta = log(mu); canonical for the Poisson family."""

    name = "log"

    def link(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.log(mu)

    def inverse(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        return np.exp(np.minimum(eta, _MAX_EXP))

    def derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return 1.0 / mu

    def inverse_derivative(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        return np.exp(np.minimum(eta, _MAX_EXP))

    def second_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return -1.0 / (mu * mu)


@dataclass(frozen=True, slots=True, repr=False)
class IdentityLink(Link):
    """Identity link, eta = mu; canonical for the Gaussian family."""

    name = "identity"

    def link(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.asarray(mu, dtype=np.float64)

    def inverse(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        return np.asarray(eta, dtype=np.float64)

    def derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.ones_like(mu, dtype=np.float64)

    def inverse_derivative(self, eta: FloatArray) -> FloatArray:  # noqa: D102
        return np.ones_like(eta, dtype=np.float64)

    def second_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.zeros_like(mu, dtype=np.float64)


_LINKS: dict[str, type[Link]] = {
    cls.name: cls for cls in (LogitLink, ProbitLink, CLogLogLink, LogLink, IdentityLink)
}


def get_link(name: str | Link) -> Link:
    """Return the link called ``name`` (or ``name`` itself when it already is a Link)."""
    if isinstance(name, Link):
        return name
    try:
        return _LINKS[name]()
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"link={name!r} is not a known link; use one of {sorted(_LINKS)}."
        ) from None
