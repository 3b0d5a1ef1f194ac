"""Random GLM problems, an independent reference for each, and the class of every newtonglm fit.

A *case* is a seeded random problem: family and link, n 5-5,000 rows, d 1-30 columns on scales
from 1e-6 to 1e6, near-collinear columns, a column with a large mean and a small spread, factors
with rare levels, weights (none, continuous, integer, with zeros, a few very large), offsets,
grouped binomial data (proportions with trials), rare events, huge counts, and — on purpose —
complete or quasi-complete separation and Poisson counts that a factor level fits at 0.

The *reference* is independent of newtonglm: each family's log-likelihood written here with
scipy.special (in log space for the binomial links), minimised by scipy's trust-exact from zero,
then polished by Fisher-scoring steps solved as least-squares problems on √W·X (QR, never the
normal equations), and its standard errors from the R factor of that QR. When the reference's
coefficients run off (|η| beyond the range where a probability or count is representable, or
the steps never settle) the MLE is taken not to exist.

Every newtonglm fit is put in one class: ``agree`` (converged, no flag, and its coefficients,
standard errors and deviance equal the reference's), ``both flag`` (newtonglm warns or refuses
and the reference finds no clean MLE either), ``silent mismatch`` (converged, no flag, numbers
wrong), ``crash`` (an exception that is not newtonglm's own), ``spurious refusal`` (newtonglm
refuses, warns of separation or does not converge where the reference finds a clean MLE).
"""

from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg, optimize, sparse, special

import newtonglm as ng
from newtonglm.exceptions import BoundaryWarning, NewtonGLMError

#: Agreement with the reference: coefficients in standard errors of the optimum, deviance
#: relative, and standard errors relative to those of a QR of √W·X at newtonglm's own estimate
#: (the issue's bar, 1e-8, or what float64 can deliver there: 10 κ eps with κ the condition
#: number of the column-equilibrated √W·X).
COEF_SE = 1e-4  # the certified promise: within sqrt(tol) standard errors
SE_RTOL = 1e-8
DEV_RTOL = 1e-9
#: The reference's MLE "does not exist" when its fitted probabilities (binomial) or the means of
#: zero counts (Poisson) get this close to 0 or 1: the coefficients ran off along a direction.
RUNAWAY = 1e-13
CLASSES = ("agree", "both flag", "silent mismatch", "crash", "spurious refusal")
FAMILY_LINKS = (
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("poisson", "log"),
    ("gaussian", "identity"),
)


@dataclass
class Case:
    """One random problem."""

    seed: tuple[int, int]
    family: str
    link: str
    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    offset: np.ndarray | None
    traits: list[str] = field(default_factory=list)


def make_case(seed: int, k: int) -> Case:
    """The k-th random problem of ``seed``."""
    rng = np.random.default_rng([seed, k])
    family, link = FAMILY_LINKS[int(rng.integers(len(FAMILY_LINKS)))]
    n = int(np.exp(rng.uniform(np.log(5), np.log(5000))))
    d = int(rng.integers(1, min(30, max(n // 3, 1)) + 1))
    X = rng.normal(size=(n, d))
    traits: list[str] = []
    if d >= 2 and rng.random() < 0.15:
        j = int(rng.integers(1, d))
        X[:, j] = X[:, 0] + 10 ** rng.uniform(-4, -2) * rng.normal(size=n)
        traits.append("near-collinear")
    if rng.random() < 0.15:
        X[:, int(rng.integers(d))] = 1e4 + 0.01 * rng.normal(size=n)
        traits.append("large mean, small spread")
    if d >= 3 and n >= 30 and rng.random() < 0.2:
        levels = rng.choice(3, size=n, p=[0.6, 0.4 - 3 / n, 3 / n])
        X[:, d - 2] = levels == 1
        X[:, d - 1] = levels == 2  # a rare level (about 3 rows)
        traits.append("rare factor level")
    beta = rng.normal(scale=0.5, size=d) / np.sqrt(d)
    eta_x = X @ beta
    if "large mean, small spread" in traits:
        eta_x = eta_x - eta_x.mean()
    if rng.random() < 0.3:
        scales = 10 ** rng.uniform(-6, 6, size=d)
        X = X * scales
        traits.append("scales 1e-6..1e6")
    offset = rng.normal(scale=0.5, size=n) if rng.random() < 0.3 else None
    eta = eta_x + (0.0 if offset is None else offset)
    weights = None
    u = rng.random()
    if u < 0.15:
        weights = rng.uniform(0.2, 5.0, n)
        traits.append("weights")
    elif u < 0.25:
        weights = rng.integers(1, 6, n).astype(float)
        traits.append("integer weights")
    elif u < 0.32:
        weights = rng.uniform(0.5, 2.0, n) * (rng.random(n) > 0.1)
        weights[0] = 1.0
        traits.append("zero weights")
    elif u < 0.37:
        weights = np.ones(n)
        weights[rng.choice(n, min(3, n), replace=False)] = 1e4
        traits.append("heavy weights")
    if family == "binomial":
        if rng.random() < 0.1:
            eta = eta - 4.0
            traits.append("rare events")
        p = {"logit": special.expit, "probit": special.ndtr}.get(link, _cloglog_inverse)(eta)
        if rng.random() < 0.2:
            trials = rng.integers(1, 21, n).astype(float)
            y = rng.binomial(trials.astype(int), p) / trials
            weights = trials if weights is None else weights * trials
            traits.append("grouped")
        else:
            y = (rng.random(n) < p).astype(float)
        if rng.random() < 0.06:
            j = int(rng.integers(d))
            y = (X[:, j] > np.median(X[:, j])).astype(float)
            if rng.random() < 0.5:  # quasi-complete: ties at the boundary
                y[X[:, j] == np.median(X[:, j])] = rng.random() < 0.5
            traits.append("separated")
    elif family == "poisson":
        if rng.random() < 0.1:
            eta = eta + 8.0
            traits.append("huge counts")
        y = rng.poisson(np.exp(np.minimum(eta, 30.0))).astype(float)
        if "rare factor level" in traits and rng.random() < 0.3:
            y[X[:, d - 1] != 0] = 0.0  # the rare level's counts are all 0
            traits.append("zero level")
    else:
        y = eta + rng.normal(size=n)
    return Case((seed, k), family, link, X, y, weights, offset, traits)


def _cloglog_inverse(eta: np.ndarray) -> np.ndarray:
    return -np.expm1(-np.exp(np.minimum(eta, 700.0)))


# -- the reference ---------------------------------------------------------------------------


def _rows(link: str, family: str, y: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row: log-likelihood, score dℓ/dη, Fisher weight, observed weight (unit prior weight)."""
    with np.errstate(all="ignore"):
        if family == "gaussian":
            r = y - eta
            return -0.5 * r * r, r, np.ones_like(eta), np.ones_like(eta)
        if family == "poisson":
            mu = np.exp(np.minimum(eta, 700.0))
            return y * eta - mu, y - mu, mu, mu
        if link == "logit":
            lm, l1 = special.log_expit(eta), special.log_expit(-eta)
            mu = special.expit(eta)
            a, b, da, db = 1.0 - mu, mu, -mu * (1.0 - mu), mu * (1.0 - mu)
        elif link == "probit":
            lm, l1 = special.log_ndtr(eta), special.log_ndtr(-eta)
            log_phi = -0.5 * eta**2 - 0.5 * np.log(2.0 * np.pi)
            a, b = np.exp(log_phi - lm), np.exp(log_phi - l1)
            da, db = -a * (eta + a), b * (b - eta)
        else:
            t = np.exp(np.minimum(eta, 700.0))
            lm = np.where(eta < -30.0, eta, np.log(-np.expm1(-t)))
            l1 = -t
            a, b = np.where(t > 0, t / np.expm1(t), 1.0), t
            da = np.where(t < 1e-6, -t / 2.0, a * (1.0 - t / -np.expm1(-t)))
            db = t
        ll = np.where(y > 0, y * lm, 0.0) + np.where(y < 1, (1.0 - y) * l1, 0.0)
        return ll, y * a - (1.0 - y) * b, a * b, np.maximum(-y * da + (1.0 - y) * db, 0.0)


@dataclass
class Reference:
    """The independent MLE (when it exists) and its standard errors."""

    exists: bool
    coef: np.ndarray
    std_err: np.ndarray
    deviance_part: float  # -2 Σ w ℓ at the optimum (the deviance up to its saturated constant)
    reason: str = ""


def qr_std_err(case: Case, coef: np.ndarray) -> tuple[np.ndarray, float]:
    """Standard errors at ``coef`` from the R of a QR of √W·X, and κ of the equilibrated √W·X."""
    X = np.column_stack([np.ones(len(case.y)), case.X])
    w = np.ones(len(case.y)) if case.weights is None else case.weights
    use = w > 0
    X, y, w = X[use], case.y[use], w[use]
    eta = X @ coef + (0.0 if case.offset is None else case.offset[use])
    _, _, W, _ = _rows(case.link, case.family, y, eta)
    A = np.sqrt(w * W)[:, None] * X
    norms = np.linalg.norm(A, axis=0)
    norms[norms == 0] = 1.0
    kappa = float(np.linalg.cond(A / norms))
    R = linalg.qr(A, mode="r")[0][: X.shape[1]]
    r_inv = linalg.solve_triangular(R, np.eye(R.shape[0]))
    disp = 1.0
    if case.family == "gaussian":
        disp = float(np.sum(w * (y - eta) ** 2) / max(len(y) - X.shape[1], 1))
    return np.sqrt(np.sum(r_inv**2, axis=1) * disp), kappa


def reference(case: Case, fit_intercept: bool = True, start: np.ndarray | None = None) -> Reference:
    """The independent MLE of ``case`` (see the module docstring).

    ``start`` (an estimate to check, on the original columns) is a second starting point of the
    optimizer: the reference keeps whichever optimum is better, verified by its own polish.
    """
    X = np.column_stack([np.ones(len(case.y)), case.X]) if fit_intercept else case.X
    w = np.ones(len(case.y)) if case.weights is None else case.weights
    use = w > 0
    X, y, w = X[use], case.y[use], w[use]
    off = np.zeros(len(y)) if case.offset is None else case.offset[use]
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale  # the optimizer works on columns of unit max-abs; results mapped back

    def f(b):
        return -float(np.sum(w * _rows(case.link, case.family, y, Xs @ b + off)[0]))

    def g(b):
        return -Xs.T @ (w * _rows(case.link, case.family, y, Xs @ b + off)[1])

    def h(b):
        o = _rows(case.link, case.family, y, Xs @ b + off)[3]
        return Xs.T @ (Xs * (w * o)[:, None])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        starts = [np.zeros(X.shape[1])] + ([start * scale] if start is not None else [])
        b, fb = np.zeros(X.shape[1]), np.inf
        for b0 in starts:  # trust-exact from zero, and from the estimate under test
            try:
                res = optimize.minimize(f, b0, jac=g, hess=h, method="trust-exact")
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(res.fun) and res.fun < fb:
                b, fb = res.x, float(res.fun)
        fb = f(b)
        for _ in range(300):  # Fisher scoring as least squares on √W X (QR / SVD)
            eta = Xs @ b + off
            _, s, W, _ = _rows(case.link, case.family, y, eta)
            sw = np.sqrt(w * W)
            ok = sw > 0
            step = np.linalg.lstsq(sw[ok, None] * Xs[ok], (w * s)[ok] / sw[ok], rcond=None)[0]
            t = 1.0
            while t > 1e-12:
                fn = f(b + t * step)
                if np.isfinite(fn) and fn <= fb:
                    break
                t *= 0.5
            if t <= 1e-12:
                break
            b, fb_old, fb = b + t * step, fb, fn
            if fb_old - fb <= 1e-15 * max(abs(fb), 1.0) and np.linalg.norm(t * step) <= 1e-12 * (
                1.0 + np.linalg.norm(b)
            ):
                break
    eta = Xs @ b + off
    _, _, W, _ = _rows(case.link, case.family, y, eta)
    if not mle_exists(case, X, y):
        return Reference(False, b / scale, np.full(b.size, np.nan), 2 * fb, "no MLE (LP)")
    R = linalg.qr(np.sqrt(w * W)[:, None] * Xs, mode="r")[0][: Xs.shape[1]]
    if np.min(np.abs(np.diag(R))) <= 1e-12 * np.max(np.abs(np.diag(R))):
        return Reference(False, b / scale, np.full(b.size, np.nan), 2 * fb, "rank deficient")
    if case.family == "gaussian" and len(y) <= X.shape[1]:
        return Reference(False, b / scale, np.full(b.size, np.nan), 2 * fb, "no residual df")
    r_inv = linalg.solve_triangular(R, np.eye(R.shape[0]))
    disp = 1.0
    if case.family == "gaussian":
        disp = float(np.sum(w * (y - eta) ** 2) / max(len(y) - X.shape[1], 1))
    se = np.sqrt(np.sum(r_inv**2, axis=1) * disp) / scale
    return Reference(True, b / scale, se, 2 * fb)


def mle_exists(case: Case, X: np.ndarray, y: np.ndarray) -> bool:
    """Whether the MLE exists, by an LP of another form than newtonglm's (and another solver).

    Binomial: no b with s_i x_iᵀb ≥ 0 on the 0/1 rows (s_i = ±1), x_iᵀb = 0 on the proportions,
    other than those with every s_i x_iᵀb = 0 — maximise Σ t_i with s_i x_iᵀb ≥ t_i,
    0 ≤ t_i ≤ 1, by HiGHS' interior point; Poisson likewise with s_i = -1 on the zero counts and
    the positive counts as the equalities. ``X`` holds the rows of positive weight.
    """
    if case.family == "gaussian":
        return True
    if case.family == "binomial":
        strict = (y <= 0) | (y >= 1)
        sign = np.where(y >= 1, 1.0, -1.0)
    else:
        strict = y <= 0
        sign = -np.ones(len(y))
    S = (sign[:, None] * X)[strict]
    E = X[~strict]
    m, d = S.shape
    if m == 0:
        return True
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    S, E = S / scale, E / scale
    # variables [b (d, free), t (m, in [0, 1])]; maximise Σ t: minimise -Σ t
    c = np.concatenate([np.zeros(d), -np.ones(m)])
    a_ub = sparse.hstack([sparse.csr_matrix(-S), sparse.identity(m)]).tocsr()  # t - S b ≤ 0
    a_eq = sparse.hstack([sparse.csr_matrix(E), sparse.csr_matrix((E.shape[0], m))]).tocsr()
    bounds = [(None, None)] * d + [(0.0, 1.0)] * m
    res = optimize.linprog(
        c,
        A_ub=a_ub,
        b_ub=np.zeros(m),
        A_eq=a_eq if E.shape[0] else None,
        b_eq=np.zeros(E.shape[0]) if E.shape[0] else None,
        bounds=bounds,
        method="highs-ipm",
    )
    return not (res.status == 0 and -res.fun > 1e-6)


def _runaway(case: Case, y: np.ndarray, eta: np.ndarray) -> bool:
    """Whether some row's mean sits at the edge of its range at the reference's estimate."""
    if case.family == "gaussian" or eta.size == 0:
        return False
    with np.errstate(all="ignore"):
        if case.family == "poisson":
            return bool(np.any((y == 0) & (eta < np.log(RUNAWAY))))
        if case.link == "logit":
            lm, l1 = special.log_expit(eta), special.log_expit(-eta)
        elif case.link == "probit":
            lm, l1 = special.log_ndtr(eta), special.log_ndtr(-eta)
        else:
            t = np.exp(np.minimum(eta, 700.0))
            lm, l1 = np.where(eta < -30.0, eta, np.log(-np.expm1(-t))), -t
    return bool(np.any(np.minimum(lm, l1) < np.log(RUNAWAY)))


# -- classifying a fit ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one case."""

    case: Case
    klass: str
    detail: str = ""


def _estimator(case: Case) -> Any:
    return ng.GLM(family=case.family, link=case.link)


def _deviance_part(case: Case, est: Any) -> float:
    w = np.ones(len(case.y)) if case.weights is None else case.weights
    use = w > 0
    eta = est.intercept_ + case.X[use] @ est.coef_
    if case.offset is not None:
        eta = eta + case.offset[use]
    ll = _rows(case.link, case.family, case.y[use], eta)[0]
    return -2.0 * float(np.sum(w[use] * ll))


def classify(case: Case) -> Outcome:
    """Fit ``case`` with newtonglm and compare with the reference."""
    est = _estimator(case)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(case.X, case.y, sample_weight=case.weights, offset=case.offset)
    except NewtonGLMError as exc:
        ref = reference(case)
        if ref.exists:
            return Outcome(case, "spurious refusal", f"{type(exc).__name__}: {exc}")
        return Outcome(case, "both flag", f"{type(exc).__name__} / reference: {ref.reason}")
    except Exception as exc:  # noqa: BLE001 - anything that is not ours is a crash
        return Outcome(case, "crash", "".join(traceback.format_exception_only(exc)).strip())
    ours = [m for m in caught if m.category.__module__.startswith("newtonglm")]
    flags = [
        m
        for m in ours
        if not issubclass(m.category, BoundaryWarning)  # informative: the MLE is reported
    ]
    flagged = bool(flags) or not est.converged_
    coef0 = est.inference_.coef
    ref = reference(case, start=coef0 if np.isfinite(coef0).all() else None)
    if not ref.exists:
        if flagged:
            return Outcome(case, "both flag", ref.reason)
        return Outcome(case, "silent mismatch", f"reference: {ref.reason}; newtonglm silent")
    coef = est.inference_.coef
    se = est.inference_.std_err
    dev = _deviance_part(case, est)
    gap = (dev - ref.deviance_part) / max(abs(ref.deviance_part), 1.0)
    se_exact, kappa = qr_std_err(case, coef)
    se_tol = max(SE_RTOL, 10.0 * kappa * np.finfo(float).eps)
    with np.errstate(all="ignore"):
        coef_err = float(np.max(np.abs(coef - ref.coef) / ref.std_err))
        se_err = float(np.max(np.abs(se - se_exact) / se_exact))
    good = gap < DEV_RTOL and coef_err < COEF_SE and se_err < se_tol
    detail = (
        f"dev gap {gap:.1e}, coef {coef_err:.1e} SE, SE rel {se_err:.1e} (tol {se_tol:.0e}, "
        f"kappa {kappa:.1e})"
    )
    if flagged:  # a warning or no convergence where the reference finds a clean MLE
        kinds = sorted({m.category.__name__ for m in flags}) or ["not converged"]
        return Outcome(case, "spurious refusal", f"{kinds}; {detail}")
    return Outcome(case, "agree" if good else "silent mismatch", detail)


def run(seed: int, n_cases: int) -> list[Outcome]:
    """Classify cases 0 .. n_cases - 1 of ``seed``."""
    return [classify(make_case(seed, k)) for k in range(n_cases)]
