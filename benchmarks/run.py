"""Benchmark suite: newtonglm against statsmodels, scikit-learn and glum (``make bench``).

Every library fits the same seeded synthetic data to a tight tolerance (``--tol``, 1e-8), each
in a process of its own (``benchmarks/_worker.py``; the data are written once per case to a
temporary directory and loaded by each worker). For every fit the table gives the median wall
time of ``--repeats`` fits, the iterations, the peak memory above the loaded data and the
deviance difference to the best fit, with every deviance computed here from the returned
coefficients by one formula, so that no library wins by stopping early. A "hardware limit" row
is newtonglm's iteration count times the time of one blocked pass over X (η = Xβ, w(η), √w·X,
``syrk``), measured in the same run.

Usage::

    python benchmarks/run.py                      # full run, writes benchmarks/results.md
    python benchmarks/run.py --quick              # the two smallest shapes, prints only
    python benchmarks/run.py --only newtonglm --only statsmodels --shape 1m --family logistic
    python benchmarks/run.py --profile --only newtonglm-newton --shape 1m

Checks: every newtonglm fit must match statsmodels' coefficients to 1e-6 relative (absolute
1e-6 × SE for coefficients near zero) and the best deviance to 1e-10 relative; a ``FAIL`` line
is printed, and the exit status is 1, when one does not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import special

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
DEFAULT_OUTPUT = HERE / "results.md"
SEED = 20240604
COEF_RTOL = 1e-6
DEVIANCE_RTOL = 1e-10
#: A fit's note says "machine busy" when other processes kept more cores than this busy.
BUSY_CORES = 0.25


# -- what is run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One data shape: ``n`` rows, ``n_dense`` normal columns and ``n_onehot`` dummies."""

    key: str
    n: int
    n_dense: int
    n_onehot: int = 0
    sparse: bool = False

    @property
    def d(self) -> int:
        return self.n_dense + self.n_onehot

    @property
    def label(self) -> str:
        text = f"{self.n:,} × {self.d}"
        if self.n_onehot:
            text += f" ({self.n_onehot} one-hot)"
        return text + (", scipy.sparse CSR" if self.sparse else "")


SHAPES = (
    Shape("10k", 10_000, 10),
    Shape("100k", 100_000, 14, 6),
    Shape("1m", 1_000_000, 20),
    Shape("200k", 200_000, 200),
    Shape("sparse", 1_000_000, 5, 1000, sparse=True),
)
QUICK = ("10k", "100k")
FAMILIES = ("logistic", "poisson")


@dataclass(frozen=True)
class Lib:
    """One library and solver: ``key`` is what ``--only`` matches (``lib`` or ``lib-solver``)."""

    lib: str
    solver: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.lib}-{self.solver}"


LIBS = (
    Lib("newtonglm", "newton", "newtonglm newton"),
    Lib("newtonglm", "lbfgs", "newtonglm lbfgs"),
    Lib("statsmodels", "irls", "statsmodels GLM IRLS"),
    Lib("sklearn", "newton-cholesky", "scikit-learn newton-cholesky"),
    Lib("sklearn", "lbfgs", "scikit-learn lbfgs"),
    Lib("glum", "irls-cd", "glum irls-cd"),
    Lib("glum", "lbfgs", "glum lbfgs"),
)
REFERENCE = "statsmodels-irls"
NEWTON = "newtonglm-newton"


@dataclass
class Row:
    """One line of a case's table."""

    lib: Lib
    status: str = "ok"
    message: str = ""
    result: dict = field(default_factory=dict)
    deviance: float = math.nan

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def seconds(self) -> float:
        return float(self.result.get("median_s", math.nan))


# -- data ----------------------------------------------------------------------------------------


def make_data(shape: Shape, family: str) -> tuple[Any, np.ndarray]:
    """Seeded synthetic data: linear predictor with variance about 1 (logistic) or 1/4 (Poisson).

    Dummies come from one categorical column (reference level dropped): 7 levels with unequal
    frequencies, or 1,001 equally likely levels for the sparse case.
    """
    rng = np.random.default_rng([SEED, SHAPES.index(shape), FAMILIES.index(family)])
    n = shape.n
    scale = 1.0 if family == "logistic" else 0.5
    X_dense = rng.standard_normal((n, shape.n_dense))
    beta = rng.normal(0.0, scale / math.sqrt(shape.n_dense), shape.n_dense)
    eta = X_dense @ beta + (-0.5 if family == "logistic" else 0.3)
    onehot = None
    if shape.n_onehot:
        levels = shape.n_onehot + 1
        if levels <= 10:
            probs = np.linspace(2.0, 1.0, levels)
            probs /= probs.sum()
            codes = rng.choice(levels, size=n, p=probs)
        else:
            codes = rng.integers(0, levels, size=n)
        effects = np.r_[0.0, rng.normal(0.0, scale * 0.5, shape.n_onehot)]
        eta += effects[codes]
        rows = np.flatnonzero(codes > 0)
        onehot = sp.csr_matrix(
            (np.ones(rows.size), (rows, codes[rows] - 1)), shape=(n, shape.n_onehot)
        )
    if family == "logistic":
        y = (rng.random(n) < special.expit(eta)).astype(np.float64)
    else:
        y = rng.poisson(np.exp(eta)).astype(np.float64)
    if onehot is None:
        return X_dense, y
    if shape.sparse:
        return sp.hstack([sp.csr_matrix(X_dense), onehot], format="csr"), y
    return np.hstack([X_dense, onehot.toarray()]), y


def nbytes(X: Any) -> int:
    if sp.issparse(X):
        return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
    return int(X.nbytes)


def deviance(X: Any, y: np.ndarray, coef: list[float], family: str) -> float:
    """Deviance of [intercept, *coef] on (X, y), one formula for every library.

    Logistic: D = 2 Σ (log(1 + e^η) − y η); Poisson: D = 2 Σ (y log(y/μ) − (y − μ)), μ = e^η.
    Every term is ≥ 0 and the sum is exact (``math.fsum``), so differences of 1e-12 show.
    """
    c = np.asarray(coef, dtype=np.float64)
    if c.shape != (X.shape[1] + 1,) or not np.isfinite(c).all():
        return math.nan
    eta = np.asarray(X @ c[1:]).ravel() + c[0]
    with np.errstate(over="ignore"):
        if family == "logistic":
            unit = np.logaddexp(0.0, eta) - y * eta
        else:
            unit = special.xlogy(y, y) - y * eta - (y - np.exp(eta))
    return 2.0 * math.fsum(unit)


# -- running the workers -----------------------------------------------------------------------


def run_job(spec: dict, workdir: Path, timeout: float) -> dict:
    """Run one worker process on ``spec``; return its JSON result (or an error record)."""
    name = f"{spec['kind']}-{spec.get('lib', '')}-{spec.get('solver', '')}"
    spec_path = workdir / f"{name}.json"
    out_path = workdir / f"{name}.out.json"
    out_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps({**spec, "out": str(out_path)}))
    try:
        proc = subprocess.run(
            [sys.executable, str(WORKER), str(spec_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "message": f"timed out after {timeout:.0f} s"}
    if not out_path.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"status": "error", "message": f"worker exit {proc.returncode}: {tail[0][:200]}"}
    return json.loads(out_path.read_text())


def available(lib: str) -> bool:
    module = {"sklearn": "sklearn"}.get(lib, lib)
    return importlib.util.find_spec(module) is not None


def newtonglm_solvers() -> set[str] | str:
    """Names in ``newtonglm.solvers.SOLVERS`` now, or the import error as a string."""
    try:
        from newtonglm.solvers import SOLVERS
    except Exception as exc:  # noqa: BLE001 - reported, the other libraries still run
        return f"{type(exc).__name__}: {exc}"
    return set(SOLVERS)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_case(
    shape: Shape, family: str, libs: list[Lib], args: argparse.Namespace, ng_solvers: Any
) -> tuple[list[Row], dict | None, int]:
    """Write one case's data, run every library and the limit pass on it, compute deviances."""
    t0 = time.perf_counter()
    X, y = make_data(shape, family)
    x_bytes = nbytes(X)
    workdir = Path(tempfile.mkdtemp(prefix=f"nglm-bench-{shape.key}-{family}-"))
    try:
        if sp.issparse(X):
            sp.save_npz(workdir / "X.npz", X, compressed=False)
        else:
            np.save(workdir / "X.npy", X)
        np.save(workdir / "y.npy", y)
        took = time.perf_counter() - t0
        log(f"[{shape.key} {family}] data {x_bytes / 2**20:.0f} MiB made in {took:.1f} s")
        base = {"data_dir": str(workdir), "family": family, "sparse": shape.sparse}
        rows: list[Row] = []
        for lib in libs:
            row = Row(lib)
            if not available(lib.lib):
                row.status, row.message = "missing", "not installed (pip install -e '.[bench]')"
            elif lib.lib == "newtonglm" and isinstance(ng_solvers, str):
                row.status, row.message = "error", f"import failed: {ng_solvers}"
            elif lib.lib == "newtonglm" and lib.solver not in ng_solvers:
                row.status, row.message = "missing", "solver not in newtonglm.solvers.SOLVERS"
            elif lib.lib == "statsmodels" and shape.sparse:
                row.status, row.message = "unsupported", "not supported (dense arrays only)"
            else:
                spec = {
                    **base,
                    "kind": "fit",
                    "lib": lib.lib,
                    "solver": lib.solver,
                    "tol": args.tol,
                    "repeats": args.repeats,
                    "budget_s": args.budget,
                    "profile": args.profile and lib.lib == "newtonglm",
                }
                res = run_job(spec, workdir, args.timeout)
                for _ in range(args.retries):
                    if res.get("status") != "ok" or (res.get("other_cores") or 0) <= BUSY_CORES:
                        break
                    log(f"[{shape.key} {family}] {lib.label}: machine busy, retrying")
                    time.sleep(10)
                    again = run_job(spec, workdir, args.timeout)
                    if again.get("status") == "ok" and again["other_cores"] < res["other_cores"]:
                        res = again
                row.status = res.get("status", "error")
                row.message = res.get("message", "")
                row.result = res
                if row.ok:
                    row.deviance = deviance(X, y, res["coef"], family)
            log(
                f"[{shape.key} {family}] {lib.label:30s} {row.status:11s} "
                + (
                    f"{row.seconds:9.4f} s  iter {row.result.get('n_iter')}"
                    if row.ok
                    else row.message
                )
            )
            rows.append(row)
        limit = None
        if not shape.sparse:
            limit = run_job({**base, "kind": "limit"}, workdir, args.timeout)
            log(f"[{shape.key} {family}] limit pass {limit.get('pass_s', math.nan) * 1e3:.2f} ms")
        return rows, limit, x_bytes
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- checks and report ---------------------------------------------------------------------------


def check_case(case: str, rows: list[Row], best: float) -> list[str]:
    """FAIL lines for the newtonglm fits of one case (empty when all pass)."""
    by_key = {r.lib.key: r for r in rows}
    ref = by_key.get(REFERENCE)
    fails = []
    for row in rows:
        if row.lib.lib != "newtonglm" or row.status in ("missing", "unsupported"):
            continue
        name = f"{case}, {row.lib.label}"
        if not row.ok:
            fails.append(f"FAIL {name}: {row.status}: {row.message}")
            continue
        rel_dev = (row.deviance - best) / best
        if not rel_dev <= DEVIANCE_RTOL:
            fails.append(
                f"FAIL {name}: deviance {row.deviance:.12g} is {rel_dev:.2e} above the best "
                f"({best:.12g}); allowed {DEVIANCE_RTOL:g} relative"
            )
        if ref is None or not ref.ok:
            continue
        c, c_ref = np.asarray(row.result["coef"]), np.asarray(ref.result["coef"])
        se = np.asarray(ref.result["se"])
        excess = np.abs(c - c_ref) / (COEF_RTOL * (np.abs(c_ref) + se))
        if not (excess <= 1.0).all():
            j = int(np.argmax(excess))
            rel = abs(c[j] - c_ref[j]) / abs(c_ref[j])
            fails.append(
                f"FAIL {name}: coefficient {j} is {c[j]:.10g}, statsmodels {c_ref[j]:.10g} "
                f"(relative difference {rel:.2e}, SE {se[j]:.3g}); allowed {COEF_RTOL:g} "
                "relative or 1e-6 SE"
            )
    return fails


def fmt(x: float, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def case_table(
    rows: list[Row], limit: dict | None, x_bytes: int, repeats: int
) -> tuple[list[str], dict]:
    """Markdown lines of one case's table and the numbers the summary needs."""
    by_key = {r.lib.key: r for r in rows}
    devs = [r.deviance for r in rows if r.ok and math.isfinite(r.deviance)]
    best = min(devs) if devs else math.nan
    ref = by_key.get(REFERENCE)
    t_ref = ref.seconds if ref is not None and ref.ok else math.nan
    ng = by_key.get(NEWTON)
    limit_s = math.nan
    if limit is not None and limit.get("status") == "ok" and ng is not None and ng.ok:
        limit_s = ng.result["n_iter"] * limit["pass_s"]
    lines = [
        "| library | median s | min s | fits | iterations | peak extra MiB | × X | "
        "deviance − best (relative) | × statsmodels | × limit | note |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        if not r.ok:
            lines.append(f"| {r.lib.label} |{' – |' * 9} {r.message} |")
            continue
        res = r.result
        fits = len(res["times"])
        fits_txt = f"{fits}" + (" (capped)" if res.get("capped") else "")
        iters = f"{res['n_iter']}"
        if res.get("n_passes", -1) > 0:
            iters += f" ({res['n_passes']} passes)"
        peak = res["peak_bytes"]
        rel = (r.deviance - best) / best if math.isfinite(best) else math.nan
        rel_txt = "0" if rel == 0 else f"{rel:.1e}"
        notes = []
        if res.get("converged") is False:
            notes.append("did not converge")
        if (res.get("other_cores") or 0.0) > BUSY_CORES:
            notes.append(f"machine busy: other processes used {res['other_cores']:.1f} cores")
        lines.append(
            f"| {r.lib.label} | {fmt(r.seconds, 4)} | {fmt(res['min_s'], 4)} | {fits_txt} | "
            f"{iters} | "
            f"{fmt(peak / 2**20)} | {fmt(peak / x_bytes, 2)} | {rel_txt} | "
            f"{fmt(r.seconds / t_ref)} | {fmt(r.seconds / limit_s)} | {'; '.join(notes)} |"
        )
    if limit is not None:
        if limit.get("status") == "ok" and math.isfinite(limit_s):
            lines.append(
                f"| hardware limit | {fmt(limit_s, 4)} | – | – | {ng.result['n_iter']} |"
                f"{' – |' * 3} {fmt(limit_s / t_ref)} | 1 | newtonglm's iterations × one pass "
                f"{limit['pass_s'] * 1e3:.2f} ms ({limit['best_variant']}); "
                f"one read of X (X @ β) {limit['read_s'] * 1e3:.2f} ms |"
            )
        else:
            lines.append(
                f"| hardware limit |{' – |' * 9} "
                f"{limit.get('message', 'needs a newtonglm newton fit')} |"
            )
    summary = {"best": best, "t_ref": t_ref, "limit_s": limit_s, "by_key": by_key}
    return lines, summary


def summary_table(cases: list[tuple[str, dict, int]]) -> list[str]:
    """Per case: newtonglm newton's time as a ratio to each reference, and its memory."""
    lines = [
        "| case | newtonglm newton s | ÷ statsmodels | ÷ sklearn newton-cholesky | "
        "÷ sklearn lbfgs | ÷ glum irls-cd | ÷ limit | peak extra MiB (× X) | check |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for case, s, x_bytes in cases:
        by_key = s["by_key"]
        ng = by_key.get(NEWTON)
        if ng is None:
            continue
        if not ng.ok:
            lines.append(f"| {case} | {ng.message} | | | | | | | |")
            continue

        def ratio(key: str, ng: Row = ng, by_key: dict = by_key) -> str:
            other = by_key.get(key)
            return fmt(ng.seconds / other.seconds) if other is not None and other.ok else "–"

        peak = ng.result["peak_bytes"]
        lines.append(
            f"| {case} | {fmt(ng.seconds, 4)} | {ratio('statsmodels-irls')} | "
            f"{ratio('sklearn-newton-cholesky')} | {ratio('sklearn-lbfgs')} | "
            f"{ratio('glum-irls-cd')} | {fmt(ng.seconds / s['limit_s'])} | "
            f"{fmt(peak / 2**20)} ({fmt(peak / x_bytes, 2)}) | {s['check']} |"
        )
    return lines


def machine_info() -> list[str]:
    import scipy.linalg  # noqa: F401 - loads scipy's BLAS so threadpoolctl lists it

    cpu = "unknown"
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                flags = ", ".join(f for f in ("avx2", "fma", "avx512f") if f in have)
    except OSError:
        pass
    try:
        physical = __import__("psutil").cpu_count(logical=False)
    except Exception:  # noqa: BLE001 - psutil is optional here
        physical = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = math.nan
    lines = [
        f"- Date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- CPU: {cpu} ({flags or 'flags unknown'}); {os.cpu_count()} logical cores"
        + (f", {physical} physical" if physical else "")
        + f"; {mem:.0f} GiB memory",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
    ]
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") != "blas":
                continue
            owner = (
                "numpy"
                if "numpy" in info["filepath"]
                else "scipy"
                if "scipy" in (info["filepath"])
                else Path(info["filepath"]).name
            )
            lines.append(
                f"- BLAS ({owner}): {info.get('internal_api')} {info.get('version')}, "
                f"kernel {info.get('architecture')}, {info.get('num_threads')} threads"
            )
    except ImportError:
        lines.append("- BLAS: threadpoolctl not installed")
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    env = ", ".join(f"{k}={os.environ[k]!r}" if k in os.environ else f"{k} unset" for k in names)
    lines.append(f"- Environment (left as found): {env}")
    versions = []
    for dist in ("newtonglm", "numpy", "scipy", "scikit-learn", "statsmodels", "glum", "tabmat"):
        try:
            from importlib.metadata import version

            versions.append(f"{dist} {version(dist)}")
        except Exception:  # noqa: BLE001 - not installed
            versions.append(f"{dist} not installed")
    lines.append("- Versions: " + ", ".join(versions))
    try:
        repo = HERE.parent
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        note = " with uncommitted changes in src/" if dirty else ""
        lines.append(f"- newtonglm source: commit {head}{note}")
    except (OSError, subprocess.CalledProcessError):
        pass
    return lines


METHOD = """\
How to read it: every library fits the same seeded data (X without an intercept column; each
library adds its own intercept, inside the timed fit) in a process of its own, to tolerance
{tol:g} where it has one: newtonglm `tol` (R's relative deviance change plus the Newton
decrement), statsmodels `GLM.fit(tol=...)` (IRLS, absolute deviance change), scikit-learn `tol`
with `C=inf` / `alpha=0` and `max_iter=10000`, glum `gradient_tol` with `alpha=0`. *median s*:
median wall time of `fit` over the fits made (at most {repeats}; *capped* means fewer, because
another fit would have taken the library's time on that case past {budget:g} s), after one
untimed warm-up fit on the first 1,000 rows and one metered fit (below) on all of them; the
timed fits run back to back, as the limit row's passes do, and the metered fit counts as one of
them only when it took at least 1 s; *min s*: the fastest of them. *peak extra MiB*: peak
resident memory during the metered fit above the resident memory just before it, with the data
already loaded (garbage collected and the kernel's peak counter `VmHWM` reset through
`/proc/self/clear_refs` before it; the collection also evicts X from the caches, which is why
that fit is not timed when it is short); *× X* divides it by the size of X. *deviance − best*:
every deviance is computed by this script from the library's coefficients, D = 2 Σ (log(1 +
e^η) − yη) or 2 Σ (y log(y/μ) − (y − μ)), relative to the smallest in the case. *×
statsmodels*, *× limit*: median time divided by statsmodels' and by the hardware limit row.
*machine busy*: other processes kept more than {busy:g} cores busy during the timed fits (from
/proc/stat), even after {retries} retr{retries_s}; those times are less reliable. *hardware
limit*: newtonglm newton's iteration count × the median time of one blocked pass over an
intercept-augmented, Fortran-ordered copy of X (η = Xβ, w(η), √w·X into a reused block buffer,
BLAS `dsyrk`; the fastest of 2, 8 and 32 MiB blocks, scipy's or NumPy's BLAS, one thread or the
blocks split over every CPU with single-threaded BLAS in each), measured in the same run.
Sparse case: CSR for newtonglm (taken as it is; its one-off split into 5 dense and 1,000 sparse
columns is inside the timed fit) and scikit-learn, CSC for glum (converted before the timer);
statsmodels takes dense arrays only, so it is not run on it rather than densifying 1,000,000 ×
1,005 (8 GB)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="only the two smallest shapes")
    p.add_argument(
        "--shape",
        action="append",
        choices=[s.key for s in SHAPES],
        help="run only these shapes (repeatable)",
    )
    p.add_argument("--family", action="append", choices=FAMILIES, help="only these families")
    p.add_argument(
        "--only",
        action="append",
        metavar="LIB",
        help="only these libraries: newtonglm, statsmodels, sklearn, glum, or LIB-SOLVER "
        "such as glum-lbfgs (repeatable)",
    )
    p.add_argument("--repeats", type=int, default=3, help="fits per library and case (median)")
    p.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds per library and case: no further fit once another would exceed it",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per worker process")
    p.add_argument(
        "--retries",
        type=int,
        default=1,
        help="rerun a library's fits this many times when other processes kept the machine busy",
    )
    p.add_argument("--tol", type=float, default=1e-8, help="tolerance passed to every library")
    p.add_argument("--profile", action="store_true", help="cProfile one extra newtonglm fit")
    p.add_argument(
        "--output",
        type=Path,
        help=f"markdown file to write (default: {DEFAULT_OUTPUT.name} for a full run, "
        "none for --quick or filtered runs)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    shapes = [s for s in SHAPES if (not args.quick or s.key in QUICK)]
    if args.shape:
        shapes = [s for s in shapes if s.key in args.shape]
    families = [f for f in FAMILIES if not args.family or f in args.family]
    libs = [lib for lib in LIBS if not args.only or {lib.lib, lib.key} & set(args.only)]
    ng_solvers = newtonglm_solvers()
    filtered = bool(args.quick or args.shape or args.family or args.only)
    output = args.output if args.output is not None else (None if filtered else DEFAULT_OUTPUT)

    out = ["# newtonglm benchmarks", "", *machine_info(), ""]
    method = METHOD.format(
        tol=args.tol,
        repeats=args.repeats,
        budget=args.budget,
        busy=BUSY_CORES,
        retries=args.retries,
        retries_s="y" if args.retries == 1 else "ies",
    )
    out += [method, ""]
    sections: list[str] = []
    cases: list[tuple[str, dict, int]] = []
    fails: list[str] = []
    profiles: list[str] = []
    for shape in shapes:
        for family in families:
            case = f"{family}, {shape.label}"
            rows, limit, x_bytes = run_case(shape, family, libs, args, ng_solvers)
            lines, summary = case_table(rows, limit, x_bytes, args.repeats)
            case_fails = check_case(case, rows, summary["best"])
            if any(r.lib.lib == "newtonglm" and r.ok for r in rows):
                summary["check"] = "FAIL" if case_fails else "pass"
                if REFERENCE not in summary["by_key"] or not summary["by_key"][REFERENCE].ok:
                    summary["check"] += " (deviance only: no statsmodels fit)"
            else:
                summary["check"] = "FAIL" if case_fails else "–"
            fails += case_fails
            cases.append((case, summary, x_bytes))
            size = f"X {x_bytes / 2**20:,.0f} MiB"
            sections += [f"### {case} ({size})", "", *lines, ""]
            sections += [f"- {f}" for f in case_fails] + ([""] if case_fails else [])
            for r in rows:
                if r.ok and r.result.get("profile"):
                    profiles += [f"### {case}: {r.lib.label}", "", "```", r.result["profile"]]
                    profiles += ["```", ""]
    if any(NEWTON in s["by_key"] for _, s, _ in cases):
        out += ["## newtonglm newton against the others", ""]
        out += ["Ratios of newtonglm newton's median time to each library's (below 1: faster)."]
        out += ["", *summary_table(cases), ""]
    out += ["## Per case", "", *sections]
    if profiles:
        out += ["## Profiles (cProfile, one extra fit, sorted by own time)", "", *profiles]
    out.append(f"Total run time {time.perf_counter() - started:.0f} s.")
    text = "\n".join(out) + "\n"
    print(text)
    for line in fails:
        print(line)
    if output is not None:
        output.write_text(text)
        log(f"wrote {output}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
