"""Time one 100,000 x 20 logistic fit: newtonglm vs statsmodels, in the same run.

Prints a markdown table: median of 3 wall times, iterations, passes over X, and the largest
coefficient / SE differences between the two libraries. Run: ``.venv/bin/python
benchmarks/core_fit.py``. Ratios, not absolute times, are the comparable numbers (the machine is
shared).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import statsmodels.api as sm

from newtonglm import LogisticRegression


def simulate(n: int = 100_000, d: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = rng.normal(scale=0.3, size=d)
    y = rng.binomial(1, 1.0 / (1.0 + np.exp(-(0.2 + X @ beta)))).astype(float)
    return X, y


def median_time(fn, repeats: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    X, y = simulate()
    t_ng, model = median_time(lambda: LogisticRegression().fit(X, y))
    exog = sm.add_constant(X)
    t_sm, ref = median_time(lambda: sm.GLM(y, exog, family=sm.families.Binomial()).fit(tol=1e-8))
    params = np.concatenate([[model.intercept_], model.coef_])
    coef_diff = np.max(np.abs(params - ref.params) / np.abs(ref.params))
    se_diff = np.max(np.abs(model.coef_table()["std_err"].to_numpy() - ref.bse) / ref.bse)
    print("| library | median s (3 fits) | iterations | ratio to newtonglm |")
    print("|---|---|---|---|")
    print(f"| newtonglm newton | {t_ng:.3f} | {model.n_iter_} (passes {model.n_passes_}) | 1.00 |")
    print(
        f"| statsmodels GLM IRLS | {t_sm:.3f} | {ref.fit_history['iteration']} | "
        f"{t_sm / t_ng:.2f} |"
    )
    print(
        f"\nmax relative coef difference {coef_diff:.2e}, max relative SE difference {se_diff:.2e}"
    )


if __name__ == "__main__":
    main()
