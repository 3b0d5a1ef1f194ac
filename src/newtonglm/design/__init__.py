"""The data of a fit: user input → a validated :class:`Design` on a matrix the engine reads.

``matrix`` holds the in-memory matrix types (the user's array, never copied, the intercept as a
flag; scipy.sparse kept sparse), ``validate`` turns arrays into a Design (lengths, NaN/inf,
weights, ``missing=``), ``formula`` does the same from a formula and a DataFrame through
formulaic, ``groups`` encodes cluster labels, ``response`` a classifier's two labels, and
``stats`` gives every design's row sums. Nothing here fits anything.
"""

from __future__ import annotations

from .base import Design
from .matrix import DenseMatrix, SparseMatrix, as_matrix
from .stats import ArrayStats, DesignStats

__all__ = ["ArrayStats", "Design", "DenseMatrix", "DesignStats", "SparseMatrix", "as_matrix"]
