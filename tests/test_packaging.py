"""The installed package as its users meet it: typed, licensed, and honest about its kernel."""

from __future__ import annotations

import subprocess
import sys
import warnings
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

import newtonglm
from newtonglm import PoissonRegression
from newtonglm.analysis import versions as versions_mod
from newtonglm.engine import gram
from newtonglm.exceptions import PerformanceWarning

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_ships_py_typed():
    assert (files("newtonglm") / "py.typed").is_file()


def test_mypy_sees_the_package_as_typed(tmp_path):
    snippet = tmp_path / "use.py"
    snippet.write_text("import newtonglm\nreveal_type(newtonglm.PoissonRegression().fit)\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--python-executable",
            sys.executable,
            str(snippet),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "import-untyped" not in out and "py.typed" not in out, out
    assert "def (X: Any, y: Any =" in out, out


def test_the_license_is_an_spdx_expression_setuptools_takes_without_a_warning():
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "BSD-3-Clause"
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")


def test_show_versions_prints_the_kernel_the_blas_and_every_dependency(capsys):
    newtonglm.show_versions()
    out = capsys.readouterr().out
    assert f"version: {version('newtonglm')}" in out
    assert f"numpy: {np.__version__}" in out
    assert "kernel: compiled" in out or "kernel: fallback" in out
    facts = versions_mod.versions()
    assert facts["compiled_kernel"] is (gram.compiled() is not None)
    assert set(facts["dependencies"]) == set(versions_mod.DEPENDENCIES)
    for info in facts["blas"]:
        assert info["threads"] >= 1 and f"{info['threads']} threads" in out


def test_the_fallback_kernel_warns_once_and_fits_the_same(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    compiled = PoissonRegression().fit(X, y)
    monkeypatch.setattr(gram, "_compiled", None)
    monkeypatch.setattr(gram, "_warned_fallback", False)
    with pytest.warns(
        PerformanceWarning,
        match=r"^newtonglm's compiled kernel \(newtonglm\._gram\) is not installed, so fits use "
        r"the NumPy/BLAS fallback",
    ):
        fallback = PoissonRegression().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        PoissonRegression().fit(X, y)  # once per process
    np.testing.assert_allclose(fallback.coef_, compiled.coef_, rtol=1e-10)
    assert versions_mod.versions()["compiled_kernel"] is False


def test_a_compiled_build_does_not_warn():
    if gram.compiled() is None:
        pytest.skip("this build has no compiled kernel")  # the fallback test covers that case
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        PoissonRegression(fit_intercept=False).fit(np.eye(3), np.array([1.0, 2.0, 3.0]))
