"""The scikit-learn estimators: GLM, LogisticRegression, PoissonRegression.

The estimator orchestrates and holds no maths: input → :class:`~newtonglm.design.Design`
(``design.py`` or ``formula.py``) → rank check → :class:`~newtonglm.objective.GLMObjective` →
solver → :func:`newtonglm.inference.compute` → fitted attributes. After the fit, residuals,
influence (``residuals.py``), robust covariances (``robust.py``), prediction intervals and Wald
tests (``model_tests.py``) are computed from the stored design without refitting.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from . import formula as formula_mod
from . import inference, kernel, model_tests, parallel, rank, residuals, robust
from ._typing import FloatArray
from .design import Design, as_vector, finalize, nonfinite_rows, require_finite_x
from .diagnostics import (
    convergence_order,
    convergence_rate,
    describe_convergence,
    history_frame,
)
from .exceptions import (
    ConvergenceWarning,
    InvalidGroupsError,
    InvalidParameterError,
    InvalidResponseError,
    MissingValueError,
    PerfectSeparationWarning,
    RankDeficientError,
    RankDeficientWarning,
    SeparationCheckWarning,
)
from .families import Binomial, Family, Poisson, get_family
from .matrix import SparseMatrix, as_matrix
from .objective import Evaluation, GLMObjective, solve_normal_equations
from .separation import separating_columns
from .solvers import SOLVERS, IterationRecord, StopReason, StopRule, get_solver
from .start import intercept_start, subsample_start
from .summary import Summary

__all__ = ["GLM", "LogisticRegression", "PoissonRegression"]

#: Sparse formats taken as they are; any other scipy.sparse format is converted to the first.
_SPARSE_FORMATS = ["csr", "csc"]
#: Largest n·d for which the separation check materialises a sparse design (160 MB).
SEPARATION_MAX_CELLS = 20_000_000


class _BaseGLM(BaseEstimator):
    """Shared fitting machinery; subclasses fix or expose the family."""

    _estimator_kind = "GLM"

    # -- parameters ---------------------------------------------------------------------
    def _family(self) -> Family:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse CSR / CSC X is fitted without densifying
        return tags

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
        if not (isinstance(self.sparse, bool) or self.sparse == "auto"):
            raise InvalidParameterError(
                f"sparse={self.sparse!r} is not accepted; use 'auto', True or False."
            )
        if self.formula is not None and not isinstance(self.formula, str):
            raise InvalidParameterError(
                "formula must be a string such as 'y ~ x + C(g)'; got "
                f"{type(self.formula).__name__}."
            )
        self._check_cov_params(self.cov_type)

    def _check_cov_params(self, cov_type: Any) -> None:
        inference.check_options(cov_type, self.scale, self.information)

    # -- response encoding (overridden by the classifier) -------------------------------
    def _encode_y(self, y: Any, name: str) -> FloatArray:
        return as_vector(y, name)

    def _check_design(self, design: Design) -> None:
        """Hook for estimator-specific checks of the validated design."""

    # -- cluster labels -----------------------------------------------------------------
    @staticmethod
    def _group_labels(groups: Any, data: Any) -> np.ndarray:
        """Cluster labels as a 1-d array; a string names a column of the DataFrame ``data``."""
        if isinstance(groups, str):
            if not isinstance(data, pd.DataFrame) or groups not in data.columns:
                raise InvalidGroupsError(
                    f"groups={groups!r} names no column of the data; a column name works with "
                    "a DataFrame passed to fit(), otherwise pass the cluster labels themselves."
                )
            return np.asarray(data[groups].to_numpy())
        labels = np.asarray(groups)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise InvalidGroupsError(
                f"groups must be one label per row (one-way clustering); got shape {labels.shape}."
            )
        return labels

    def _group_codes(self, groups: Any, data: Any, design: Design) -> np.ndarray | None:
        """Cluster labels → integer codes aligned with the rows of ``design``.

        The labels may be given for the rows fitted or, when ``missing='drop'`` removed rows,
        for the rows passed to ``fit`` (then the labels of the dropped rows are discarded).
        """
        if groups is None:
            return None
        labels = self._group_labels(groups, data)
        kept, n_fit = design.kept_rows, design.X.shape[0]
        if kept is not None and labels.shape[0] == kept.shape[0]:
            labels = labels[kept]
        elif kept is not None and labels.shape[0] != n_fit:
            raise InvalidGroupsError(
                f"groups has {labels.shape[0]} labels but fit() was given {kept.shape[0]} rows, "
                f"of which missing='drop' kept {n_fit}; pass one cluster label per row given "
                "(or per row kept)."
            )
        return robust.cluster_codes(labels, n_fit)

    def _design_and_groups(
        self, X: Any, y: Any, sample_weight: Any, offset: Any, groups: Any
    ) -> tuple[Design, np.ndarray | None]:
        """The design and the cluster codes of its rows.

        ``groups`` holds one label per row passed to ``fit``. Rows whose label is missing are
        refused, or, with ``missing='drop'``, removed before the design is built (as rows with
        NaN in the data are) and counted in ``n_dropped_``.
        """
        if groups is None:
            return self._design(X, y, sample_weight, offset, check_x=False), None
        labels = self._group_labels(groups, X)
        n_rows = len(X) if not hasattr(X, "shape") else int(X.shape[0])
        absent = np.asarray(pd.isna(labels), dtype=bool)
        if labels.shape[0] != n_rows or not absent.any():
            # Complete labels, or labels for the rows kept: checked against the design.
            design = self._design(X, y, sample_weight, offset, check_x=False)
            return design, self._group_codes(labels, None, design)
        if self.missing != "drop":
            raise InvalidGroupsError(
                f"groups has no label in {int(absent.sum())} of {n_rows} rows (first at row "
                f"{int(np.flatnonzero(absent)[0])}); every row needs a cluster label. Label "
                "them, or pass missing='drop' to drop those rows."
            )
        keep = ~absent
        Xk, yk, wk, ok = (_take_rows(v, keep) for v in (X, y, sample_weight, offset))
        design = self._design(Xk, yk, wk, ok, check_x=False)
        kept = keep.copy()
        if design.kept_rows is not None:
            kept[keep] = design.kept_rows
        design = dataclasses.replace(
            design, n_dropped=design.n_dropped + int(absent.sum()), kept_rows=kept
        )
        return design, self._group_codes(labels, None, design)

    def _cov_options(self, cov_type: str, codes: np.ndarray | None) -> inference.CovOptions:
        if cov_type == "cluster" and codes is None:
            raise InvalidGroupsError(
                "cov_type='cluster' needs cluster labels: pass groups= (one label per row)."
            )
        if cov_type != "cluster" and codes is not None:
            raise InvalidParameterError(
                f"groups= is used only with cov_type='cluster'; got cov_type={cov_type!r}."
            )
        return inference.CovOptions(
            cov_type=cov_type,
            scale=self.scale,
            information=self.information,
            groups=codes,
        )

    # -- input → Design -----------------------------------------------------------------
    def _design(
        self, X: Any, y: Any, sample_weight: Any, offset: Any, check_x: bool = True
    ) -> Design:
        """The validated design.

        ``check_x=False`` leaves X's NaN/inf check to the fit's first pass (see
        :func:`~newtonglm.design.require_finite_x`; array input only).
        """
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
                sparse=self.sparse,
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
                kept_rows=parts.kept_rows,
            )
        self.model_spec_ = None
        if _plain_arrays(X, y):
            # What validate_data would conclude, without its ~0.4 ms of checks (a fifth of a
            # 10,000-row fit): arrays carry no feature names, and nothing needs converting.
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            X, y = validate_data(
                self,
                X,
                y,
                dtype=np.float64,
                accept_sparse=_SPARSE_FORMATS,
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
            names = ["intercept", *names]
        # The intercept column stays implicit: X is used as validated, never copied.
        return finalize(
            X,
            y,
            names,
            sample_weight=sample_weight,
            offset=offset,
            intercept_index=0 if self.fit_intercept else None,
            missing=self.missing,
            implicit_intercept=bool(self.fit_intercept),
            check_x=check_x,
        )

    # -- Dask input → Design (chunks stay distributed; see dask_backend) -----------------
    def _dask_design(
        self, X: Any, y: Any, sample_weight: Any, offset: Any, groups: Any, family: Family
    ) -> Design:
        from . import dask_design

        dask_design.check_cov(self.cov_type, self.information, family, groups)
        if self.missing != "raise":
            raise InvalidParameterError(
                f"missing={self.missing!r} is not supported with Dask inputs; drop incomplete "
                "rows first (e.g. data.dropna()) and fit with missing='raise'."
            )
        encode = self._encode_y if isinstance(self, ClassifierMixin) else None
        if self.formula is not None:
            if y is not None:
                raise InvalidParameterError(
                    f"with formula={self.formula!r} the response comes from the data; call "
                    "fit(data) without y."
                )
            if not hasattr(X, "map_partitions"):
                raise InvalidParameterError(
                    f"with formula={self.formula!r} and Dask, X must be a dask.dataframe "
                    f"DataFrame; got {type(X).__name__}."
                )
            built = dask_design.from_dataframe(
                self.formula,
                X,
                fit_intercept=self.fit_intercept,
                family=family,
                sample_weight=sample_weight,
                offset=offset,
                encode_y=encode,
            )
            self.model_spec_ = built.spec
            self.feature_names_in_ = np.asarray(built.used, dtype=object)
            self.n_features_in_ = len(built.used)
            return built.design
        self.model_spec_ = None
        design = dask_design.from_arrays(
            X,
            y,
            sample_weight,
            offset,
            fit_intercept=bool(self.fit_intercept),
            family=family,
            encode_y=encode,
        )
        self.n_features_in_ = design.X.shape[1] - int(bool(self.fit_intercept))
        return design

    # -- fit ----------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        offset: Any = None,
        groups: Any = None,
    ) -> _BaseGLM:
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
        groups : array-like of shape (n_samples,) or str, optional
            Cluster labels for ``cov_type="cluster"`` (any hashable values); with a DataFrame,
            a string names a column of ``X``. With ``missing="drop"``, rows dropped for
            missing values lose their label, and rows without a label (None, NaN) are dropped.

        Returns
        -------
        self
        """
        # Once a pass runs its row blocks on threads, BLAS stays single-threaded to the end of
        # the fit (see parallel.py).
        with parallel.fit_scope():
            return self._fit(X, y, sample_weight, offset, groups)

    def _fit(self, X: Any, y: Any, sample_weight: Any, offset: Any, groups: Any) -> _BaseGLM:
        self._check_params()
        family = self._family()
        distributed = _is_dask(X, y, sample_weight, offset)
        if distributed:
            design = self._dask_design(X, y, sample_weight, offset, groups, family)
            options = self._cov_options(self.cov_type, None)
        else:
            design, codes = self._design_and_groups(X, y, sample_weight, offset, groups)
            family.check_y(design.y, design.response_name)
            self._check_design(design)
            options = self._cov_options(self.cov_type, codes)
        objective, fit_design, kept, coef0, passes = self._start(family, design)
        solver = get_solver(self.solver, learning_rate=float(self.learning_rate))
        max_iter = solver.default_max_iter if self.max_iter is None else int(self.max_iter)
        stop = StopRule(tol=float(self.tol), max_iter=max_iter)
        result = solver.solve(objective, coef0, stop, self._callback())
        if not result.final.hess_exact:
            # No step taken from a subsample start: the Fisher information for inference.
            result = dataclasses.replace(result, final=objective.evaluate(result.coef))
        converged = result.converged
        notes: list[str] = []
        self.separation_ = None
        if distributed:
            if isinstance(family, Binomial) and result.final.n_boundary > 0:
                # The separation check needs X on the client; on Dask only the symptom is
                # reported (and a non-convergence warning follows, if any).
                msg = (
                    f"{result.final.n_boundary} fitted probabilities are numerically 0 or 1: "
                    "the data may be (quasi-)completely separated (the separation check is not "
                    "run on Dask inputs); look at the coefficients with large standard errors."
                )
                warnings.warn(msg, PerfectSeparationWarning, stacklevel=2)
                notes.append(msg)
        elif isinstance(family, Binomial) and (result.final.n_boundary > 0 or not converged):
            self.separation_ = _separation(fit_design, notes)
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
                f"{result.n_iter} iterations (tol={self.tol:g}). {_advice(result.reason)}",
                ConvergenceWarning,
                stacklevel=2,
            )
            notes.append(f"did not converge ({result.reason.value}).")
        # The null model is always fitted by Newton to the same tol, whatever solver and max_iter.
        null_dev = inference.null_deviance(family, design, StopRule(tol=float(self.tol)))
        inf = inference.compute(family, design, result.final, kept, null_dev, options)
        if len(kept) < design.X.shape[1]:
            dropped = [design.names[j] for j in range(design.X.shape[1]) if j not in set(kept)]
            notes.append(f"aliased column(s) {dropped} dropped; their coefficients are NaN.")

        self.family_ = family
        # Kept for statistics computed after the fit (residuals, influence, robust covariance)
        # without refitting: the validated design (all columns), the kept column indices, the
        # solver's final evaluation (coefficients and Fisher information on the kept columns)
        # and the cluster codes.
        self._fit_design = design
        self._kept = tuple(kept)
        self._final = result.final
        self._groups = options.groups
        self.term_names_ = design.names
        self.n_iter_ = result.n_iter
        self.converged_ = converged
        self.stop_reason_ = result.reason
        self._history = result.history
        self._history_frame = None
        # Order and rate from the score's max-norm, the error proxy every solver records.
        grad_norms = [rec.grad_norm for rec in result.history]
        self.convergence_order_ = convergence_order(grad_norms)
        self.convergence_rate_ = convergence_rate(grad_norms)
        self.n_passes_ = passes + objective.n_passes + self._rank_passes
        self.n_dropped_ = design.n_dropped
        self._notes = tuple(notes)
        self._set_coefficients(inf.coef, design.intercept_index)
        self._set_inference(inf)
        return self

    def _set_inference(self, inf: inference.Inference) -> None:
        self.inference_ = inf
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
        self._cov_frame = None

    # history_ and cov_params_ are DataFrames built on first access: making them in fit cost
    # ~0.6 ms, a seventh of a whole 10,000 x 10 fit.
    @property
    def history_(self) -> pd.DataFrame:
        """One row per iteration (see the class docstring); built on first access."""
        if "_history" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no history_ before fit()")
        if self._history_frame is None:
            self._history_frame = history_frame(self._history)
        return self._history_frame

    @property
    def cov_params_(self) -> pd.DataFrame:
        """Covariance of the coefficients, labelled by term; built on first access."""
        if "inference_" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no cov_params_ before fit()")
        if self._cov_frame is None:
            names = self._fit_design.names
            self._cov_frame = pd.DataFrame(self.inference_.cov, index=names, columns=names)
        return self._cov_frame

    def with_cov(self, cov_type: str, groups: Any = None) -> _BaseGLM:
        """A copy of this fitted model with the covariance recomputed, without refitting.

        The coefficients, deviance and every other fit statistic are shared; ``cov_params_``,
        the standard errors, the coefficient table, confidence and prediction intervals and
        Wald tests of the copy use ``cov_type``. This model is left unchanged.

        Parameters
        ----------
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
            Covariance type (see the class docstring).
        groups : array-like of shape (n_samples,), optional
            Cluster labels for ``cov_type="cluster"``, one per row given to ``fit`` or one per
            row fitted (after ``missing="drop"``); None reuses the labels given to ``fit``.

        Returns
        -------
        estimator
            A copy of the same class with ``cov_type`` set to ``cov_type``.
        """
        check_is_fitted(self, "coef_")
        self._check_cov_params(cov_type)
        if _is_distributed(self._fit_design.X):
            from . import dask_design

            dask_design.check_cov(cov_type, self.information, self.family_, groups)
        codes = self._group_codes(groups, None, self._fit_design)
        stored = codes if codes is not None else self._groups
        options = self._cov_options(cov_type, stored if cov_type == "cluster" else codes)
        new = copy.copy(self)
        new.cov_type = cov_type
        new._groups = stored
        new._set_inference(
            inference.compute(
                self.family_,
                self._fit_design,
                self._final,
                self._kept,
                self.inference_.null_deviance,
                options,
            )
        )
        return new

    def _start(
        self, family: Family, design: Design
    ) -> tuple[GLMObjective, Design, list[int], FloatArray, int]:
        """Where the solver starts, and the rank check on the way.

        Returns the objective to minimise (on the kept columns), its design, the kept column
        indices, the starting coefficients and the passes made by objectives left behind.
        Sets ``start_`` and ``_rank_passes``. A start evaluated here (subsample or intercept)
        is handed to the solver as its first evaluation (``GLMObjective.prime``).
        """
        objective = GLMObjective(family, design)
        d = design.X.shape[1]

        def usable(start: Evaluation | None) -> bool:
            # Non-finite sums: X's NaN/inf check is left to R's start pass below. (A finite
            # deviance and score of a full pass prove X finite: a NaN or inf entry makes its
            # row's eta, and so both, non-finite.)
            return start is not None and start.hess is not None and start.finite

        # Large data: start from a fit on a subsample (fewer passes over X); its Fisher
        # information, clearly full rank, also settles the rank check (the full data's, or for
        # Newton the subsample's: full rank on a subset of the rows is full rank on all of
        # them). Otherwise R's start, whose pass makes that check. Newton on a wide design takes
        # its first step with the subsample's curvature, which spares that full pass the Gram.
        start = subsample_start(family, design, objective, newton=self.solver == "newton")
        self.start_ = "subsample"
        if start is not None and not (
            usable(start) and start.hess is not None and rank.clearly_full_rank(start.hess)
        ):
            start = None
        if start is None and self.solver == "newton":
            # Poisson: the intercept-only estimate, a pass sooner than R's start. Newton only:
            # a first-order or quasi-Newton solver gains more from R's start, which is itself
            # a weighted least-squares step (lbfgs at 100,000 x 20 Poisson: 33 iterations from
            # the intercept-only estimate, 31 from R's start, and a coefficient 2.7e-6 of its
            # standard error from the MLE, 1.8e-6 from R's start: tol bounds the gradient).
            start = intercept_start(family, design, objective)
            self.start_ = "intercept"
            if not usable(start):
                start = None
        if start is not None:
            assert start.hess is not None
            kept = self._check_rank(design, start.hess)
        else:
            self.start_ = "mustart"
            gram, rhs = objective.initial_wls()
            if not (np.isfinite(np.diag(gram)).all() and np.isfinite(rhs).all()):
                # X's NaN/inf check was left to this first full pass (a finite subsample
                # start would have proved X finite as well: its pass is over all of X).
                require_finite_x(design)
            kept = self._check_rank(design, gram)
        passes = 0
        fit_design = design
        if len(kept) < d:
            passes = objective.n_passes
            fit_design = _subset(design, kept)
            objective = GLMObjective(family, fit_design)
            # The start a fit of the kept columns alone makes.
            if start is not None:
                start = intercept_start(family, fit_design, objective)
                if not usable(start):
                    self.start_ = "mustart"
                    return objective, fit_design, kept, objective.initial_coef(), passes
        if start is not None:
            objective.prime(start)
            return objective, fit_design, kept, start.coef, passes
        # R's first iteration; for a subset of columns its normal equations are sub-blocks.
        if len(kept) < d:
            gram, rhs = gram[np.ix_(kept, kept)], rhs[kept]
        coef0 = solve_normal_equations(gram, rhs)
        return objective, fit_design, kept, coef0, passes

    def _check_rank(self, design: Design, gram: FloatArray) -> list[int]:
        d = design.X.shape[1]
        self._rank_passes = 0
        if rank.clearly_full_rank(gram):
            return list(range(d))
        # Near or exact collinearity: decide on a QR of X itself (one more pass), as R does.
        self._rank_passes = 1
        if _is_distributed(design.X):  # TSQR over the chunks' rows with positive weight
            from . import dask_backend

            r, n_rows = dask_backend.r_factor_positive(design.X)  # type: ignore[arg-type]
        else:
            positive = design.weights > 0
            X = design.X if positive.all() else design.X.select_rows(positive)
            r, n_rows = kernel.r_factor(X), X.shape[0]
        aliased = rank.aliased_columns(r)
        if not aliased:
            return list(range(d))
        names = [design.names[j] for j in aliased]
        if self.on_rank_deficient == "raise" or len(aliased) == d:
            raise RankDeficientError(
                f"the design matrix is rank deficient (rank {d - len(aliased)} < {d} columns, "
                f"n_samples = {n_rows}): column(s) {names} are linear combinations of "
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
            # Slices rather than np.delete (~15 µs of bookkeeping for a small fit).
            self.coef_ = np.concatenate((coef[:intercept_index], coef[intercept_index + 1 :]))
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
        if _is_dask(X, offset):  # a lazy Dask array (or Series, for a Dask DataFrame)
            from . import dask_design

            check_is_fitted(self, "coef_")
            coef = np.nan_to_num(self.inference_.coef)
            implicit = self.model_spec_ is None and self._intercept_index is not None
            return dask_design.predict_linear(  # type: ignore[no-any-return]
                X, offset, coef, implicit, self.model_spec_
            )
        Xd, offs = self._new_design(X, offset)
        full = np.nan_to_num(self.inference_.coef)  # aliased (NaN) coefficients count as 0
        return kernel.linear_predictor(Xd, full, offs)

    def _new_design(self, X: Any, offset: Any = None) -> tuple[FloatArray, FloatArray | None]:
        """New data → (design matrix with every fitted column, offset), as at fit time."""
        check_is_fitted(self, "coef_")
        if self.model_spec_ is not None:
            Xd = formula_mod.transform(self.model_spec_, X)
            offs = formula_mod.resolve_column(offset, X, "offset")
        else:
            Xd = validate_data(
                self,
                X,
                dtype=np.float64,
                accept_sparse=_SPARSE_FORMATS,
                reset=False,
                ensure_all_finite=False,
            )
            if nonfinite_rows(Xd).any():
                raise MissingValueError(
                    f"X contains NaN or inf in {int(nonfinite_rows(Xd).sum())} of "
                    f"{Xd.shape[0]} rows; predictions need complete rows."
                )
            Xd = as_matrix(Xd, intercept=self._intercept_index is not None)  # type: ignore[assignment]
            offs = None if offset is None else as_vector(offset, "offset")
        if offs is not None and offs.shape[0] != Xd.shape[0]:
            raise MissingValueError(f"offset has {offs.shape[0]} rows but X has {Xd.shape[0]}.")
        return Xd, offs

    def predict_linear(self, X: Any, offset: Any = None) -> FloatArray:
        """Linear predictor eta = X coef + offset for new data."""
        return self._linear_predictor(X, offset)

    def predict_mean(self, X: Any, offset: Any = None) -> FloatArray:
        """Fitted mean mu = g⁻¹(eta) for new data."""
        eta = self._linear_predictor(X, offset)
        if _is_dask(eta):
            from . import dask_design

            return dask_design.apply(eta, self.family_.link.inverse)  # type: ignore[no-any-return]
        return np.asarray(self.family_.link.inverse(eta))

    def _predict_kind(self, X: Any, offset: Any, kind: str) -> FloatArray:
        if kind == "mean":
            return self.predict_mean(X, offset)
        if kind == "linear":
            return self.predict_linear(X, offset)
        raise InvalidParameterError(
            f"kind={kind!r} is not accepted; use 'mean' (mu = g^-1(eta)) or 'linear' (eta)."
        )

    def predict_interval(self, X: Any, offset: Any = None, alpha: float = 0.05) -> pd.DataFrame:
        """Predictions with standard errors and (1 - alpha) confidence intervals.

        On the link scale, ``linear = xᵀβ + offset`` with ``linear_se = √(xᵀ V x)`` (V the
        chosen covariance, ``cov_params_``) and the normal interval ``linear ± z linear_se``.
        On the response scale, ``mean = g⁻¹(linear)``, ``mean_se = |dμ/dη| linear_se`` (delta
        method) and the interval is the link-scale interval transformed by g⁻¹, so it stays
        inside the range of the mean — as statsmodels' ``get_prediction`` computes them.

        Parameters
        ----------
        X : array-like or DataFrame
            New data, as for ``predict`` (with a formula, a DataFrame through the fitted spec).
        offset : array-like of shape (n_samples,) or str, optional
            Offset of the new rows (e.g. log exposure).
        alpha : float, default=0.05
            One minus the confidence level.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`newtonglm.inference.PREDICTION_COLUMNS`, one row per row of ``X``
            (its index when ``X`` is a DataFrame).
        """
        check_is_fitted(self, "coef_")
        inference.check_alpha(alpha)
        Xd, offs = self._new_design(X, offset)
        kept = list(self._kept)
        Xk = as_matrix(Xd).take_columns(kept)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(Xd.shape[0])
        return inference.prediction_frame(
            self.inference_, kept, self.family_.link, Xk, offs, alpha, index
        )

    # -- residuals and influence --------------------------------------------------------
    def _fitted_parts(self) -> tuple[Design, FloatArray, FloatArray]:
        check_is_fitted(self, "coef_")
        if _is_distributed(self._fit_design.X):
            raise InvalidParameterError(
                "residuals and influence are per-row statistics of the training data and are "
                "not computed for a Dask fit; use predict() on the Dask data instead."
            )
        assert self._final.hess is not None
        design = inference.subset_design(self._fit_design, self._kept)
        return design, self._final.coef, self._final.hess

    def residuals(self, kind: str = "deviance") -> FloatArray:
        """Residuals on the training rows (after any ``missing='drop'``).

        Parameters
        ----------
        kind : str, default="deviance"
            ``"response"`` y - μ; ``"working"`` (y - μ) dη/dμ; ``"pearson"``
            √w (y - μ) / √V(μ); ``"deviance"`` sign(y - μ) √(w d(y, μ)); ``"anscombe"``
            √w (A(y) - A(μ)) / V(μ)^(1/6); ``"studentized_deviance"`` and
            ``"studentized_pearson"``, the deviance or Pearson residual over √(φ (1 - h))
            (internally studentized, R's ``rstandard``), with h the leverage.

        Returns
        -------
        ndarray of shape (n_samples,)
            As R's ``residuals.glm`` and statsmodels' ``resid_*`` define them; the Pearson,
            deviance and Anscombe residuals are not divided by the dispersion.
        """
        design, coef, fisher = self._fitted_parts()
        return residuals.residuals(self.family_, design, coef, fisher, self.inference_.scale, kind)

    def influence(self) -> pd.DataFrame:
        """Leverage and influence of each training row, without forming the n × n hat matrix.

        Returns
        -------
        pandas.DataFrame
            One row per training observation; columns ``hat`` (leverage of the IRLS weighted
            design), ``cooks_distance``, ``studentized_deviance``, ``studentized_pearson``
            and ``dfbeta_<term>`` (one-step β̂ - β̂₍₋ᵢ₎, NaN for aliased terms). Definitions in
            :mod:`newtonglm.residuals`; all from the expected information, as R's
            ``influence.measures`` and statsmodels' ``get_influence(observed=False)``.
        """
        design, coef, fisher = self._fitted_parts()
        return residuals.influence(
            self.family_,
            design,
            coef,
            fisher,
            self.inference_.scale,
            self.term_names_,
            self._kept,
        )

    def wald_test(self, hypothesis: str | list[str]) -> model_tests.HypothesisTestResult:
        """Wald test of linear hypotheses on named terms, e.g. ``"x1 = 0, x2 = x3"``.

        Uses the chosen covariance (``cov_params_``) and a χ² reference, as statsmodels'
        ``wald_test(..., scalar=True)`` for a GLM; see :func:`newtonglm.model_tests.wald_test`
        for the grammar.

        Returns
        -------
        HypothesisTestResult
            ``statistic``, ``df``, ``p_value``.
        """
        check_is_fitted(self, "coef_")
        return model_tests.wald_test(self.inference_, self.term_names_, hypothesis)

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
        """A readable report of the fit: model, fit statistics, then the coefficient table.

        The header names the covariance the standard errors use and how the dispersion was
        obtained; for a Poisson fit it shows Pearson χ²/df and notes overdispersion (see
        :func:`newtonglm.inference.overdispersion`).
        """
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
            ("Scale", f"{inf.scale:.6g} ({inf.scale_label})"),
            ("Covariance", inf.cov_label),
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
        notes = list(self._notes)
        if isinstance(self.family_, Poisson):
            check = inference.overdispersion(inf)
            info.append(("Pearson chi2/df", check.ratio))
            if check.flagged:
                notes.append(check.note(accounted=inf.cov_type != "nonrobust" or inf.scale != 1))
        return Summary.build(
            info,
            self.coef_table(alpha),
            notes,
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


def _advice(reason: StopReason) -> str:
    """What to try after a solver stopped for ``reason``."""
    if reason in (StopReason.DIVERGED, StopReason.NON_FINITE):
        return (
            "Use a smaller learning_rate (solver='gd'), or a solver that adapts its step "
            "('newton', 'gd-optimal', 'lbfgs'); check the data for extreme values."
        )
    return (
        "Increase max_iter, loosen tol, or try another solver; check the data for extreme values."
    )


def _is_dask(*values: Any) -> bool:
    """Whether any input is a Dask collection (without importing Dask when it is not loaded)."""
    if sys.modules.get("dask") is None:  # never imported (or blocked): no Dask input possible
        return False
    from .dask_backend import is_dask

    return is_dask(*values)


def _is_distributed(X: Any) -> bool:
    return bool(getattr(X, "is_distributed", False))


def _take_rows(value: Any, keep: np.ndarray) -> Any:
    """The rows ``keep`` of a fit input; None and column names (str) pass through."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.iloc[keep]
    return np.asarray(value)[keep]


def _separation(design: Design, notes: list[str]) -> list[str] | None:
    """Run the separation check; a sparse design is materialised only when it is small."""
    X = design.X
    n, d = X.shape
    if isinstance(X, SparseMatrix) and n * d > SEPARATION_MAX_CELLS:
        msg = (
            f"the separation check was skipped: it needs the sparse design ({n} x {d}) as a "
            f"dense array of {n * d * 8 / 2**20:.0f} MiB. Fitted probabilities at 0 or 1 or a "
            "failure to converge may mean (quasi-)complete separation; check the columns with "
            "the largest standard errors."
        )
        warnings.warn(msg, SeparationCheckWarning, stacklevel=3)
        notes.append(msg)
        return None
    return separating_columns(
        np.asarray(X), design.y, design.weights, design.names, design.intercept_index
    )


def _subset(design: Design, kept: list[int]) -> Design:
    return inference.subset_design(design, kept)


def _plain_arrays(X: Any, y: Any) -> bool:
    """Whether ``validate_data`` would pass X and y through unchanged and without a word.

    A 2-D float64 NumPy X with at least one row and column, and a 1-D NumPy y of numbers, as
    long, all finite (sklearn rejects a non-finite y itself; that path keeps its message).
    """
    return (
        type(X) is np.ndarray
        and type(y) is np.ndarray
        and X.ndim == 2
        and X.dtype == np.float64
        and X.shape[0] >= 1
        and X.shape[1] >= 1
        and y.ndim == 1
        and y.shape[0] == X.shape[0]
        and y.dtype.kind in "fiub"
        and bool(np.isfinite(y).all() if y.dtype.kind == "f" else True)
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
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, default="nonrobust"
        Covariance of the coefficients behind ``cov_params_``, standard errors, intervals and
        Wald tests: the inverse information times the dispersion, a sandwich estimator as R's
        ``sandwich::vcovHC`` defines it for a glm, or one-way cluster-robust with the labels
        passed as ``fit(..., groups=...)`` (statsmodels' default small-sample factor
        G/(G-1) (n-1)/(n-p)). Definitions in :mod:`newtonglm.robust`; ``with_cov`` switches
        without refitting.
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
        tenth of the rows, 20,000 to 100,000 (see :mod:`newtonglm.start`), whose passes are
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
        cov_type: str = "nonrobust",
        scale: str | float | None = None,
        information: str = "expected",
        sparse: bool | str = "auto",
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
        self.cov_type = cov_type
        self.scale = scale
        self.information = information
        self.sparse = sparse
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family(self.family, self.link)

    def predict(self, X: Any, offset: Any = None, kind: str = "mean") -> FloatArray:
        """Predicted mean mu (``kind="mean"``) or linear predictor eta (``"linear"``)."""
        return self._predict_kind(X, offset, kind)

    score = _BaseGLM.score  # deviance explained, not RegressorMixin's R²


class LogisticRegression(ClassifierMixin, _BaseGLM):
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

    def _family(self) -> Family:
        return get_family("binomial", self.link)

    def _encode_y(self, y: Any, name: str) -> FloatArray:
        values = np.asarray(y)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim == 1 and values.dtype.kind in "biuf":
            # The common case without sorting a million labels: numeric 0/1 with both present
            # (then nothing is missing: NaN is neither 0 nor 1).
            is1 = values == 1
            if ((values == 0) | is1).all() and 0 < np.count_nonzero(is1) < values.size:
                self.classes_ = np.array([0, 1]).astype(values.dtype)
                if values.dtype == np.float64:
                    return values  # already the 0.0 / 1.0 response: no copy of n floats
                return is1.astype(np.float64)
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
        y, w = design.y, design.weights
        if y.size and float(w.min()) > 0.0:
            # Every row counts (the usual case): y is 0/1 here, so its sum tells both classes
            # apart without a masked copy of y.
            ones = float(y.sum())
            present = (ones < y.size, ones > 0.0)
        else:
            kept = y[w > 0]
            present = (bool((kept == 0.0).any()), bool((kept == 1.0).any()))
        for label, found in zip(self.classes_, present, strict=True):
            if not found:
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
        if _is_dask(p):
            from . import dask_design

            return dask_design.proba(p, self.classes_)  # type: ignore[no-any-return]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Predicted class labels (``classes_[1]`` where its probability exceeds 0.5).

        A classifier's ``predict`` gives labels; the probability is ``predict_mean`` (or
        ``predict_proba``), the log-odds ``predict_linear`` (``decision_function``), and
        ``predict_interval`` gives both with standard errors and confidence intervals.
        """
        p = self.predict_mean(X, offset)
        if _is_dask(p):
            from . import dask_design

            classes = self.classes_
            return dask_design.apply(  # type: ignore[no-any-return]
                p, lambda b: classes[(b > 0.5).astype(int)], classes.dtype
            )
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
        cov_type: str = "nonrobust",
        scale: str | float | None = None,
        information: str = "expected",
        sparse: bool | str = "auto",
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
        self.cov_type = cov_type
        self.scale = scale
        self.information = information
        self.sparse = sparse
        self.verbose = verbose

    def _family(self) -> Family:
        return get_family("poisson")

    def predict(self, X: Any, offset: Any = None, kind: str = "mean") -> FloatArray:
        """Predicted mean count (``kind="mean"``) or log-mean (``"linear"``) for new data.

        ``offset`` is e.g. the log exposure of the new rows.
        """
        return self._predict_kind(X, offset, kind)

    score = _BaseGLM.score  # deviance explained, as scikit-learn's PoissonRegressor scores

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags
