"""Write the seeded Parquet dataset of ``benchmarks/dask_scale.py``, one piece at a time.

20 columns: 16 numeric predictors ``x1 .. x16``, two categoricals ``g1`` (5 levels) and ``g2``
(10 levels), a 0/1 response ``y_bin`` drawn from a logistic model and a count ``y_count`` drawn
from a Poisson model on the same predictors. Each file holds ``--piece`` rows and is generated
from its own seed, so the dataset is the same whatever the piece order and no more than one piece
is ever in memory.

Usage::

    python benchmarks/dask_data.py --rows 100_000_000 --out /work/tmp-dask-bench/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import special

SEED = 20251201
N_NUMERIC = 16
G1_LEVELS = [f"a{k}" for k in range(5)]
G2_LEVELS = [f"b{k}" for k in range(10)]


def true_coefs() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Numeric slopes, g1 effects, g2 effects and the intercept of the data-generating model."""
    rng = np.random.default_rng(SEED)
    beta = rng.normal(0.0, 0.15, N_NUMERIC)
    g1 = np.concatenate([[0.0], rng.normal(0.0, 0.3, len(G1_LEVELS) - 1)])
    g2 = np.concatenate([[0.0], rng.normal(0.0, 0.2, len(G2_LEVELS) - 1)])
    return beta, g1, g2, -0.3


def piece(index: int, rows: int) -> pd.DataFrame:
    """Rows of piece ``index`` (seeded by its index)."""
    rng = np.random.default_rng([SEED, index])
    beta, g1_eff, g2_eff, b0 = true_coefs()
    x = rng.standard_normal((rows, N_NUMERIC))
    g1 = rng.integers(0, len(G1_LEVELS), rows)
    g2 = rng.integers(0, len(G2_LEVELS), rows)
    eta = b0 + x @ beta + g1_eff[g1] + g2_eff[g2]
    frame = pd.DataFrame({f"x{j + 1}": x[:, j] for j in range(N_NUMERIC)})
    frame["g1"] = pd.Categorical.from_codes(g1, G1_LEVELS)
    frame["g2"] = pd.Categorical.from_codes(g2, G2_LEVELS)
    frame["y_bin"] = (rng.random(rows) < special.expit(eta)).astype(np.float64)
    frame["y_count"] = rng.poisson(np.exp(0.5 * eta)).astype(np.float64)
    return frame


def write(rows: int, out: Path, piece_rows: int = 1_000_000) -> list[Path]:
    """Write ``rows`` rows to ``out/part-NNNNN.parquet``; returns the file paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, rows, piece_rows)):
        path = out / f"part-{k:05d}.parquet"
        paths.append(path)
        if path.exists():
            continue
        frame = piece(k, min(piece_rows, rows - start))
        tmp = path.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        tmp.rename(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(float(s.replace("_", ""))), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--piece", type=int, default=1_000_000)
    args = parser.parse_args()
    start = time.perf_counter()
    paths = write(args.rows, args.out, args.piece)
    size = sum(p.stat().st_size for p in paths) / 1e9
    print(f"{len(paths)} files, {size:.2f} GB, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
