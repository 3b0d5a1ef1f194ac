"""The in-memory dense executor: every pass over a :class:`~newtonglm.design.matrix.DenseMatrix`.

A pass splits X into row blocks (``blocks.block_slices``), runs an
:class:`~newtonglm.engine.accumulate.Accumulator` over groups of blocks on the kernel's threads
(``parallel.map_groups``) and merges the accumulators. A design of one block, as small data
are, takes the same compiled call directly, without the accumulator's objects (``_one_block``).

X is the user's array, never copied, with the intercept as a flag: the intercept's row and
column of Xᵀ W X are Σ w and Σ w x, computed from the block as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import parallel
from .._typing import FloatArray
from ..design.matrix import DenseMatrix, as_matrix
from ..families import Family
from . import blocks
from .accumulate import Accumulator, PassSums, fused_code
from .blocks import exact_sum, f64, mirror_upper, tsqr
from .gram import Gram, compiled, fused_readable
from .rows import magnitude_block, weighted_block

__all__ = ["DenseExecutor"]


def _dense(X: object) -> DenseMatrix:
    M = as_matrix(X)
    if not isinstance(M, DenseMatrix):
        raise TypeError(f"the dense executor needs a DenseMatrix; got {type(M).__name__}")
    return M


class DenseExecutor:
    """:class:`~newtonglm.engine.registry.Executor` for in-memory dense matrices."""

    def pass_sums(
        self,
        X: DenseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
        *,
        score: bool = True,
        fisher: bool = True,
        keep_weights: bool = False,
        sqrt_weights: FloatArray | None = None,
        unit_weights: bool = False,
        observed: bool = False,
    ) -> PassSums:
        """One blocked pass at ``coef``: deviance, Pearson χ², optionally score and Fisher.

        ``keep_weights`` returns the working weights (n floats) for :meth:`hessp`;
        ``sqrt_weights`` (√w, kept by the caller across passes) and ``unit_weights`` (every w
        is 1) save a few vector operations; ``observed`` forms the observed information.
        """
        M = _dense(X)
        data = M.data
        n, d = M.shape
        step = blocks.block_rows(d)
        kept_w = np.empty(n) if keep_weights else None
        code = fused_code(family)
        if n <= step and code is not None and fused_readable(data):
            return _one_block(
                M, y, weights, offset, coef, code, score, fisher, kept_w, unit_weights
            )

        def run(group: Sequence[slice]) -> Accumulator:
            acc = Accumulator(
                family,
                coef,
                data.shape[1],
                M.intercept,
                min(step, n),
                score=score,
                fisher=fisher,
                unit_weights=unit_weights,
                observed=observed,
            )
            for rows in group:
                acc.add_block(
                    data[rows],
                    y[rows],
                    weights[rows],
                    None if offset is None else offset[rows],
                    keep_weights=None if kept_w is None else kept_w[rows],
                    sqrt_wb=None if sqrt_weights is None else sqrt_weights[rows],
                )
            return acc

        first, *rest = parallel.map_groups(list(blocks.block_slices(n, d)), run)
        for acc in rest:
            first.merge(acc)
        return first.result(kept_w)

    def hessp(self, X: DenseMatrix, work_weights: FloatArray, v: FloatArray) -> FloatArray:
        """Fisher-information-vector product Xᵀ W X v in one blocked pass, no d×d matrix.

        ``v`` may be a vector (d,) or a matrix (d, k) of k directions at once.
        """
        M = _dense(X)
        data, intercept = M.data, M.intercept
        n, d = M.shape
        v = np.asarray(v, dtype=np.float64)
        vx = v[1:] if intercept else v

        def run(group: Sequence[slice]) -> FloatArray:
            out = np.zeros(v.shape)
            for rows in group:
                xb = data[rows]
                xv = xb @ vx
                if intercept:
                    xv = xv + v[0]
                wxv = xv * (work_weights[rows] if xv.ndim == 1 else work_weights[rows, None])
                if intercept:
                    out[0] += wxv.sum(axis=0)
                    out[1:] += xb.T @ wxv
                else:
                    out += xb.T @ wxv
            return out

        first, *rest = parallel.map_groups(list(blocks.block_slices(n, d)), run)
        for part in rest:
            first += part
        return first

    def wls_sums(
        self, X: DenseMatrix, work_weights: FloatArray, z: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Weighted least-squares normal equations (Xᵀ W X, Xᵀ W z) in one blocked pass."""
        M = _dense(X)
        data = M.data
        n, d = M.shape
        acc = Gram(data.shape[1], M.intercept, min(blocks.block_rows(d), n), extra=True)
        for rows in blocks.block_slices(n, d):
            sw = np.sqrt(work_weights[rows])
            acc.add(data[rows], sw, sw * z[rows])
        return acc.gram(), acc.vec()

    def start_sums(
        self,
        X: DenseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        family: Family,
    ) -> tuple[FloatArray, FloatArray]:
        """R's first IRLS iteration, blockwise: (Xᵀ W X, Xᵀ W z) at ``mu0 = starting_mu(y)``.

        ``eta0 = g(mu0)``; the working response is ``eta0 - offset + (y - mu0) g'(mu0)`` and
        the working weights ``w / (g'(mu0)² V(mu0))``. Computed one block at a time, so the
        start costs no n-length temporaries.
        """
        M = _dense(X)
        link = family.link
        data = M.data
        n, d = M.shape
        code = fused_code(family)
        kernel = compiled()

        def run(group: Sequence[slice]) -> Gram:
            acc = Gram(data.shape[1], M.intercept, min(blocks.block_rows(d), n), extra=True)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                for rows in group:
                    xb = data[rows]
                    if kernel is not None and code is not None and fused_readable(xb):
                        kernel.glm_pass(
                            xb,
                            None,
                            M.intercept,
                            None if offset is None else f64(offset[rows]),
                            f64(y[rows]),
                            f64(weights[rows]),
                            code,
                            acc.acc,
                            acc.score_out(),
                            None,
                        )
                        continue
                    yb, wb = y[rows], weights[rows]
                    mu0 = family.clip_mu(family.starting_mu(yb, wb))
                    gprime = link.derivative(mu0)
                    z = link.link(mu0) + (yb - mu0) * gprime
                    if offset is not None:
                        z -= offset[rows]
                    sw = np.sqrt(wb / (gprime * gprime * family.variance(mu0)))
                    acc.add(data[rows], sw, sw * z)
            return acc

        first, *rest = parallel.map_groups(list(blocks.block_slices(n, d)), run)
        for acc in rest:
            first.merge(acc)
        return first.gram(), first.vec()

    def score_magnitude(
        self,
        X: DenseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
    ) -> FloatArray:
        """Σ_i |x_ij s_i| per coefficient: the terms the score adds up, for its rounding."""
        M = _dense(X)
        n, d = M.shape
        out = np.zeros(d)
        for rows in blocks.block_slices(n, d):
            off = None if offset is None else offset[rows]
            out += magnitude_block(
                M.data[rows], y[rows], weights[rows], off, coef, M.intercept, family
            )
        return out

    def information_r_factor(
        self,
        X: DenseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
        *,
        observed: bool = False,
    ) -> FloatArray:
        """R of a streamed QR of √W·X at ``coef``; RᵀR is the information, but well kept.

        R has the conditioning of √W·X, where the Gram Xᵀ W X would square it.
        """
        M = _dense(X)
        n, d = M.shape
        parts = (
            weighted_block(
                M.data[rows],
                y[rows],
                weights[rows],
                None if offset is None else offset[rows],
                coef,
                M.intercept,
                family,
                observed=observed,
            )
            for rows in blocks.block_slices(n, d)
        )
        return tsqr(parts, d)

    def r_factor(self, X: DenseMatrix, weights: FloatArray) -> tuple[FloatArray, int]:
        """R of a QR of the rows with positive weight, streamed over row blocks (TSQR).

        Working on R keeps the conditioning of X itself (a Gram matrix would square it), so
        the rank check that uses it is as reliable as a QR of the whole matrix, with memory
        bounded by one block.
        """
        M = _dense(X)
        positive = weights > 0
        if not positive.all():
            M = M.select_rows(positive)
        n, d = M.shape
        return tsqr((M.rows(rows) for rows in blocks.block_slices(n, d)), d), n


def _one_block(
    M: DenseMatrix,
    y: FloatArray,
    weights: FloatArray,
    offset: FloatArray | None,
    coef: FloatArray,
    code: int,
    score: bool,
    fisher: bool,
    kept_w: FloatArray | None,
    unit_weights: bool,
) -> PassSums:
    """``pass_sums`` of a design that is one block, by one call of the compiled pass.

    The sums an :class:`Accumulator` makes of that block (the same call, the same arrays),
    without its objects: at 10,000 x 10 they cost ~40% as much as the pass itself, which
    small fits repeat 4-5 times.
    """
    kernel = compiled()
    assert kernel is not None
    d = M.shape[1]
    extra = score and fisher  # the score in the Gram's last column, as Gram keeps it
    acc = np.zeros((d + int(extra),) * 2, order="F") if fisher else None
    s = (np.zeros(d) if acc is None else acc[:d, d]) if score else None
    dev, dev_c, pearson, pearson_c, nb = kernel.glm_pass(
        M.data,
        np.asarray(coef, dtype=np.float64),
        M.intercept,
        None if offset is None else f64(offset),
        f64(y),
        None if unit_weights else f64(weights),
        code,
        acc,
        s,
        kept_w,
    )
    return PassSums(
        deviance=exact_sum([dev, dev_c]),
        pearson_chi2=exact_sum([pearson, pearson_c]),
        score=None if s is None else np.array(s),
        fisher=None if acc is None else mirror_upper(acc[:d, :d]),
        n_boundary=nb,
        work_weights=kept_w,
    )
