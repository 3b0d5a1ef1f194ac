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
        (["--cov-type", "cluster", "--groups", "nope"], "--groups column 'nope' is not in"),
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
    "a field too large for csv": (
        b'y,x\n0,1\n1,"' + b"a" * 200_000 + b'"\n',
        r"line 3 cannot be read as CSV with delimiter ',': field larger than field limit",
    ),
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
    assert captured.err == (
        "newtonglm: warning: --missing drop: column 'x' is numeric but 1 cell held text "
        "(first 'abc' at line 6); read as missing.\n"
    )
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


# -- helpers for the hand-written CSV files below ---------------------------------------------


def write_csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run_cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


SEPARATED = "y,x\n0,1\n0,2\n0,3\n1,4\n1,5\n1,6\n"
SEPARATED_MESSAGE = (
    "the data are (quasi-)completely separated by column(s) ['x'] (5 rows fitted at "
    "probability 0 or 1: lines 2, 3, 5, 6, 7): the maximum-likelihood estimate does not exist "
    "and the reported coefficients and standard errors are meaningless. Remove or merge those "
    "columns, or use penalised (Firth) regression."
)
COUNTS = "y,x\n1,0.5\n0,1.0\n2,1.5\n1,2.0\n4,2.5\n3,3.0\n6,3.5\n5,4.0\n"


# -- item 4: text in a numeric column, named with its value and CSV line ------------------------


def test_cli_text_in_numeric_column_names_column_value_and_line(tmp_path, capsys):
    path = write_csv(tmp_path, "y,x\n0,1.5\n1,2.5\n0,abc\n1,0.5\n")
    code, out, err = run_cli(capsys, "fit", path, "--formula", "y ~ x")
    assert code == 2 and out == ""
    assert err == (
        "newtonglm: error: column 'x' is numeric but line 4 holds 'abc' (1 such cells); "
        "correct it, or pass --missing drop to treat such cells as missing.\n"
    )


def test_cli_text_cell_line_counts_quoted_line_breaks_and_blank_lines(tmp_path, capsys):
    # Line 2-3: one record whose quoted field spans two lines; line 4 blank; 'abc' on line 5.
    text = 'y,x,note\n0,1,"two\nlines"\n\n1,abc,c\n0,2,d\n1,3,e\n'
    path = write_csv(tmp_path, text)
    code, _, err = run_cli(capsys, "fit", path, "--formula", "y ~ x")
    assert code == 2
    assert err.startswith("newtonglm: error: column 'x' is numeric but line 5 holds 'abc' ")
    ragged = write_csv(tmp_path, 'y,x,note\n0,1,"two\nlines"\n1,2\n', "ragged.csv")
    code, _, err = run_cli(capsys, "fit", ragged, "--formula", "y ~ x")
    assert code == 2
    assert err == (
        f"newtonglm: error: {ragged!r} line 4 has 2 fields but the header has 3; every row "
        "needs one value per column (empty for missing).\n"
    )


def test_cli_missing_drop_counts_text_cells_and_keeps_column_numeric(tmp_path, capsys):
    text = 'y,x,note\n0,1,"two\nlines"\n\n1,abc,c\n0,2,d\n1,3,e\n0,2.5,f\n1,1.5,g\n'
    path = write_csv(tmp_path, text)
    code, out, err = run_cli(
        capsys, "fit", path, "--formula", "y ~ x", "--missing", "drop", "--json"
    )
    assert code == 0
    message = (
        "--missing drop: column 'x' is numeric but 1 cell held text (first 'abc' at line 5); "
        "read as missing."
    )
    assert err == f"newtonglm: warning: {message}\n"
    result = json.loads(out)
    assert list(result["coefficients"]) == ["Intercept", "x"]  # x is not one-hot encoded
    assert result["n_dropped"] == 1 and result["n_obs"] == 5
    assert result["warnings"] == [{"category": "DataWarning", "message": message}]


@pytest.mark.parametrize(
    "content,flags,message",
    [
        (b"y,x,x\n0,1,2\n1,2,3\n", [], r"names column\(s\) \['x'\] more than once"),
        (b"y,x\n0,1\n1,2\n", ["--sep", ";;"], r"--sep ';;' is not one character"),
        (b"y\tx\n0\t1\n1\t2\n", [], r"is it separated by '\\t'\? Pass --sep tab\."),
    ],
    ids=["repeated column", "long delimiter", "tab-separated"],
)
def test_cli_header_and_delimiter_errors_are_one_line(tmp_path, capsys, content, flags, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    code, _, err = run_cli(capsys, "fit", str(path), "--formula", "y ~ x", *flags)
    assert code == 2 and err.count("\n") == 1
    assert re.search(message, err), err


def test_cli_reads_a_byte_order_mark_and_tab_from_standard_input(tmp_path):
    rows = ["y\tx"] + [f"{i % 2}\t{(i * 7) % 5 - 2 + 0.5 * (i % 3)}" for i in range(40)]
    proc = subprocess.run(
        [sys.executable, "-m", "newtonglm", "fit", "-", "--sep", "tab", "--formula", "y ~ x"],
        input=("\ufeff" + "\n".join(rows) + "\n").encode("utf-8"),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"binomial/logit" in proc.stdout


# -- item 13: the library's messages in the command line's words --------------------------------


@pytest.mark.parametrize(
    "text,flags,message",
    [
        (
            "y,x\n0,1\n,2\n1,3\n0,4\n1,5\n",
            [],
            "data contains NaN, None or inf in 1 of 5 rows, in columns 'y' (1 rows). Clean "
            "them, or pass --missing drop to drop those rows.",
        ),
        (
            "y,x,z\n0,1,2\n1,2,4\n0,3,6\n1,4,8\n1,2,4\n0,5,10\n",
            ["--formula", "y ~ x + z"],
            "the design matrix is rank deficient (rank 2 < 3 columns, 6 rows): column(s) ['z'] "
            "are linear combinations of earlier columns. Remove them, or pass "
            "--on-rank-deficient drop to drop them as R does.",
        ),
        (
            "y,x,hours\n1,1,2\n2,2,0\n1,3,1\n4,4,-1\n",
            ["--family", "poisson", "--exposure", "hours"],
            "--exposure 'hours' must be > 0; 2 of 4 values are not (first at line 3); drop "
            "those rows or pass --offset COL instead.",
        ),
        (
            "y,x,w\n0,1,1\n1,2,1\n0,3,-2\n1,4,1\n0,2,1\n",
            ["--weights", "w"],
            "--weights 'w' must be >= 0; 1 of 5 weights are negative (first at line 4).",
        ),
        (
            "y,x\n0,1\n1,2\n",
            ["--family", "binomial", "--separation", "drop"],
            "--separation drop applies to Poisson fits (counts of 0 fitted at mean 0); for a "
            "separated binomial fit use --separation warn and remove or merge the columns.",
        ),
    ],
    ids=["NaN in y", "rank deficient", "exposure <= 0", "negative weights", "separation drop"],
)
def test_cli_library_errors_speak_flags_and_lines(tmp_path, capsys, text, flags, message):
    path = write_csv(tmp_path, text)
    args = ["fit", path, *flags] + ([] if "--formula" in flags else ["--formula", "y ~ x"])
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert err == f"newtonglm: error: {message}\n"


def test_cli_poisson_non_integer_counts_warning_speaks_flags_and_lines(tmp_path, capsys):
    path = write_csv(tmp_path, "y,x\n1,1\n2,2\n1.5,3\n4,4\n3,5\n")
    code, out, err = run_cli(
        capsys, "fit", path, "--formula", "y ~ x", "--family", "poisson", "--json"
    )
    message = (
        "--family poisson with non-integer response: 1 values of 'y' are not whole numbers "
        "(first at line 4); the coefficients are the quasi-likelihood ones, but the "
        "log-likelihood, AIC and BIC are not a likelihood's. For rates use an offset or "
        "exposure; otherwise --scale X2 (quasi-Poisson) for the standard errors."
    )
    assert code == 0
    assert err == f"newtonglm: warning: {message}\n"
    assert json.loads(out)["warnings"] == [{"category": "DataWarning", "message": message}]


def test_cli_rank_deficient_drop_warns_in_cli_words(tmp_path, capsys):
    path = write_csv(tmp_path, "y,x,z\n0,1,2\n1,2,4\n0,3,6\n1,4,8\n1,2,4\n0,5,10\n")
    args = ["fit", path, "--formula", "y ~ x + z", "--on-rank-deficient", "drop", "--json"]
    code, out, err = run_cli(capsys, *args)
    message = (
        "column(s) ['z'] are aliased (linear combinations of earlier columns) and were "
        "dropped; their coefficients and standard errors are NaN."
    )
    assert code == 0 and err == f"newtonglm: warning: {message}\n"
    result = json.loads(out)
    assert result["warnings"] == [{"category": "RankDeficientWarning", "message": message}]
    assert result["coefficients"]["z"]["coef"] is None


def test_cli_poisson_separation_rows_are_lines_and_flag_drops_them(tmp_path, capsys):
    path = write_csv(tmp_path, "y,g\n0,a\n0,a\n1,b\n3,b\n2,c\n4,c\n")
    args = ["fit", path, "--formula", "y ~ C(g)", "--family", "poisson", "--json"]
    code, out, err = run_cli(capsys, *args)
    assert code == 3
    assert err == (
        "newtonglm: warning: the Poisson maximum-likelihood estimate does not exist: 2 rows "
        "with count 0 (lines 2, 3) can be fitted with mean 0 along column(s) ['C(g)[T.b]', "
        "'C(g)[T.c]'], whose coefficients go to -inf; the reported coefficients and standard "
        "errors of those columns are meaningless. Pass --separation drop to drop those rows "
        "and the coefficients only they identify (as pyfixest and ppmlhdfe do), or merge or "
        "remove the columns.\n"
    )
    code, out, err = run_cli(capsys, *args, "--separation", "drop")
    assert code == 0
    assert err == (
        "newtonglm: warning: --separation drop dropped 2 rows with count 0 that columns "
        "['C(g)[T.b]', 'C(g)[T.c]'] fit at mean 0 (lines 2, 3); coefficients only they "
        "identified are NaN.\n"
    )
    assert json.loads(out)["warnings"][0]["category"] == "PoissonSeparationWarning"


def test_cli_summary_notes_speak_lines(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "fit", write_csv(tmp_path, SEPARATED), "--formula", "y ~ x")
    assert code == 3
    assert f"Note: {SEPARATED_MESSAGE}" in out and "rows 0, 1" not in out


@pytest.mark.parametrize(
    "message,expected",
    [
        (
            "newton solver did not converge: reached max_iter after 1 iterations (tol=1e-08). "
            "Increase max_iter, loosen tol, or try another solver.",
            "newton solver did not converge: reached --max-iter after 1 iterations (--tol "
            "1e-08). Increase --max-iter, loosen --tol, or try another solver.",
        ),
        (
            "input holds NaN in 'sample_weight' (2 rows), 'offset' (1 rows); pass missing='drop'",
            "input holds NaN in 'n' (2 rows), 'hours' (1 rows); pass --missing drop",
        ),
        (
            "proportions with sample_weight = trials (first at row 0); groups has no label in "
            "rows [3, 7]; Use a smaller learning_rate (solver='gd'); (cov_type/scale)",
            "proportions with --weights 'n' = trials (first at line 2); --groups 'firm' has no "
            "label in lines [5, 9]; Use a smaller --learning-rate (--solver gd); "
            "(--cov-type/--scale)",
        ),
        (
            "column 'tol' at row 3 of 'row 5', \"it's row 1\", scale='X2', a likelihood's row 1",
            "column 'tol' at line 5 of 'row 5', \"it's row 1\", --scale X2, a likelihood's line 3",
        ),
        (
            "formula='y ~ C(g)' names column(s) ['g'] that are not in the data",
            "--formula 'y ~ C(g)' names column(s) ['g'] that are not in the data",
        ),
    ],
    ids=["convergence", "column roles", "params and rows", "quoted text untouched", "formula"],
)
def test_cli_translate_rewrites_parameters_and_rows_only(message, expected):
    from newtonglm.cli_messages import Context, translate

    ctx = Context(weights="n", exposure="hours", groups="firm")
    assert translate(message, ctx) == expected
    assert translate(expected, ctx) == expected  # already in the command line's words


def test_cli_translate_uses_the_lines_of_the_file():
    from newtonglm.cli_messages import Context, translate

    ctx = Context(lines=(2, 4, 7))
    translated = translate("rows 0, 1, 2, 3 (first at row 2)", ctx)
    assert translated == "lines 2, 4, 7, 5 (first at line 7)"


# -- item 14: flags, exit status, JSON ----------------------------------------------------------


def test_cli_version_prints_name_and_version(capsys):
    import newtonglm

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"newtonglm {newtonglm.__version__}\n"


def test_cli_help_documents_exit_status(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "exit status:\n  0  the fit converged (or --allow-warnings was given)\n" in out
    assert "  2  bad input or usage" in out and "  3  the fit did not converge" in out


def test_cli_separated_binomial_exits_3_unless_allow_warnings(tmp_path, capsys):
    path = write_csv(tmp_path, SEPARATED)
    code, out, err = run_cli(capsys, "fit", path, "--formula", "y ~ x", "--json")
    assert code == 3
    assert err == f"newtonglm: warning: {SEPARATED_MESSAGE}\n"
    result = json.loads(out)
    assert result["converged"] is False
    assert result["warnings"] == [
        {"category": "PerfectSeparationWarning", "message": SEPARATED_MESSAGE}
    ]
    code, out, err = run_cli(capsys, "fit", path, "--formula", "y ~ x", "--allow-warnings")
    assert code == 0 and "Converged:" in out and err == f"newtonglm: warning: {SEPARATED_MESSAGE}\n"


def test_cli_max_iter_exits_3_with_stop_reason(tmp_path, capsys):
    path = write_csv(tmp_path, COUNTS)
    args = ["fit", path, "--formula", "y ~ x", "--family", "poisson", "--json"]
    code, out, err = run_cli(capsys, *args, "--max-iter", "1", "--tol", "1e-10")
    assert code == 3
    message = (
        "newton solver did not converge: reached --max-iter after 1 iterations (--tol 1e-10). "
        "Increase --max-iter, loosen --tol, or try another solver; check the data for extreme "
        "values."
    )
    assert err == f"newtonglm: warning: {message}\n"
    result = json.loads(out)
    assert result["stop_reason"] == "reached max_iter"
    assert result["n_iter"] == 1 and result["converged"] is False
    assert result["warnings"] == [{"category": "ConvergenceWarning", "message": message}]


def test_cli_clean_fit_has_no_warnings_and_exits_0(tmp_path, capsys):
    path = write_csv(tmp_path, COUNTS)
    code, out, err = run_cli(
        capsys, "fit", path, "--formula", "y ~ x", "--family", "poisson", "--json"
    )
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["warnings"] == [] and result["converged"] is True
    assert result["stop_reason"] == "relative deviance change (and Newton decrement) below tol"
    assert 1 <= result["n_iter"] <= 10


def test_cli_passes_the_exposure_column_to_the_model(tmp_path, capsys, monkeypatch):
    import newtonglm.cli as cli

    seen = {}
    fit = cli.GLM.fit

    def spy(self, X, y=None, **kwargs):
        seen.update(kwargs)
        return fit(self, X, y, **kwargs)

    monkeypatch.setattr(cli.GLM, "fit", spy)
    path = write_csv(tmp_path, "y,x,t\n1,0.5,2\n0,1.0,1\n2,1.5,3\n1,2.0,1\n4,2.5,2\n3,3.0,2\n")
    code, out, _ = run_cli(
        capsys, "fit", path, "--formula", "y ~ x", "--family", "poisson", "--exposure", "t"
    )
    assert code == 0 and seen["exposure"] == "t" and seen["offset"] is None


def test_cli_scale_takes_a_number(tmp_path, capsys):
    path = write_csv(tmp_path, COUNTS)
    args = ["fit", path, "--formula", "y ~ x", "--family", "poisson", "--json", "--scale", "2"]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    result = json.loads(out)
    assert result["scale"] == 2.0 and result["scale_method"] == "given"
