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
from types import ModuleType

import numpy as np

from .._typing import FloatArray
from ..design.matrix import block_layout
from ..families import Binomial, Family, Gaussian, IdentityLink, LogitLink, LogLink, Poisson
from .blocks import exact_sum, f64, mirror_upper, scratch

_compiled: ModuleType | None
try:  # the compiled Gram kernel (src/newtonglm/_gram.c), built when a C compiler was found
    from .. import _gram as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None

__all__ = [
    "Accumulator",
    "Gram",
    "PassSums",
    "block_eta",
    "compiled",
    "compiled_layout",
    "fused_code",
    "fused_readable",
]


def compiled() -> ModuleType | None:
    """The compiled kernel module, or None when the package was built without a C compiler."""
    return _compiled


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


def compiled_layout(xb: FloatArray) -> bool:
    """Whether the compiled kernel should take ``xb``: a column-major or row-major block.

    (See :func:`~newtonglm.design.matrix.block_layout`; other strides take the BLAS path.) A
    row-major block wider than the packed kernel takes (``PACKED_MAX_COLS``, 1,024 columns)
    goes to BLAS too: the tiles would have to transpose it, which stopped paying at ~120
    columns.
    """
    layout = block_layout(xb)
    if layout == "C" and _compiled is not None:
        return xb.shape[1] <= _compiled.PACKED_MAX_COLS
    return layout is not None


def fused_readable(xb: object) -> bool:
    """Whether the fused compiled pass (``glm_pass``) reads the block ``xb`` itself."""
    return isinstance(xb, np.ndarray) and xb.dtype == np.float64 and compiled_layout(xb)


class Gram:
    """Accumulates Xᵀ W X and Xᵀ √W c over blocks of the raw data, intercept implicit.

    Two interchangeable paths fill the upper triangle of the same ``acc`` (Σ W, Σ W x, Xᵀ W X
    and, in the last column, Xᵀ √W c):

    - compiled (``newtonglm._gram``; blocks of a Fortran- or C-ordered X): one read of the
      block, no scaled copy. Narrow blocks: 4 x 4 tiles of the result in vector registers over
      chunks that stay in L1, W applied on the fly (2x faster than the BLAS path below at d = 20: 22
      vs 46 ms per 1,000,000 rows of a Fortran X, 32 vs 60 of a C X). Wide blocks (from 32
      columns row-major, 80 column-major): chunks packed row-major and a BLAS-style register
      micro-kernel, ~2x faster than ``syrk`` at d = 200, which also gains nothing from a
      second thread there.
    - NumPy/BLAS (other strides, or no compiler at install): the block is
      written once, scaled, into a reused buffer laid out like the block as ``[√W | √W·X | c]``
      and one ``syrk`` of it yields every sum together. Blocks are sized so that the buffer
      stays in cache between the scaling and the ``syrk``.
    """

    def __init__(self, n_cols: int, intercept: bool, max_rows: int, extra: bool) -> None:
        self.p = n_cols
        self.intercept = intercept
        self.extra = extra
        q = n_cols + int(intercept) + int(extra)
        self.q = q
        self.acc = np.zeros((q, q), order="F")
        # Rows of the largest block: the BLAS path scales a block into the thread's buffer
        # (_scratch), taken per call, so an accumulator holds no buffer of its own.
        self.max_rows = max(max_rows, 1)
        # Score-only passes (no Fisher information): Xᵀ v, intercept first, without the Gram.
        self.sv = np.zeros(n_cols + int(intercept))

    def add(self, xb: FloatArray, sw: FloatArray, c: FloatArray | None = None) -> None:
        """Add ``[√W | √W·xb | c]`` of one block, where ``sw = √W``: accumulates Xᵀ √W c."""
        m, p = xb.shape
        q = self.q
        if _compiled is not None and compiled_layout(xb):
            u = None
            if self.extra:
                assert c is not None
                u = sw * c
            _compiled.wgram(xb, sw * sw, u, self.acc, self.intercept)
            return
        c_order = bool(xb.flags.c_contiguous and not xb.flags.f_contiguous)
        buf = scratch(max(self.max_rows, m) * q)
        scaled = buf[: m * q].reshape((m, q), order="C" if c_order else "F")
        j0 = int(self.intercept)
        if self.intercept:
            scaled[:, 0] = sw
        if p:
            np.multiply(xb, sw[:, None], out=scaled[:, j0 : j0 + p])
        if self.extra:
            assert c is not None
            scaled[:, q - 1] = c
        # NumPy recognises AᵀA and calls BLAS syrk (and fills both triangles). NumPy's BLAS,
        # not scipy.linalg.blas: scipy's OpenBLAS build serialises calls from concurrent
        # threads, which would undo the row-block threads of ``parallel``.
        self.acc += scaled.T @ scaled

    def add_wu(self, xb: FloatArray, w: FloatArray, u: FloatArray | None = None) -> None:
        """Add ``[1 | xb]ᵀ diag(w) [1 | xb]`` and Σ u [1 | xb] (when given) of one block.

        The form the compiled per-row kernel produces (W and U = √W c); the BLAS path takes
        √W and c = U / √W (0 where W is 0, rows of zero weight).
        """
        if _compiled is not None and compiled_layout(xb):
            _compiled.wgram(xb, w, u if self.extra else None, self.acc, self.intercept)
            return
        sw = np.sqrt(w)
        c = None
        if u is not None:
            c = np.zeros_like(u)
            np.divide(u, sw, out=c, where=sw > 0.0)
        self.add(xb, sw, c)

    def add_vec(self, xb: FloatArray, v: FloatArray) -> None:
        """Add Xᵀ v of one block (score-only passes)."""
        j0 = int(self.intercept)
        if xb.shape[1]:
            self.sv[j0:] += v @ xb
        if self.intercept:
            self.sv[0] += float(v.sum())

    def score_out(self) -> FloatArray:
        """Where the compiled pass adds the score: the extra column, or the score-only vector."""
        if self.extra:
            return self.acc[: self.q - 1, self.q - 1]
        return self.sv

    def merge(self, other: Gram) -> None:
        """Add the sums of ``other`` (over other rows)."""
        self.acc += other.acc
        self.sv += other.sv

    def gram(self) -> FloatArray:
        """Xᵀ W X, intercept first."""
        d = self.q - int(self.extra)
        return mirror_upper(self.acc[:d, :d])  # both paths fill the upper triangle

    def vec(self) -> FloatArray:
        """Xᵀ √W c (from the extra column) when it was accumulated, else Σ Xᵀ v."""
        if self.extra:
            return np.array(self.acc[: self.q - 1, self.q - 1])
        return self.sv.copy()


def fused_code(family: Family) -> int | None:
    """The compiled per-row kernel's code for ``family`` (its canonical pairs), else None."""
    if _compiled is None:
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
    ) -> None:
        self.family = family
        self.unit_weights = unit_weights
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
        assert _compiled is not None and self.fused is not None
        gram, coef = self.gram, self.coef
        w = None if self.unit_weights else f64(wb)
        yb = f64(yb)
        ob = None if ob is None else f64(ob)
        if (gram is None or type(gram) is Gram) and fused_readable(xb):
            g = s = None
            if gram is not None:
                g = gram.acc if self.want_fisher else None
                s = gram.score_out() if self.want_score else None
            dev, dev_c, pearson, pearson_c, nb = _compiled.glm_pass(
                xb, coef, self.intercept, ob, yb, w, self.fused, g, s, keep_weights
            )
        else:
            eta = block_eta(xb, coef, self.intercept, ob)
            m = eta.shape[0]
            work_w, u = np.empty(m), np.empty(m)
            dev, dev_c, pearson, pearson_c, nb = _compiled.glm_rows(
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
