"""The design matrix as the kernel sees it: the user's array, never copied, and an intercept.

A fit with an intercept needs X with a leading column of ones. Building that column by copying
X costs a full pass of memory traffic and doubles the peak memory of a fit; instead
:class:`DenseMatrix` keeps the user's float64 array as it is (C- or Fortran-ordered) and
carries the intercept as a flag. The kernel adds the intercept's row and column of Xᵀ W X from
Σ w and Σ w x, which are cheap. Everything outside the kernel may still treat it as an array:
``shape``, ``X @ coef``, ``X[rows]`` (materialises only those rows) and ``np.asarray(X)``
(materialises everything; for post-fit statistics on modest data) behave as for the
intercept-augmented matrix.

:class:`SparseMatrix` is the same surface over a ``scipy.sparse`` CSR or CSC matrix (e.g. many
one-hot columns). The kernel never densifies it: it splits the columns once into the nearly
dense ones (kept as a small dense block) and the sparse rest (``engine.sparse.split_of``), and
only ``rows`` / ``toarray`` / ``np.asarray`` materialise anything, as for the dense matrix.

Every matrix type says which executor runs its passes (``engine.registry.executor_for`` looks
it up by type) and how its design's row sums are had (:meth:`_ArrayLike.design_stats`); a
distributed matrix type (``newtonglm.dask``) does the same with ``in_memory = False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._typing import FloatArray
from .stats import ArrayStats

__all__ = ["DenseMatrix", "SparseMatrix", "as_matrix", "block_layout", "linear_predictor"]


class _ArrayLike:
    """What both design matrices share: products, conversion and indexing.

    ``data`` is the ndarray or sparse matrix without the intercept column; products add the
    intercept's part, NumPy conversion and indexing go through ``toarray``.
    """

    __slots__ = ()
    ndim = 2
    #: The rows are in this process (per-row statistics, separation check, robust covariance).
    in_memory = True
    data: Any
    intercept: bool

    @property
    def shape(self) -> tuple[int, int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def design_stats(
        self, y: FloatArray, weights: FloatArray, offset: FloatArray | None
    ) -> ArrayStats:
        """The row sums of a design on this matrix, computed from its arrays when asked."""
        return ArrayStats(y, weights, offset)

    def null_matrix(self, intercept: bool) -> DenseMatrix:
        """The same rows with no columns but the (implicit) intercept, if ``intercept``."""
        return DenseMatrix(np.empty((self.shape[0], 0)), intercept=intercept)

    def toarray(self, data: Any = None) -> FloatArray:  # pragma: no cover - overridden
        raise NotImplementedError

    def __matmul__(self, coef: FloatArray) -> FloatArray:
        return self.matvec(coef)

    def matvec(self, coef: FloatArray) -> FloatArray:
        """X coef, for a vector (d,) or a matrix (d, k) of coefficients."""
        coef = np.asarray(coef, dtype=np.float64)
        if not self.intercept:
            return np.asarray(self.data @ coef)
        return np.asarray(self.data @ coef[1:] + coef[0])

    def rmatvec(self, v: FloatArray) -> FloatArray:
        """Xᵀ v."""
        out = np.asarray(self.data.T @ v)
        return np.concatenate([[v.sum()], out]) if self.intercept else out

    def rows(self, index: slice) -> FloatArray:
        """The materialised block X[index] (intercept column included), a fresh array."""
        return self.toarray(self.data[index])

    def __array__(self, dtype: Any = None, copy: Any = None) -> FloatArray:
        arr = self.toarray()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> FloatArray:
        if isinstance(key, slice):
            return self.rows(key)
        return self.toarray()[key]


def _with_intercept(dense: FloatArray, intercept: bool) -> FloatArray:
    """``[1, dense]`` as a new Fortran array when ``intercept``, else ``dense`` itself."""
    if not intercept:
        return dense
    out = np.empty((dense.shape[0], dense.shape[1] + 1), order="F")
    out[:, 0] = 1.0
    out[:, 1:] = dense
    return out


class DenseMatrix(_ArrayLike):
    """Dense design matrix ``[1, data]`` (intercept first) or ``data``, without copying data.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_columns)
        float64, C- or Fortran-contiguous (or a Fortran-contiguous column slice).
    intercept : bool, default=False
        Whether a leading column of ones is part of the matrix.
    """

    __slots__ = ("data", "intercept")

    def __init__(self, data: FloatArray, intercept: bool = False) -> None:
        self.data = data
        self.intercept = bool(intercept)

    # -- array-like surface -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(n_samples, n_features), the intercept column included."""
        n, p = self.data.shape
        return int(n), int(p) + int(self.intercept)

    @property
    def dtype(self) -> np.dtype[Any]:
        """Always float64."""
        return self.data.dtype

    @property
    def nbytes(self) -> int:
        """Bytes held (the intercept costs none)."""
        return int(self.data.nbytes)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __repr__(self) -> str:
        n, d = self.shape
        order = "F" if self.data.flags.f_contiguous else "C"
        return f"DenseMatrix({n} x {d}, order={order}, intercept={self.intercept})"

    def toarray(self, data: FloatArray | None = None) -> FloatArray:
        """X as a Fortran-ordered ndarray, intercept column included (a copy with an intercept)."""
        data = self.data if data is None else data
        return _with_intercept(np.asfortranarray(data), self.intercept)

    def take_columns(self, kept: Sequence[int]) -> DenseMatrix:
        """The matrix restricted to columns ``kept`` (ascending); copies only the data kept."""
        kept = list(kept)
        if kept == list(range(self.shape[1])):
            return self
        if self.intercept and kept and kept[0] == 0:
            cols = [j - 1 for j in kept[1:]]
            return DenseMatrix(np.asfortranarray(self.data[:, cols]), intercept=True)
        cols = [j - int(self.intercept) for j in kept]
        if self.intercept:
            return DenseMatrix(np.asfortranarray(self.toarray()[:, kept]))
        return DenseMatrix(np.asfortranarray(self.data[:, cols]))

    def select_rows(self, mask: np.ndarray) -> DenseMatrix:
        """The rows where ``mask`` is true (one copy of those rows, in the layout of X)."""
        data = self.data
        if not data.flags.f_contiguous:
            # take, not data[mask]: 2 ms instead of 6 for 100,000 of 1,000,000 x 20 rows
            return DenseMatrix(
                np.take(data, np.flatnonzero(mask), axis=0), intercept=self.intercept
            )
        # Column by column straight into Fortran order: no C-ordered intermediate copy.
        index = np.flatnonzero(mask)
        out = np.empty((index.size, data.shape[1]), order="F")
        for j in range(data.shape[1]):
            np.take(data[:, j], index, out=out[:, j])
        return DenseMatrix(out, intercept=self.intercept)


class SparseMatrix(_ArrayLike):
    """Sparse design matrix ``[1, data]`` (intercept first) or ``data``, never densified.

    Parameters
    ----------
    data : scipy.sparse CSR or CSC matrix of shape (n_samples, n_columns)
        float64; used as it is (not copied).
    intercept : bool, default=False
        Whether a leading column of ones is part of the matrix.

    Notes
    -----
    The engine works on a split of the columns, built once on first use and kept in
    ``engine_cache`` (``engine.sparse.split_of``): the nearly dense columns as a dense Fortran
    block, the rest as CSR. Xᵀ W X is then a ``syrk`` on the dense block, one
    sparse-times-dense product for the cross terms and, for the sparse rest, a diagonal (at
    most one entry per row, the one-hot case) or a sparse product — all without an n × d array.
    """

    __slots__ = ("data", "engine_cache", "intercept")

    def __init__(self, data: sp.csr_matrix | sp.csc_matrix, intercept: bool = False) -> None:
        if data.format not in ("csr", "csc"):
            raise ValueError(f"SparseMatrix needs CSR or CSC data; got {data.format!r}")
        self.data = data
        self.intercept = bool(intercept)
        #: The engine's column split of ``data`` (built on first use by the engine).
        self.engine_cache: Any = None

    @property
    def shape(self) -> tuple[int, int]:
        """(n_samples, n_features), the intercept column included."""
        n, p = self.data.shape
        return int(n), int(p) + int(self.intercept)

    @property
    def dtype(self) -> np.dtype[Any]:
        """Always float64."""
        return self.data.dtype  # type: ignore[no-any-return]

    @property
    def nbytes(self) -> int:
        """Bytes held by the user's sparse matrix."""
        d = self.data
        return int(d.data.nbytes + d.indices.nbytes + d.indptr.nbytes)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __repr__(self) -> str:
        n, d = self.shape
        return (
            f"SparseMatrix({n} x {d}, format={self.data.format}, nnz={self.data.nnz}, "
            f"intercept={self.intercept})"
        )

    def column(self, j: int) -> FloatArray:
        """Column ``j`` (intercept first) as a dense vector."""
        if self.intercept:
            if j == 0:
                return np.ones(self.data.shape[0])
            j -= 1
        return np.asarray(self.data[:, [j]].toarray()).ravel()

    def toarray(self, data: Any = None) -> FloatArray:
        """X (or the rows ``data`` of it) as a Fortran ndarray, intercept column included."""
        block = self.data if data is None else data
        return _with_intercept(np.asarray(block.toarray(order="F")), self.intercept)

    def take_columns(self, kept: Sequence[int]) -> SparseMatrix:
        """The matrix restricted to columns ``kept`` (ascending); copies only the data kept."""
        kept = list(kept)
        if kept == list(range(self.shape[1])):
            return self
        keep_intercept = self.intercept and bool(kept) and kept[0] == 0
        cols = [j - int(self.intercept) for j in kept if not (self.intercept and j == 0)]
        sub = self.data[:, cols]
        return SparseMatrix(sub.asformat(self.data.format), intercept=keep_intercept)

    def select_rows(self, mask: np.ndarray) -> SparseMatrix:
        """The rows where ``mask`` is true (a copy of those rows)."""
        return SparseMatrix(
            self.data[np.flatnonzero(mask)].asformat(self.data.format), intercept=self.intercept
        )


def block_layout(block: np.ndarray) -> str | None:
    """The layout of a 2-D view: "F" column-major, "C" row-major, None any other strides.

    Column-major: unit stride down the rows, columns at least m apart; row-major the other way
    round (the layouts the compiled kernel reads; reversed or every-other-row views are
    neither). A block that is both (one row or one column) counts as "F".
    """
    m, p = block.shape
    s0, s1 = block.strides
    if p == 0 or ((m <= 1 or s0 == 8) and (p == 1 or (s1 % 8 == 0 and s1 >= 8 * m))):
        return "F"
    if (p <= 1 or s1 == 8) and (m <= 1 or (s0 % 8 == 0 and s0 >= 8 * p)):
        return "C"
    return None


def _blas_ready(data: np.ndarray) -> bool:
    if data.dtype != np.float64:
        return False
    if data.flags.c_contiguous or data.flags.f_contiguous:
        return True
    # A column slice of a Fortran array: unit stride down each column.
    return bool(data.strides[0] == 8 and data.strides[1] % 8 == 0)


def as_matrix(data: Any, intercept: bool = False) -> DenseMatrix | SparseMatrix:
    """Wrap ``data`` as a :class:`DenseMatrix` or :class:`SparseMatrix`.

    Dense data is converted to Fortran float64 only if needed; sparse CSR and CSC are used as
    they are (float64), other sparse formats (COO, LIL, ...) are converted to CSR once.
    """
    if isinstance(data, (DenseMatrix, SparseMatrix)):
        return data
    if sp.issparse(data):
        if data.format not in ("csr", "csc"):
            data = data.tocsr()
        if data.dtype != np.float64:
            data = data.astype(np.float64)
        # Plain scipy matrices (not formulaic's wrapper or a sparse array): same arrays, no copy.
        plain = sp.csr_matrix(data) if data.format == "csr" else sp.csc_matrix(data)
        return SparseMatrix(plain, intercept=intercept)
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"a design matrix must be 2-dimensional; got shape {arr.shape}")
    if not _blas_ready(arr):
        arr = np.asfortranarray(arr, dtype=np.float64)
    return DenseMatrix(arr, intercept=intercept)


def linear_predictor(X: object, coef: FloatArray, offset: FloatArray | None) -> FloatArray:
    """Return eta = X coef + offset for an in-memory matrix (or an array it wraps)."""
    eta = np.array(as_matrix(X).matvec(coef), dtype=np.float64)
    if offset is not None:
        eta += offset
    return eta
