"""Scale benchmark (issue 6): fit from Parquet through Dask, rows beyond the machine's memory.

Writes (once; ``benchmarks/dask_data.py``) a seeded Parquet dataset of ``--rows`` rows × 20
columns, then, reading it with ``dask.dataframe.read_parquet`` every pass:

* the time of one full read-and-multiply pass — read the Parquet files, build the formula's
  design matrix for each partition and compute X·β — the floor an iteration cannot beat;
* a logistic and a Poisson fit with the formula ``y ~ x1 + ... + x16 + C(g1) + C(g2)`` (30
  coefficients): total wall time, passes over the data, iterations, time per pass and per
  iteration, and the peak resident memory of the process (and of each worker with
  ``--workers``);
* dask-glm's ``newton`` on the same design matrix (built by the same spec), where it runs.

Usage::

    python benchmarks/dask_scale.py --rows 2e6                  # quick check
    nohup python benchmarks/dask_scale.py --rows 1e8 > log &    # the issue's 100M rows

Prints a Markdown table (and writes it to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dask_data import write  # noqa: E402

import newtonglm  # noqa: E402
from newtonglm import LogisticRegression, PoissonRegression, dask_backend  # noqa: E402

RHS = " + ".join(f"x{j}" for j in range(1, 17)) + " + C(g1) + C(g2)"


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _worker_peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def read(paths: list[Path]) -> Any:
    """The dataset as a Dask DataFrame, one partition per Parquet file (row group)."""
    return dd.read_parquet([str(p) for p in paths])


def _design_times_beta(frame: pd.DataFrame, spec: Any, beta: np.ndarray) -> float:
    # The design blocks exactly as a fit builds them (same spec, same block size).
    recipe = dask_backend._Recipe(spec, None, "y_bin", None, None, None)
    return float(
        sum((xb @ beta).sum() for xb, *_ in dask_backend._FrameChunk(frame, recipe).blocks(None))
    )


def read_multiply_pass(ddf: Any, spec: Any) -> float:
    """Seconds for one pass: read every partition, build its design matrix, X·β."""
    beta = np.full(len(spec.column_names), 0.01)
    start = time.perf_counter()
    parts = [dask.delayed(_design_times_beta)(p, spec, beta) for p in ddf.to_delayed()]
    dask.compute(sum(parts) if len(parts) < 2 else dask.delayed(sum)(parts))
    return time.perf_counter() - start


def fit(kind: str, ddf: Any) -> dict[str, Any]:
    """One newtonglm fit; returns its row of the table."""
    if kind == "logistic":
        model: Any = LogisticRegression(formula=f"y_bin ~ {RHS}")
    else:
        model = PoissonRegression(formula=f"y_count ~ {RHS}")
    start = time.perf_counter()
    model.fit(ddf)
    total = time.perf_counter() - start
    # history "seconds" is the time since the solver started: per iteration is its increment.
    iter_seconds = float(model.history_["seconds"].diff().iloc[1:].mean())
    return {
        "model": model,
        "peak_gb": peak_rss_gb(),
        "total_s": total,
        "iterations": int(model.n_iter_),
        "passes": int(model.n_passes_) + 2,  # + the levels pass and the validation pass
        "s_per_pass": total / (model.n_passes_ + 2),
        "s_per_iter": iter_seconds,
        "deviance": float(model.deviance_),
    }


def dask_glm_fit(kind: str, ddf: Any, spec: Any, lengths: list[int]) -> dict[str, Any]:
    """dask-glm's Newton solver on the same design matrix (Parquet read every iteration)."""
    from dask_glm.algorithms import newton
    from dask_glm.families import Logistic, Poisson

    response = "y_bin" if kind == "logistic" else "y_count"
    p = len(spec.column_names)
    recipe = dask_backend._Recipe(spec, None, response, None, None, None)

    def design(frame: pd.DataFrame, which: int) -> np.ndarray:
        blocks = list(dask_backend._FrameChunk(frame, recipe).blocks(None))
        return np.concatenate([b[which] for b in blocks])

    # The same design matrix, as Dask arrays with one chunk per partition (dask-glm's input).
    parts = ddf.to_delayed()
    X = da.concatenate(
        [
            da.from_delayed(dask.delayed(design)(f, 0), shape=(n, p), dtype=np.float64)
            for f, n in zip(parts, lengths, strict=True)
        ]
    )
    y = da.concatenate(
        [
            da.from_delayed(dask.delayed(design)(f, 1), shape=(n,), dtype=np.float64)
            for f, n in zip(parts, lengths, strict=True)
        ]
    )
    start = time.perf_counter()
    beta = newton(X, y, max_iter=50, tol=1e-8, family=Logistic if kind == "logistic" else Poisson)
    return {"total_s": time.perf_counter() - start, "coef": np.asarray(beta)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(float(s.replace("_", ""))), default=2_000_000)
    parser.add_argument("--data", type=Path, default=None, help="dataset directory")
    parser.add_argument("--root", type=Path, default=Path("/work/tmp-dask-bench"))
    parser.add_argument("--workers", type=int, default=0, help="LocalCluster workers (0: threads)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-dask-glm", action="store_true")
    parser.add_argument("--files", type=int, default=None, help="use only the first N files")
    parser.add_argument("--only", choices=["logistic", "poisson"], action="append")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    data = args.data or args.root / f"data-{args.rows}"
    start = time.perf_counter()
    paths = write(args.rows, data) if args.data is None else sorted(data.glob("*.parquet"))
    write_s = time.perf_counter() - start
    client = None
    if args.workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=max(1, args.threads // args.workers),
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
        scheduler = f"LocalCluster, {args.workers} worker processes"
    else:
        dask.config.set(scheduler="threads", num_workers=args.threads)
        scheduler = f"threaded, {args.threads} threads"

    paths = paths[: args.files] if args.files else paths
    ddf = read(paths)
    size_gb = sum(p.stat().st_size for p in paths) / 1e9
    n_rows = sum(dask.compute(*[dask.delayed(len)(p) for p in ddf[["x1"]].to_delayed()]))
    lines = [
        f"# Dask scale benchmark: {n_rows:,} rows x 20 columns",
        "",
        f"- {dt_now()}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, dask {dask.__version__}, newtonglm "
        f"{newtonglm.__version__}; scheduler: {scheduler}",
        f"- Parquet: {len(paths)} files ({ddf.npartitions} partitions), {size_gb:.2f} GB on "
        f"disk (written in {write_s:.0f} s, or found); formula `y ~ {RHS}` (30 coefficients)",
        "",
    ]
    kinds = args.only or ["logistic", "poisson"]
    rows = []
    spec = None
    for kind in kinds:
        res = fit(kind, ddf)
        spec = res["model"].model_spec_
        rows.append((kind, res))
        print(kind, {k: v for k, v in res.items() if k != "model"}, flush=True)
    assert spec is not None
    floor = read_multiply_pass(ddf, spec)
    print("read+multiply pass", floor, flush=True)
    lines += [
        f"One read-and-multiply pass (read Parquet, build the design matrix, X·β): "
        f"**{floor:.1f} s**",
        "",
        "| fit | total s | iterations | passes | s / pass | s / iteration | "
        "s / iteration ÷ pass floor | process peak RSS so far, GB | deviance |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, res in rows:
        lines.append(
            f"| newtonglm newton, {kind} | {res['total_s']:.1f} | {res['iterations']} | "
            f"{res['passes']} | {res['s_per_pass']:.1f} | {res['s_per_iter']:.1f} | "
            f"{res['s_per_iter'] / floor:.2f} | {res['peak_gb']:.2f} | {res['deviance']:.10g} |"
        )
    glm_rows = []
    if not args.skip_dask_glm:
        for kind, res in rows:
            try:
                lengths = list(res["model"].result_.design.X.lengths)
                out = dask_glm_fit(kind, ddf, spec, lengths)
                ours = np.concatenate([[res["model"].intercept_], res["model"].coef_])
                diff = float(np.max(np.abs(out["coef"] - ours)))
                glm_rows.append(
                    f"| dask-glm newton, {kind} | {out['total_s']:.1f} | "
                    f"{out['total_s'] / res['total_s']:.2f}× newtonglm | max abs coef diff "
                    f"{diff:.1e} |"
                )
            except Exception as exc:  # report, do not hide, why it could not run
                traceback.print_exc()
                glm_rows.append(
                    f"| dask-glm newton, {kind} | failed: {type(exc).__name__}: "
                    f"{str(exc)[:200]} | | |"
                )
            print(glm_rows[-1], flush=True)
    if glm_rows:
        lines += ["", "| comparison | total s | ratio | agreement |", "|---|---:|---|---|"]
        lines += glm_rows
    lines += [
        "",
        f"Peak resident memory of this process: **{peak_rss_gb():.2f} GB** over the whole run "
        "(the newtonglm column above is the peak up to the end of that fit).",
    ]
    if client is not None:
        peaks = client.run(_worker_peak)
        lines.append("; workers: " + ", ".join(f"{v:.2f} GB" for v in sorted(peaks.values())))
        client.close()
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)


def dt_now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


if __name__ == "__main__":
    main()
