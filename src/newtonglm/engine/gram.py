"""Xᵀ W X and the score column over blocks of rows: the compiled kernel, or BLAS ``syrk``.

:class:`Gram` accumulates the upper triangle of ``[1 | X]ᵀ W [1 | X]`` (and the score as its
last column) one block at a time, through the compiled kernel ``newtonglm._gram`` where it reads
the block (column- or row-major) and a BLAS ``syrk`` of the scaled block otherwise. The compiled
module is looked up here, once: :func:`compiled` is the one switch the tests flip to run the
NumPy/BLAS path.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .._typing import FloatArray
from ..design.matrix import block_layout
from ..exceptions import PerformanceWarning, warn
from .blocks import mirror_upper, scratch

_compiled: ModuleType | None
try:  # the compiled Gram kernel (src/newtonglm/_gram.c), built when a C compiler was found
    from .. import _gram as _compiled
except ImportError:  # pragma: no cover - depends on the build
    _compiled = None

__all__ = ["Gram", "compiled", "compiled_layout", "fused_readable", "warn_if_fallback"]

#: Whether the fallback warning was issued in this process (it is issued once).
_warned_fallback = False


def compiled() -> ModuleType | None:
    """The compiled kernel module, or None when the package was built without a C compiler."""
    return _compiled


def warn_if_fallback() -> None:
    """Once per process, say that the compiled kernel is missing and what that costs."""
    global _warned_fallback
    if _compiled is not None or _warned_fallback:
        return
    _warned_fallback = True
    warn(
        "newtonglm's compiled kernel (newtonglm._gram) is not installed, so fits use the "
        "NumPy/BLAS fallback, about 5x slower on dense designs; the results are the same. "
        "Reinstall with a C compiler available (pip install --force-reinstall newtonglm) and "
        "check with newtonglm.show_versions().",
        PerformanceWarning,
    )


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
        √W and c = U / √W. A row whose W underflowed to 0 while its U did not (a fitted
        probability far in a tail) adds its U to the score column directly.
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
        if u is not None and self.extra:
            lost = (sw == 0.0) & (u != 0.0)
            if lost.any():
                column = self.acc[: self.q - 1, self.q - 1]
                j0 = int(self.intercept)
                if self.intercept:
                    column[0] += float(u[lost].sum())
                if xb.shape[1]:
                    column[j0:] += u[lost] @ xb[lost]

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
