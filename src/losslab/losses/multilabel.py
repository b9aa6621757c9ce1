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
