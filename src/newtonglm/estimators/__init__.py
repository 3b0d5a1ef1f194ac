"""The scikit-learn surface: parameters, ``fit`` as named steps, predictions, fitted attributes.

``glm`` holds the three estimators; ``base`` their shared ``fit`` and fitted attributes;
``params`` the parameter checks; ``inputs`` the one place that tells arrays, formulas and Dask
apart; ``prediction`` and ``post_fit`` what a fitted model computes from its ``result_``.
"""

from __future__ import annotations

from .glm import GLM, LogisticRegression, PoissonRegression

__all__ = ["GLM", "LogisticRegression", "PoissonRegression"]
