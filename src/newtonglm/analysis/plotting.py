"""Convergence and diagnostic plots (optional extra ``plot``: matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..design.matrix import linear_predictor

__all__ = ["plot_convergence", "plot_diagnostics"]


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


def plot_diagnostics(model: Any, *, title: str | None = None) -> Any:
    """The four diagnostic panels of R's ``plot(glm)`` in one figure.

    Parameters
    ----------
    model : fitted GLM, LogisticRegression or PoissonRegression
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Residuals (deviance) vs linear predictor; normal Q-Q of the studentized deviance
        residuals; scale-location (√|studentized deviance residual| vs linear predictor);
        studentized Pearson residuals vs leverage with Cook's distance contours at 0.5 and 1.
        The three most extreme rows are labelled in each panel.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "plot_diagnostics needs matplotlib: pip install 'newtonglm[plot]'"
        ) from exc
    from scipy import stats

    infl = model.influence()
    dev = model.residuals("deviance")
    std_dev = infl["studentized_deviance"].to_numpy()
    std_pearson = infl["studentized_pearson"].to_numpy()
    hat = infl["hat"].to_numpy()
    design = model.result_.design
    eta = linear_predictor(design.X, np.nan_to_num(model.inference_.coef), design.offset)
    positive = design.weights > 0
    fig, axes = plt.subplots(2, 2, figsize=(10, 8.5), constrained_layout=True)
    (ax_rf, ax_qq), (ax_sl, ax_lev) = axes

    def label_extremes(ax: Any, x: np.ndarray, y: np.ndarray, score: np.ndarray) -> None:
        finite = np.flatnonzero(np.isfinite(score) & positive)
        for i in finite[np.argsort(-np.abs(score[finite]))[:3]]:
            ax.annotate(
                str(i), (x[i], y[i]), fontsize="x-small", xytext=(3, 3), textcoords="offset points"
            )

    ax_rf.scatter(eta[positive], dev[positive], s=10, alpha=0.6)
    ax_rf.axhline(0.0, color="grey", linestyle=":", linewidth=1)
    ax_rf.set(xlabel="linear predictor", ylabel="deviance residual", title="Residuals vs Fitted")
    label_extremes(ax_rf, eta, dev, dev)

    order = np.argsort(std_dev[positive])
    theo = stats.norm.ppf((np.arange(1, order.size + 1) - 0.5) / order.size)
    ax_qq.scatter(theo, std_dev[positive][order], s=10, alpha=0.6)
    lim = [float(theo.min()), float(theo.max())]
    ax_qq.plot(lim, lim, color="grey", linestyle=":", linewidth=1)
    ax_qq.set(
        xlabel="theoretical quantiles", ylabel="studentized deviance residual", title="Normal Q-Q"
    )

    root = np.sqrt(np.abs(std_dev))
    ax_sl.scatter(eta[positive], root[positive], s=10, alpha=0.6)
    ax_sl.set(
        xlabel="linear predictor",
        ylabel="sqrt(|studentized deviance residual|)",
        title="Scale-Location",
    )
    label_extremes(ax_sl, eta, root, root)

    ax_lev.scatter(hat[positive], std_pearson[positive], s=10, alpha=0.6)
    ax_lev.axhline(0.0, color="grey", linestyle=":", linewidth=1)
    p = len(model.result_.kept)
    h = np.linspace(max(float(np.nanmin(hat[positive])), 1e-3), float(np.nanmax(hat)), 100)
    for level in (0.5, 1.0):
        # Cook's distance D = r_P² h / (p (1 - h)) with r_P studentized: r_P = ±√(D p (1-h)/h).
        bound = np.sqrt(level * p * (1.0 - h) / h)
        for sign in (1.0, -1.0):
            ax_lev.plot(h, sign * bound, color="tab:red", linestyle="--", linewidth=0.8)
        ax_lev.annotate(
            f"Cook's {level:g}", (h[-1], bound[-1]), fontsize="x-small", color="tab:red"
        )
    ymax = np.nanmax(np.abs(std_pearson[positive])) * 1.1
    ax_lev.set_ylim(-ymax, ymax)
    ax_lev.set(
        xlabel="leverage", ylabel="studentized Pearson residual", title="Residuals vs Leverage"
    )
    label_extremes(ax_lev, hat, std_pearson, infl["cooks_distance"].to_numpy())
    if title:
        fig.suptitle(title)
    return fig
