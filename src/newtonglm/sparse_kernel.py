"""The block kernel for sparse designs (:class:`~newtonglm.matrix.SparseMatrix`).

The passes are those of :mod:`newtonglm.kernel` — deviance, score and Fisher information in
one pass, Hessian-vector products, the weighted least-squares start and the R factor for the
rank check — on a design held as a ``scipy.sparse`` matrix, never densified.

The design is split once into its nearly dense columns D (a dense Fortran block: the numeric
covariates, the intercept when it is a stored column) and the sparse rest S (CSR, e.g. one-hot
columns); see :class:`~newtonglm.matrix.SparseSplit`. Per block of rows, with W the working
weights and c the scaled residuals of :class:`~newtonglm.kernel.Accumulator`:

- ``[1 | D]ᵀ W [1 | D]`` and its score column by the dense kernel's ``syrk`` of
  ``[√W | √W·D | c]`` (:class:`~newtonglm.kernel._Gram`);
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
from scipy import linalg
from scipy.linalg import lapack

from ._typing import FloatArray
from .families import Family
from .kernel import BLOCK_BYTES, Accumulator, PassSums, _Gram, _scratch, block_slices
from .matrix import SparseMatrix, SparseSplit

__all__ = [
    "QR_MAX_FLOPS",
    "SparseAccumulator",
    "gram_r_factor",
    "hessp_pass",
    "pass_sums",
    "r_factor",
    "wls_sums",
]

#: Largest n·d² for which the rank check's R factor comes from a dense QR of row blocks; above
#: it the R factor comes from Xᵀ X (see :func:`r_factor`).
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

    def __init__(self, split: SparseSplit, dense: _Gram) -> None:
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
        m_b = _scratch(rows * q).reshape((rows, q))  # C order: fastest for Sᵀ M
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
    """:class:`~newtonglm.kernel.Accumulator` for a split sparse design (blocks are ``_Block``).

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
    ) -> None:
        super().__init__(
            family,
            coef,
            split.dense.shape[1],
            intercept,
            max_rows,
            score=score,
            fisher=fisher,
        )
        if self.gram is not None:
            self.gram = _SparseGram(split, self.gram)  # type: ignore[assignment]


def pass_sums(
    M: SparseMatrix,
    y: FloatArray,
    weights: FloatArray,
    offset: FloatArray | None,
    coef: FloatArray,
    family: Family,
    *,
    score: bool = True,
    fisher: bool = True,
    keep_weights: bool = False,
) -> PassSums:
    """:func:`newtonglm.kernel.pass_sums` for a sparse design."""
    split = M.split()
    n = M.shape[0]
    step = sparse_block_rows(split)
    acc = SparseAccumulator(
        family, coef, split, M.intercept, min(step, n), score=score, fisher=fisher
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


def hessp_pass(M: SparseMatrix, work_w: FloatArray, v: FloatArray) -> FloatArray:
    """Xᵀ W X v for a sparse design: a sparse product each way, no d×d matrix."""
    v = np.asarray(v, dtype=np.float64)
    xv = M.matvec(v)
    wxv = xv * (work_w if xv.ndim == 1 else work_w[:, None])
    out = np.asarray(M.data.T @ wxv)
    if not M.intercept:
        return out
    return np.concatenate([wxv.sum(axis=0, keepdims=True), out.reshape(-1, *v.shape[1:])])


def wls_sums(M: SparseMatrix, work_w: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(Xᵀ W X, Xᵀ W z) of a sparse design in one blocked pass."""
    split = M.split()
    n = M.shape[0]
    step = sparse_block_rows(split)
    acc = _SparseGram(split, _Gram(split.dense.shape[1], M.intercept, min(step, n), extra=True))
    for rows in _slices(n, step):
        sw = np.sqrt(work_w[rows])
        acc.add(_Block(split, rows), sw, sw * z[rows])
    return acc.gram(), acc.vec()


def gram_r_factor(gram: FloatArray, tol: float) -> FloatArray:
    """An R with Rᵀ R = ``gram`` (a Gram matrix XᵀX), built in column order, aliasing exact.

    A column whose squared relative residual after the earlier kept columns is at most
    ``tol`` gets a zero diagonal (its column of R lies in the span of the earlier ones), so
    :func:`newtonglm.rank.aliased_columns` finds it aliased; the others keep their residual.
    """
    d = gram.shape[0]
    r = np.zeros((d, d))
    kept: list[int] = []
    factor = np.zeros((0, 0))
    for j in range(d):
        gjj = float(gram[j, j])
        if gjj <= 0.0:
            continue
        col = gram[kept, j]
        a = linalg.solve_triangular(factor, col, trans="T") if kept else col
        resid2 = gjj - float(a @ a)
        r[kept, j] = a
        if resid2 > tol * gjj:
            r[j, j] = np.sqrt(resid2)
            k = len(kept)
            grown = np.zeros((k + 1, k + 1))
            grown[:k, :k] = factor
            grown[:k, k] = a
            grown[k, k] = r[j, j]
            factor = grown
            kept.append(j)
    return r


def r_factor(M: SparseMatrix) -> FloatArray:
    """Upper-triangular R for the rank check of a sparse design.

    Small designs (n·d² ≤ ``QR_MAX_FLOPS``) get the dense kernel's streamed QR of
    materialised row blocks (R's rule exactly). Larger ones, where a dense QR would take
    minutes, get R from the Cholesky of the unweighted Gram matrix Xᵀ X in column order
    (:func:`gram_r_factor`), with columns whose squared relative residual is at most
    ``max(RANK_TOL², 100·d·eps)`` counted as aliased: R's rule wherever the Gram matrix is
    accurate enough to apply it, slightly stricter where its rounding (~d·eps) would hide an
    exact dependency.
    """
    from .rank import RANK_TOL

    n, d = M.shape
    if n * d * d <= QR_MAX_FLOPS:
        return _tsqr(M)
    gram, _ = wls_sums(M, np.ones(n), np.zeros(n))
    tol = max(RANK_TOL**2, 100.0 * d * float(np.finfo(float).eps))
    return gram_r_factor(gram, tol)


def _tsqr(M: SparseMatrix) -> FloatArray:
    """R of a QR of X, streamed over materialised row blocks (as the dense kernel does)."""
    n, d = M.shape
    r = np.zeros((0, d))
    for rows in block_slices(n, d):
        stacked = np.vstack([r, M.rows(rows)])
        qr, _tau, _work, info = lapack.dgeqrf(stacked)
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK dgeqrf failed with info={info}")
        r = np.triu(qr[: min(stacked.shape[0], d)])
    if r.shape[0] < d:
        r = np.vstack([r, np.zeros((d - r.shape[0], d))])
    return r
