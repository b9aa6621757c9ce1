"""Segmentation losses: overlap between a predicted probability map and a target map.

y_pred has shape (N, C, ...) (a probability per class and pixel or voxel); y_true is a
target map of the same shape (one-hot or soft) or a class-index map of shape (N, ...).
Each sample gets one loss: the per-class overlap loss averaged over the C classes, with the
sums taken over the spatial axes. The gradient is with respect to the probability map.

Each docstring gives, in order: the formula, the domains, the gradient and Hessian, the
statistic the minimiser estimates, the relation to other conventions, a reference, and an
example the tests run.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import device

from .. import _validate as V
from .._array import float_dtype, index_dtype, is_tracing
from ..loss import Loss, Param, register
from ..traits import UNIT, Traits
from ..loss.links import check_probabilities
from ..loss.targets import check_class_indices


class _OverlapLoss(Loss):
    """ℓᵢ = (1/C) Σ_c (1 − N_c / D_c), N and D sums over the spatial axes of sample i."""

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return tuple(arrays[1].shape[:1])

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim < 2:
            raise ValueError(
                "y_pred must be a probability map of shape (n_samples, n_classes, ...);"
                f" got shape {tuple(y_pred.shape)}"
            )
        dtype = float_dtype(xp, y_pred)
        y_pred = xp.astype(y_pred, dtype, copy=False)
        if tuple(y_true.shape) == tuple(y_pred.shape):
            return (xp.astype(y_true, dtype, copy=False), y_pred), options
        index_shape = (y_pred.shape[0],) + tuple(y_pred.shape[2:])
        if tuple(y_true.shape) != index_shape:
            raise ValueError(
                f"y_true must be a target map of shape {tuple(y_pred.shape)} (one-hot or soft, like y_pred) or a"
                f" class-index map of shape {index_shape}; got shape {tuple(y_true.shape)}"
            )
        if not is_tracing(y_true):
            check_class_indices(xp, xp.reshape(y_true, (-1,)), y_pred.shape[1])
        classes = xp.reshape(xp.arange(y_pred.shape[1], device=device(y_pred)), (1, -1) + (1,) * (y_pred.ndim - 2))
        one_hot = xp.astype(xp.expand_dims(xp.astype(y_true, index_dtype(xp)), axis=1) == classes, dtype)
        return (one_hot, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        V.check_finite(xp, y_true, "y_true")
        V.check_in(xp, y_true, "y_true", UNIT, what="target probabilities (0/1 masks or soft)")
        check_probabilities(xp, y_pred, "y_pred", hint="Apply softmax (or sigmoid) to the logits first.")

    @staticmethod
    def _spatial_sum(xp: Any, x: Any) -> Any:
        return xp.sum(x, axis=tuple(range(2, x.ndim)), keepdims=True) if x.ndim > 2 else x

    def _ratio_parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        """(N, D, ∂D/∂p): numerator and denominator sums (shape (N, C, 1, ...)) and D's slope."""
        raise NotImplementedError

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        num, den, _ = self._ratio_parts(xp, y_true, y_pred)
        # An empty class predicted empty (D = 0, possible only with smooth = 0) is a perfect match.
        ratio = xp.where(den > 0, num / xp.where(den > 0, den, xp.ones_like(den)), xp.ones_like(den))
        per_class = xp.reshape(1.0 - ratio, (ratio.shape[0], ratio.shape[1], -1))[..., 0]
        return xp.mean(per_class, axis=1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        # ∂(1 − N/D)/∂p = −(N′ − (N/D)·D′)/D, with N′ the numerator's slope (the target t_x):
        # the ratio first, so that D² never under- or overflows (float32 sums of 1e-30).
        num, den, slope = self._ratio_parts(xp, y_true, y_pred)
        safe = xp.where(den > 0, den, xp.ones_like(den))
        c = y_pred.shape[1]
        return -(self._num_slope(y_true) - (num / safe) * slope) / (c * safe) * xp.astype(den > 0, y_pred.dtype)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        # N and D are linear in p, so ∂²(1 − N/D)/∂p² = 2·((N′ − (N/D)·D′)/D)·(D′/D), in ratios.
        num, den, slope = self._ratio_parts(xp, y_true, y_pred)
        safe = xp.where(den > 0, den, xp.ones_like(den))
        c = y_pred.shape[1]
        first = (self._num_slope(y_true) - (num / safe) * slope) / safe
        return 2.0 * first * (slope / safe) / c * xp.astype(den > 0, y_pred.dtype)


@register
class Dice(_OverlapLoss):
    r"""Soft Dice loss: one minus the Dice coefficient of the probability map, per class.

    - Formula: per sample,
      :math:`\ell = \frac1C\sum_c\Big(1 - \frac{2\sum_x p_{cx}t_{cx} + s}{\sum_x p_{cx} + \sum_x t_{cx} + s}\Big)`
      with s = smooth; sums over the spatial positions x.
    - Domains: y_true a (N, C, ...) map in [0, 1] or a class-index map (N, ...); y_pred (N, C, ...)
      probabilities in [0, 1] (softmax or sigmoid outputs; channels need not sum to 1);
      smooth ≥ 0 (with smooth = 0 a class absent from both maps counts as a perfect match).
    - Gradient: ∂ℓ/∂p_{cx} = −(2t_{cx}D_c − (2I_c + s))/(C·D_c²), I = Σ p t, D = Σp + Σt + s;
      Hessian diagonal 2(2t_{cx}D_c − (2I_c + s))/(C·D_c³).
    - Estimates "other": it rewards overlap, not calibrated probabilities (it pushes
      probabilities to 0 or 1); insensitive to class imbalance in pixel counts.
    - Relations: MONAI ``DiceLoss(smooth_nr=s, smooth_dr=s)`` averaged over classes;
      tversky(alpha=0.5, beta=0.5, smooth=s) = dice(smooth=2s) (equal at smooth = 0).
    - Reference: Milletari, Navab, Ahmadi (2016), V-Net.

    >>> import losslab as ll
    >>> print(ll.dice([[[1.0, 0.0]]], [[[0.5, 0.5]]], smooth=0.0))
    0.5
    """

    name = "dice"
    family = "segmentation"
    aliases = ("dice_loss", "soft_dice", "DiceLoss")
    description = "1 − soft Dice overlap per class: segmentation with imbalanced pixel counts."
    formula = r"1 - \frac{2\sum p t + s}{\sum p + \sum t + s}"
    parameters = (Param("smooth", 1.0, V.NONNEGATIVE, "added to numerator and denominator"),)

    def _traits(self) -> Traits:
        return Traits(
            task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, bounded=True, lipschitz=self.smooth > 0,
            robust=self.smooth > 0, proper=False, estimates="other",
        )

    def _num_slope(self, t: Any) -> Any:
        return 2.0 * t

    def _ratio_parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        inter = self._spatial_sum(xp, p * t)
        den = self._spatial_sum(xp, p) + self._spatial_sum(xp, t) + self.smooth
        return 2.0 * inter + self.smooth, den, xp.ones_like(p)


@register
class Tversky(_OverlapLoss):
    r"""Tversky loss: Dice with separate weights on false positives and false negatives.

    - Formula: with TP = Σ p t, FP = Σ p(1 − t), FN = Σ (1 − p)t per class,
      :math:`\ell = \frac1C\sum_c\Big(1 - \frac{TP_c + s}{TP_c + \alpha FP_c + \beta FN_c + s}\Big)`.
    - Domains: as dice; alpha ≥ 0, beta ≥ 0 (not both 0), smooth ≥ 0.
    - Gradient: with N = TP + s, D = TP + αFP + βFN + s and D′ = t + α(1 − t) − βt,
      ∂ℓ/∂p = −(tD − N·D′)/(C·D²); Hessian diagonal 2(tD − N·D′)D′/(C·D³).
    - Estimates "other". beta > alpha penalises missed foreground more (better recall on
      small structures).
    - Relations: tversky(0.5, 0.5, smooth=s) = dice(smooth=2s), equal to dice at smooth = 0;
      alpha = beta = 1 is the Jaccard (IoU) loss.
    - Reference: Salehi, Erdogmus, Gholipour (2017), Tversky loss function for image
      segmentation using 3D fully convolutional deep networks.

    >>> import losslab as ll
    >>> print(ll.tversky([[[1.0, 0.0]]], [[[0.5, 0.5]]], alpha=0.3, beta=0.7, smooth=0.0))
    0.5
    """

    name = "tversky"
    family = "segmentation"
    aliases = ("tversky_loss",)
    description = "1 − Tversky index: Dice with tunable false-positive / false-negative weights."
    formula = r"1 - \frac{TP + s}{TP + \alpha FP + \beta FN + s}"
    parameters = (
        Param("alpha", 0.5, V.NONNEGATIVE, "weight of false positives"),
        Param("beta", 0.5, V.NONNEGATIVE, "weight of false negatives"),
        Param("smooth", 1.0, V.NONNEGATIVE, "added to numerator and denominator"),
    )

    def _check_params(self) -> None:
        if self.alpha == 0 and self.beta == 0:
            raise ValueError("tversky: alpha and beta must not both be 0 (the index would be 1); got alpha=0, beta=0")

    def _traits(self) -> Traits:
        return Traits(
            task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, bounded=True, lipschitz=self.smooth > 0,
            robust=self.smooth > 0, proper=False, estimates="other",
        )

    def _num_slope(self, t: Any) -> Any:
        return t

    def _ratio_parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        tp = self._spatial_sum(xp, p * t)
        fp = self._spatial_sum(xp, p) - tp
        fn = self._spatial_sum(xp, t) - tp
        den = tp + self.alpha * fp + self.beta * fn + self.smooth
        return tp + self.smooth, den, t + self.alpha * (1.0 - t) - self.beta * t
