"""The scikit-learn estimators: GLM, LogisticRegression, PoissonRegression.

The estimator orchestrates and holds no maths: input → :class:`~newtonglm.design.Design`
(``design.py`` or ``formula.py``) → rank check → :class:`~newtonglm.objective.GLMObjective` →
solver → :func:`newtonglm.inference.compute` → fitted attributes.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import formula as formula_mod
from . import inference, kernel, rank
from ._typing import FloatArray
from .design import Design, as_vector, finalize, nonfinite_rows
from .diagnostics import (
    convergence_order,
    convergence_rate,
    describe_convergence,
    history_frame,
)
from .exceptions import (
    ConvergenceWarning,
    InvalidParameterError,
    InvalidResponseError,
    MissingValueError,
    PerfectSeparationWarning,
    RankDeficientError,
    RankDeficientWarning,
)
from .families import Binomial, Family, get_family
from .objective import GLMObjective, solve_normal_equations
from .separation import separating_columns
from .solvers import SOLVERS, IterationRecord, StopRule, get_solver
from .summary import Summary

__all__ = ["GLM", "LogisticRegression", "PoissonRegression"]


class _BaseGLM(BaseEstimator):
    """Shared fitting machinery; subclasses fix or expose the family."""

    _estimator_kind = "GLM"

    # -- parameters ---------------------------------------------------------------------
    def _family(self) -> Family:
        raise NotImplementedError

    def _check_params(self) -> None:
        if self.solver not in SOLVERS:
            raise InvalidParameterError(
                f"solver={self.solver!r} is not a known solver; use one of {sorted(SOLVERS)}."
            )
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise InvalidParameterError(f"tol must be a positive number; got {self.tol!r}.")
        if self.max_iter is not None and not (
            isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1
        ):
            raise InvalidParameterError(
                f"max_iter must be a positive integer or None; got {self.max_iter!r}."
            )
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise InvalidParameterError(
                f"learning_rate must be a positive number; got {self.learning_rate!r}."
            )
        for name, allowed in (
            ("missing", ("raise", "drop")),
            ("on_rank_deficient", ("raise", "drop")),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise InvalidParameterError(
                    f"{name}={value!r} is not accepted; use one of {list(allowed)}."
                )
        if self.formula is not None and not isinstance(self.formula, str):
            raise InvalidParameterError(
                "formula must be a string such as 'y ~ x + C(g)'; got "
                f"{type(self.formula).__name__}."
            )

    # -- response encoding (overridden by the classifier) -------------------------------
    def _encode_y(self, y: Any, name: str) -> FloatArray:
        return as_vector(y, name)

    def _check_design(self, design: Design) -> None:
        """Hook for estimator-specific checks of the validated design."""

    # -- input → Design -----------------------------------------------------------------
    def _design(self, X: Any, y: Any, sample_weight: Any, offset: Any) -> Design:
        if self.formula is not None:
            if y is not None:
                raise InvalidParameterError(
                    f"with formula={self.formula!r} the response comes from the data; call "
                    "fit(data) without y."
                )
            parts = formula_mod.build(
                self.formula,
                X,
                fit_intercept=self.fit_intercept,
                sample_weight=sample_weight,
                offset=offset,
                missing=self.missing,
            )
            self.model_spec_ = parts.spec
            used = sorted(v for v in parts.spec.required_variables if v in X.columns)
            self.feature_names_in_ = np.asarray(used, dtype=object)
            self.n_features_in_ = len(used)
            return finalize(
                parts.X,
                self._encode_y(parts.y, parts.response_name),
                parts.names,
                sample_weight=parts.sample_weight,
                offset=parts.offset,
                intercept_index=parts.intercept_index,
                response_name=parts.response_name,
                missing=self.missing,
                n_dropped=parts.n_dropped,
            )
        self.model_spec_ = None
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float64,
            ensure_all_finite=False,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        names = (
            [str(c) for c in self.feature_names_in_]
            if hasattr(self, "feature_names_in_")
            else [f"x{j}" for j in range(X.shape[1])]
        )
        y = self._encode_y(y, "y")
        if self.fit_intercept:
            X = np.column_stack([np.ones(X.shape[0]), X])
            names = ["intercept", *names]
        return finalize(
            X,
            y,
            names,
            sample_weight=sample_weight,
            offset=offset,
            intercept_index=0 if self.fit_intercept else None,
            missing=self.missing,
        )

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, offset: Any = None) -> _BaseGLM:
        """Fit the model by maximum likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or DataFrame
            Predictors; with ``formula``, the DataFrame holding every column it names.
        y : array-like of shape (n_samples,), optional
            Response; must be None with ``formula`` (the response comes from the data).
        sample_weight : array-like of shape (n_samples,) or str, optional
            Prior weights (for the binomial family with proportions: the number of trials).
            With ``formula``, a string names a column of ``X``.
        offset : array-like of shape (n_samples,) or str, optional
            Added to the linear predictor, e.g. ``log(exposure)`` for a Poisson rate model.

        Returns
        -------
        self
        """
        self._check_params()
        family = self._family()
        design = self._design(X, y, sample_weight, offset)
        family.check_y(design.y, design.response_name)
        self._check_design(design)
        objective = GLMObjective(family, design)
        gram, rhs = objective.initial_wls()
        kept = self._check_rank(design, gram)
        passes = 0
        fit_design = design
        if len(kept) < design.X.shape[1]:
            passes = objective.n_passes
            fit_design = _subset(design, kept)
            objective = GLMObjective(family, fit_design)
        # R's first iteration; for a subset of columns its normal equations are the sub-blocks.
        coef0 = solve_normal_equations(gram[np.ix_(kept, kept)], rhs[kept])
        solver = get_solver(self.solver, learning_rate=float(self.learning_rate))
        max_iter = solver.default_max_iter if self.max_iter is None else int(self.max_iter)
        stop = StopRule(tol=float(self.tol), max_iter=max_iter)
        result = solver.solve(objective, coef0, stop, self._callback())
        converged = result.converged
        notes: list[str] = []
        self.separation_ = None
        if isinstance(family, Binomial) and (result.final.n_boundary > 0 or not converged):
            self.separation_ = separating_columns(
                fit_design.X,
                fit_design.y,
                fit_design.weights,
                fit_design.names,
                fit_design.intercept_index,
            )
        if self.separation_:
            # The root cause of any convergence trouble: say that, not "increase max_iter".
            converged = False
            msg = (
                f"the data are (quasi-)completely separated by column(s) {self.separation_}: "
                "the maximum-likelihood estimate does not exist and the reported coefficients "
                "and standard errors are meaningless. Remove or merge those columns, or use "
                "penalised (Firth) regression."
            )
            warnings.warn(msg, PerfectSeparationWarning, stacklevel=2)
            notes.append(msg)
        elif not converged:
            warnings.warn(
                f"{self.solver} solver did not converge: {result.reason.value} after "
                f"{result.n_iter} iterations (tol={self.tol:g}). Increase max_iter, loosen "
                "tol, or try another solver; check the data for extreme values.",
                ConvergenceWarning,
                stacklevel=2,
            )
            notes.append(f"did not converge ({result.reason.value}).")
        # The null model is always fitted by Newton to the same tol, whatever solver and max_iter.
        null_dev = inference.null_deviance(family, design, StopRule(tol=float(self.tol)))
        inf = inference.compute(family, design, result.final, kept, null_dev)
        if len(kept) < design.X.shape[1]:
            dropped = [design.names[j] for j in range(design.X.shape[1]) if j not in set(kept)]
            notes.append(f"aliased column(s) {dropped} dropped; their coefficients are NaN.")

        self.family_ = family
        self.inference_ = inf
        # Kept for statistics computed after the fit (residuals, influence, robust covariance)
        # without refitting: the validated design (all columns) and the kept column indices.
        self._fit_design = design
        self._kept = tuple(kept)
        self.term_names_ = design.names
        self.n_iter_ = result.n_iter
        self.converged_ = converged
        self.stop_reason_ = result.reason
        self.history_ = history_frame(result.history)
        # Order and rate from the score's max-norm, the error proxy every solver records.
        self.convergence_order_ = convergence_order(self.history_["grad_norm"])
        self.convergence_rate_ = convergence_rate(self.history_["grad_norm"])
        self.n_passes_ = passes + objective.n_passes + self._rank_passes
        self.n_dropped_ = design.n_dropped
        self._notes = tuple(notes)
        self._set_coefficients(inf.coef, design.intercept_index)
        for attr in (
            "deviance",
            "null_deviance",
            "llf",
            "aic",
            "bic",
            "pearson_chi2",
            "df_model",
            "df_resid",
            "scale",
        ):
            setattr(self, f"{attr}_", getattr(inf, attr))
        self.nobs_ = inf.n_obs
        self.cov_params_ = pd.DataFrame(inf.cov, index=design.names, columns=design.names)
        return self

    def _check_rank(self, design: Design, gram: FloatArray) -> list[int]:
        d = design.X.shape[1]
        self._rank_passes = 0
        if rank.clearly_full_rank(gram):
            return list(range(d))
        # Near or exact collinearity: decide on a QR of X itself (one more pass), as R does.
        self._rank_passes = 1
        positive = design.weights > 0
        X = design.X if positive.all() else design.X[positive]
        aliased = rank.aliased_columns(kernel.r_factor(X))
        if not aliased:
            return list(range(d))
        names = [design.names[j] for j in aliased]
        if self.on_rank_deficient == "raise" or len(aliased) == d:
            raise RankDeficientError(
                f"the design matrix is rank deficient (rank {d - len(aliased)} < {d} columns, "
                f"n_samples = {X.shape[0]}): column(s) {names} are linear combinations of "
                "earlier columns. Remove them, or pass on_rank_deficient='drop' to drop them "
                "as R does."
            )
        warnings.warn(
            f"column(s) {names} are aliased (linear combinations of earlier columns) and were "
            "dropped; their coefficients and standard errors are NaN.",
            RankDeficientWarning,
            stacklevel=3,
        )
        return [j for j in range(d) if j not in set(aliased)]

    def _set_coefficients(self, coef: FloatArray, intercept_index: int | None) -> None:
        if intercept_index is None:
            self.intercept_ = 0.0
            self.coef_ = coef.copy()
        else:
            self.intercept_ = float(coef[intercept_index])
            self.coef_ = np.delete(coef, intercept_index)
        self._intercept_index = intercept_index

    def _callback(self) -> Any:
        if not self.verbose:
            return None

        def report(rec: IterationRecord) -> None:
            sys.stderr.write(
                f"[newtonglm] iter {rec.iteration:3d}  deviance {rec.deviance:.10g}  "
                f"|grad|max {rec.grad_norm:.3e}  step {rec.step_size:g}\n"
            )

        return report

    # -- prediction ---------------------------------------------------------------------
    def _linear_predictor(self, X: Any, offset: Any = None) -> FloatArray:
        check_is_fitted(self, "coef_")
        full = np.nan_to_num(self.inference_.coef)  # aliased (NaN) coefficients count as 0
        if self.model_spec_ is not None:
            Xd = formula_mod.transform(self.model_spec_, X)
            offs = formula_mod.resolve_column(offset, X, "offset")
        else:
            Xd = validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite=False)
            if nonfinite_rows(Xd).any():
                raise MissingValueError(
                    f"X contains NaN or inf in {int(nonfinite_rows(Xd).sum())} of "
                    f"{Xd.shape[0]} rows; predictions need complete rows."
                )
            if self._intercept_index is not None:
                Xd = np.column_stack([np.ones(Xd.shape[0]), Xd])
            offs = None if offset is None else as_vector(offset, "offset")
        if offs is not None and offs.shape[0] != Xd.shape[0]:
            raise MissingValueError(f"offset has {offs.shape[0]} rows but X has {Xd.shape[0]}.")
        return kernel.linear_predictor(Xd, full, offs)

    def predict_linear(self, X: Any, offset: Any = None) -> FloatArray:
        """Linear predictor eta = X coef + offset for new data."""
        return self._linear_predictor(X, offset)

    def predict_mean(self, X: Any, offset: Any = None) -> FloatArray:
        """Fitted mean mu = g⁻¹(eta) for new data."""
        eta = self._linear_predictor(X, offset)
        return np.asarray(self.family_.link.inverse(eta))

    # -- inference ----------------------------------------------------------------------
    def coef_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: coef, std_err, z, p_value and a (1 - alpha) Wald interval.

        Parameters
        ----------
        alpha : float, default=0.05
            One minus the confidence level of the interval.

        Returns
        -------
        pandas.DataFrame
            Indexed by term name (formulaic naming with a formula; ``intercept`` and the
            feature names without).
        """
        check_is_fitted(self, "coef_")
        return inference.coef_table(self.inference_, self.term_names_, alpha)

    def summary(self, alpha: float = 0.05) -> Summary:
        """A readable report of the fit: model, fit statistics, then the coefficient table."""
        check_is_fitted(self, "coef_")
        inf = self.inference_
        response = self.formula if self.formula is not None else "y"
        info = [
            ("Model", type(self).__name__),
            ("Formula", response),
            ("Family", self.family_.name),
            ("Link", self.family_.link.name),
            ("Solver", self.solver),
            ("Observations", inf.n_obs),
            ("Df model", inf.df_model),
            ("Df residuals", inf.df_resid),
            ("Scale", inf.scale),
            ("Iterations", self.n_iter_),
            ("Converged", bool(self.converged_)),
            (
                "Convergence",
                describe_convergence(self.convergence_order_, self.convergence_rate_),
            ),
            ("Deviance", inf.deviance),
            ("Null deviance", inf.null_deviance),
            ("Pearson chi2", inf.pearson_chi2),
            ("Log-likelihood", inf.llf),
            ("AIC", inf.aic),
            ("BIC", inf.bic),
        ]
        if self.n_dropped_:
            info.append(("Rows dropped (missing)", self.n_dropped_))
        return Summary.build(
            info,
            self.coef_table(alpha),
            self._notes,
            title=f"{type(self).__name__} — {self.family_.name}/{self.family_.link.name}",
        )

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Fraction of deviance explained, D² = 1 - D(y, mu) / D(y, mean(y))."""
        check_is_fitted(self, "coef_")
        if self.formula is not None:
            parts = formula_mod.build(self.formula, X, fit_intercept=self.fit_intercept)
            y = parts.y
        y = self._encode_y(y, "y")
        mu = self.predict_mean(X)
        w = np.ones_like(y) if sample_weight is None else as_vector(sample_weight, "sample_weight")
        fam = self.family_
        null_mu = np.full_like(y, float(w @ y) / float(w.sum()))
        dev_null = fam.deviance(y, fam.clip_mu(null_mu), w)
        dev = fam.deviance(y, fam.clip_mu(mu), w)
        return float(1.0 - dev / dev_null) if dev_null > 0 else float("nan")


def _subset(design: Design, kept: list[int]) -> Design:
    index = design.intercept_index
    return Design(
        X=np.asfortranarray(design.X[:, kept]),
        y=design.y,
        weights=design.weights,
        offset=design.offset,
        names=tuple(design.names[j] for j in kept),
        intercept_index=kept.index(index) if index is not None else None,
        response_name=design.response_name,
        n_dropped=design.n_dropped,
    )


class GLM(RegressorMixin, _BaseGLM):
    """Generalized linear model fitted by Newton's method / IRLS.

    Parameters
    ----------
    family : {"binomial", "poisson", "gaussian"}, default="binomial"
        Distribution of the response.
    link : str or None, default=None
        Link function; None means the family's canonical link (logit for binomial, log for
        Poisson). Binomial also takes "probit" and "cloglog".
    formula : str or None, default=None
        A formula such as ``"y ~ x + C(g)"``; then ``fit`` takes a DataFrame and no ``y``.
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
    verbose : int, default=0
        When positive, write one line per iteration to standard error.

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
        Covariance of all coefficients (inverse Fisher information × scale).
    n_iter_ : int
        Iterations taken. ``converged_`` : bool, whether the tolerance was met.
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
        verbose: int = 0,
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
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    def predict(self, X: Any, offset: Any = None) -> FloatArray:
        """Predicted mean mu for new data."""
        return self.predict_mean(X, offset)

    score = _BaseGLM.score  # deviance explained, not RegressorMixin's R²


class LogisticRegression(ClassifierMixin, _BaseGLM):
    """Binomial GLM as a classifier (logit link by default), fitted by Newton / IRLS.

    Any response with exactly two classes works; ``classes_[1]`` is the "positive" class whose
    probability the model describes. Parameters are those of :class:`GLM` without ``family``.
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
        verbose: int = 0,
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
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family("binomial", self.link)

    def _encode_y(self, y: Any, name: str) -> FloatArray:
        values = np.asarray(y)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        missing = np.asarray(pd.isna(values), dtype=bool)
        present = values[~missing]
        try:
            kind = type_of_target(present, input_name=name, raise_unknown=True)
        except ValueError as exc:
            raise InvalidResponseError(f"{exc} (LogisticRegression needs two classes).") from None
        if kind != "binary" or np.unique(present).shape[0] != 2:
            classes: Any = np.unique(present) if kind != "continuous" else []
            raise InvalidResponseError(
                f"Only binary classification is supported: LogisticRegression needs exactly "
                f"two classes in {name!r}; the type of the target is {kind!r}"
                + (f" with {len(classes)} class(es)" if kind != "continuous" else "")
                + ". For proportions or grouped data use GLM(family='binomial')."
            )
        classes = np.unique(present)
        self.classes_ = classes
        encoded = np.where(missing, np.nan, (values == classes[1]).astype(np.float64))
        return np.asarray(encoded, dtype=np.float64)

    def _check_design(self, design: Design) -> None:
        positive = design.weights > 0
        for label, value in zip(self.classes_, (0.0, 1.0), strict=True):
            if not (design.y[positive] == value).any():
                raise InvalidResponseError(
                    f"LogisticRegression needs both classes among rows with positive "
                    f"sample_weight; class {label!r} has none, so only one class is left."
                )

    def decision_function(self, X: Any, offset: Any = None) -> FloatArray:
        """Linear predictor (log-odds for the logit link) of ``classes_[1]``."""
        return self._linear_predictor(X, offset)

    def predict_proba(self, X: Any, offset: Any = None) -> FloatArray:
        """Class probabilities, shape (n_samples, 2), columns in the order of ``classes_``."""
        p = self.predict_mean(X, offset)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Predicted class labels (``classes_[1]`` where its probability exceeds 0.5)."""
        p = self.predict_mean(X, offset)
        return np.asarray(self.classes_[(p > 0.5).astype(int)])

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Mean accuracy on the given data."""
        if self.formula is not None:
            y = formula_mod.build(self.formula, X, fit_intercept=self.fit_intercept).y
        return float(ClassifierMixin.score(self, X, y, sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class PoissonRegression(RegressorMixin, _BaseGLM):
    """Poisson GLM (log link) for counts and rates, fitted by Newton / IRLS.

    Pass ``offset=np.log(exposure)`` to model rates. Parameters are those of :class:`GLM`
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
        verbose: int = 0,
    ) -> None:
        self.formula = formula
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.missing = missing
        self.on_rank_deficient = on_rank_deficient
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family("poisson")

    def predict(self, X: Any, offset: Any = None) -> FloatArray:
        """Predicted mean count for new data (``offset`` e.g. log exposure)."""
        return self.predict_mean(X, offset)

    score = _BaseGLM.score  # deviance explained, as scikit-learn's PoissonRegressor scores

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags
