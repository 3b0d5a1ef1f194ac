"""Command line: ``newtonglm fit data.csv --formula ... --family ...`` and ``newtonglm demo``.

Bad input exits with status 2 and a single ``newtonglm: error: ...`` line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .cli_input import read_table
from .estimators import GLM
from .exceptions import NewtonGLMError
from .inference.options import SCALE_METHODS
from .inference.robust import COV_TYPES
from .solvers import SOLVERS

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newtonglm", description="Fit generalized linear models by Newton's method / IRLS."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a GLM to a CSV file and print its summary")
    fit.add_argument("data", help="CSV file with a header row ('-' reads standard input)")
    fit.add_argument("--sep", default=",", help="field delimiter (default ',')")
    fit.add_argument("--encoding", default="utf-8", help="text encoding (default utf-8)")
    fit.add_argument("--formula", required=True, help='e.g. "y ~ x + C(g)"')
    fit.add_argument("--family", default="binomial", choices=["binomial", "poisson", "gaussian"])
    fit.add_argument("--link", default=None, help="link function (default: canonical)")
    fit.add_argument("--offset", default=None, metavar="COL", help="column added to eta as is")
    fit.add_argument(
        "--exposure", default=None, metavar="COL", help="column whose log is the offset"
    )
    fit.add_argument("--weights", default=None, metavar="COL", help="prior weights / trials")
    fit.add_argument("--solver", default="newton", choices=sorted(SOLVERS))
    fit.add_argument("--learning-rate", type=float, default=None, help="fixed step of --solver gd")
    fit.add_argument("--tol", type=float, default=1e-8)
    fit.add_argument("--max-iter", type=int, default=None)
    fit.add_argument("--missing", default="raise", choices=["raise", "drop"])
    fit.add_argument(
        "--cov-type",
        default="nonrobust",
        choices=list(COV_TYPES),
        help="covariance of the coefficients (default: nonrobust, the inverse information)",
    )
    fit.add_argument(
        "--groups", default=None, metavar="COL", help="cluster labels for --cov-type cluster"
    )
    fit.add_argument(
        "--scale",
        default=None,
        choices=list(SCALE_METHODS),
        help="estimate the dispersion: Pearson chi2/df (X2) or deviance/df (dev)",
    )
    fit.add_argument("--json", action="store_true", help="print the results as JSON")
    demo = sub.add_parser("demo", help="fit models on the shipped datasets")
    demo.add_argument(
        "--plot", default=None, metavar="PNG", help="where to save the solver comparison PNG"
    )
    return parser


def _clean(value: Any) -> Any:
    """JSON-safe value: NaN and inf become null, numpy scalars become Python numbers."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def result_dict(model: GLM) -> dict[str, Any]:
    """The fitted model as a JSON-ready dictionary."""
    table = model.coef_table()
    return {
        "formula": model.formula,
        "family": model.family_.name,
        "link": model.family_.link.name,
        "solver": model.solver,
        "n_obs": int(model.nobs_),
        "n_dropped": int(model.n_dropped_),
        "df_model": int(model.df_model_),
        "df_resid": int(model.df_resid_),
        "deviance": _clean(model.deviance_),
        "null_deviance": _clean(model.null_deviance_),
        "pearson_chi2": _clean(model.pearson_chi2_),
        "llf": _clean(model.llf_),
        "aic": _clean(model.aic_),
        "bic": _clean(model.bic_),
        "cov_type": model.cov_type,
        "covariance": model.inference_.cov_label,
        "scale": _clean(model.scale_),
        "scale_method": model.inference_.scale_method,
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
        "coefficients": {
            str(term): {col: _clean(val) for col, val in row.items()}
            for term, row in table.iterrows()
        },
    }


def _fit(args: argparse.Namespace) -> int:
    table = read_table(args.data, sep=args.sep, encoding=args.encoding, missing=args.missing)
    data = table.frame
    if table.n_stray:
        sys.stderr.write(
            f"newtonglm: warning: --missing drop: {table.n_stray} cells of numeric columns held "
            "text and were read as missing.\n"
        )
    if args.offset is not None and args.exposure is not None:
        raise NewtonGLMError("give --offset or --exposure, not both.")
    offset: Any = args.offset
    if args.exposure is not None:
        if args.exposure not in data.columns:
            raise NewtonGLMError(f"--exposure column {args.exposure!r} is not in {args.data!r}.")
        exposure = data[args.exposure].to_numpy(dtype=np.float64)
        if (exposure <= 0).any():
            raise NewtonGLMError(
                f"--exposure column {args.exposure!r} must be > 0; "
                f"{int((exposure <= 0).sum())} rows are not (drop them or use --offset)."
            )
        offset = np.log(exposure)
    if args.cov_type == "cluster" and args.groups is None:
        raise NewtonGLMError("--cov-type cluster needs --groups COL, the column of cluster labels.")
    if args.groups is not None and args.cov_type != "cluster":
        raise NewtonGLMError(f"--groups is used only with --cov-type cluster, not {args.cov_type}.")
    params: dict[str, Any] = {
        "tol": args.tol,
        "missing": args.missing,
        "cov_type": args.cov_type,
        "scale": args.scale,
    }
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    if args.learning_rate is not None:
        params["learning_rate"] = args.learning_rate
    model = GLM(
        family=args.family, link=args.link, formula=args.formula, solver=args.solver, **params
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, sample_weight=args.weights, offset=offset, groups=args.groups)
    for w in caught:
        sys.stderr.write(f"newtonglm: warning: {w.message}\n")
    if args.json:
        sys.stdout.write(json.dumps(result_dict(model), indent=2) + "\n")
    else:
        sys.stdout.write(str(model.summary()) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newtonglm`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(plot_path=args.plot)
        return _fit(args)
    except (NewtonGLMError, ValueError) as exc:
        message = " ".join(str(exc).split())
        sys.stderr.write(f"newtonglm: error: {message}\n")
        return 2
