"""The block kernel: every pass over the design matrix X goes through this module.

A pass walks X in blocks of rows and accumulates the few sums a solver step or a statistic
needs — the deviance, Pearson's χ², the score Xᵀ r and the Fisher information Xᵀ W X — so the
memory a pass needs is bounded by one block, not by the number of rows. For the canonical
families (binomial-logit, Poisson-log, Gaussian-identity) a block is one call into the compiled
kernel ``newtonglm._gram.glm_pass``: η, the per-row weights and deviance (its own vectorised
exp and log) and the Gram (register tiles; for a wide block a packed BLAS-style micro-kernel),
chunk by cache-sized chunk, in one read of the block. Otherwise the
per-row part is NumPy and Xᵀ W X comes from the compiled Gram (register tiles, W applied on
the fly, no scaled copy) or, where it cannot read the block or was not built, from a BLAS
``syrk`` of √W·X written into one reused block buffer (see :class:`_Gram`). Deviance and
Pearson sums are kept as exact-summed parts, so they do not depend on the block split.

X is a :class:`~newtonglm.matrix.DenseMatrix`: the user's array, never copied, with the
intercept as a flag. The intercept's row and column of Xᵀ W X are Σ w and Σ w x, computed
from the block as it is.

The work on one block is :meth:`Accumulator.add_block`; :func:`pass_sums` is the in-memory
executor (a loop over row blocks; a design of one block, as small data are, takes the same
compiled call directly, without the accumulator's objects). Another executor (Dask) runs the
same ``add_block`` on each chunk and adds the accumulators with :meth:`Accumulator.merge`.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from scipy.linalg import lapack

from . import parallel
from ._typing import FloatArray
from .families import Binomial, Family, Gaussian, Poisson
from .links import IdentityLink, LogitLink, LogLink
from .matrix import DenseMatrix, SparseMatrix, as_matrix, block_layout

_compiled: ModuleType | None
try:  # the compiled Gram kernel (src/newtonglm/_gram.c), built when a C compiler was found
    from . import _gram as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None

__all__ = [
    "Accumulator",
    "PassSums",
    "block_slices",
    "hessp_pass",
    "linear_predictor",
    "mirror_upper",
    "pass_sums",
    "r_factor",
    "start_sums",
    "wls_sums",
]

#: Target size of one block of X in bytes: large enough for BLAS to run at full speed and for
#: the per-block Python overhead to vanish, small enough that the scaled copy of a block is
#: still in cache when ``syrk`` reads it (2 MiB measured best at 1,000,000 x 20; 8 MiB and
#: more were up to 3x slower per pass).
BLOCK_BYTES = 2 * 2**20


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


def block_rows(n_features: int) -> int:
    """Number of rows per block for a design with ``n_features`` columns."""
    return max(1024, BLOCK_BYTES // (8 * max(n_features, 1)))


def block_slices(n_rows: int, n_features: int) -> Iterator[slice]:
    """Consecutive row slices covering ``range(n_rows)``."""
    step = block_rows(n_features)
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


_thread_scratch = threading.local()


def _scratch(size: int) -> FloatArray:
    """A block buffer of at least ``size`` floats, reused by every pass of the calling thread.

    Kept between passes and fits (one block, at most ~2 MiB per thread): a fresh buffer per
    pass can be a fresh mapping whose pages fault in again on the first write (measured: a
    10,000 x 10 Poisson fit of six passes 5-8% faster with the buffer kept). The buffer is
    scratch inside one ``_Gram.add`` call, so accumulators of one thread can share it.
    """
    buf: FloatArray | None = getattr(_thread_scratch, "buf", None)
    if buf is None or buf.size < size:
        buf = np.empty(size)
        _thread_scratch.buf = buf
    return buf[:size]


@functools.lru_cache(maxsize=32)
def _lower_triangle(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices below the diagonal of a d x d matrix (np.triu costs ~15 µs a call)."""
    return np.tril_indices(d, -1)


def mirror_upper(a: FloatArray) -> FloatArray:
    """A C-ordered copy of the square ``a`` with its upper triangle mirrored below the diagonal.

    For the symmetric matrices of a fit that LAPACK or the kernel fill on one side only.
    """
    out = np.array(a, dtype=np.float64, order="C")
    lower = _lower_triangle(out.shape[0])
    out[lower] = out.T[lower]
    return out


def _compiled_layout(xb: FloatArray) -> bool:
    """Whether the compiled kernel should take ``xb``: a column-major or row-major block.

    (See :func:`~newtonglm.matrix.block_layout`; other strides take the BLAS path.) A
    row-major block wider than the packed kernel takes (``PACKED_MAX_COLS``, 1,024 columns)
    goes to BLAS too: the tiles would have to transpose it, which stopped paying at ~120
    columns.
    """
    layout = block_layout(xb)
    if layout == "C" and _compiled is not None:
        return xb.shape[1] <= _compiled.PACKED_MAX_COLS
    return layout is not None


def _fused_readable(xb: object) -> bool:
    """Whether the fused compiled pass (``glm_pass``) reads the block ``xb`` itself."""
    return isinstance(xb, np.ndarray) and xb.dtype == np.float64 and _compiled_layout(xb)


class _Gram:
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
        if _compiled is not None and _compiled_layout(xb):
            u = None
            if self.extra:
                assert c is not None
                u = sw * c
            _compiled.wgram(xb, sw * sw, u, self.acc, self.intercept)
            return
        c_order = bool(xb.flags.c_contiguous and not xb.flags.f_contiguous)
        buf = _scratch(max(self.max_rows, m) * q)
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
        if _compiled is not None and _compiled_layout(xb):
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

    def merge(self, other: _Gram) -> None:
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


def _fused_code(family: Family) -> int | None:
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


def _total(parts: list[float]) -> float:
    """The sum of ``parts``, correctly rounded (plain sum where it overflows or meets ∞ - ∞)."""
    try:
        return math.fsum(parts)
    except (OverflowError, ValueError):
        return float(sum(parts))


def _f64(a: FloatArray) -> FloatArray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _block_eta(
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
            _Gram(n_cols, intercept, max_rows, extra=score and fisher)
            if (score or fisher)
            else None
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
        self.fused = _fused_code(family)

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
            eta = _block_eta(xb, coef, self.intercept, ob)
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
        w = None if self.unit_weights else _f64(wb)
        yb = _f64(yb)
        ob = None if ob is None else _f64(ob)
        if (gram is None or type(gram) is _Gram) and _fused_readable(xb):
            g = s = None
            if gram is not None:
                g = gram.acc if self.want_fisher else None
                s = gram.score_out() if self.want_score else None
            dev, dev_c, pearson, pearson_c, nb = _compiled.glm_pass(
                xb, coef, self.intercept, ob, yb, w, self.fused, g, s, keep_weights
            )
        else:
            eta = _block_eta(xb, coef, self.intercept, ob)
            m = eta.shape[0]
            work_w, u = np.empty(m), np.empty(m)
            dev, dev_c, pearson, pearson_c, nb = _compiled.glm_rows(
                _f64(eta), yb, w, self.fused, work_w, u
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
            deviance=_total(self.deviance_parts),
            pearson_chi2=_total(self.pearson_parts),
            score=g.vec() if (g is not None and self.want_score) else None,
            fisher=g.gram() if (g is not None and self.want_fisher) else None,
            n_boundary=self.n_boundary,
            work_weights=work_weights,
        )


def linear_predictor(X: object, coef: FloatArray, offset: FloatArray | None) -> FloatArray:
    """Return eta = X coef + offset."""
    eta = np.array(as_matrix(X).matvec(coef), dtype=np.float64)
    if offset is not None:
        eta += offset
    return eta


def pass_sums(
    X: DenseMatrix | SparseMatrix | FloatArray,
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
) -> PassSums:
    """One blocked pass over X at ``coef``: deviance, Pearson χ², and optionally score and Fisher.

    Parameters
    ----------
    X : DenseMatrix or ndarray of shape (n_samples, n_features)
        Design matrix.
    y, weights : ndarray of shape (n_samples,)
        Response and prior weights.
    offset : ndarray of shape (n_samples,) or None
        Offset added to the linear predictor.
    coef : ndarray of shape (n_features,)
        Coefficients at which to evaluate.
    family : Family
        Family with its link.
    score, fisher : bool, default=True
        Whether to form the score vector and the Fisher information.
    keep_weights : bool, default=False
        Whether to return the working weights (n floats) for :func:`hessp_pass`.
    sqrt_weights : ndarray of shape (n_samples,), optional
        √weights, when the caller keeps them across passes.
    unit_weights : bool, default=False
        Whether every weight is 1 (known to the caller), which saves a few vector operations.

    Returns
    -------
    PassSums
    """
    M = as_matrix(X)
    if isinstance(M, SparseMatrix):
        from . import sparse_kernel

        return sparse_kernel.pass_sums(
            M,
            y,
            weights,
            offset,
            coef,
            family,
            score=score,
            fisher=fisher,
            keep_weights=keep_weights,
        )
    data = M.data
    n, d = M.shape
    step = block_rows(d)
    kept_w = np.empty(n) if keep_weights else None
    code = _fused_code(family)
    if n <= step and code is not None and _fused_readable(data):
        return _one_block(M, y, weights, offset, coef, code, score, fisher, kept_w, unit_weights)

    def run(blocks: Sequence[slice]) -> Accumulator:
        acc = Accumulator(
            family,
            coef,
            data.shape[1],
            M.intercept,
            min(step, n),
            score=score,
            fisher=fisher,
            unit_weights=unit_weights,
        )
        for rows in blocks:
            acc.add_block(
                data[rows],
                y[rows],
                weights[rows],
                None if offset is None else offset[rows],
                keep_weights=None if kept_w is None else kept_w[rows],
                sqrt_wb=None if sqrt_weights is None else sqrt_weights[rows],
            )
        return acc

    first, *rest = parallel.map_groups(list(block_slices(n, d)), run)
    for acc in rest:
        first.merge(acc)
    return first.result(kept_w)


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
    """:func:`pass_sums` of a design that is one block, by one call of the compiled pass.

    The sums an :class:`Accumulator` makes of that block (the same call, the same arrays),
    without its objects: at 10,000 x 10 they cost ~40% as much as the pass itself, which
    small fits repeat 4-5 times.
    """
    assert _compiled is not None
    d = M.shape[1]
    extra = score and fisher  # the score in the Gram's last column, as _Gram keeps it
    acc = np.zeros((d + int(extra),) * 2, order="F") if fisher else None
    s = (np.zeros(d) if acc is None else acc[:d, d]) if score else None
    dev, dev_c, pearson, pearson_c, nb = _compiled.glm_pass(
        M.data,
        np.asarray(coef, dtype=np.float64),
        M.intercept,
        None if offset is None else _f64(offset),
        _f64(y),
        None if unit_weights else _f64(weights),
        code,
        acc,
        s,
        kept_w,
    )
    return PassSums(
        deviance=_total([dev, dev_c]),
        pearson_chi2=_total([pearson, pearson_c]),
        score=None if s is None else np.array(s),
        fisher=None if acc is None else mirror_upper(acc[:d, :d]),
        n_boundary=nb,
        work_weights=kept_w,
    )


def hessp_pass(
    X: DenseMatrix | SparseMatrix | FloatArray, work_w: FloatArray, v: FloatArray
) -> FloatArray:
    """Fisher-information-vector product Xᵀ W X v in one blocked pass, no d×d matrix.

    ``v`` may be a vector (d,) or a matrix (d, k) of k directions at once.
    """
    M = as_matrix(X)
    if isinstance(M, SparseMatrix):
        from . import sparse_kernel

        return sparse_kernel.hessp_pass(M, work_w, v)
    data, intercept = M.data, M.intercept
    n, d = M.shape
    v = np.asarray(v, dtype=np.float64)
    vx = v[1:] if intercept else v

    def run(blocks: Sequence[slice]) -> FloatArray:
        out = np.zeros(v.shape)
        for rows in blocks:
            xb = data[rows]
            xv = xb @ vx
            if intercept:
                xv = xv + v[0]
            wxv = xv * (work_w[rows] if xv.ndim == 1 else work_w[rows, None])
            if intercept:
                out[0] += wxv.sum(axis=0)
                out[1:] += xb.T @ wxv
            else:
                out += xb.T @ wxv
        return out

    first, *rest = parallel.map_groups(list(block_slices(n, d)), run)
    for part in rest:
        first += part
    return first


def wls_sums(
    X: DenseMatrix | SparseMatrix | FloatArray, work_w: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Weighted least-squares normal equations: return (Xᵀ W X, Xᵀ W z) in one blocked pass."""
    M = as_matrix(X)
    if isinstance(M, SparseMatrix):
        from . import sparse_kernel

        return sparse_kernel.wls_sums(M, work_w, z)
    data = M.data
    n, d = M.shape
    step = block_rows(d)
    acc = _Gram(data.shape[1], M.intercept, min(step, n), extra=True)
    for rows in block_slices(n, d):
        sw = np.sqrt(work_w[rows])
        acc.add(data[rows], sw, sw * z[rows])
    return acc.gram(), acc.vec()


def start_sums(
    X: DenseMatrix | SparseMatrix | FloatArray,
    y: FloatArray,
    weights: FloatArray,
    offset: FloatArray | None,
    family: Family,
) -> tuple[FloatArray, FloatArray]:
    """R's first IRLS iteration, blockwise: (Xᵀ W X, Xᵀ W z) at ``mu0 = family.starting_mu(y)``.

    ``eta0 = g(mu0)``; the working response is ``eta0 - offset + (y - mu0) g'(mu0)`` and the
    working weights ``w / (g'(mu0)² V(mu0))``. Computed one block at a time, so the start costs
    no n-length temporaries.
    """
    M = as_matrix(X)
    link = family.link
    if isinstance(M, SparseMatrix):
        from . import sparse_kernel

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mu0 = family.clip_mu(family.starting_mu(y, weights))
            gprime = link.derivative(mu0)
            z = link.link(mu0) + (y - mu0) * gprime
            if offset is not None:
                z = z - offset
            work_w = weights / (gprime * gprime * family.variance(mu0))
        return sparse_kernel.wls_sums(M, work_w, z)
    data = M.data
    n, d = M.shape
    code = _fused_code(family)

    def run(blocks: Sequence[slice]) -> _Gram:
        acc = _Gram(data.shape[1], M.intercept, min(block_rows(d), n), extra=True)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for rows in blocks:
                xb = data[rows]
                if code is not None and _fused_readable(xb):
                    assert _compiled is not None
                    _compiled.glm_pass(
                        xb,
                        None,
                        M.intercept,
                        None if offset is None else _f64(offset[rows]),
                        _f64(y[rows]),
                        _f64(weights[rows]),
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

    first, *rest = parallel.map_groups(list(block_slices(n, d)), run)
    for acc in rest:
        first.merge(acc)
    return first.gram(), first.vec()


def r_factor(X: DenseMatrix | SparseMatrix | FloatArray) -> FloatArray:
    """Upper-triangular R of a QR decomposition of X, streamed over row blocks (TSQR).

    Working on R keeps the conditioning of X itself (a Gram matrix would square it), so the
    rank check that uses it is as reliable as a QR of the whole matrix, with memory bounded by
    one block.
    """
    M = as_matrix(X)
    if isinstance(M, SparseMatrix):
        from . import sparse_kernel

        return sparse_kernel.r_factor(M)
    n, d = M.shape
    r = np.zeros((0, d))
    for rows in block_slices(n, d):
        stacked = np.vstack([r, M.rows(rows)])
        qr, _tau, _work, info = lapack.dgeqrf(stacked)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK dgeqrf failed with info={info}")
        k = min(stacked.shape[0], d)
        r = np.triu(qr[:k])
    if r.shape[0] < d:
        r = np.vstack([r, np.zeros((d - r.shape[0], d))])
    return r
