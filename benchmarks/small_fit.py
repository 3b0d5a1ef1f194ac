"""Where the time of a small fit goes, against the benchmark's hardware-limit row (issue 4).

On the benchmark's 10,000 x 10 data (``run.make_data``) this times, interleaved in one
process (median of ``--repeats`` rounds):

- *limit*: newtonglm's iteration count x one NumPy pass as ``run.py``'s limit row makes it at
  this size (one block: eta, w, √w·X into a buffer, ``syrk``; the faster of NumPy's and
  scipy's ``syrk``);
- *fit*: ``LogisticRegression`` / ``PoissonRegression(tol=1e-8).fit(X, y)``, everything;
- *compiled passes*: the part of that fit spent inside the compiled pass (``glm_pass``);
- *lean driver*: a floor for any Python driver of the same kernel: R's start and Newton steps
  calling ``glm_pass`` directly, Cholesky by LAPACK, the standard errors from the final
  information, with no validation, no objects per iteration and no other statistics. It must
  reproduce the fit's coefficients (checked).

and then, from one instrumented series of fits, how the rest of a fit divides between the
start (beside its pass: the rank check, the first solve), the solver's own work around its
passes (evaluations, history, Newton directions), the inference (covariance, null deviance,
likelihood) and everything else (validation of the input, attributes).

Run: ``.venv/bin/python benchmarks/small_fit.py [--family logistic|poisson] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import lapack

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (benchmarks/run.py: the suite's seeded data)
from _worker import limit_blocks  # noqa: E402  (the limit row's pass)

import newtonglm  # noqa: E402
import newtonglm.fitting.fit as fit_module  # noqa: E402
from newtonglm.engine import accumulate  # noqa: E402
from newtonglm.engine import gram as gram_module  # noqa: E402
from newtonglm.solvers import newton  # noqa: E402


def limit_pass(X: np.ndarray, logistic: bool) -> Callable[[], None]:
    """One pass of ``run.py``'s limit row at this size (one block), the faster of NumPy's and
    scipy's syrk."""
    n, p = X.shape
    d = p + 1
    Xf = np.empty((n, d), order="F")
    Xf[:, 0] = 1.0
    Xf[:, 1:] = X
    beta = np.full(d, 0.01)
    buf = np.empty(n * d)

    def one(scipy_syrk: bool) -> None:
        limit_blocks(Xf, beta, logistic, [0], n, buf, scipy_syrk)  # the row's pass, one block

    best = min((True, False), key=lambda s: median_time(lambda: one(s), 200))
    return lambda: one(best)


def lean_driver(X: np.ndarray, y: np.ndarray, code: int, tol: float) -> Callable[[], Any]:
    """R's start and Newton's method (R's stopping rule and the Newton decrement) on the kernel."""
    kernel = gram_module.compiled()
    assert kernel is not None, "the compiled kernel is not built"
    glm_pass = kernel.glm_pass
    d = X.shape[1] + 1
    acc = np.zeros((d + 1, d + 1), order="F")
    gram, score = acc[:d, :d], acc[:d, d]

    def newton_step() -> tuple[np.ndarray, np.ndarray]:
        h = np.triu(gram) + np.triu(gram, 1).T  # the kernel fills the upper triangle
        factor, _ = lapack.dpotrf(h)
        step, _ = lapack.dpotrs(factor, score.copy())
        return factor, step

    def fit() -> tuple[np.ndarray, np.ndarray]:
        acc[:] = 0.0
        glm_pass(X, None, True, None, y, None, code, acc, score, None)  # R's start
        coef = newton_step()[1]
        acc[:] = 0.0
        dev = glm_pass(X, coef, True, None, y, None, code, acc, score, None)[0]
        factor, step = newton_step()
        for _ in range(100):
            coef = coef + step
            acc[:] = 0.0
            new_dev = glm_pass(X, coef, True, None, y, None, code, acc, score, None)[0]
            factor, step = newton_step()
            decrement = float(score @ step)
            change = abs(new_dev - dev) / (abs(new_dev) + 0.1)
            dev = new_dev
            if change < tol and decrement / (abs(dev) + 0.1) < tol**2:
                break
        inv, _ = lapack.dpotri(factor)
        return coef, np.sqrt(np.diag(inv))

    return fit


def median_time(fn: Callable[[], Any], k: int) -> float:
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Timer:
    """Wraps functions to add up their wall time (the instrumented fits)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name)
        self.seconds.setdefault(label, 0.0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0

        setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=run.FAMILIES, action="append")
    parser.add_argument("--repeats", type=int, default=400)
    args = parser.parse_args()
    shape = next(s for s in run.SHAPES if s.key == "10k")
    lines = [
        "| case | iterations (passes) | limit ms | fit ms (× limit) | compiled passes ms "
        "(× limit) | lean driver ms (× limit) | rest of the fit (instrumented): start / solver / "
        "inference / validation and the rest, ms |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for family in args.family or run.FAMILIES:
        X, y = run.make_data(shape, family)
        y = np.asarray(y, dtype=np.float64)
        logistic = family == "logistic"
        Est = newtonglm.LogisticRegression if logistic else newtonglm.PoissonRegression
        model = Est(tol=1e-8).fit(X, y)
        code = accumulate.fused_code(model.family_)
        assert code is not None
        lean = lean_driver(X, y, code, 1e-8)
        coef, se = lean()
        # The lean driver must be the same fit, or its time says nothing.
        assert np.allclose(coef, model.inference_.coef, rtol=1e-9, atol=1e-12)
        assert np.allclose(se, model.inference_.std_err, rtol=1e-9)
        limit = limit_pass(X, logistic)

        def fit(X: np.ndarray = X, y: np.ndarray = y, Est: Any = Est) -> None:
            Est(tol=1e-8).fit(X, y)

        jobs = {"limit": limit, "fit": fit, "lean": lean}
        times: dict[str, list[float]] = {k: [] for k in jobs}
        for _ in range(30):  # warm-up
            for fn in jobs.values():
                fn()
        for _ in range(args.repeats):
            for key, fn in jobs.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        limit_ms = model.n_iter_ * ms["limit"]

        # Instrumented fits: the compiled passes and the parts of the fit around them.
        timer = Timer()
        originals = [
            (gram_module.compiled(), "glm_pass"),
            (fit_module, "prepare"),
            (newton.NewtonSolver, "solve"),
            (fit_module, "compute"),
            (fit_module, "null_deviance"),
        ]
        saved = [(owner, name, getattr(owner, name)) for owner, name in originals]
        labels = ["passes", "start", "solve", "inference", "inference"]
        for (owner, name), label in zip(originals, labels, strict=True):
            timer.wrap(owner, name, label)
        try:
            k = args.repeats
            t0 = time.perf_counter()
            for _ in range(k):
                fit()
            total_ms = 1e3 * (time.perf_counter() - t0) / k
        finally:
            for owner, name, fn in saved:
                setattr(owner, name, fn)
        per_fit = {key: 1e3 * s / k for key, s in timer.seconds.items()}
        # The passes inside prepare (the start) and solve are counted once, under "passes".
        passes_ms = per_fit["passes"]
        start_py = per_fit["start"] - passes_ms / model.n_passes_  # one pass: R's / the start
        solve_py = per_fit["solve"] - passes_ms * (model.n_passes_ - 1) / model.n_passes_
        other = total_ms - per_fit["start"] - per_fit["solve"] - per_fit["inference"]
        lines.append(
            f"| {family}, 10,000 × 10 | {model.n_iter_} ({model.n_passes_}) | {limit_ms:.3f} | "
            f"{ms['fit']:.3f} ({ms['fit'] / limit_ms:.2f}) | {passes_ms:.3f} "
            f"({passes_ms / limit_ms:.2f}) | {ms['lean']:.3f} ({ms['lean'] / limit_ms:.2f}) | "
            f"{start_py:.3f} / {solve_py:.3f} / {per_fit['inference']:.3f} / {other:.3f} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
