"""Per-row quantities of a fit at some coefficients, for the passes that need them row by row.

The score factors s_i (whose magnitudes bound the score's rounding, ``magnitude_block``) and
the information weights W_i (whose square roots scale the rows of the QR that keeps X's own
conditioning, ``weighted_block``), in log space where the family's rows are.
"""

from __future__ import annotations

import numpy as np

from .._typing import FloatArray
from ..families import Family
from ..families.exact import binomial_rows
from ..families.links import ProbabilityLink
from .accumulate import block_eta

__all__ = ["magnitude_block", "row_scores", "row_weights", "weighted_block"]


def row_scores(family: Family, yb: FloatArray, wb: FloatArray, eta: FloatArray) -> FloatArray:
    """Each row's score factor s_i = w_i dℓ_i/dη; the score is Σ s_i x_i (log space where used)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if family.log_space:
            link = family.link
            assert isinstance(link, ProbabilityLink)
            return np.asarray(wb * binomial_rows(link, yb, eta).score)
        mu = family.clip_mu(family.link.inverse(eta))
        s = wb * (yb - mu) * family.link.inverse_derivative(eta) / family.variance(mu)
    return np.asarray(np.where(wb > 0, s, 0.0))


def magnitude_block(
    xb: FloatArray,
    yb: FloatArray,
    wb: FloatArray,
    ob: FloatArray | None,
    coef: FloatArray,
    intercept: bool,
    family: Family,
) -> FloatArray:
    """Σ_i |x_ij s_i| of one dense block, intercept first: the size of the score's terms."""
    s = np.abs(row_scores(family, yb, wb, block_eta(xb, coef, intercept, ob)))
    body = np.abs(xb).T @ s if xb.shape[1] else np.zeros(0)
    return np.concatenate([[s.sum()], body]) if intercept else np.asarray(body)


def row_weights(
    family: Family, yb: FloatArray, wb: FloatArray, eta: FloatArray, *, observed: bool = False
) -> FloatArray:
    """Each row's information weight: Fisher's w μ'²/V, or the observed one (log-space rows)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if family.log_space:
            link = family.link
            assert isinstance(link, ProbabilityLink)
            return np.asarray(wb * binomial_rows(link, yb, eta, observed=observed).weight)
        mu = family.clip_mu(family.link.inverse(eta))
        dmu = family.link.inverse_derivative(eta)
        W = wb * dmu * dmu / family.variance(mu)
    return np.asarray(np.where(wb > 0, W, 0.0))


def weighted_block(
    xb: FloatArray,
    yb: FloatArray,
    wb: FloatArray,
    ob: FloatArray | None,
    coef: FloatArray,
    intercept: bool,
    family: Family,
    *,
    observed: bool = False,
) -> FloatArray:
    """√W [1 | xb] of one dense block: rows of the QR whose R gives the information exactly."""
    W = row_weights(family, yb, wb, block_eta(xb, coef, intercept, ob), observed=observed)
    sw = np.sqrt(np.maximum(W, 0.0))
    block = np.column_stack([np.ones(xb.shape[0]), xb]) if intercept else np.asarray(xb)
    return np.asarray(block * sw[:, None])
