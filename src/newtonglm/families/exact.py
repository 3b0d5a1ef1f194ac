"""The binomial likelihood in log space: every per-row quantity of a pass from log μ, log(1 - μ).

For a binomial family with a probability link (:class:`~.links.ProbabilityLink`), μ itself may
round to 0 or 1 where the likelihood is still perfectly finite (μ = Φ(-40) ≈ 4e-350 underflows;
its log, -804.6, does not). Computed from μ, a clipped mean gives a clipped objective with
plateaus on which a stopping rule can stop. Computed from the links' log-space quantities —
log μ, log(1 - μ), the hazards a = μ'/μ and b = μ'/(1 - μ) and their slopes — the deviance,
score, Fisher and observed informations are those of the unclipped likelihood for every finite
η, and the reported deviance is that of the returned estimate.

Per unit prior weight, with ℓ = y log μ + (1 - y) log(1 - μ):

- unit deviance ``d = 2 [y log y + (1-y) log(1-y) - y log μ - (1-y) log(1-μ)]``;
- score ``dℓ/dη = y a - (1 - y) b``;
- Fisher weight ``μ'² / V = a b``; observed weight ``-d²ℓ/dη² = -y a' + (1 - y) b'`` (≥ 0
  for the logit, probit and cloglog links, whose log μ and log(1 - μ) are concave);
- Pearson term ``(y - μ)² / V = y² r₁ - 2 y (1 - y) + (1 - y)² r₀`` with r₁ = (1 - μ)/μ and
  r₀ = μ/(1 - μ) from the logs (infinite, correctly, where μ underflows against y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .._typing import BoolArray, FloatArray
from .links import ProbabilityLink

__all__ = ["BOUNDARY_EPS", "RowTerms", "binomial_rows"]

#: A fitted probability within this of 0 or 1 is "numerically 0 or 1" (R's glm.fit warning
#: uses 10 × .Machine$double.eps).
BOUNDARY_EPS = 10.0 * float(np.finfo(np.float64).eps)
_LOG_EPS = float(np.log(BOUNDARY_EPS))


@dataclass(frozen=True, slots=True)
class RowTerms:
    """Per-row quantities of one block, per unit prior weight."""

    #: Unit deviance d(y, μ) ≥ 0.
    deviance: FloatArray
    #: Score factor dℓ/dη (the score is Σ w_i score_i x_i).
    score: FloatArray
    #: Fisher weight μ'² / V (or the observed weight -d²ℓ/dη² when asked for).
    weight: FloatArray
    #: Pearson term (y - μ)² / V.
    pearson: FloatArray
    #: Whether μ is numerically 0 or 1 (within :data:`BOUNDARY_EPS`).
    at_edge: BoolArray


def binomial_rows(
    link: ProbabilityLink, y: FloatArray, eta: FloatArray, *, observed: bool = False
) -> RowTerms:
    """The binomial rows' deviance, score, information weight and Pearson terms, in log space.

    Parameters
    ----------
    link : ProbabilityLink
        The binomial family's link.
    y : ndarray of shape (m,)
        0/1 outcomes or proportions.
    eta : ndarray of shape (m,)
        Linear predictor (offset included).
    observed : bool, default=False
        Whether ``weight`` is the observed information's weight instead of Fisher's.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        log_mu, log1m = link.log_probs(eta)
        a, b = link.hazards(eta)
        ym = 1.0 - y
        binary = bool(((y == 0.0) | (y == 1.0)).all())
        if binary:
            ll = np.where(y > 0.5, log_mu, log1m)
            deviance = -2.0 * ll
            score = np.where(y > 0.5, a, -b)
            pearson = np.exp(np.where(y > 0.5, log1m - log_mu, log_mu - log1m))
        else:
            sat = special.xlogy(y, y) + special.xlogy(ym, ym)
            # y log μ with y = 0 is 0 even where log μ is -inf (it is finite for finite η).
            deviance = np.maximum(2.0 * (sat - y * log_mu - ym * log1m), 0.0)
            score = y * a - ym * b
            r1, r0 = np.exp(log1m - log_mu), np.exp(log_mu - log1m)
            pearson = np.maximum(y * y * r1 - 2.0 * y * ym + ym * ym * r0, 0.0)
        if observed:
            da, db = link.hazard_slopes(eta)
            # ≥ 0 analytically (concave log-likelihood); clip the rounding below 0.
            weight = np.maximum(ym * db - y * da, 0.0)
        else:
            weight = a * b
        at_edge = (log_mu < _LOG_EPS) | (log1m < _LOG_EPS)
    return RowTerms(
        deviance=np.asarray(deviance, dtype=np.float64),
        score=np.asarray(score, dtype=np.float64),
        weight=np.asarray(weight, dtype=np.float64),
        pearson=np.asarray(pearson, dtype=np.float64),
        at_edge=np.asarray(at_edge, dtype=bool),
    )
