"""The command line: summaries, JSON, one-line errors with a non-zero exit, the demo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from newtonglm import PoissonRegression, datasets
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


INSURANCE_ARGS = [
    "fit",
    INSURANCE,
    "--formula",
    "claims ~ C(district) + group + age",
    "--family",
    "poisson",
    "--exposure",
    "holders",
]


def insurance_reference(smf, **fit_kwargs):
    df = datasets.load("insurance")
    model = smf.glm(
        "claims ~ C(district) + group + age",
        df,
        family=sm.families.Poisson(),
        offset=np.log(df["holders"]),
    )
    return model.fit(tol=1e-13, **fit_kwargs)


@pytest.mark.parametrize(
    "flags,sm_kwargs,label",
    [
        ([], {}, "nonrobust (expected information)"),
        (["--cov-type", "HC0"], {"cov_type": "HC0"}, "HC0 sandwich (expected information bread)"),
        (
            ["--cov-type", "cluster", "--groups", "district"],
            {"cov_type": "cluster", "cov_kwds": {"groups": "district"}},
            "cluster-robust, 4 clusters (expected information bread)",
        ),
        (["--scale", "X2"], {"scale": "X2"}, "nonrobust (expected information)"),
        (["--scale", "dev"], {"scale": "dev"}, "nonrobust (expected information)"),
    ],
    ids=["nonrobust", "HC0", "cluster", "X2", "dev"],
)
def test_cli_covariance_and_scale_match_statsmodels(capsys, smf, flags, sm_kwargs, label):
    assert main([*INSURANCE_ARGS, *flags, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    if "cov_kwds" in sm_kwargs:
        district = datasets.load("insurance")["district"]
        sm_kwargs = {**sm_kwargs, "cov_kwds": {"groups": district.to_numpy()}}
    ref = insurance_reference(smf, **sm_kwargs)
    assert result["cov_type"] == sm_kwargs.get("cov_type", "nonrobust")
    assert result["covariance"] == label
    assert result["scale_method"] == sm_kwargs.get("scale", "fixed")
    np.testing.assert_allclose(result["scale"], ref.scale, rtol=1e-6)
    for term, row in result["coefficients"].items():
        np.testing.assert_allclose(row["std_err"], ref.bse[term], rtol=1e-6)
    assert main([*INSURANCE_ARGS, *flags]) == 0
    out = capsys.readouterr().out
    assert f"Covariance: {label}" in " ".join(out.split())


@pytest.mark.parametrize("cov_type", ["HC1", "HC2", "HC3"])
def test_cli_hc_types_equal_the_estimator(capsys, cov_type):
    assert main([*INSURANCE_ARGS, "--cov-type", cov_type, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    df = datasets.load("insurance")
    model = PoissonRegression(formula="claims ~ C(district) + group + age", cov_type=cov_type)
    table = model.fit(df, offset=np.log(df["holders"])).coef_table()
    assert result["cov_type"] == cov_type
    for term, row in result["coefficients"].items():
        assert row["std_err"] == table.loc[term, "std_err"]


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--cov-type", "cluster"], "--cov-type cluster needs --groups COL"),
        (["--groups", "district"], "--groups is used only with --cov-type cluster"),
        (["--cov-type", "cluster", "--groups", "nope"], "groups='nope' names no column"),
    ],
)
def test_cli_groups_errors_are_one_line(capsys, flags, message):
    assert main([*INSURANCE_ARGS, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newtonglm: error: ") and message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--cov-type HC4", "--scale pearson"])
def test_cli_rejects_unknown_covariance_choices(capsys, flag):
    with pytest.raises(SystemExit) as exc:
        main([*INSURANCE_ARGS, *flag.split()])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


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


# -- malformed CSV files: a non-zero exit and one line in our words, never a traceback --------

MALFORMED = {
    "wrong delimiter": (b"y;x\n1;2\n0;3\n", r"is it separated by ';'\? Pass --sep ';'"),
    "not UTF-8": (b"y,x\n1,2\n0,\xff3\n", r"is not utf-8 text: byte 0xff at offset 10"),
    "empty file": (b"", r"is empty: it needs a header row"),
    "only a header": (b"y,x\n", r"has a header row but no data rows"),
    "ragged rows": (b"y,x\n1,2,5\n0\n1,3\n", r"line 2 has 3 fields but the header has 2"),
    "text in a numeric column": (
        b"y,x\n1,2\n0,abc\n1,3\n0,1\n",
        r"column 'x' is numeric but line 3 holds 'abc' \(1 such cells\)",
    ),
    "a formula column missing": (b"y,z\n1,2\n0,3\n", r"names column\(s\) \['x'\] that are not"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_cli_malformed_csv_is_one_line_and_exit_2(name, tmp_path):
    content, message = MALFORMED[name]
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "newtonglm", "fit", str(path), "--formula", "y ~ x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newtonglm: error: ")
    assert "Traceback" not in proc.stderr
    assert re.search(message, lines[0]), lines[0]


def test_cli_missing_drop_reads_stray_text_as_missing_and_counts_it(tmp_path, capsys):
    path = tmp_path / "data.csv"
    rows = ["y,x"] + [f"{i % 2},{(i * 7) % 5 - 2 + 0.5 * (i % 3)}" for i in range(40)]
    rows[5] = "0,abc"
    path.write_text("\n".join(rows) + "\n")
    code = main(["fit", str(path), "--formula", "y ~ x", "--missing", "drop", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert "1 cells of numeric columns held text and were read as missing" in captured.err
    result = json.loads(captured.out)
    assert result["n_dropped"] == 1 and result["n_obs"] == 39
    assert "x" in result["coefficients"] and "x[T.abc]" not in result["coefficients"]


def test_cli_reads_standard_input_and_another_delimiter(tmp_path):
    rows = ["y;x"] + [f"{i % 2};{(i * 7) % 5 - 2 + 0.5 * (i % 3)}" for i in range(40)]
    proc = subprocess.run(
        [sys.executable, "-m", "newtonglm", "fit", "-", "--sep", ";", "--formula", "y ~ x"],
        input="\n".join(rows) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "binomial/logit" in proc.stdout
