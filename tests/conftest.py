"""Shared fixtures: seeded simulated data and statsmodels configured to use formulaic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


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


@pytest.fixture(scope="session")
def smf():
    """statsmodels' formula API using formulaic, so term names match newtonglm's."""
    import statsmodels.formula.api as smf
    from statsmodels.formula import options

    options.formula_engine = "formulaic"
    return smf


@pytest.fixture(params=["compiled", "numpy"])
def kernel_path(request, monkeypatch):
    """Run a test with the compiled Gram kernel and again with the NumPy/BLAS fallback."""
    from newtonglm.engine import accumulate

    if request.param == "numpy":
        monkeypatch.setattr(accumulate, "_compiled", None)
    elif accumulate.compiled() is None:
        pytest.fail("newtonglm._gram was not built: is there a C compiler? (see setup.py)")
    return request.param
