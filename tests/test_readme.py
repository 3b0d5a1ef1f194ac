"""The README's quick start runs, prints what the README says, and every number is right.

"Right" is recomputed here without newtonglm: statsmodels fits on each training fold and
scikit-learn's metrics on the held-out rows, with the same folds.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from sklearn.metrics import d2_tweedie_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from newtonglm import datasets

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
CODE, OUTPUT = (
    re.search(r"```python\n(.*?)```", SECTION, re.S).group(1),  # type: ignore[union-attr]
    re.search(r"```text\n(.*?)```", SECTION, re.S).group(1),  # type: ignore[union-attr]
)


def _run_quick_start() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(CODE, "README.md", "exec"), {})
    return out.getvalue()


def _fmt(values) -> str:
    return str(np.round(np.asarray(values), 4))


def _expected_output() -> str:
    pima = datasets.load("pima")
    aucs = []
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in cv.split(pima, pima["diabetes"]):
        res = smf.glm(
            "diabetes ~ glu + bmi + ped + age", pima.iloc[train], family=sm.families.Binomial()
        ).fit(tol=1e-13)
        aucs.append(roc_auc_score(pima["diabetes"].iloc[test], res.predict(pima.iloc[test])))

    ins = datasets.load("insurance")

    def rate_fit(rows: pd.DataFrame):
        return smf.glm(
            "claims ~ C(district) + group + age",
            rows,
            family=sm.families.Poisson(),
            offset=np.log(rows["holders"]),
        ).fit(tol=1e-13)

    def mean(res, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(res.predict(rows, offset=np.log(rows["holders"])))

    full = rate_fit(ins)
    d2 = d2_tweedie_score(ins["claims"], mean(full, ins), power=1)
    folds = []
    for train, test in KFold(4, shuffle=True, random_state=0).split(ins):
        res = rate_fit(ins.iloc[train])
        folds.append(d2_tweedie_score(ins["claims"].iloc[test], mean(res, ins.iloc[test]), power=1))
    lines = [
        f"ROC AUC by fold: {_fmt(aucs)}",
        f"D² = {d2:.4f}",
        str(mean(full, ins.head(3)).round(2)),
        f"D² by fold: {_fmt(folds)}",
    ]
    return "\n".join(lines) + "\n"


def test_quick_start_prints_what_the_readme_shows():
    assert _run_quick_start() == OUTPUT


def test_quick_start_numbers_are_statsmodels_and_sklearn_metrics_by_hand():
    assert OUTPUT == _expected_output()
