"""One benchmark job in a process of its own: ``python benchmarks/_worker.py SPEC.json``.

``benchmarks/run.py`` writes the data of a case once (``X.npy`` or ``X.npz`` and ``y.npy``) and
starts this script once per library, solver and case, so that no library shares a heap, a BLAS
thread pool or an import side effect with another, and so that the memory a fit needs can be
read off the process alone. The job is described by a JSON file; the result is written as JSON
to the path it names.

Memory: the library is imported and the data loaded first; then, before each fit, the kernel's
peak-RSS counter is reset (``echo 5 > /proc/self/clear_refs`` resets ``VmHWM`` to the current
RSS) and the current RSS recorded; after the fit, ``VmHWM - RSS before`` is the fit's peak extra
memory. Where ``clear_refs`` cannot be written, ``ru_maxrss`` (a process-lifetime peak) minus
the RSS after loading is used instead, which is the same number as long as loading the data
did not peak above the loaded size (``np.load`` reads straight into the array).

Job kinds: ``fit`` (one library, one solver) and ``limit`` (the time of one blocked pass
η = Xβ, w(η), √w·X, ``syrk`` — the BLAS work every IRLS iteration must do).
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import pstats
import resource
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import blas

# -- memory --------------------------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMeter:
    """Peak RSS above the RSS at :meth:`start`, in bytes."""

    def __init__(self) -> None:
        self.method = "VmHWM after clear_refs" if _reset_peak() else "ru_maxrss"
        self._base_kb = 0

    def start(self) -> None:
        gc.collect()
        if self.method.startswith("VmHWM"):
            _reset_peak()
        self._base_kb = _status_kb("VmRSS") or 0

    def stop(self) -> int:
        if self.method.startswith("VmHWM"):
            peak_kb = _status_kb("VmHWM") or 0
        else:
            peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(0, peak_kb - self._base_kb) * 1024


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (from /proc/stat)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- data ------------------------------------------------------------------------------------


def load_data(data_dir: Path) -> tuple[Any, np.ndarray]:
    y = np.load(data_dir / "y.npy")
    if (data_dir / "X.npz").exists():
        import scipy.sparse as sp

        return sp.load_npz(data_dir / "X.npz").tocsr(), y
    return np.load(data_dir / "X.npy"), y


# -- one fitter per library ------------------------------------------------------------------
# Each returns (prepare, fit, extract): prepare(X) runs before the timer (a format choice a user
# makes once, e.g. CSC for glum), fit(X, y) is timed, extract(model) -> dict after the timer.

#: Shortest window (seconds) over which the load of other processes is estimated.
BUSY_WINDOW_S = 1.0
#: A metered fit at least this long (seconds) also counts as a timed one.
METERED_TIMED_S = 1.0
#: Rows of the untimed warm-up fit made before the timed ones.
WARMUP_ROWS = 1_000

Fitter = tuple[Callable[[Any], Any], Callable[[Any, np.ndarray], Any], Callable[[Any], dict]]


def _identity(X: Any) -> Any:
    return X


def fitter_newtonglm(family: str, solver: str, tol: float) -> Fitter:
    # scipy.sparse X is taken as it is (CSR here; CSC works as well, and no format is
    # converted before the timer: the split into dense and sparse columns is part of the fit).
    import newtonglm

    def fit(X: Any, y: np.ndarray) -> Any:
        if family == "logistic":
            est = newtonglm.LogisticRegression(solver=solver, tol=tol)
        else:
            est = newtonglm.PoissonRegression(solver=solver, tol=tol)
        return est.fit(X, y)

    def extract(m: Any) -> dict:
        return {
            "coef": [float(m.intercept_), *map(float, m.coef_)],
            "n_iter": int(m.n_iter_),
            "n_passes": int(getattr(m, "n_passes_", -1)),
            "converged": bool(m.converged_),
        }

    return _identity, fit, extract


def fitter_statsmodels(family: str, solver: str, tol: float) -> Fitter:
    import statsmodels.api as sm

    fam = sm.families.Binomial() if family == "logistic" else sm.families.Poisson()

    def fit(X: Any, y: np.ndarray) -> Any:
        exog = sm.add_constant(X, has_constant="add")
        return sm.GLM(y, exog, family=fam).fit(method="IRLS", tol=tol, maxiter=100)

    def extract(r: Any) -> dict:
        return {
            "coef": [float(v) for v in r.params],
            "se": [float(v) for v in r.bse],
            "n_iter": int(r.fit_history["iteration"]),
            "converged": bool(r.converged),
        }

    return _identity, fit, extract


def fitter_sklearn(family: str, solver: str, tol: float) -> Fitter:
    from sklearn.linear_model import LogisticRegression, PoissonRegressor

    def fit(X: Any, y: np.ndarray) -> Any:
        if family == "logistic":
            # C=inf is no penalty (``penalty=None`` is deprecated from scikit-learn 1.8 on).
            est = LogisticRegression(C=np.inf, solver=solver, tol=tol, max_iter=10_000)
        else:
            est = PoissonRegressor(alpha=0.0, solver=solver, tol=tol, max_iter=10_000)
        return est.fit(X, y)

    def extract(m: Any) -> dict:
        intercept = np.ravel(m.intercept_)[0]
        return {
            "coef": [float(intercept), *map(float, np.ravel(m.coef_))],
            "n_iter": int(np.max(m.n_iter_)),
        }

    return _identity, fit, extract


def fitter_glum(family: str, solver: str, tol: float) -> Fitter:
    import glum

    def prepare(X: Any) -> Any:
        # glum works on CSC (tabmat.SparseMatrix); convert once, outside the timed fit.
        return X.tocsc() if hasattr(X, "tocsc") else X

    def fit(X: Any, y: np.ndarray) -> Any:
        est = glum.GeneralizedLinearRegressor(
            family="binomial" if family == "logistic" else "poisson",
            alpha=0.0,
            solver=solver,
            gradient_tol=tol,
            max_iter=10_000,
        )
        return est.fit(X, y)

    def extract(m: Any) -> dict:
        return {
            "coef": [float(m.intercept_), *map(float, np.ravel(m.coef_))],
            "n_iter": int(m.n_iter_),
        }

    return prepare, fit, extract


#: Modules imported before the data are loaded, so their own memory is not counted.
IMPORTS = {"statsmodels": "statsmodels.api", "sklearn": "sklearn.linear_model", "glum": "glum"}

FITTERS = {
    "newtonglm": fitter_newtonglm,
    "statsmodels": fitter_statsmodels,
    "sklearn": fitter_sklearn,
    "glum": fitter_glum,
}


def newtonglm_accepts_sparse(family: str) -> str | None:
    """None if newtonglm fits a small scipy.sparse design, else the reason it does not."""
    import scipy.sparse as sp

    import newtonglm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (rng.random(200) < 0.5).astype(float)
    est = newtonglm.LogisticRegression() if family == "logistic" else newtonglm.PoissonRegression()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(sp.csr_matrix(X), y)
    except Exception as exc:  # noqa: BLE001 - any failure means "not supported"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return None


def run_fit(spec: dict, X: Any, y: np.ndarray, meter: PeakMeter) -> dict:
    prepare, fit, extract = FITTERS[spec["lib"]](spec["family"], spec["solver"], spec["tol"])
    X = prepare(X)
    times: list[float] = []
    info: dict = {}
    budget = spec["budget_s"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # One untimed fit on a few rows: lazy imports, thread pools and caches are then warm,
        # so the timed fits measure the fitting, not the first call in a process. It is kept
        # small so that the heap it leaves behind does not hide the memory a real fit needs.
        try:
            fit(X[:WARMUP_ROWS], y[:WARMUP_ROWS])
        except Exception:  # noqa: BLE001 - e.g. too few rows for 1,000 dummies; only a warm-up
            pass
        # Memory from a fit of its own: the meter collects garbage before it, which also
        # evicts X from the caches (~1 ms more for a 10,000-row fit of any library). The
        # timed fits then run back to back, as the limit row's passes do; the metered fit's
        # time counts as one of them only when it is long enough for that not to matter.
        meter.start()
        t0 = time.perf_counter()
        model = fit(X, y)
        metered_s = time.perf_counter() - t0
        peak = meter.stop()
        info = extract(model)
        del model
        if metered_s >= METERED_TIMED_S:
            times.append(metered_s)
        busy0, own0, wall0 = _busy_seconds(), _own_seconds(), time.perf_counter()
        # Another fit would take about as long as the last one: none that breaks the budget.
        while len(times) < spec["repeats"] and (not times or sum(times) + times[-1] <= budget):
            t0 = time.perf_counter()
            model = fit(X, y)
            times.append(time.perf_counter() - t0)
            info = extract(model)
            del model
        # /proc/stat counts in clock ticks (10 ms): a window shorter than a second is padded
        # with an idle wait, so the estimate measures the machine, not the tick rounding.
        time.sleep(max(0.0, BUSY_WINDOW_S - (time.perf_counter() - wall0)))
        busy1, own1, wall1 = _busy_seconds(), _own_seconds(), time.perf_counter()
        # Cores kept busy by other processes while this one fitted: a noisy-machine indicator.
        other_cores = (
            None
            if busy0 is None or busy1 is None
            else max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
        )
        if spec.get("profile"):
            prof = cProfile.Profile()
            prof.enable()
            fit(X, y)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            info["profile"] = out.getvalue()
    return {
        **info,
        "times": times,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "other_cores": other_cores,
        "peak_bytes": peak,
        "capped": len(times) < spec["repeats"],
    }


# -- the hardware-limit pass ------------------------------------------------------------------


def limit_blocks(
    Xf: np.ndarray,
    beta: np.ndarray,
    logistic: bool,
    starts: list[int],
    rows: int,
    buf: np.ndarray,
    scipy_syrk: bool,
) -> np.ndarray:
    """The limit row's work on the row blocks of ``Xf`` from ``starts``: η, w(η), √w·X, syrk.

    ``Xf`` is the Fortran-ordered X with its intercept column; ``buf`` holds ``rows`` scaled rows.
    """
    d = Xf.shape[1]
    gram = np.zeros((d, d), order="F")
    for start in starts:
        xb = Xf[start : start + rows]
        m = xb.shape[0]
        eta = xb @ beta
        if logistic:
            mu = 1.0 / (1.0 + np.exp(-eta))
            w = mu * (1.0 - mu)
        else:
            w = np.exp(eta)
        scaled = buf[: m * d].reshape((m, d), order="F")
        np.multiply(xb, np.sqrt(w)[:, None], out=scaled)
        if scipy_syrk:
            gram = blas.dsyrk(1.0, scaled, beta=1.0, c=gram, trans=1, overwrite_c=1)
        else:
            gram += scaled.T @ scaled
    return gram


def run_limit(spec: dict, X: np.ndarray) -> dict:
    """Time one blocked pass η = Xβ, w(η), √w·X, syrk over X with an intercept column.

    X gets its intercept column and Fortran order before the clock starts (a floor, not a
    library). The pass reuses one Fortran-ordered block buffer per thread. Taken: the fastest
    of a few block sizes, of scipy's and NumPy's BLAS ``syrk``, and of one thread or the row
    blocks split over every CPU (each thread with single-threaded BLAS, as newtonglm's kernel
    does), each the median of several passes. Also timed: one plain read of X (X @ β).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    n, p = X.shape
    Xf = np.empty((n, p + 1), order="F")
    Xf[:, 0] = 1.0
    Xf[:, 1:] = X
    del X
    gc.collect()
    d = p + 1
    beta = np.full(d, 0.01)
    logistic = spec["family"] == "logistic"
    cpus = len(os.sched_getaffinity(0))
    pool = ThreadPoolExecutor(max(cpus - 1, 1))

    def blocks(starts: list[int], rows: int, buf: np.ndarray, scipy_syrk: bool) -> np.ndarray:
        return limit_blocks(Xf, beta, logistic, starts, rows, buf, scipy_syrk)

    def one_pass(rows: int, bufs: list[np.ndarray], scipy_syrk: bool) -> None:
        starts = list(range(0, n, rows))
        k = len(bufs)
        if k == 1:
            blocks(starts, rows, bufs[0], scipy_syrk)
            return
        parts = [starts[len(starts) * i // k : len(starts) * (i + 1) // k] for i in range(k)]
        with threadpool_limits(1, user_api="blas"):
            futures = [
                pool.submit(blocks, part, rows, buf, scipy_syrk)
                for part, buf in zip(parts[1:], bufs[1:], strict=True)
            ]
            blocks(parts[0], rows, bufs[0], scipy_syrk)
            for f in futures:
                f.result()

    def timed(fn: Callable[[], Any], k: int) -> float:
        out = []
        for _ in range(k):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return statistics.median(out)

    # Passes per variant: 7 (5 for the largest X), and on small data enough for ~0.1 s, so a
    # pass of a few tenths of a millisecond (10,000 x 10) is not the median of a handful.
    k = 7 if n * d <= 50_000_000 else 5
    k = max(k, min(200, 12_500_000 // max(n * d, 1)))
    by_variant = {}
    for block_mib in (2, 8, 32):
        rows = max(1024, min(n, block_mib * 2**20 // (8 * d)))
        for threads in sorted({1, cpus}):
            if threads > 1 and n < 2 * threads * rows:
                continue
            bufs = [np.empty(rows * d) for _ in range(threads)]
            for scipy_syrk in (True, False):

                def run(rows: int = rows, bufs: list = bufs, scipy_syrk: bool = scipy_syrk) -> None:
                    one_pass(rows, bufs, scipy_syrk)

                run()  # warm-up: thread pools, page faults of the buffers
                name = (
                    f"{block_mib} MiB blocks, {'scipy' if scipy_syrk else 'NumPy'} syrk, "
                    f"{threads} thread{'s' if threads > 1 else ''}"
                )
                by_variant[name] = timed(run, k)
    pool.shutdown()
    best = min(by_variant, key=by_variant.__getitem__)
    read_s = timed(lambda: Xf @ beta, k)
    return {
        "pass_s": by_variant[best],
        "pass_by_variant": by_variant,
        "best_variant": best,
        "read_s": read_s,
        "x_bytes": int(Xf.nbytes),
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    out_path = Path(spec["out"])
    result: dict = {"status": "ok"}
    try:
        if spec["kind"] == "fit":
            if spec["lib"] == "newtonglm":
                import newtonglm  # noqa: F401 - imported before the memory baseline

                if spec["sparse"]:
                    reason = newtonglm_accepts_sparse(spec["family"])
                    if reason is not None:
                        message = f"not supported yet: {reason}"
                        result = {"status": "unsupported", "message": message}
                        out_path.write_text(json.dumps(result))
                        return
            else:
                __import__(IMPORTS[spec["lib"]])  # before the memory baseline
            meter = PeakMeter()
            X, y = load_data(Path(spec["data_dir"]))
            result.update(run_fit(spec, X, y, meter))
            result["memory_method"] = meter.method
        else:
            X, _ = load_data(Path(spec["data_dir"]))
            result.update(run_limit(spec, X))
    except Exception as exc:  # noqa: BLE001 - reported in the table, never hidden
        result = {
            "status": "error",
            "message": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[
                :200
            ],
            "traceback": traceback.format_exc(),
        }
    result["pid"] = os.getpid()
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
