"""Regression losses: functions of the residual r = y_pred − y_true (and a few relative ones).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian with
respect to y_pred, the statistic the minimiser estimates, the relation to other losses and
to the peers' conventions, a reference, and an example the tests run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from array_api_compat import device as array_device

from .._array import float_dtype, is_tracing
from ..loss import Loss, Param, register
from ..traits import NONNEGATIVE, Traits
from ..loss.shapes import DistanceLoss

_REGRESSION = dict(task="regression", distance_based=True)


@register
class MSE(DistanceLoss):
    r"""Mean squared error: ℓ = (y_pred − y_true)².

    - Formula: :math:`\ell(y, \hat y) = (\hat y - y)^2`.
    - Domains: y_true, y_pred real.
    - Gradient 2r, Hessian 2.
    - Estimates the mean: the best constant is the sample mean, so one far outlier drags it.
    - Relations: PyTorch ``mse_loss`` and Keras ``MeanSquaredError`` are the same; Optax's
      ``l2_loss`` and scikit-learn's ``HalfSquaredError`` are ½r² (halve to convert).
    - Reference: Gauss (1809), least squares.

    >>> import losslab as ll
    >>> print(ll.mse([100, 160, 250], [100, 160, 240]))
    33.333333
    """

    name = "mse"
    family = "regression"
    # Not Optax's l2_loss, which is ½r².
    aliases = ("mean_squared_error", "squared_error", "MeanSquaredError", "MSELoss")
    description = "Squared residual; estimates the mean, pulled hard by outliers."
    formula = r"(\hat y - y)^2"
    TRAITS = Traits(convex=True, strictly_convex=True, estimates="mean", **_REGRESSION)

    def _rho(self, xp: Any, r: Any) -> Any:
        return r * r

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return 2.0 * r

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return xp.full_like(r, 2.0)

    def _rho_and_prime(self, xp: Any, r: Any) -> tuple[Any, Any]:
        return r * r, r + r

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        if self.kernel_takes_whole_input:
            return super()._kernel(block, weights, scale, out)
        # Without the compiled kernels: fewest NumPy passes over one row block.
        if weights is not None:
            return None
        y_true, y_pred = block
        r = np.subtract(y_pred, y_true, out=out)  # the residual lives in the gradient's buffer
        total = float(np.vdot(r, r))  # Σr² (vdot flattens); not finite iff some input is (or r² overflowed)
        if not math.isfinite(total):
            return None
        np.multiply(r, 2.0 * scale, out=out)
        return total * scale


@register
class MAE(DistanceLoss):
    r"""Mean absolute error: ℓ = |y_pred − y_true|.

    - Formula: :math:`\ell = |\hat y - y|`.
    - Domains: y_true, y_pred real.
    - Gradient sign(r) (0 at r = 0, a subgradient), Hessian 0 (the kink at 0 is not a number).
    - Estimates the median: the best constant on [1, 2, 3, 4, 100] is 3.
    - Relations: PyTorch ``l1_loss`` and Keras ``MeanAbsoluteError``; quantile(0.5) = ½·mae.
    - Reference: Laplace (1774); Koenker & Bassett (1978).

    >>> import losslab as ll
    >>> print(ll.mae([100, 160, 250], [100, 160, 240]))
    3.333333
    """

    name = "mae"
    family = "regression"
    aliases = ("mean_absolute_error", "absolute_error", "l1_loss", "MeanAbsoluteError", "L1Loss")
    description = "Absolute residual; estimates the median, robust to outliers, kinked at 0."
    formula = r"|\hat y - y|"
    TRAITS = Traits(
        convex=True, differentiable=False, twice_differentiable=False, lipschitz=True, robust=True,
        estimates="median", **_REGRESSION,
    )

    def _rho(self, xp: Any, r: Any) -> Any:
        return xp.abs(r)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return xp.sign(r)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return xp.zeros_like(r)


@register
class Huber(DistanceLoss):
    r"""Huber loss: quadratic near 0, linear beyond ``delta``.

    - Formula: :math:`\ell = \tfrac12 r^2` if :math:`|r| \le \delta`, else
      :math:`\delta(|r| - \tfrac12\delta)`.
    - Domains: y_true, y_pred real; delta > 0.
    - Gradient clip(r, −δ, δ); Hessian 1 where |r| < δ, else 0.
    - Estimates Huber's M-estimate of location: between the mean and the median ("other");
      δ = 1.345 keeps 95% of the mean's efficiency under Gaussian noise (Huber 1964).
    - Relations: PyTorch ``huber_loss(delta)`` and Keras ``Huber`` are the same;
      ``smooth_l1(beta)`` = huber(delta=beta) / beta (PyTorch's SmoothL1Loss; equal at 1).
    - Reference: Huber (1964), Robust estimation of a location parameter.

    >>> import losslab as ll
    >>> print(ll.huber([0.0, 0.0], [0.5, 3.0], delta=1.0))
    1.3125
    """

    name = "huber"
    family = "regression"
    aliases = ("huber_loss", "HuberLoss")
    description = "Quadratic for small residuals, linear for large ones: robust and smooth."
    formula = r"\begin{cases}\tfrac12 r^2 & |r|\le\delta\\ \delta(|r|-\tfrac12\delta) & |r|>\delta\end{cases}"
    parameters = (Param("delta", 1.0, V.POSITIVE, "where the quadratic part turns linear"),)
    TRAITS = Traits(
        convex=True, twice_differentiable=False, lipschitz=True, robust=True, estimates="other", **_REGRESSION
    )

    # With c = clip(r, −δ, δ), ρ = c·(r − c/2) is both branches at once (c = r inside, δ·sign r
    # outside), and c itself is the gradient: one clip serves value and gradient.
    def _rho(self, xp: Any, r: Any) -> Any:
        return self._rho_and_prime(xp, r)[0]

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return S.clip(xp, r, -self.delta, self.delta)

    def _rho_and_prime(self, xp: Any, r: Any) -> tuple[Any, Any]:
        clipped = S.clip(xp, r, -self.delta, self.delta)
        return clipped * (r - 0.5 * clipped), clipped

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        if self.kernel_takes_whole_input:
            return super()._kernel(block, weights, scale, out)
        if weights is not None:
            return None
        y_true, y_pred = block
        r = np.subtract(y_pred, y_true)
        clipped = np.clip(r, -self.delta, self.delta, out=out)
        # Σ c·(r − c/2) = c·r − ½ c·c, two dot products in cache; an inf or NaN input makes
        # it non-finite (an inf residual meets its clipped value in c·r).
        total = float(np.vdot(clipped, r)) - 0.5 * float(np.vdot(clipped, clipped))
        if not math.isfinite(total):
            return None
        np.multiply(clipped, scale, out=out)
        return total * scale

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return xp.astype(xp.abs(r) < self.delta, r.dtype)


@register
class SmoothL1(DistanceLoss):
    r"""Smooth L1 loss (PyTorch's SmoothL1Loss): Huber divided by its threshold.

    - Formula: :math:`\ell = \tfrac{r^2}{2\beta}` if :math:`|r| < \beta`, else :math:`|r| - \tfrac12\beta`.
    - Domains: y_true, y_pred real; beta > 0.
    - Gradient clip(r/β, −1, 1); Hessian 1/β where |r| < β, else 0.
    - Estimates the same M-estimate as huber(delta=beta) ("other").
    - Relations: smooth_l1(beta) = huber(delta=beta) / beta, so the two are equal at 1 and
      differ by the factor β elsewhere: the linear part has slope 1 here, δ in Huber. Users
      confuse them; convert with that factor.
    - Reference: Girshick (2015), Fast R-CNN.

    >>> import losslab as ll
    >>> print(ll.smooth_l1([0.0, 0.0], [0.5, 3.0], beta=2.0))
    1.03125
    """

    name = "smooth_l1"
    family = "regression"
    aliases = ("smooth_l1_loss", "SmoothL1Loss")
    description = "Huber divided by its threshold (Fast R-CNN's box loss); slope 1 in the tails."
    formula = r"\begin{cases}\tfrac{r^2}{2\beta} & |r|<\beta\\ |r|-\tfrac12\beta & |r|\ge\beta\end{cases}"
    parameters = (Param("beta", 1.0, V.POSITIVE, "where the quadratic part turns linear"),)
    TRAITS = Huber.TRAITS

    # c = clip(r/β, −1, 1): ρ = c·(r − βc/2) and ρ′ = c (see Huber).
    def _rho(self, xp: Any, r: Any) -> Any:
        return self._rho_and_prime(xp, r)[0]

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return S.clip(xp, r / self.beta, -1.0, 1.0)

    def _rho_and_prime(self, xp: Any, r: Any) -> tuple[Any, Any]:
        clipped = S.clip(xp, r / self.beta, -1.0, 1.0)
        return clipped * (r - 0.5 * self.beta * clipped), clipped

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return xp.astype(xp.abs(r) < self.beta, r.dtype) / self.beta


@register
class LogCosh(DistanceLoss):
    r"""Log-cosh loss: ℓ = log(cosh(r)), like ½r² near 0 and |r| − log 2 far out.

    - Formula: :math:`\ell = \log\cosh(\hat y - y)`.
    - Domains: y_true, y_pred real.
    - Gradient tanh(r), Hessian 1 − tanh²(r) = sech²(r).
    - Estimates a smooth M-estimate of location between mean and median ("other").
    - Relations: Keras ``LogCosh`` and Optax ``log_cosh``; computed accurately everywhere
      (log1p(2 sinh²(r/2)) for |r| < 1, |r| + log1p(e^{−2|r|}) − log 2 beyond), where the
      textbook log(cosh r) overflows at |r| ≈ 710 and the common stable form has a relative
      error of order 1 at |r| = 1e-8 (see ``_stable.log_cosh_and_tanh``).

    >>> import losslab as ll
    >>> print(ll.log_cosh([0.0, 0.0], [1e-8, 1e6], reduction="none"))
    [5.00000000e-17 9.99999307e+05]
    """

    name = "log_cosh"
    family = "regression"
    aliases = ("logcosh", "LogCosh")
    description = "log(cosh r): smooth everywhere, quadratic near 0, linear in the tails."
    formula = r"\log\cosh(\hat y - y)"
    TRAITS = Traits(
        convex=True, strictly_convex=True, lipschitz=True, robust=True, estimates="other", **_REGRESSION
    )

    def _rho(self, xp: Any, r: Any) -> Any:
        return S.log_cosh(xp, r)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return xp.tanh(r)

    def _rho_and_prime(self, xp: Any, r: Any) -> tuple[Any, Any]:
        return S.log_cosh_and_tanh(xp, r)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        t = xp.tanh(r)
        return 1.0 - t * t


@register
class Quantile(DistanceLoss):
    r"""Quantile (pinball) loss: under-prediction costs q, over-prediction 1 − q per unit.

    - Formula: with r = y_pred − y_true, :math:`\ell = \max((1-q)\,r,\; -q\,r)`.
    - Domains: y_true, y_pred real; 0 < q < 1.
    - Gradient 1 − q for r > 0, −q for r < 0, 0 at r = 0 (a subgradient); Hessian 0.
    - Estimates the q-quantile.
    - Relations: quantile(0.5) = ½·mae; scikit-learn's ``mean_pinball_loss(alpha=q)`` and
      ``QuantileRegressor(quantile=q)`` are the same function.
    - Reference: Koenker & Bassett (1978), Regression quantiles.

    >>> import losslab as ll
    >>> print(ll.quantile([10.0, 10.0], [8.0, 12.0], q=0.9, reduction="none"))
    [1.8 0.2]
    """

    name = "quantile"
    family = "regression"
    # mean_pinball_loss: scikit-learn's metric, whose alpha (default 0.5) is q (default 0.5).
    aliases = ("pinball", "pinball_loss", "quantile_loss", "mean_pinball_loss")
    description = "Pinball loss: asymmetric absolute error; estimates the q-quantile."
    formula = r"\max\big((1-q)(\hat y - y),\; q(y - \hat y)\big)"
    parameters = (Param("q", 0.5, V.OPEN_UNIT, "the quantile to estimate"),)

    def _traits(self) -> Traits:
        return Traits(
            convex=True, differentiable=False, twice_differentiable=False, lipschitz=True, robust=True,
            estimates=f"quantile({self.q:g})", **_REGRESSION,
        )

    def _rho(self, xp: Any, r: Any) -> Any:
        return xp.maximum((1.0 - self.q) * r, -self.q * r)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        positive = xp.astype(r > 0, r.dtype)
        negative = xp.astype(r < 0, r.dtype)
        return (1.0 - self.q) * positive - self.q * negative

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return xp.zeros_like(r)


@register
class Expectile(DistanceLoss):
    r"""Expectile loss (asymmetric least squares): squared error weighted τ below, 1 − τ above.

    - Formula: with r = y_pred − y_true, :math:`\ell = |\tau - \mathbb 1[y - \hat y < 0]|\,r^2`,
      that is τ·r² where the model under-predicts (r < 0) and (1 − τ)·r² where it over-predicts.
    - Domains: y_true, y_pred real; 0 < tau < 1.
    - Gradient 2τr for r < 0, 2(1 − τ)r for r > 0 (continuous, 0 at r = 0); Hessian 2τ for
      r < 0, 2(1 − τ) for r > 0 (it jumps at r = 0 unless τ = ½; the value there is 2(1 − τ)).
    - Estimates the τ-expectile: the c with τ·E[(y − c)⁺] = (1 − τ)·E[(c − y)⁺]; τ = ½ is
      the mean. Declared "mean" at τ = ½ and "other" elsewhere (profiles name no expectiles).
    - Relations: expectile(0.5) = ½·mse (the factor ½: |τ − 1[·]| = ½ on both sides); it is
      to mse what quantile(q) is to mae. Its weights follow Newey & Powell's residual y − ŷ,
      so τ > ½ penalises under-prediction, as quantile's q does.
    - Reference: Newey & Powell (1987), Asymmetric least squares estimation and testing,
      Econometrica 55(4).

    >>> import losslab as ll
    >>> print(ll.expectile([10.0, 10.0], [8.0, 12.0], tau=0.9, reduction="none"))
    [3.6 0.4]
    """

    name = "expectile"
    family = "regression"
    aliases = ("expectile_loss", "asymmetric_least_squares")
    description = "Asymmetric squared error; estimates the τ-expectile (the mean at τ = ½)."
    formula = r"|\tau - \mathbb 1[y - \hat y < 0]|\,(\hat y - y)^2"
    parameters = (Param("tau", 0.5, V.OPEN_UNIT, "the expectile level: weight of under-prediction"),)

    def _traits(self) -> Traits:
        return Traits(
            convex=True, strictly_convex=True, twice_differentiable=self.tau == 0.5,
            estimates="mean" if self.tau == 0.5 else "other",
            notes=(f"estimates the {self.tau:g}-expectile",), **_REGRESSION,
        )

    def _weight(self, xp: Any, r: Any) -> Any:
        return xp.where(r < 0, xp.full_like(r, self.tau), xp.full_like(r, 1.0 - self.tau))

    def _rho(self, xp: Any, r: Any) -> Any:
        return self._weight(xp, r) * (r * r)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return 2.0 * self._weight(xp, r) * r

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return 2.0 * self._weight(xp, r)


def _quantile_levels(v: Any) -> bool:
    if isinstance(v, np.ndarray) and v.ndim == 1:
        v = v.tolist()
    return (isinstance(v, (list, tuple)) and len(v) > 0
            and all(V.OPEN_UNIT.check(q) for q in v) and len(set(v)) == len(v))


@register
class MultiQuantile(Loss):
    r"""Multi-quantile (pinball) loss: one column of y_pred per quantile level, averaged.

    - Formula: for levels q_1 … q_Q and r_j = ŷ_j − y,
      :math:`\ell = \frac1Q\sum_{j=1}^{Q}\max\big((1-q_j)\,r_j,\; -q_j\,r_j\big)`.
    - Domains: y_true real, shape (N,) (or (N, 1)); y_pred real, shape (N, Q), column j the
      prediction of the q_j-quantile; ``quantiles`` distinct levels in (0, 1).
    - Gradient (1 − q_j)/Q where r_j > 0, −q_j/Q where r_j < 0, 0 at r_j = 0 (a subgradient);
      Hessian 0.
    - Estimates the q_j-quantile in column j (declared "other": no single statistic).
    - Relations: with one level it is quantile(q); column j is quantile(q_j)/Q, and the mean
      over the batch of column j is scikit-learn's ``mean_pinball_loss(alpha=q_j)``. Quantile
      crossing (a lower level above a higher one) is not penalised.
    - Reference: Koenker & Bassett (1978), Regression quantiles; Wen, Torkkola, Narayanaswamy &
      Madeka (2017), A multi-horizon quantile recurrent forecaster (the summed pinball over levels).

    >>> import losslab as ll
    >>> print(ll.multi_quantile([10.0], [[8.0, 12.0]], quantiles=[0.25, 0.75]))
    0.5
    """

    name = "multi_quantile"
    family = "regression"
    aliases = ("multi_pinball", "multi_quantile_loss", "quantiles")
    description = "Pinball loss averaged over several quantile levels, one column of y_pred each."
    formula = r"\frac1Q\sum_j \max\big((1-q_j)(\hat y_j - y),\; q_j(y - \hat y_j)\big)"
    parameters = (
        Param("quantiles", (0.1, 0.5, 0.9), V.Rule(_quantile_levels, "a non-empty list of distinct numbers in (0, 1)"),
              "the quantile levels, one per column of y_pred"),
    )
    event_ndim = 1
    TRAITS = Traits(
        task="regression", convex=True, differentiable=False, twice_differentiable=False, lipschitz=True,
        robust=True, estimates="other", notes=("column j estimates the q_j-quantile",),
    )

    def _check_params(self) -> None:
        self.quantiles = tuple(float(q) for q in self.quantiles)
        self._params["quantiles"] = self.quantiles

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_true, y_pred)
        n_levels = len(self.quantiles)
        if y_pred.ndim != 2 or y_pred.shape[1] != n_levels:
            raise ValueError(
                f"y_pred must have shape (n_samples, {n_levels}), one column per level of quantiles="
                f"{list(self.quantiles)}; got shape {tuple(y_pred.shape)}"
            )
        if y_true.ndim == 2 and y_true.shape[1] == 1:
            y_true = xp.reshape(y_true, (y_true.shape[0],))
        if y_true.ndim != 1 or y_true.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"y_true must have shape ({y_pred.shape[0]},) or ({y_pred.shape[0]}, 1), one target per row of"
                f" y_pred; got shape {tuple(y_true.shape)}"
            )
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    def _levels(self, xp: Any, like: Any) -> Any:
        return xp.asarray(self.quantiles, dtype=like.dtype, device=array_device(like))

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q = self._levels(xp, y_pred)
        r = y_pred - y_true[:, None]
        return xp.mean(xp.maximum((1.0 - q) * r, -q * r), axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q = self._levels(xp, y_pred)
        r = y_pred - y_true[:, None]
        positive = xp.astype(r > 0, r.dtype)
        negative = xp.astype(r < 0, r.dtype)
        return ((1.0 - q) * positive - q * negative) / len(self.quantiles)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class EpsilonInsensitive(DistanceLoss):
    r"""Epsilon-insensitive loss (support vector regression): residuals within ε are free.

    - Formula: :math:`\ell = \max(0, |r| - \varepsilon)`.
    - Domains: y_true, y_pred real; epsilon >= 0.
    - Gradient sign(r) where |r| > ε, else 0; Hessian 0.
    - Estimates "other" (any point of a median-like band of width 2ε).
    - Relations: epsilon = 0 is mae; scikit-learn's ``SGDRegressor(loss="epsilon_insensitive")``.
    - Reference: Vapnik (1995), The Nature of Statistical Learning Theory.

    >>> import losslab as ll
    >>> print(ll.epsilon_insensitive([0.0, 0.0], [0.05, 1.0], epsilon=0.1, reduction="none"))
    [0.  0.9]
    """

    name = "epsilon_insensitive"
    family = "regression"
    aliases = ("svr",)
    description = "|r| − ε outside a tube of width ε, zero inside (SVR)."
    formula = r"\max(0, |\hat y - y| - \varepsilon)"
    parameters = (Param("epsilon", 0.1, V.NONNEGATIVE, "half-width of the zero-loss tube"),)
    TRAITS = Traits(
        convex=True, differentiable=False, twice_differentiable=False, lipschitz=True, robust=True,
        estimates="other", **_REGRESSION,
    )

    def _rho(self, xp: Any, r: Any) -> Any:
        return xp.maximum(xp.abs(r) - self.epsilon, 0.0)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return xp.sign(r) * xp.astype(xp.abs(r) > self.epsilon, r.dtype)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return xp.zeros_like(r)


@register
class SquaredEpsilonInsensitive(DistanceLoss):
    r"""Squared epsilon-insensitive loss: the square of the residual beyond ε.

    - Formula: :math:`\ell = \max(0, |r| - \varepsilon)^2`.
    - Domains: y_true, y_pred real; epsilon >= 0.
    - Gradient 2·sign(r)·max(0, |r| − ε); Hessian 2 where |r| > ε, else 0.
    - Estimates "other" (the mean when ε = 0).
    - Relations: epsilon = 0 is mse; scikit-learn's ``SGDRegressor(loss="squared_epsilon_insensitive")``.

    >>> import losslab as ll
    >>> print(ll.squared_epsilon_insensitive([0.0, 0.0], [0.05, 1.0], epsilon=0.1, reduction="none"))
    [0.   0.81]
    """

    name = "squared_epsilon_insensitive"
    family = "regression"
    description = "Squared excess of |r| over ε; zero inside the tube."
    formula = r"\max(0, |\hat y - y| - \varepsilon)^2"
    parameters = (Param("epsilon", 0.1, V.NONNEGATIVE, "half-width of the zero-loss tube"),)
    TRAITS = Traits(convex=True, twice_differentiable=False, estimates="other", **_REGRESSION)

    def _rho(self, xp: Any, r: Any) -> Any:
        excess = xp.maximum(xp.abs(r) - self.epsilon, 0.0)
        return excess * excess

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return 2.0 * xp.sign(r) * xp.maximum(xp.abs(r) - self.epsilon, 0.0)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return 2.0 * xp.astype(xp.abs(r) > self.epsilon, r.dtype)


@register
class MSLE(Loss):
    r"""Mean squared logarithmic error: squared error between log(1 + y) and log(1 + ŷ).

    - Formula: :math:`\ell = (\log(1+\hat y) - \log(1+y))^2`.
    - Domains: y_true >= 0, y_pred >= 0 (as scikit-learn's ``mean_squared_log_error``).
    - Gradient 2d/(1 + ŷ) with d = log1p(ŷ) − log1p(y); Hessian 2(1 − d)/(1 + ŷ)²
      (negative where d > 1: not convex in y_pred).
    - Estimates exp(E[log(1 + y)]) − 1, a geometric mean of 1 + y ("other").
    - Relations: Keras ``MeanSquaredLogarithmicError`` silently clips negative values to 0;
      losslab rejects them. Keras's test value 1.4370 is losslab's msle of the clipped inputs.

    >>> import losslab as ll
    >>> print(ll.msle([0.0, 3.0], [1.0, 3.0]))
    0.2402265
    """

    name = "msle"
    family = "regression"
    aliases = ("mean_squared_logarithmic_error", "MeanSquaredLogarithmicError", "mean_squared_log_error")
    description = "Squared error of log(1 + y): relative errors for positive targets."
    formula = r"\big(\log(1+\hat y) - \log(1+y)\big)^2"
    # lipschitz (for each target, as traits.py defines it): |gradient| ≤ max(2 log(1 + y), 2/e) on y_pred ≥ 0.
    TRAITS = Traits(
        task="regression", y_true_domain=NONNEGATIVE, y_pred_domain=NONNEGATIVE, lipschitz=True, estimates="other"
    )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", NONNEGATIVE, hint="msle compares log(1 + y).")
        V.check_in(xp, arrays[1], "y_pred", NONNEGATIVE, hint="msle compares log(1 + y_pred).")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        d = xp.log1p(y_pred) - xp.log1p(y_true)
        return d * d

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return 2.0 * (xp.log1p(y_pred) - xp.log1p(y_true)) / (1.0 + y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        d = xp.log1p(y_pred) - xp.log1p(y_true)
        return 2.0 * (1.0 - d) / ((1.0 + y_pred) ** 2)


@register
class MAPE(Loss):
    r"""Mean absolute percentage error, in percent: 100·|ŷ − y| / |y|.

    - Formula: :math:`\ell = 100\,|\hat y - y| / |y|`.
    - Domains: y_true real and non-zero (a zero target has no percentage error: an error,
      where scikit-learn divides by machine epsilon and returns ~1e15); y_pred real.
    - Gradient 100·sign(r)/|y|; Hessian 0.
    - Estimates a weighted median with weights 1/|y| ("other"): it favours under-prediction.
    - Relations: Keras ``MeanAbsolutePercentageError`` (percent); scikit-learn's
      ``mean_absolute_percentage_error`` is a fraction (divide by 100).

    >>> import losslab as ll
    >>> print(ll.mape([100.0, 200.0], [110.0, 150.0]))
    17.5
    """

    name = "mape"
    family = "regression"
    aliases = ("mean_absolute_percentage_error", "MeanAbsolutePercentageError")
    description = "Absolute error relative to |y|, in percent; needs non-zero targets."
    formula = r"100\,\frac{|\hat y - y|}{|y|}"
    TRAITS = Traits(
        task="regression", convex=True, differentiable=False, twice_differentiable=False, lipschitz=True,
        robust=True, estimates="other",
    )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        y_true = arrays[0]
        if not is_tracing(y_true) and V.concrete(xp.any(y_true == 0)):
            raise ValueError(
                "y_true must be non-zero for mape (a percentage of 0 is undefined); got 0. Use mae, or"
                " msle for non-negative targets."
            )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return 100.0 * xp.abs(y_pred - y_true) / xp.abs(y_true)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return 100.0 * xp.sign(y_pred - y_true) / xp.abs(y_true)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class Cauchy(DistanceLoss):
    r"""Cauchy (Lorentzian) loss: logarithmic growth, a redescending gradient.

    - Formula: :math:`\ell = \tfrac{c^2}{2}\log\big(1 + (r/c)^2\big)`.
    - Domains: y_true, y_pred real; scale c > 0.
    - Gradient r / (1 + (r/c)²) (largest, c/2, at |r| = c, then back toward 0);
      Hessian (1 − (r/c)²) / (1 + (r/c)²)².
    - Estimates a robust location, close to the mode ("other"); not convex.
    - Relations: barron(alpha=0, scale=c) = cauchy(scale=√2·c) / c².
    - Reference: Black & Anandan (1996); Barron (2019).

    >>> import losslab as ll
    >>> print(ll.cauchy([0.0], [1.0], scale=1.0))
    0.3465736
    """

    name = "cauchy"
    family = "regression"
    aliases = ("lorentzian",)
    description = "Log-growing robust loss; outliers' influence falls back toward 0."
    formula = r"\tfrac{c^2}{2}\log\big(1 + (r/c)^2\big)"
    parameters = (Param("scale", 1.0, V.SQUARABLE_SCALE, "residual where the gradient peaks"),)
    TRAITS = Traits(lipschitz=True, robust=True, estimates="other", **_REGRESSION)

    def _rho(self, xp: Any, r: Any) -> Any:
        return 0.5 * self.scale**2 * S.log1p_square(xp, r / self.scale)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return self.scale * S.ratio_over_one_plus_square(xp, r / self.scale)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        # (1 − u²)/(1 + u²)², written in v = min(u², 1/u²) so that no square overflows.
        u = xp.abs(r / self.scale)
        inside = u <= 1.0
        v = xp.where(inside, xp.minimum(u, 1.0) ** 2, 1.0 / xp.maximum(u, 1.0) ** 2)
        return xp.where(inside, (1.0 - v) / (1.0 + v) ** 2, v * (v - 1.0) / (v + 1.0) ** 2)


@register
class Tukey(DistanceLoss):
    r"""Tukey's biweight: bounded; residuals beyond c have no influence at all.

    - Formula: :math:`\ell = \tfrac{c^2}{6}\big(1 - (1 - (r/c)^2)^3\big)` for :math:`|r| \le c`,
      else :math:`c^2/6`.
    - Domains: y_true, y_pred real; c > 0 (4.685 gives 95% efficiency under Gaussian noise).
    - Gradient r(1 − (r/c)²)² inside, 0 outside; Hessian (1 − u²)(1 − 5u²) inside, 0 outside
      (u = r/c): continuous, so twice differentiable.
    - Estimates a redescending M-estimate of location ("other"); not convex.
    - Reference: Beaton & Tukey (1974).

    >>> import losslab as ll
    >>> print(ll.tukey([0.0, 0.0], [1.0, 100.0], c=4.685, reduction="none"))
    [0.4775661  3.65820417]
    """

    name = "tukey"
    family = "regression"
    aliases = ("biweight", "tukey_biweight")
    description = "Tukey's biweight: bounded, and gross outliers get zero gradient."
    formula = r"\begin{cases}\tfrac{c^2}{6}\big(1-(1-(r/c)^2)^3\big) & |r|\le c\\ \tfrac{c^2}{6} & |r|>c\end{cases}"
    parameters = (Param("c", 4.685, V.SQUARABLE_SCALE, "residual beyond which the loss is flat"),)
    TRAITS = Traits(lipschitz=True, bounded=True, robust=True, estimates="other", **_REGRESSION)

    # u = r/c is clipped to [−1, 1] first: outside the loss is flat, and r² never overflows.
    def _rho(self, xp: Any, r: Any) -> Any:
        u = S.clip(xp, r / self.c, -1.0, 1.0)
        w = 1.0 - u * u
        return self.c**2 / 6.0 * (1.0 - w * w * w)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        u = S.clip(xp, r / self.c, -1.0, 1.0)
        w = 1.0 - u * u
        return self.c * u * w * w

    def _rho_second(self, xp: Any, r: Any) -> Any:
        u = S.clip(xp, r / self.c, -1.0, 1.0)
        u2 = u * u
        return (1.0 - u2) * (1.0 - 5.0 * u2)


@register
class PseudoHuber(DistanceLoss):
    r"""Pseudo-Huber loss: Huber made smooth, quadratic near 0 and linear in the tails.

    - Formula: :math:`\ell = \delta^2\left(\sqrt{1 + (r/\delta)^2} - 1\right)`, r = ŷ − y.
    - Domains: y_true, y_pred real; delta > 0.
    - Gradient r/√(1 + (r/δ)²) (bounded by δ); Hessian (1 + (r/δ)²)^{−3/2}.
    - Estimates "other": an M-estimate between the mean (δ → ∞) and the median (δ → 0).
    - Relations: barron(alpha=1, scale=δ)·δ²; → ½r² as δ → ∞ and → δ|r| for |r| ≫ δ, like
      huber(delta=δ), but with every derivative continuous.
    - Reference: Charbonnier, Blanc-Féraud, Aubert, Barlaud (1994), Two deterministic
      half-quadratic regularization algorithms for computed imaging.

    >>> import losslab as ll
    >>> print(round(float(ll.pseudo_huber([0.0], [3.0], delta=1.0)), 6))
    2.162278
    """

    name = "pseudo_huber"
    family = "regression"
    aliases = ("charbonnier",)
    description = "δ²(√(1 + (r/δ)²) − 1): Huber made smooth."
    formula = r"\delta^2\left(\sqrt{1 + (r/\delta)^2} - 1\right)"
    parameters = (Param("delta", 1.0, V.POSITIVE, "where quadratic turns linear"),)
    TRAITS = Traits(convex=True, strictly_convex=True, lipschitz=True, robust=True, estimates="other", **_REGRESSION)

    def _rho(self, xp: Any, r: Any) -> Any:
        t = r / self.delta
        # δ²(√(1 + t²) − 1) = r·r/(√(1 + t²) + 1): no cancellation near 0, and no δ² to
        # overflow; r/(…) is at most |r| and at most about δ, so the product fits wherever ℓ does.
        return r * (r / (xp.hypot(xp.ones_like(t), t) + 1.0))

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        t = r / self.delta
        return self.delta * t / xp.hypot(xp.ones_like(t), t)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        t = r / self.delta
        return xp.hypot(xp.ones_like(t), t) ** -3.0


@register
class Barron(DistanceLoss):
    r"""Barron's general and adaptive robust loss: one shape parameter for a family.

    - Formula: :math:`\rho(x,\alpha,c) = \frac{|\alpha-2|}{\alpha}\Big[\big(\frac{(x/c)^2}{|\alpha-2|}+1\big)^{\alpha/2}-1\Big]`
      with its limits: α = 2: ½(x/c)² (L2); α = 0: log(½(x/c)² + 1) (Cauchy);
      α = −∞: 1 − exp(−½(x/c)²) (Welsch). α = 1 is pseudo-Huber √((x/c)² + 1) − 1,
      α = −2 Geman–McClure 2(x/c)²/((x/c)² + 4).
    - Domains: y_true, y_pred real; alpha any real or −inf; scale c > 0.
    - Gradient (x/c²)·((x/c)²/|α−2| + 1)^{α/2 − 1}; Hessian
      (1/c²)·(z/b + 1)^{α/2 − 2}·((z/b + 1) + (α − 2) z/b) with z = (x/c)², b = |α − 2|.
    - The limits α ∈ {2, 0, −∞} are computed from their closed forms, not by plugging in
      (which gives 0/0); elsewhere expm1/log1p keep small residuals exact.
    - Convex iff α ≥ 1; robust (bounded gradient) iff α ≤ 1; bounded iff α < 0.
    - Reference: Barron (2019), A General and Adaptive Robust Loss Function, CVPR.

    >>> import losslab as ll
    >>> print(ll.barron([0.0], [2.0], alpha=1.0, scale=1.0))
    1.236068
    """

    name = "barron"
    family = "regression"
    aliases = ("general_robust", "adaptive_robust")
    description = "Barron's family: α = 2 L2, 1 pseudo-Huber, 0 Cauchy, −2 Geman–McClure, −∞ Welsch."
    formula = r"\frac{|\alpha-2|}{\alpha}\Big[\Big(\frac{(x/c)^2}{|\alpha-2|}+1\Big)^{\alpha/2}-1\Big]"
    parameters = (
        Param("alpha", 1.0, V.Rule(lambda v: V.REAL_NUMBER.check(v) and v != math.inf, "a real number or -inf"),
              "shape: 2 L2, 1 pseudo-Huber, 0 Cauchy, −∞ Welsch"),
        Param("scale", 1.0, V.SQUARABLE_SCALE, "width of the quadratic bowl"),
    )

    def _traits(self) -> Traits:
        a = self.alpha
        return Traits(
            convex=a >= 1, strictly_convex=a >= 1, lipschitz=a <= 1, bounded=a < 0, robust=a <= 1,
            estimates="mean" if a == 2 else "other", **_REGRESSION,
        )

    # Every branch works with log(1 + t²)-type terms through S.log1p_square, so that no
    # square of a residual overflows: the loss grows like |x|^α and stays finite for any
    # finite x when α ≤ 1 (the robust members).
    def _log_base(self, xp: Any, r: Any) -> Any:
        """log(z/b + 1) with z = (r/c)², b = |α − 2|."""
        return S.log1p_square(xp, r / (self.scale * math.sqrt(abs(self.alpha - 2.0))))

    def _welsch_arg(self, xp: Any, r: Any) -> Any:
        u = S.clip(xp, r / self.scale, -40.0, 40.0)  # exp(−800) is 0 already: clip before squaring
        return 0.5 * u * u

    def _rho(self, xp: Any, r: Any) -> Any:
        a, c = self.alpha, self.scale
        if a == 2:
            return 0.5 * (r / c) ** 2
        if a == 0:
            return S.log1p_square(xp, r / (c * math.sqrt(2.0)))
        if a == -math.inf:
            return -xp.expm1(-self._welsch_arg(xp, r))
        b = abs(a - 2)
        return (b / a) * xp.expm1(0.5 * a * self._log_base(xp, r))

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        a, c = self.alpha, self.scale
        if a == 2:
            return r / c**2
        if a == 0:
            # 2r/(r² + 2c²) = (√2/c)·t/(1 + t²) with t = r/(√2c)
            return math.sqrt(2.0) / c * S.ratio_over_one_plus_square(xp, r / (c * math.sqrt(2.0)))
        if a == -math.inf:
            u = S.clip(xp, r / c, -40.0, 40.0)
            return u / c * xp.exp(-0.5 * u * u)
        # r/c²·(1 + t²)^k, t = r/(c√b), k = α/2 − 1, is (√b/c)·t·(1 + t²)^k; for |t| > 1 as
        # sign(t)|t|^{α−1}(1 + 1/t²)^k, since (1 + t²)^k alone underflows where t·(1 + t²)^k
        # does not (float32 at r = 1e30, α = ½: 1e-45 times 1e30).
        b, k = abs(a - 2.0), 0.5 * a - 1.0
        t = r / (c * math.sqrt(b))
        small = xp.abs(t) <= 1.0
        inner = xp.where(small, t, xp.zeros_like(t))
        outer = xp.where(small, xp.ones_like(t), t)
        inv = 1.0 / outer
        near = inner * xp.exp(k * xp.log1p(inner * inner))
        far = xp.sign(outer) * xp.abs(outer) ** (a - 1.0) * xp.exp(k * xp.log1p(inv * inv))
        return math.sqrt(b) / c * xp.where(small, near, far)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        a, c = self.alpha, self.scale
        if a == 2:
            return xp.full_like(r, 1.0 / c**2)
        if a == -math.inf:
            u = S.clip(xp, r / c, -40.0, 40.0)
            return xp.exp(-0.5 * u * u) * (1.0 - u * u) / c**2
        # (1/c²)·base^{α/2−2}·(base + (α−2)·z/b), base = z/b + 1, z/b = base − 1; for large
        # residuals base^{α/2−2}·base is formed in the log domain to avoid overflow.
        b = 2.0 if a == 0 else abs(a - 2)
        log_base = S.log1p_square(xp, r / (c * math.sqrt(b)))
        z_over_b_frac = -xp.expm1(-log_base)  # (z/b)/base, in [0, 1)
        return xp.exp((0.5 * a - 1.0) * log_base) * (1.0 + (a - 2.0) * z_over_b_frac) / c**2
