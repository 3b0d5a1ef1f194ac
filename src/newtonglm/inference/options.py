"""The covariance options of a fit (``cov_type``, ``scale``, ``information``) and their checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import InvalidParameterError
from .robust import COV_TYPES, INFORMATION_KINDS

__all__ = ["SCALE_METHODS", "CovOptions", "check_alpha", "check_options"]

#: Accepted strings for ``scale=``: Pearson χ² / df and deviance / df.
SCALE_METHODS = ("X2", "dev")


def _real(value: object) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value)


def check_options(cov_type: object, scale: object, information: object) -> None:
    """Raise :class:`InvalidParameterError` unless the covariance parameters are accepted."""
    if cov_type not in COV_TYPES:
        raise InvalidParameterError(
            f"cov_type={cov_type!r} is not accepted; use one of {list(COV_TYPES)}."
        )
    if information not in INFORMATION_KINDS:
        raise InvalidParameterError(
            f"information={information!r} is not accepted; use one of {list(INFORMATION_KINDS)}."
        )
    value = _real(scale)
    if not (
        scale is None
        or (isinstance(scale, str) and scale in SCALE_METHODS)
        or (value is not None and np.isfinite(value) and value > 0)
    ):
        raise InvalidParameterError(
            f"scale={scale!r} is not accepted; use None (the family's own dispersion), "
            "'X2' (Pearson chi2 / df), 'dev' (deviance / df) or a positive number."
        )


def check_alpha(alpha: object) -> None:
    """Raise :class:`InvalidParameterError` unless 0 < alpha < 1."""
    value = _real(alpha)
    if value is None or not 0.0 < value < 1.0:
        raise InvalidParameterError(f"alpha must be in (0, 1); got {alpha!r}.")


@dataclass(frozen=True, slots=True)
class CovOptions:
    """How the dispersion and the covariance are computed (an estimator's parameters)."""

    #: One of :data:`newtonglm.COV_TYPES`.
    cov_type: str = "nonrobust"
    #: None (the family's default), "X2", "dev", or a fixed positive dispersion.
    scale: str | float | None = None
    #: Information matrix inverted: "expected" or "observed".
    information: str = "expected"
    #: Cluster codes 0 .. G-1, one per row of the design (``cov_type="cluster"``).
    groups: np.ndarray | None = None
