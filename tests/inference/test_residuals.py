"""Residuals, leverage and influence, against statsmodels and against dense computations.

statsmodels' ``get_influence()`` defaults to the observed information for the hat matrix;
newtonglm's influence measures use the expected information (R's ``hatvalues`` and
``cooks.distance`` for a glm), so they are compared with ``get_influence(observed=False)``
(the two coincide for logit and log).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.outliers_influence import GLMInfluence

from newtonglm import GLM, PoissonRegression, plot_diagnostics
from newtonglm.engine import blocks
from newtonglm.exceptions import InvalidParameterError
from newtonglm.inference.residuals import INFLUENCE_COLUMNS, RESIDUAL_KINDS
from tests.helpers import simulate
from tests.inference.test_inference import (
    CASE_IDS,
    CASES,
    FORMULA,
    assert_close,
    cached_pair,
    our_fit,
    sm_fit,
)

#: newtonglm's residual kind → the statsmodels GLMResults attribute with the same definition.
SM_RESIDUALS = {
    "response": "resid_response",
    "working": "resid_working",
    "pearson": "resid_pearson",
    "deviance": "resid_deviance",
    "anscombe": "resid_anscombe_unscaled",
}


def sm_studentized(ref):
    """statsmodels' internally studentized Pearson and deviance residuals (expected info)."""
    infl = ref.get_influence(observed=False)
    deviance = GLMInfluence(
        ref,
        resid=np.asarray(ref.resid_deviance) / np.sqrt(ref.scale),
        hat_matrix_diag=infl.hat_matrix_diag,
    )
    return infl, np.asarray(infl.resid_studentized), np.asarray(deviance.resid_studentized)


@pytest.mark.parametrize("kind", list(SM_RESIDUALS))
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_residuals_match_statsmodels(case, kind):
    ours, ref = cached_pair(case)
    theirs = np.asarray(getattr(ref, SM_RESIDUALS[kind]))
    # Residuals cross zero: a floor of RTOL times their typical size.
    assert_close(ours.residuals(kind), theirs, floor=np.abs(theirs).mean())


@pytest.mark.parametrize("scale", [None, "X2"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_influence_matches_statsmodels(case, scale):
    ours = our_fit(case, scale=scale) if scale else cached_pair(case)[0]
    ref = sm_fit(case, scale=scale) if scale else cached_pair(case)[1]
    infl, stud_pearson, stud_deviance = sm_studentized(ref)
    frame = ours.influence()
    names = list(ours.term_names_)
    assert list(frame.columns) == [*INFLUENCE_COLUMNS, *(f"dfbeta_{n}" for n in names)]
    assert len(frame) == len(ours.result_.design.y)
    assert_close(frame["hat"], infl.hat_matrix_diag)
    assert_close(frame["cooks_distance"], infl.cooks_distance[0])
    assert_close(frame["studentized_pearson"], stud_pearson, floor=np.abs(stud_pearson).mean())
    assert_close(frame["studentized_deviance"], stud_deviance, floor=np.abs(stud_deviance).mean())
    d_params = pd.DataFrame(infl.d_params, columns=list(ref.params.index))[names].to_numpy()
    assert_close(frame[[f"dfbeta_{n}" for n in names]], d_params, floor=np.abs(d_params).mean(0))
    for kind, expected in (
        ("studentized_pearson", stud_pearson),
        ("studentized_deviance", stud_deviance),
    ):
        assert_close(ours.residuals(kind), expected, floor=np.abs(expected).mean())


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_anscombe_residuals_are_unscaled_under_an_estimated_scale(case):
    ours = our_fit(case, scale="X2")
    ref = sm_fit(case, scale="X2")
    unscaled = np.asarray(ref.resid_anscombe_unscaled)
    assert_close(ours.residuals("anscombe"), unscaled, floor=np.abs(unscaled).mean())
    scaled = np.asarray(ref.resid_anscombe_scaled)
    ours_scaled = ours.residuals("anscombe") / np.sqrt(ours.scale_)
    assert_close(ours_scaled, scaled, floor=np.abs(scaled).mean())


def dense_influence(model) -> dict[str, np.ndarray]:
    """The textbook formulas with the whole matrices (small data only)."""
    design = model.result_.design
    X, y, w = design.X, design.y, design.weights
    eta = X @ model.inference_.coef + (0.0 if design.offset is None else design.offset)
    link = model.family_.link
    mu = link.inverse(eta)
    var = model.family_.variance(mu)
    dmu = link.inverse_derivative(eta)
    W = w * dmu**2 / var
    sw_x = np.sqrt(W)[:, None] * X
    inv = np.linalg.inv(sw_x.T @ sw_x)
    hat = np.einsum("ij,jk,ik->i", sw_x, inv, sw_x)
    pearson = np.sqrt(w) * (y - mu) / np.sqrt(var)
    phi, p = model.scale_, X.shape[1]
    dfbeta = (inv @ (X * (W * (y - mu) / dmu / (1.0 - hat))[:, None]).T).T
    return {
        "hat": hat,
        "cooks_distance": pearson**2 * hat / (phi * p * (1.0 - hat) ** 2),
        "studentized_pearson": pearson / np.sqrt(phi * (1.0 - hat)),
        "dfbeta": dfbeta,
    }


def test_blocked_influence_equals_dense_formulas(monkeypatch):
    df = simulate("poisson", n=2600, seed=13)
    model = GLM(family="poisson", formula=FORMULA, scale="X2").fit(
        df, sample_weight=df["w"], offset=np.log(df["expo"])
    )
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)  # 1024-row blocks: three blocks
    frame = model.influence()
    dense = dense_influence(model)
    for col in ("hat", "cooks_distance", "studentized_pearson"):
        np.testing.assert_allclose(frame[col], dense[col], rtol=1e-10)
    dfbeta = frame[[c for c in frame.columns if c.startswith("dfbeta_")]].to_numpy()
    np.testing.assert_allclose(dfbeta, dense["dfbeta"], rtol=1e-9, atol=1e-14)
    # Leverages of a full-rank weighted design sum to its rank.
    assert frame["hat"].sum() == pytest.approx(len(model.term_names_), rel=1e-12)


def test_dfbeta_approximates_refitting_without_the_row():
    df = simulate("binomial", n=300, seed=4)
    model = GLM(family="binomial", formula=FORMULA).fit(df)
    frame = model.influence()
    i = int(frame["cooks_distance"].idxmax())
    refit = GLM(family="binomial", formula=FORMULA).fit(df.drop(index=i))
    exact = model.inference_.coef - refit.inference_.coef
    one_step = frame.loc[i, [f"dfbeta_{n}" for n in model.term_names_]].to_numpy(dtype=float)
    # The one-step approximation (R's dfbeta for a glm) is close to the exact deletion change.
    np.testing.assert_allclose(one_step, exact, rtol=0.05, atol=0.05 * np.abs(exact).max())


def test_influence_with_aliased_column_has_nan_dfbeta():
    df = simulate("poisson", n=200, seed=6).assign(x2=lambda d: 2.0 * d["x"])
    with pytest.warns(RuntimeWarning, match="aliased"):
        aliased = GLM(family="poisson", formula="y ~ x + z + x2", on_rank_deficient="drop").fit(df)
    plain = GLM(family="poisson", formula="y ~ x + z").fit(df)
    frame, ref = aliased.influence(), plain.influence()
    assert frame["dfbeta_x2"].isna().all()
    pd.testing.assert_frame_equal(frame.drop(columns="dfbeta_x2"), ref, rtol=1e-9)
    np.testing.assert_allclose(
        aliased.residuals("studentized_deviance"), plain.residuals("studentized_deviance")
    )


def test_residuals_cover_the_rows_fitted_after_dropping_missing():
    df = simulate("poisson", n=100, seed=2)
    df.loc[[5, 50], "z"] = np.nan
    model = PoissonRegression(formula="y ~ x + z", missing="drop").fit(df)
    for kind in RESIDUAL_KINDS:
        assert model.residuals(kind).shape == (98,)
    assert len(model.influence()) == 98
    # Response residuals are y - mu on the rows kept.
    kept = df.dropna()
    np.testing.assert_allclose(
        model.residuals("response"), kept["y"] - model.predict(kept), rtol=1e-12
    )


def test_unknown_residual_kind_is_refused():
    model = PoissonRegression().fit(np.arange(10.0)[:, None], np.arange(10.0))
    with pytest.raises(InvalidParameterError, match=r"kind='raw' is not a residual kind"):
        model.residuals("raw")


def test_plot_diagnostics_draws_four_panels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = simulate("poisson", n=150, seed=3)
    model = PoissonRegression(formula=FORMULA).fit(df, offset=np.log(df["expo"]))
    fig = plot_diagnostics(model, title="insurance")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "Residuals vs Fitted",
        "Normal Q-Q",
        "Scale-Location",
        "Residuals vs Leverage",
    ]
    assert fig._suptitle.get_text() == "insurance"
    plt.close(fig)
