"""The compiled Gram kernel (newtonglm._gram) against the NumPy/BLAS path it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from newtonglm.engine import gram

#: The two paths add the same products in a different order.
RTOL = 1e-12


def _both_paths(
    xb: np.ndarray, sw: np.ndarray, c: np.ndarray | None, intercept: bool
) -> tuple[gram.Gram, gram.Gram]:
    m, p = xb.shape
    compiled = gram.Gram(p, intercept, max(m, 1), extra=c is not None)
    compiled.add(xb, sw, c)
    reference = gram.Gram(p, intercept, max(m, 1), extra=c is not None)
    compiled_module = gram._compiled
    try:
        gram._compiled = None
        reference.add(xb, sw, c)
    finally:
        gram._compiled = compiled_module
    return compiled, reference


def test_compiled_kernel_is_built() -> None:
    assert gram._compiled is not None, (
        "newtonglm._gram was not built (no C compiler at install?); the suite must test it"
    )


@pytest.mark.parametrize("p", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 20])
@pytest.mark.parametrize("m", [1, 7, 8, 9, 515, 2049, 4200])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("extra", [True, False])
@pytest.mark.parametrize("order", ["F", "C"])
def test_compiled_gram_matches_blas(
    p: int, m: int, intercept: bool, extra: bool, order: str
) -> None:
    rng = np.random.default_rng(p * 1000 + m)
    # A row slice of a larger array, as the kernel's blocks are: Fortran columns m + 9 apart,
    # or C rows of a wider array (p + 3 apart).
    if order == "F":
        xb = np.asfortranarray(rng.normal(size=(m + 9, p)))[4 : 4 + m]
    else:
        xb = rng.normal(size=(m + 9, p + 3))[4 : 4 + m, 1 : 1 + p]
    assert gram.compiled_layout(xb)
    sw = rng.uniform(0.1, 2.0, size=m)
    c = rng.normal(size=m) if extra else None
    compiled, reference = _both_paths(xb, sw, c, intercept)
    # Within 32 eps of each entry's sum of absolute terms: the two add the same terms in a
    # different order, and an entry that cancels (0.05 out of terms of size ~1 over 4,200
    # rows) differs in its 13th digit. The vec is the last column, where c^2 is no sum.
    _, magnitude = _both_paths(np.abs(xb), sw, None if c is None else np.abs(c), intercept)
    bound = 32 * np.finfo(float).eps
    err = np.abs(compiled.gram() - reference.gram())
    assert (err <= bound * magnitude.gram()).all()
    if c is not None:
        err = np.abs(compiled.vec() - reference.vec())
        assert (err <= bound * magnitude.vec()).all()
    g = compiled.gram()
    np.testing.assert_array_equal(g, g.T)


@pytest.mark.parametrize(
    "layout",
    ["F", "C", "reversed columns", "every other row", "every other column"],
    ids=lambda s: s.replace(" ", "-"),
)
def test_layouts_the_compiled_kernel_cannot_read_use_blas(layout: str) -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=(600, 6))
    xb = {
        "F": np.asfortranarray(base),
        "C": base,
        "reversed columns": np.asfortranarray(base)[:, ::-1],
        "every other row": np.asfortranarray(base)[::2],
        "every other column": base[:, ::2],
    }[layout]
    assert gram.compiled_layout(xb) == (layout in ("F", "C"))
    wide = np.zeros((10, 300))
    assert gram.compiled_layout(wide) and gram.compiled_layout(np.asfortranarray(wide))
    assert gram._compiled is not None
    widest = np.zeros((2, gram._compiled.PACKED_MAX_COLS + 1))  # the packed kernel's limit
    assert not gram.compiled_layout(widest)
    assert gram.compiled_layout(np.asfortranarray(widest))  # the tiles read it as it is
    sw = rng.uniform(0.5, 1.5, size=xb.shape[0])
    c = rng.normal(size=xb.shape[0])
    compiled, reference = _both_paths(xb, sw, c, True)
    np.testing.assert_allclose(compiled.gram(), reference.gram(), rtol=RTOL)
    np.testing.assert_allclose(compiled.vec(), reference.vec(), rtol=RTOL)


def test_compiled_kernel_rejects_what_it_cannot_read() -> None:
    wgram = gram._compiled.wgram
    x = np.ones((10, 6))[:, ::2]  # neither layout: columns 16 bytes apart
    g = np.zeros((5, 5), order="F")
    with pytest.raises(ValueError, match="A must be a column-major or row-major float64 block"):
        wgram(x, np.ones(10), np.ones(10), g, True)
    x = np.asfortranarray(x)
    with pytest.raises(ValueError, match="w and u must be float64 vectors of A's length"):
        wgram(x, np.ones(9), np.ones(10), g, True)
    with pytest.raises(ValueError, match=r"G must be a Fortran-ordered float64 \(q, q\) array"):
        wgram(x, np.ones(10), None, g, True)  # q = 4 without the score column
    with pytest.raises(ValueError, match="A must be a 2-D float64 block"):
        wgram(x.astype(np.float32), np.ones(10), None, np.zeros((4, 4), order="F"), True)


def test_compiled_kernel_reads_buffers_with_a_byte_order_prefix() -> None:
    # Arrays rebuilt from bytes (Dask's distributed scheduler, ctypes) can say "<d", not "d".
    import ctypes
    import sys

    rows = (ctypes.c_double * 3 * 10)()
    assert memoryview(rows).format == ("<d" if sys.byteorder == "little" else ">d")
    values = np.ctypeslib.as_array(rows)
    values[:] = np.arange(30.0).reshape(10, 3)
    g = np.zeros((4, 4), order="F")
    gram._compiled.wgram(rows, np.ones(10), None, g, True)
    ones = np.column_stack([np.ones(10), values])
    np.testing.assert_allclose(np.triu(g), np.triu(ones.T @ ones), rtol=RTOL)
    swapped = np.asfortranarray(values).astype(values.dtype.newbyteorder())
    with pytest.raises(ValueError, match="A must be a 2-D float64 block"):
        gram._compiled.wgram(swapped, np.ones(10), None, g, True)


@pytest.mark.parametrize("p", [0, 1, 5, 8, 9, 24, 25, 33, 81])
@pytest.mark.parametrize("m", [1, 9, 130, 2100, 4200])
@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("packed", [0, 1])
def test_each_compiled_gram_kernel_matches_blas(p: int, m: int, order: str, packed: int) -> None:
    """wgram with the narrow tiles (0) or the wide blocks' packed kernel (1) forced.

    Each entry within 32 eps of its sum of absolute terms (the two add the same terms in a
    different order; a sum that cancels to 0.09 out of terms of size ~1 cannot match 1e-13
    absolutely at 4,200 rows).
    """
    rng = np.random.default_rng(p * 100 + m)
    if order == "F":
        xb = np.asfortranarray(rng.normal(size=(m + 9, p)))[4 : 4 + m]
    else:
        xb = rng.normal(size=(m + 9, p + 3))[4 : 4 + m, 1 : 1 + p]
    sw = rng.uniform(0.1, 2.0, size=m)
    c = rng.normal(size=m)
    _, reference = _both_paths(xb, sw, c, True)
    _, magnitude = _both_paths(np.abs(xb), sw, np.abs(c), True)
    assert gram._compiled is not None
    for intercept, u in [(True, sw * c), (False, None)]:
        q = p + int(intercept) + int(u is not None)
        G = np.zeros((q, q), order="F")
        gram._compiled.wgram(xb, sw * sw, u, G, intercept, packed)
        sel = slice(None) if intercept else slice(1, p + 1)
        ref, size = reference.acc[sel, sel], magnitude.acc[sel, sel]
        err = np.abs(np.triu(G) - np.triu(ref))
        if u is not None:
            err[-1, -1] = 0.0  # the score column's own square is not a sum wgram forms
        assert (err <= 32 * np.finfo(float).eps * np.triu(size)).all()


@pytest.mark.parametrize("p", [9, 33, 81])
@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("packed", [0, 1])
def test_compiled_gram_takes_weights_of_either_sign(p: int, order: str, packed: int) -> None:
    """Weights that change sign (an observed information) and zeros, against NumPy.

    The packed kernel forms a chunk's Gram from √W·X when every weight of the chunk is >= 0
    and from W·X and X otherwise: the first 2,048 rows here are >= 0 (some 0), the rest mixed.
    """
    m = 4_200
    rng = np.random.default_rng(p)
    xb = rng.normal(size=(m, p))
    xb = np.asfortranarray(xb) if order == "F" else xb
    w = rng.uniform(0.1, 2.0, size=m)
    w[::7] = 0.0
    w[2_048:] *= rng.choice([-1.0, 1.0], size=m - 2_048)
    u = rng.normal(size=m)
    A = np.column_stack([np.ones(m), xb])
    ref = np.column_stack([A.T @ (A * w[:, None]), A.T @ u])
    size = np.column_stack([np.abs(A).T @ (np.abs(A * w[:, None])), np.abs(A).T @ np.abs(u)])
    G = np.zeros((p + 2, p + 2), order="F")
    assert gram._compiled is not None
    gram._compiled.wgram(xb, w, u, G, True, packed)
    err = np.abs(np.triu(G[: p + 1]) - np.triu(ref))
    assert (err <= 32 * np.finfo(float).eps * np.triu(size)).all()
