"""Convergence plots (optional extra ``plot``: matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_convergence"]


def _models(source: Any) -> Mapping[str, Any]:
    if isinstance(source, pd.DataFrame):
        models = source.attrs.get("models")
        if not models:
            raise ValueError("pass the DataFrame returned by compare_solvers (it carries the fits)")
        return dict(models)
    if isinstance(source, Mapping):
        return dict(source)
    return {getattr(source, "solver", "model"): source}


def plot_convergence(source: Any, *, title: str | None = None) -> Any:
    """Objective gap against iteration and against time, one line per solver.

    Parameters
    ----------
    source : DataFrame from :func:`newtonglm.compare_solvers`, a mapping of name → fitted
        estimator, or one fitted estimator.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: deviance - best deviance (log scale) vs iteration, and vs seconds.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "plot_convergence needs matplotlib: pip install 'newtonglm[plot]'"
        ) from exc
    models = _models(source)
    best = min(float(m.history_["deviance"].min()) for m in models.values())
    fig, (ax_it, ax_t) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    # Gaps at or below rounding level are drawn at a floor so log axes stay finite.
    floor = max(abs(best), 1.0) * 1e-15
    for name, model in models.items():
        hist = model.history_
        gap = np.maximum(hist["deviance"].to_numpy() - best, floor)
        # iteration + 1 on a log axis: Newton's handful and gradient descent's thousands fit.
        ax_it.plot(hist["iteration"] + 1, gap, marker="o", markersize=3, label=name)
        ax_t.plot(hist["seconds"], gap, marker="o", markersize=3, label=name)
    for ax, xlabel in ((ax_it, "iteration + 1"), (ax_t, "seconds since start of fit")):
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("deviance - best deviance")
        ax.grid(True, which="both", alpha=0.3)
    ax_it.set_xscale("log")
    ax_t.set_xscale("log")
    ax_it.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
