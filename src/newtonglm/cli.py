"""Command line: ``newtonglm fit data.csv --formula ... --family ...`` and ``newtonglm demo``.

Exit status of ``newtonglm fit``:

- 0: the fit converged (or ``--allow-warnings`` was given);
- 2: bad input or usage — one line ``newtonglm: error: ...``, never a traceback;
- 3: the fit did not converge, or the maximum-likelihood estimate does not exist (separation):
  ``converged_`` is False. The summary or JSON and the warnings are printed first.

Every message is in the command line's words (:mod:`newtonglm.cli_messages`): flags, not the
estimator's parameters (``--missing drop``, not ``missing='drop'``), and CSV lines, not 0-based
row positions. Warnings go to standard error as ``newtonglm: warning: ...`` and, with
``--json``, into the output's ``warnings`` list.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import __version__
from .cli_input import Stray, Table, read_table
from .cli_messages import Context, translate
from .estimators import GLM
from .exceptions import NewtonGLMError
from .inference.options import SCALE_METHODS
from .inference.robust import COV_TYPES
from .solvers import SOLVERS

__all__ = ["EXIT_BAD_INPUT", "EXIT_NOT_CONVERGED", "EXIT_OK", "main", "result_dict"]

#: The fit converged (or ``--allow-warnings``).
EXIT_OK = 0
#: Bad input or usage (argparse's status for usage errors too).
EXIT_BAD_INPUT = 2
#: The fit did not converge or the maximum-likelihood estimate does not exist.
EXIT_NOT_CONVERGED = 3

EPILOG = f"""\
exit status:
  {EXIT_OK}  the fit converged (or --allow-warnings was given)
  {EXIT_BAD_INPUT}  bad input or usage: one line 'newtonglm: error: ...'
  {EXIT_NOT_CONVERGED}  the fit did not converge, or the maximum-likelihood estimate does not
     exist (separation); the summary or JSON and the warnings are printed first

Messages give CSV line numbers (line 1 is the header)."""


def _scale(text: str) -> str | float:
    """``--scale``: X2, dev, or a fixed dispersion (a positive number)."""
    if text in SCALE_METHODS:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        choices = ", ".join(repr(m) for m in SCALE_METHODS)
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {choices} or a positive number)"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="newtonglm",
        description="Fit generalized linear models by Newton's method / IRLS.",
        epilog=EPILOG,
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"newtonglm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser(
        "fit",
        help="fit a GLM to a CSV file and print its summary",
        description="Fit a GLM to a CSV file and print its summary (or --json).",
        epilog=EPILOG,
        formatter_class=raw,
    )
    fit.add_argument("data", help="CSV file with a header row ('-' reads standard input)")
    fit.add_argument("--sep", default=",", help="field delimiter (default ','; 'tab' for a tab)")
    fit.add_argument("--encoding", default="utf-8", help="text encoding (default utf-8)")
    fit.add_argument("--formula", required=True, help='e.g. "y ~ x + C(g)"')
    fit.add_argument("--family", default="binomial", choices=["binomial", "poisson", "gaussian"])
    fit.add_argument("--link", default=None, help="link function (default: canonical)")
    fit.add_argument("--offset", default=None, metavar="COL", help="column added to eta as is")
    fit.add_argument(
        "--exposure", default=None, metavar="COL", help="column whose log is the offset (> 0)"
    )
    fit.add_argument("--weights", default=None, metavar="COL", help="prior weights / trials")
    fit.add_argument("--solver", default="newton", choices=sorted(SOLVERS))
    fit.add_argument("--learning-rate", type=float, default=None, help="fixed step of --solver gd")
    fit.add_argument("--tol", type=float, default=1e-8, help="convergence tolerance")
    fit.add_argument("--max-iter", type=int, default=None, help="most iterations of the solver")
    fit.add_argument(
        "--missing",
        default="raise",
        choices=["raise", "drop"],
        help="rows with missing values (or text in numeric columns): error, or drop them",
    )
    fit.add_argument(
        "--on-rank-deficient",
        default="raise",
        choices=["raise", "drop"],
        help="aliased columns: error, or drop them (NaN coefficients) as R does",
    )
    fit.add_argument(
        "--separation",
        default="warn",
        choices=["warn", "drop"],
        help="Poisson: drop the rows fitted at mean 0 when the MLE does not exist",
    )
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
        type=_scale,
        metavar="{X2,dev,NUMBER}",
        help="dispersion: Pearson chi2/df (X2), deviance/df (dev) or a fixed number",
    )
    fit.add_argument("--json", action="store_true", help="print the results as JSON")
    fit.add_argument(
        "--allow-warnings",
        action="store_true",
        help=f"exit {EXIT_OK}, not {EXIT_NOT_CONVERGED}, when the fit did not converge",
    )
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


def result_dict(model: GLM, warning_records: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """The fitted model as a JSON-ready dictionary; ``warning_records`` as its ``warnings``."""
    table = model.coef_table()
    reason = model.stop_reason_
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
        "stop_reason": str(getattr(reason, "value", reason)),
        "warnings": [dict(r) for r in warning_records],
        "coefficients": {
            str(term): {col: _clean(val) for col, val in row.items()}
            for term, row in table.iterrows()
        },
    }


def _stray_message(stray: Stray) -> str:
    cells = "1 cell" if stray.count == 1 else f"{stray.count} cells"
    return (
        f"--missing drop: column {stray.column!r} is numeric but {cells} held text (first "
        f"{stray.value!r} at line {stray.line}); read as missing."
    )


def _check_columns(args: argparse.Namespace, table: Table) -> None:
    """The columns named by flags exist, and the flags fit together."""
    for flag in ("weights", "offset", "exposure", "groups"):
        column = getattr(args, flag)
        if column is not None and column not in table.frame.columns:
            shown = list(map(str, table.frame.columns))[:20]
            raise NewtonGLMError(
                f"--{flag} column {column!r} is not in {args.data!r}; its columns are {shown}."
            )
    if args.offset is not None and args.exposure is not None:
        raise NewtonGLMError("give --offset or --exposure, not both.")
    if args.cov_type == "cluster" and args.groups is None:
        raise NewtonGLMError("--cov-type cluster needs --groups COL, the column of cluster labels.")
    if args.groups is not None and args.cov_type != "cluster":
        raise NewtonGLMError(f"--groups is used only with --cov-type cluster, not {args.cov_type}.")


def _print_warnings(records: Sequence[dict[str, str]]) -> None:
    for record in records:
        sys.stderr.write(f"newtonglm: warning: {record['message']}\n")


def _model(args: argparse.Namespace) -> GLM:
    params: dict[str, Any] = {
        "tol": args.tol,
        "missing": args.missing,
        "on_rank_deficient": args.on_rank_deficient,
        "separation": args.separation,
        "cov_type": args.cov_type,
        "scale": args.scale,
    }
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    if args.learning_rate is not None:
        params["learning_rate"] = args.learning_rate
    return GLM(
        family=args.family, link=args.link, formula=args.formula, solver=args.solver, **params
    )


def _fit(args: argparse.Namespace) -> int:
    table = read_table(args.data, sep=args.sep, encoding=args.encoding, missing=args.missing)
    _check_columns(args, table)
    ctx = Context(
        weights=args.weights,
        offset=args.offset,
        exposure=args.exposure,
        groups=args.groups,
        lines=table.lines,
    )
    records = [{"category": "DataWarning", "message": _stray_message(s)} for s in table.stray]
    model = _model(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(
                table.frame,
                sample_weight=args.weights,
                offset=args.offset,
                exposure=args.exposure,
                groups=args.groups,
            )
            error = None
        except (NewtonGLMError, ValueError) as exc:
            error = NewtonGLMError(translate(str(exc), ctx))
    records += [
        {"category": type(w.message).__name__, "message": translate(str(w.message), ctx)}
        for w in caught
    ]
    if error is not None:
        _print_warnings(records)
        raise error
    if args.json:
        sys.stdout.write(json.dumps(result_dict(model, records), indent=2) + "\n")
    else:
        summary = model.summary()
        notes = tuple(translate(note, ctx) for note in summary.notes)
        sys.stdout.write(str(dataclasses.replace(summary, notes=notes)) + "\n")
    _print_warnings(records)
    if not model.converged_ and not args.allow_warnings:
        return EXIT_NOT_CONVERGED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newtonglm`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(plot_path=args.plot)
        return _fit(args)
    except (NewtonGLMError, ValueError) as exc:
        sys.stderr.write(f"newtonglm: error: {translate(str(exc))}\n")
        return EXIT_BAD_INPUT
