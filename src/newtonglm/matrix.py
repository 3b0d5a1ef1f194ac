"""The design matrix as the kernel sees it: the user's array, never copied, and an intercept.

A fit with an intercept needs X with a leading column of ones. Building that column by copying
X costs a full pass of memory traffic and doubles the peak memory of a fit; instead
:class:`DenseMatrix` keeps the user's float64 array as it is (C- or Fortran-ordered) and
carries the intercept as a flag. The kernel adds the intercept's row and column of Xᵀ W X from
Σ w and Σ w x, which are cheap. Everything outside the kernel may still treat it as an array:
``shape``, ``X @ coef``, ``X[rows]`` (materialises only those rows) and ``np.asarray(X)``
(materialises everything; for post-fit statistics on modest data) behave as for the
intercept-augmented matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._typing import FloatArray

__all__ = ["DenseMatrix", "as_matrix"]


class DenseMatrix:
    """Dense design matrix ``[1, data]`` (intercept first) or ``data``, without copying data.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_columns)
        float64, C- or Fortran-contiguous (or a Fortran-contiguous column slice).
    intercept : bool, default=False
        Whether a leading column of ones is part of the matrix.
    """

    __slots__ = ("data", "intercept")
    ndim = 2

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
        out = self.data.T @ v
        return np.concatenate([[v.sum()], out]) if self.intercept else np.asarray(out)

    def rows(self, index: slice) -> FloatArray:
        """The materialised block X[index] (intercept column included), a fresh array."""
        return self.toarray(self.data[index])

    def toarray(self, data: FloatArray | None = None) -> FloatArray:
        """X as a Fortran-ordered ndarray, intercept column included (a copy with an intercept)."""
        data = self.data if data is None else data
        if not self.intercept:
            return np.asfortranarray(data)
        out = np.empty((data.shape[0], data.shape[1] + 1), order="F")
        out[:, 0] = 1.0
        out[:, 1:] = data
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> FloatArray:
        arr = self.toarray()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> FloatArray:
        if isinstance(key, slice):
            return self.rows(key)
        return self.toarray()[key]

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
        """The rows where ``mask`` is true (a copy of those rows)."""
        return DenseMatrix(np.asfortranarray(self.data[mask]), intercept=self.intercept)


def _blas_ready(data: np.ndarray) -> bool:
    if data.dtype != np.float64:
        return False
    if data.flags.c_contiguous or data.flags.f_contiguous:
        return True
    # A column slice of a Fortran array: unit stride down each column.
    return bool(data.strides[0] == 8 and data.strides[1] % 8 == 0)


def as_matrix(data: Any, intercept: bool = False) -> DenseMatrix:
    """Wrap ``data`` as a :class:`DenseMatrix`, converting to Fortran float64 only if needed."""
    if isinstance(data, DenseMatrix):
        return data
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"a design matrix must be 2-dimensional; got shape {arr.shape}")
    if not _blas_ready(arr):
        arr = np.asfortranarray(arr, dtype=np.float64)
    return DenseMatrix(arr, intercept=intercept)
