"""Link functions g(mu) = eta and their inverses, as small frozen, picklable objects.

Each link gives ``link(mu)`` (g), ``inverse(eta)`` (g⁻¹), ``derivative(mu)`` (dη/dμ = g'(μ)),
``inverse_derivative(eta)`` (dμ/dη) and ``second_derivative(mu)`` (d²η/dμ² = g''(μ), for the
observed information of a non-canonical link). The inverses are written to stay finite for any
finite eta: ``expit`` rather than ``1 / (1 + exp(-eta))``, ``-expm1(-exp(eta))`` for cloglog, and
exp clipped below the float64 overflow threshold for the log link.
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
    "ProbitLink",
    "get_link",
]

# exp(709.78) is the largest finite float64; clipping eta there keeps mu finite.
_MAX_EXP = 709.0
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


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


@dataclass(frozen=True, slots=True, repr=False)
class LogitLink(Link):
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


@dataclass(frozen=True, slots=True, repr=False)
class ProbitLink(Link):
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


@dataclass(frozen=True, slots=True, repr=False)
class CLogLogLink(Link):
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
