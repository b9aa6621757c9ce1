"""Multiclass losses over a class axis: y_pred (N, C) of probabilities, logits, log-probabilities
or scores; y_true class indices (N,) or target distributions (N, C) (DESIGN §2).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian (the
diagonal) with respect to y_pred, the statistic the minimiser estimates, the relation to the
peers' conventions, a reference, and an example the tests run.

The family's other losses live beside this module, with the same conventions:
``noisy_labels.py`` (robust to label noise), ``sampled.py`` (sampled softmax, NCE) and
``fenchel_young.py`` (the Fenchel–Young builder).

Shared conventions:

- Index targets and one-hot targets give the same numbers (class weights included: a
  distribution target's weight is Σ_c w_c t_c, the weight of its class when one-hot).
- ``class_weight`` and ``ignore_index`` are sample weights (``_extra_weights``): "mean" is
  Σ w ℓ / Σ w as in PyTorch, and a batch whose every target is ignored gives 0 and a zero
  gradient. ``ignore_index`` applies to index targets only.
- Probabilities exactly 0 or 1 are clipped to [ε, 1 − ε] (ε = finfo(dtype).eps); values
  outside [0, 1] and rows that do not sum to 1 are errors.
- Logits may be −inf (a masked class): such a class has probability 0 and the loss and
  gradient stay exact and finite as long as the true class is finite. Target mass on a
  masked class makes the loss infinite: the reduced loss raises a ValueError naming the row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .. import kernels as compiled
from .._array import float_dtype, host_array
from ..loss import Param, register
from ..loss import links as K
from ..loss.shapes import ClassAxisLoss, ClassSeparableLoss
from ..traits import REAL, UNIT, Interval, Traits

#: log-probabilities: (−inf, 0].
NONPOSITIVE = Interval(-math.inf, 0.0, False, True)
# ----------------------------------------------------------------------------- parameter rules
def _is_weight_vector(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim == 1 and a.size > 0 and bool(np.all(np.isfinite(a))) and bool(np.all(a >= 0)) and a.sum() > 0


def _is_cost_matrix(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim == 2 and a.shape[0] == a.shape[1] >= 2 and bool(np.all(np.isfinite(a))) and bool(np.all(a >= 0))


CLASS_WEIGHT = V.Rule(
    lambda v: v is None or _is_weight_vector(v),
    "None or a 1-D sequence of finite, non-negative weights, one per class (not all 0)",
)
IGNORE_INDEX = V.Rule(
    lambda v: v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)),
    "None or an integer class index (e.g. -100, PyTorch's default)",
)
COST_MATRIX = V.Rule(
    lambda v: v is None or _is_cost_matrix(v),
    "None (every mistake costs 1) or a square (C, C) matrix of finite, non-negative costs, C >= 2",
)
_FROM_LOGITS = Param("from_logits", False, V.BOOLEAN, "y_pred holds logits, not probabilities")


# ----------------------------------------------------------------------------- cross-entropy
class _LogLoss(ClassSeparableLoss):
    """ℓ = Σ_c t_c·(−u_c), u = log p: the log loss, f(u) = −u (cross_entropy and nll)."""

    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        return -u

    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        return -xp.ones_like(u)

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        return xp.zeros_like(u)


@register
class CrossEntropy(_LogLoss):
    r"""Cross-entropy (log loss) over C classes, from probabilities or logits.

    - Formula: :math:`\ell = -\sum_c t_c \log p_c` with t the target distribution (one-hot for
      an index), smoothed to :math:`t = (1-\varepsilon) t + \varepsilon/C`; from logits z,
      p = softmax(z) and :math:`\ell = \log\sum_c e^{z_c} - \sum_c t_c z_c`.
    - Domains: y_true class indices (N,) or distributions (N, C); y_pred (N, C) probability rows
      (clipped to [ε, 1 − ε], rows must sum to 1) or logits with ``from_logits=True`` (−inf
      allowed for a masked class; with label_smoothing > 0 a masked class receives ε/C of the
      target, so the loss would be infinite: a ValueError says so (reduction="none" holds
      +inf there); smooth over the valid classes with a distribution target instead).
    - Gradient: logits p·Σt − t (= softmax − t); probabilities −t/p. Hessian diagonal: logits
      Σt·p(1 − p); probabilities t/p².
    - Estimates the probability: a strictly proper scoring rule (with no label smoothing and
      no class weights; class weights make the minimiser p ∝ w_c η_c).
    - Relations: PyTorch ``cross_entropy(input, target, weight, ignore_index, label_smoothing)``
      on logits: the same, "mean" = Σ w_y ℓ / Σ w_y; two differences: losslab weights the
      smoothing term by the true class only (PyTorch weights it by each class, pytorch#104776),
      and an all-ignored batch gives 0, not NaN. For soft targets PyTorch puts the weights
      inside the sum and divides "mean" by N; here a soft row's weight is Σ_c w_c t_c and
      "mean" divides by Σ w. Keras ``CategoricalCrossentropy`` / ``SparseCategoricalCrossentropy``
      (which clip to [1e-7, 1 − 1e-7] and renormalise rows; losslab rejects such rows).
      scikit-learn ``log_loss`` (clips to eps, as here). Optax ``softmax_cross_entropy``.
    - Reference: Good (1952), Rational decisions; Bridle (1990), softmax.

    >>> import losslab as ll
    >>> print(ll.cross_entropy([0, 1, 2], [[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]], from_logits=True))
    0.057375629877...
    """

    name = "cross_entropy"
    family = "multiclass"
    aliases = (
        "categorical_crossentropy", "sparse_categorical_crossentropy", "multinomial_log_loss",
        "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    )
    # PyTorch's CrossEntropyLoss and Optax's softmax cross-entropies take logits (Optax's
    # "safe" one handles -inf logits, as losslab does).
    preset_aliases = {name: {"from_logits": True} for name in (
        "CrossEntropyLoss", "softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels",
        "safe_softmax_cross_entropy")}
    description = "Log loss over C classes: the proper scoring rule; index or soft targets."
    formula = r"-\sum_c t_c \log p_c"
    parameters = (
        _FROM_LOGITS,
        Param("label_smoothing", 0.0, V.HALF_OPEN_UNIT, "mix ε of the uniform distribution into the target"),
        Param("class_weight", None, CLASS_WEIGHT, "weight of each class (weights a sample by its true class)"),
        Param("ignore_index", None, IGNORE_INDEX, "index targets equal to this are skipped (weight 0)"),
    )

    def _traits(self) -> Traits:
        proper = self.label_smoothing == 0 and self.class_weight is None
        logits = bool(self.from_logits)
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=True,
            # Smoothing makes every t_c > 0: Hessian diag(t/p²) > 0 in p (logits: shift-invariant).
            strictly_convex=not logits and self.label_smoothing > 0,
            # Class weights move the best prediction to p ∝ w·η, and its argmax with it.
            lipschitz=logits, robust=logits, classification_calibrated=self.class_weight is None, proper=proper,
            estimates="probability" if proper else "other",
        )

    @property
    def inverse_link(self) -> K.Link | None:
        return K.SOFTMAX if self.label_smoothing == 0 and self.class_weight is None else None

    def _targets(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        eps = self.label_smoothing
        if not eps:
            return t
        smooth = (1.0 - eps) * t + eps / t.shape[1]
        valid = self._valid(xp, y_true)
        return smooth if valid is None else smooth * xp.astype(valid, t.dtype)[:, None]

    @property
    def kernel_takes_whole_input(self) -> bool:
        return bool(self.from_logits) and compiled.available()

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        y_true, z = block
        if not self.from_logits or y_true.ndim != 1:
            return None
        if self.kernel_takes_whole_input:
            # weights already hold the class weights and 0 for ignored targets (the engine's).
            total = compiled.softmax_cross_entropy(z, y_true, scale, out, weights=weights,
                                                   ignore_index=self.ignore_index,
                                                   label_smoothing=self.label_smoothing)
            return None if total is None else total * scale
        if self.class_weight is not None:
            return None
        return _softmax_cross_entropy_block(y_true, z, self._valid(np, y_true), self.label_smoothing, weights,
                                            scale, out)


@register
class NLL(_LogLoss):
    r"""Negative log-likelihood of log-probabilities (PyTorch's ``nll_loss``).

    - Formula: :math:`\ell = -\sum_c t_c\,\mathrm{lp}_c` (= −lp_y for an index target), with lp
      the log-probabilities (a log_softmax output).
    - Domains: y_true indices (N,) or distributions (N, C); y_pred (N, C) log-probabilities
      (≤ 0, −inf allowed, rows whose exponentials sum to 1).
    - Gradient −t; Hessian 0 (linear in the log-probabilities).
    - Estimates the probability (it is the log loss, a proper scoring rule).
    - Relations: PyTorch ``nll_loss(input, target, weight, ignore_index)`` (the same; all
      ignored gives 0 here, NaN there); cross_entropy(from_logits=True)(y, z) =
      nll(y, log_softmax(z)).
    - Reference: Fisher (1922), maximum likelihood.

    >>> import losslab as ll, numpy as np
    >>> print(ll.nll([0, 1], np.log([[0.9, 0.1], [0.4, 0.6]])))
    0.30809306971190...
    """

    name = "nll"
    family = "multiclass"
    aliases = ("nll_loss", "NLLLoss", "negative_log_likelihood")
    description = "Negative log-likelihood of log-probabilities (after log_softmax)."
    formula = r"-\sum_c t_c\,\log p_c"
    parameters = (
        Param("class_weight", None, CLASS_WEIGHT, "weight of each class (weights a sample by its true class)"),
        Param("ignore_index", None, IGNORE_INDEX, "index targets equal to this are skipped (weight 0)"),
    )

    @property
    def link(self) -> K.Link:
        return K.LOG_PROBABILITIES

    def _traits(self) -> Traits:
        proper = self.class_weight is None
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=NONPOSITIVE, convex=True, lipschitz=True,
            robust=True, classification_calibrated=True, proper=proper,
            estimates="probability" if proper else "other",
            notes=("linear in the log-probabilities",),
        )



# ----------------------------------------------------------------------------- focal
@register
class Focal(ClassSeparableLoss):
    r"""Focal loss in its softmax form: cross-entropy scaled by (1 − p_c)^γ per class.

    - Formula: :math:`\ell = -\alpha\sum_c t_c (1-p_c)^{\gamma}\log p_c` (= −α(1 − p_y)^γ log p_y
      for an index target).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits
      (``from_logits=True``, −inf allowed). On logits log p = log_softmax(z) and
      (1 − p)^γ = exp(γ·log(1 − e^{log p})), so no logit and no γ < 1 gives NaN.
    - Gradient (logits): with a_c = t_c(1 − p_c)^γ[γ·p_c log p_c/(1 − p_c) − 1],
      ∂ℓ/∂z_k = α(a_k − p_k Σ_c a_c). Probabilities: α t[γ(1 − p)^{γ−1} log p − (1 − p)^γ/p].
      Hessian diagonal: the chain rule once more (see the code; checked against finite
      differences and autograd in the tests).
    - Estimates the probability at γ = 0 (it is α·cross-entropy); for γ > 0 the minimiser is
      a distorted probability (classification-calibrated, not proper), so "other".
    - Relations: Keras ``CategoricalFocalCrossentropy(alpha, gamma)`` (alpha=0.25 there by
      default; None here); focal(gamma=0) = cross_entropy; the binary form is binary_focal.
    - Reference: Lin, Goyal, Girshick, He, Dollár (2017), Focal loss for dense object detection.

    >>> import losslab as ll
    >>> print(round(float(ll.focal([0], [[0.9, 0.05, 0.05]], gamma=2.0)), 6))
    0.001054
    """

    name = "focal"
    family = "multiclass"
    aliases = ("focal_loss", "categorical_focal_crossentropy", "softmax_focal", "CategoricalFocalCrossentropy")
    description = "Softmax focal loss: cross-entropy down-weighting well-classified examples."
    formula = r"-\alpha\sum_c t_c (1-p_c)^{\gamma}\log p_c"
    parameters = (
        Param("gamma", 2.0, V.NONNEGATIVE, "focusing exponent (0 gives cross-entropy)"),
        Param("alpha", None, V.optional(V.interval_rule(0.0, 1.0, False, True)), "a constant factor in (0, 1]"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        ce = self.gamma == 0
        logits = bool(self.from_logits)
        return Traits(
            # −(1 − p)^γ log p is convex in p for every γ ≥ 0, but not in the logits once γ > 0.
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=ce or not logits,
            lipschitz=logits, robust=logits, classification_calibrated=True, proper=ce,
            estimates="probability" if ce else "other",
            notes=() if ce else ("minimiser: a distorted probability (Charoenphakdee et al. 2021)",),
        )

    @property
    def _a(self) -> float:
        return 1.0 if self.alpha is None else float(self.alpha)

    # f(u) = −α(1 − p)^γ·u with p = e^u; w = log(1 − p) (log1mexp: exact near p = 1) and
    # every power of (1 − p) written as e^{k·w}, so that no γ < 1 overflows or gives NaN.
    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        return -self._a * xp.exp(self.gamma * S.log1mexp(xp, u)) * u

    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        g, w = self.gamma, S.log1mexp(xp, u)
        # −α[(1 − p)^γ − γ(1 − p)^{γ−1}·p·u]
        return -self._a * (xp.exp(g * w) - g * xp.exp((g - 1.0) * w + u) * u)

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        g = self.gamma
        # 1 − p held at or above ε: below it (p rounds to 1) the link multiplies the own-class
        # term by (1 − p)² and every term is negligible, but (1 − p)^{γ−2} would overflow.
        w = xp.maximum(S.log1mexp(xp, u), math.log(float(xp.finfo(u.dtype).eps)))
        # −α[−2γ(1 − p)^{γ−1}p − γ(1 − p)^{γ−1}p·u + γ(γ − 1)(1 − p)^{γ−2}p²·u]
        first = xp.exp((g - 1.0) * w + u)
        second = xp.exp((g - 2.0) * w + 2.0 * u) if g != 2.0 else xp.exp(2.0 * u)
        return -self._a * (-2.0 * g * first - g * first * u + g * (g - 1.0) * second * u)


# ----------------------------------------------------------------------------- hinge
@register
class MulticlassHinge(ClassAxisLoss):
    r"""Multiclass hinge loss on scores: Weston–Watkins (summed) or Crammer–Singer (max).

    - Formula: with s the scores and y the true class,
      "weston_watkins": :math:`\ell = \sum_{j\ne y}\max(0, m - s_y + s_j)`;
      "crammer_singer": :math:`\ell = \max(0, m - s_y + \max_{j\ne y} s_j)`.
    - Domains: y_true class indices or one-hot rows (hard labels); y_pred (N, C) finite scores;
      margin m > 0; C ≥ 2.
    - Gradient: WW +1 at each violating j, −(number of violations) at y; CS +1 at the
      strongest rival and −1 at y when the margin is violated; 0 elsewhere (subgradients at
      the kinks). Hessian 0.
    - Estimates "other": for more than two classes neither form is classification-calibrated
      (Tewari & Bartlett 2007; Liu 2007); with two classes both reduce to the binary hinge.
    - Relations: PyTorch ``multi_margin_loss(p=1, margin=m)`` is weston_watkins / C (multiply
      by C to convert). Keras ``CategoricalHinge`` and Optax ``multiclass_hinge_loss`` are
      crammer_singer with m = 1 (Keras's for non-negative scores); scikit-learn's multiclass
      ``hinge_loss`` is crammer_singer's mean.
    - Reference: Weston & Watkins (1999); Crammer & Singer (2001).

    >>> import losslab as ll
    >>> print(ll.multiclass_hinge([0], [[1.0, 0.5, -1.0]], reduction="none"))
    [0.5]
    >>> print(ll.multiclass_hinge([0], [[1.0, 0.5, 0.8]], variant="crammer_singer", reduction="none"))
    [0.8]
    """

    name = "multiclass_hinge"
    family = "multiclass"
    # Not PyTorch's multi_margin_loss / MultiMarginLoss: that one divides the sum by C.
    aliases = ("multiclass_svm",)
    preset_aliases = {name: {"variant": "crammer_singer"}
                      for name in ("categorical_hinge", "CategoricalHinge", "multiclass_hinge_loss")}
    description = "Multiclass SVM hinge: Weston–Watkins (sum over rivals) or Crammer–Singer (max)."
    formula = r"\sum_{j\ne y}\max(0, m - s_y + s_j)\ \text{or}\ \max(0, m - s_y + \max_{j\ne y}s_j)"
    parameters = (
        Param("margin", 1.0, V.POSITIVE, "the margin the true score must clear"),
        Param("variant", "weston_watkins", V.one_of("weston_watkins", "crammer_singer"), "which multiclass hinge"),
    )
    soft_targets = False
    TRAITS = Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, robust=True, margin_based=True,
        classification_calibrated=False, proper=False, estimates="other",
        notes=("not calibrated for more than two classes (Tewari & Bartlett 2007)",),
    )

    @property
    def link(self) -> None:
        return None  # raw scores

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        arrays, options = super()._prepare(xp, arrays, options)
        if arrays[1].shape[1] < 2:
            raise ValueError(
                f"y_pred must have at least 2 classes (columns) for multiclass_hinge; got {arrays[1].shape[1]}"
            )
        return arrays, options

    def _parts(self, xp: Any, y_true: Any, s: Any) -> tuple:
        t = self._target_rows(xp, y_true, s)
        s_true = xp.sum(t * s, axis=-1, keepdims=True)
        rival = t == 0
        if self.variant == "weston_watkins":
            slack = xp.where(rival, self.margin - s_true + s, xp.zeros_like(s))
            return t, slack
        lowest = xp.min(s, axis=-1, keepdims=True) - 1.0
        rivals = xp.where(rival, s, xp.broadcast_to(lowest, s.shape))
        best = xp.max(rivals, axis=-1, keepdims=True)
        slack = self.margin - s_true + best
        return t, (slack, rivals, best)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, parts = self._parts(xp, y_true, y_pred)
        if self.variant == "weston_watkins":
            return xp.sum(xp.maximum(parts, 0.0), axis=-1)
        return xp.maximum(parts[0], 0.0)[:, 0]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, parts = self._parts(xp, y_true, y_pred)
        if self.variant == "weston_watkins":
            active = xp.astype(parts > 0, y_pred.dtype)
            return active - t * xp.sum(active, axis=-1, keepdims=True)
        slack, rivals, best = parts
        active = xp.astype(slack > 0, y_pred.dtype)
        # Rivals tied for the maximum share the subgradient (a convex combination of the
        # tied rivals' gradients): each of k tied rivals gets 1/k, so the directional
        # derivative is right when they all rise together.
        top = xp.astype((rivals == best) & (t == 0), y_pred.dtype)
        top = top / xp.sum(top, axis=-1, keepdims=True)
        return active * (top - t)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class MultiMargin(ClassAxisLoss):
    r"""PyTorch's multiclass margin loss: the Weston–Watkins hinge (or its square) over C.

    - Formula: with s the scores, y the true class and w the class weights (1 if None),
      :math:`\ell = \frac{w_y}{C}\sum_{j\ne y}\max(0, m - s_y + s_j)^{p}`, p in {1, 2}.
    - Domains: y_true class indices or one-hot rows (hard labels); y_pred (N, C) finite scores;
      margin m > 0; weight None or one non-negative number per class.
    - Gradient with h_j = max(0, m − s_y + s_j): p = 1: w_y/C at each j with h_j > 0 and −w_y/C
      times their count at y; p = 2: 2w_y h_j/C at j and −2w_y Σ_j h_j/C at y. Hessian
      diagonal: 0 (p = 1); p = 2: 2w_y/C at each violating j and 2w_y/C times their count at y.
    - Estimates "other": with p = 1 not classification-calibrated for more than two classes
      (Tewari & Bartlett 2007), like every Weston–Watkins hinge; with p = 2 calibrated (Zhang
      2004: a pairwise φ differentiable at 0 with φ′(0) < 0), its scores still no probability.
    - Relations: PyTorch ``multi_margin_loss(input, target, p, margin, weight)`` /
      ``MultiMarginLoss``: the same, the weight inside each sample's loss, so that "mean" is
      Σ w_y ℓ / N as there (losslab's class_weight elsewhere divides by Σ w_y);
      multiclass_hinge(margin=m) = C · multi_margin(p=1, margin=m).
    - Reference: Weston & Watkins (1999), Support vector machines for multi-class pattern
      recognition; PyTorch's definition.

    >>> import losslab as ll
    >>> print(ll.multi_margin([0], [[1.0, 0.5, -1.0]], reduction="none"))
    [0.16666667]
    >>> print(ll.multi_margin([0], [[1.0, 0.5, -1.0]], p=2, reduction="none"))
    [0.08333333]
    """

    name = "multi_margin"
    family = "multiclass"
    aliases = ("multi_margin_loss", "MultiMarginLoss")
    description = "PyTorch's multiclass hinge: Σ_{j≠y} w_y max(0, m − s_y + s_j)^p / C, p = 1 or 2."
    formula = r"\frac{w_y}{C}\sum_{j\ne y}\max(0, m - s_y + s_j)^{p}"
    parameters = (
        Param("p", 1, V.one_of(1, 2), "1 (hinge) or 2 (squared hinge)"),
        Param("margin", 1.0, V.POSITIVE, "the margin the true score must clear"),
        Param("weight", None, CLASS_WEIGHT, "weight of each class, applied to the sample's own loss (PyTorch's)"),
    )
    soft_targets = False

    def _traits(self) -> Traits:
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, differentiable=self.p == 2,
            twice_differentiable=False, lipschitz=self.p == 1, robust=self.p == 1, margin_based=True,
            # Zhang (2004): Σ_{j≠y} φ(s_y − s_j) is calibrated for a convex φ differentiable at 0
            # with φ′(0) < 0 (the squared hinge), not for the hinge (Tewari & Bartlett 2007).
            classification_calibrated=self.p == 2, proper=False, estimates="other",
            notes=("p=1: not calibrated for more than two classes (Tewari & Bartlett 2007); p=2: calibrated"
                   " (Zhang 2004)",),
        )

    @property
    def link(self) -> None:
        return None  # raw scores

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        arrays, options = super()._prepare(xp, arrays, options)
        if self.weight is not None and arrays[1].shape[1] != len(np.asarray(self.weight)):
            raise ValueError(
                f"multi_margin: weight is for {len(np.asarray(self.weight))} classes but y_pred has"
                f" {arrays[1].shape[1]} columns; give one entry per class."
            )
        return arrays, options

    def _parts(self, xp: Any, y_true: Any, s: Any) -> tuple[Any, Any, Any]:
        """(t, h, c): one-hot targets, the hinge terms h_j (0 at y) and w_y / C per row."""
        t = self._target_rows(xp, y_true, s)
        s_true = xp.sum(t * s, axis=-1, keepdims=True)
        h = xp.where(t == 0, xp.maximum(self.margin - s_true + s, 0.0), xp.zeros_like(s))
        c = 1.0 / s.shape[1]
        if self.weight is not None:
            c = xp.sum(t * host_array(xp, np.asarray(self.weight, dtype=float), s)[None, :], axis=-1,
                       keepdims=True) * c
        return t, h, c

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        _, h, c = self._parts(xp, y_true, y_pred)
        terms = h if self.p == 1 else h * h
        return xp.sum(c * terms, axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, h, c = self._parts(xp, y_true, y_pred)
        d = xp.astype(h > 0, y_pred.dtype) if self.p == 1 else 2.0 * h
        return c * (d - t * xp.sum(d, axis=-1, keepdims=True))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self.p == 1:
            return xp.zeros_like(y_pred)
        t, h, c = self._parts(xp, y_true, y_pred)
        active = 2.0 * xp.astype(h > 0, y_pred.dtype)
        return c * (active + t * xp.sum(active, axis=-1, keepdims=True))


@register
class MulticlassPerceptron(ClassAxisLoss):
    r"""Multiclass perceptron loss (Optax's ``multiclass_perceptron_loss``): max_j s_j − s_y.

    - Formula: :math:`\ell = \max_j s_j - s_y`, s the scores and y the true class.
    - Domains: y_true class indices or one-hot rows (hard labels); y_pred (N, C) finite scores.
    - Gradient e_k − e_y with k the highest score (0 when that is y; k tied rivals share the
      +1 equally, a subgradient); Hessian 0.
    - Estimates nothing useful ("other"): equal scores minimise it for every distribution, so
      it is not classification-calibrated; the perceptron algorithm relies on its updates.
    - Relations: Optax ``multiclass_perceptron_loss(scores, labels)``; with two classes and
      s = (0, f) it is the binary perceptron max(0, −y·f); multi_margin with margin 0 would
      sum over rivals instead of taking the largest.
    - Reference: Collins (2002), Discriminative training methods for hidden Markov models:
      theory and experiments with perceptron algorithms.

    >>> import losslab as ll
    >>> print(ll.multiclass_perceptron([0, 1], [[1.0, 3.0, 0.0], [1.0, 3.0, 0.0]], reduction="none"))
    [2. 0.]
    """

    name = "multiclass_perceptron"
    family = "multiclass"
    aliases = ("multiclass_perceptron_loss",)
    description = "max_j s_j − s_y: the multiclass perceptron's loss; zero once y scores highest."
    formula = r"\max_j s_j - s_y"
    soft_targets = False
    TRAITS = Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, robust=True, margin_based=True,
        classification_calibrated=False, proper=False, estimates="other",
        notes=("equal scores minimise it for every distribution",),
    )

    @property
    def link(self) -> None:
        return None  # raw scores

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        return xp.max(y_pred, axis=-1) - xp.sum(t * y_pred, axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        top = xp.astype(y_pred == xp.max(y_pred, axis=-1, keepdims=True), y_pred.dtype)
        return top / xp.sum(top, axis=-1, keepdims=True) - t

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class ZLoss(ClassAxisLoss):
    r"""Cross-entropy with PaLM's z-loss: softmax cross-entropy on logits plus ε·(log Z)².

    - Formula: with Z = Σ_c e^{z_c} the softmax normaliser,
      :math:`\ell = \log Z - \sum_c t_c z_c + \varepsilon\,(\log Z)^2`; the auxiliary term
      ε(log Z)² pulls log Z toward 0 (self-normalised logits, numerically stable training).
    - Domains: y_true class indices or distributions; y_pred (N, C) finite logits; ε ≥ 0.
    - Gradient p·Σt − t + 2ε log Z·p; Hessian diagonal Σt·p(1 − p) + 2ε(p² + log Z·p(1 − p)).
    - Estimates the probability: the z term is minimised by shifting every logit by the same
      amount, which leaves the softmax unchanged, so the best softmax is still η (proper
      with the softmax link). Not convex for ε > 0 (2ε log Z·∇²log Z is negative where
      log Z < 0), and its gradient grows with log Z.
    - Relations: z_loss(z_weight=0) = cross_entropy(from_logits=True); the z term alone is
      z_loss − cross_entropy. T5X's ``cross_entropy_with_logits(logits, targets, z_loss)``
      returns the same sum (PaLM and T5X use ε = 1e-4).
    - Reference: Chowdhery et al. (2022), PaLM: scaling language modeling with pathways (§5).

    >>> import losslab as ll
    >>> print(round(float(ll.z_loss([0], [[2.0, 0.0]], z_weight=0.1)), 6))
    0.57931
    """

    name = "z_loss"
    family = "multiclass"
    aliases = ("cross_entropy_with_z_loss", "palm_z_loss")
    description = "Softmax cross-entropy plus ε·(log Σe^z)²: keeps logits self-normalised (PaLM)."
    formula = r"\log Z - \sum_c t_c z_c + \varepsilon(\log Z)^2"
    parameters = (Param("z_weight", 1e-4, V.NONNEGATIVE, "ε, the weight of (log Z)² (PaLM: 1e-4)"),)

    def _traits(self) -> Traits:
        ce = self.z_weight == 0
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=ce, lipschitz=ce, robust=ce,
            classification_calibrated=True, proper=True, estimates="probability",
        )

    @property
    def link(self) -> None:
        return None  # finite logits, read directly

    @property
    def inverse_link(self) -> K.Link:
        return K.SOFTMAX

    def _parts(self, xp: Any, y_true: Any, z: Any) -> tuple[Any, Any, Any, Any]:
        t = self._target_rows(xp, y_true, z)
        log_z = S.logsumexp(xp, z, axis=-1, keepdims=True)
        return t, log_z, xp.exp(z - log_z), xp.sum(t, axis=-1, keepdims=True)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, log_z, _, mass = self._parts(xp, y_true, y_pred)
        value = mass * log_z - xp.sum(t * y_pred, axis=-1, keepdims=True) + self.z_weight * log_z * log_z
        return value[:, 0]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, log_z, p, mass = self._parts(xp, y_true, y_pred)
        return p * mass - t + 2.0 * self.z_weight * log_z * p

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, log_z, p, mass = self._parts(xp, y_true, y_pred)
        return mass * p * (1.0 - p) + 2.0 * self.z_weight * (p * p + log_z * p * (1.0 - p))


@register
class Distillation(ClassAxisLoss):
    r"""Knowledge distillation (Hinton et al. 2015): T²·KL(softmax(t/T) ‖ softmax(s/T)).

    - Formula: with q = softmax(y_true/T) (the teacher) and p = softmax(y_pred/T) (the
      student), :math:`\ell = T^2\sum_c q_c(\log q_c - \log p_c)`.
    - Domains: y_true (N, C) finite teacher logits; y_pred (N, C) finite student logits;
      temperature T > 0.
    - Gradient T(p − q) (the T² keeps the gradient's scale as T changes, as the paper says);
      Hessian diagonal p(1 − p).
    - Estimates the teacher's tempered distribution: the minimiser is p = q, i.e. student
      logits equal to the teacher's up to a shift.
    - Relations: PyTorch's usual recipe ``kl_div(log_softmax(s/T), softmax(t/T),
      reduction="batchmean") * T**2`` is this with "mean"; kl_divergence on the two softmax
      outputs times T². Combine with cross_entropy on the labels for the paper's full
      objective.
    - Reference: Hinton, Vinyals, Dean (2015), Distilling the knowledge in a neural network.

    >>> import losslab as ll
    >>> print(round(float(ll.distillation([[2.0, 0.0]], [[0.0, 0.0]], temperature=2.0)), 6))
    0.443776
    """

    name = "distillation"
    family = "multiclass"
    aliases = ("knowledge_distillation", "distillation_kl", "kd_loss")
    description = "T²·KL between the teacher's and the student's tempered softmax (Hinton et al.)."
    formula = r"T^2\sum_c q_c(\log q_c - \log p_c)"
    parameters = (Param("temperature", 1.0, V.POSITIVE, "softmax temperature T of teacher and student"),)
    TRAITS = Traits(
        task="multiclass", y_true_domain=REAL, y_pred_domain=REAL, convex=True, lipschitz=True,
        estimates="other", notes=("minimiser: the teacher's logits up to a shift (p = q)",),
    )

    @property
    def link(self) -> None:
        return None

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_true, y_pred)
        y_true, y_pred = xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(
                "y_true (teacher logits) and y_pred (student logits) must both have shape (n_samples, n_classes);"
                f" got {tuple(y_true.shape)} and {tuple(y_pred.shape)}"
            )
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        V.check_finite(xp, arrays[0], "y_true")
        V.check_finite(xp, arrays[1], "y_pred")

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        return None

    def _parts(self, xp: Any, teacher: Any, student: Any) -> tuple[Any, Any, Any, Any]:
        log_q = S.log_softmax(xp, teacher / self.temperature, axis=-1)
        log_p = S.log_softmax(xp, student / self.temperature, axis=-1)
        return log_q, xp.exp(log_q), log_p, xp.exp(log_p)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        log_q, q, log_p, _ = self._parts(xp, y_true, y_pred)
        return self.temperature ** 2 * xp.sum(q * (log_q - log_p), axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        _, q, _, p = self._parts(xp, y_true, y_pred)
        return self.temperature * (p - q)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p = self._parts(xp, y_true, y_pred)[3]
        return p * (1.0 - p)


def sparsemax_threshold(xp: Any, z: Any) -> Any:
    """τ(z) per row (N, 1): sparsemax(z) = max(z − τ, 0) sums to 1 (Martins & Astudillo 2016, Alg. 1)."""
    n_classes = z.shape[1]
    z_sorted = -xp.sort(-z, axis=-1)  # descending
    cumsum = xp.cumulative_sum(z_sorted, axis=-1)
    k = xp.arange(1, n_classes + 1, dtype=z.dtype, device=device(z))[None, :]
    in_support = 1.0 + k * z_sorted > cumsum
    size = xp.sum(xp.astype(in_support, z.dtype), axis=-1, keepdims=True)
    # The sorted prefix sum at k = |S|: the largest prefix sum inside the support.
    total = xp.sum(xp.where(k == size, cumsum, xp.zeros_like(cumsum)), axis=-1, keepdims=True)
    return (total - 1.0) / size


@register
class Sparsemax(ClassAxisLoss):
    r"""Sparsemax loss (Martins & Astudillo 2016): the Fenchel–Young loss of sparsemax.

    - Formula: with τ the sparsemax threshold of the scores z (Σ_j max(z_j − τ, 0) = 1),
      p = sparsemax(z) = max(z − τ, 0), S = {j : z_j > τ} and t the target distribution,
      :math:`\ell = \tfrac12\sum_{j\in S}(z_j^2 - \tau^2) - t^\top z + \tfrac12\lVert t\rVert^2`
      (computed as ½‖p‖² + ½‖t‖² + Σ_j t_j(τ − z_j), which it is when Σt = 1, with z shifted
      by its row maximum first: the loss is shift-invariant, and the shift keeps τ − z_j exact).
    - Domains: y_true class indices or distributions; y_pred (N, C) finite scores.
    - Gradient p − t (bounded); Hessian diagonal 1_S(1 − 1/|S|) (sparsemax's Jacobian is
      diag(1_S) − 1_S1_Sᵀ/|S|); the loss is C¹, its Hessian jumps where a class enters or
      leaves the support (z_j = τ).
    - Estimates the probability through the sparsemax link (proper: a Fenchel–Young loss is
      minimised in expectation by sparsemax(z) = η); it is 0 exactly when sparsemax(z) = t,
      which a one-hot t reaches with a finite margin (z_y − max_{j≠y} z_j ≥ 1).
    - Relations: Optax ``multiclass_sparsemax_loss(scores, labels)`` (index labels); Optax's
      ``sparsemax_loss(logits, labels)`` is the binary one, modified_huber / 4 (so not an alias). A margin loss like the hinge, but with probabilities.
    - Reference: Martins & Astudillo (2016), From softmax to sparsemax: a sparse model of
      attention and multi-label classification (ICML); Blondel, Martins, Niculae (2020),
      Learning with Fenchel–Young losses.

    >>> import losslab as ll
    >>> print(ll.sparsemax([0, 0], [[0.5, 0.0, -1.0], [2.0, 0.0, 0.0]], reduction="none"))
    [0.0625 0.    ]
    """

    name = "sparsemax"
    family = "multiclass"
    aliases = ("multiclass_sparsemax_loss", "multiclass_sparsemax")
    description = "Fenchel–Young loss of sparsemax: sparse probabilities, zero loss beyond a margin."
    formula = r"\tfrac12\sum_{j\in S}(z_j^2 - \tau^2) - t^\top z + \tfrac12\lVert t\rVert^2"
    TRAITS = Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, twice_differentiable=False,
        lipschitz=True, robust=True, classification_calibrated=True, proper=True, estimates="probability",
        notes=("proper with the sparsemax link (p = max(z − τ, 0)), not the softmax",),
    )

    @property
    def link(self) -> None:
        return None  # raw scores

    def _parts(self, xp: Any, y_true: Any, z: Any) -> tuple[Any, Any, Any]:
        """(t, τ − z, p) with z shifted by its row maximum."""
        t = self._target_rows(xp, y_true, z)
        z = z - xp.max(z, axis=-1, keepdims=True)
        gap = sparsemax_threshold(xp, z) - z
        return t, gap, xp.maximum(-gap, 0.0)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        # ½Σ_S(z_j² − τ²) = Σ_S p_j(z_j + τ)/2 = τ + ½‖p‖² (p_j = z_j − τ on S, Σp = 1).
        t, gap, p = self._parts(xp, y_true, y_pred)
        return xp.sum(0.5 * p * p + 0.5 * t * t + t * gap, axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, _, p = self._parts(xp, y_true, y_pred)
        return p - t

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        _, _, p = self._parts(xp, y_true, y_pred)
        support = xp.astype(p > 0, y_pred.dtype)
        return support * (1.0 - 1.0 / xp.sum(support, axis=-1, keepdims=True))


# ----------------------------------------------------------------------------- robust variants
@register
class Poly1(ClassSeparableLoss):
    r"""Poly-1 loss (Leng et al. 2022): cross-entropy plus ε(1 − p_t).

    - Formula: :math:`\ell = -\sum_c t_c\log p_c + \epsilon\,(1 - p_t)`, p_t = Σ_c t_c p_c
      (the probability of the true class for an index target).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits;
      epsilon ≥ −1 (below −1 the loss would reward confident mistakes near p_t = 1).
    - Gradient (logits): p·Σt − t − ε·p(t − p_t); probabilities −t/p − εt. Hessian diagonal
      (logits): Σt·p(1 − p) − ε·p(1 − 2p)(t − p_t); probabilities t/p².
    - Estimates the probability at ε = 0 (cross-entropy); otherwise "other" (ε > 0 pushes
      toward confident predictions, ε < 0 away).
    - Relations: poly1(epsilon=0) = cross_entropy; ε = 2 was best on ImageNet, ε = −1 for detection.
    - Reference: Leng et al. (2022), PolyLoss: a polynomial expansion perspective of
      classification loss functions.

    >>> import losslab as ll
    >>> print(round(float(ll.poly1([0], [[0.5, 0.5]], epsilon=1.0)), 6))
    1.193147
    """

    name = "poly1"
    family = "multiclass"
    aliases = ("poly_1", "polyloss", "poly_loss")
    # Optax's poly_loss_cross_entropy takes logits, with epsilon = 2 (the paper's ImageNet choice).
    preset_aliases = {"poly_loss_cross_entropy": {"from_logits": True, "epsilon": 2.0}}
    description = "Cross-entropy plus ε(1 − p_t): a tunable leading polynomial term."
    formula = r"-\sum_c t_c\log p_c + \epsilon(1 - p_t)"
    parameters = (
        Param("epsilon", 1.0, V.Rule(lambda v: V.FINITE.check(v) and v >= -1, "a finite number >= -1"),
              "coefficient of the (1 − p_t) term"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        ce = self.epsilon == 0
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT,
            convex=ce or not logits, lipschitz=logits, robust=logits, classification_calibrated=True,
            proper=ce, estimates="probability" if ce else "other",
        )

    # ℓ = Σ_c t_c[−u_c + ε(1 − p_c)]: f(u) = −u + ε(1 − e^u).
    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        return -u + self.epsilon * (1.0 - p)

    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        return -1.0 - self.epsilon * p

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        return -self.epsilon * p


@register
class CostSensitive(ClassSeparableLoss):
    r"""Expected misclassification cost: ℓ = Σ_c p_c K[y, c] for a cost matrix K.

    - Formula: :math:`\ell = \sum_k t_k \sum_c K_{kc}\,p_c` (= Σ_c K[y, c] p_c for an index
      target): the expected cost when predicting class c with probability p_c. K[k, c] is the
      cost of predicting c when the truth is k (mistaking a cat for a dog can cost less than
      mistaking it for a tiger). None means 1 − I: the expected 0-1 error 1 − p_y.
    - Domains: y_true indices or distributions; y_pred probability rows or logits; cost_matrix
      (C, C), finite and non-negative.
    - Gradient: probabilities k = Kᵀt (row y of K); logits p(k − Σ_c p_c k_c). Hessian
      diagonal: 0 (probabilities); p(1 − 2p)(k − Σ p k) (logits).
    - Estimates the mode with 0-1 costs (the default); otherwise "other": the minimiser puts
      all mass on the cost-sensitive Bayes decision argmin_c Σ_k η_k K[k, c], not on a probability.
    - Relations: a differentiable surrogate of scikit-learn-style cost-sensitive evaluation
      (Elkan 2001); cost_matrix = 1 − I gives 1 − p_y.
    - Reference: Elkan (2001), The foundations of cost-sensitive learning.

    >>> import losslab as ll
    >>> costs = [[0, 1, 10], [1, 0, 1], [10, 1, 0]]  # cat, dog, tiger
    >>> print(ll.cost_sensitive([0, 0], [[0.8, 0.2, 0.0], [0.8, 0.0, 0.2]], cost_matrix=costs, reduction="none"))
    [0.2 2. ]
    """

    name = "cost_sensitive"
    family = "multiclass"
    aliases = ("expected_cost", "cost_sensitive_loss")
    description = "Expected misclassification cost Σ_c p_c K[y, c] under a cost matrix."
    formula = r"\sum_c K_{y c}\,p_c"
    parameters = (
        Param("cost_matrix", None, COST_MATRIX, "K[true, predicted]; None: every mistake costs 1"),
        _FROM_LOGITS,
    )

    def _n_classes_param(self) -> int | None:
        return None if self.cost_matrix is None else len(np.asarray(self.cost_matrix))

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        zero_one = self.cost_matrix is None
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=not logits,
            lipschitz=True, bounded=True, robust=True, classification_calibrated=True if zero_one else None,
            proper=False, estimates="mode" if zero_one else "other",
            notes=("minimiser: one-hot at the cost-sensitive Bayes decision (the mode for 0-1 costs)",),
        )

    def _terms(self, xp: Any, t: Any, u: Any, p: Any, order: int) -> tuple:
        # ℓ = Σ_c k_c·p_c with k = Kᵀt (row y of K): ∂/∂u of k·e^u is k·p at every order.
        n = p.shape[1]
        costs = np.ones((n, n)) - np.eye(n) if self.cost_matrix is None else np.asarray(self.cost_matrix, dtype=float)
        costs = host_array(xp, costs, p)
        expected = (t @ costs) * p
        if order == 0:
            return (expected,)
        return (expected, expected, expected) if order == 2 else (expected, expected)


# ----------------------------------------------------------------------------- calibration
@register
class AdaptiveFocal(ClassSeparableLoss):
    r"""Sample-dependent focal loss (Mukhoti et al. 2020, FLSD-53): γ = 5 below p = 0.2, 3 above.

    - Formula: :math:`\ell = -\sum_c t_c (1-p_c)^{\gamma(p_c)}\log p_c` with
      γ(p) = gamma_below for p < threshold and gamma_above for p ≥ threshold (FLSD-53: 5, 3
      and 0.2); = −(1 − p_y)^{γ(p_y)} log p_y for an index target.
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits
      (``from_logits=True``, −inf allowed); gammas ≥ 0; threshold in (0, 1).
    - Gradient: focal's with the γ of each class's p (γ is piecewise constant, so its
      derivative is 0 away from the threshold). At p = threshold the loss jumps: with the
      defaults from −0.8⁵ log 0.2 = 0.5274 just below to −0.8³ log 0.2 = 0.8240 at and above
      (it rises with p there); the value and gradient there are the γ_above branch's, i.e.
      the one-sided derivative from the right, and the jump's Dirac term is left out, as in
      the authors' code, which treats γ as a constant of each sample. Hessian diagonal: focal's,
      with the same γ.
    - Estimates "other": its minimiser is a distorted probability, as focal's; the authors
      chose γ so that confident predictions are pushed less, for calibration (lower ECE).
      The jump makes the true class's loss non-monotone in p (with the defaults it is higher
      on [0.2, 0.265) than just below 0.2), so classification-calibration is not established.
    - Relations: gamma_below = gamma_above = γ is focal(gamma=γ) (no jump); the authors'
      ``FocalLossAdaptive(gamma=3)`` (index targets, logits; "sum" by default: size_average=False)
      is adaptive_focal(from_logits=True, reduction="sum"); their code also has a γ = 3
      band for 0.2 ≤ p < 0.5, the same as above 0.5 in FLSD-53.
    - Reference: Mukhoti, Kulharia, Sanyal, Golodetz, Torr, Dokania (2020), Calibrating deep
      neural networks using focal loss (NeurIPS), §5 (FLSD-53).

    >>> import losslab as ll
    >>> print(ll.adaptive_focal([0, 0], [[0.1, 0.9], [0.5, 0.5]], reduction="none"))
    [1.35965347 0.0866434 ]
    """

    name = "adaptive_focal"
    family = "multiclass"
    aliases = ("flsd_53", "focal_loss_adaptive", "sample_dependent_focal")
    description = "Focal loss with γ = 5 for p < 0.2 and γ = 3 above (FLSD-53): for calibration."
    formula = r"-\sum_c t_c (1-p_c)^{\gamma(p_c)}\log p_c"
    parameters = (
        Param("gamma_below", 5.0, V.NONNEGATIVE, "γ where the class probability is below the threshold"),
        Param("gamma_above", 3.0, V.NONNEGATIVE, "γ where the class probability is at or above the threshold"),
        Param("threshold", 0.2, V.OPEN_UNIT, "the probability where γ switches"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        smooth = self.gamma_below == self.gamma_above
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT,
            convex=smooth and not logits, differentiable=smooth, twice_differentiable=smooth,
            # The jump makes the loss of the true class non-monotone in p (with the defaults it is
            # higher on [0.2, 0.265) than just below 0.2): calibration is not established.
            lipschitz=logits, robust=logits, classification_calibrated=True if smooth else None, proper=False,
            estimates="other", notes=() if smooth else (f"jumps at p = {self.threshold:g}, where γ switches",),
        )

    def _gamma(self, xp: Any, p: Any) -> Any:
        return xp.where(p < self.threshold, xp.full_like(p, self.gamma_below), xp.full_like(p, self.gamma_above))

    # focal's f, f′, f″ (see Focal) with γ an array: w = log(1 − p), powers of (1 − p) as e^{k·w}.
    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        return -xp.exp(self._gamma(xp, p) * S.log1mexp(xp, u)) * u

    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        g, w = self._gamma(xp, p), S.log1mexp(xp, u)
        return -(xp.exp(g * w) - g * xp.exp((g - 1.0) * w + u) * u)

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        g = self._gamma(xp, p)
        # 1 − p held at or above ε, as in Focal: (1 − p)^{γ−2} must not overflow for γ < 2.
        w = xp.maximum(S.log1mexp(xp, u), math.log(float(xp.finfo(u.dtype).eps)))
        first = xp.exp((g - 1.0) * w + u)
        second = xp.exp((g - 2.0) * w + 2.0 * u)
        return -(-2.0 * g * first - g * first * u + g * (g - 1.0) * second * u)


# ----------------------------------------------------------------------------- distillation
@register
class GeneralizedJSD(ClassAxisLoss):
    r"""Generalised Jensen–Shannon divergence between teacher and student (GKD, Agarwal et al. 2024).

    - Formula: with q = softmax(y_true/T) (the teacher), p = softmax(y_pred/T) (the student)
      and m = βq + (1 − β)p, :math:`\ell = \beta\,\mathrm{KL}(q\Vert m) + (1-\beta)\,\mathrm{KL}(p\Vert m)`
      = H(m) − βH(q) − (1 − β)H(p).
    - Domains: y_true (N, C) finite teacher logits; y_pred (N, C) finite student logits;
      0 < beta < 1; temperature T > 0.
    - Gradient: with A = (1 − β)·p·log(p/m) (∂ℓ/∂log p), (A − p·ΣA)/T. Hessian diagonal:
      the softmax chain rule of A and v = A + (1 − β)p(1 − (1 − β)p/m), over T².
    - Estimates the teacher's distribution: ℓ ≥ 0 with equality iff p = q (student logits
      equal to the teacher's up to a shift); bounded by the binary entropy of β (≤ log 2).
    - Relations: TRL's ``GKDTrainer.generalized_jsd_loss(student_logits, teacher_logits,
      labels=None, beta=0.5, temperature=1.0)``: the same per token, with the student first in
      its signature and the teacher first here (y_true, y_pred); its "batchmean" over
      (B, L, V) logits is "mean" over B·L rows here. TRL special-cases beta=0 as KL(q‖p)
      (forward, = distillation / T²) and beta=1 as KL(p‖q) (reverse), where this formula is
      0; here beta must lie strictly inside (0, 1). beta=0.5, T=1 is the Jensen–Shannon
      divergence of the two softmaxes (js_divergence on probabilities). No T² factor
      (distillation has one).
    - Reference: Agarwal, Vieillard, Zhou, Stanczyk, Ramos, Geist, Bachem (2024), On-policy
      distillation of language models: learning from self-generated mistakes (ICLR), eq. (2).

    >>> import losslab as ll
    >>> print(round(float(ll.generalized_jsd([[0.0, 0.0]], [[2.0, 0.0]])), 6))
    0.089541
    """

    name = "generalized_jsd"
    family = "multiclass"
    aliases = ("generalized_jsd_loss", "gkd_loss", "generalised_jsd")
    description = "β·KL(q‖m) + (1−β)·KL(p‖m), m = βq + (1−β)p: teacher–student JSD (GKD)."
    formula = r"\beta\,\mathrm{KL}(q\Vert m) + (1-\beta)\,\mathrm{KL}(p\Vert m),\ m = \beta q + (1-\beta)p"
    parameters = (
        Param("beta", 0.5, V.OPEN_UNIT, "β in (0, 1): the teacher's share of the mixture m"),
        Param("temperature", 1.0, V.POSITIVE, "softmax temperature T of teacher and student"),
    )
    TRAITS = Traits(
        task="multiclass", y_true_domain=REAL, y_pred_domain=REAL, bounded=True, lipschitz=True, robust=True,
        estimates="other", notes=("minimiser: the teacher's logits up to a shift (p = q)",),
    )

    @property
    def link(self) -> None:
        return None

    _prepare = Distillation._prepare
    _check_values = Distillation._check_values

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        return None

    def _parts(self, xp: Any, teacher: Any, student: Any) -> tuple[Any, Any, Any, Any, Any]:
        """(log q, q, log p, p, log m); log m = logaddexp(log β + log q, log(1 − β) + log p)."""
        log_q = S.log_softmax(xp, teacher / self.temperature, axis=-1)
        log_p = S.log_softmax(xp, student / self.temperature, axis=-1)
        a, b = log_q + math.log(self.beta), log_p + math.log1p(-self.beta)
        hi = xp.maximum(a, b)
        log_m = hi + xp.log1p(xp.exp(-xp.abs(a - b)))
        return log_q, xp.exp(log_q), log_p, xp.exp(log_p), log_m

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        log_q, q, log_p, p, log_m = self._parts(xp, y_true, y_pred)
        terms = self.beta * q * (log_q - log_m) + (1.0 - self.beta) * p * (log_p - log_m)
        return xp.sum(terms, axis=-1)

    def _first(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
        """(p, log(p/m), A): A = ∂ℓ/∂log p = (1 − β)·p·log(p/m)."""
        _, _, log_p, p, log_m = self._parts(xp, y_true, y_pred)
        ratio = log_p - log_m
        return p, ratio, (1.0 - self.beta) * p * ratio

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p, _, a = self._first(xp, y_true, y_pred)
        return K.SOFTMAX.gradient(xp, p, a) / self.temperature

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        p, ratio, a = self._first(xp, y_true, y_pred)
        c = 1.0 - self.beta
        # ∂²ℓ/∂u² = A + p²·∂²ℓ/∂p² with ∂²ℓ/∂p² = c(1/p − c/m); p/m ≤ 1/c, so e^{ratio} is finite.
        v = a + c * p * (1.0 - c * xp.exp(ratio))
        return K.SOFTMAX.hessian(xp, p, a, v) / self.temperature ** 2


# ----------------------------------------------------------------------------- the NumPy kernel
_EXP_LIMITS: dict = {}


def _exp_limit(dtype: Any) -> float:
    """log of the largest finite number of ``dtype``: e^x overflows above it."""
    if dtype not in _EXP_LIMITS:
        _EXP_LIMITS[dtype] = math.log(float(np.finfo(dtype).max))
    return _EXP_LIMITS[dtype]


def _softmax_cross_entropy_block(y_true: np.ndarray, z: np.ndarray, valid: Any, eps: float, weights: Any,
                                 scale: float, out: np.ndarray) -> float | None:
    """Softmax cross-entropy of one row block with index targets, fused (``Loss._kernel``).

    Writes scale·wᵢ·(softmax − t) into ``out`` and returns Σ wᵢℓᵢ·scale. The exponentials
    are computed once into a block-local buffer that then becomes the gradient in place.
    The row maxima also validate the block (a NaN or +inf makes a row maximum non-finite;
    so does a row of −inf only): such a block returns None and the generic code checks it.
    A row whose maximum m lies in [0, log(max float) − log C − 1] needs no shift: e^z
    cannot overflow its sum and underflows no later than e^{z − m} would; when every row of
    the block is such, the subtraction pass is skipped. For those rows Σ e^{z − m} =
    e^{−m}·Σ e^z is formed in linear space, keeping its relative precision.
    ℓ = (m − z_y) + log Σ e^{z − m}.
    """
    n, n_classes = z.shape
    row_max = z.max(axis=1, keepdims=True)
    low, high = float(row_max.min()), float(row_max.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    labels = y_true if valid is None else np.where(valid, y_true, 0)
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_classes:
        return None  # not plain class indices: the generic code checks and names them
    labels = labels.astype(np.intp, copy=False)
    rows = np.arange(n)
    limit = _exp_limit(z.dtype) - math.log(n_classes) - 1.0
    if 0.0 <= low and high <= limit:
        unshifted = None  # every row: e^z
        e = np.exp(z)
    else:
        # Each row decides for itself, so that results never depend on the blocking.
        unshifted = (row_max >= 0.0) & (row_max <= limit)
        e = np.subtract(z, np.where(unshifted, 0.0, row_max))
        np.exp(e, out=e)  # −inf − max → exp(−inf) = 0: a masked class drops out
        unshifted = unshifted[:, 0]
    sums = e.sum(axis=1)
    row_max = row_max[:, 0]
    # log Σ e^{z − m}; unshifted sums are rescaled by e^{−m} first (no cancellation).
    if unshifted is None:
        log_sums = np.log(sums * np.exp(-row_max))
    else:
        log_sums = np.log(np.where(unshifted, sums * np.exp(np.where(unshifted, -row_max, 0.0)), sums))
    loss = row_max - z[rows, labels]
    if eps:
        loss = (1.0 - eps) * loss + eps * (row_max - z.mean(axis=1))
    loss += log_sums
    np.reciprocal(sums, out=sums)
    e *= sums[:, None]  # the softmax, in place
    if eps:
        e[rows, labels] -= 1.0 - eps
        e -= eps / n_classes
    else:
        e[rows, labels] -= 1.0
    factor = weights if valid is None else (valid if weights is None else weights)
    if factor is None:
        np.multiply(e, scale, out=out)
        return float(np.add.reduce(loss)) * scale
    # The weights already hold 0 for ignored rows (combined by the engine); without
    # sample weights, ``valid`` does the same.
    factor = np.asarray(factor, dtype=z.dtype)
    np.multiply(e, (factor * scale)[:, None], out=out)
    return float(np.add.reduce(np.where(factor > 0, loss * factor, 0.0))) * scale


# ----------------------------------------------------------------------------- helper
def class_balanced_weights(counts: Any, beta: float = 0.999) -> np.ndarray:
    r"""Class weights from the effective number of samples (Cui et al. 2019).

    :math:`w_c \propto (1-\beta)/(1-\beta^{n_c})`, normalised so that the weights sum to the
    number of classes. β = 0 gives equal weights; β → 1 gives inverse class frequency.
    Pass the result as ``class_weight=`` to cross_entropy (or nll).

    - Domains: counts, one positive count per class; 0 ≤ beta < 1.
    - Reference: Cui, Jia, Lin, Song, Belongie (2019), Class-balanced loss based on effective
      number of samples. For 9900 : 100 samples the minority weight is 10.5x the majority's at
      β = 0.999 and 63.2x at β = 0.9999 (inverse frequency: 99x).

    >>> import losslab as ll
    >>> w = ll.class_balanced_weights([9900, 100], beta=0.999)
    >>> print(round(float(w[1] / w[0]), 1))
    10.5
    """
    try:
        n = np.asarray(counts, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"counts must be a 1-D sequence of class counts; got {type(counts).__name__}") from None
    if n.ndim != 1 or n.size == 0:
        raise ValueError(f"counts must be a 1-D sequence with one count per class; got shape {n.shape}")
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(f"counts must be finite and positive (a class with no sample has no weight); got {n.tolist()}")
    V.check_param("class_balanced_weights", "beta", beta, V.HALF_OPEN_UNIT)
    # Effective number (1 − β^n)/(1 − β), with expm1: exact as β → 1 where 1 − β^n cancels.
    effective = -np.expm1(n * np.log(beta)) / (1.0 - beta) if beta > 0 else np.ones_like(n)
    weights = 1.0 / effective
    return weights * (n.size / weights.sum())

