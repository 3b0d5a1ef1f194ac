"""Tests between fitted models: likelihood ratio and analysis of deviance.

- :func:`lr_test` (restricted, full): ``statistic = (D_restricted - D_full) / φ_full`` on
  ``df = p_full - p_restricted`` degrees of freedom, χ² reference. With the dispersion fixed at 1
  (binomial, Poisson) this is exactly ``2 (llf_full - llf_restricted)``; with an estimated
  dispersion it is the scaled deviance difference R's ``anova(..., test="Chisq")`` uses.
- :func:`anova` (m1, m2, ...): R's analysis-of-deviance table for a sequence of nested models.

Nesting is checked, never assumed: the models must share family, link, response, weights and
offset, and the smaller model's terms must be a subset of the larger one's, by name *and* by the
values of those columns (so two array fits whose ``x0`` columns differ are refused).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.utils.validation import check_is_fitted

from ..design.matrix import SparseMatrix
from ..exceptions import InvalidParameterError, NonNestedModelsError
from ..fitting.result import GLMFit
from ..inference.compute import Inference
from ..inference.wald import HypothesisTestResult

__all__ = ["ANOVA_COLUMNS", "anova", "lr_test"]

#: Numeric columns of :func:`anova`, after the ``model`` description column.
ANOVA_COLUMNS = ("resid_df", "resid_deviance", "df", "deviance", "p_value")


def _check_fitted(model: Any, label: str) -> None:
    try:
        check_is_fitted(model, "coef_")
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidParameterError(f"{label} must be a fitted newtonglm model: {exc}") from None
    if not isinstance(getattr(model, "result_", None), GLMFit):
        raise InvalidParameterError(f"{label} must be a fitted newtonglm model.")


def _kept_names(model: Any) -> list[str]:
    return [model.term_names_[j] for j in model.result_.kept]


def _check_same_data(first: Any, other: Any, label: str) -> None:
    a, b = first.result_.design, other.result_.design
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
    col_s = _column_getter(small.result_.design.X)
    col_l = _column_getter(large.result_.design.X)
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
