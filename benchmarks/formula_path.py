"""Time the formula path against the fit it feeds (issue 4: the formula must not dominate).

1,000,000 rows, five numeric columns and two categoricals (12 and 50 levels), logistic model
``y ~ x1 + ... + x5 + C(region) + C(shop)``. Prints the median of 3 of: the formula build
alone (formulaic model matrix from the DataFrame, missing-value checks, conversion to a float64
matrix), the fit of the resulting arrays without a formula, and the whole formula fit.

Run: ``.venv/bin/python benchmarks/formula_path.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

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
    parts = formula_mod.build(FORMULA, frame)
    X, y = parts.X, parts.y
    build = median_time(lambda: formula_mod.build(FORMULA, frame))
    arrays = median_time(lambda: LogisticRegression(fit_intercept=False).fit(X, y))
    whole = median_time(lambda: LogisticRegression(formula=FORMULA).fit(frame))
    print(f"{args.rows:,} rows, design {X.shape[0]:,} x {X.shape[1]}, formula {FORMULA!r}\n")
    print("| step | median s | ÷ fit of the arrays |")
    print("|---|--:|--:|")
    for label, seconds in (
        ("formula build (formulaic + checks)", build),
        ("fit of the arrays (no formula)", arrays),
        ("formula fit, end to end", whole),
    ):
        print(f"| {label} | {seconds:.3f} | {seconds / arrays:.2f} |")


if __name__ == "__main__":
    main()
