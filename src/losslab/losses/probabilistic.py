"""Probabilistic losses: negative log-likelihoods, deviances, divergences and proper scores.

Beside the (y_true, y_pred) losses: ``cox`` takes survival data as three positional
inputs, (times, events, risk_scores), as the preference losses take their log-probabilities,
and differentiates the risk scores only; its samples interact through the risk sets, so it
is not separable. ``crps_ensemble`` takes M members per observation (y_pred (N, M)) and
``coral`` K − 1 logits per ordinal rank (y_pred (N, K − 1)).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian with
respect to y_pred, the statistic the minimiser estimates, the relation to the peers'
conventions, a reference, and an example the tests run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from array_api_compat import device

from .._array import as_array, float_dtype, host_array, is_jax, is_numpy, is_torch, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..loss.weights import scalar as _scalar
from ..traits import NONNEGATIVE, POSITIVE, REAL, UNIT, Interval, Traits
from ..loss.links import check_probabilities, check_rows_sum_to_one, clip_probabilities
from ..loss.targets import check_class_indices, check_distribution, is_index_target, one_hot

_LOG_2PI = math.log(2.0 * math.pi)
#: Log-probabilities: (−inf, 0].
_NONPOSITIVE = Interval(-math.inf, 0.0, False, True)


def _special(xp: Any, name: str, x: Any) -> Any:
    """A SciPy special function (``erf``, ``gammaln``) on the caller's array library (the array
    API standard has none): SciPy for NumPy, torch.special and jax.scipy.special (so that
    autograd and jit see it), and SciPy through the host for any other namespace."""
    if is_numpy(xp):
        import scipy.special

        return getattr(scipy.special, name)(x)
    if is_torch(xp):
        import torch

        return getattr(torch.special, name)(x)
    if is_jax(xp):
        import jax.scipy.special

        return getattr(jax.scipy.special, name)(x)
    import scipy.special

    return xp.asarray(getattr(scipy.special, name)(to_numpy(x)), dtype=x.dtype, device=device(x))


def _erf(xp: Any, x: Any) -> Any:
    return _special(xp, "erf", x)


def _per_call_array(xp: Any, loss_name: str, options: dict, key: str, what: str, y_pred: Any) -> Any:
    """The per-call keyword ``key`` (a variance or scale given with each call) as an array of
    y_pred's namespace, dtype and shape; a TypeError when it is missing."""
    if key not in options:
        raise TypeError(f"{loss_name} needs {what}: pass {key}=... (an array of the shape of y_pred, or a number)")
    value = as_array(options[key], key)
    if not V.same_namespace(xp, value):
        value = xp.asarray(to_numpy(value), device=device(y_pred))
    value = xp.astype(value, y_pred.dtype, copy=False)
    try:
        return xp.broadcast_to(value, y_pred.shape)
    except (ValueError, RuntimeError):
        raise ValueError(
            f"{key} must have the shape of y_pred {tuple(y_pred.shape)} or broadcast to it; got {tuple(value.shape)}"
        ) from None


@register
class Poisson(Loss):
    r"""Poisson negative log-likelihood (without the log y! term, which does not depend on y_pred).

    - Formula: rate input: :math:`\ell = \hat\mu - y\log\hat\mu`; with ``log_input=True``
      y_pred is the log-rate x: :math:`\ell = e^{x} - y\,x`. With ``full=True``, PyTorch's
      Stirling term for log y!, :math:`y\log y - y + \tfrac12\log(2\pi y)`, is added where
      y > 1 (0 where y ≤ 1, as PyTorch masks it; free of y_pred, so the derivatives are unchanged).
    - Domains: y_true >= 0 (counts); y_pred > 0 (a rate), or real with log_input.
    - Gradient 1 − y/μ̂ (log_input: eˣ − y); Hessian y/μ̂² (log_input: eˣ).
    - Estimates the mean (E[y] minimises E[μ − y log μ]).
    - Relations: PyTorch ``poisson_nll_loss(log_input=..., full=...)`` (PyTorch's default is
      log_input=True; ours is the rate, as Keras ``Poisson``, which adds 1e-7 inside the log,
      and PyTorch's rate form adds eps = 1e-8: losslab requires μ̂ > 0 instead; with log-rates
      the two agree exactly, full or not). scikit-learn's ``HalfPoissonLoss``
      and ``mean_poisson_deviance`` differ by terms free of y_pred (deviance = 2(ℓ − ℓ(y))).

    >>> import losslab as ll
    >>> print(ll.poisson([2.0, 0.0], [1.0, 0.5]))
    0.75
    """

    name = "poisson"
    family = "probabilistic"
    aliases = ("poisson_nll", "Poisson")
    preset_aliases = {"PoissonNLLLoss": {"log_input": True}, "poisson_nll_loss": {"log_input": True}}
    description = "Poisson negative log-likelihood for counts; estimates the mean rate."
    formula = r"\hat\mu - y\log\hat\mu"
    parameters = (
        Param("log_input", False, V.BOOLEAN, "y_pred is the log of the rate"),
        Param("full", False, V.BOOLEAN, "add PyTorch's Stirling approximation of log y! (where y > 1)"),
    )

    def _traits(self) -> Traits:
        return Traits(
            task="regression", y_true_domain=NONNEGATIVE, y_pred_domain=REAL if self.log_input else POSITIVE,
            convex=True, strictly_convex=bool(self.log_input), estimates="mean",
        )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", NONNEGATIVE, what="counts")
        if not self.log_input:
            V.check_in(xp, arrays[1], "y_pred", POSITIVE, what="rates",
                       hint="Pass log_input=True if y_pred holds log-rates.")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self.log_input:
            # e^z − y·z; where e^z overflows the loss does too (it outgrows y·z): +inf, not inf − inf
            e = xp.exp(y_pred)
            out = xp.where(xp.isinf(e), e, e - y_true * y_pred)
        else:
            out = y_pred - S.xlogy(xp, y_true, y_pred)
        if not self.full:
            return out
        # Stirling's y log y − y + ½ log(2πy) where y > 1, else 0 (PyTorch's mask), joined to
        # the loss as y·log(y/μ) + μ − y: added apart, y log y and y log μ (7e31 in float32 at
        # 1e30) cancel to a loss a thousand times smaller and keep only its first digits.
        # y ≤ 1 is replaced by 1 inside the logarithms, so that no log(0) is formed.
        above = y_true > 1.0
        safe = xp.where(above, y_true, xp.ones_like(y_true))
        log_ratio = xp.log(safe) - y_pred if self.log_input else xp.log(safe / y_pred)
        mu = xp.exp(y_pred) if self.log_input else y_pred
        joined = safe * log_ratio + (mu - safe) + 0.5 * (xp.log(safe) + _LOG_2PI)
        joined = xp.where(xp.isinf(mu), mu, joined)  # an overflowing rate overflows the loss: +inf
        return xp.where(above, joined, out)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self.log_input:
            return xp.exp(y_pred) - y_true
        return 1.0 - y_true / y_pred

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self.log_input:
            return xp.exp(y_pred)
        return (y_true / y_pred) / y_pred  # y/μ first: μ² underflows in float32 at 1e-30


@register
class NegativeBinomialNLL(Loss):
    r"""Negative-binomial (NB2) negative log-likelihood of counts with mean y_pred and dispersion alpha.

    - Formula: with μ = y_pred, α = alpha:
      :math:`\ell = (y + 1/\alpha)\log(1 + \alpha\mu) - y\log(\alpha\mu)`, the NLL without its
      terms log Γ(y + 1) + log Γ(1/α) − log Γ(y + 1/α), which are free of μ; ``full=True`` adds
      them: the exact −log P(y).
    - Domains: y_true >= 0 (counts); y_pred > 0 (the mean); alpha > 0. Var[y] = μ + αμ².
    - Gradient (μ − y)/(μ(1 + αμ)); Hessian y/μ² − α(1 + αy)/(1 + αμ)² (negative at y = 0:
      not convex in μ, unlike poisson).
    - Estimates the mean (the expected gradient vanishes at μ = E[y], whatever α).
    - Relations: as α → 0 it tends to poisson (μ − y log μ) plus terms free of μ; SciPy's
      ``nbinom(n=1/α, p=1/(1 + αμ))``; statsmodels' ``NegativeBinomial(loglike_method="nb2")``.
      Neither PyTorch, Keras nor Optax has it as a loss.
    - Reference: Cameron & Trivedi (1986), Econometric models based on count data,
      J. Applied Econometrics 1(1) (the NB2 form); Hilbe (2011), Negative Binomial Regression.

    >>> import losslab as ll
    >>> print(round(float(ll.negative_binomial_nll([0.0], [2.0], alpha=0.5)), 6))
    1.386294
    """

    name = "negative_binomial_nll"
    family = "probabilistic"
    aliases = ("negative_binomial", "nb2_nll", "neg_binomial_nll")
    description = "Negative-binomial (NB2) NLL for overdispersed counts; estimates the mean."
    formula = r"(y + 1/\alpha)\log(1 + \alpha\hat\mu) - y\log(\alpha\hat\mu)"
    parameters = (
        Param("alpha", 1.0, V.POSITIVE, "dispersion: Var[y] = μ + αμ²"),
        Param("full", False, V.BOOLEAN, "add the log-Gamma terms (the exact −log P(y))"),
    )
    TRAITS = Traits(task="regression", y_true_domain=NONNEGATIVE, y_pred_domain=POSITIVE, estimates="mean")

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", NONNEGATIVE, what="counts")
        V.check_in(xp, arrays[1], "y_pred", POSITIVE, what="means")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        a = self.alpha
        out = (y_true + 1.0 / a) * xp.log1p(a * y_pred) - S.xlogy(xp, y_true, a * y_pred)
        if not self.full:
            return out
        log_gamma = _special(xp, "gammaln", y_true + 1.0) - _special(xp, "gammaln", y_true + 1.0 / a)
        return out + (log_gamma + math.lgamma(1.0 / a))

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return (1.0 - y_true / y_pred) / (1.0 + self.alpha * y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        # y/μ² − (y + k)/(μ + k)² with k = 1/α, put over one denominator:
        # k/(μ + k)²·(2r − 1 + r·k/μ), r = y/μ. The two terms cancel where y ≈ μ is large
        # (float32 at 1e30 left 2e-30 of rounding for a Hessian of 1e-46); here nothing cancels
        # but 2r − 1, and μ² is never formed.
        k = 1.0 / self.alpha
        r = y_true / y_pred
        return (k / (y_pred + k)) / (y_pred + k) * (2.0 * r - 1.0 + r * (k / y_pred))


@register
class GammaDeviance(Loss):
    r"""Gamma deviance: for positive targets whose spread grows with their mean.

    - Formula: :math:`\ell = 2\big(\log(\hat\mu / y) + y/\hat\mu - 1\big)`.
    - Domains: y_true > 0, y_pred > 0.
    - Gradient 2(1/μ̂ − y/μ̂²); Hessian 2(2y/μ̂³ − 1/μ̂²) (negative where μ̂ > 2y: not convex).
    - Estimates the mean.
    - Relations: scikit-learn's ``mean_gamma_deviance`` (the same) and ``tweedie(power=2)``.

    >>> import losslab as ll
    >>> print(ll.gamma_deviance([1.0], [2.0]))
    0.3862944
    """

    name = "gamma_deviance"
    family = "probabilistic"
    aliases = ("gamma", "mean_gamma_deviance")
    description = "Gamma deviance for positive, right-skewed targets; scale-free errors."
    formula = r"2\big(\log(\hat\mu/y) + y/\hat\mu - 1\big)"
    TRAITS = Traits(task="regression", y_true_domain=POSITIVE, y_pred_domain=POSITIVE, estimates="mean")

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", POSITIVE)
        V.check_in(xp, arrays[1], "y_pred", POSITIVE)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        ratio = y_true / y_pred
        return 2.0 * (ratio - xp.log(ratio) - 1.0)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        # (1 − y/μ)/μ: the ratio first, so that μ² never underflows (float32 at 1e-30)
        return 2.0 * (1.0 - y_true / y_pred) / y_pred

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return 2.0 * (2.0 * (y_true / y_pred) - 1.0) / y_pred / y_pred


@register
class Tweedie(Loss):
    r"""Tweedie deviance with power p: one family from Gaussian to Poisson to gamma.

    - Formula (p ∉ {0, 1, 2}): :math:`\ell = 2\Big(\frac{\max(y,0)^{2-p}}{(1-p)(2-p)} - \frac{y\,\hat\mu^{1-p}}{1-p} + \frac{\hat\mu^{2-p}}{2-p}\Big)`;
      p = 0 is (y − μ̂)², p = 1 the Poisson deviance 2(y log(y/μ̂) − y + μ̂), p = 2 the gamma deviance.
    - Domains: power ≤ 0 or ≥ 1 (no Tweedie distribution has 0 < p < 1); p = 0: real y and μ̂;
      p < 0: real y, μ̂ > 0; 1 ≤ p < 2: y ≥ 0, μ̂ > 0; p ≥ 2: y > 0, μ̂ > 0.
    - Gradient 2μ̂^{−p}(μ̂ − y); Hessian 2μ̂^{−p−1}(p·y + (1 − p)μ̂).
    - Estimates the mean.
    - Relations: scikit-learn's ``mean_tweedie_deviance(power=p)`` (the same; the preset
      alias has scikit-learn's default power=0, not 1.5), ``mean_poisson_deviance`` (power=1,
      a preset alias), ``mean_gamma_deviance`` (power=2, gamma_deviance) and
      ``HalfTweedieLoss`` (half, with a log link). 1 < p < 2: compound Poisson–gamma, for
      counts with many exact zeros (insurance claims).

    >>> import losslab as ll
    >>> print(ll.tweedie([0.0, 2.0], [1.0, 2.0], power=1.5))
    2.0
    """

    name = "tweedie"
    family = "probabilistic"
    aliases = ("tweedie_deviance",)
    # scikit-learn's metric names, with its defaults: mean_tweedie_deviance has power=0
    # (squared error), mean_poisson_deviance is power=1.
    preset_aliases = {"mean_tweedie_deviance": {"power": 0.0}, "mean_poisson_deviance": {"power": 1.0}}
    description = "Tweedie deviance: p=0 Gaussian, 1 Poisson, 1<p<2 zero-inflated, 2 gamma."
    formula = r"2\Big(\tfrac{y^{2-p}}{(1-p)(2-p)} - \tfrac{y\hat\mu^{1-p}}{1-p} + \tfrac{\hat\mu^{2-p}}{2-p}\Big)"
    parameters = (
        Param("power", 1.5, V.Rule(lambda v: V.FINITE.check(v) and (v <= 0 or v >= 1),
                                   "a finite number <= 0 or >= 1 (none exists for 0 < power < 1)"),
              "variance power: Var[y] ∝ μ^p"),
    )

    def _traits(self) -> Traits:
        p = self.power
        return Traits(
            task="regression",
            y_true_domain=REAL if p <= 0 else (NONNEGATIVE if p < 2 else POSITIVE),
            y_pred_domain=REAL if p == 0 else POSITIVE,
            # Convex in μ̂ only for p ∈ {0, 1}: the Hessian 2μ̂^{−p−1}(p·y + (1 − p)μ̂) turns negative for
            # μ̂ > p·y/(p − 1) when p > 1, and for μ̂ < p·y/(p − 1) (y > 0) when p < 0.
            convex=p in (0, 1), strictly_convex=p == 0, distance_based=p == 0, estimates="mean",
        )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        traits = self.traits
        V.check_in(xp, arrays[0], "y_true", traits.y_true_domain, hint=f"(tweedie power={self.power:g})")
        V.check_in(xp, arrays[1], "y_pred", traits.y_pred_domain, hint=f"(tweedie power={self.power:g})")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p = self.power
        if p == 0:
            return (y_pred - y_true) ** 2
        if p == 1:
            return 2.0 * (S.xlogy(xp, y_true, y_true / y_pred) - y_true + y_pred)
        if p == 2:
            ratio = y_true / y_pred
            return 2.0 * (ratio - xp.log(ratio) - 1.0)
        # 2μ^{2−p}·g(r), r = y/μ, g(r) = (r₊^{2−p} − 1)/((1−p)(2−p)) − (r − 1)/(1−p): the terms
        # y^{2−p} and y·μ^{1−p} overflow float32 at 1e±30 although their sum is 0 there, and
        # g(1) = 0 exactly in this form. g ≥ 0 (rounding may dip below); a zero g gives 0 where
        # μ^{2−p} overflows. (r₊^{2−p} is 0 for r ≤ 0: for p < 2, y may be 0, and for p ≤ 0
        # negative; the power takes a positive stand-in there, so that autodiff's 0·∞ is not NaN.)
        r = y_true / y_pred
        positive = r > 0
        r_pow = xp.where(positive, xp.where(positive, r, xp.ones_like(r)) ** (2 - p), xp.zeros_like(r))
        g = (r_pow - 1.0) / ((1 - p) * (2 - p)) - (r - 1.0) / (1 - p)
        g = xp.maximum(g, 0.0)
        return 2.0 * g * xp.where(g == 0, xp.ones_like(y_pred), y_pred) ** (2 - p)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self.power == 0:
            return 2.0 * (y_pred - y_true)
        # μ^{1−p}·(1 − y/μ): the ratio first; a zero factor gives 0 even where μ^{1−p} overflows.
        factor = 1.0 - y_true / y_pred
        base = xp.where(factor == 0, xp.ones_like(y_pred), y_pred)
        return 2.0 * factor * base ** (1.0 - self.power)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p = self.power
        if p == 0:
            return xp.full_like(y_pred, 2.0)
        return 2.0 * y_pred ** (-p) * (p * (y_true / y_pred) + (1 - p))


@register
class GaussianNLL(Loss):
    r"""Gaussian negative log-likelihood with a variance given per call (``var=``).

    - Formula: :math:`\ell = \tfrac12\big(\log\sigma^2 + (\hat y - y)^2/\sigma^2\big)` [+ ½ log 2π with full=True].
    - Domains: y_true, y_pred real; var > 0, the shape of y_pred or broadcastable to it.
    - Gradient (ŷ − y)/σ²; Hessian 1/σ² (with respect to y_pred; var is an input, not a
      parameter, and autograd differentiates it too).
    - Estimates the mean.
    - Relations: PyTorch ``gaussian_nll_loss(input, target, var, full)``, which clamps var
      at 1e-6 silently; losslab rejects var <= 0.

    >>> import losslab as ll
    >>> print(ll.gaussian_nll([0.0, 0.0], [1.0, 2.0], var=[1.0, 4.0]))
    0.8465736
    """

    name = "gaussian_nll"
    family = "probabilistic"
    aliases = ("gaussian_nll_loss", "GaussianNLLLoss", "normal_nll")
    description = "Gaussian negative log-likelihood with a predicted variance (heteroscedastic)."
    formula = r"\tfrac12\Big(\log\sigma^2 + \frac{(\hat y-y)^2}{\sigma^2}\Big)"
    parameters = (Param("full", False, V.BOOLEAN, "add the constant ½ log 2π"),)
    call_options = ("var",)
    TRAITS = Traits(task="regression", convex=True, strictly_convex=True, distance_based=True, estimates="mean")

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        (y_true, y_pred), options = super()._prepare(xp, arrays, options)
        return (y_true, y_pred), {"var": _per_call_array(xp, self.name, options, "var", "the variance", y_pred)}

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_finite(xp, options["var"], "var")
        V.check_in(xp, options["var"], "var", POSITIVE, what="variances")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any, var: Any) -> Any:
        r = y_pred - y_true
        out = 0.5 * (xp.log(var) + r * r / var)
        return out + 0.5 * _LOG_2PI if self.full else out

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any, var: Any) -> Any:
        return (y_pred - y_true) / var

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any, var: Any) -> Any:
        return 1.0 / var


class _LocationScale(Loss):
    """A loss of a location–scale forecast: y_pred is the location, the scale is given with
    each call (``scale=``), as gaussian_nll's ``var``; the gradient and Hessian are with
    respect to the location only (autograd differentiates the scale too)."""

    call_options = ("scale",)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        (y_true, y_pred), options = super()._prepare(xp, arrays, options)
        return (y_true, y_pred), {"scale": _per_call_array(xp, self.name, options, "scale", "the scale", y_pred)}

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_finite(xp, options["scale"], "scale")
        V.check_in(xp, options["scale"], "scale", POSITIVE, what="scales")


@register
class LaplaceNLL(_LocationScale):
    r"""Laplace negative log-likelihood with a scale given per call (``scale=``): heteroscedastic L1.

    - Formula: :math:`\ell = \log b + |\hat y - y|/b` [+ log 2 with full=True], b = scale.
    - Domains: y_true, y_pred (the location) real; scale > 0, the shape of y_pred or
      broadcastable to it, given with each call as gaussian_nll's ``var`` is (a model
      predicts it per sample; pass a number for one scale).
    - Gradient sign(ŷ − y)/b (0 at ŷ = y, a subgradient); Hessian 0 (the kink at ŷ = y has none).
    - Estimates the median (for any fixed scale, the location term is mae/b).
    - Relations: with b = 1 it is mae (+ log 2 with full=True); the Laplace twin of
      gaussian_nll (whose var is σ², where this takes the scale b itself: Var = 2b²).
      Neither PyTorch, Keras nor Optax has it.
    - Reference: Kendall & Gal (2017), What uncertainties do we need in Bayesian deep
      learning for computer vision?, NeurIPS (the Laplace likelihood, eq. 8).

    >>> import losslab as ll
    >>> print(ll.laplace_nll([0.0, 0.0], [1.0, -2.0], scale=[1.0, 2.0], reduction="none"))
    [1.         1.69314718]
    """

    name = "laplace_nll"
    family = "probabilistic"
    aliases = ("laplace_nll_loss", "laplacian_nll")
    description = "Laplace negative log-likelihood with a per-call scale (heteroscedastic L1)."
    formula = r"\log b + \frac{|\hat y - y|}{b}"
    parameters = (Param("full", False, V.BOOLEAN, "add the constant log 2"),)
    TRAITS = Traits(
        task="regression", convex=True, differentiable=False, twice_differentiable=False, lipschitz=True,
        robust=True, distance_based=True, estimates="median",
    )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        out = xp.log(scale) + xp.abs(y_pred - y_true) / scale
        return out + math.log(2.0) if self.full else out

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        return xp.sign(y_pred - y_true) / scale

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class StudentTNLL(_LocationScale):
    r"""Student-t negative log-likelihood with ``df`` degrees of freedom and a scale given per call.

    - Formula: with ν = df, s = scale, t = (ŷ − y)/(s√ν):
      :math:`\ell = \log s + \tfrac{\nu+1}{2}\log(1 + t^2)` [+ log Γ(ν/2) − log Γ((ν+1)/2)
      + ½ log(νπ) with full=True].
    - Domains: y_true, y_pred (the location) real; df > 0; scale > 0, the shape of y_pred or
      broadcastable to it, given with each call as gaussian_nll's ``var`` is.
    - Gradient (ν + 1)(ŷ − y)/(νs² + (ŷ − y)²): largest, (ν + 1)/(2s√ν), at |ŷ − y| = s√ν, then
      back toward 0 (redescending); Hessian (ν + 1)(νs² − r²)/(νs² + r²)², negative beyond
      |r| = s√ν: not convex.
    - Estimates a robust location ("other": on skewed data neither the mean nor the median).
    - Relations: df = 1 is the Cauchy likelihood: student_t_nll(df=1, scale=c) =
      log c + 2·cauchy(scale=c)/c²; as df → ∞ it tends to gaussian_nll with var = s²
      (+ ½ log 2π with full=True). PyTorch's ``distributions.StudentT(df, loc, scale).log_prob``
      is −ℓ with full=True.
    - Reference: Lange, Little & Taylor (1989), Robust statistical modeling using the t
      distribution, JASA 84(408).

    >>> import losslab as ll
    >>> print(round(float(ll.student_t_nll([0.0], [1.0], df=1.0, scale=1.0)), 6))
    0.693147
    """

    name = "student_t_nll"
    family = "probabilistic"
    aliases = ("student_t", "studentt_nll", "t_nll")
    description = "Student-t negative log-likelihood with a per-call scale: a heavy-tailed, robust NLL."
    formula = r"\log s + \frac{\nu+1}{2}\log\Big(1 + \frac{(\hat y - y)^2}{\nu s^2}\Big)"
    parameters = (
        Param("df", 3.0, V.POSITIVE, "degrees of freedom ν: 1 Cauchy, → ∞ Gaussian"),
        Param("full", False, V.BOOLEAN, "add the normalising constant"),
    )
    TRAITS = Traits(task="regression", lipschitz=True, robust=True, distance_based=True, estimates="other")

    def _constant(self) -> float:
        nu = self.df
        return math.lgamma(0.5 * nu) - math.lgamma(0.5 * (nu + 1.0)) + 0.5 * math.log(nu * math.pi)

    def _t(self, y_true: Any, y_pred: Any, scale: Any) -> Any:
        return (y_pred - y_true) / (scale * math.sqrt(self.df))

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        out = xp.log(scale) + 0.5 * (self.df + 1.0) * S.log1p_square(xp, self._t(y_true, y_pred, scale))
        return out + self._constant() if self.full else out

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        # (ν + 1)·r/(νs² + r²) = (ν + 1)/(s√ν) · t/(1 + t²), t/(1 + t²) without overflow.
        t = self._t(y_true, y_pred, scale)
        return (self.df + 1.0) / (scale * math.sqrt(self.df)) * S.ratio_over_one_plus_square(xp, t)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        # (ν + 1)/(νs²) · (1 − t²)/(1 + t²)², written in v = min(t², 1/t²) so that no square
        # overflows (as cauchy's Hessian).
        u = xp.abs(self._t(y_true, y_pred, scale))
        inside = u <= 1.0
        v = xp.where(inside, xp.minimum(u, 1.0) ** 2, 1.0 / xp.maximum(u, 1.0) ** 2)
        shape = xp.where(inside, (1.0 - v) / (1.0 + v) ** 2, v * (v - 1.0) / (v + 1.0) ** 2)
        return (self.df + 1.0) / self.df * shape / (scale * scale)


@register
class CRPSGaussian(_LocationScale):
    r"""Continuous ranked probability score of a Gaussian forecast N(y_pred, scale²), in closed form.

    - Formula: with z = (y − μ)/σ, μ = y_pred, σ = scale:
      :math:`\ell = \sigma\big[z(2\Phi(z) - 1) + 2\varphi(z) - 1/\sqrt\pi\big]`
      = ∫ (F(x) − 1[x ≥ y])² dx, F the forecast's CDF.
    - Domains: y_true, y_pred (the mean) real; scale σ > 0, the shape of y_pred or broadcastable
      to it, given with each call (as gaussian_nll's ``var``, but the standard deviation).
    - Gradient 2Φ((μ − y)/σ) − 1 = erf((μ − y)/(σ√2)), in (−1, 1); Hessian 2φ((μ − y)/σ)/σ > 0:
      strictly convex in exact arithmetic, but the curvature falls below double precision's
      resolution of the value beyond |μ − y| ≈ 8σ (φ(8) ≈ 5e-15), where the loss is linear to
      every digit; so declared (and measured) convex, not strictly.
    - Estimates "other": for a fixed σ the best mean solves E[erf((μ − y)/(σ√2))] = 0, a
      median of y smoothed by the forecast's spread (the median itself as σ → 0). As a score of
      the whole forecast (μ and σ) it is strictly proper.
    - Relations: → |μ − y| (mae) as σ → 0; in the units of y, unlike gaussian_nll; the
      ensemble form E|X − y| − ½E|X − X′| of the same score. properscoring's ``crps_gaussian(y,
      mu, sig)`` is the same function.
    - Reference: Gneiting, Raftery, Westveld & Goldman (2005), Calibrated probabilistic
      forecasting using ensemble model output statistics and minimum CRPS estimation,
      Monthly Weather Review 133 (eq. 5).

    >>> import losslab as ll
    >>> print(round(float(ll.crps_gaussian([0.0], [0.0], scale=1.0)), 6))
    0.233695
    """

    name = "crps_gaussian"
    family = "probabilistic"
    aliases = ("crps_normal", "gaussian_crps")
    description = "Closed-form CRPS of a Gaussian forecast: a proper score in the units of y."
    formula = r"\sigma\big[z(2\Phi(z)-1) + 2\varphi(z) - 1/\sqrt\pi\big],\ z = (y-\hat y)/\sigma"
    TRAITS = Traits(
        task="regression", convex=True, lipschitz=True, robust=True, distance_based=True, estimates="other",
        notes=("strictly convex in exact arithmetic; numerically linear beyond |r| ≈ 8σ",),
    )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        # Even in z, so written in u = (μ − y)/σ; u² is clipped where φ(u) = 0 already (|u| > 40).
        u = (y_pred - y_true) / scale
        small = S.clip(xp, u, -40.0, 40.0)
        pdf2 = math.sqrt(2.0 / math.pi) * xp.exp(-0.5 * small * small)  # 2φ(u)
        return scale * (u * _erf(xp, u / math.sqrt(2.0)) + pdf2 - 1.0 / math.sqrt(math.pi))

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        return _erf(xp, (y_pred - y_true) / (scale * math.sqrt(2.0)))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any, scale: Any) -> Any:
        u = S.clip(xp, (y_pred - y_true) / scale, -40.0, 40.0)
        return math.sqrt(2.0 / math.pi) * xp.exp(-0.5 * u * u) / scale


class _DistributionLoss(Loss):
    """Rows of probabilities over the last axis: targets (N, C) distributions, predictions (N, C)."""

    event_ndim = 1

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_true, y_pred)
        if y_pred.ndim != 2:
            raise ValueError(f"y_pred must be probability rows of shape (n_samples, n_classes); got shape {tuple(y_pred.shape)}")
        V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        check_distribution(xp, y_true)
        check_probabilities(xp, y_pred, "y_pred")
        check_rows_sum_to_one(xp, y_pred, "y_pred")


@register
class KLDivergence(_DistributionLoss):
    r"""Kullback–Leibler divergence KL(y_true ‖ y_pred) of each row.

    - Formula: :math:`\ell = \sum_c p_c \log(p_c / q_c)` with p = y_true, q = y_pred, 0·log 0 = 0.
      ``log_input=True``: y_pred holds log q; ``log_target=True``: y_true holds log p
      (−inf for p = 0, whose term is 0).
    - Domains: rows (N, C) of probabilities that sum to 1, or of their logarithms (≤ 0, rows
      whose exponentials sum to 1); probabilities q are clipped to [ε, 1] with ε =
      finfo(dtype).eps, so that q = 0 gives a large finite loss; log q must be finite.
    - Gradient −p/q (log_input: −p, of log q); Hessian p/q² (log_input: 0, the loss is
      linear in log q).
    - Estimates the probability (q = p is the minimiser): a proper scoring rule, equal to
      cross-entropy minus the entropy of p.
    - Relations: PyTorch's ``kl_div(input, target, log_target)`` takes log q as input: it is
      kl_divergence(log_input=True, log_target=...), but its default reduction='mean'
      divides by N·C (not KL), so its names are not aliases (``ll.get("KLDivLoss")`` says
      so); its 'batchmean' equals losslab's 'mean'. Optax's ``kl_divergence_with_log_targets(log_predictions,
      log_targets)`` is log_input=True, log_target=True (preset alias); Optax's own
      ``kl_divergence(log_predictions, targets)`` takes log q too (log_input=True). Keras
      ``KLDivergence`` takes probabilities and clips both rows to [1e-7, 1].

    >>> import losslab as ll
    >>> print(ll.kl_divergence([[0.5, 0.5]], [[0.9, 0.1]]))
    0.5108256
    """

    name = "kl_divergence"
    family = "probabilistic"
    aliases = ("kld", "kullback_leibler_divergence", "KLDivergence")
    preset_aliases = {
        "kl_divergence_with_log_targets": {"log_input": True, "log_target": True},
    }
    description = "KL(p‖q) between target and predicted distributions; per row, summed over classes."
    formula = r"\sum_c p_c \log\frac{p_c}{q_c}"
    parameters = (
        Param("log_input", False, V.BOOLEAN, "y_pred holds log-probabilities (PyTorch's and Optax's input)"),
        Param("log_target", False, V.BOOLEAN, "y_true holds log-probabilities"),
    )

    def _traits(self) -> Traits:
        return Traits(
            task="multiclass", y_true_domain=_NONPOSITIVE if self.log_target else UNIT,
            # On log q the loss is linear, Σ p_c(log p_c − x_c): its gradient −p is bounded by 1.
            # (as nll's): lipschitz and robust there, not on q, where it is −p/q.
            y_pred_domain=_NONPOSITIVE if self.log_input else UNIT, convex=True, lipschitz=self.log_input,
            robust=self.log_input, proper=True,
            classification_calibrated=True, estimates="probability",
        )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        if self.log_target:
            V.check_finite(xp, y_true, "y_true", allow_neg_inf=True)
            V.check_in(xp, y_true, "y_true", Interval(-math.inf, 0.0), what="target log-probabilities (−inf for 0)")
            check_rows_sum_to_one(xp, xp.exp(y_true), "exp(y_true)")
        else:
            check_distribution(xp, y_true)
        if self.log_input:
            V.check_finite(xp, y_pred, "y_pred")
            V.check_in(xp, y_pred, "y_pred", _NONPOSITIVE, what="log-probabilities")
            check_rows_sum_to_one(xp, xp.exp(y_pred), "exp(y_pred)")
        else:
            check_probabilities(xp, y_pred, "y_pred")
            check_rows_sum_to_one(xp, y_pred, "y_pred")

    def _target(self, xp: Any, y_true: Any) -> tuple[Any, Any]:
        """(p, Σ-term p·log p per entry), 0·log 0 = 0 in both forms."""
        if not self.log_target:
            return y_true, S.xlogy(xp, y_true, y_true)
        finite = y_true > -math.inf
        log_p = xp.where(finite, y_true, xp.zeros_like(y_true))  # no −inf enters a product
        p = xp.where(finite, xp.exp(log_p), xp.zeros_like(y_true))
        return p, p * log_p

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p, p_log_p = self._target(xp, y_true)
        log_q = y_pred if self.log_input else xp.log(clip_probabilities(xp, y_pred))
        cross = p * log_q if self.log_input else S.xlogy(xp, p, clip_probabilities(xp, y_pred))
        return xp.sum(p_log_p - cross, axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p = self._target(xp, y_true)[0]
        return -p if self.log_input else -p / clip_probabilities(xp, y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p = self._target(xp, y_true)[0]
        if self.log_input:
            return xp.zeros_like(y_pred)
        q = clip_probabilities(xp, y_pred)
        return p / (q * q)


@register
class JSDivergence(_DistributionLoss):
    r"""Jensen–Shannon divergence: the symmetric, bounded average of two KLs to the midpoint.

    - Formula: :math:`\ell = \tfrac12\mathrm{KL}(p\,\|\,m) + \tfrac12\mathrm{KL}(q\,\|\,m)`, m = (p + q)/2,
      natural logarithm, so 0 ≤ ℓ ≤ log 2.
    - Domains: rows of probabilities (N, C) that sum to 1.
    - Gradient ½·log(q/m); Hessian ½·p / (q(p + q)) (q clipped to [ε, 1]).
    - Estimates the probability when the target is a distribution (q = p minimises it), but
      it is not a proper scoring rule for one-hot outcomes ("other" there).
    - Relations: scipy.spatial.distance.jensenshannon returns its square root (base e).

    >>> import losslab as ll
    >>> print(ll.js_divergence([[1.0, 0.0]], [[0.0, 1.0]]))
    0.6931472
    """

    name = "js_divergence"
    family = "probabilistic"
    aliases = ("jensen_shannon", "jsd")
    description = "Jensen–Shannon divergence: symmetric, bounded by log 2."
    formula = r"\tfrac12\sum_c p_c\log\frac{2p_c}{p_c+q_c} + \tfrac12\sum_c q_c\log\frac{2q_c}{p_c+q_c}"
    TRAITS = Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=UNIT, convex=True, bounded=True, lipschitz=False,
        proper=False, estimates="other",
    )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        m = 0.5 * (y_true + y_pred)
        return 0.5 * xp.sum(S.xlogy(xp, y_true, y_true / xp.where(m > 0, m, 1.0))
                            + S.xlogy(xp, y_pred, y_pred / xp.where(m > 0, m, 1.0)), axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q = clip_probabilities(xp, y_pred)
        return 0.5 * xp.log(2.0 * q / (y_true + q))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q = clip_probabilities(xp, y_pred)
        return 0.5 * y_true / (q * (y_true + q))


@register
class Brier(Loss):
    r"""Brier score: squared error of predicted probabilities.

    - Formula: binary (y_pred of shape (N,), the probability of class 1):
      :math:`\ell = (q - y)^2`; multiclass (y_pred (N, C) rows):
      :math:`\ell = \sum_c (q_c - t_c)^2` with t the one-hot or soft target.
    - Domains: y_true in [0, 1] (binary) or class indices / distributions (multiclass);
      y_pred probabilities (rows summing to 1 in the multiclass case).
    - Gradient 2(q − t); Hessian 2.
    - Estimates the probability: a strictly proper scoring rule, bounded (unlike log loss).
    - Relations: scikit-learn's ``brier_score_loss`` (binary: the same). Multiclass values
      are Brier's (1950) original sum over classes, which is twice the binary value on
      two-class rows.
    - Reference: Brier (1950), Verification of forecasts expressed in terms of probability.

    >>> import losslab as ll
    >>> print(ll.brier([1, 0, 1], [0.9, 0.2, 0.6]))
    0.07
    """

    name = "brier"
    family = "probabilistic"
    aliases = ("brier_score", "brier_score_loss")
    description = "Squared error of probabilities; a proper, bounded scoring rule."
    formula = r"\sum_c (q_c - t_c)^2"
    TRAITS = Traits(
        task="classification", y_true_domain=UNIT, y_pred_domain=UNIT, convex=True, strictly_convex=True,
        # robust: the gradient 2(q − t) stays bounded however wrong the prediction (log loss's −1/q does not).
        lipschitz=True, bounded=True, robust=True, proper=True, classification_calibrated=True, estimates="probability",
    )

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return tuple(arrays[1].shape[:1]) if arrays[1].ndim == 2 else tuple(arrays[1].shape)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_pred)
        y_pred = xp.astype(y_pred, dtype, copy=False)
        if y_pred.ndim == 1:
            V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
            return (xp.astype(y_true, dtype, copy=False), y_pred), options
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must be probabilities of shape (n,) or rows (n, n_classes); got shape {tuple(y_pred.shape)}"
            )
        if is_index_target(y_true, y_pred):
            if not is_tracing(y_true):
                check_class_indices(xp, y_true, y_pred.shape[1])
            y_true = one_hot(xp, y_true, y_pred.shape[1], dtype)
        return (xp.astype(y_true, dtype, copy=False), y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        check_probabilities(xp, y_pred, "y_pred")
        if y_pred.ndim == 2:
            check_distribution(xp, y_true)
            check_rows_sum_to_one(xp, y_pred, "y_pred")
        else:
            check_probabilities(xp, y_true, "y_true")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        d = (y_pred - y_true) ** 2
        return xp.sum(d, axis=-1) if y_pred.ndim == 2 else d

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return 2.0 * (y_pred - y_true)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.full_like(y_pred, 2.0)


# ------------------------------------------------------------------------------ survival
def _binary_indicator(xp: Any, x: Any, name: str, what: str) -> None:
    """Every entry of ``x`` is 0 or 1 (a NaN is caught before, by the finiteness check)."""
    bad = (x != 0.0) & (x != 1.0)
    if is_tracing(x):
        V.traced_invalid(xp, bad, f"{name} must hold {what}: 0 or 1")
        return
    if x.size and V.concrete(xp.any(bad)):
        first = float(to_numpy(x)[to_numpy(bad)][0])
        raise ValueError(f"{name} must hold {what}: 0 or 1 (or True/False); got {first:g}")


def _prefix(xp: Any, x: Any) -> Any:
    """[0, x₀, x₀ + x₁, …]: sums over a contiguous run i ≤ k < j are prefix[j] − prefix[i]."""
    zero = xp.zeros((1,), dtype=x.dtype, device=device(x))
    return xp.concat([zero, xp.cumulative_sum(x)])


def _log_cumsum_exp(xp: Any, x: Any, reverse: bool = False) -> Any:
    """log Σ_{j ≤ k} e^{x_j} (reverse: j ≥ k) of a 1-D array, without overflow or underflow
    (−inf entries add nothing): NumPy's logaddexp.accumulate, torch.logcumsumexp and
    jax.lax.cumlogsumexp (differentiable there), NumPy through the host otherwise."""
    if is_torch(xp):
        import torch

        return torch.flip(torch.logcumsumexp(torch.flip(x, (0,)), 0), (0,)) if reverse else torch.logcumsumexp(x, 0)
    if is_jax(xp):
        import jax

        return jax.lax.cumlogsumexp(x, axis=0, reverse=reverse)
    host = to_numpy(x)
    out = np.logaddexp.accumulate(host[::-1])[::-1] if reverse else np.logaddexp.accumulate(host)
    return out if is_numpy(xp) else xp.asarray(np.ascontiguousarray(out), dtype=x.dtype, device=device(x))


@register
class Cox(Loss):
    r"""Cox proportional-hazards loss: the negative log partial likelihood of risk scores.

    - Formula: with risk scores η (log relative hazards), the event indicator δ and the
      risk set R(t) = {j : t_j ≥ t}, each event i contributes
      :math:`\ell_i = \log\sum_{j \in R(t_i)} e^{\eta_j} - \eta_i` (``ties="breslow"``);
      censored samples contribute 0 of their own but sit in the risk sets of earlier events.
      ``ties="efron"``: for the d events D tied at a time t, with S = Σ_{R(t)} e^η and
      T = Σ_D e^η, the group's term is
      :math:`\sum_{l=0}^{d-1}\log\big(S - \tfrac{l}{d}T\big) - \sum_{i \in D}\eta_i`,
      shared equally by its d events (each gets 1/d of the log sum, minus its own η).
      Without ties both are the exact partial likelihood. ``reduction="sum"`` is the
      negative log partial likelihood; "mean" divides by the number of samples (censored
      ones included).
    - Domains: the inputs are (times, events, risk_scores), each of shape (N,): times real
      (follow-up or event times; only their order matters), events 0 (censored) or 1
      (bool allowed), risk_scores real. The samples interact through the risk sets, so the
      loss is not separable: reduction="none" has no gradient, and a sample weight wᵢ
      multiplies ℓᵢ, event i's term (risk sets are not reweighted).
    - Gradient of Σᵢ cᵢℓᵢ (c: the weights and the reduction's factor) with respect to η_k:
      :math:`e^{\eta_k}\big[\sum_{g:\,t_g \le t_k} m_g\sum_l u_{gl}^{-1} - \delta_k m_{g_k}\sum_l a_l u_{g_kl}^{-1}\big] - c_k\delta_k`,
      over the event groups g (their times t_g), with u_{gl} = S_g − a_lT_g, a_l = l/d_g (0 for
      Breslow), m_g the mean c of group g's events and g_k the group of k; for Breslow without
      ties, Σ over the events i with t_i ≤ t_k of c_i e^{η_k}/S_i, minus c_kδ_k. Hessian
      diagonal: the same bracket times e^{η_k}, minus e^{2η_k}[Σ_{g: t_g ≤ t_k} m_g Σ_l u_{gl}^{−2}
      − δ_k m_{g_k} Σ_l (2a_l − a_l²) u_{g_kl}^{−2}], exact for any weights. O(N log N): one sort
      by time, then cumulative sums; the risk-set sums are kept as logarithms (a cumulative
      log-sum-exp), so scores of any spread and any common offset stay finite and exact.
    - Estimates the log relative hazard, up to a constant (the loss is invariant to adding
      one number to every score): convex, not strictly.
    - Relations: lifelines' ``CoxPHFitter`` and scikit-survival's ``CoxPHSurvivalAnalysis``
      maximise −sum (Efron by default in lifelines, Breslow by default in scikit-survival,
      both without weights here; lifelines' case weights also weight the risk sets). pycox's
      ``CoxPHLoss`` and DeepSurv report the mean over events, ``reduction="sum"`` divided by
      ``events.sum()``; their risk sets come from a cumulative sum over the samples sorted
      by time, which is Breslow's when no two times tie (with ties, a tied event's risk set
      depends on the sort order, where Breslow gives every tied sample the same one).
    - Reference: Cox (1972), Regression models and life-tables, JRSS B 34(2); Breslow (1974),
      Covariance analysis of censored survival data, Biometrics 30; Efron (1977), The
      efficiency of Cox's likelihood function for censored data, JASA 72(359).

    >>> import losslab as ll
    >>> times, events, scores = [1.0, 2.0, 2.0, 3.0], [1, 1, 1, 0], [0.0, 0.0, 0.0, 0.0]
    >>> print(round(float(ll.cox(times, events, scores, reduction="sum")), 6))  # log 4 + 2 log 3
    3.583519
    >>> print(round(float(ll.cox(times, events, scores, ties="efron", reduction="sum")), 6))  # log 4 + log 3 + log 2
    3.178054
    """

    name = "cox"
    family = "probabilistic"
    aliases = ("cox_ph", "coxph", "cox_partial_likelihood", "neg_partial_log_likelihood")
    description = "Cox negative log partial likelihood of risk scores (Breslow or Efron ties)."
    formula = r"\sum_{i:\,\delta_i=1}\Big(\log\sum_{j:\,t_j\ge t_i} e^{\eta_j} - \eta_i\Big)"
    parameters = (Param("ties", "breslow", V.one_of("breslow", "efron"), "how tied event times are handled"),)
    inputs = ("times", "events", "risk_scores")
    differentiable_inputs = ("risk_scores",)
    separable = False
    TRAITS = Traits(task="survival", convex=True, lipschitz=True, estimates="other",
                    notes=("invariant to a common shift of the scores: convex, not strictly",))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        times, events, scores = arrays
        if scores.ndim != 1:
            raise ValueError(f"risk_scores must hold one score per sample, shape (n_samples,); got shape {tuple(scores.shape)}")
        V.check_same_shape(times, scores, "times", "risk_scores")
        V.check_same_shape(events, scores, "events", "risk_scores")
        dtype = float_dtype(xp, scores)
        if xp.isdtype(times.dtype, "bool"):
            raise TypeError("times must be numbers (follow-up or event times); got a boolean array")
        return (times, xp.astype(events, dtype), xp.astype(scores, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        _binary_indicator(xp, arrays[1], "events", "event indicators (1: the event happened, 0: censored)")

    def _groups(self, xp: Any, times: Any, events: Any, scores: Any, cotangent: Any) -> dict:
        """Everything in time order: the per-sample pieces of the value and its derivatives.

        Risk-set sums are kept as logarithms, log S = a reverse cumulative log-sum-exp of the
        scores, so that no sum underflows or overflows whatever the spread of the scores;
        Efron's terms enter as u/S = 1 − (l/d)·T/S, which lies in [1/d, 1].
        """
        order = xp.argsort(times)
        t = xp.take(times, order)
        d = xp.take(events, order)
        eta = xp.take(scores, order)
        eta = eta - xp.max(eta)  # any common shift is free; this one keeps large offsets exact
        c = d if cotangent is None else xp.take(cotangent, order) * d
        # Samples tied in time form one contiguous run first[k] ≤ j < last[k].
        first = xp.searchsorted(t, t, side="left")
        last = xp.searchsorted(t, t, side="right")
        log_s = xp.take(_log_cumsum_exp(xp, eta, reverse=True), first)  # log Σ e^η over R(t_k)
        cum_d = _prefix(xp, d)
        per_group = xp.maximum(xp.take(cum_d, last) - xp.take(cum_d, first), 1.0)  # events tied at t_k
        g = {"order": order, "d": d, "eta": eta, "c": c, "first": first, "last": last, "log_s": log_s,
             "per_group": per_group}
        if self.ties == "efron":
            t_over_s = self._group_sum(xp, g, d * xp.exp(eta - log_s))  # T/S: each term ≤ 1
            # Event k takes the l-th term of its group, l = its rank among the group's events.
            frac = d * (cum_d[1:] - xp.take(cum_d, first) - 1.0) / per_group
            ratio = xp.where(d > 0, 1.0 - frac * t_over_s, xp.ones_like(eta))
        else:
            frac, ratio = xp.zeros_like(eta), xp.ones_like(eta)
        g.update(frac=frac, ratio=ratio, mean_c=self._group_sum(xp, g, c) / per_group)
        return g

    def _unsorted(self, xp: Any, g: dict, x: Any) -> Any:
        return xp.take(x, xp.argsort(g["order"]))

    def _group_sum(self, xp: Any, g: dict, x: Any) -> Any:
        """Σ of x over the samples tied with k (in time order)."""
        p = _prefix(xp, x)
        return xp.take(p, g["last"]) - xp.take(p, g["first"])

    def _values(self, xp: Any, g: dict) -> Any:
        d = g["d"]
        # log u = log S + log(u/S); each event's share of its group's Σ log(u/S) (bounded by log d).
        share = self._group_sum(xp, g, d * xp.log(g["ratio"])) / g["per_group"]
        return d * (g["log_s"] + share - g["eta"])

    def _per_sample(self, xp: Any, times: Any, events: Any, scores: Any) -> Any:
        g = self._groups(xp, times, events, scores, None)
        return self._unsorted(xp, g, self._values(xp, g))

    def _derivatives(self, xp: Any, g: dict, hessian: bool) -> tuple[Any, Any]:
        d, eta, frac, ratio, m, log_s = g["d"], g["eta"], g["frac"], g["ratio"], g["mean_c"], g["log_s"]
        live = (d > 0) & (m > 0)
        log_m = xp.where(live, xp.log(xp.where(live, m, xp.ones_like(m))), xp.full_like(m, -math.inf))
        log_u = log_s + xp.log(ratio)
        last_before = g["last"] - 1  # the last position at or before t_k
        # e^{η_k}·Σ_{events j, t_j ≤ t_k} m_j/u_j, as exp(η_k + log Σ …): bounded, since k is in
        # every one of those risk sets (e^{η_k} ≤ S_j).
        over_risk = xp.exp(eta + xp.take(_log_cumsum_exp(xp, log_m - log_u), last_before))
        own_scale = d * m * xp.exp(eta - log_s)  # e^{η_k}/S_g·m_g for an event k (≤ m_g)
        own = own_scale * self._group_sum(xp, g, d * frac / ratio)  # e^{η_k} m_g Σ_l a_l/u_l
        grad = over_risk - own - g["c"]
        if not hessian:
            return grad, None
        over_risk2 = xp.exp(2.0 * eta + xp.take(_log_cumsum_exp(xp, log_m - 2.0 * log_u), last_before))
        # e^{2η_k} m_g Σ_l (1 − (1 − a_l)²)/u_l² = e^{2η_k} m_g Σ_l (2a_l − a_l²)/u_l².
        own2 = own_scale * xp.exp(eta - log_s) * self._group_sum(xp, g, d * frac * (2.0 - frac) / (ratio * ratio))
        return grad, (over_risk - own) - (over_risk2 - own2)

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        times, events, scores = arrays
        g = self._groups(xp, times, events, scores, cotangent)
        total = _scalar(xp, xp.sum(g["c"] * self._values(xp, g))) if value else None
        grad = self._unsorted(xp, g, self._derivatives(xp, g, False)[0]) if gradient else None
        return total, grad

    def _weighted_hessian(self, xp: Any, arrays: tuple, options: dict, cotangent: Any) -> Any:
        times, events, scores = arrays
        g = self._groups(xp, times, events, scores, cotangent)
        return self._unsorted(xp, g, self._derivatives(xp, g, True)[1])


# ----------------------------------------------------------------------- ensemble forecasts
@register
class CRPSEnsemble(Loss):
    r"""Continuous ranked probability score of an ensemble forecast: its M members against the observation.

    - Formula: with members x₁ … x_M (y_pred's row) and the observation y:
      :math:`\ell = \frac1M\sum_m |x_m - y| - \frac{1}{2M^2}\sum_{m,m'} |x_m - x_{m'}|`, the CRPS
      of the ensemble's empirical distribution, E|X − y| − ½E|X − X′|. ``fair=True`` divides
      the spread term by 2M(M − 1) instead (the pairs m ≠ m′ only): the unbiased estimate of
      the CRPS of the distribution the members are drawn from (Ferro 2014). The spread term
      is computed from the sorted members, Σ_{m,m′}|x_m − x_m′| = 2Σ_i (2i − M + 1) x_(i)
      (i = 0 … M − 1), in O(M log M) per sample.
    - Domains: y_true (N,) real; y_pred (N, M) real, M ≥ 1 members (M ≥ 2 with fair=True).
    - Gradient with respect to x_k: sign(x_k − y)/M − (2r_k − M + 1)/M² (fair: /(M(M − 1))),
      r_k the rank of x_k among its row's members (0 for the smallest); a subgradient where a
      member ties y or another member (ties are ranked in sort order). Hessian 0: the loss is
      piecewise linear in the members.
    - Estimates "other": a strictly proper score of the forecast distribution (the expected
      score is lowest when the members are drawn from the distribution of y). Not convex in
      the members: −|x_m − x_m′| rewards spread.
    - Relations: with M = 1, |x − y| (mae); properscoring's ``crps_ensemble(observations,
      forecasts)`` is fair=False; scoringrules' ``crps_ensemble`` (estimator "pwm" or "nrg")
      is the same number, its "fair" estimator is fair=True. crps_gaussian is the closed form
      for a Gaussian forecast.
    - Reference: Gneiting & Raftery (2007), Strictly proper scoring rules, prediction, and
      estimation, JASA 102(477), eq. 21; Ferro (2014), Fair scores for ensemble forecasts,
      QJRMS 140 (the fair variant).

    >>> import losslab as ll
    >>> print(round(float(ll.crps_ensemble([0.0], [[-1.0, 0.5, 2.0]])), 6))  # 7/6 − ½·(12/9)
    0.5
    >>> print(round(float(ll.crps_ensemble([0.0], [[-1.0, 0.5, 2.0]], fair=True)), 6))  # 7/6 − ½·(12/6)
    0.166667
    """

    name = "crps_ensemble"
    family = "probabilistic"
    aliases = ("ensemble_crps", "crps_empirical")
    description = "CRPS of an ensemble forecast, E|X − y| − ½E|X − X′|; fair variant optional."
    formula = r"\frac1M\sum_m |x_m - y| - \frac{1}{2M^2}\sum_{m,m'}|x_m - x_{m'}|"
    parameters = (Param("fair", False, V.BOOLEAN, "the unbiased (fair) spread term, over pairs m ≠ m′"),)
    event_ndim = 1
    TRAITS = Traits(task="regression", differentiable=False, twice_differentiable=False, lipschitz=True,
                    robust=True, estimates="other",
                    notes=("a strictly proper score of the ensemble's distribution",))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must hold ensemble members, shape (n_samples, n_members); got shape {tuple(y_pred.shape)}")
        if tuple(y_true.shape) != (y_pred.shape[0],):
            raise ValueError(f"y_true must hold one observation per row of y_pred, shape ({y_pred.shape[0]},);"
                             f" got shape {tuple(y_true.shape)}")
        if self.fair and y_pred.shape[1] < 2:
            raise ValueError(f"y_pred must hold at least 2 members with fair=True (its spread term is over pairs);"
                             f" got {y_pred.shape[1]}")
        if y_pred.shape[1] == 0:
            raise ValueError("y_pred must hold at least one member per row; got 0 columns")
        dtype = float_dtype(xp, y_true, y_pred)
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    def _spread_scale(self, m: int) -> float:
        return 1.0 / (m * (m - 1)) if self.fair else 1.0 / (m * m)

    def _rank_weights(self, xp: Any, m: int, like: Any) -> Any:
        """2i − M + 1 for i = 0 … M − 1: each sorted member's coefficient in Σ|x_m − x_m′|/2."""
        return 2.0 * xp.arange(m, dtype=like.dtype, device=device(like)) - (m - 1.0)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        m = y_pred.shape[1]
        skill = xp.mean(xp.abs(y_pred - y_true[:, None]), axis=1)
        spread = xp.sum(xp.sort(y_pred, axis=1) * self._rank_weights(xp, m, y_pred), axis=1)
        return skill - self._spread_scale(m) * spread

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        m = y_pred.shape[1]
        rank = xp.astype(xp.argsort(xp.argsort(y_pred, axis=1), axis=1), y_pred.dtype)
        return xp.sign(y_pred - y_true[:, None]) / m - self._spread_scale(m) * (2.0 * rank - (m - 1.0))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


# ------------------------------------------------------------------------------ ordinal
def _is_importance_vector(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim == 1 and a.size > 0 and bool(np.all(np.isfinite(a))) and bool(np.all(a >= 0))


_IMPORTANCE = V.Rule(lambda v: v is None or _is_importance_vector(v),
                     "None or a 1-D sequence of finite, non-negative weights, one per threshold (K − 1)")


@register
class CORAL(Loss):
    r"""CORAL: ordinal regression as K − 1 binary tasks "is the rank above k?" on shared-weight logits.

    - Formula: for ranks 0 … K − 1, logits f_k (k = 0 … K − 2) and the extended binary labels
      t_k = 1[y > k]:
      :math:`\ell = \sum_{k=0}^{K-2} \lambda_k\big[t_k\,\mathrm{softplus}(-f_k) + (1 - t_k)\,\mathrm{softplus}(f_k)\big]`,
      the binary cross-entropies of the K − 1 tasks on logits (λ = importance_weights, 1 if
      None). The model behind the logits shares one weight vector across the tasks and has
      K − 1 biases, f_k = wᵀh + b_k, which keeps the predicted P(y > k) = σ(f_k) rank-consistent;
      the predicted rank is Σ_k 1[σ(f_k) > ½].
    - Domains: y_true (N,) integer ranks in {0, …, K − 1} or the (N, K − 1) extended labels
      t in [0, 1]; y_pred (N, K − 1) real logits; importance_weights None or K − 1 numbers ≥ 0.
    - Gradient λ_k(σ(f_k) − t_k); Hessian λ_kσ(f_k)(1 − σ(f_k)).
    - Estimates the probability P(y > k) of each threshold (σ(f_k); each task's term is a
      strictly proper log score when λ_k > 0).
    - Relations: coral-pytorch's ``coral_loss(logits, levels, importance_weights)`` with its
      default reduction='mean' is losslab's mean (per sample, summed over tasks); it equals
      Σ_k binary_cross_entropy(t_k, f_k, from_logits=True). CORN (Shi et al. 2021) conditions
      the tasks instead and is not this loss.
    - Reference: Cao, Mirjalili & Raschka (2020), Rank consistent ordinal regression for
      neural networks with application to age estimation, Pattern Recognition Letters 140 (eq. 2).

    >>> import losslab as ll
    >>> print(round(float(ll.coral([2], [[0.0, 0.0, 0.0]])), 6))  # 3·log 2, ranks 0…3
    2.079442
    """

    name = "coral"
    family = "probabilistic"
    aliases = ("coral_loss", "ordinal_coral", "coral_ordinal")
    description = "CORAL ordinal regression: K − 1 rank-consistent binary tasks on logits."
    formula = r"\sum_k \lambda_k\big[t_k\,\mathrm{softplus}(-f_k) + (1-t_k)\,\mathrm{softplus}(f_k)\big],\ t_k = 1[y > k]"
    parameters = (Param("importance_weights", None, _IMPORTANCE, "weight λ_k of each binary task"),)
    event_ndim = 1
    TRAITS = Traits(task="ordinal", y_true_domain=NONNEGATIVE, convex=True, lipschitz=True, estimates="probability",
                    notes=("σ(f_k) estimates P(y > k); the predicted rank is Σ_k 1[σ(f_k) > ½]",))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 2 or y_pred.shape[1] < 1:
            raise ValueError(
                f"y_pred must hold K − 1 logits per sample, shape (n_samples, n_ranks − 1); got shape {tuple(y_pred.shape)}")
        n_tasks = y_pred.shape[1]
        if self.importance_weights is not None and len(self.importance_weights) != n_tasks:
            raise ValueError(f"{self.name}: importance_weights has {len(self.importance_weights)} entries but y_pred has"
                             f" {n_tasks} columns (one per threshold, K − 1)")
        dtype = float_dtype(xp, y_pred)
        y_pred = xp.astype(y_pred, dtype, copy=False)
        if tuple(y_true.shape) == tuple(y_pred.shape):
            return (xp.astype(y_true, dtype, copy=False), y_pred), options
        if tuple(y_true.shape) != (y_pred.shape[0],):
            raise ValueError(f"y_true must hold one rank per sample, shape ({y_pred.shape[0]},), or the extended labels"
                             f" of y_pred's shape {tuple(y_pred.shape)}; got shape {tuple(y_true.shape)}")
        if is_tracing(y_true):
            y = xp.astype(y_true, dtype)
            V.traced_invalid(xp, (y != xp.round(y)) | (y < 0) | (y > n_tasks),
                             f"y_true must hold integer ranks in 0 … {n_tasks}")
        else:
            V.check_finite(xp, y_true, "y_true")
            ranks = to_numpy(y_true)
            bad = (ranks != np.round(ranks)) | (ranks < 0) | (ranks > n_tasks)
            if bad.any():
                raise ValueError(f"y_true must hold integer ranks in 0 … {n_tasks} (K = {n_tasks + 1} ranks for"
                                 f" {n_tasks} logits); got {float(ranks[bad][0]):g}")
        thresholds = xp.arange(n_tasks, dtype=dtype, device=device(y_pred))
        levels = xp.astype(xp.astype(y_true, dtype)[:, None] > thresholds[None, :], dtype)
        return (levels, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", UNIT, what="extended labels 1[y > k]")

    def _importance(self, xp: Any, like: Any) -> Any:
        if self.importance_weights is None:
            return 1.0
        return host_array(xp, np.asarray(self.importance_weights, dtype=float), like)[None, :]

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        terms = y_true * S.softplus(xp, -y_pred) + (1.0 - y_true) * S.softplus(xp, y_pred)
        return xp.sum(self._importance(xp, y_pred) * terms, axis=1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._importance(xp, y_pred) * (S.sigmoid(xp, y_pred) - y_true)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._importance(xp, y_pred) * (S.sigmoid(xp, y_pred) * S.sigmoid(xp, -y_pred))


# ------------------------------------------------------------------ unnormalised divergences
@register
class GeneralizedKL(_DistributionLoss):
    r"""Generalized Kullback–Leibler divergence (I-divergence) between non-negative rows that need not sum to 1.

    - Formula: :math:`\ell = \sum_c \big(p_c\log\frac{p_c}{q_c} - p_c + q_c\big)` with p = y_true,
      q = y_pred (0·log 0 = 0); ``log_input=True``: y_pred holds x = log q and
      :math:`\ell = \sum_c \big(p_c\log p_c - p_c x_c - p_c + e^{x_c}\big)`. The Bregman
      divergence of Σ(q log q − q): ≥ 0, and 0 only at q = p.
    - Domains: y_true (N, C) ≥ 0; y_pred (N, C) > 0, or real log q with log_input. Neither
      row is normalised: the total mass is part of what is compared.
    - Gradient 1 − p/q (log_input: e^x − p); Hessian p/q² (log_input: e^x).
    - Estimates the mean of each entry (E[ℓ] over p is lowest at q = E[p]).
    - Relations: Optax's ``generalized_kl_divergence(log_predictions, targets)`` and its
      deprecated name ``convex_kl_divergence`` take log q first: they are preset aliases with
      log_input=True (losslab's order is always (y_true, y_pred)). Rows that sum to 1 give
      kl_divergence; each entry is half the Poisson deviance, tweedie(power=1)/2, so the row
      sum is Σ_c poisson(p_c, q_c) plus terms free of q. The loss of NMF with the KL
      objective (Lee & Seung 2001).
    - Reference: Csiszár (1975), I-divergence geometry of probability distributions and
      minimization problems, Annals of Probability 3(1); Lee & Seung (2001), Algorithms for
      non-negative matrix factorization, NIPS.

    >>> import losslab as ll
    >>> print(round(float(ll.generalized_kl([[1.0, 2.0]], [[2.0, 2.0]])), 6))  # log ½ − 1 + 2
    0.306853
    """

    name = "generalized_kl"
    family = "probabilistic"
    aliases = ("i_divergence", "generalized_kullback_leibler", "unnormalized_kl")
    preset_aliases = {"generalized_kl_divergence": {"log_input": True}, "convex_kl_divergence": {"log_input": True}}
    description = "Generalized KL (I-divergence) of unnormalised non-negative rows: Σ p log(p/q) − p + q."
    formula = r"\sum_c \Big(p_c\log\frac{p_c}{q_c} - p_c + q_c\Big)"
    parameters = (Param("log_input", False, V.BOOLEAN, "y_pred holds log q (Optax's log_predictions)"),)

    def _traits(self) -> Traits:
        return Traits(
            task="regression", y_true_domain=NONNEGATIVE, y_pred_domain=REAL if self.log_input else POSITIVE,
            # On log q the Hessian e^x > 0; on q it is p/q², 0 in the columns where p = 0.
            # "other" as multi_quantile's: a row of C predictions is no single statistic of y.
            convex=True, strictly_convex=bool(self.log_input), estimates="other",
            notes=("each entry estimates its mean: E[ℓ] over p is lowest at q = E[p]",),
        )

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 2:
            raise ValueError(f"y_pred must be rows of shape (n_samples, n_entries); got shape {tuple(y_pred.shape)}")
        V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        dtype = float_dtype(xp, y_true, y_pred)
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        V.check_finite(xp, y_true, "y_true")
        V.check_in(xp, y_true, "y_true", NONNEGATIVE, what="non-negative targets")
        V.check_finite(xp, y_pred, "y_pred")
        if not self.log_input:
            V.check_in(xp, y_pred, "y_pred", POSITIVE, what="positive predictions",
                       hint="Pass log_input=True if y_pred holds log q.")

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p = y_true
        if self.log_input:
            terms = S.xlogy(xp, p, p) - p * y_pred - p + xp.exp(y_pred)
        else:
            terms = S.xlogy(xp, p, p) - S.xlogy(xp, p, y_pred) - p + y_pred
        return xp.sum(terms, axis=-1)

    # Per entry, p log(p/q) − p + q is poisson's q − p log q plus terms free of q: the same
    # derivatives in q (or in log q with log_input).
    _gradient = Poisson._gradient
    _hessian = Poisson._hessian
