"""The objective every solver minimises: half the deviance of a GLM, through the block kernel.

``f(coef) = D(coef) / 2`` equals the negative log-likelihood up to a constant, so its gradient
is minus the score and its (expected) Hessian the Fisher information Xᵀ W X. This is the only
place where the design matrix meets a family; solvers see nothing but this object. Every pass
goes to the executor of the design's matrix type (:func:`~.registry.executor_for`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._typing import FloatArray
from ..design.base import Design
from ..families import Family
from .linalg import solve_normal_equations
from .registry import executor_for

__all__ = ["Evaluation", "GLMObjective"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The objective and its derivatives at one point, from one pass over X."""

    #: Coefficients evaluated.
    coef: FloatArray
    #: Deviance D(coef); the objective value is D / 2.
    deviance: float
    #: Pearson's χ² at coef.
    pearson_chi2: float
    #: Gradient of D / 2 (minus the score), or None if not asked for.
    grad: FloatArray | None
    #: Information matrix Xᵀ W X — the Hessian of D / 2, expected (Fisher's) or observed as
    #: ``information`` says — or None if not asked for.
    hess: FloatArray | None
    #: Rows whose fitted mean sits at the edge of its range.
    n_boundary: int
    #: Working weights per row (only when evaluated with ``weights=True``), for
    #: :meth:`GLMObjective.hessp` at these coefficients.
    work_weights: FloatArray | None = None
    #: False when ``hess`` is an estimate rather than the Fisher information at ``coef``
    #: (a subsample start's, scaled to the data): fit for a step, not for inference.
    hess_exact: bool = True
    #: Which information ``hess`` is: "expected" (Fisher's) or "observed" (minus the Hessian of
    #: the log-likelihood); the same matrix for a canonical link.
    information: str = "expected"

    @property
    def value(self) -> float:
        """Objective value, D / 2."""
        return 0.5 * self.deviance

    @property
    def finite(self) -> bool:
        """Whether the deviance and the derivatives computed are all finite."""
        ok = bool(np.isfinite(self.deviance))
        if self.grad is not None:
            ok = ok and bool(np.isfinite(self.grad).all())
        if self.hess is not None:
            ok = ok and bool(np.isfinite(self.hess).all())
        return ok


class GLMObjective:
    """Half the deviance of a GLM on a validated design.

    Parameters
    ----------
    family : Family
        Family with its link.
    design : Design
        Validated design matrix, response, weights and offset.
    """

    def __init__(self, family: Family, design: Design) -> None:
        self.family = family
        self.design = design
        #: Number of passes over X made so far (evaluations, WLS starts).
        self.n_passes = 0
        self._sqrt_weights: FloatArray | None = None
        self._unit_weights = False
        self._primed: Evaluation | None = None

    @property
    def n_features(self) -> int:
        """Number of coefficients."""
        return int(self.design.X.shape[1])

    @property
    def observed_differs(self) -> bool:
        """Whether the observed information differs from Fisher's (a non-canonical link)."""
        return not self.family.is_canonical

    def score_magnitude(self, coef: FloatArray) -> FloatArray:
        """Σ_i |x_ij s_i| per coefficient at ``coef`` (one pass): what the score's sums add up.

        The rounding of each score component is about √n eps times this; the Newton stopping
        rule uses it only when it decides (``solvers._steps.decrement_floor``).
        """
        d = self.design
        self.n_passes += 1
        return executor_for(d.X).score_magnitude(
            d.X, d.y, d.weights, d.offset, np.asarray(coef, dtype=np.float64), self.family
        )

    def information_r(self, ev: Evaluation) -> FloatArray:
        """R with RᵀR = the information of ``ev`` (its kind), from a QR of √W·X (one pass).

        For steps and certificates on ill-conditioned designs, where the Cholesky factor of
        Xᵀ W X has lost the digits that R keeps.
        """
        d = self.design
        self.n_passes += 1
        observed = ev.information == "observed" and self.observed_differs
        return executor_for(d.X).information_r_factor(
            d.X, d.y, d.weights, d.offset, ev.coef, self.family, observed=observed
        )

    def decrement_scale(self, ev: Evaluation) -> float:
        """The dispersion the Newton decrement at ``ev`` is measured in (1 for a fixed scale).

        For a family with an estimated dispersion (Gaussian), its deviance estimate
        D / (n - p), so that the decrement counts squared standard errors.
        """
        if self.family.fixed_scale:
            return 1.0
        df = max(self.design.stats.n_obs - self.n_features, 1)
        return max(ev.deviance / df, float(np.finfo(np.float64).tiny))

    @property
    def total_weight(self) -> float:
        """Σ w, to turn D / 2 into the mean negative log-likelihood (first-order solvers)."""
        return self.design.stats.sum_weights

    def evaluate(
        self,
        coef: FloatArray,
        *,
        grad: bool = True,
        hess: bool = True,
        weights: bool = False,
        information: str = "expected",
    ) -> Evaluation:
        """Deviance, gradient and information matrix at ``coef`` in one pass over X.

        With ``weights=True`` the working weights are kept (n floats) so that
        :meth:`hessp` can multiply by the information at ``coef`` without another evaluation
        of the linear predictor. ``information="observed"`` asks for the observed information
        (the exact Hessian of D / 2); a family whose rows are not in log space
        (``Family.log_space``) gives Fisher's, and the evaluation says which it is.
        """
        observed = information == "observed" and (self.family.is_canonical or self.family.log_space)
        given = "observed" if observed else "expected"
        primed, self._primed = self._primed, None
        if (
            primed is not None
            and not weights
            and (primed.grad is not None or not grad)
            and (primed.hess is not None or not hess)
            and (primed.information == given or not self.observed_differs or not hess)
            and np.array_equal(primed.coef, coef)
        ):
            return primed
        d = self.design
        self.n_passes += 1
        sums = executor_for(d.X).pass_sums(
            d.X,
            d.y,
            d.weights,
            d.offset,
            coef,
            self.family,
            score=grad,
            fisher=hess,
            keep_weights=weights,
            sqrt_weights=self._sqrt_w(),
            unit_weights=self._unit_weights,
            observed=observed and self.observed_differs,
        )
        return Evaluation(
            coef=np.array(coef, dtype=np.float64),
            deviance=sums.deviance,
            pearson_chi2=sums.pearson_chi2,
            grad=None if sums.score is None else -sums.score,
            hess=sums.fisher,
            n_boundary=sums.n_boundary,
            work_weights=sums.work_weights,
            information=given,
        )

    def prime(self, evaluation: Evaluation) -> None:
        """Let the next :meth:`evaluate` at ``evaluation.coef`` return it instead of a pass.

        For an evaluation this objective made before the solver started (the full-data pass at
        a subsample start), so that the solver's first evaluation costs nothing.
        """
        self._primed = evaluation

    def _sqrt_w(self) -> FloatArray | None:
        # √w once per fit rather than once per pass (in-memory designs only).
        w = self.design.weights
        if self._sqrt_weights is None and isinstance(w, np.ndarray):
            # Unit weights (the default) are their own square root: no second n-vector.
            self._unit_weights = bool((w == 1.0).all())
            self._sqrt_weights = w if self._unit_weights else np.sqrt(w)
        return self._sqrt_weights

    def hessp(self, at: Evaluation, v: FloatArray) -> FloatArray:
        """Fisher information at ``at.coef`` times ``v`` (one pass, O(n d), no d×d matrix).

        ``at`` must come from :meth:`evaluate` with ``weights=True``.
        """
        if at.work_weights is None:
            raise ValueError("hessp needs an Evaluation made with weights=True")
        self.n_passes += 1
        return executor_for(self.design.X).hessp(
            self.design.X, at.work_weights, np.asarray(v, dtype=np.float64)
        )

    def deviance(self, coef: FloatArray) -> float:
        """Deviance alone (one pass, no derivatives)."""
        return self.evaluate(coef, grad=False, hess=False).deviance

    def initial_wls(self) -> tuple[FloatArray, FloatArray]:
        """R's start: the normal equations of one weighted least-squares fit at ``mustart``.

        ``mu0 = family.starting_mu(y)``, ``eta0 = g(mu0)``; the working response is
        ``eta0 - offset + (y - mu0) g'(mu0)`` and the working weights ``w / (g'(mu0)² V(mu0))``
        — the first iteration of R's ``glm.fit``. Returns ``(Xᵀ W X, Xᵀ W z)`` from one pass.
        """
        d = self.design
        self.n_passes += 1
        return executor_for(d.X).start_sums(d.X, d.y, d.weights, d.offset, self.family)

    def initial_coef(self) -> FloatArray:
        """Coefficients of R's first iteration: the solution of :meth:`initial_wls`."""
        return solve_normal_equations(*self.initial_wls())
