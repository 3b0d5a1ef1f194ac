"""The estimators users call: :class:`GLM`, :class:`LogisticRegression`, :class:`PoissonRegression`.

Each is the scikit-learn surface — keyword-only parameters stored as given, the family they fix
or expose, and the predictions their kind of estimator owes scikit-learn (labels and
probabilities for the classifier). Fitting, prediction and post-fit statistics are shared
(``base.BaseGLM``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score

from .._typing import FloatArray
from ..design.response import encode_binary
from ..families import Family, get_family
from .base import BaseGLM
from .inputs import is_dask, response_of

__all__ = ["GLM", "LogisticRegression", "PoissonRegression"]


class GLM(RegressorMixin, BaseGLM):
    """Generalized linear model fitted by Newton's method / IRLS.

    Parameters
    ----------
    family : {"binomial", "poisson", "gaussian"}, default="binomial"
        Distribution of the response.
    link : str or None, default=None
        Link function; None means the family's canonical link (logit for binomial, log for
        Poisson). Binomial also takes "probit" and "cloglog".
    formula : str or None, default=None
        A formula such as ``"y ~ x + C(g)"`` or ``"y ~ x + offset(np.log(t))"``; then ``fit``
        takes a DataFrame (pandas, polars, pyarrow, ...) and ``y`` may be omitted, or given
        equal to the response; a one-sided ``"~ x + C(g)"`` takes the response from ``y``.
        Text columns (object or ``string`` dtype) are factors; unused levels of a
        ``category`` column are dropped, as R does.
    solver : str, default="newton"
        Optimisation algorithm (see ``newtonglm.solvers.SOLVERS``).
    fit_intercept : bool, default=True
        Whether to add an intercept (with a formula, False removes the formula's intercept).
    tol : float, default=1e-8
        Convergence tolerance on the relative deviance change |D_k - D_{k-1}| / (|D_k| + 0.1).
    max_iter : int or None, default=None
        Maximum number of iterations; None means the solver's own default (100 for Newton,
        thousands for the gradient-descent solvers).
    learning_rate : float, default=0.1
        Fixed step η of ``solver="gd"`` on the mean negative log-likelihood (ignored by the
        other solvers).
    missing : {"raise", "drop"}, default="raise"
        Rows with NaN or inf: raise an error naming the columns, or drop them (``n_dropped_``).
    on_rank_deficient : {"raise", "drop"}, default="raise"
        Aliased columns: raise an error naming them, or drop them as R does (coefficients NaN).
    separation : {"warn", "drop"}, default="warn"
        When the Poisson MLE does not exist (counts of 0 that some columns fit at mean 0, e.g.
        a factor level whose counts are all 0): warn, naming the columns and the rows, and
        report the fit as not converged; or drop those rows and the coefficients only they
        identify and fit the rest (pyfixest's and ppmlhdfe's remedy; ``n_separated_`` counts
        the rows). Poisson only: a separated binomial fit warns (see ``PerfectSeparationWarning``).
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, default="nonrobust"
        Covariance of the coefficients behind ``cov_params_``, standard errors, intervals and
        Wald tests: the inverse information times the dispersion, a sandwich estimator as R's
        ``sandwich::vcovHC`` defines it for a glm, or one-way cluster-robust with the labels
        passed as ``fit(..., groups=...)`` (statsmodels' default small-sample factor
        G/(G-1) (n-1)/(n-p)). Definitions in :mod:`newtonglm.inference.robust`; ``with_cov``
        switches without refitting.
    scale : {None, "X2", "dev"} or float, default=None
        Dispersion φ: None is the family's own (1 for binomial and Poisson, the Pearson
        estimate for Gaussian); "X2" estimates it as Pearson χ² / df_resid and "dev" as
        deviance / df_resid (the quasi-binomial / quasi-Poisson fits; the coefficients do not
        change, standard errors scale by √φ); a number fixes it.
    information : {"expected", "observed"}, default="expected"
        Information matrix inverted for the covariance (and the bread of a sandwich). The two
        differ only for non-canonical links (probit, cloglog); "expected" is R's choice.
    sparse : {"auto", True, False}, default="auto"
        With ``formula``: build the design matrix as ``scipy.sparse`` (True), dense (False),
        or sparse when that is clearly smaller ("auto": e.g. a categorical with hundreds of
        levels). Without a formula, X is used as given: a scipy.sparse CSR or CSC X is fitted
        without densifying (other sparse formats are converted to CSR).
    verbose : int, default=0
        When positive, write one line per iteration to standard error.
    keep_data : bool, default=False
        Whether a pickle (or ``joblib.dump``) of the fitted model keeps the training rows. By
        default it keeps what prediction, ``summary``, ``coef_table``, intervals and Wald
        tests need (a few KB), and per-row statistics of the unpickled model (residuals,
        influence, ``with_cov``) raise ``DataRemovedError``; ``remove_data()`` drops the rows
        of a model in memory.

    Attributes
    ----------
    coef_ : ndarray of shape (n_coef,)
        Coefficients without the intercept (NaN for dropped aliased columns).
    intercept_ : float
        Intercept (0.0 when the model has none).
    history_ : pandas.DataFrame
        One row per iteration: iteration, deviance, grad_norm, step_norm, step_size, seconds.
    deviance_, null_deviance_, llf_, aic_, bic_, pearson_chi2_ : float
        Fit statistics, as R's ``glm`` and statsmodels' ``GLM`` report them.
    df_model_, df_resid_ : int
        Model and residual degrees of freedom.
    cov_params_ : pandas.DataFrame
        Covariance of all coefficients, as chosen by ``cov_type`` (by default the inverse
        Fisher information × scale).
    scale_ : float
        Dispersion used.
    n_iter_ : int
        Iterations taken. ``converged_`` : bool, whether the tolerance was met.
    n_passes_ : int
        Passes over X the fit made (start, evaluations, rank check).
    start_ : {"mustart", "subsample", "intercept"}
        Where the solver started: R's first IRLS iteration from ``mustart`` (one pass over X),
        or, with 200,000 rows or more in memory, an IRLS fit on a spread-out subsample of a
        tenth of the rows, 20,000 to 100,000 (see :mod:`newtonglm.fitting.start`), whose passes are
        not counted in ``n_passes_``, or, for a smaller Poisson (log link) fit with an
        intercept by ``solver="newton"``, the intercept-only estimate (no pass of its own).
        Whenever the start's Fisher information is not clearly full rank, R's start is used.
        (With ``solver="newton"`` on a dense design of 64 or more coefficients the subsample
        start's Fisher information is the subsample's, scaled to the data, and serves the
        first Newton step only.) Either way the result is the full-data maximum-likelihood
        estimate.
    convergence_order_, convergence_rate_ : float
        Empirical order q = log(e_{k+1}/e_k) / log(e_k/e_{k-1}) and linear rate e_{k+1}/e_k
        of the score's max-norm over the final iterations (NaN when too few iterations).
    """

    def __init__(
        self,
        *,
        family: str = "binomial",
        link: str | None = None,
        formula: str | None = None,
        solver: str = "newton",
        fit_intercept: bool = True,
        tol: float = 1e-8,
        max_iter: int | None = None,
        learning_rate: float = 0.1,
        missing: str = "raise",
        on_rank_deficient: str = "raise",
        separation: str = "warn",
        cov_type: str = "nonrobust",
        scale: str | float | None = None,
        information: str = "expected",
        sparse: bool | str = "auto",
        verbose: int = 0,
        keep_data: bool = False,
    ) -> None:
        self.family = family
        self.link = link
        self.formula = formula
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.missing = missing
        self.on_rank_deficient = on_rank_deficient
        self.separation = separation
        self.cov_type = cov_type
        self.scale = scale
        self.information = information
        self.sparse = sparse
        self.verbose = verbose
        self.keep_data = keep_data

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    def predict(
        self, X: Any, offset: Any = None, kind: str = "mean", *, exposure: Any = None
    ) -> FloatArray:
        """Predicted mean mu (``kind="mean"``) or linear predictor eta (``"linear"``).

        A formula model uses the offset of the new rows as at fit time; ``offset`` /
        ``exposure`` give it for arrays (see ``predict_linear``).
        """
        return self._predict_kind(X, offset, kind, exposure)

    score = BaseGLM.score  # deviance explained, not RegressorMixin's R²


class LogisticRegression(ClassifierMixin, BaseGLM):
    """Binomial GLM as a classifier (logit link by default), fitted by Newton / IRLS.

    Any response with exactly two classes works; ``classes_[1]`` is the "positive" class whose
    probability the model describes. Parameters are those of :class:`GLM` without ``family``
    (``cov_type``, ``scale`` and ``information`` included).
    """

    def __init__(
        self,
        *,
        link: str = "logit",
        formula: str | None = None,
        solver: str = "newton",
        fit_intercept: bool = True,
        tol: float = 1e-8,
        max_iter: int | None = None,
        learning_rate: float = 0.1,
        missing: str = "raise",
        on_rank_deficient: str = "raise",
        cov_type: str = "nonrobust",
        scale: str | float | None = None,
        information: str = "expected",
        sparse: bool | str = "auto",
        verbose: int = 0,
        keep_data: bool = False,
    ) -> None:
        self.link = link
        self.formula = formula
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.missing = missing
        self.on_rank_deficient = on_rank_deficient
        self.cov_type = cov_type
        self.scale = scale
        self.information = information
        self.sparse = sparse
        self.verbose = verbose
        self.keep_data = keep_data

    def _family(self) -> Family:
        return get_family("binomial", self.link)

    def _encode_response(self, y: Any, name: str) -> tuple[FloatArray, np.ndarray | None]:
        return encode_binary(y, name)

    def decision_function(self, X: Any, offset: Any = None, *, exposure: Any = None) -> FloatArray:
        """Linear predictor (log-odds for the logit link) of ``classes_[1]``."""
        return self._linear_predictor(X, offset, exposure)

    def predict_proba(self, X: Any, offset: Any = None, *, exposure: Any = None) -> FloatArray:
        """Class probabilities, shape (n_samples, 2), columns in the order of ``classes_``."""
        p = self.predict_mean(X, offset, exposure=exposure)
        if is_dask(p):
            from ..dask import predict as dask_predict

            return dask_predict.proba(p, self.classes_)  # type: ignore[no-any-return]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any, offset: Any = None, *, exposure: Any = None) -> np.ndarray:
        """Predicted class labels (``classes_[1]`` where its probability exceeds 0.5).

        A classifier's ``predict`` gives labels; the probability is ``predict_mean`` (or
        ``predict_proba``), the log-odds ``predict_linear`` (``decision_function``), and
        ``predict_interval`` gives both with standard errors and confidence intervals.
        """
        p = self.predict_mean(X, offset, exposure=exposure)
        if is_dask(p):
            from ..dask import predict as dask_predict

            classes = self.classes_
            return dask_predict.apply(  # type: ignore[no-any-return]
                p, lambda b: classes[(b > 0.5).astype(int)], classes.dtype
            )
        return np.asarray(self.classes_[(p > 0.5).astype(int)])

    def score(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        offset: Any = None,
        exposure: Any = None,
    ) -> float:
        """Mean accuracy of ``predict(X)`` against ``y`` (by default the formula's response).

        Offsets as for ``predict``: a formula model's from the rows scored, or as given.
        """
        y = response_of(self, X, y)
        predicted = self.predict(X, offset, exposure=exposure)
        return float(accuracy_score(y, predicted, sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class PoissonRegression(RegressorMixin, BaseGLM):
    """Poisson GLM (log link) for counts and rates, fitted by Newton / IRLS.

    Pass ``exposure=`` (or ``offset=np.log(exposure)``, or a formula term
    ``offset(np.log(exposure))``) to model rates. Parameters are those of :class:`GLM`
    without ``family`` and ``link``.
    """

    def __init__(
        self,
        *,
        formula: str | None = None,
        solver: str = "newton",
        fit_intercept: bool = True,
        tol: float = 1e-8,
        max_iter: int | None = None,
        learning_rate: float = 0.1,
        missing: str = "raise",
        on_rank_deficient: str = "raise",
        separation: str = "warn",
        cov_type: str = "nonrobust",
        scale: str | float | None = None,
        information: str = "expected",
        sparse: bool | str = "auto",
        verbose: int = 0,
        keep_data: bool = False,
    ) -> None:
        self.formula = formula
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.missing = missing
        self.on_rank_deficient = on_rank_deficient
        self.separation = separation
        self.cov_type = cov_type
        self.scale = scale
        self.information = information
        self.sparse = sparse
        self.verbose = verbose
        self.keep_data = keep_data

    def _family(self) -> Family:
        return get_family("poisson")

    def predict(
        self, X: Any, offset: Any = None, kind: str = "mean", *, exposure: Any = None
    ) -> FloatArray:
        """Predicted mean count (``kind="mean"``) or log-mean (``"linear"``) for new data.

        ``offset`` is e.g. the log exposure of the new rows, or pass ``exposure``; a formula
        model fitted with an offset or exposure column (or ``offset(...)`` terms) computes
        them from the new rows itself.
        """
        return self._predict_kind(X, offset, kind, exposure)

    score = BaseGLM.score  # deviance explained, as scikit-learn's PoissonRegressor scores

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags
