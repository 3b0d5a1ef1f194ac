"""Wald tests of linear hypotheses on named terms, and the χ² test result every test returns.

:func:`wald_test`: ``W = (Rβ - q)ᵀ (R V Rᵀ)⁻¹ (Rβ - q)`` on ``rank(R)`` degrees of freedom, χ²
reference, V the model's chosen covariance (so a robust ``cov_type`` gives a robust Wald test),
as statsmodels' ``wald_test(..., scalar=True)``. :func:`parse_hypothesis` reads the constraints
(``"x1 = 0, x2 = x3"``, ``"2*x1 - x2 = 1"``) into R and q by term name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .._typing import FloatArray
from ..exceptions import HypothesisError
from .compute import Inference

__all__ = ["HypothesisTestResult", "parse_hypothesis", "wald_test"]


@dataclass(frozen=True, slots=True)
class HypothesisTestResult:
    """Result of a χ² test."""

    #: Test statistic (χ² distributed under the null hypothesis).
    statistic: float
    #: Degrees of freedom.
    df: int
    #: Upper-tail probability of the statistic, P(χ²_df > statistic).
    p_value: float
    #: "likelihood ratio" or "Wald".
    test: str

    def __str__(self) -> str:
        return (
            f"{self.test} test: chi2({self.df}) = {self.statistic:.6g}, "
            f"p-value = {self.p_value:.4g}"
        )


# -- Wald tests -------------------------------------------------------------------------------
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[^\s+\-*=,]+")
_OPEN, _CLOSE = "([{", ")]}"


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c in "_."


def _split_constraints(text: str) -> list[str]:
    """Split on commas outside brackets (term names such as ``C(g, Sum)[S.a]`` hold commas)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth = max(depth - 1, 0)
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _tokenize(text: str, names: Sequence[str]) -> list[tuple[str, Any]]:
    """Tokens ("name", term), ("num", value), ("op", symbol); the longest term name wins."""
    by_length = sorted(names, key=len, reverse=True)
    tokens: list[tuple[str, Any]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "+-*=":
            tokens.append(("op", c))
            i += 1
            continue
        for name in by_length:
            end = i + len(name)
            if text.startswith(name, i) and not (
                end < len(text) and _is_word_char(name[-1]) and _is_word_char(text[end])
            ):
                tokens.append(("name", name))
                i = end
                break
        else:
            number = _NUMBER.match(text, i)
            if number and not (number.end() < len(text) and _is_word_char(text[number.end()])):
                tokens.append(("num", float(number.group())))
                i = number.end()
                continue
            word = _WORD.match(text, i)
            shown = word.group() if word else c
            raise HypothesisError(
                f"{shown!r} in hypothesis {text!r} is not a term of the model; the terms are "
                f"{list(names)}."
            )
    return tokens


def _parse_side(tokens: list[tuple[str, Any]], text: str) -> tuple[dict[str, float], float]:
    """A sum of terms ``[±] factor (* factor)*`` with at most one term name per product."""
    if not tokens:
        raise HypothesisError(f"hypothesis {text!r} has an empty side; write e.g. 'x1 = 0'.")
    coefs: dict[str, float] = {}
    const = 0.0
    i = 0
    while i < len(tokens):
        sign = 1.0
        while i < len(tokens) and tokens[i] in (("op", "+"), ("op", "-")):
            sign = -sign if tokens[i][1] == "-" else sign
            i += 1
        value, name = sign, None
        while True:
            if i >= len(tokens):
                raise HypothesisError(f"hypothesis {text!r} ends with an operator.")
            kind, tok = tokens[i]
            if kind == "num":
                value *= tok
            elif kind == "name":
                if name is not None:
                    raise HypothesisError(
                        f"hypothesis {text!r} multiplies two terms ({name!r} * {tok!r}); a "
                        "linear hypothesis has one term per product."
                    )
                name = tok
            else:
                raise HypothesisError(f"hypothesis {text!r} has {tok!r} where a term belongs.")
            i += 1
            if i < len(tokens) and tokens[i] == ("op", "*"):
                i += 1
                continue
            break
        if name is None:
            const += value
        else:
            coefs[name] = coefs.get(name, 0.0) + value
        if i < len(tokens) and tokens[i] not in (("op", "+"), ("op", "-")):
            raise HypothesisError(
                f"hypothesis {text!r}: expected '+', '-' or '=' after a term, got {tokens[i][1]!r}."
            )
    return coefs, const


def parse_hypothesis(
    hypothesis: str | Sequence[str], names: Sequence[str]
) -> tuple[FloatArray, FloatArray]:
    """Parse linear hypotheses on named terms into ``(R, q)`` with ``R β = q``.

    Grammar: constraints separated by commas (or given as a list); each is ``expr`` or
    ``expr = expr``, where ``expr`` is a sum of terms ``[±] [number *] name`` and numbers, e.g.
    ``"x1 = 0, x2 = x3"``, ``"2*x1 - x2 = 0.5"``, ``"C(g)[T.b] = C(g)[T.c]"``. Term names are
    matched exactly (the longest matching name wins), so names with brackets, colons or dots
    need no quoting.
    """
    if isinstance(hypothesis, str):
        texts = _split_constraints(hypothesis)
    else:
        texts = [t for h in hypothesis for t in _split_constraints(str(h))]
    index = {name: j for j, name in enumerate(names)}
    rows, rhs = [], []
    for text in texts:
        if not text:
            raise HypothesisError(
                f"hypothesis {hypothesis!r} has an empty constraint; separate constraints "
                "with single commas."
            )
        tokens = _tokenize(text, names)
        n_eq = tokens.count(("op", "="))
        if n_eq > 1:
            raise HypothesisError(f"hypothesis {text!r} has {n_eq} '=' signs; use one.")
        if n_eq == 1:
            at = tokens.index(("op", "="))
            left, lc = _parse_side(tokens[:at], text)
            right, rc = _parse_side(tokens[at + 1 :], text)
        else:
            (left, lc), (right, rc) = _parse_side(tokens, text), ({}, 0.0)
        row = np.zeros(len(names))
        for name, value in left.items():
            row[index[name]] += value
        for name, value in right.items():
            row[index[name]] -= value
        if not np.any(row != 0.0):
            raise HypothesisError(
                f"hypothesis {text!r} involves no coefficient (the terms cancel or are "
                "missing); name at least one term."
            )
        rows.append(row)
        rhs.append(rc - lc)
    return np.asarray(rows), np.asarray(rhs)


def wald_test(
    inf: Inference, names: Sequence[str], hypothesis: str | Sequence[str]
) -> HypothesisTestResult:
    """Wald χ² test of ``R β = q`` with the covariance in ``inf`` (see module docstring)."""
    R, q = parse_hypothesis(hypothesis, names)
    aliased = [names[int(j)] for j in np.flatnonzero(np.isnan(inf.coef)) if np.any(R[:, j] != 0)]
    if aliased:
        raise HypothesisError(
            f"hypothesis {hypothesis!r} involves aliased term(s) {aliased}, which were dropped "
            "from the fit and have no estimate."
        )
    kept = np.flatnonzero(~np.isnan(inf.coef))
    Rk = R[:, kept]
    if np.linalg.matrix_rank(Rk) < Rk.shape[0]:
        raise HypothesisError(
            f"the {Rk.shape[0]} constraints in {hypothesis!r} are linearly dependent; drop the "
            "redundant ones."
        )
    diff = Rk @ inf.coef[kept] - q
    middle = Rk @ inf.cov[np.ix_(kept, kept)] @ Rk.T
    try:
        statistic = float(diff @ np.linalg.solve(middle, diff))
    except np.linalg.LinAlgError:
        statistic = float("nan")
    df = int(Rk.shape[0])
    return HypothesisTestResult(
        statistic=statistic, df=df, p_value=float(stats.chi2.sf(statistic, df)), test="Wald"
    )
