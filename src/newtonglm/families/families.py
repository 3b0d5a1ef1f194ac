"""Exponential families: variance, deviance, log-likelihood, starting values, response checks.

A family owns its link (``Binomial(link=ProbitLink())``) but never sees the design matrix: it
works row-wise on ``y``, ``mu`` (and ``eta`` where a closed form is more accurate), with prior
weights ``weights`` as R's ``glm`` defines them (for the binomial family, the number of trials
behind each proportion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy import special

from .._typing import FloatArray
from ..exceptions import InvalidParameterError, InvalidResponseError
from .links import IdentityLink, Link, LogitLink, LogLink, get_link

__all__ = ["Binomial", "Family", "Gaussian", "Poisson", "get_family"]

_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).smallest_subnormal)
#: Rows per block of the null deviance's per-row work (2 MiB of float64), so that no n-length
#: temporaries are made.
_NULL_BLOCK = 2**18
#: Largest count for which Poisson's saturated log-likelihood uses a table of log y!.
_COUNT_TABLE = 2**20
#: Complete beta function B(2/3, 2/3), which turns scipy's regularised betainc into B(a, b; x).
_BETA_23 = float(special.beta(2.0 / 3.0, 2.0 / 3.0))


def _first_row(mask: np.ndarray, rows: np.ndarray | None = None) -> int:
    """The first row where ``mask`` holds, numbered as ``rows`` says (the input's positions)."""
    first = int(np.flatnonzero(mask)[0])
    return first if rows is None else int(rows[first])


@dataclass(frozen=True, slots=True)
class Family:
    """Base class: an exponential-dispersion family with a link."""

    link: Link
    name: ClassVar[str] = "family"
    canonical_link: ClassVar[type[Link]] = Link
    allowed_links: ClassVar[tuple[str, ...]] = ()
    #: True when the dispersion is fixed at 1 (binomial, Poisson); False when estimated.
    fixed_scale: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.link.name not in self.allowed_links:
            raise InvalidParameterError(
                f"family={self.name!r} does not support link={self.link.name!r}; "
                f"use one of {list(self.allowed_links)}."
            )

    @property
    def is_canonical(self) -> bool:
        """Whether the link is canonical, so Fisher scoring is exactly Newton's method."""
        return type(self.link) is self.canonical_link

    @property
    def log_space(self) -> bool:
        """Whether a pass computes this family's rows in log space (``families.exact``)."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link!r})"

    # -- row-wise maths -------------------------------------------------------------------
    def clip_mu(self, mu: FloatArray) -> FloatArray:
        """Clip mu into the interior of its range so that variance and logs stay finite."""
        return mu

    def variance(self, mu: FloatArray) -> FloatArray:
        """Variance function V(mu)."""
        raise NotImplementedError

    def variance_derivative(self, mu: FloatArray) -> FloatArray:
        """Derivative of the variance function, V'(mu) (for the observed information)."""
        raise NotImplementedError

    def anscombe_transform(self, mu: FloatArray) -> FloatArray:
        """Anscombe's transform A(mu) = ∫ V(t)^(-1/3) dt, which makes y nearly normal.

        The Anscombe residual is ``(A(y) - A(mu)) / (A'(mu) sqrt(V(mu) / w))``
        ``= sqrt(w) (A(y) - A(mu)) / V(mu)^(1/6)`` (McCullagh & Nelder, section 2.4.2).
        """
        raise NotImplementedError

    def unit_deviance(
        self, y: FloatArray, mu: FloatArray, eta: FloatArray | None = None
    ) -> FloatArray:
        """Unit deviance d(y, mu) = 2 (l(y; y) - l(mu; y)) per row, before prior weights."""
        raise NotImplementedError

    def deviance(
        self,
        y: FloatArray,
        mu: FloatArray,
        weights: FloatArray | None = None,
        eta: FloatArray | None = None,
    ) -> float:
        """Deviance, D = Σ w d(y, mu)."""
        d = self.unit_deviance(y, mu, eta)
        return float(d.sum() if weights is None else weights @ d)

    def null_deviance(self, y: FloatArray, weights: FloatArray) -> float:
        """Deviance at mu = the weighted mean of y: the intercept-only model without offset."""
        mean = float(weights @ y) / float(weights.sum())
        total = 0.0
        for start in range(0, y.shape[0], _NULL_BLOCK):
            rows = slice(start, start + _NULL_BLOCK)
            yb = y[rows]
            total += self.deviance(yb, np.full(yb.shape[0], mean), weights[rows])
        return total

    def loglik(self, y: FloatArray, mu: FloatArray, weights: FloatArray | None = None) -> float:
        """Full log-likelihood at scale 1, with every constant, as R's ``logLik`` reports it."""
        return self.saturated_loglik(y, weights) - 0.5 * self.deviance(y, mu, weights)

    def saturated_loglik(self, y: FloatArray, weights: FloatArray | None = None) -> float:
        """Log-likelihood of the saturated model (mu = y); llf = saturated - D / 2."""
        raise NotImplementedError

    def starting_mu(self, y: FloatArray, weights: FloatArray) -> FloatArray:
        """R's ``mustart``: a mean inside the range of the link, close to y."""
        raise NotImplementedError

    def check_y(self, y: FloatArray, column: str = "y", rows: np.ndarray | None = None) -> None:
        """Raise :class:`InvalidResponseError` when y is outside the family's range.

        ``rows`` numbers y's entries in the messages (the positions of the rows as the user
        passed them, when some were dropped before); by default 0, 1, ...
        """


@dataclass(frozen=True, slots=True, repr=False)
class Binomial(Family):
    """Binomial family for 0/1 responses or proportions of ``weights`` trials.

    ``V(mu) = mu (1 - mu)``; unit deviance ``2 [y log(y/mu) + (1-y) log((1-y)/(1-mu))]``.
    """

    link: Link = field(default_factory=LogitLink)
    name: ClassVar[str] = "binomial"
    canonical_link: ClassVar[type[Link]] = LogitLink
    allowed_links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog")

    @property
    def log_space(self) -> bool:
        """Probit and cloglog: their rows are exact in log space (logit's kernel already is)."""
        return not self.is_canonical

    def clip_mu(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        # R's binomial links clamp mu to [eps, 1 - eps] in the same way.
        return np.clip(mu, _EPS, 1.0 - _EPS)

    def variance(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return mu * (1.0 - mu)

    def variance_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return 1.0 - 2.0 * mu

    def anscombe_transform(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        # ∫₀^mu t^(-1/3) (1 - t)^(-1/3) dt, the unregularised incomplete beta B(2/3, 2/3; mu).
        return np.asarray(special.betainc(2.0 / 3.0, 2.0 / 3.0, mu) * _BETA_23)

    def unit_deviance(  # noqa: D102
        self, y: FloatArray, mu: FloatArray, eta: FloatArray | None = None
    ) -> FloatArray:
        ym = 1.0 - y
        mc = self.clip_mu(mu)
        binary = bool(((y == 0.0) | (y == 1.0)).all())
        if binary and eta is not None and isinstance(self.link, LogitLink):
            # 0/1 outcomes, logit link, eta known (the kernel's passes): -2 log mu and
            # -2 log(1 - mu) as 2 log(1 + e^-+eta), exact where 1 - mu cancels (eta = 24, y = 0:
            # 48.2057566 where the log of 1 - mu gave 48.2057506) and at the clip bounds, as the
            # compiled kernel computes it.
            return np.asarray(2.0 * np.logaddexp(0.0, np.where(y > 0.5, -eta, eta)))
        if binary:
            # 0/1 outcomes (the common case, 4x cheaper): d = -2 log mu or -2 log(1 - mu), > 0
            # as the clipped mean is inside (0, 1); the edge rows are redone below.
            d = np.log(np.where(y > 0.5, mc, 1.0 - mc))
            d *= -2.0
        else:
            # Ratio form: exactly 0 at y == mu, free of the cancellation in y log y - y log mu.
            d = 2.0 * (special.xlogy(y, y / mc) + special.xlogy(ym, ym / (1.0 - mc)))
            d = np.maximum(d, 0.0, out=d)  # >= 0 mathematically; clip the rounding noise
            exact = y == mu
            if exact.any():
                d[exact] = 0.0
        if mc.size and (mc.min() <= _EPS or mc.max() >= 1.0 - _EPS):
            edge = (mc <= _EPS) | (mc >= 1.0 - _EPS)
            if eta is not None and isinstance(self.link, LogitLink):
                # Where mu rounds to the clip bounds, the log-sum-exp form in eta stays exact:
                # log mu = -log(1 + e^-eta), log(1 - mu) = -log(1 + e^eta).
                e, ye, yme = eta[edge], y[edge], ym[edge]
                exact_edge = 2.0 * (
                    special.xlogy(ye, ye)
                    + ye * np.logaddexp(0.0, -e)
                    + special.xlogy(yme, yme)
                    + yme * np.logaddexp(0.0, e)
                )
                d[edge] = np.maximum(exact_edge, 0.0)
            # 0 by definition where y == mu, also at the clip bounds (R: dev.resids(0, 0) = 0).
            d[edge & (y == mu)] = 0.0
        return d

    def null_deviance(self, y: FloatArray, weights: FloatArray) -> float:  # noqa: D102
        if not ((y == 0.0) | (y == 1.0)).all():
            return Family.null_deviance(self, y, weights)
        # 0/1 outcomes: -2 Σ w [y log ȳ + (1 - y) log(1 - ȳ)] = -2 [S log ȳ + (W - S) log(1 - ȳ)]
        # with S = Σ w y and W = Σ w — two sums instead of a log per row.
        total, successes = float(weights.sum()), float(weights @ y)
        mean = successes / total
        return float(
            -2.0 * (special.xlogy(successes, mean) + special.xlogy(total - successes, 1.0 - mean))
        )

    def saturated_loglik(  # noqa: D102
        self, y: FloatArray, weights: FloatArray | None = None
    ) -> float:
        if ((y == 0.0) | (y == 1.0)).all():
            return 0.0  # log C(m, 0) = log C(m, m) = 0 and 0 log 0 = 1 log 1 = 0
        m = np.ones_like(y) if weights is None else weights
        k = m * y
        # log C(m, k); zero for 0/1 responses whatever the weight.
        log_choose = (
            special.gammaln(m + 1.0) - special.gammaln(k + 1.0) - special.gammaln(m - k + 1.0)
        )
        ym = 1.0 - y
        return float(np.sum(log_choose + m * (special.xlogy(y, y) + special.xlogy(ym, ym))))

    def starting_mu(self, y: FloatArray, weights: FloatArray) -> FloatArray:  # noqa: D102
        return (weights * y + 0.5) / (weights + 1.0)

    def check_y(  # noqa: D102
        self, y: FloatArray, column: str = "y", rows: np.ndarray | None = None
    ) -> None:
        bad = (y < 0.0) | (y > 1.0)
        if bad.any():
            raise InvalidResponseError(
                f"family='binomial' needs y in [0, 1] (0/1 outcomes, or proportions with "
                f"sample_weight = number of trials); column {column!r} has {int(bad.sum())} "
                f"values outside [0, 1] (first at row {_first_row(bad, rows)})."
            )


@dataclass(frozen=True, slots=True, repr=False)
class Poisson(Family):
    """Poisson family for counts. ``V(mu) = mu``; unit deviance ``2 [y log(y/mu) - (y - mu)]``."""

    link: Link = field(default_factory=LogLink)
    name: ClassVar[str] = "poisson"
    canonical_link: ClassVar[type[Link]] = LogLink
    allowed_links: ClassVar[tuple[str, ...]] = ("log",)

    def clip_mu(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.maximum(mu, _EPS)

    def variance(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return mu

    def variance_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.ones_like(mu, dtype=np.float64)

    def anscombe_transform(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.asarray(1.5 * np.power(mu, 2.0 / 3.0))

    def unit_deviance(  # noqa: D102
        self, y: FloatArray, mu: FloatArray, eta: FloatArray | None = None
    ) -> FloatArray:
        # 0 by definition at y == mu, also at mu = 0 (R: dev.resids(0, 0) = 0); only a mean
        # below the clip can make the formula below miss that.
        exact = (y == mu) if bool((mu < _EPS).any()) else None
        mu = self.clip_mu(mu)
        # Ratio form, exactly 0 at y == mu. y log(y/mu) by np.log (5x faster than scipy's
        # xlogy): the ratio is floored at the smallest subnormal, so y = 0 gives 0 x finite = 0.
        d = np.log(np.maximum(y / mu, _TINY))
        d *= y
        d -= y
        d += mu
        d *= 2.0
        if exact is not None:
            d[exact] = 0.0
        return np.maximum(d, 0.0, out=d)  # clip the rounding noise below 0

    def null_deviance(self, y: FloatArray, weights: FloatArray) -> float:  # noqa: D102
        mean = float(weights @ y) / float(weights.sum())
        if mean <= 0.0:
            return 0.0  # every y is 0 (where the weight is positive): mu = y everywhere
        # Σ w (y - ȳ) = 0 at the weighted mean, so D = 2 Σ w y log(y / ȳ), in the ratio form of
        # unit_deviance (0 at y = 0 through the subnormal floor), block by block.
        total = 0.0
        for start in range(0, y.shape[0], _NULL_BLOCK):
            rows = slice(start, start + _NULL_BLOCK)
            yb = y[rows]
            d = np.log(np.maximum(yb / mean, _TINY))
            d *= yb
            total += float(weights[rows] @ d)
        return 2.0 * max(total, 0.0)

    def saturated_loglik(  # noqa: D102
        self, y: FloatArray, weights: FloatArray | None = None
    ) -> float:
        top = float(y.max()) if y.size else 0.0
        small = y.size > 0 and float(y.min()) >= 0.0 and top <= _COUNT_TABLE
        counts = y.astype(np.int64) if small else None
        if counts is not None and np.array_equal(counts, y):
            # Integer counts (the usual case): y log y - y - log y! from a table of the values
            # up to max(y), the same numbers without a gammaln per row.
            k = np.arange(int(top) + 1, dtype=np.float64)
            ll = (special.xlogy(k, k) - k - special.gammaln(k + 1.0))[counts]
        else:
            ll = special.xlogy(y, y) - y - special.gammaln(y + 1.0)
        return float(ll.sum() if weights is None else weights @ ll)

    def starting_mu(self, y: FloatArray, weights: FloatArray) -> FloatArray:  # noqa: D102
        return y + 0.1

    def check_y(  # noqa: D102
        self, y: FloatArray, column: str = "y", rows: np.ndarray | None = None
    ) -> None:
        bad = y < 0.0
        if bad.any():
            raise InvalidResponseError(
                f"family='poisson' needs y >= 0; column {column!r} has {int(bad.sum())} "
                f"negative values (first at row {_first_row(bad, rows)})."
            )


@dataclass(frozen=True, slots=True, repr=False)
class Gaussian(Family):
    """Gaussian family, ``V(mu) = 1``, unit deviance ``(y - mu)²``; dispersion estimated.

    With the identity link the negative log-likelihood is exactly quadratic in the
    coefficients, so Newton's method converges in one step.
    """

    link: Link = field(default_factory=IdentityLink)
    name: ClassVar[str] = "gaussian"
    canonical_link: ClassVar[type[Link]] = IdentityLink
    allowed_links: ClassVar[tuple[str, ...]] = ("identity", "log")
    fixed_scale: ClassVar[bool] = False

    def variance(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.ones_like(mu)

    def variance_derivative(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.zeros_like(mu, dtype=np.float64)

    def anscombe_transform(self, mu: FloatArray) -> FloatArray:  # noqa: D102
        return np.asarray(mu, dtype=np.float64)

    def unit_deviance(  # noqa: D102
        self, y: FloatArray, mu: FloatArray, eta: FloatArray | None = None
    ) -> FloatArray:
        r = y - mu
        return r * r

    def loglik(  # noqa: D102
        self, y: FloatArray, mu: FloatArray, weights: FloatArray | None = None
    ) -> float:
        # Profile log-likelihood with the MLE of the dispersion, sigma² = D / n (as statsmodels
        # and R's logLik.glm compute it for the Gaussian family).
        w = np.ones_like(y) if weights is None else weights
        positive = w > 0
        n = int(positive.sum())
        dev = self.deviance(y, mu, w)
        return float(
            -0.5 * n * (np.log(2.0 * np.pi * dev / n) + 1.0) + 0.5 * np.log(w[positive]).sum()
        )

    def saturated_loglik(  # noqa: D102
        self, y: FloatArray, weights: FloatArray | None = None
    ) -> float:
        return float("nan")  # unbounded for the Gaussian family; llf uses loglik() instead

    def starting_mu(self, y: FloatArray, weights: FloatArray) -> FloatArray:  # noqa: D102
        return y.astype(np.float64, copy=True)


_FAMILIES: dict[str, type[Family]] = {cls.name: cls for cls in (Binomial, Poisson, Gaussian)}


def get_family(name: str | Family, link: str | Link | None = None) -> Family:
    """Resolve ``family`` and ``link`` into a Family (its canonical link by default)."""
    if isinstance(name, Family):
        return name if link is None else type(name)(link=get_link(link))
    try:
        cls = _FAMILIES[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"family={name!r} is not a known family; use one of {sorted(_FAMILIES)}."
        ) from None
    return cls() if link is None else cls(link=get_link(link))  # type: ignore[call-arg]
