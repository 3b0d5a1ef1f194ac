"""The command line: summaries, JSON, one-line errors with a non-zero exit, the demo."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from newtonglm import datasets
from newtonglm.cli import main

ROOT = Path(__file__).resolve().parents[1]
INSURANCE = str(ROOT / "datasets" / "insurance.csv")


def test_cli_fit_prints_summary(capsys):
    code = main(
        [
            "fit",
            INSURANCE,
            "--formula",
            "claims ~ C(district) + group + age",
            "--family",
            "poisson",
            "--exposure",
            "holders",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "poisson" in out and "C(district)[T.2]" in out and "Deviance" in out


def test_cli_fit_json_matches_statsmodels(capsys, smf):
    code = main(
        [
            "fit",
            INSURANCE,
            "--formula",
            "claims ~ C(district) + group + age",
            "--family",
            "poisson",
            "--exposure",
            "holders",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    df = datasets.load("insurance")
    ref = smf.glm(
        "claims ~ C(district) + group + age",
        df,
        family=sm.families.Poisson(),
        offset=np.log(df["holders"]),
    ).fit(tol=1e-13)
    for term, row in result["coefficients"].items():
        np.testing.assert_allclose(row["coef"], ref.params[term], rtol=1e-6)
        np.testing.assert_allclose(row["std_err"], ref.bse[term], rtol=1e-6)
    np.testing.assert_allclose(result["deviance"], ref.deviance, rtol=1e-9)
    assert result["converged"] is True and result["family"] == "poisson"


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "trust-region"])
def test_cli_solver_choice_reaches_newton_solution(capsys, solver):
    args = [
        "fit",
        INSURANCE,
        "--formula",
        "claims ~ C(district) + group + age",
        "--family",
        "poisson",
        "--exposure",
        "holders",
        "--json",
    ]
    assert main(args) == 0
    newton = json.loads(capsys.readouterr().out)
    assert main([*args, "--solver", solver]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["solver"] == solver and other["converged"] is True
    for term, row in newton["coefficients"].items():
        np.testing.assert_allclose(
            other["coefficients"][term]["coef"], row["coef"], rtol=1e-6, atol=1e-6 * row["std_err"]
        )


def test_cli_weights_and_offset_columns(tmp_path, capsys):
    df = datasets.load("menarche")
    df["p"] = df["menarche"] / df["total"]
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    code = main(
        [
            "fit",
            str(path),
            "--formula",
            "p ~ age",
            "--family",
            "binomial",
            "--weights",
            "total",
            "--link",
            "probit",
            "--json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["link"] == "probit"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--formula", "claims ~ nope", "--family", "poisson"], "names column(s) ['nope']"),
        (["--formula", "claims ~ age", "--family", "binomial"], "y in [0, 1]"),
        (
            ["--formula", "claims ~ age", "--family", "poisson", "--exposure", "zzz"],
            "--exposure column 'zzz'",
        ),
    ],
)
def test_cli_bad_input_one_line_error(capsys, args, message):
    code = main(["fit", INSURANCE, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("newtonglm: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_missing_file_exits_nonzero_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "newtonglm", "fit", "/nonexistent.csv", "--formula", "y ~ x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("newtonglm: error: cannot read '/nonexistent.csv'")
    assert "Traceback" not in proc.stderr


def test_demo_prints_both_summaries_and_statsmodels_difference(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "LogisticRegression" in out and "PoissonRegression" in out
    assert out.count("vs statsmodels GLM: max |coef difference|") == 2


def test_wheel_ships_datasets(tmp_path):
    """`load()` works from an installed wheel: the build copies datasets/ into the package."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("newtonglm-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in datasets.available():
        assert f"newtonglm/data/{name}.csv" in names
    assert "newtonglm/data/README.md" in names
