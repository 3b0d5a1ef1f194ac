"""``newtonglm demo``: fit a logistic and a Poisson model on the shipped datasets.

Prints both summaries, compares every solver on the logistic model (table and a convergence
PNG) and, when statsmodels is installed, prints the largest coefficient and standard-error
differences against statsmodels' GLM on the same formula.
"""

from __future__ import annotations

import sys

import numpy as np

from . import datasets
from .analysis.plotting import plot_convergence
from .analysis.solver_comparison import compare_solvers
from .estimators import GLM, LogisticRegression, PoissonRegression
from .solvers import SOLVERS

__all__ = ["run_demo"]


def _compare(model: GLM | LogisticRegression | PoissonRegression, fit_sm: object) -> str:
    table = model.coef_table()
    params, bse = fit_sm.params, fit_sm.bse  # type: ignore[attr-defined]
    coef_diff = float(np.max(np.abs(table["coef"] - params.reindex(table.index))))
    se_rel = float(
        np.max(np.abs(table["std_err"] - bse.reindex(table.index)) / bse.reindex(table.index))
    )
    return (
        f"vs statsmodels GLM: max |coef difference| = {coef_diff:.2e}, "
        f"max relative SE difference = {se_rel:.2e}"
    )


def run_demo(plot_path: str | None = None) -> int:
    """Run the demo; return the exit status.

    Parameters
    ----------
    plot_path : str, optional
        Where to save the solver-comparison PNG (default ``solver_comparison.png``).
    """
    out = sys.stdout
    pima = datasets.load("pima")
    logit = LogisticRegression(formula="diabetes ~ npreg + glu + bmi + ped + age").fit(pima)
    out.write(str(logit.summary()) + "\n\n")

    ins = datasets.load("insurance")
    offset = np.log(ins["holders"])
    pois = PoissonRegression(formula="claims ~ C(district) + group + age").fit(ins, offset=offset)
    out.write(str(pois.summary()) + "\n\n")

    comparison = compare_solvers(
        LogisticRegression(formula=logit.formula), pima, solvers=sorted(SOLVERS)
    )
    out.write("Solvers on the same logistic model (pima):\n")
    out.write(comparison.to_string(index=False) + "\n")
    try:
        fig = plot_convergence(comparison, title=f"pima: {logit.formula}")
    except ImportError:
        out.write("(install newtonglm[plot] for the convergence plot)\n\n")
    else:
        path = plot_path or "solver_comparison.png"
        fig.savefig(path, dpi=110)
        out.write(f"Convergence plot written to {path}\n\n")

    try:
        import statsmodels.api as sm
        import statsmodels.formula.api as smf
        from statsmodels.formula import options
    except ImportError:
        out.write("(install newtonglm[validate] to compare with statsmodels)\n")
        return 0
    options.formula_engine = "formulaic"
    ref_logit = smf.glm(logit.formula, pima, family=sm.families.Binomial()).fit(tol=1e-12)
    ref_pois = smf.glm(pois.formula, ins, family=sm.families.Poisson(), offset=offset).fit(
        tol=1e-12
    )
    out.write(f"Logistic (pima):    {_compare(logit, ref_logit)}\n")
    out.write(f"Poisson (insurance): {_compare(pois, ref_pois)}\n")
    return 0
