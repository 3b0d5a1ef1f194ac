"""Type stub of the compiled Gram kernel (src/newtonglm/_gram.c)."""

import numpy as np
from numpy.typing import NDArray

def wgram(
    A: NDArray[np.float64],
    w: NDArray[np.float64],
    u: NDArray[np.float64] | None,
    G: NDArray[np.float64],
    intercept: bool,
    /,
) -> None: ...
