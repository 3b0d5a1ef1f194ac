"""Type stub of the compiled kernel (src/newtonglm/_gram.c): the Gram and the fused GLM pass."""

import numpy as np
from numpy.typing import NDArray

#: Widest block the packed kernel takes by default (wider row-major blocks go to BLAS).
PACKED_MAX_COLS: int

def wgram(
    A: NDArray[np.float64],
    w: NDArray[np.float64],
    u: NDArray[np.float64] | None,
    G: NDArray[np.float64],
    intercept: bool,
    kernel: int = -1,
    /,
) -> None: ...
def glm_rows(
    eta: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64] | None,
    family: int,
    W: NDArray[np.float64],
    U: NDArray[np.float64],
    /,
) -> tuple[float, float, float, float, int]: ...
def glm_pass(
    A: NDArray[np.float64],
    coef: NDArray[np.float64] | None,
    intercept: bool,
    offset: NDArray[np.float64] | None,
    y: NDArray[np.float64],
    w: NDArray[np.float64] | None,
    family: int,
    G: NDArray[np.float64] | None,
    S: NDArray[np.float64] | None,
    wout: NDArray[np.float64] | None,
    kernel: int = -1,
    /,
) -> tuple[float, float, float, float, int]: ...
def nonfinite_rows(A: NDArray[np.float64], out: NDArray[np.bool_], /) -> int: ...
