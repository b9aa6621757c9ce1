"""Binary classification losses: log loss and focal loss on probabilities or logits, and the
margin losses φ(y·f) of a real score f (hinge family, logistic, exponential, perceptron, 0-1).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian with
respect to y_pred, the statistic the minimiser estimates, the relation to the peers'
conventions, a reference, and an example the tests run.

Conventions (DESIGN §2): ``binary_cross_entropy`` and ``binary_focal`` take y_true in
[0, 1] (soft labels allowed) and y_pred probabilities (``from_logits=False``, clipped to
[ε, 1 − ε], ε = finfo(dtype).eps) or logits (``from_logits=True``, computed in log space).
Margin losses take y_true in {−1, +1} or {0, 1} and a real score; every loss here is
elementwise, so "mean" averages over every element (multi-label outputs included).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from .. import kernels as compiled
from ..loss import Param, register
from ..loss import links as K
from ..loss.links import clip_probabilities
from ..loss.shapes import BinarySeparableLoss, MarginLoss, signed_labels
from ..loss.weights import broadcast_rows
from ..traits import REAL, SIGN, UNIT, Traits

@register
class BinaryCrossEntropy(BinarySeparableLoss):
    r"""Binary cross-entropy (log loss) of a probability or a logit.

    - Formula: with t = y(1 − ε_s) + ε_s/2 (label smoothing ε_s) and w₊ = pos_weight (1 if None),
      :math:`\ell = -\big(w_+\,t\log p + (1-t)\log(1-p)\big)`; from logits z, p = σ(z) and
      :math:`\ell = w_+\,t\,\mathrm{softplus}(-z) + (1-t)\,\mathrm{softplus}(z)`.
    - Domains: y_true in [0, 1] (soft labels allowed); y_pred a probability in [0, 1], clipped
      to [ε, 1 − ε] with ε = finfo(dtype).eps (so p = 0 on a positive costs 36.04 in float64,
      15.94 in float32), or a finite logit with ``from_logits=True`` (computed with softplus:
      no logit, however large, overflows).
    - Gradient: logits (1 − t)σ(z) − w₊ t σ(−z) (= σ(z) − t when w₊ = 1), Hessian
      (w₊t + 1 − t)σ(z)σ(−z); probabilities −w₊t/p + (1 − t)/(1 − p), Hessian
      w₊t/p² + (1 − t)/(1 − p)² (at the clipped p).
    - Estimates the probability P(y = 1) (a strictly proper scoring rule) when pos_weight is
      None and label_smoothing is 0; with w₊ the minimiser is w₊η/(w₊η + 1 − η).
    - Relations: PyTorch ``binary_cross_entropy`` (which clamps each log at −100 instead of
      clipping p) and ``binary_cross_entropy_with_logits(pos_weight=...)``; Keras
      ``BinaryCrossentropy(from_logits, label_smoothing)`` (which clips p to [1e-7, 1 − 1e-7]);
      Optax ``sigmoid_binary_cross_entropy``; scikit-learn ``log_loss``. Equal to
      ``cross_entropy`` on the two-class rows (1 − p, p), and to ``logistic`` on logits with
      labels ±1.
    - Reference: Cox (1958), The regression analysis of binary sequences.

    >>> import losslab as ll
    >>> print(round(float(ll.binary_cross_entropy([0, 0], [0.2, 0.9], reduction="none")[1]), 3))
    2.303
    >>> print(ll.binary_cross_entropy([1.0], [0.0], from_logits=True))
    0.6931471805599453
    """

    name = "binary_cross_entropy"
    family = "binary"
    aliases = ("binary_crossentropy", "bce", "BCELoss", "BinaryCrossentropy")
    preset_aliases = {name: {"from_logits": True} for name in (
        "BCEWithLogitsLoss", "binary_cross_entropy_with_logits", "sigmoid_binary_cross_entropy")}
    description = "Log loss of a probability (or logit): the proper scoring rule for P(y = 1)."
    formula = r"-\big(w_+ t\log p + (1-t)\log(1-p)\big)"
    parameters = (
        Param("from_logits", False, V.BOOLEAN, "y_pred holds logits, not probabilities"),
        Param("label_smoothing", 0.0, V.HALF_OPEN_UNIT, "move targets toward 0.5 by this much"),
        Param("pos_weight", None, V.optional(V.POSITIVE), "weight of the positive term (PyTorch's pos_weight)"),
    )
    #: The fused logits kernel makes about a dozen NumPy calls per block: 256 KiB blocks
    #: amortise them (64 KiB blocks took 1.5x the CPU time per element on 2 cores).
    block_scale = 4

    def _traits(self) -> Traits:
        unweighted = self.pos_weight in (None, 1, 1.0)
        proper = unweighted and self.label_smoothing == 0
        return Traits(
            task="binary", y_true_domain=UNIT, y_pred_domain=REAL if self.from_logits else UNIT,
            convex=True, strictly_convex=True, lipschitz=bool(self.from_logits),
            # pos_weight ≠ 1 moves the best threshold off ½: calibrated for the weighted 0-1 loss only.
            robust=bool(self.from_logits), classification_calibrated=unweighted, proper=proper,
            estimates="probability" if proper else "other",
        )

    @property
    def inverse_link(self) -> K.Link | None:
        proper = self.pos_weight in (None, 1, 1.0) and self.label_smoothing == 0
        return K.SIGMOID if proper else None

    def _sides(self, xp: Any, t: Any, u1: Any, u0: Any, order: int) -> tuple:
        # ℓ = −(w₊·t·u₁ + (1 − t)·u₀), t smoothed toward ½: linear in u, so v = 0.
        eps, w = self.label_smoothing, 1.0 if self.pos_weight is None else float(self.pos_weight)
        t = t * (1.0 - eps) + 0.5 * eps if eps else t
        a1, a0 = -w * t, -(1.0 - t)
        value = a1 * u1 + a0 * u0
        if order == 0:
            return (value,)
        if order == 1:
            return value, a1, a0
        zero = xp.zeros_like(u1)
        return value, a1, a0, zero, zero

    @property
    def kernel_takes_whole_input(self) -> bool:
        return bool(self.from_logits) and compiled.available()

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        t, z = block
        if not self.from_logits:
            return None
        if self.kernel_takes_whole_input:
            eps = self.label_smoothing
            total = compiled.bce_logits(t * (1.0 - eps) + 0.5 * eps if eps else t, z, scale, out, weights=weights,
                                        pos_weight=self.pos_weight)
            return None if total is None else total * scale
        with np.errstate(invalid="ignore", over="ignore"):
            if not math.isfinite(float(np.add.reduce(z, axis=None))):
                return None
        if not (0.0 <= t.min() and t.max() <= 1.0):
            return None  # labels out of range (or NaN): the generic code names them
        eps, w = self.label_smoothing, 1.0 if self.pos_weight is None else float(self.pos_weight)
        value, grad = _bce_logits_numpy(t * (1.0 - eps) + 0.5 * eps if eps else t, w, z)
        if weights is None:
            np.multiply(grad, scale, out=out)
            return float(np.add.reduce(value, axis=None)) * scale
        factor = broadcast_rows(np, weights * scale, grad.ndim)
        np.multiply(grad, factor, out=out)
        return float(np.add.reduce(value * factor, axis=None))


def _bce_logits_numpy(t: np.ndarray, w: float, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fused value and gradient of BCE on logits for one row block; e = e^{−|z|} computed once.

    With a = σ(−|z|) = e/(1 + e) and d = [z ≥ +0] − t (exact for hard labels):
    ℓ = log1p(e) + z·d, which is t·softplus(−z) + (1 − t)·softplus(z) with no cancellation,
    and ∂ℓ/∂z = σ(z) − t = d − copysign(a, z) (σ(z) = 1 − a for z ≥ +0, a below), so that a
    confident right answer has the exact tiny gradient −a, not 1/(1 + e) − 1. "z ≥ +0" is
    the sign bit, so that z = −0.0 takes the branch copysign gives it. No masked ufunc
    (``where=``), which ran 20x slower per element. Temporaries are block-local, reused.
    """
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    positive = np.signbit(z)
    np.invert(positive, out=positive)
    softplus_e = np.log1p(e)
    if w == 1.0:
        d = np.subtract(positive, t)
        value = np.multiply(z, d)
        value += softplus_e
        np.add(e, 1.0, out=softplus_e)
        np.divide(e, softplus_e, out=e)  # a = σ(−|z|)
        np.copysign(e, z, out=e)
        np.subtract(d, e, out=d)
        return value, d
    # pos_weight w: w·t·softplus(−z) + (1 − t)·softplus(z), each softplus = log1p(e) + max(±z, 0).
    wt = w * t
    value = wt * (softplus_e + np.maximum(-z, 0.0)) + (1.0 - t) * (softplus_e + np.maximum(z, 0.0))
    a = e / (1.0 + e)
    sig = np.where(positive, 1.0 - a, a)  # σ(z)
    sig_neg = np.where(positive, a, 1.0 - a)  # σ(−z)
    return value, (1.0 - t) * sig - wt * sig_neg


@register
class BinaryFocal(BinarySeparableLoss):
    r"""Binary focal loss (Lin et al. 2017): cross-entropy down-weighted on easy examples.

    - Formula: with q = 1 − p_t = y(1 − p) + (1 − y)p and α_t = αy + (1 − α)(1 − y) (1 when
      alpha is None), :math:`\ell = \alpha_t\, q^{\gamma}\,\mathrm{BCE}(y, p)`; for hard labels
      :math:`-\alpha_t (1-p_t)^\gamma \log p_t`.
    - Domains: y_true in [0, 1]; y_pred probabilities (clipped to [ε, 1 − ε]) or logits with
      ``from_logits=True``. On logits everything is computed in log space: log q is a
      log-sum-exp of log-sigmoids and q^γ = exp(γ log q), so no logit and no γ (γ < 1
      included, where (1 − p)^{γ−1} is unbounded) gives NaN or inf.
    - Gradient (logits): α_t q^γ [γ(1 − 2y) r·BCE + (p − y)] with r = p(1 − p)/q ≤ 1;
      Hessian α_t q^γ [γ(γ−1)(1−2y)² r² BCE + γ(1−2y)(1−2p) r BCE + 2γ(1−2y) r (p−y) + p(1−p)].
      Probabilities: α_t[γ q^{γ−1}(1−2y) BCE + q^γ BCE′] and the product rule once more.
    - Estimates the probability at γ = 0 (it is then BCE); for γ > 0 the minimiser is a
      monotone, invertible distortion of the probability: classification-calibrated but not a
      proper scoring rule (Charoenphakdee et al. 2021), so "other".
    - Relations: torchvision ``sigmoid_focal_loss(alpha=0.25, gamma=2, reduction='none')`` is
      binary_focal(alpha=0.25, from_logits=True) with reduction="none" (torchvision's
      alpha=−1 is alpha=None here); Keras ``BinaryFocalCrossentropy(gamma)`` without class
      balancing is alpha=None (its apply_class_balancing=True, alpha=a is alpha=a); Optax
      ``sigmoid_focal_loss(alpha=None, gamma=2)``.
    - Reference: Lin, Goyal, Girshick, He, Dollár (2017), Focal loss for dense object detection.

    >>> import losslab as ll
    >>> print(round(float(ll.binary_focal([[1, 0], [1, 0]], [[0.9, 0.8], [0.7, 0.2]], gamma=2.0)), 3))
    0.268
    """

    name = "binary_focal"
    family = "binary"
    aliases = ("binary_focal_crossentropy", "BinaryFocalCrossentropy")
    # Optax's and torchvision's sigmoid_focal_loss take logits (Optax: alpha=None, gamma=2, as here).
    preset_aliases = {"sigmoid_focal": {"from_logits": True}, "sigmoid_focal_loss": {"from_logits": True}}
    description = "Focal loss: BCE scaled by (1 − p_t)^γ, focusing training on hard examples."
    formula = r"-\alpha_t (1-p_t)^{\gamma}\log p_t"
    parameters = (
        Param("gamma", 2.0, V.NONNEGATIVE, "focusing exponent (0 gives cross-entropy)"),
        Param("alpha", None, V.optional(V.CLOSED_UNIT), "weight of the positive class (1 − alpha for negatives)"),
        Param("from_logits", False, V.BOOLEAN, "y_pred holds logits, not probabilities"),
    )

    def _traits(self) -> Traits:
        ce = self.gamma == 0
        balanced = self.alpha in (None, 0.5)  # another alpha moves the best threshold off ½
        return Traits(
            task="binary", y_true_domain=UNIT, y_pred_domain=REAL if self.from_logits else UNIT,
            # −(1 − p)^γ log p is strictly convex in p for every γ ≥ 0, not in the logit once γ > 0.
            convex=ce or not self.from_logits, strictly_convex=ce or not self.from_logits,
            lipschitz=bool(self.from_logits),
            robust=bool(self.from_logits), classification_calibrated=balanced, proper=ce and balanced,
            estimates="probability" if ce and self.alpha in (None, 0.5) else "other",
            notes=() if ce else ("minimiser: an invertible distortion of P(y = 1) (Charoenphakdee et al. 2021)",),
        )

    def _logs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        """(log p, log(1 − p)) through the link: log-sigmoids of a logit, or logs of the clipped p."""
        return self.link.log_probs(xp, y_pred)[:2]

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        return self._per_sample(xp, y_true, y_pred), self._gradient(xp, y_true, y_pred)

    def _alpha_t(self, y: Any) -> Any:
        return 1.0 if self.alpha is None else self.alpha * y + (1.0 - self.alpha) * (1.0 - y)

    def _parts(self, xp: Any, y: Any, y_pred: Any) -> dict:
        """The shared pieces: log p, log(1 − p), BCE, log q = log(1 − p_t)."""
        log_p, log_1mp = self._logs(xp, y_pred)
        ce = -(y * log_p + (1.0 - y) * log_1mp)
        # log q = log(y(1−p) + (1−y)p): exact for hard labels, a log-sum-exp for soft ones;
        # the soft branch gets a harmless stand-in label so that log(0) never runs.
        hard_one, hard_zero = y == 1.0, y == 0.0
        y_soft = xp.where(hard_one | hard_zero, xp.full_like(y, 0.5), y)
        a = xp.log(y_soft) + log_1mp
        b = xp.log1p(-y_soft) + log_p
        soft = xp.maximum(a, b) + xp.log1p(xp.exp(-xp.abs(a - b)))
        log_q = xp.where(hard_one, log_1mp, xp.where(hard_zero, log_p, soft))
        return {"log_p": log_p, "log_1mp": log_1mp, "ce": ce, "log_q": log_q}

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        parts = self._parts(xp, y_true, y_pred)
        if self.gamma == 0:
            return self._alpha_t(y_true) * parts["ce"]
        return self._alpha_t(y_true) * xp.exp(self.gamma * parts["log_q"]) * parts["ce"]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        y, g = y_true, self.gamma
        parts = self._parts(xp, y, y_pred)
        q_gamma = xp.exp(g * parts["log_q"])
        if self.from_logits:
            r = xp.exp(parts["log_p"] + parts["log_1mp"] - parts["log_q"])  # p(1−p)/q ≤ 1
            p = xp.exp(parts["log_p"])
            return self._alpha_t(y) * q_gamma * (g * (1.0 - 2.0 * y) * r * parts["ce"] + (p - y))
        p = clip_probabilities(xp, y_pred)
        ce_prime = (1.0 - y) / (1.0 - p) - y / p
        q_gamma_m1 = xp.exp((g - 1.0) * parts["log_q"])
        return self._alpha_t(y) * (g * q_gamma_m1 * (1.0 - 2.0 * y) * parts["ce"] + q_gamma * ce_prime)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        y, g = y_true, self.gamma
        parts = self._parts(xp, y, y_pred)
        ce, log_q = parts["ce"], parts["log_q"]
        q_gamma = xp.exp(g * log_q)
        d = 1.0 - 2.0 * y
        if self.from_logits:
            p = xp.exp(parts["log_p"])
            s = xp.exp(parts["log_p"] + parts["log_1mp"])
            r = xp.exp(parts["log_p"] + parts["log_1mp"] - log_q)
            inner = (g * (g - 1.0) * d * d * r * r * ce + g * d * (1.0 - 2.0 * p) * r * ce
                     + 2.0 * g * d * r * (p - y) + s)
            return self._alpha_t(y) * q_gamma * inner
        p = clip_probabilities(xp, y_pred)
        ce1 = (1.0 - y) / (1.0 - p) - y / p
        ce2 = y / (p * p) + (1.0 - y) / ((1.0 - p) * (1.0 - p))
        inner = (g * (g - 1.0) * xp.exp((g - 2.0) * log_q) * d * d * ce
                 + 2.0 * g * xp.exp((g - 1.0) * log_q) * d * ce1 + q_gamma * ce2)
        return self._alpha_t(y) * inner


# ----------------------------------------------------------------------------- margin losses
_MARGIN = dict(task="binary", y_true_domain=SIGN, y_pred_domain=REAL, margin_based=True)
_MARGIN_PARAM = Param("margin", 1.0, V.POSITIVE, "the margin m the score must clear (y·f ≥ m costs 0)")


@register
class Hinge(MarginLoss):
    r"""Hinge loss (support vector machines): ℓ = max(0, m − y·f).

    - Formula: :math:`\ell = \max(0, m - y f)` with y in {−1, +1} ({0, 1} is mapped to ±1).
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred a real score; margin m > 0.
    - Gradient −y where y·f < m, else 0 (0 at the kink, a subgradient); Hessian 0.
    - Estimates the sign of 2P(y = 1) − 1 (the minimiser is ±m): calibrated for
      classification, but not a proper scoring rule, so its scores are not probabilities.
    - Relations: Keras ``Hinge`` (which also maps {0, 1} to ±1, with m = 1) averages over the
      last axis then the batch, the same mean for equal-width rows; scikit-learn's binary
      ``hinge_loss`` and ``SGDClassifier(loss="hinge")``; margin 0 is the perceptron.
    - Reference: Cortes & Vapnik (1995), Support-vector networks.

    >>> import losslab as ll
    >>> print(ll.hinge([1, 1], [0.5, 0.8], reduction="none"))
    [0.5 0.2]
    """

    name = "hinge"
    family = "binary"
    aliases = ("hinge_loss", "Hinge")
    description = "max(0, m − y·f): the SVM loss; zero once the margin is cleared."
    formula = r"\max(0, m - y f)"
    parameters = (_MARGIN_PARAM,)
    TRAITS = Traits(
        convex=True, differentiable=False, twice_differentiable=False, lipschitz=True, robust=True,
        classification_calibrated=True, proper=False, estimates="sign", **_MARGIN,
    )

    def _phi(self, xp: Any, m: Any) -> Any:
        return xp.maximum(self.margin - m, 0.0)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return -xp.astype(m < self.margin, m.dtype)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)


@register
class SquaredHinge(MarginLoss):
    r"""Squared hinge loss: ℓ = max(0, m − y·f)².

    - Formula: :math:`\ell = \max(0, m - y f)^2`.
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real; margin m > 0.
    - Gradient −2y·max(0, m − y·f); Hessian 2 where y·f < m, else 0.
    - Estimates the probability through f* = m(2P(y = 1) − 1) (a proper composite loss for
      that link), and so also the sign.
    - Relations: Keras ``SquaredHinge`` (m = 1; same mean for equal-width rows);
      scikit-learn ``SGDClassifier(loss="squared_hinge")`` and LinearSVC's default loss.
    - Reference: Zhang (2004), Statistical behavior and consistency of classification methods
      based on convex risk minimization.

    >>> import losslab as ll
    >>> print(ll.squared_hinge([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]))
    1.86
    """

    name = "squared_hinge"
    family = "binary"
    aliases = ("SquaredHinge", "l2_hinge")
    description = "Squared hinge: smooth at the margin, quadratic penalty for violations."
    formula = r"\max(0, m - y f)^2"
    parameters = (_MARGIN_PARAM,)
    TRAITS = Traits(
        convex=True, twice_differentiable=False, classification_calibrated=True, proper=True,
        estimates="probability", notes=("proper composite: f* = m(2η − 1)",), **_MARGIN,
    )

    @property
    def inverse_link(self) -> K.Link:
        return K.ScoreLink("clipped", float(self.margin))

    def _phi(self, xp: Any, m: Any) -> Any:
        excess = xp.maximum(self.margin - m, 0.0)
        return excess * excess

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return -2.0 * xp.maximum(self.margin - m, 0.0)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return 2.0 * xp.astype(m < self.margin, m.dtype)


@register
class SmoothedHinge(MarginLoss):
    r"""Quadratically smoothed hinge (Rennie & Srebro 2005): linear, then quadratic, then 0.

    - Formula: :math:`\ell = \tfrac12 - v` for v ≤ 0, :math:`\tfrac12(1-v)^2` for 0 < v < 1,
      0 for v ≥ 1, with v = y·f.
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real.
    - Gradient y·φ′(v) with φ′ = −1 (v ≤ 0), v − 1 (0 < v < 1), 0 (v ≥ 1); Hessian 1 on
      0 < v < 1, else 0.
    - Estimates the probability through f* = (2η − 1)/η for η ≥ ½ (and −(1 − 2η)/(1 − η)
      below): an invertible link, so a proper composite loss, classification-calibrated.
    - Relations: the hinge with its kink rounded over a unit interval; Lipschitz like the
      hinge, differentiable like the squared hinge. Not in PyTorch or Keras.
    - Reference: Rennie & Srebro (2005), Loss functions for preference levels.

    >>> import losslab as ll
    >>> print(ll.smoothed_hinge([1, 1, 1], [-1.0, 0.5, 2.0], reduction="none"))
    [1.5   0.125 0.   ]
    """

    name = "smoothed_hinge"
    family = "binary"
    aliases = ("smooth_hinge", "quadratically_smoothed_hinge")
    description = "Hinge with a quadratic piece on [0, 1]: differentiable and Lipschitz."
    formula = r"\begin{cases}\tfrac12 - v & v\le 0\\ \tfrac12(1-v)^2 & 0<v<1\\ 0 & v\ge 1\end{cases}"
    TRAITS = Traits(
        convex=True, twice_differentiable=False, lipschitz=True, robust=True, classification_calibrated=True,
        proper=True,
        estimates="probability", notes=("proper composite: f* = (2η − 1)/max(η, 1 − η)",), **_MARGIN,
    )

    def _phi(self, xp: Any, m: Any) -> Any:
        inner = S.clip(xp, m, 0.0, 1.0)
        # ½(1 − clip(v))² − (v − clip(v)) for v ≤ 0 adds the linear piece, with no where().
        return 0.5 * (1.0 - inner) ** 2 - xp.minimum(m, 0.0)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return S.clip(xp, m, 0.0, 1.0) - 1.0

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return xp.astype((m > 0.0) & (m < 1.0), m.dtype)


@register
class ModifiedHuber(MarginLoss):
    r"""Modified Huber loss (Zhang 2004): squared hinge, made linear below y·f = −1.

    - Formula: :math:`\ell = \max(0, 1 - v)^2` for v ≥ −1, :math:`-4v` for v < −1, v = y·f.
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real.
    - Gradient y·φ′(v), φ′ = −4 (v < −1), −2(1 − v) (−1 ≤ v < 1), 0 (v ≥ 1); Hessian 2 on
      −1 < v < 1, else 0.
    - Estimates the probability through f* = 2η − 1 (scikit-learn's
      ``SGDClassifier(loss="modified_huber").predict_proba`` is (f + 1)/2 clipped): proper
      composite, classification-calibrated, robust to far mislabelled points (slope 4).
    - Relations: scikit-learn ``SGDClassifier(loss="modified_huber")``.
    - Reference: Zhang (2004), Solving large scale linear prediction problems using
      stochastic gradient descent algorithms.

    >>> import losslab as ll
    >>> print(ll.modified_huber([1, 1, 1], [-2.0, 0.0, 2.0], reduction="none"))
    [8. 1. 0.]
    """

    name = "modified_huber"
    family = "binary"
    aliases = ("modified_huber_loss",)
    description = "Squared hinge that turns linear for confident mistakes; gives probabilities."
    formula = r"\begin{cases}\max(0, 1-v)^2 & v\ge -1\\ -4v & v<-1\end{cases}"
    TRAITS = Traits(
        convex=True, twice_differentiable=False, lipschitz=True, robust=True, classification_calibrated=True,
        proper=True, estimates="probability", notes=("proper composite: f* = 2η − 1",), **_MARGIN,
    )

    @property
    def inverse_link(self) -> K.Link:
        return K.ScoreLink("clipped", 1.0)

    def _phi(self, xp: Any, m: Any) -> Any:
        inner = S.clip(xp, m, -1.0, 1.0)
        # (1 − clip(v, −1, 1))² plus the linear continuation 4(−1 − v) below −1.
        return (1.0 - inner) ** 2 - 4.0 * xp.minimum(m + 1.0, 0.0)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return -2.0 * (1.0 - S.clip(xp, m, -1.0, 1.0)) * xp.astype(m < 1.0, m.dtype)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return 2.0 * xp.astype((m > -1.0) & (m < 1.0), m.dtype)


@register
class Logistic(MarginLoss):
    r"""Logistic loss: ℓ = log(1 + e^{−y·f}), logistic regression's loss on a score.

    - Formula: :math:`\ell = \log(1 + e^{-y f}) = \mathrm{softplus}(-y f)`, natural log.
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real (computed with softplus: no overflow).
    - Gradient −y·σ(−y·f); Hessian σ(y·f)σ(−y·f).
    - Estimates the probability: P(y = 1) = σ(f*) (proper composite with the logit link).
    - Relations: binary_cross_entropy(from_logits=True) with labels {0, 1}; scikit-learn's
      ``SGDClassifier(loss="log_loss")``; some texts use log base 2 (divide by log 2).
      PyTorch ``SoftMarginLoss`` / ``soft_margin_loss`` is this loss, the mean over every
      element (hence the aliases) for the labels ±1 it documents; a label 0 costs log 2
      there, while here it means −1.
    - Reference: Berkson (1944); Friedman, Hastie, Tibshirani (2000).

    >>> import losslab as ll
    >>> print(ll.logistic([1], [0.0]))
    0.6931471805599453
    """

    name = "logistic"
    family = "binary"
    aliases = ("logistic_loss", "log_loss_margin", "binomial_deviance", "soft_margin", "soft_margin_loss",
               "SoftMarginLoss")
    description = "log(1 + e^{−y·f}): logistic regression on a score; gives probabilities."
    formula = r"\log\big(1 + e^{-y f}\big)"
    TRAITS = Traits(
        convex=True, strictly_convex=True, lipschitz=True, robust=True, classification_calibrated=True,
        proper=True, estimates="probability", notes=("proper composite with the logit link",), **_MARGIN,
    )
    inverse_link = K.ScoreLink("sigmoid", 1.0)

    def _phi(self, xp: Any, m: Any) -> Any:
        return S.softplus(xp, -m)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return -S.sigmoid(xp, -m)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return S.sigmoid(xp, m) * S.sigmoid(xp, -m)


@register
class Exponential(MarginLoss):
    r"""Exponential loss (AdaBoost): ℓ = e^{−y·f}.

    - Formula: :math:`\ell = e^{-y f}`.
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real. e^{−y·f} exceeds the largest
      float below a margin of about −709 (float64) or −88 (float32): the reduced loss then
      raises a ValueError saying it overflowed (``reduction="none"`` holds inf there).
    - Gradient −y·e^{−y·f}; Hessian e^{−y·f}.
    - Estimates the probability through f* = ½ log(η/(1 − η)) (half the logit): proper
      composite, calibrated, and very sensitive to mislabelled points (not Lipschitz, not robust).
    - Relations: scikit-learn ``GradientBoostingClassifier(loss="exponential")``.
    - Reference: Freund & Schapire (1997); Friedman, Hastie, Tibshirani (2000).

    >>> import losslab as ll
    >>> print(ll.exponential([1, -1], [0.0, 0.0]))
    1.0
    """

    name = "exponential"
    family = "binary"
    aliases = ("exponential_loss", "adaboost")
    description = "e^{−y·f}: AdaBoost's loss; estimates half the logit, hard on outliers."
    formula = r"e^{-y f}"
    TRAITS = Traits(
        convex=True, strictly_convex=True, classification_calibrated=True, proper=True, estimates="probability",
        notes=("proper composite: f* = ½ log(η / (1 − η))",), **_MARGIN,
    )
    inverse_link = K.ScoreLink("sigmoid", 2.0)

    def _phi(self, xp: Any, m: Any) -> Any:
        return xp.exp(-m)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return -self._phi(xp, m)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return self._phi(xp, m)


@register
class Perceptron(MarginLoss):
    r"""Perceptron loss: ℓ = max(0, −y·f), the hinge with margin 0.

    - Formula: :math:`\ell = \max(0, -y f)`.
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real.
    - Gradient −y where y·f < 0, else 0; Hessian 0.
    - Estimates nothing useful ("other"): f = 0 minimises it for every distribution, so it is
      not classification-calibrated; the perceptron algorithm relies on its updates, not its
      minimiser.
    - Relations: scikit-learn ``SGDClassifier(loss="perceptron")``; hinge(margin=m) → this as m → 0.
    - Reference: Rosenblatt (1958).

    >>> import losslab as ll
    >>> print(ll.perceptron([1, 1], [-2.0, 3.0], reduction="none"))
    [2. 0.]
    """

    name = "perceptron"
    family = "binary"
    aliases = ("perceptron_loss",)
    description = "max(0, −y·f): the perceptron's loss; zero for any correct sign."
    formula = r"\max(0, -y f)"
    TRAITS = Traits(
        convex=True, differentiable=False, twice_differentiable=False, lipschitz=True, robust=True,
        classification_calibrated=False, proper=False, estimates="other", **_MARGIN,
    )

    def _phi(self, xp: Any, m: Any) -> Any:
        return xp.maximum(-m, 0.0)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return -xp.astype(m < 0.0, m.dtype)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)


@register
class ZeroOne(MarginLoss):
    r"""Zero-one loss: 1 for a wrong sign, 0 for a right one (a metric, not a training loss).

    - Formula: :math:`\ell = \mathbf{1}[y f \le 0]` (a score of exactly 0 counts as a mistake).
    - Domains: y_true in {−1, +1} or {0, 1}; y_pred real.
    - Gradient 0 and Hessian 0 (almost everywhere; the jump at 0 has no derivative): nothing to
      train with, which is why surrogates exist.
    - Estimates the sign (the Bayes classifier minimises it; by the definition in traits.py it
      is trivially classification-calibrated). Bounded, not convex, not continuous.
    - Relations: its mean is the error rate, 1 − accuracy (scikit-learn ``zero_one_loss``).
    - Reference: Bartlett, Jordan & McAuliffe (2006), Convexity, classification, and risk bounds.

    >>> import losslab as ll
    >>> print(ll.zero_one([1, 1, -1], [2.0, -0.5, -3.0]))
    0.3333333333333333
    """

    name = "zero_one"
    family = "binary"
    aliases = ("zero_one_loss", "0-1", "misclassification")
    description = "1 for a wrong sign, else 0: the error rate (a metric, zero gradient)."
    formula = r"\mathbf{1}[y f \le 0]"
    TRAITS = Traits(
        differentiable=False, twice_differentiable=False, bounded=True, robust=True,
        classification_calibrated=True, proper=False, estimates="sign",
        notes=("a metric: its gradient is 0 almost everywhere",), **_MARGIN,
    )

    def _phi(self, xp: Any, m: Any) -> Any:
        # + 0·m keeps the value on the autograd graph, so torch/JAX report the zero gradient.
        return xp.astype(m <= 0.0, m.dtype) + 0.0 * m

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)


@register
class HingeEmbedding(MarginLoss):
    r"""Hinge embedding loss (PyTorch's ``HingeEmbeddingLoss``): x for similar pairs, max(0, m − x)
    for dissimilar ones, x a distance between the two embeddings.

    - Formula: :math:`\ell = x` if y = +1, :math:`\max(0, m - x)` if y = −1.
    - Domains: y_true in {−1, +1} ({0, 1} is mapped to ±1); y_pred a distance x ≥ 0 (any
      finite real is accepted, as in PyTorch; for y = +1 the loss then has no minimum);
      margin m > 0.
    - Gradient 1 (y = +1), −1 where x < m (y = −1), else 0 (0 at the kink, a subgradient);
      Hessian 0.
    - Estimates "other": under P(y = +1) = η the risk ηx + (1 − η)max(0, m − x) on [0, m] is
      least at x = 0 for η > ½ and at x = m for η < ½: a similarity decision at distance m/2,
      not a probability.
    - Relations: PyTorch ``hinge_embedding_loss(x, y, margin=1.0)`` (mean over every element);
      with y = −1 only it is hinge(margin=m) on the score x with label +1.
    - Reference: Hadsell, Chopra, LeCun (2006), Dimensionality reduction by learning an
      invariant mapping (the contrastive form); PyTorch's definition.

    >>> import losslab as ll
    >>> print(ll.hinge_embedding([1, -1, -1], [0.3, 0.4, 1.5], reduction="none"))
    [0.3 0.6 0. ]
    """

    name = "hinge_embedding"
    family = "binary"
    aliases = ("hinge_embedding_loss", "HingeEmbeddingLoss")
    description = "x for similar pairs, max(0, m − x) for dissimilar ones: a distance-based hinge."
    formula = r"\begin{cases}x & y = 1\\ \max(0, m - x) & y = -1\end{cases}"
    parameters = (Param("margin", 1.0, V.POSITIVE, "distance a dissimilar pair must exceed (x ≥ m costs 0)"),)
    TRAITS = Traits(
        task="binary", y_true_domain=SIGN, y_pred_domain=REAL, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, robust=True, classification_calibrated=False,
        proper=False, estimates="other", notes=("y_pred is a distance: ℓ(+1, x) = x is unbounded below",),
    )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        y = signed_labels(xp, y_true)
        return xp.where(y > 0, y_pred, xp.maximum(self.margin - y_pred, 0.0))

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        y = signed_labels(xp, y_true)
        return xp.where(y > 0, xp.ones_like(y_pred), -xp.astype(y_pred < self.margin, y_pred.dtype))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)
