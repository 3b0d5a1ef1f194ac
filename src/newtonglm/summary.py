"""Rendering of a fitted model's summary as text and HTML; no statistics are computed here."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = ["Summary"]


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
