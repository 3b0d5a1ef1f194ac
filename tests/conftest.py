"""Shared fixtures: statsmodels configured to use formulaic, and both kernel paths."""

from __future__ import annotations

import pytest


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
    from newtonglm.engine import gram

    if request.param == "numpy":
        monkeypatch.setattr(gram, "_compiled", None)
    elif gram.compiled() is None:
        pytest.fail("newtonglm._gram was not built: is there a C compiler? (see setup.py)")
    return request.param
