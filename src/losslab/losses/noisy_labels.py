"""Multiclass losses robust to noisy labels: generalised, Taylor and symmetric cross-entropy,
and the normalised losses of the active–passive framework (``normalized_cross_entropy``,
``nce_rce``).

Family "multiclass", with the inputs and conventions of ``losses/multiclass.py`` (index or
distribution targets, probabilities or logits, class weights and ``ignore_index`` as sample
weights); a module of its own only to keep each file readable. Each docstring gives, in
order: the formula, the domains, the gradient and Hessian diagonal with respect to y_pred,
the statistic the minimiser estimates, the relation to the peers' conventions, a reference,
and an example the tests run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate as V
from ..loss import Param, register
from ..loss.shapes import ClassAxisLoss, ClassSeparableLoss
from ..traits import REAL, UNIT, Traits
from .multiclass import _FROM_LOGITS


@register
class GeneralizedCrossEntropy(ClassSeparableLoss):
    r"""Generalized cross-entropy (Zhang & Sabuncu 2018): the L_q loss (1 − p_y^q)/q.

    - Formula: :math:`\ell = \sum_c t_c\,\frac{1 - p_c^{q}}{q}` (= (1 − p_y^q)/q for an index).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits
      (p^q = exp(q·log_softmax)); 0 < q ≤ 1.
    - Gradient: probabilities −t p^{q−1}; logits −t·P + p·Σ_c t_c P_c with P = p^q. Hessian
      diagonal: probabilities (1 − q) t p^{q−2}; logits −q t P(1 − p) + p(1 − p)T + q p(tP − pT),
      T = Σ_c t_c P_c.
    - Estimates "other": the minimiser is p_c ∝ η_c^{1/(1−q)}, a sharpened probability
      (order-preserving, so classification-calibrated; not proper). Bounded by 1/q, which is
      what makes it robust to noisy labels.
    - Relations: → cross_entropy as q → 0 (the default q = 0.7 is the paper's); q = 1 is
      1 − p_y, half the L1 distance between one-hot and p (MAE on probabilities, up to 2).
    - Reference: Zhang & Sabuncu (2018), Generalized cross entropy loss for training deep
      neural networks with noisy labels.

    >>> import losslab as ll
    >>> print(round(float(ll.generalized_cross_entropy([0], [[0.25, 0.75]], q=0.5)), 6))
    1.0
    """

    name = "generalized_cross_entropy"
    family = "multiclass"
    aliases = ("gce", "lq_loss", "truncated_lq")
    # Keras's CategoricalGeneralizedCrossEntropy: probabilities, index labels, q = 0.5.
    preset_aliases = {"CategoricalGeneralizedCrossEntropy": {"q": 0.5}, "categorical_generalized_cross_entropy": {"q": 0.5}}
    description = "L_q loss (1 − p_y^q)/q: between cross-entropy (q → 0) and MAE (q = 1); noise-robust."
    formula = r"\frac{1 - p_y^{q}}{q}"
    parameters = (
        Param("q", 0.7, V.interval_rule(0.0, 1.0, False, True), "exponent in (0, 1]: 0 → cross-entropy, 1 → MAE"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        # On probabilities: (1 − p^q)/q is convex ((1 − q)p^{q−2} > 0) with gradient −p^{q−1},
        # unbounded as p → 0 unless q = 1; on logits its gradient is bounded, its shape not convex.
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, bounded=True,
            lipschitz=logits or self.q == 1, robust=logits or self.q == 1, classification_calibrated=True,
            proper=False, convex=not logits, estimates="other",
            notes=("minimiser p_c ∝ η_c^{1/(1−q)}",),
        )

    # f(u) = (1 − e^{qu})/q, f′ = −e^{qu}, f″ = −q·e^{qu}.
    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        return (1.0 - xp.exp(self.q * u)) / self.q

    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        return -xp.exp(self.q * u)

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        return -self.q * xp.exp(self.q * u)


@register
class TaylorCrossEntropy(ClassSeparableLoss):
    r"""Taylor cross-entropy (Feng et al. 2020): the first n terms of −log p's series in 1 − p.

    - Formula: :math:`\ell = \sum_c t_c\sum_{k=1}^{n}\frac{(1-p_c)^k}{k}` (= Σ_k (1 − p_y)^k/k
      for an index target); −log p = Σ_{k≥1} (1 − p)^k/k, so n → ∞ is cross-entropy.
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits
      (``from_logits=True``); order n ≥ 1, an integer.
    - Gradient (in u = log p): f′ = −p·Σ_{k=1}^{n}(1 − p)^{k−1} = −(1 − (1 − p)^n); f″ =
      −n p (1 − p)^{n−1}; the link gives the gradient and Hessian for probabilities or logits
      (on probabilities −t(1 − (1 − p)^n)/p).
    - Estimates "other" (order 1: the mode, as 1 − p_y does): bounded by H_n = Σ_{k≤n} 1/k, which is what makes it robust to label
      noise; its minimiser is order-preserving (classification-calibrated), not η.
    - Relations: order 1 is 1 − p_y (MAE on probabilities / 2, generalized_cross_entropy with
      q = 1); order → ∞ is cross_entropy. The paper's best orders on CIFAR were 2 to 6.
    - Reference: Feng, Shu, Lin, Lv, Li, An (2020), Can cross entropy loss be robust to label
      noise? (IJCAI).

    >>> import losslab as ll
    >>> print(round(float(ll.taylor_cross_entropy([0], [[0.5, 0.5]], order=2)), 6))
    0.625
    """

    name = "taylor_cross_entropy"
    family = "multiclass"
    aliases = ("taylor_ce", "t_ce")
    description = "Σ_{k≤n} (1 − p_y)^k/k: cross-entropy's Taylor series cut at order n; bounded, noise-robust."
    formula = r"\sum_{k=1}^{n}\frac{(1-p_y)^k}{k}"
    parameters = (
        Param("order", 2, V.Rule(lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1,
                                 "an integer >= 1"), "number of series terms (∞ would be cross-entropy)"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        # In p: f(p) = Σ (1 − p)^k/k has f″ = Σ (k − 1)(1 − p)^{k−2} ≥ 0: convex; gradient bounded by n.
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=not logits,
            bounded=True, lipschitz=True, robust=True, classification_calibrated=True, proper=False,
            # Order 1 is 1 − p_y, the expected 0-1 error: its minimiser is one-hot at the mode.
            estimates="mode" if self.order == 1 else "other", notes=(f"bounded by H_{self.order} = Σ_(k≤{self.order}) 1/k",),
        )

    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        q = 1.0 - p
        total, power = xp.zeros_like(p), xp.ones_like(p)
        for k in range(1, self.order + 1):
            power = power * q
            total = total + power / k
        return total

    # Σ_k (1 − p)^k/k differentiated in u (dp/du = p): −p Σ_k (1 − p)^{k−1} = −(1 − (1 − p)^n).
    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        return -(1.0 - (1.0 - p) ** self.order)

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        return -self.order * p * (1.0 - p) ** (self.order - 1)


@register
class SymmetricCrossEntropy(ClassSeparableLoss):
    r"""Symmetric cross-entropy (Wang et al. 2019): α·CE(t, p) + β·CE(p, t), the reverse term
    with log 0 taken as A = −4.

    - Formula: :math:`\ell = -\alpha\sum_c t_c\log p_c - \beta\sum_c p_c\,\max(\log t_c, A)`,
      A = −4; for an index target the reverse term is −A(1 − p_y) = 4(1 − p_y).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits;
      alpha ≥ 0, beta ≥ 0, not both 0.
    - Gradient: α·CE's gradient plus β times: probabilities −L; logits −p(L − Σ_c p_c L_c),
      L = max(log t, A). Hessian diagonal: α·CE's plus β times −p(1 − 2p)(L − Σ p L) (logits)
      or 0 (probabilities).
    - Estimates "other": the minimiser is order-preserving in η (calibrated) but not η.
    - Relations: alpha=1, beta=0 is cross_entropy; the reverse term alone is 4·(1 − p_y), a
      multiple of MAE on probabilities (noise-robust).
    - Reference: Wang, Ma, Chen, Luo, Yi, Bailey (2019), Symmetric cross entropy for robust
      learning with noisy labels.

    >>> import losslab as ll
    >>> print(round(float(ll.symmetric_cross_entropy([0], [[0.5, 0.5]], alpha=0.1, beta=1.0)), 6))
    2.069315
    """

    name = "symmetric_cross_entropy"
    family = "multiclass"
    aliases = ("sce", "symmetric_ce")
    description = "α·CE + β·reverse CE: cross-entropy made robust to label noise."
    formula = r"-\alpha\sum_c t_c\log p_c - \beta\sum_c p_c\log t_c"
    parameters = (
        Param("alpha", 0.1, V.NONNEGATIVE, "weight of cross-entropy"),
        Param("beta", 1.0, V.NONNEGATIVE, "weight of reverse cross-entropy"),
        _FROM_LOGITS,
    )
    LOG_ZERO = -4.0

    def _check_params(self) -> None:
        if self.alpha == 0 and self.beta == 0:
            raise ValueError("symmetric_cross_entropy: alpha and beta must not both be 0; got alpha=0, beta=0")

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT,
            convex=not logits or self.beta == 0, lipschitz=logits or self.alpha == 0, robust=logits or self.alpha == 0,
            classification_calibrated=True, proper=self.beta == 0,
            estimates="probability" if self.beta == 0 else "other",
        )

    def _reverse_coef(self, xp: Any, t: Any) -> Any:
        """−max(log t, A): the reverse term's coefficient on each p_c."""
        floor = math.exp(self.LOG_ZERO)
        safe = xp.where(t > floor, t, xp.ones_like(t))
        return -xp.where(t > floor, xp.log(safe), xp.full_like(t, self.LOG_ZERO))

    def _terms(self, xp: Any, t: Any, u: Any, p: Any, order: int) -> tuple:
        # α·t_c·(−u_c) + β·k_c·p_c; ∂/∂u of k·e^u is k·p at every order.
        reverse = self.beta * self._reverse_coef(xp, t) * p
        value = -self.alpha * t * u + reverse if order in (0, -1) else None
        if order == 0:
            return (value,)
        first = -self.alpha * t + reverse
        return (value, first, reverse) if order == 2 else (value, first)


# ----------------------------------------------------------------------------- normalised losses (APL)
class _NormalizedBase(ClassAxisLoss):
    """ℓ = α·(Σ_c t_c u_c)/(Σ_k u_k) + Σ_c r_c p_c, u = log p: normalised cross-entropy plus
    an optional passive term linear in p (the reverse cross-entropy of nce_rce).

    The normaliser B = Σ_k u_k couples the classes, so the u-Hessian is not diagonal:
    with a = ∂NCE/∂u = (t − NCE)/B it is −(a1ᵀ + 1aᵀ)/B. Its contribution to the Hessian
    diagonal in y_pred is −(2/B)·(aᵀJ)_k·(1ᵀJ)_k with J = ∂u/∂y_pred, and aᵀJ is exactly
    what the link's ``gradient`` computes; the link's own second-order term takes the rest.
    """

    _alpha = 1.0

    def _passive(self, xp: Any, t: Any) -> Any:
        """r: the coefficient of each p_c in the passive term, or None."""
        return None

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        arrays, options = super()._prepare(xp, arrays, options)
        if arrays[1].shape[1] < 2:
            raise ValueError(
                f"y_pred must have at least 2 classes (columns) for {self.name}: with one class Σ log p = 0"
                f" and the normalised cross-entropy is 0/0; got {arrays[1].shape[1]}"
            )
        return arrays, options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        # A masked (−inf) logit makes the normaliser Σ_k log p_k infinite and NCE 0 whatever
        # the prediction: refused, unlike cross-entropy where a masked class drops out.
        V.check_finite(xp, arrays[1], "y_pred")

    def _evaluate(self, xp: Any, y_true: Any, y_pred: Any, order: int) -> tuple:
        t = self._target_rows(xp, y_true, y_pred)
        u, p = self.link.log_probs(xp, y_pred)
        b = xp.sum(u, axis=-1, keepdims=True)  # < 0: at least one p_k ≤ 1/C < 1
        nce = xp.sum(t * u, axis=-1, keepdims=True) / b
        r = self._passive(xp, t)
        value = self._alpha * nce[:, 0]
        if r is not None:
            value = value + xp.sum(r * p, axis=-1)
        if order == 0:
            return (value,)
        a_nce = (t - nce) / b
        # ∂/∂u of r·e^u is r·p at every order.
        a = self._alpha * a_nce if r is None else self._alpha * a_nce + r * p
        grad = self.link.gradient(xp, p, a)
        if order == 1:
            return value, grad
        v = xp.zeros_like(p) if r is None else r * p
        cross = self.link.gradient(xp, p, a_nce) * self.link.gradient(xp, p, xp.ones_like(p))
        return value, grad, self.link.hessian(xp, p, a, v) - (2.0 * self._alpha / b) * cross

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._evaluate(xp, y_true, y_pred, 0)[0]

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        return self._evaluate(xp, y_true, y_pred, 1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._evaluate(xp, y_true, y_pred, 1)[1]

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._evaluate(xp, y_true, y_pred, 2)[2]


@register
class NormalizedCrossEntropy(_NormalizedBase):
    r"""Normalised cross-entropy (Ma et al. 2020): cross-entropy divided by its sum over all labels.

    - Formula: :math:`\ell = \frac{-\sum_c t_c\log p_c}{-\sum_k \log p_k}` (= log p_y / Σ_k log p_k
      for an index target), in [0, 1].
    - Domains: y_true indices or distributions; y_pred (N, C) probability rows (clipped) or
      finite logits (``from_logits=True``; a masked −inf logit would make the denominator
      infinite, so it is an error here); C ≥ 2.
    - Gradient: in u = log p, a = (t − ℓ)/B with B = Σ_k log p_k, turned into probabilities
      (a/p) or logits (a − p·Σa) by the link. Hessian diagonal: the link's second-order term
      of a plus −(2/B)·g_a·g_1, where g_a and g_1 are the link gradients of a and of a vector
      of ones (the u-Hessian −(a1ᵀ + 1aᵀ)/B is not diagonal).
    - Estimates "other": a symmetric loss (Σ_j ℓ(j, p) = 1), hence noise-tolerant (Ma et al.
      Thm. 1), but it underfits: its expected loss under η is a weighted mean of η with
      weights −log p_k/B, whose infimum min η is approached by any p that sends the least
      likely class to 0, so for C ≥ 3 it is not classification-calibrated; combine it with
      a passive loss (nce_rce).
    - Relations: the authors' ``NormalizedCrossEntropy(num_classes, scale)`` (on logits) is
      scale · normalized_cross_entropy(from_logits=True); nce_rce adds the reverse term.
    - Reference: Ma, Huang, Wang, Romano, Erfani, Bailey (2020), Normalized loss functions for
      deep learning with noisy labels (ICML), eq. (3).

    >>> import losslab as ll
    >>> print(round(float(ll.normalized_cross_entropy([0], [[0.5, 0.25, 0.25]])), 6))
    0.2
    """

    name = "normalized_cross_entropy"
    family = "multiclass"
    aliases = ("normalised_cross_entropy",)
    description = "Cross-entropy over its sum across all labels, in [0, 1]: symmetric, noise-tolerant."
    formula = r"\frac{-\sum_c t_c\log p_c}{-\sum_k\log p_k}"
    parameters = (_FROM_LOGITS,)

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        # On logits a = (t − ℓ)/B with |B| ≥ C log C: bounded. On probabilities the gradient
        # a/p grows as the true class's p → 0 (like 1/(p·|log p|)).
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, bounded=True,
            lipschitz=logits, robust=logits, classification_calibrated=False, proper=False, estimates="other",
            notes=("symmetric: Σ_j ℓ(j, p) = 1 (noise-tolerant, Ma et al. 2020)",),
        )


@register
class NCERCE(_NormalizedBase):
    r"""NCE+RCE (Ma et al. 2020): the active–passive loss α·NCE + β·RCE.

    - Formula: :math:`\ell = \alpha\frac{\sum_c t_c\log p_c}{\sum_k \log p_k}
      - \beta\sum_c p_c\max(\log t_c, A)`, A = log_zero (log 0 taken as A, −4 by default); for
      an index target the reverse term is −A(1 − p_y).
    - Domains: y_true indices or distributions; y_pred (N, C) probability rows (clipped) or
      finite logits (``from_logits=True``); C ≥ 2; alpha, beta ≥ 0, not both 0; log_zero < 0.
    - Gradient: in u = log p, a = α(t − NCE)/B + β·r·p with B = Σ_k log p_k and r = −max(log t, A);
      the link gives probabilities (a/p) or logits (a − p·Σa). Hessian diagonal: the link's
      Hessian of (a, β·r·p) plus −(2α/B)·g_a·g_1 (normalized_cross_entropy's coupling term).
    - Estimates "other": both terms are symmetric, so the sum is noise-tolerant; for an index
      target the expected loss under η has infimum α·min η + β|A|(1 − max η), approached only
      as p tends to one-hot at argmax η (the least likely class's p fastest) and never
      attained, so there is no minimiser to read; a wrong argmax costs at least
      β|A|(η₁ − η₂)/2 more, so it is classification-calibrated (β > 0).
    - Relations: the authors' ``NCEandRCE(alpha, beta, num_classes)`` (on logits) clamps the
      one-hot target at 1e-4, i.e. A = log 1e-4 ≈ −9.21: ll.get("nce_rce", from_logits=True,
      log_zero=math.log(1e-4)) gives its number; the default A = −4 is the value Wang et
      al. (2019) give for the RCE that Ma et al. adopt (symmetric_cross_entropy uses it too).
      Defaults α = β = 1 are the authors' CIFAR-10 setting (CIFAR-100: α = 10, β = 0.1). alpha=1, beta=0 is normalized_cross_entropy; the α·CE + β·RCE
      version is symmetric_cross_entropy.
    - Reference: Ma, Huang, Wang, Romano, Erfani, Bailey (2020), Normalized loss functions for
      deep learning with noisy labels (ICML), §4 (active passive loss).

    >>> import losslab as ll
    >>> print(round(float(ll.nce_rce([0], [[0.5, 0.25, 0.25]])), 6))
    2.2
    """

    name = "nce_rce"
    family = "multiclass"
    aliases = ("nce_and_rce", "NCEandRCE", "active_passive_loss")
    description = "α·normalised CE + β·reverse CE: the active–passive loss for noisy labels."
    formula = r"\alpha\frac{\sum_c t_c\log p_c}{\sum_k \log p_k} - \beta\sum_c p_c\max(\log t_c, A)"
    parameters = (
        Param("alpha", 1.0, V.NONNEGATIVE, "weight of the normalised cross-entropy (active)"),
        Param("beta", 1.0, V.NONNEGATIVE, "weight of the reverse cross-entropy (passive)"),
        Param("log_zero", -4.0, V.Rule(lambda v: V.FINITE.check(v) and v < 0, "a finite number < 0"),
              "A, the value taken for log 0 in the reverse term"),
        _FROM_LOGITS,
    )

    def _check_params(self) -> None:
        if self.alpha == 0 and self.beta == 0:
            raise ValueError("nce_rce: alpha and beta must not both be 0; got alpha=0, beta=0")

    @property
    def _alpha(self) -> float:  # type: ignore[override]
        return float(self.alpha)

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, bounded=True,
            lipschitz=logits or self.alpha == 0, robust=logits or self.alpha == 0,
            # β > 0: RCE's excess risk at a wrong argmax is at least 2β(η₁ − η₂) while NCE's
            # infimum (min η) is approached along the same sequences that send p to e_mode,
            # so the infimum of the sum is reached only as p → one-hot at the mode (not
            # attained). β = 0 is normalized_cross_entropy, not calibrated.
            classification_calibrated=self.beta > 0, proper=False, estimates="other",
            notes=("both terms symmetric: noise-tolerant (Ma et al. 2020)",
                   "no minimiser: the infimum is approached as p → one-hot at argmax η, the least likely class first"),
        )

    def _passive(self, xp: Any, t: Any) -> Any:
        if self.beta == 0:
            return None
        floor = math.exp(self.log_zero)
        safe = xp.where(t > floor, t, xp.ones_like(t))
        return -self.beta * xp.where(t > floor, xp.log(safe), xp.full_like(t, self.log_zero))
