"""Regenerate the comparison tables and the plot in docs/solvers.md.

Run: ``.venv/bin/python docs/make_solver_docs.py``. Writes docs/solver_convergence.png and
replaces the text between the ``<!-- table:NAME -->`` / ``<!-- end -->`` markers of
docs/solvers.md with freshly measured tables (times drift on a shared machine; iteration
counts, deviances and coefficient differences do not).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import newtonglm as ng

DOCS = Path(__file__).resolve().parent


def pima_comparison() -> pd.DataFrame:
    df = ng.datasets.load("pima")
    model = ng.LogisticRegression(formula="diabetes ~ npreg + glu + bmi + ped + age")
    return ng.compare_solvers(model, df)


def ill_conditioned_comparison() -> pd.DataFrame:
    """Logistic, n = 2000: two correlated columns (rho = 0.95), one on a 1000x scale."""
    rng = np.random.default_rng(0)
    n = 2000
    z = rng.normal(size=(n, 3))
    x1 = z[:, 0]
    x2 = 0.95 * z[:, 0] + np.sqrt(1 - 0.95**2) * z[:, 1]
    x3 = 1000.0 * z[:, 2]
    X = np.column_stack([x1, x2, x3])
    eta = 0.3 + 0.8 * x1 - 0.5 * x2 + 0.0004 * x3
    y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    return ng.compare_solvers(ng.LogisticRegression(), X, y)


def markdown(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    shown["seconds"] = shown["seconds"].map(lambda s: f"{s:.4f}")
    shown["deviance"] = shown["deviance"].map(lambda d: f"{d:.10f}")
    shown["deviance_gap"] = shown["deviance_gap"].map(lambda d: f"{d:.2e}")
    shown["max_coef_diff"] = shown["max_coef_diff"].map(lambda d: f"{d:.2e}")
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.to_numpy()]
    return "\n".join([header, rule, *rows])


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- table:{name} -->\n).*?(<!-- end -->)", re.S)
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def main() -> None:
    pima = pima_comparison()
    ill = ill_conditioned_comparison()
    fig = ng.plot_convergence(pima, title="pima: diabetes ~ npreg + glu + bmi + ped + age")
    fig.savefig(DOCS / "solver_convergence.png", dpi=110)
    path = DOCS / "solvers.md"
    text = path.read_text()
    text = replace_block(text, "pima", markdown(pima))
    text = replace_block(text, "ill", markdown(ill))
    path.write_text(text)
    print(markdown(pima))
    print()
    print(markdown(ill))


if __name__ == "__main__":
    main()
