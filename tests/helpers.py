"""What several test modules share: seeded simulated data, and calls into the engine.

The executors take the package's matrix types; tests build plain arrays, so the engine calls
wrap them with ``as_matrix`` and look up the executor as the objective does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from newtonglm.design.matrix import as_matrix
from newtonglm.engine import accumulate, dense, executor_for


def pass_sums(X: Any, *args: Any, **kwargs: Any) -> Any:
    M = as_matrix(X)
    return executor_for(M).pass_sums(M, *args, **kwargs)


def hessp(X: Any, work_weights: Any, v: Any) -> Any:
    M = as_matrix(X)
    return executor_for(M).hessp(M, work_weights, v)


def wls_sums(X: Any, work_weights: Any, z: Any) -> Any:
    M = as_matrix(X)
    return executor_for(M).wls_sums(M, work_weights, z)


def start_sums(X: Any, *args: Any) -> Any:
    M = as_matrix(X)
    return executor_for(M).start_sums(M, *args)


def r_factor(X: Any) -> np.ndarray:
    """R of a QR of every row of X."""
    M = as_matrix(X)
    return executor_for(M).r_factor(M, np.ones(M.shape[0]))[0]


@contextmanager
def numpy_rows() -> Iterator[None]:
    """The per-row part by NumPy (no fused compiled pass), the compiled Gram kept."""
    saved = accumulate.fused_code, dense.fused_code
    try:
        accumulate.fused_code = dense.fused_code = lambda family: None  # type: ignore[assignment]
        yield
    finally:
        accumulate.fused_code, dense.fused_code = saved  # type: ignore[assignment]


def simulate(family: str, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Data with two continuous predictors, a 3-level factor, weights and an exposure."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.uniform(-1.0, 1.0, size=n),
            "g": rng.choice(["a", "b", "c"], size=n),
            "w": rng.uniform(0.5, 3.0, size=n),
            "expo": rng.uniform(0.5, 4.0, size=n),
        }
    )
    eta = 0.2 + 0.7 * df["x"] - 0.5 * df["z"] + 0.4 * (df["g"] == "b") - 0.3 * (df["g"] == "c")
    if family == "binomial":
        df["y"] = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta))).astype(float)
    else:
        df["y"] = rng.poisson(np.exp(0.3 * eta) * df["expo"]).astype(float)
    return df
