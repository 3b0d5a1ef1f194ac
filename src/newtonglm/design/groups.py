"""Cluster labels (``groups=``) → integer codes aligned with the rows of a design, once.

Labels may be any hashable values, given as an array or as the name of a DataFrame column, one
per row passed to ``fit`` or one per row fitted (after ``missing='drop'``). The codes 0 .. G-1
are what the cluster-robust covariance (``inference.robust``) sums scores by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidGroupsError
from .base import Design

__all__ = ["cluster_codes", "codes_for_design", "labels_of"]


def labels_of(groups: Any, data: Any) -> np.ndarray:
    """Cluster labels as a 1-d array; a string names a column of the DataFrame ``data``."""
    if isinstance(groups, str):
        if not isinstance(data, pd.DataFrame) or groups not in data.columns:
            raise InvalidGroupsError(
                f"groups={groups!r} names no column of the data; a column name works with "
                "a DataFrame passed to fit(), otherwise pass the cluster labels themselves."
            )
        return np.asarray(data[groups].to_numpy())
    return _one_per_row(groups)


def _one_per_row(groups: Any) -> np.ndarray:
    labels = np.asarray(groups)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise InvalidGroupsError(
            f"groups must be one label per row (one-way clustering); got shape {labels.shape}."
        )
    return labels


def codes_for_design(groups: Any, data: Any, design: Design) -> np.ndarray | None:
    """Cluster labels → integer codes aligned with the rows of ``design`` (None without labels).

    The labels may be given for the rows fitted or, when ``missing='drop'`` removed rows,
    for the rows passed to ``fit`` (then the labels of the dropped rows are discarded).
    """
    if groups is None:
        return None
    labels = labels_of(groups, data)
    kept, n_fit = design.kept_rows, design.X.shape[0]
    if kept is not None and labels.shape[0] == kept.shape[0]:
        labels = labels[kept]
    elif kept is not None and labels.shape[0] != n_fit:
        raise InvalidGroupsError(
            f"groups has {labels.shape[0]} labels but fit() was given {kept.shape[0]} rows, "
            f"of which missing='drop' kept {n_fit}; pass one cluster label per row given "
            "(or per row kept)."
        )
    return cluster_codes(labels, n_fit)


def cluster_codes(labels: np.ndarray, n_rows: int) -> np.ndarray:
    """Cluster labels (any hashable values), one per fitted row → integer codes 0 .. G-1."""
    labels = _one_per_row(labels)
    if labels.shape[0] != n_rows:
        raise InvalidGroupsError(
            f"groups has {labels.shape[0]} labels but the model has {n_rows} rows; pass one "
            "cluster label per row."
        )
    codes, _ = pd.factorize(pd.Series(labels), sort=True)
    missing = codes < 0
    if missing.any():
        raise InvalidGroupsError(
            f"groups has no label in {int(missing.sum())} of {n_rows} rows (first at row "
            f"{int(np.flatnonzero(missing)[0])}); every row needs a cluster label."
        )
    return np.asarray(codes, dtype=np.intp)
