"""The engine's view of a sparse design: its nearly dense columns apart from the sparse rest.

Built once per :class:`~newtonglm.design.matrix.SparseMatrix` on first use (:func:`split_of`)
and kept on the matrix, so every pass of a fit reads the same dense block and CSR rest.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._typing import FloatArray
from ..design.matrix import SparseMatrix

__all__ = ["DENSE_COLUMN_DENSITY", "SparseSplit", "split_of"]

#: Share of non-zero rows above which a column of a sparse design is handled as dense by the
#: kernel (tabmat uses 0.1; at 0.25 the dense copy of such a column costs at most 2.7× its
#: CSR storage, and the sparse remainder keeps few entries per row).
DENSE_COLUMN_DENSITY = 0.25

#: Largest n·d² for which the rank check's R factor comes from a dense QR of row blocks; above
#: it the R factor comes from Xᵀ X (see :func:`r_factor`).
QR_MAX_FLOPS = 2e10


class SparseSplit:
    """A sparse design as the kernel uses it: dense-ish columns apart from the sparse rest.

    Attributes
    ----------
    dense_cols, sparse_cols : ndarray of int
        Positions (in the raw data, without the intercept) of the two column sets, ascending.
    dense : ndarray of shape (n_samples, len(dense_cols))
        Those columns, Fortran-ordered.
    sparse : scipy.sparse.csr_matrix of shape (n_samples, len(sparse_cols))
        The other columns, CSR (row blocks are views).
    one_per_row : bool
        Whether every row of ``sparse`` holds at most one entry (one-hot columns of a single
        categorical, say): then its Gram matrix is diagonal.
    """

    __slots__ = ("dense", "dense_cols", "one_per_row", "sparse", "sparse_cols")

    def __init__(self, data: sp.csr_matrix | sp.csc_matrix, threshold: float) -> None:
        n, p = data.shape
        if data.format == "csc":
            counts = np.diff(data.indptr)
        else:
            counts = np.bincount(data.indices, minlength=p)
        dense_mask = counts >= threshold * max(n, 1)
        self.dense_cols = np.flatnonzero(dense_mask)
        self.sparse_cols = np.flatnonzero(~dense_mask)
        if data.format == "csr":
            self.dense, rest = self._split_csr(data, dense_mask)
        else:
            self.dense = np.zeros((n, self.dense_cols.size), order="F")
            for pos, j in enumerate(self.dense_cols):
                a, b = data.indptr[j], data.indptr[j + 1]
                self.dense[data.indices[a:b], pos] += data.data[a:b]
            rest = data[:, self.sparse_cols].tocsr()
        rest.sum_duplicates()
        self.sparse = rest
        self.one_per_row = bool(rest.nnz == 0 or np.diff(rest.indptr).max() <= 1)

    def _split_csr(
        self, data: sp.csr_matrix, dense_mask: np.ndarray
    ) -> tuple[FloatArray, sp.csr_matrix]:
        """Dense block and sparse rest of a CSR matrix, in O(nnz), block of rows by block.

        Working in row blocks bounds the temporaries (row numbers, masks) by one block, so
        the split costs little more memory than its result.
        """
        n, p = data.shape
        new_pos = np.empty(p, dtype=np.intp)
        new_pos[self.dense_cols] = np.arange(self.dense_cols.size)
        new_pos[self.sparse_cols] = np.arange(self.sparse_cols.size)
        dense = np.zeros((n, self.dense_cols.size), order="F")
        counts = np.zeros(n + 1, dtype=np.int64)
        kept_idx: list[np.ndarray] = []
        kept_val: list[np.ndarray] = []
        step = 1 << 16
        for start in range(0, n, step):
            stop = min(start + step, n)
            lo, hi = int(data.indptr[start]), int(data.indptr[stop])
            ind, val = data.indices[lo:hi], data.data[lo:hi]
            rows = np.repeat(np.arange(start, stop), np.diff(data.indptr[start : stop + 1]))
            in_dense = dense_mask[ind]
            where = (rows[in_dense], new_pos[ind[in_dense]])
            if data.has_canonical_format:
                dense[where] = val[in_dense]
            else:  # duplicate entries add up, as in every product with the matrix
                np.add.at(dense, where, val[in_dense])
            keep = ~in_dense
            counts[start + 1 : stop + 1] = np.bincount(rows[keep] - start, minlength=stop - start)
            kept_idx.append(new_pos[ind[keep]].astype(data.indices.dtype))
            kept_val.append(val[keep])
        rest = sp.csr_matrix(
            (
                np.concatenate(kept_val) if kept_val else np.zeros(0),
                np.concatenate(kept_idx) if kept_idx else np.zeros(0, dtype=np.int32),
                np.cumsum(counts),
            ),
            shape=(n, self.sparse_cols.size),
        )
        return dense, rest

    @property
    def nbytes(self) -> int:
        """Bytes held by the split (the dense block and the sparse rest)."""
        s = self.sparse
        return int(self.dense.nbytes + s.data.nbytes + s.indices.nbytes + s.indptr.nbytes)

    def sparse_rows(self, index: slice) -> sp.csr_matrix:
        """Rows ``index`` of the sparse part, as a CSR matrix viewing its arrays (no copy)."""
        s = self.sparse
        start, stop, _ = index.indices(s.shape[0])
        a, b = int(s.indptr[start]), int(s.indptr[stop])
        return sp.csr_matrix(
            (s.data[a:b], s.indices[a:b], s.indptr[start : stop + 1] - a),
            shape=(stop - start, s.shape[1]),
            copy=False,
        )


def split_of(M: SparseMatrix) -> SparseSplit:
    """The engine's column split of ``M``, built on first use and cached on the matrix."""
    if M.engine_cache is None:
        M.engine_cache = SparseSplit(M.data, DENSE_COLUMN_DENSITY)
    split: SparseSplit = M.engine_cache
    return split
