"""One pass's sums, accumulated block by block: the work every executor does on its rows.

:class:`Accumulator` adds one block of rows at a time — η, the per-row weights, deviance and
Pearson parts, and the Gram Xᵀ W X with the score column — and accumulators of passes over
other rows add up by :meth:`Accumulator.merge`: the in-memory executors loop it over row blocks
(on threads), the Dask executor runs it per chunk and merges in a tree. For the canonical
families a block is one call of the compiled ``newtonglm._gram.glm_pass`` (η, weights,
deviance and Gram chunk by cache-sized chunk, one read of the block); otherwise the per-row
part is NumPy and Xᵀ W X comes from the compiled Gram or a BLAS ``syrk`` (:class:`Gram`).
Deviance and Pearson sums are exact-summed parts, so they do not depend on the block split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._typing import FloatArray
from ..families import Binomial, Family, Gaussian, IdentityLink, LogitLink, LogLink, Poisson
from ..families.exact import binomial_rows
from ..families.links import ProbabilityLink
from . import gram as gram_mod
from .blocks import exact_sum, f64
from .gram import Gram, fused_readable

__all__ = ["Accumulator", "PassSums", "block_eta", "fused_code"]


@dataclass(frozen=True, slots=True)
class PassSums:
    """What one pass over X at coefficients ``coef`` returns."""

    #: Deviance D = Σ w d(y, mu).
    deviance: float
    #: Pearson's χ² = Σ w (y - mu)² / V(mu).
    pearson_chi2: float
    #: Score (gradient of the log-likelihood at scale 1), Σ x_i w_i (y_i - mu_i) mu'_i / V_i.
    score: FloatArray | None
    #: Fisher information Xᵀ W X with W = w mu'² / V (the observed information too for a
    #: canonical link); None when the pass was asked not to form it.
    fisher: FloatArray | None
    #: Rows (with positive weight) whose mean reached the edge of its range, e.g. a fitted
    #: probability numerically 0 or 1.
    n_boundary: int
    #: Working weights W = w mu'² / V per row, when asked for (for Hessian-vector products
    #: at the same coefficients without recomputing eta).
    work_weights: FloatArray | None = None


def fused_code(family: Family) -> int | None:
    """The compiled per-row kernel's code for ``family`` (its canonical pairs), else None."""
    if gram_mod.compiled() is None:
        return None
    link = family.link
    if isinstance(family, Binomial) and isinstance(link, LogitLink):
        return 0
    if isinstance(family, Poisson) and isinstance(link, LogLink):
        return 1
    if isinstance(family, Gaussian) and isinstance(link, IdentityLink):
        return 2
    return None


def block_eta(
    xb: FloatArray, coef: FloatArray, intercept: bool, ob: FloatArray | None
) -> FloatArray:
    """The linear predictor [1 | xb] coef (+ offset) of one block (BLAS or the sparse product)."""
    if intercept:
        eta = xb @ coef[1:] if xb.shape[1] else np.zeros(xb.shape[0])
        eta += coef[0]
    else:
        eta = xb @ coef if xb.shape[1] else np.zeros(xb.shape[0])
    if ob is not None:
        eta += ob
    return eta


class Accumulator:
    """The sums of one pass, accumulated block by block; two accumulators add up by ``merge``.

    Parameters
    ----------
    family : Family
        Family with its link.
    coef : ndarray of shape (n_features,)
        Coefficients at which the pass evaluates (intercept first when X has one).
    n_cols : int
        Columns of the raw data (without the implicit intercept).
    intercept : bool
        Whether X has an implicit leading intercept column.
    max_rows : int
        Largest block that will be added (sizes the reused buffer).
    score, fisher : bool
        Whether to form the score and the Fisher information.
    unit_weights : bool, default=False
        Whether every prior weight is 1 (the blocks' ``wb`` are then not multiplied in).
    observed : bool, default=False
        Form the observed information (minus the Hessian of the log-likelihood) instead of
        Fisher's, where the family's rows are in log space; they are equal for a canonical link.
    """

    def __init__(
        self,
        family: Family,
        coef: FloatArray,
        n_cols: int,
        intercept: bool,
        max_rows: int,
        *,
        score: bool = True,
        fisher: bool = True,
        unit_weights: bool = False,
        observed: bool = False,
    ) -> None:
        self.family = family
        self.unit_weights = unit_weights
        self.observed = observed
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = intercept
        self.want_score = score
        self.want_fisher = fisher
        self.gram = (
            Gram(n_cols, intercept, max_rows, extra=score and fisher) if (score or fisher) else None
        )
        # Summands of the deviance and Pearson's χ² (per block, or the compiled kernel's
        # compensated pairs), added exactly at the end (``_total``): the result then hardly
        # depends on how the rows were split into blocks or Dask chunks, which matters where a
        # quasi-Newton line search compares deviances in their last digits.
        self.deviance_parts: list[float] = []
        self.pearson_parts: list[float] = []
        self.n_boundary = 0
        # The compiled per-row kernel (canonical binomial, Poisson and Gaussian), or None: the
        # NumPy path below.
        self.fused = fused_code(family)

    def add_block(
        self,
        xb: FloatArray,
        yb: FloatArray,
        wb: FloatArray,
        ob: FloatArray | None,
        *,
        keep_weights: FloatArray | None = None,
        sqrt_wb: FloatArray | None = None,
    ) -> None:
        """Add one block of rows (raw data ``xb``; ``keep_weights`` receives W if given).

        ``sqrt_wb``, √w of the block, may be passed to save recomputing it every pass (NumPy
        path only).
        """
        if self.fused is not None:
            self._add_block_compiled(xb, yb, wb, ob, keep_weights)
            return
        if self.family.log_space:
            self._add_block_exact(xb, yb, wb, ob, keep_weights)
            return
        family, link, coef = self.family, self.family.link, self.coef
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            eta = block_eta(xb, coef, self.intercept, ob)
            mu_raw = link.inverse(eta)
            mu = family.clip_mu(mu_raw)
            unit = self.unit_weights  # all prior weights 1: skip the multiplications by w, √w
            at_edge = mu != mu_raw
            self.n_boundary += int(np.count_nonzero(at_edge if unit else at_edge & (wb > 0)))
            dev = family.unit_deviance(yb, mu, eta)
            self.deviance_parts.append(float(dev.sum() if unit else wb @ dev))
            # c = √w (y - mu) / √V: Pearson's χ² is c·c, and the score is Xᵀ √W c below.
            sqrt_v = np.sqrt(family.variance(mu))
            sqrt_w = None if unit else (np.sqrt(wb) if sqrt_wb is None else sqrt_wb)
            c = yb - mu
            if sqrt_w is not None:
                c *= sqrt_w
            c /= sqrt_v
            self.pearson_parts.append(float(c @ c))
            if self.gram is None and keep_weights is None:
                return
            # √W with W = w mu'² / V (every link is increasing, so mu' >= 0).
            if family.is_canonical:
                # mu' = V(mu): W = w V and the score weight is w. V is taken at the clipped mean
                # (as statsmodels does), so that at the edge of the range √W c stays exactly
                # w (y - mu) and no mu' of 0 turns the score of a saturated row into 0 / 0.
                sw = sqrt_v if sqrt_w is None else sqrt_w * sqrt_v
            else:
                sw = link.inverse_derivative(eta) / sqrt_v
                if sqrt_w is not None:
                    sw *= sqrt_w
            if keep_weights is not None:
                np.multiply(sw, sw, out=keep_weights)
            if self.gram is None:
                return
            if self.want_fisher:
                self.gram.add(xb, sw, c if self.want_score else None)
            else:
                self.gram.add_vec(xb, sw * c)

    def _add_block_compiled(
        self,
        xb: FloatArray,
        yb: FloatArray,
        wb: FloatArray,
        ob: FloatArray | None,
        keep_weights: FloatArray | None,
    ) -> None:
        """``add_block`` by the compiled kernel: the same sums, fewer passes over the block.

        A block the fused pass can read (any Gram of a plain dense block, or none) takes
        ``glm_pass``: eta, the per-row part and the Gram chunk by chunk, one read of the block.
        Otherwise eta comes from BLAS (or the sparse product) and ``glm_rows`` gives W and U for
        the Gram's other paths.
        """
        kernel = gram_mod.compiled()
        assert kernel is not None and self.fused is not None
        gram, coef = self.gram, self.coef
        w = None if self.unit_weights else f64(wb)
        yb = f64(yb)
        ob = None if ob is None else f64(ob)
        if (gram is None or type(gram) is Gram) and fused_readable(xb):
            g = s = None
            if gram is not None:
                g = gram.acc if self.want_fisher else None
                s = gram.score_out() if self.want_score else None
            dev, dev_c, pearson, pearson_c, nb = kernel.glm_pass(
                xb, coef, self.intercept, ob, yb, w, self.fused, g, s, keep_weights
            )
        else:
            eta = block_eta(xb, coef, self.intercept, ob)
            m = eta.shape[0]
            work_w, u = np.empty(m), np.empty(m)
            dev, dev_c, pearson, pearson_c, nb = kernel.glm_rows(
                f64(eta), yb, w, self.fused, work_w, u
            )
            if keep_weights is not None:
                keep_weights[:] = work_w
            if gram is not None:
                if self.want_fisher:
                    gram.add_wu(xb, work_w, u if self.want_score else None)
                else:
                    gram.add_vec(xb, u)
        self.deviance_parts += (dev, dev_c)
        self.pearson_parts += (pearson, pearson_c)
        self.n_boundary += nb

    def _add_block_exact(
        self,
        xb: FloatArray,
        yb: FloatArray,
        wb: FloatArray,
        ob: FloatArray | None,
        keep_weights: FloatArray | None,
    ) -> None:
        """``add_block`` in log space (``families.exact``): no clipped mean enters any sum."""
        link = self.family.link
        assert isinstance(link, ProbabilityLink)
        eta = block_eta(xb, self.coef, self.intercept, ob)
        rows = binomial_rows(link, yb, eta, observed=self.observed)
        unit = self.unit_weights
        self.deviance_parts.append(float(rows.deviance.sum() if unit else wb @ rows.deviance))
        with np.errstate(invalid="ignore"):  # 0 x inf: a row of zero weight counts for nothing
            pearson = rows.pearson if unit else np.where(wb > 0, wb * rows.pearson, 0.0)
        self.pearson_parts.append(float(pearson.sum()))
        edge = rows.at_edge
        self.n_boundary += int(np.count_nonzero(edge if unit else edge & (wb > 0)))
        work_w = rows.weight if unit else wb * rows.weight
        if keep_weights is not None:
            keep_weights[:] = work_w
        if self.gram is None:
            return
        u = rows.score if unit else wb * rows.score
        if self.want_fisher:
            self.gram.add_wu(xb, work_w, u if self.want_score else None)
        else:
            self.gram.add_vec(xb, u)

    def merge(self, other: Accumulator) -> Accumulator:
        """Add the sums of ``other`` (a pass over other rows at the same coefficients)."""
        self.deviance_parts += other.deviance_parts
        self.pearson_parts += other.pearson_parts
        self.n_boundary += other.n_boundary
        if self.gram is not None and other.gram is not None:
            self.gram.merge(other.gram)
        return self

    def result(self, work_weights: FloatArray | None = None) -> PassSums:
        """The finished sums."""
        g = self.gram
        return PassSums(
            deviance=exact_sum(self.deviance_parts),
            pearson_chi2=exact_sum(self.pearson_parts),
            score=g.vec() if (g is not None and self.want_score) else None,
            fisher=g.gram() if (g is not None and self.want_fisher) else None,
            n_boundary=self.n_boundary,
            work_weights=work_weights,
        )
