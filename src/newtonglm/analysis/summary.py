"""A fitted model's summary: what it shows (:func:`summarize`) and its text and HTML rendering.

No statistics are computed here: every value comes from the :class:`~newtonglm.fitting.GLMFit`
(and the overdispersion check of :mod:`newtonglm.inference.compute`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..families import Poisson
from ..fitting.result import GLMFit
from ..inference.compute import overdispersion
from ..solvers.history import describe_convergence

__all__ = ["Summary", "summarize"]


def summarize(fit: GLMFit, *, model: str, formula: str | None, table: pd.DataFrame) -> Summary:
    """The summary of ``fit``: model, fit statistics, the coefficient table ``table``, notes.

    The header names the covariance the standard errors use and how the dispersion was
    obtained; for a Poisson fit it shows Pearson χ²/df and notes overdispersion (see
    :func:`newtonglm.inference.compute.overdispersion`).
    """
    inf, family = fit.inference, fit.family
    info: list[tuple[str, object]] = [
        ("Model", model),
        ("Formula", formula if formula is not None else "y"),
        ("Family", family.name),
        ("Link", family.link.name),
        ("Solver", fit.solver),
        ("Observations", inf.n_obs),
        ("Df model", inf.df_model),
        ("Df residuals", inf.df_resid),
        ("Scale", f"{inf.scale:.6g} ({inf.scale_label})"),
        ("Covariance", inf.cov_label),
        ("Iterations", fit.n_iter),
        ("Converged", bool(fit.converged)),
        ("Convergence", describe_convergence(fit.convergence_order, fit.convergence_rate)),
        ("Deviance", inf.deviance),
        ("Null deviance", inf.null_deviance),
        ("Pearson chi2", inf.pearson_chi2),
        ("Log-likelihood", inf.llf),
        ("AIC", inf.aic),
        ("BIC", inf.bic),
    ]
    if fit.design.n_dropped:
        info.append(("Rows dropped (missing)", fit.design.n_dropped))
    notes = list(fit.notes)
    if isinstance(family, Poisson):
        check = overdispersion(inf)
        info.append(("Pearson chi2/df", check.ratio))
        if check.flagged:
            notes.append(check.note(accounted=inf.cov_type != "nonrobust" or inf.scale != 1))
    return Summary.build(info, table, notes, title=f"{model} — {family.name}/{family.link.name}")


@dataclass(frozen=True, slots=True)
class Summary:
    """A readable report of a fit; ``str()`` gives text, notebooks render ``_repr_html_``."""

    #: (label, value) pairs describing the model and the fit, in display order.
    info: tuple[tuple[str, str], ...]
    #: Coefficient table (``coef_table()``).
    table: pd.DataFrame
    #: Notes appended after the table (warnings, dropped columns).
    notes: tuple[str, ...] = ()
    title: str = "Generalized Linear Model"

    @classmethod
    def build(
        cls,
        info: Sequence[tuple[str, object]],
        table: pd.DataFrame,
        notes: Sequence[str] = (),
        title: str = "Generalized Linear Model",
    ) -> Summary:
        """Format the values of ``info`` and freeze the summary."""
        return cls(tuple((k, _fmt(v)) for k, v in info), table, tuple(notes), title)

    def _info_lines(self) -> list[str]:
        # Two label/value columns side by side, like statsmodels' and R's headers; each half
        # sized to its own contents so one long value (a formula) does not widen the other.
        half = (len(self.info) + 1) // 2
        left, right = self.info[:half], self.info[half:]

        def widths(part: tuple[tuple[str, str], ...]) -> tuple[int, int]:
            return max(len(k) for k, _ in part) + 1, max(len(v) for _, v in part)

        wl, wv = widths(left)
        wl2, wv2 = widths(right) if right else (0, 0)
        lines = []
        for i, (k, v) in enumerate(left):
            line = f"{k + ':':<{wl}} {v:>{wv}}"
            if i < len(right):
                k2, v2 = right[i]
                line += f"    {k2 + ':':<{wl2}} {v2:>{wv2}}"
            lines.append(line)
        return lines

    def __str__(self) -> str:
        table = self.table.to_string(float_format=lambda x: f"{x:.6g}")
        head = self._info_lines()
        width = max(max(map(len, head)), max(map(len, table.splitlines())))
        rule = "=" * width
        out = [self.title.center(width), rule, *head, rule, table, rule]
        out.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self.info
        )
        notes = "".join(f"<p><b>Note:</b> {html.escape(n)}</p>" for n in self.notes)
        table = self.table.to_html(float_format=lambda x: f"{x:.6g}")
        return f"<div><h4>{html.escape(self.title)}</h4><table>{rows}</table>{table}{notes}</div>"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.8g}"
    return str(value)
