"""Multi-label losses: y_pred (N, C) holds one score (a logit) per class, y_true (N, C) one
label per class (1: the class applies, 0: it does not; several may apply at once).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian (the
diagonal) with respect to y_pred, the statistic the minimiser estimates, the relation to the
peers' conventions, a reference, and an example the tests run.

A sample is a row: "mean" averages the rows' losses, each of which is already an average
(or a sum) over its C classes, as PyTorch's multi-label losses do. Elementwise binary
losses on a (N, C) array (binary_cross_entropy with from_logits=True) average over all N·C
elements instead, which is the same number when every row has C entries.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import float_dtype, host_array, index_dtype, is_tracing
from ..loss import Loss, Param, register
from ..loss.shapes import labels_in_prediction_dtype
from ..traits import REAL, UNIT, Traits
from .multiclass import CLASS_WEIGHT


def _is_positive_weights(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim in (0, 1) and a.size > 0 and bool(np.all(np.isfinite(a))) and bool(np.all(a > 0))


POS_WEIGHT = V.Rule(
    lambda v: v is None or (not isinstance(v, bool) and _is_positive_weights(v)),
    "None, a finite number > 0, or a 1-D sequence of them, one per class",
)


class _MultiLabelLoss(Loss):
    """(N, C) labels and (N, C) scores; per-class parameters checked against C."""

    event_ndim = 1
    #: Per-class parameters, whose length must be C.
    _per_class: tuple[str, ...] = ()

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = labels_in_prediction_dtype(xp, arrays)
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must have shape (n_samples, n_classes) (one score per class); got shape {tuple(y_pred.shape)}"
            )
        for name in self._per_class:
            value = getattr(self, name)
            if value is not None and np.ndim(value) == 1 and len(value) != y_pred.shape[1]:
                raise ValueError(
                    f"{self.name}: {name} is for {len(value)} classes but y_pred has {y_pred.shape[1]} columns;"
                    " give one entry per class."
                )
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        V.check_finite(xp, y_true, "y_true")
        V.check_in(xp, y_true, "y_true", UNIT, what="labels (0, 1 or soft labels in between)")
        V.check_finite(xp, y_pred, "y_pred")

    def _class_vector(self, xp: Any, value: Any, like: Any) -> Any:
        """A per-class parameter as a (1, C) array of y_pred's dtype (a scalar broadcast)."""
        a = np.array(np.broadcast_to(np.asarray(value, dtype=float), (like.shape[1],)))  # a writeable copy
        return host_array(xp, a, like)[None, :]


@register
class MultiLabelSoftMargin(_MultiLabelLoss):
    r"""Multi-label soft margin loss: the mean over classes of binary cross-entropy on logits.

    - Formula: with w the class weights and w₊ the positive weights (1 if None),
      :math:`\ell = \frac1C\sum_c w_c\big[w_{+,c}\,y_c\,\mathrm{softplus}(-x_c) + (1-y_c)\,\mathrm{softplus}(x_c)\big]`.
    - Domains: y_true (N, C) labels in [0, 1] (soft labels allowed); y_pred (N, C) finite
      logits; weight None or one non-negative number per class; pos_weight None, a number
      > 0, or one per class.
    - Gradient (w_c/C)[(1 − y_c)σ(x_c) − w₊y_cσ(−x_c)]; Hessian (w_c/C)(w₊y_c + 1 − y_c)σ(x_c)σ(−x_c).
    - Estimates the probability of each class, P(y_c = 1) = σ(x_c), when weight and
      pos_weight are None (a proper scoring rule per class); with w₊ the minimiser is the
      odds scaled by w₊.
    - Relations: PyTorch ``multilabel_soft_margin_loss(x, y, weight)`` /
      ``MultiLabelSoftMarginLoss`` (which has no pos_weight: the default None is it);
      ``binary_cross_entropy_with_logits(x, y, weight, pos_weight=vector)`` averaged over
      classes; binary_cross_entropy(from_logits=True) over all N·C elements is the same mean.
    - Reference: PyTorch's definition; the per-class weights as in BCEWithLogitsLoss.

    >>> import losslab as ll
    >>> print(round(float(ll.multilabel_soft_margin([[1, 0]], [[0.0, 2.0]])), 6))
    1.410038
    """

    name = "multilabel_soft_margin"
    family = "multilabel"
    aliases = ("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss")
    description = "Mean over classes of BCE on logits, with per-class weight and pos_weight."
    formula = r"\frac1C\sum_c w_c\big[w_{+,c} y_c\,\mathrm{softplus}(-x_c) + (1-y_c)\,\mathrm{softplus}(x_c)\big]"
    parameters = (
        Param("weight", None, CLASS_WEIGHT, "weight of each class's term (PyTorch's weight)"),
        Param("pos_weight", None, POS_WEIGHT, "weight of the positive term, one per class or one for all"),
    )
    _per_class = ("weight", "pos_weight")

    def _traits(self) -> Traits:
        proper = self.weight is None and self.pos_weight is None
        return Traits(
            task="multilabel", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
            classification_calibrated=self.pos_weight is None, proper=proper,
            estimates="probability" if proper else "other",
        )

    def _weights(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        """(w_c / C, w₊): (1, C) arrays or plain numbers."""
        c = 1.0 / y_pred.shape[1]
        w = c if self.weight is None else self._class_vector(xp, self.weight, y_pred) * c
        pw = 1.0 if self.pos_weight is None else self._class_vector(xp, self.pos_weight, y_pred)
        return w, pw

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        w, pw = self._weights(xp, y_pred)
        terms = pw * y_true * S.softplus(xp, -y_pred) + (1.0 - y_true) * S.softplus(xp, y_pred)
        return xp.sum(w * terms, axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        w, pw = self._weights(xp, y_pred)
        return w * ((1.0 - y_true) * S.sigmoid(xp, y_pred) - pw * y_true * S.sigmoid(xp, -y_pred))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        w, pw = self._weights(xp, y_pred)
        return w * (pw * y_true + 1.0 - y_true) * S.sigmoid(xp, y_pred) * S.sigmoid(xp, -y_pred)


@register
class MultiLabelMargin(_MultiLabelLoss):
    r"""Multi-label margin loss: every target class must outscore every other class by m.

    - Formula: with J the target classes of a row,
      :math:`\ell = \frac1C\sum_{j\in J}\sum_{i\notin J}\max(0, m - (x_j - x_i))`.
    - Domains: y_pred (N, C) finite scores; y_true (N, C) multi-hot labels in {0, 1}
      (``target_format="multi_hot"``), or PyTorch's format (``target_format="indices"``): the
      target class indices first, then −1, anything after the first −1 ignored. A row with
      no target (or no other class) costs 0. margin m > 0 (PyTorch: 1).
    - Gradient: for each violated pair (j, i), −1/C at x_j and +1/C at x_i; 0 at the kinks
      (a subgradient). Hessian 0.
    - Estimates "other": a ranking of the target classes above the others, not
      probabilities (pairwise multi-label hinges are not consistent for ranking loss,
      Gao & Zhou 2013).
    - Relations: PyTorch ``multilabel_margin_loss`` / ``MultiLabelMarginLoss`` is
      target_format="indices", margin 1 (the preset alias). With one target per row it is
      multi_margin(p=1, margin=m), C − 1 pairs.
    - Reference: Crammer & Singer (2003), A family of additive online algorithms for category
      ranking; PyTorch's definition.

    >>> import losslab as ll
    >>> print(round(float(ll.multilabel_margin([[1, 0, 0, 1]], [[0.1, 0.2, 0.4, 0.8]])), 6))
    0.85
    """

    name = "multilabel_margin"
    family = "multilabel"
    aliases = ("multilabel_margin_loss",)
    preset_aliases = {"MultiLabelMarginLoss": {"target_format": "indices"}}
    description = "Pairwise hinge: each target class outscores each other class by the margin."
    formula = r"\frac1C\sum_{j\in J}\sum_{i\notin J}\max(0, m - (x_j - x_i))"
    parameters = (
        Param("margin", 1.0, V.POSITIVE, "how far each target class must outscore each other class"),
        Param("target_format", "multi_hot", V.one_of("multi_hot", "indices"),
              "y_true as (N, C) 0/1 labels, or PyTorch's class indices padded with -1"),
    )
    TRAITS = Traits(
        task="multilabel", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, robust=True, margin_based=True,
        classification_calibrated=False, proper=False, estimates="other",
    )

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        if self.target_format == "multi_hot":
            return super()._prepare(xp, arrays, options)
        y_true, y_pred = arrays
        y_pred = xp.astype(y_pred, float_dtype(xp, y_pred), copy=False)
        V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must have shape (n_samples, n_classes) (one score per class); got shape {tuple(y_pred.shape)}"
            )
        n_classes = y_pred.shape[1]
        if not is_tracing(y_true) and math.prod(y_true.shape):
            ok = (y_true == xp.round(y_true)) & (y_true >= -1) & (y_true < n_classes)
            if not V.concrete(xp.all(ok)):
                bad = y_true[~ok]
                raise ValueError(
                    f"y_true must hold class indices in [0, {n_classes - 1}] padded with -1"
                    f" (target_format='indices'); got {float(bad[0]):g}"
                )
        labels = xp.astype(y_true, index_dtype(xp))
        # Entries before a row's first −1 are targets; the rest is padding.
        kept = xp.cumulative_sum(xp.astype(labels == -1, index_dtype(xp)), axis=1) == 0
        classes = xp.arange(n_classes, dtype=index_dtype(xp), device=device(y_pred))
        hits = (labels[:, :, None] == classes[None, None, :]) & kept[:, :, None]
        multi_hot = xp.astype(xp.any(hits, axis=1), y_pred.dtype)
        return (multi_hot, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        y_true = arrays[0]
        if not is_tracing(y_true) and V.concrete(xp.any((y_true != 0.0) & (y_true != 1.0))):
            raise ValueError(f"y_true must hold multi-hot labels 0 or 1 for {self.name}; got soft labels.")

    def _slack(self, xp: Any, t: Any, x: Any) -> tuple[Any, Any]:
        """(pairs, h): pairs[n, j, i] = 1 for a target j and a non-target i; h = m − x_j + x_i."""
        pairs = t[:, :, None] * (1.0 - t)[:, None, :]
        h = self.margin - x[:, :, None] + x[:, None, :]
        return pairs, h

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        pairs, h = self._slack(xp, y_true, y_pred)
        return xp.sum(pairs * xp.maximum(h, 0.0), axis=(1, 2)) / y_pred.shape[1]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        pairs, h = self._slack(xp, y_true, y_pred)
        active = pairs * xp.astype(h > 0, y_pred.dtype)
        # ∂/∂x_j of a violated pair (j, i) is −1, ∂/∂x_i is +1.
        return (xp.sum(active, axis=1) - xp.sum(active, axis=2)) / y_pred.shape[1]

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class Asymmetric(_MultiLabelLoss):
    r"""Asymmetric loss (ASL, Ridnik et al. 2021): focal terms with separate exponents for
    positives and negatives, and a probability margin that discards easy negatives.

    - Formula: with p = σ(x) per class and p_m = max(p − m, 0),
      :math:`\ell = -\sum_c\big[y_c(1-p_c)^{\gamma_+}\log p_c + (1-y_c)\,p_{m,c}^{\gamma_-}\log(1-p_{m,c})\big]`
      (a sum over the C classes of each row).
    - Domains: y_true (N, C) labels in [0, 1] (0 or 1 in the paper); y_pred (N, C) finite
      logits; gamma_pos, gamma_neg ≥ 0; margin m in [0, 1). Computed with log-sigmoids: no
      logit overflows.
    - Gradient (logits), with s = σ(x), g = 1 − s, q = s − m and L = −log(1 − q):
      positives g^{γ₊}(γ₊ s log s − g); negatives (q > 0) s·g·[q^{γ₋}/(1 − q) + γ₋q^{γ₋−1}L],
      0 where p ≤ m. Hessian diagonal: positives g^{γ₊}s[γ₊ log s (g − γ₊s) + (2γ₊ + 1)g];
      negatives s g(1 − 2s)h′(q) + (s g)²h″(q) with h″ = q^{γ₋}/(1 − q)² + 2γ₋q^{γ₋−1}/(1 − q)
      + γ₋(γ₋ − 1)q^{γ₋−2}L. At p = m the loss has a kink when γ₋ = 0 and a jump in its
      second derivative when γ₋ ≤ 1 (m > 0).
    - Estimates "other": the asymmetry moves each class's best threshold away from ½ on
      purpose (fewer false negatives for rare positives); γ₊ = γ₋ = m = 0 is binary
      cross-entropy, summed over classes (proper).
    - Relations: the authors' ``AsymmetricLoss(gamma_neg, gamma_pos, clip=m)`` returns the
      sum over the batch and the classes, reduction="sum" here (it also clamps each log at
      1e-8, and its default gamma_pos is 1, the paper's recommendation 0); the paper's
      defaults are γ₊ = 0, γ₋ = 4, m = 0.05.
    - Reference: Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter, Zelnik-Manor (2021),
      Asymmetric loss for multi-label classification (ICCV).

    >>> import losslab as ll
    >>> print(round(float(ll.asymmetric([[1, 0]], [[0.0, 0.0]])), 6))
    0.717662
    """

    name = "asymmetric"
    family = "multilabel"
    aliases = ("asymmetric_loss", "asl")
    description = "Multi-label focal loss with γ₊ ≠ γ₋ and a probability margin for negatives (ASL)."
    formula = r"-\sum_c\big[y_c(1-p_c)^{\gamma_+}\log p_c + (1-y_c)p_{m,c}^{\gamma_-}\log(1-p_{m,c})\big]"
    parameters = (
        Param("gamma_pos", 0.0, V.NONNEGATIVE, "focusing exponent of the positive terms"),
        Param("gamma_neg", 4.0, V.NONNEGATIVE, "focusing exponent of the negative terms"),
        Param("margin", 0.05, V.HALF_OPEN_UNIT, "probability margin m: negatives with p ≤ m cost 0"),
    )

    def _traits(self) -> Traits:
        bce = self.gamma_pos == 0 and self.gamma_neg == 0 and self.margin == 0
        smooth = self.margin == 0 or self.gamma_neg > 1
        return Traits(
            task="multilabel", y_true_domain=UNIT, y_pred_domain=REAL, convex=bce, strictly_convex=False,
            differentiable=self.margin == 0 or self.gamma_neg > 0, twice_differentiable=smooth, lipschitz=True,
            robust=True, classification_calibrated=bce, proper=bce, estimates="probability" if bce else "other",
        )

    def _pieces(self, xp: Any, x: Any) -> dict:
        log_s, log_g = S.log_sigmoid(xp, x), S.log_sigmoid(xp, -x)
        s, g = xp.exp(log_s), xp.exp(log_g)
        m, gn = self.margin, self.gamma_neg
        # 1 − q = g + m, from g = σ(−x): exact where p rounds to 1.
        if m == 0:
            active, q, one_m_q, log_1mq = s > 0, s, g, log_g
        else:
            active = s > m
            # Stand-ins where inactive (q = ½): no log 0, no 0/0; every such term is multiplied by 0.
            q = xp.where(active, s - m, xp.full_like(s, 0.5))
            one_m_q = xp.where(active, g + m, xp.full_like(s, 0.5))
            log_1mq = xp.where(active, xp.log(one_m_q), xp.zeros_like(s))
        log_q, log_ds = xp.log(q), log_s + log_g  # ds = dσ/dx = s·g
        zero = xp.zeros_like(s)
        # q^γ₋, ds·q^(γ₋−1) and ds²·q^(γ₋−2) as exponentials of sums of logs, so that a tiny
        # p with γ₋ < 2 gives a finite product rather than inf·0; 0 where the negative is inactive.
        a0 = xp.where(active, xp.exp(gn * log_q), zero)
        a1 = xp.where(active, xp.exp(log_ds + (gn - 1.0) * log_q), zero)
        a2 = xp.where(active, xp.exp(2.0 * log_ds + (gn - 2.0) * log_q), zero)
        return {"log_s": log_s, "s": s, "g": g, "log_g": log_g, "ds": xp.exp(log_ds), "one_m_q": one_m_q,
                "log_1mq": log_1mq, "a": (a0, a1, a2)}

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        e = self._pieces(xp, y_pred)
        positive = -xp.exp(self.gamma_pos * e["log_g"]) * e["log_s"]
        negative = -e["a"][0] * e["log_1mq"]
        return xp.sum(y_true * positive + (1.0 - y_true) * negative, axis=-1)

    def _negative_grad(self, e: dict) -> Any:
        """ds·h′(q), h(q) = −q^γ log(1 − q): ds[q^γ/(1 − q) + γq^(γ−1)L], L = −log(1 − q)."""
        a0, a1, _ = e["a"]
        return e["ds"] / e["one_m_q"] * a0 - self.gamma_neg * a1 * e["log_1mq"]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        e = self._pieces(xp, y_pred)
        gp, s, g = self.gamma_pos, e["s"], e["g"]
        positive = xp.exp(gp * e["log_g"]) * (gp * s * e["log_s"] - g)
        return y_true * positive + (1.0 - y_true) * self._negative_grad(e)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        e = self._pieces(xp, y_pred)
        gp, s, g = self.gamma_pos, e["s"], e["g"]
        positive = xp.exp(gp * e["log_g"]) * s * (gp * e["log_s"] * (g - gp * s) + (2.0 * gp + 1.0) * g)
        # ds(1 − 2s)h′ + ds²h″, h″ = q^γ/(1 − q)² + 2γq^(γ−1)/(1 − q) + γ(γ − 1)q^(γ−2)L.
        gn, (a0, a1, a2), ds, omq, big_l = self.gamma_neg, e["a"], e["ds"], e["one_m_q"], -e["log_1mq"]
        r = ds / omq  # s·g/(g + m) ≤ s: no 0/0 where g underflows
        negative = ((1.0 - 2.0 * s) * self._negative_grad(e) + r * r * a0 + 2.0 * gn * r * a1
                    + gn * (gn - 1.0) * a2 * big_l)
        return y_true * positive + (1.0 - y_true) * negative
