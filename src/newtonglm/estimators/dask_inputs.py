"""The estimators' door to ``newtonglm.dask``: a fit's inputs when they are Dask collections.

Imported only when a Dask input is seen, so Dask stays optional; nothing below the estimators
asks whether a design is distributed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import is_classifier

from ..design.offsets import OffsetSpec, split_offset_terms
from ..exceptions import InvalidParameterError
from ..families import Family
from .inputs_base import Encoder, FitInputs, check_no_y

__all__ = ["dask_inputs"]


def dask_inputs(
    est: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    offset: Any,
    groups: Any,
    family: Family,
    encode: Encoder,
) -> FitInputs:
    """The inputs of a fit on Dask collections (chunks stay distributed; ``newtonglm.dask``).

    The covariance must need no per-row pass, rows cannot be dropped for missing values, and
    ``encode`` serves a classifier only (its two labels, found in one pass).
    """
    from ..dask import formula as dask_formula
    from ..dask import inputs as dask_inputs
    from ..dask import predict as dask_predict

    dask_predict.check_cov(est.cov_type, est.information, family, groups)
    if est.missing != "raise":
        raise InvalidParameterError(
            f"missing={est.missing!r} is not supported with Dask inputs; drop incomplete "
            "rows first (e.g. data.dropna()) and fit with missing='raise'."
        )
    classifier = is_classifier(est)
    if est.formula is not None:
        check_no_y(est, y)
        if split_offset_terms(est.formula)[1]:
            raise InvalidParameterError(
                f"formula={est.formula!r}: offset(...) terms are not evaluated on Dask "
                "DataFrames; compute the column first (e.g. ddf['log_t'] = np.log(ddf['t'])) "
                "and pass offset='log_t'."
            )
        if not hasattr(X, "map_partitions"):
            raise InvalidParameterError(
                f"with formula={est.formula!r} and Dask, X must be a dask.dataframe "
                f"DataFrame; got {type(X).__name__}."
            )
        built = dask_formula.from_dataframe(
            est.formula,
            X,
            fit_intercept=est.fit_intercept,
            family=family,
            sample_weight=sample_weight,
            offset=offset,
            encode=encode if classifier else None,
        )
        used = np.asarray(built.used, dtype=object)
        remembered = OffsetSpec(column=offset if isinstance(offset, str) else None)
        return FitInputs(
            built.design,
            None,
            built.spec,
            used,
            len(built.used),
            built.classes,
            offset_spec=remembered,
        )
    design, classes = dask_inputs.from_arrays(
        X,
        y,
        sample_weight,
        offset,
        fit_intercept=bool(est.fit_intercept),
        family=family,
        encode=encode if classifier else None,
    )
    n_features = design.X.shape[1] - int(bool(est.fit_intercept))
    return FitInputs(design, None, None, None, n_features, classes)
