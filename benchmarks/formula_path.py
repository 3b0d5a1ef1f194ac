"""Time the formula path against the fit it feeds (issue 4: the formula must not dominate).

1,000,000 rows, five numeric columns and two categoricals (12 and 50 levels), logistic model
``y ~ x1 + ... + x5 + C(region) + C(shop)``. Prints the median of 3 of: the formula build
alone (formulaic model matrix from the DataFrame, missing-value checks, conversion to a float64
matrix), the fit of the resulting arrays without a formula, and the whole formula fit — for
the estimator's default ``sparse="auto"`` (a CSC design here) and for a forced dense design.

Run: ``.venv/bin/python benchmarks/formula_path.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from newtonglm import LogisticRegression
from newtonglm import formula as formula_mod

FORMULA = "y ~ x1 + x2 + x3 + x4 + x5 + C(region) + C(shop)"


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(1, 6)})
    frame["region"] = pd.Categorical(rng.integers(0, 12, size=n).astype(str))
    frame["shop"] = pd.Categorical(rng.integers(0, 50, size=n).astype(str))
    eta = 0.3 * frame["x1"] - 0.2 * frame["x2"] + 0.1 * frame["region"].cat.codes / 12
    frame["y"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return frame


def median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    frame = simulate(args.rows)
    rows = []
    # sparse="auto" is the estimator's default (here it builds CSC: 60 of 66 columns one-hot);
    # sparse=False forces the dense Fortran array.
    for sparse in ("auto", False):
        parts = formula_mod.build(FORMULA, frame, sparse=sparse)
        X, y = parts.X, parts.y
        kind = "sparse CSC" if sp.issparse(X) else "dense"
        build = median_time(lambda sparse=sparse: formula_mod.build(FORMULA, frame, sparse=sparse))
        arrays = median_time(lambda X=X, y=y: LogisticRegression(fit_intercept=False).fit(X, y))
        whole = median_time(
            lambda sparse=sparse: LogisticRegression(formula=FORMULA, sparse=sparse).fit(frame)
        )
        rows.append(
            (f"sparse={sparse!r} ({kind} {X.shape[0]:,} x {X.shape[1]})", build, arrays, whole)
        )
    print(f"{args.rows:,} rows, formula {FORMULA!r}; median of 3 (after a first run)\n")
    print(
        "| design | formula build s | fit of the arrays s | formula fit, end to end s "
        "| build ÷ fit |"
    )
    print("|---|--:|--:|--:|--:|")
    for label, build, arrays, whole in rows:
        print(f"| {label} | {build:.3f} | {arrays:.3f} | {whole:.3f} | {build / arrays:.2f} |")


if __name__ == "__main__":
    main()
