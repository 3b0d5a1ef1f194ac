"""The compiled Gram kernel (newtonglm._gram) against the NumPy/BLAS path it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from newtonglm import kernel

#: The two paths add the same products in a different order.
RTOL = 1e-12


def _both_paths(
    xb: np.ndarray, sw: np.ndarray, c: np.ndarray | None, intercept: bool
) -> tuple[kernel._Gram, kernel._Gram]:
    m, p = xb.shape
    compiled = kernel._Gram(p, intercept, max(m, 1), extra=c is not None)
    compiled.add(xb, sw, c)
    reference = kernel._Gram(p, intercept, max(m, 1), extra=c is not None)
    compiled_module = kernel._compiled
    try:
        kernel._compiled = None
        reference.add(xb, sw, c)
    finally:
        kernel._compiled = compiled_module
    return compiled, reference


def test_compiled_kernel_is_built() -> None:
    assert kernel._compiled is not None, (
        "newtonglm._gram was not built (no C compiler at install?); the suite must test it"
    )


@pytest.mark.parametrize("p", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 20])
@pytest.mark.parametrize("m", [1, 7, 8, 9, 515, 2049, 4200])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("extra", [True, False])
def test_compiled_gram_matches_blas(p: int, m: int, intercept: bool, extra: bool) -> None:
    rng = np.random.default_rng(p * 1000 + m)
    # A row slice of a larger Fortran array: columns m + 9 apart, as the kernel's blocks are.
    xb = np.asfortranarray(rng.normal(size=(m + 9, p)))[4 : 4 + m]
    sw = rng.uniform(0.1, 2.0, size=m)
    c = rng.normal(size=m) if extra else None
    compiled, reference = _both_paths(xb, sw, c, intercept)
    np.testing.assert_allclose(compiled.gram(), reference.gram(), rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(compiled.vec(), reference.vec(), rtol=RTOL, atol=1e-13)
    g = compiled.gram()
    np.testing.assert_array_equal(g, g.T)


@pytest.mark.parametrize(
    "layout", ["C", "reversed columns", "every other row", "F"], ids=lambda s: s.replace(" ", "-")
)
def test_layouts_the_compiled_kernel_cannot_read_use_blas(layout: str) -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=(600, 6))
    xb = {
        "C": base,
        "reversed columns": np.asfortranarray(base)[:, ::-1],
        "every other row": np.asfortranarray(base)[::2],
        "F": np.asfortranarray(base),
    }[layout]
    assert kernel._column_major(xb) == (layout == "F")
    sw = rng.uniform(0.5, 1.5, size=xb.shape[0])
    c = rng.normal(size=xb.shape[0])
    compiled, reference = _both_paths(xb, sw, c, True)
    np.testing.assert_allclose(compiled.gram(), reference.gram(), rtol=RTOL)
    np.testing.assert_allclose(compiled.vec(), reference.vec(), rtol=RTOL)


def test_compiled_kernel_rejects_what_it_cannot_read() -> None:
    wgram = kernel._compiled.wgram
    x = np.ones((10, 3))  # C order
    g = np.zeros((5, 5), order="F")
    with pytest.raises(ValueError, match="A must be a column-major float64 block"):
        wgram(x, np.ones(10), np.ones(10), g, True)
    x = np.asfortranarray(x)
    with pytest.raises(ValueError, match="w and u must be float64 vectors of A's length"):
        wgram(x, np.ones(9), np.ones(10), g, True)
    with pytest.raises(ValueError, match=r"G must be a Fortran-ordered float64 \(q, q\) array"):
        wgram(x, np.ones(10), None, g, True)  # q = 4 without the score column
    with pytest.raises(ValueError, match="A must be a column-major float64 block"):
        wgram(x.astype(np.float32), np.ones(10), None, np.zeros((4, 4), order="F"), True)
