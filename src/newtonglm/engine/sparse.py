"""The block kernel for sparse designs (:class:`~newtonglm.design.matrix.SparseMatrix`).

The passes are those of the dense executor (:mod:`newtonglm.engine.dense`) — deviance, score and
Fisher information in one pass, Hessian-vector products, the weighted least-squares start and
the R factor for the rank check — on a design held as a ``scipy.sparse`` matrix, never
densified.

The design is split once into its nearly dense columns D (a dense Fortran block: the numeric
covariates, the intercept when it is a stored column) and the sparse rest S (CSR, e.g. one-hot
columns); see :class:`SparseSplit`, built once per matrix (:func:`split_of`). Per block of
rows, with W the working weights and c the scaled residuals of the
:class:`~newtonglm.engine.accumulate.Accumulator`:

- ``[1 | D]ᵀ W [1 | D]`` and its score column by the dense kernel's ``syrk`` of
  ``[√W | √W·D | c]`` (:class:`~newtonglm.engine.accumulate.Gram`);
- the cross terms ``Sᵀ [W | W·D | √W·c]`` by one sparse-times-dense product, which also
  gives S's part of the score;
- ``Sᵀ W S``: when every row of S holds at most one entry (the columns of one categorical)
  it is diagonal, Σ_i W_i s_ij² per column, one ``bincount``; otherwise a sparse product
  added into the dense d×d matrix.

Measured at 1,000,000 rows × (5 dense + 1,000 one-hot) columns: 0.05 s per pass, against
0.4–0.5 s for the plain sparse product ``Xᵀ (W X)`` over all columns.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._typing import FloatArray
from ..design.matrix import SparseMatrix
from ..families import Family
from .accumulate import Accumulator, PassSums
from .blocks import BLOCK_BYTES, block_slices, scratch, tsqr
from .gram import Gram
from .linalg import RANK_TOL, gram_r_factor
from .rows import row_scores, row_weights
from .sparse_split import SparseSplit, split_of

__all__ = ["QR_MAX_FLOPS", "SparseAccumulator", "SparseExecutor"]

#: Largest n·d² for which the rank check's R factor comes from a dense QR of row blocks; above
#: it the R factor comes from Xᵀ X (see :meth:`SparseExecutor.r_factor`).
QR_MAX_FLOPS = 2e10


def sparse_block_rows(split: SparseSplit) -> int:
    """Rows per block: the dense part's buffer and the block's sparse entries in ~BLOCK_BYTES."""
    n = max(split.sparse.shape[0], 1)
    per_row = split.dense.shape[1] + 3 + 1.5 * split.sparse.nnz / n
    return max(1024, int(BLOCK_BYTES // (8 * per_row)))


def _slices(n: int, step: int) -> list[slice]:
    return [slice(a, min(a + step, n)) for a in range(0, n, step)]


class _Block:
    """Rows of a split design: the dense block and the sparse block (``xb`` of the kernel)."""

    __slots__ = ("dense", "shape", "sparse", "split")

    def __init__(self, split: SparseSplit, rows: slice) -> None:
        self.split = split
        self.dense = split.dense[rows]
        self.sparse = split.sparse_rows(rows)
        self.shape = (self.dense.shape[0], split.dense.shape[1] + split.sparse.shape[1])

    def __matmul__(self, coef: FloatArray) -> FloatArray:
        """X coef for the raw columns (no intercept)."""
        s = self.split
        eta = self.dense @ coef[s.dense_cols] if s.dense_cols.size else np.zeros(self.shape[0])
        if s.sparse_cols.size:
            eta += self.sparse @ coef[s.sparse_cols]
        return np.asarray(eta)


class _SparseGram:
    """Xᵀ W X and Xᵀ √W c of a split design, accumulated block by block (see module doc)."""

    def __init__(self, split: SparseSplit, dense: Gram) -> None:
        self.split = split
        self.dense = dense
        m = split.sparse.shape[1]
        self.cross = np.zeros((m, dense.q))
        self.ss_diag = np.zeros(m) if split.one_per_row else None
        self.ss = None if split.one_per_row else np.zeros((m, m))
        self.vs = np.zeros(m)

    def add(self, xb: _Block, sw: FloatArray, c: FloatArray | None = None) -> None:
        """Add the block's Xᵀ W X (and Xᵀ √W c when ``c`` is given); ``sw = √W``."""
        self.dense.add(xb.dense, sw, c)
        if xb.sparse.shape[1]:
            self._add_sparse(xb, sw * sw, None if c is None else sw * c)

    def add_wu(self, xb: _Block, w: FloatArray, u: FloatArray | None = None) -> None:
        """Add the block's Xᵀ W X (and Xᵀ u when ``u`` is given), from W itself."""
        self.dense.add_wu(xb.dense, w, u)
        if xb.sparse.shape[1]:
            self._add_sparse(xb, w, u)

    def _add_sparse(self, xb: _Block, w: FloatArray, u: FloatArray | None) -> None:
        """The sparse columns' terms: the cross products with [1 | D | u] and Sᵀ W S."""
        g = self.dense
        sb = xb.sparse
        rows, q = sb.shape[0], g.q
        # The thread's block buffer, free again now that the dense part's Gram is done.
        m_b = scratch(rows * q).reshape((rows, q))  # C order: fastest for Sᵀ M
        j0 = int(g.intercept)
        if g.intercept:
            m_b[:, 0] = w
        k = xb.dense.shape[1]
        if k:
            np.multiply(xb.dense, w[:, None], out=m_b[:, j0 : j0 + k])
        if g.extra:
            assert u is not None
            m_b[:, q - 1] = u
        self.cross += sb.T @ m_b
        if self.ss_diag is not None:
            row_of = np.repeat(np.arange(rows), np.diff(sb.indptr))
            self.ss_diag += np.bincount(
                sb.indices, weights=w[row_of] * sb.data * sb.data, minlength=sb.shape[1]
            )
        else:
            assert self.ss is not None
            prod = (sb.T @ (sp.diags(w) @ sb)).tocoo()
            self.ss[prod.row, prod.col] += prod.data

    def add_vec(self, xb: _Block, v: FloatArray) -> None:
        """Add the block's Xᵀ v (score-only passes)."""
        self.dense.add_vec(xb.dense, v)
        if xb.sparse.shape[1]:
            self.vs += xb.sparse.T @ v

    def merge(self, other: _SparseGram) -> None:
        self.dense.merge(other.dense)
        self.cross += other.cross
        self.vs += other.vs
        if self.ss_diag is not None and other.ss_diag is not None:
            self.ss_diag += other.ss_diag
        if self.ss is not None and other.ss is not None:
            self.ss += other.ss

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions in X (intercept first) of [intercept, dense columns] and sparse columns."""
        j0 = int(self.dense.intercept)
        head = np.concatenate([np.zeros(j0, dtype=np.intp), j0 + self.split.dense_cols])
        return head, j0 + self.split.sparse_cols

    def gram(self) -> FloatArray:
        """Xᵀ W X, intercept first, columns in the order of X."""
        a, b = self._positions()
        d = a.size + b.size
        out = np.zeros((d, d))
        out[np.ix_(a, a)] = self.dense.gram()
        cross = self.cross[:, : a.size]
        out[np.ix_(b, a)] = cross
        out[np.ix_(a, b)] = cross.T
        if self.ss_diag is not None:
            out[b, b] = self.ss_diag
        else:
            assert self.ss is not None
            out[np.ix_(b, b)] = self.ss
        return out

    def vec(self) -> FloatArray:
        """Xᵀ √W c (when accumulated with ``c``), else Σ Xᵀ v, in the order of X."""
        a, b = self._positions()
        out = np.zeros(a.size + b.size)
        out[a] = self.dense.vec()
        out[b] = self.cross[:, -1] if self.dense.extra else self.vs
        return out


class SparseAccumulator(Accumulator):
    r""":class:`~newtonglm.engine.accumulate.Accumulator` of a split sparse design (``_Block``\ s).

    Parameters
    ----------
    family : Family
        Family with its link.
    coef : ndarray of shape (n_features,)
        Coefficients (intercept first when X has one).
    split : SparseSplit
        The design's column split.
    intercept : bool
        Whether X has an implicit leading intercept column.
    max_rows : int
        Largest block that will be added.
    score, fisher : bool
        Whether to form the score and the Fisher information.
    observed : bool, default=False
        The observed information instead of Fisher's (see ``Accumulator``).
    """

    def __init__(
        self,
        family: Family,
        coef: FloatArray,
        split: SparseSplit,
        intercept: bool,
        max_rows: int,
        *,
        score: bool = True,
        fisher: bool = True,
        observed: bool = False,
    ) -> None:
        super().__init__(
            family,
            coef,
            split.dense.shape[1],
            intercept,
            max_rows,
            score=score,
            fisher=fisher,
            observed=observed,
        )
        if self.gram is not None:
            self.gram = _SparseGram(split, self.gram)  # type: ignore[assignment]


class SparseExecutor:
    """:class:`~newtonglm.engine.registry.Executor` for in-memory sparse matrices."""

    def pass_sums(
        self,
        X: SparseMatrix,
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
        """One blocked pass over the split design (``sqrt_weights``/``unit_weights`` unused)."""
        split = split_of(X)
        n = X.shape[0]
        step = sparse_block_rows(split)
        acc = SparseAccumulator(
            family,
            coef,
            split,
            X.intercept,
            min(step, n),
            score=score,
            fisher=fisher,
            observed=observed,
        )
        kept_w = np.empty(n) if keep_weights else None
        for rows in _slices(n, step):
            acc.add_block(
                _Block(split, rows),  # type: ignore[arg-type]
                y[rows],
                weights[rows],
                None if offset is None else offset[rows],
                keep_weights=None if kept_w is None else kept_w[rows],
            )
        return acc.result(kept_w)

    def hessp(self, X: SparseMatrix, work_weights: FloatArray, v: FloatArray) -> FloatArray:
        """Xᵀ W X v: a sparse product each way, no d×d matrix."""
        v = np.asarray(v, dtype=np.float64)
        xv = X.matvec(v)
        wxv = xv * (work_weights if xv.ndim == 1 else work_weights[:, None])
        out = np.asarray(X.data.T @ wxv)
        if not X.intercept:
            return out
        return np.concatenate([wxv.sum(axis=0, keepdims=True), out.reshape(-1, *v.shape[1:])])

    def wls_sums(
        self, X: SparseMatrix, work_weights: FloatArray, z: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(Xᵀ W X, Xᵀ W z) of a sparse design in one blocked pass."""
        split = split_of(X)
        n = X.shape[0]
        step = sparse_block_rows(split)
        acc = _SparseGram(split, Gram(split.dense.shape[1], X.intercept, min(step, n), extra=True))
        for rows in _slices(n, step):
            sw = np.sqrt(work_weights[rows])
            acc.add(_Block(split, rows), sw, sw * z[rows])
        return acc.gram(), acc.vec()

    def start_sums(
        self,
        X: SparseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        family: Family,
    ) -> tuple[FloatArray, FloatArray]:
        """R's first IRLS iteration: the working response and weights at ``mu0``, then WLS."""
        link = family.link
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mu0 = family.clip_mu(family.starting_mu(y, weights))
            gprime = link.derivative(mu0)
            z = link.link(mu0) + (y - mu0) * gprime
            if offset is not None:
                z = z - offset
            work_w = weights / (gprime * gprime * family.variance(mu0))
        return self.wls_sums(X, work_w, z)

    def score_magnitude(
        self,
        X: SparseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
    ) -> FloatArray:
        """Σ_i |x_ij s_i| per coefficient (see the dense executor), by sparse products."""
        eta = X.matvec(coef)
        if offset is not None:
            eta = eta + offset
        s = np.abs(row_scores(family, y, weights, eta))
        body = np.asarray(abs(X.data).T @ s)
        return np.concatenate([[s.sum()], body]) if X.intercept else body

    def information_r_factor(
        self,
        X: SparseMatrix,
        y: FloatArray,
        weights: FloatArray,
        offset: FloatArray | None,
        coef: FloatArray,
        family: Family,
        *,
        observed: bool = False,
    ) -> FloatArray:
        """R of a QR of √W·X at ``coef``, over materialised row blocks."""
        n, d = X.shape
        eta = X.matvec(coef)
        if offset is not None:
            eta = eta + offset
        sw = np.sqrt(np.maximum(row_weights(family, y, weights, eta, observed=observed), 0.0))
        return tsqr((X.rows(rows) * sw[rows, None] for rows in block_slices(n, d)), d)

    def r_factor(self, X: SparseMatrix, weights: FloatArray) -> tuple[FloatArray, int]:
        """Upper-triangular R for the rank check of the rows with positive weight.

        Small designs (n·d² ≤ ``QR_MAX_FLOPS``) get the streamed QR of materialised row blocks
        (R's rule exactly). Larger ones, where a dense QR would take minutes, get R from the
        Cholesky of the unweighted Gram matrix Xᵀ X in column order
        (:func:`~newtonglm.engine.linalg.gram_r_factor`), with columns whose squared relative
        residual is at most ``max(RANK_TOL², 100·d·eps)`` counted as aliased: R's rule wherever
        the Gram matrix is accurate enough to apply it, slightly stricter where its rounding
        (~d·eps) would hide an exact dependency.
        """
        positive = weights > 0
        M = X if positive.all() else X.select_rows(positive)
        n, d = M.shape
        if n * d * d <= QR_MAX_FLOPS:
            return tsqr((M.rows(rows) for rows in block_slices(n, d)), d), n
        gram, _ = self.wls_sums(M, np.ones(n), np.zeros(n))
        tol = max(RANK_TOL**2, 100.0 * d * float(np.finfo(float).eps))
        return gram_r_factor(gram, tol), n
