"""Tests between and within fitted models: likelihood ratio, Wald, analysis of deviance.

- :func:`lr_test` (restricted, full): ``statistic = (D_restricted - D_full) / φ_full`` on
  ``df = p_full - p_restricted`` degrees of freedom, χ² reference. With the dispersion fixed at 1
  (binomial, Poisson) this is exactly ``2 (llf_full - llf_restricted)``; with an estimated
  dispersion it is the scaled deviance difference R's ``anova(..., test="Chisq")`` uses.
- :meth:`GLM.wald_test` / :func:`wald_test`: ``W = (Rβ - q)ᵀ (R V Rᵀ)⁻¹ (Rβ - q)`` on
  ``rank(R)`` degrees of freedom, χ² reference, V the model's chosen covariance (so a robust
  ``cov_type`` gives a robust Wald test), as statsmodels' ``wald_test(..., scalar=True)``.
- :func:`anova` (m1, m2, ...): R's analysis-of-deviance table for a sequence of nested models.

Nesting is checked, never assumed: the models must share family, link, response, weights and
offset, and the smaller model's terms must be a subset of the larger one's, by name *and* by the
values of those columns (so two array fits whose ``x0`` columns differ are refused).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.utils.validation import check_is_fitted

from ._typing import FloatArray
from .exceptions import HypothesisError, InvalidParameterError, NonNestedModelsError
from .inference import Inference
from .matrix import SparseMatrix

__all__ = [
    "ANOVA_COLUMNS",
    "HypothesisTestResult",
    "anova",
    "lr_test",
    "parse_hypothesis",
    "wald_test",
]

#: Numeric columns of :func:`anova`, after the ``model`` description column.
ANOVA_COLUMNS = ("resid_df", "resid_deviance", "df", "deviance", "p_value")


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


# -- likelihood-ratio tests and analysis of deviance ----------------------------------------
def _check_fitted(model: Any, label: str) -> None:
    try:
        check_is_fitted(model, "coef_")
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidParameterError(f"{label} must be a fitted newtonglm model: {exc}") from None
    if not hasattr(model, "_fit_design"):
        raise InvalidParameterError(f"{label} must be a fitted newtonglm model.")


def _kept_names(model: Any) -> list[str]:
    return [model.term_names_[j] for j in model._kept]


def _check_same_data(first: Any, other: Any, label: str) -> None:
    a, b = first._fit_design, other._fit_design
    fam_a, fam_b = first.family_, other.family_
    if (fam_a.name, fam_a.link.name) != (fam_b.name, fam_b.link.name):
        raise NonNestedModelsError(
            f"{label}: the models have different families or links ({fam_a.name}/"
            f"{fam_a.link.name} vs {fam_b.name}/{fam_b.link.name}); nested models share both."
        )
    if a.y.shape != b.y.shape:
        raise NonNestedModelsError(
            f"{label}: the models were fitted on {a.y.shape[0]} and {b.y.shape[0]} rows; "
            "nested models must be fitted to the same data (check missing='drop')."
        )
    for what, x, y in (("response", a.y, b.y), ("sample weights", a.weights, b.weights)):
        if not np.array_equal(x, y):
            raise NonNestedModelsError(
                f"{label}: the models have different {what}; nested models must be fitted to "
                "the same data."
            )
    same_offset = (a.offset is None and b.offset is None) or (
        a.offset is not None and b.offset is not None and np.array_equal(a.offset, b.offset)
    )
    if not same_offset:
        raise NonNestedModelsError(
            f"{label}: the models have different offsets; nested models share the offset."
        )


def _column_getter(X: Any) -> Any:
    """Return a function giving column j of a design as a dense vector (sparse: not densified)."""
    if isinstance(X, SparseMatrix):
        return X.column
    arr = np.asarray(X)
    return lambda j: arr[:, j]


def _check_nested(small: Any, large: Any, label: str) -> None:
    """Raise unless the terms of ``small`` are a subset of ``large``'s, with equal columns."""
    names_s, names_l = _kept_names(small), _kept_names(large)
    extra = [n for n in names_s if n not in names_l]
    if extra:
        raise NonNestedModelsError(
            f"{label}: the models are not nested: term(s) {extra} of the smaller model are not "
            f"in the larger one (its terms: {names_l})."
        )
    col_s, col_l = _column_getter(small._fit_design.X), _column_getter(large._fit_design.X)
    pos_s = {n: j for j, n in enumerate(small.term_names_)}
    pos_l = {n: j for j, n in enumerate(large.term_names_)}
    differ = [
        n
        for n in names_s
        if not np.allclose(col_s(pos_s[n]), col_l(pos_l[n]), rtol=1e-10, atol=1e-12)
    ]
    if differ:
        raise NonNestedModelsError(
            f"{label}: term(s) {differ} have the same name in both models but different values; "
            "the models are not nested on the same columns."
        )


def lr_test(restricted: Any, full: Any) -> HypothesisTestResult:
    """Likelihood-ratio test of a restricted model against a full model that nests it.

    Parameters
    ----------
    restricted, full : fitted GLM, LogisticRegression or PoissonRegression
        The full model's terms must include every term of the restricted one (checked by
        name and column values), on the same data, family, link, weights and offset.

    Returns
    -------
    HypothesisTestResult
        ``statistic = (D_restricted - D_full) / φ_full``, ``df = p_full - p_restricted``,
        ``p_value`` from χ²_df (module docstring).
    """
    _check_fitted(restricted, "restricted")
    _check_fitted(full, "full")
    _check_same_data(restricted, full, "lr_test")
    names_r, names_f = set(_kept_names(restricted)), set(_kept_names(full))
    if names_r == names_f:
        raise NonNestedModelsError(
            "lr_test: the two models have the same terms; there is nothing to test."
        )
    if names_f < names_r:
        raise NonNestedModelsError(
            "lr_test: the first model has more terms than the second; call "
            "lr_test(restricted, full) with the smaller model first."
        )
    _check_nested(restricted, full, "lr_test")
    inf_r, inf_f = restricted.inference_, full.inference_
    df = int(inf_f.rank - inf_r.rank)
    statistic = float((inf_r.deviance - inf_f.deviance) / inf_f.scale)
    return HypothesisTestResult(
        statistic=statistic,
        df=df,
        p_value=float(stats.chi2.sf(max(statistic, 0.0), df)),
        test="likelihood ratio",
    )


def _describe(model: Any) -> str:
    if getattr(model, "formula", None):
        return str(model.formula)
    return " + ".join(_kept_names(model))


def anova(*models: Any) -> pd.DataFrame:
    """Analysis of deviance for a sequence of nested models, as R's ``anova(..., test="Chisq")``.

    Each model is compared with the one before it: ``df`` and ``deviance`` are the changes in
    residual degrees of freedom and residual deviance, and ``p_value`` is
    ``P(χ²_|df| > deviance / φ)`` with φ the dispersion of the model with the most parameters
    (1 for binomial and Poisson unless ``scale`` was set). Consecutive models must be nested
    (in either direction) on the same data.

    Parameters
    ----------
    *models : fitted GLM, LogisticRegression or PoissonRegression
        Two or more models, usually from smallest to largest.

    Returns
    -------
    pandas.DataFrame
        Index 1..k; columns ``model`` (formula or terms) and :data:`ANOVA_COLUMNS`; the first
        row's ``df``, ``deviance`` and ``p_value`` are NaN.
    """
    if len(models) < 2:
        raise InvalidParameterError(
            f"anova needs at least two fitted models to compare; got {len(models)}."
        )
    for i, model in enumerate(models, start=1):
        _check_fitted(model, f"model {i}")
    for i in range(1, len(models)):
        label = f"anova (models {i} and {i + 1})"
        prev, cur = models[i - 1], models[i]
        _check_same_data(models[0], cur, label)
        if len(_kept_names(prev)) <= len(_kept_names(cur)):
            _check_nested(prev, cur, label)
        else:
            _check_nested(cur, prev, label)
    infs: list[Inference] = [m.inference_ for m in models]
    biggest = min(range(len(infs)), key=lambda i: infs[i].df_resid)
    scale = infs[biggest].scale
    resid_df = np.array([inf.df_resid for inf in infs], dtype=float)
    resid_dev = np.array([inf.deviance for inf in infs])
    df = np.concatenate([[np.nan], resid_df[:-1] - resid_df[1:]])
    dev = np.concatenate([[np.nan], resid_dev[:-1] - resid_dev[1:]])
    with np.errstate(invalid="ignore"):
        # R's stat.anova: the signed statistic, NA for zero or inconsistent df.
        vals = dev / scale * np.sign(df)
        vals[(df == 0) | (vals < 0)] = np.nan
        p = stats.chi2.sf(vals, np.abs(df))
    frame = pd.DataFrame(
        {
            "model": [_describe(m) for m in models],
            "resid_df": resid_df.astype(int),
            "resid_deviance": resid_dev,
            "df": df,
            "deviance": dev,
            "p_value": p,
        },
        index=pd.RangeIndex(1, len(models) + 1, name="model_number"),
    )
    frame.attrs["scale"] = scale
    return frame
