"""Multiclass losses over a class axis: y_pred (N, C) of probabilities, logits, log-probabilities
or scores; y_true class indices (N,) or target distributions (N, C) (DESIGN §2).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian (the
diagonal) with respect to y_pred, the statistic the minimiser estimates, the relation to the
peers' conventions, a reference, and an example the tests run.

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
from .._array import float_dtype, host_array, is_tracing
from ..loss import Loss, Param, register
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


# ----------------------------------------------------------------------------- sampled objectives
class _SampledLoss(Loss):
    """Inputs of the sampled objectives: ``(logits, log_q)``, both (N, 1 + K).

    Column 0 holds the true class, columns 1..K the K classes sampled from a proposal Q
    (the caller draws them and gathers their logits, as TensorFlow's candidate samplers
    do); ``log_q`` holds log Q(class) of the same entries. A sampled logit of −inf drops out
    (the way to remove an accidental hit, a sampled class equal to the true one); the true
    class's logit must be finite. Only the logits are differentiated.
    """

    family = "multiclass"
    inputs = ("logits", "log_q")
    differentiable_inputs = ("logits",)
    event_ndim = 1

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        logits, log_q = arrays
        if logits.ndim != 2 or logits.shape[1] < 2:
            raise ValueError(
                f"logits must have shape (n_samples, 1 + n_sampled): the true class's logit in column 0, then"
                f" at least one sampled class; got shape {tuple(logits.shape)}"
            )
        if tuple(log_q.shape) != tuple(logits.shape):
            raise ValueError(
                f"log_q must have the shape of logits, one log proposal probability per entry; got"
                f" {tuple(log_q.shape)} and {tuple(logits.shape)}"
            )
        dtype = float_dtype(xp, logits, log_q)
        return (xp.astype(logits, dtype, copy=False), xp.astype(log_q, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        logits, log_q = arrays
        V.check_finite(xp, logits, "logits", allow_neg_inf=True)
        V.check_finite(xp, log_q, "log_q")
        true = logits[:, 0]
        if is_tracing(true):
            V.traced_invalid(xp, true == -math.inf, "logits[:, 0] (the true class) must be finite")
        elif V.concrete(xp.any(true == -math.inf)):
            raise ValueError(
                "logits[:, 0] holds the true class's logit and must be finite; got -inf (only a sampled"
                " class, columns 1.., may be masked)"
            )


@register
class SampledSoftmax(_SampledLoss):
    r"""Sampled softmax (Jean et al. 2015): softmax cross-entropy over the true class and K
    sampled classes, each logit corrected by −log Q of the proposal.

    - Formula: with c_j = z_j − log Q_j (j = 0 the true class, 1..K the sampled ones),
      :math:`\ell = -c_0 + \log\sum_{j=0}^{K} e^{c_j}`.
    - Domains: logits (N, 1 + K), real, the true class in column 0, a sampled entry −inf to
      drop it; log_q (N, 1 + K) finite log proposal probabilities. A constant added to a
      row of log_q changes nothing, so log expected counts (log kQ) give the same loss.
    - Gradient softmax(c) − e₀; Hessian diagonal softmax(c)(1 − softmax(c)).
    - Estimates "other": a biased estimate of the full softmax cross-entropy whose bias
      vanishes as K grows (Bengio & Senécal 2008); with Q uniform and every class sampled it
      is cross_entropy(from_logits=True) with the true class first.
    - Relations: TensorFlow's ``tf.nn.sampled_softmax_loss(weights, biases, labels, inputs,
      num_sampled, num_classes, remove_accidental_hits=True)`` with num_true=1 computes these
      logits itself (inputs·weightsᵀ + biases, minus log of the sampler's expected counts,
      accidental hits masked) and then this loss; here the caller passes the gathered logits
      and log Q. PyTorch has none (pytorch#1362).
    - Reference: Jean, Cho, Memisevic, Bengio (2015), On using very large target vocabulary
      for neural machine translation (ACL); Bengio & Senécal (2008), Adaptive importance
      sampling to accelerate training of a neural probabilistic language model.

    >>> import losslab as ll, numpy as np
    >>> print(round(float(ll.sampled_softmax([[2.0, 1.0, 0.0]], np.log([[0.5, 0.25, 0.25]]))), 6))
    0.696357
    """

    name = "sampled_softmax"
    aliases = ("sampled_softmax_cross_entropy",)
    description = "Softmax cross-entropy over the true and K sampled classes, logits minus log Q."
    formula = r"-c_0 + \log\sum_{j=0}^{K} e^{c_j},\ c_j = z_j - \log Q_j"
    TRAITS = Traits(
        task="multiclass", y_true_domain=REAL, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
        estimates="other", notes=("a biased estimate of full softmax cross-entropy; consistent as K grows",),
    )

    def _parts(self, xp: Any, logits: Any, log_q: Any) -> tuple[Any, Any, Any]:
        log_s, s = S.log_softmax_and_softmax(xp, logits - log_q)
        e0 = xp.astype(xp.arange(logits.shape[1], device=device(logits)) == 0, logits.dtype)
        return log_s, s, e0[None, :]

    def _per_sample(self, xp: Any, logits: Any, log_q: Any) -> Any:
        return -self._parts(xp, logits, log_q)[0][:, 0]

    def _value_and_gradient(self, xp: Any, logits: Any, log_q: Any) -> tuple[Any, Any]:
        log_s, s, e0 = self._parts(xp, logits, log_q)
        return -log_s[:, 0], s - e0

    def _gradient(self, xp: Any, logits: Any, log_q: Any) -> Any:
        return self._value_and_gradient(xp, logits, log_q)[1]

    def _hessian(self, xp: Any, logits: Any, log_q: Any) -> Any:
        s = self._parts(xp, logits, log_q)[1]
        return s * (1.0 - s)


@register
class NCE(_SampledLoss):
    r"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010; Mnih & Teh 2012): the true class
    against K noise samples, by logistic regression on score minus log(K·Q).

    - Formula: with Δ_j = z_j − log Q_j − log K (z the unnormalised log-scores, Q the noise
      distribution, K = number of noise columns),
      :math:`\ell = -\log\sigma(\Delta_0) - \sum_{j=1}^{K}\log(1 - \sigma(\Delta_j))
      = \mathrm{softplus}(-\Delta_0) + \sum_{j\ge1}\mathrm{softplus}(\Delta_j)`.
    - Domains: logits (N, 1 + K) real, the true class in column 0, a noise entry −inf to
      drop it; log_q (N, 1 + K) finite log noise probabilities log Q (not log K·Q: the
      log K is added here).
    - Gradient σ(Δ₀) − 1 on the true class, σ(Δ_j) on each noise sample; Hessian diagonal
      σ(Δ)(1 − σ(Δ)).
    - Estimates the probability: the expected loss is minimised by z = log p_data (self-
      normalised scores, no partition function), for any K (Gutmann & Hyvärinen 2010, Thm. 1).
    - Relations: TensorFlow's ``tf.nn.nce_loss`` subtracts log of the sampler's expected
      counts, which is log K·Q for sampling with replacement, and sums the sigmoid
      cross-entropies: the same; for its default unique sampling pass log_q =
      log(expected count) − log K. Unlike sampled_softmax, a constant added to log_q
      changes the loss.
    - Reference: Gutmann & Hyvärinen (2010), Noise-contrastive estimation: a new estimation
      principle for unnormalized statistical models (AISTATS); Mnih & Teh (2012), A fast and
      simple algorithm for training neural probabilistic language models (ICML), eq. (6).

    >>> import losslab as ll, numpy as np
    >>> print(round(float(ll.nce([[1.0, 0.0]], np.log([[0.5, 0.5]]))), 6))
    1.26746
    """

    name = "nce"
    aliases = ("noise_contrastive_estimation",)
    description = "Noise-contrastive estimation: logistic loss of the true class against K noise samples."
    formula = r"\mathrm{softplus}(-\Delta_0) + \sum_{j\ge1}\mathrm{softplus}(\Delta_j),\ \Delta = z - \log KQ"
    TRAITS = Traits(
        task="multiclass", y_true_domain=REAL, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
        estimates="probability", notes=("minimiser: self-normalised log-probabilities (z = log p_data)",),
    )

    def _parts(self, xp: Any, logits: Any, log_q: Any) -> tuple[Any, Any]:
        """(Δ, y): the corrected logits and +1 for the true column, −1 for the noise ones."""
        delta = logits - log_q - math.log(logits.shape[1] - 1)
        sign = 1.0 - 2.0 * xp.astype(xp.arange(logits.shape[1], device=device(logits)) > 0, logits.dtype)
        return delta, sign[None, :]

    def _per_sample(self, xp: Any, logits: Any, log_q: Any) -> Any:
        delta, sign = self._parts(xp, logits, log_q)
        return xp.sum(S.softplus(xp, -sign * delta), axis=-1)

    def _gradient(self, xp: Any, logits: Any, log_q: Any) -> Any:
        delta, sign = self._parts(xp, logits, log_q)
        return -sign * S.sigmoid(xp, -sign * delta)

    def _hessian(self, xp: Any, logits: Any, log_q: Any) -> Any:
        delta, _ = self._parts(xp, logits, log_q)
        return S.sigmoid(xp, delta) * S.sigmoid(xp, -delta)


# ----------------------------------------------------------------------------- Fenchel–Young builder
class FenchelYoung(ClassAxisLoss):
    r"""A Fenchel–Young loss ℓ(z; t) = Ω*(z) − ⟨t, z⟩ (+ Ω(t)), built by :func:`fenchel_young`.

    Not a catalog entry: each instance carries its own max function Ω*, its gradient (the
    regularised prediction ŷ(z) = ∇Ω*(z)), optionally the diagonal of ∇²Ω* and the
    regulariser Ω of the target. Gradient ŷ(z) − t; Hessian diagonal that of ∇²Ω*.
    """

    family = "multiclass"

    def __init__(self, max_fun: Any, predict: Any, hessian: Any, regularizer: Any, name: str, traits: Traits,
                 shift: bool) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self._functions = (max_fun, predict, hessian, regularizer)
        self._declared = traits
        self._shift = shift

    def _traits(self) -> Traits:
        return self._declared

    @property
    def link(self) -> None:
        return None  # raw scores

    def __repr__(self) -> str:
        names = ", ".join(getattr(f, "__name__", repr(f)) for f in self._functions if f is not None)
        return f"FenchelYoung({self.name!r}: {names})"

    def __eq__(self, other: object) -> bool:
        return (type(other) is FenchelYoung and self.name == other.name  # type: ignore[attr-defined]
                and self._functions == other._functions)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, self._functions))

    def _scores(self, xp: Any, z: Any) -> Any:
        # A prediction map onto the simplex makes Ω*(z + c1) = Ω*(z) + c and ⟨t, z + c1⟩ = ⟨t, z⟩ + c
        # (Σt = 1): shifting by the row maximum cancels c exactly and keeps every digit of z.
        return z - xp.max(z, axis=-1, keepdims=True) if self._shift else z

    def _call(self, which: int, xp: Any, z: Any, shape: tuple) -> Any:
        argument = ("max_fun", "predict", "hessian", "regularizer")[which]
        out = self._functions[which](xp, z)
        if tuple(out.shape) != shape:
            raise ValueError(
                f"{self.name}: {argument}(xp, array) must return shape {shape} for an input of shape"
                f" {tuple(z.shape)}; got {tuple(out.shape)}"
            )
        return out

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, z = self._target_rows(xp, y_true, y_pred), self._scores(xp, y_pred)
        value = self._call(0, xp, z, z.shape[:1]) - xp.sum(t * z, axis=-1)
        if self._functions[3] is not None:
            value = value + self._call(3, xp, t, t.shape[:1])
        return value

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        return self._call(1, xp, self._scores(xp, y_pred), tuple(y_pred.shape)) - t

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._functions[2] is None:
            raise NotImplementedError(f"{self.name} has no Hessian: build it with fenchel_young(..., hessian=...)")
        return self._call(2, xp, self._scores(xp, y_pred), tuple(y_pred.shape))


def _logsumexp(xp: Any, z: Any) -> Any:
    return S.logsumexp(xp, z, axis=-1)


def _softmax(xp: Any, z: Any) -> Any:
    return S.softmax(xp, z, axis=-1)


def _softmax_hessian(xp: Any, z: Any) -> Any:
    p = S.softmax(xp, z, axis=-1)
    return p * (1.0 - p)


def _negentropy(xp: Any, t: Any) -> Any:
    return xp.sum(S.xlogy(xp, t, t), axis=-1)


def _sparsemax(xp: Any, z: Any) -> Any:
    return xp.maximum(z - sparsemax_threshold(xp, z), 0.0)


def _sparsemax_max(xp: Any, z: Any) -> Any:
    # Ω*(z) = ⟨p, z⟩ − ½‖p‖² at p = sparsemax(z) = τ + ½‖p‖² (p_j = z_j − τ on the support).
    p = _sparsemax(xp, z)
    return xp.sum(p * z - 0.5 * p * p, axis=-1)


def _sparsemax_hessian(xp: Any, z: Any) -> Any:
    support = xp.astype(_sparsemax(xp, z) > 0, z.dtype)
    return support * (1.0 - 1.0 / xp.sum(support, axis=-1, keepdims=True))


def _half_squared_norm(xp: Any, t: Any) -> Any:
    return 0.5 * xp.sum(t * t, axis=-1)


_FY_BUILTINS = {
    # Ω = Σ t log t on the simplex: Ω* = logsumexp, ŷ = softmax; ℓ = KL(t ‖ softmax z).
    "softmax": (_logsumexp, _softmax, _softmax_hessian, _negentropy, Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
        classification_calibrated=True, proper=True, estimates="probability")),
    # Ω = ½‖t‖² on the simplex: ŷ = sparsemax; ℓ = the sparsemax loss.
    "sparsemax": (_sparsemax_max, _sparsemax, _sparsemax_hessian, _half_squared_norm, Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, twice_differentiable=False,
        lipschitz=True, robust=True, classification_calibrated=True, proper=True, estimates="probability",
        notes=("proper with the sparsemax link, not the softmax",))),
}


def fenchel_young(max_fun: Any, predict: Any = None, *, hessian: Any = None, regularizer: Any = None,
                  name: str = "fenchel_young") -> FenchelYoung:
    r"""A Fenchel–Young loss (Blondel, Martins, Niculae 2020) from a regularised max function.

    - Formula: :math:`\ell(z; t) = \Omega^*(z) - \langle t, z\rangle + \Omega(t)` with Ω* the
      max function (the convex conjugate of a regulariser Ω), z the scores (y_pred, (N, C)),
      t the target (class indices or distribution rows); without ``regularizer`` the Ω(t)
      term (constant in z) is left out, as Optax does.
    - Arguments: ``max_fun(xp, z)`` → Ω*(z) per row (N,); ``predict(xp, z)`` → ∇Ω*(z) (N, C),
      the regularised prediction (softmax, sparsemax): losslab's core has no autodiff, so the
      gradient is given; ``hessian(xp, z)`` → the diagonal of ∇²Ω* (N, C), optional;
      ``regularizer(xp, t)`` → Ω(t) per row (N,), optional. Each is written with the array
      namespace ``xp`` (``xp.exp``, ``xp.sum``, ...) so the loss runs on NumPy, PyTorch and
      JAX. Or ``max_fun="softmax"`` (Ω the negative entropy: ℓ = KL(t ‖ softmax z), the
      cross-entropy for one-hot t) or ``"sparsemax"`` (Ω = ½‖·‖²: the sparsemax loss), with
      their own Hessians and Ω, computed on scores shifted by the row maximum.
    - Gradient ŷ(z) − t = predict(z) − t; Hessian diagonal ``hessian(z)``.
    - Estimates: a Fenchel–Young loss with Ω strictly convex is proper through ``predict``:
      its expected loss is minimised where predict(z) = η (declared for the built-ins; a
      user loss declares task "multiclass" and nothing it cannot know).
    - Relations: Optax's ``make_fenchel_young_loss(max_fun)`` returns fy(scores, targets) =
      max_fun(scores) − ⟨targets, scores⟩ and differentiates max_fun by autodiff; here the
      arguments are (y_true, y_pred) = (targets, scores), ``predict`` supplies the gradient,
      and a Loss comes back (reductions, weights, Hessian). fenchel_young("sparsemax") is
      ll.sparsemax; fenchel_young("softmax") is cross_entropy(from_logits=True) minus the
      target's entropy.
    - Reference: Blondel, Martins, Niculae (2020), Learning with Fenchel–Young losses (JMLR).

    >>> import numpy as np
    >>> from losslab.losses.multiclass import fenchel_young
    >>> L = fenchel_young("softmax")
    >>> print(round(float(L([0], [[np.log(3.0), 0.0, 0.0]])), 6))
    0.510826
    """
    if isinstance(max_fun, str):
        if max_fun not in _FY_BUILTINS:
            raise ValueError(f"max_fun must be 'softmax', 'sparsemax' or a function; got {max_fun!r}")
        if predict is not None or hessian is not None or regularizer is not None:
            raise TypeError(f"fenchel_young({max_fun!r}) has its own predict, hessian and regularizer; pass none")
        *functions, traits = _FY_BUILTINS[max_fun]
        return FenchelYoung(*functions, name=f"fenchel_young_{max_fun}", traits=traits, shift=True)
    for argument, f, required in (("max_fun", max_fun, True), ("predict", predict, True),
                                  ("hessian", hessian, False), ("regularizer", regularizer, False)):
        if (f is not None or required) and not callable(f):
            raise TypeError(
                f"{argument} must be a function of (xp, array){'' if required else ' or None'}; got"
                f" {type(f).__name__}" + (" (predict is ∇max_fun, the regularised prediction)"
                                          if argument == "predict" else "")
            )
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    traits = Traits(task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True,
                    twice_differentiable=hessian is not None)
    return FenchelYoung(max_fun, predict, hessian, regularizer, name=name, traits=traits, shift=False)


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
