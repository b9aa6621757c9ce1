"""Segmentation losses: overlap between a predicted probability map and a target map.

y_pred has shape (N, C, ...) (a probability per class and pixel or voxel); y_true is a
target map of the same shape (one-hot or soft) or a class-index map of shape (N, ...).
Each sample gets one loss, with the sums taken over the spatial axes: most losses here
average a per-class overlap loss over the C classes; ``generalized_dice`` forms one ratio
over all classes, ``lovasz_softmax`` averages over the classes present (by default), and
``lovasz_hinge`` takes logits of a binary map, shape (N, ...). The gradient is with respect
to y_pred.

Each docstring gives, in order: the formula, the domains, the gradient and Hessian, the
statistic the minimiser estimates, the relation to other conventions, a reference, and an
example the tests run.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device

from .. import _validate as V
from .._array import float_dtype, index_dtype, is_tracing
from ..loss import Loss, Param, register
from ..traits import REAL, SIGN, UNIT, Traits
from ..loss.links import check_probabilities
from ..loss.shapes import labels_in_prediction_dtype, signed_labels
from ..loss.targets import check_class_indices


class _MapLoss(Loss):
    """A loss of a probability map (N, C, ...) against a target map of that shape or a
    class-index map (N, ...): one value per sample."""

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
        check_class_indices(xp, xp.reshape(y_true, (-1,)), y_pred.shape[1])  # traced: flags NaN
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

    @staticmethod
    def _spatial_max(xp: Any, x: Any) -> Any:
        if x.ndim == 2:
            return x
        if math.prod(x.shape[2:]) == 0:  # maps of no pixel: the max of nothing, taken as 0
            return xp.zeros(tuple(x.shape[:2]) + (1,) * (x.ndim - 2), dtype=x.dtype, device=device(x))
        return xp.max(x, axis=tuple(range(2, x.ndim)), keepdims=True)


class _OverlapLoss(_MapLoss):
    """ℓᵢ = (1/C) Σ_c f(q_c), q_c = 1 − N_c/D_c, with N = a·I + s and D = b_p·P + b_t·T + c·I + s
    (P = Σp, T = Σt, I = Σpt over the spatial axes of sample i and class c; s = smooth).

    The index N/D is computed on the maps divided by their largest entry k (per sample and
    class): I = k²·I′ is a product of two maps and underflows first (float32 maps of 1e-30
    have p·t = 1e-60 = 0), while the sums P, T are linear in k. With E = k(b_p P′ + b_t T′) + s
    and u = k/E (at most 1/(b_p P′ + b_t T′)), N/D = (a·kI′u + s/E)/(1 + c·kI′u): no term
    under- or overflows where the index itself is representable.
    """

    def _traits(self) -> Traits:
        # in [0, 1]; with smooth > 0 the ratio's slopes are bounded too (focal_tversky overrides)
        return Traits(
            task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, bounded=True, lipschitz=self.smooth > 0,
            robust=self.smooth > 0, proper=False, estimates="other",
        )

    def _coefficients(self) -> tuple[float, float, float, float]:
        """(a, b_p, b_t, c) of N = a·I + s and D = b_p·P + b_t·T + c·I + s."""
        raise NotImplementedError

    def _outer(self, xp: Any, q: Any) -> tuple[Any, Any, Any]:
        """f(q), f′(q), f″(q) of the per-class value q = 1 − N/D (the identity by default)."""
        return q, xp.ones_like(q), xp.zeros_like(q)

    def _parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        """(q, ∂q/∂p, ∂²q/∂p²): q per class (N, C, 1, ...) and its slopes per entry; 0 where
        D = 0 (an empty class predicted empty: a perfect match)."""
        a, b_p, b_t, c = self._coefficients()
        s = self.smooth
        k = self._spatial_max(xp, xp.maximum(p, t))
        k = xp.where(k > 0, k, xp.ones_like(k))
        ps, ts = p / k, t / k
        inter = self._spatial_sum(xp, ps * ts)
        e = k * (b_p * self._spatial_sum(xp, ps) + b_t * self._spatial_sum(xp, ts)) + s
        ok = e > 0
        e = xp.where(ok, e, xp.ones_like(e))
        quad = k * inter * (k / e)  # k²I′/E
        ratio = xp.where(ok, (a * quad + s / e) / (1.0 + c * quad), xp.ones_like(e))
        den = e * (1.0 + c * quad)
        # ∂(N/D)/∂p = (N′ − (N/D)·D′)/D with N′ = a·t and D′ = b_p + c·t: the ratio first, so
        # that D² is never formed.
        d_slope = b_p + c * t
        first = (a * t - ratio * d_slope) / den
        mask = xp.astype(ok, p.dtype)
        return (1.0 - ratio) * mask, -first * mask, 2.0 * first * (d_slope / den) * mask

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q = self._parts(xp, y_true, y_pred)[0]
        f = self._outer(xp, q)[0]
        return xp.mean(xp.reshape(f, (f.shape[0], f.shape[1], -1))[..., 0], axis=1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q, dq, _ = self._parts(xp, y_true, y_pred)
        return self._outer(xp, q)[1] * dq / y_pred.shape[1]

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        q, dq, d2q = self._parts(xp, y_true, y_pred)
        _, f1, f2 = self._outer(xp, q)
        return (f2 * dq * dq + f1 * d2q) / y_pred.shape[1]


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
      tversky(alpha=0.5, beta=0.5, smooth=s) = dice(smooth=2s) (equal at smooth = 0). Optax's
      ``dice_loss`` and ``binary_dice_loss`` take logits and use the Tversky form (their
      smooth=1 is smooth=2 here): ``ll.get("dice_loss")`` says how to get their numbers.
    - Reference: Milletari, Navab, Ahmadi (2016), V-Net.

    >>> import losslab as ll
    >>> print(ll.dice([[[1.0, 0.0]]], [[[0.5, 0.5]]], smooth=0.0))
    0.5
    """

    name = "dice"
    family = "segmentation"
    aliases = ("soft_dice",)
    description = "1 − soft Dice overlap per class: segmentation with imbalanced pixel counts."
    formula = r"1 - \frac{2\sum p t + s}{\sum p + \sum t + s}"
    parameters = (Param("smooth", 1.0, V.NONNEGATIVE, "added to numerator and denominator"),)

    def _coefficients(self) -> tuple[float, float, float, float]:
        return 2.0, 1.0, 1.0, 0.0


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
            raise ValueError(f"{self.name}: alpha and beta must not both be 0 (the index would be 1); got alpha=0,"
                             " beta=0")

    def _coefficients(self) -> tuple[float, float, float, float]:
        # TP + αFP + βFN = αP + βT + (1 − α − β)·TP.
        return 1.0, self.alpha, self.beta, 1.0 - self.alpha - self.beta


@register
class Jaccard(_OverlapLoss):
    r"""Soft Jaccard (IoU) loss: one minus the intersection over union of the maps, per class.

    - Formula: per sample, with I = Σ_x p t, P = Σ_x p, T = Σ_x t per class,
      :math:`\ell = \frac1C\sum_c\Big(1 - \frac{I_c + s}{P_c + T_c - I_c + s}\Big)`, s = smooth.
    - Domains: as dice (probability maps; one-hot, soft or class-index targets); smooth ≥ 0.
    - Gradient: with N = I + s, D = P + T − I + s, ∂ℓ/∂p_x = −(t_x − (N/D)(1 − t_x))/(C·D);
      Hessian diagonal 2(t_x − (N/D)(1 − t_x))(1 − t_x)/(C·D²).
    - Estimates "other": rewards overlap (IoU), not calibrated probabilities.
    - Relations: tversky(alpha=1, beta=1, smooth=s); with J = IoU and D = Dice of the same
      crisp maps, J = D/(2 − D), so both rank crisp masks alike; the soft losses differ.
      segmentation_models_pytorch's ``JaccardLoss("multiclass", from_logits=False, smooth=s)``
      pools the batch and the pixels into one ratio per class and drops the classes absent
      from the target: the same number for one sample in which every class is present.
    - Reference: Rahman, Wang (2016), Optimizing intersection-over-union in deep neural
      networks for image segmentation (ISVC).

    >>> import losslab as ll
    >>> print(round(float(ll.jaccard([[[1.0, 0.0]]], [[[0.5, 0.5]]], smooth=0.0)), 6))
    0.666667
    """

    name = "jaccard"
    family = "segmentation"
    aliases = ("soft_jaccard", "jaccard_loss", "iou", "iou_loss", "soft_iou")
    description = "1 − soft intersection over union per class: optimises the IoU of a segmentation."
    formula = r"1 - \frac{\sum p t + s}{\sum p + \sum t - \sum p t + s}"
    parameters = (Param("smooth", 1.0, V.NONNEGATIVE, "added to numerator and denominator"),)

    def _coefficients(self) -> tuple[float, float, float, float]:
        return 1.0, 1.0, 1.0, -1.0


@register
class FocalTversky(Tversky):
    r"""Focal Tversky loss: the Tversky loss of each class raised to a power γ.

    - Formula: with the Tversky index TI_c = (TP_c + s)/(TP_c + αFP_c + βFN_c + s) of tversky,
      :math:`\ell = \frac1C\sum_c (1 - TI_c)^{\gamma}`.
    - Domains: as tversky; gamma > 0 (the paper's range 1/γ_paper in [1/3, 1]).
    - Gradient: γ(1 − TI)^{γ−1}·∂(1 − TI)/∂p (tversky's slope); Hessian diagonal
      γ(γ−1)(1 − TI)^{γ−2}(∂(1 − TI)/∂p)² + γ(1 − TI)^{γ−1}∂²(1 − TI)/∂p². At a perfect
      match (TI = 1, the minimum ℓ = 0) the derivatives are taken as their limits where those
      are finite and as 0 where γ < 1 (resp. γ < 2 for the Hessian) makes them infinite.
    - Estimates "other". The slope γ(1 − TI)^{γ−1} grows as TI → 1 when γ < 1: classes
      already well matched (a high Tversky index) keep a larger share of the gradient than
      under tversky, so training keeps refining them once the overlap is fair (the paper's
      argument for small lesions); with γ > 1 the classes with a low index dominate.
    - Relations: gamma = 1 is tversky(alpha, beta, smooth). The paper writes the exponent as
      1/γ with γ = 4/3, i.e. gamma = 0.75 here, and weights false negatives with α = 0.7 and
      false positives with β = 0.3: losslab's alpha (false positives) = 0.3, beta (false
      negatives) = 0.7, the defaults here.
    - Reference: Abraham, Khan (2019), A novel focal Tversky loss function with improved
      attention U-Net for lesion segmentation (ISBI).

    >>> import losslab as ll
    >>> print(round(float(ll.focal_tversky([[[1.0, 0.0]]], [[[0.5, 0.5]]], smooth=0.0)), 6))  # 0.5 ** 0.75
    0.594604
    """

    name = "focal_tversky"
    family = "segmentation"
    aliases = ("focal_tversky_loss",)
    description = "(1 − Tversky index)^γ per class: Tversky focused on hard, small structures."
    formula = r"\left(1 - \frac{TP + s}{TP + \alpha FP + \beta FN + s}\right)^{\gamma}"
    parameters = (
        Param("alpha", 0.3, V.NONNEGATIVE, "weight of false positives"),
        Param("beta", 0.7, V.NONNEGATIVE, "weight of false negatives"),
        Param("gamma", 0.75, V.POSITIVE, "the exponent (the paper's 1/γ)"),
        Param("smooth", 1.0, V.NONNEGATIVE, "added to numerator and denominator"),
    )

    def _traits(self) -> Traits:
        return Traits(
            task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, bounded=True,
            differentiable=self.gamma >= 1, twice_differentiable=self.gamma >= 2 or self.gamma == 1,
            lipschitz=self.smooth > 0 and self.gamma >= 1, robust=self.smooth > 0 and self.gamma >= 1,
            proper=False, estimates="other",
        )

    def _outer(self, xp: Any, q: Any) -> tuple[Any, Any, Any]:
        g = self.gamma
        if g == 1:
            return q, xp.ones_like(q), xp.zeros_like(q)
        pos = q > 0
        # q^γ through a base of 1 where q = 0, so that autodiff sees the same 0 slope there.
        base = xp.where(pos, q, xp.ones_like(q))
        zero = xp.zeros_like(q)
        f = xp.where(pos, base**g, zero)
        f1 = xp.where(pos, g * base ** (g - 1.0), zero)
        f2 = xp.where(pos, g * (g - 1.0) * base ** (g - 2.0), xp.full_like(q, 2.0) if g == 2 else zero)
        return f, f1, f2


@register
class GeneralizedDice(_MapLoss):
    r"""Generalised Dice loss: one Dice ratio over all classes, each class weighted by 1/T_c².

    - Formula: per sample, with I_c = Σ_x p t, P_c = Σ_x p, T_c = Σ_x t and w_c = 1/T_c²,
      :math:`\ell = 1 - \frac{2\sum_c w_c I_c + s}{\sum_c w_c (P_c + T_c) + s}`, s = smooth.
      A class absent from the target (T_c = 0) gets the largest weight of the present classes
      (MONAI's rule), so that predicting it is penalised but not infinitely; with no class
      present at all the weights are 1.
    - Domains: as dice; smooth ≥ 0 (Sudre et al. use none).
    - Gradient: ∂ℓ/∂p_{cx} = −w_c(2t_{cx} − R)/B with R the ratio and B its denominator (the
      weights depend on the target only); Hessian diagonal 2w_c²(2t_{cx} − R)/B². Computed
      with the weights divided by the largest one and the maps by their largest entry, so that
      1/T² and p·t neither overflow nor underflow.
    - Estimates "other": overlap with each class's contribution equalised by its size, for
      highly unbalanced segmentations (small lesions).
    - Relations: MONAI ``GeneralizedDiceLoss(w_type="square", batch=False, smooth_nr=s,
      smooth_dr=s)`` (MONAI's default s is 1e-5). With one class it is dice(smooth=s·T²)
      (equal at s = 0). Optax's ``multiclass_generalized_dice_loss`` is another loss (a
      weighted mean of per-class Dice losses, weights from the whole batch): see
      ``ll.get("multiclass_generalized_dice_loss")``.
    - Reference: Sudre, Li, Vercauteren, Ourselin, Cardoso (2017), Generalised Dice overlap
      as a deep learning loss function for highly unbalanced segmentations (DLMIA).

    >>> import losslab as ll
    >>> t = [[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
    >>> p = [[[0.8, 0.6, 0.3], [0.2, 0.4, 0.7]]]
    >>> print(round(float(ll.generalized_dice(t, p)), 6))  # 1 − 2(1.4/4 + 0.7)/(3.7/4 + 2.3)
    0.348837
    """

    name = "generalized_dice"
    family = "segmentation"
    aliases = ("generalised_dice", "generalized_dice_loss")
    description = "1 − Dice ratio over classes weighted by 1/(class size)²: for tiny structures."
    formula = r"1 - \frac{2\sum_c w_c \sum p t + s}{\sum_c w_c \sum (p + t) + s},\; w_c = (\textstyle\sum t_c)^{-2}"
    parameters = (Param("smooth", 0.0, V.NONNEGATIVE, "added to numerator and denominator"),)

    def _traits(self) -> Traits:
        return Traits(
            task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, bounded=True, lipschitz=self.smooth > 0,
            robust=self.smooth > 0, proper=False, estimates="other",
        )

    def _parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        """(R, w′, B′) per sample: the ratio, the weights divided by the largest (N, C, 1, ...)
        and the denominator in the same units, so that ∂R/∂p = w′(2t − R)/B′."""
        s = self.smooth
        k = self._spatial_max(xp, xp.maximum(p, t))
        k = xp.max(k, axis=1, keepdims=True)
        k = xp.where(k > 0, k, xp.ones_like(k))
        ps, ts = p / k, t / k
        inter = self._spatial_sum(xp, ps * ts)
        both = self._spatial_sum(xp, ps) + self._spatial_sum(xp, ts)
        size = self._spatial_sum(xp, ts)
        present = size > 0
        any_present = xp.any(present, axis=1, keepdims=True)
        smallest = xp.min(xp.where(present, size, xp.full_like(size, math.inf)), axis=1, keepdims=True)
        smallest = xp.where(any_present, smallest, xp.ones_like(smallest))
        w = xp.where(present, (smallest / xp.where(present, size, xp.ones_like(size))) ** 2, xp.ones_like(size))
        # Raw weights are w′/(k·m′)²: dividing numerator and denominator by that scale puts the
        # smoothing term at s·(k·m′)², written below as s·m′²·k² split between R and B′.
        num = 2.0 * xp.sum(w * inter, axis=1, keepdims=True) + s * smallest * smallest
        den = xp.sum(w * both, axis=1, keepdims=True) + s * k * smallest * smallest
        # No class present: weights 1 and T = I = 0, so R = s/(Σ P + s).
        plain = k * xp.sum(self._spatial_sum(xp, ps), axis=1, keepdims=True) + s
        den_units = xp.where(any_present, k * den, plain)
        ok = den_units > 0
        safe_den = xp.where(ok, den, xp.ones_like(den))
        safe_units = xp.where(ok, den_units, xp.ones_like(den_units))
        ratio = xp.where(any_present, k * num / safe_den, s / safe_units)
        ratio = xp.where(ok, ratio, xp.ones_like(ratio))
        return ratio, w * xp.astype(ok, p.dtype), safe_units

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        ratio = self._parts(xp, y_true, y_pred)[0]
        return 1.0 - xp.reshape(ratio, (ratio.shape[0],))

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        ratio, w, den = self._parts(xp, y_true, y_pred)
        return -w * (2.0 * y_true - ratio) / den

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        ratio, w, den = self._parts(xp, y_true, y_pred)
        return 2.0 * w * (w / den) * ((2.0 * y_true - ratio) / den)



@register
class MCC(_MapLoss):
    r"""Matthews-correlation loss: one minus the MCC of the soft confusion counts, per class.

    - Formula: per sample and class, with soft counts TP = Σ_x p t, FP = Σ p(1 − t),
      FN = Σ (1 − p)t, TN = Σ (1 − p)(1 − t) over the n spatial positions,
      :math:`\ell = \frac1C\sum_c\Big(1 - \frac{TP\,TN - FP\,FN}{\sqrt{(TP+FP)(TP+FN)(TN+FP)(TN+FN)}}\Big)`;
      with P = Σp, T = Σt, I = TP this is 1 − (nI − PT)/√(P T (n − T)(n − P)). Where the
      denominator is 0 (a map all 0 or all 1) the MCC is taken as 0 (scikit-learn's
      ``matthews_corrcoef`` convention) and the gradient as 0.
    - Domains: as dice (probability maps; one-hot, soft or class-index targets).
    - Gradient: with M the MCC and h = 1/P − 1/(n − P), ∂M/∂p_x = (n t_x − T)/√B − M h/2,
      B = P T (n − T)(n − P); ∂ℓ/∂p_x = −∂M/∂p_x / C. Hessian diagonal −∂²M/∂p_x²/C with
      ∂²M/∂p_x² = −h(n t_x − T)/(2√B) − h ∂M/∂p_x/2 + M(1/P² + 1/(n − P)²)/2. Computed
      through √P, √T and the maps divided by them, so that products of small counts never
      underflow.
    - Estimates "other": like Dice it rewards overlap, but it also counts true negatives, so
      over-predicting the background costs more (the paper's argument for skin lesions).
    - Relations: 1 − scikit-learn's ``matthews_corrcoef`` of crisp 0/1 maps, per class; in
      [0, 2], 0 at a perfect match, 1 for an uncorrelated prediction.
    - Reference: Abhishek, Hamarneh (2021), Matthews correlation coefficient loss for deep
      convolutional networks: application to skin lesion segmentation (ISBI).

    >>> import losslab as ll
    >>> print(round(float(ll.mcc([[[1.0, 0.0, 0.0, 1.0]]], [[[0.8, 0.2, 0.4, 0.6]]])), 6))  # 1 − 0.4
    0.6
    """

    name = "mcc"
    family = "segmentation"
    aliases = ("mcc_loss", "matthews", "matthews_correlation")
    description = "1 − Matthews correlation of the soft confusion counts per class."
    formula = r"1 - \frac{TP\,TN - FP\,FN}{\sqrt{(TP+FP)(TP+FN)(TN+FP)(TN+FN)}}"
    TRAITS = Traits(
        task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, bounded=True, proper=False, estimates="other",
    )

    def _parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        """(M, ∂M/∂p, ∂²M/∂p²) per class and entry; 0 where the denominator is 0."""
        n = math.prod(p.shape[2:])
        big_p, big_t = self._spatial_sum(xp, p), self._spatial_sum(xp, t)
        rest_p, rest_t = n - big_p, n - big_t
        ok = (big_p > 0) & (big_t > 0) & (rest_p > 0) & (rest_t > 0)
        one = xp.ones_like(big_p)
        big_p, big_t = xp.where(ok, big_p, one), xp.where(ok, big_t, one)
        rest_p, rest_t = xp.where(ok, rest_p, one), xp.where(ok, rest_t, one)
        root_p, root_t = xp.sqrt(big_p), xp.sqrt(big_t)
        rest = xp.sqrt(rest_p) * xp.sqrt(rest_t)
        # (nI − PT)/√(PT) = n·Σ(p/√P)(t/√T) − √P√T: no product of two small counts.
        scaled_t = t / root_t
        inter = self._spatial_sum(xp, (p / root_p) * scaled_t)
        m = (n * inter - root_p * root_t) / rest
        h = 1.0 / big_p - 1.0 / rest_p
        direct = (n * scaled_t - root_t) / (root_p * rest)  # (n t_x − T)/√B
        first = direct - 0.5 * m * h
        # M/P² as (M/P)/P: P² alone underflows where the product does not (float32 P of 1e-29).
        second = -0.5 * h * (direct + first) + 0.5 * ((m / big_p) / big_p + (m / rest_p) / rest_p)
        mask = xp.astype(ok, p.dtype)
        return m * mask, first * mask, second * mask

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        m = self._parts(xp, y_true, y_pred)[0]
        return xp.mean(1.0 - xp.reshape(m, (m.shape[0], m.shape[1], -1))[..., 0], axis=1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return -self._parts(xp, y_true, y_pred)[1] / y_pred.shape[1]

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return -self._parts(xp, y_true, y_pred)[2] / y_pred.shape[1]


def _take_last(xp: Any, x: Any, index: Any) -> Any:
    """x[..., index[..., j]] along the last axis (``take_along_axis``, which the Array API
    lacks before 2024.12), through one flat ``take``."""
    rows = math.prod(x.shape[:-1])
    length = x.shape[-1]
    offsets = xp.reshape(xp.arange(rows, dtype=index.dtype, device=device(x)) * length, tuple(x.shape[:-1]) + (1,))
    return xp.reshape(xp.take(xp.reshape(x, (-1,)), xp.reshape(index + offsets, (-1,))), tuple(x.shape))


def _lovasz_slopes(xp: Any, errors: Any, foreground: Any) -> Any:
    """The gradient of the Lovász extension of the Jaccard loss at ``errors``, per row.

    Sorting the errors in decreasing order, the k-th largest gets J(k) − J(k − 1), with J(k)
    the Jaccard loss of the set of the k largest (Berman et al., Algorithm 1); returned in
    the errors' own order. ``foreground`` is the 0/1 ground truth of each entry."""
    order = xp.argsort(errors, axis=-1, descending=True, stable=True)
    fg = _take_last(xp, foreground, order)
    total = xp.sum(fg, axis=-1, keepdims=True)
    intersection = total - xp.cumulative_sum(fg, axis=-1)
    union = total + xp.cumulative_sum(1.0 - fg, axis=-1)  # at least 1 at every position
    jaccard = 1.0 - intersection / union
    previous = xp.concat([xp.zeros_like(jaccard[..., :1]), jaccard[..., :-1]], axis=-1)
    return _take_last(xp, jaccard - previous, xp.argsort(order, axis=-1, stable=True))


@register
class LovaszSoftmax(_MapLoss):
    r"""Lovász-softmax loss: the Lovász extension of the Jaccard loss of each class, averaged.

    - Formula: per sample and class c, errors m_x = |t_{cx} − p_{cx}|; sorted decreasingly,
      m_{(1)} ≥ … ≥ m_{(n)}, :math:`\ell_c = \sum_k m_{(k)}\,(J_c(k) - J_c(k-1))` with
      J_c(k) = 1 − |T ∖ S_k|/|T ∪ S_k| the Jaccard loss of the set S_k of the k largest
      errors (T the class's pixels); ℓ averages ℓ_c over the classes present in the target
      (classes="present") or all classes ("all").
    - Domains: y_true a 0/1 map (N, C, ...) or a class-index map (N, ...); y_pred probabilities
      (N, C, ...) in [0, 1] (softmax outputs).
    - Gradient: piecewise constant, the sorted errors' slopes: ∂ℓ/∂p_{cx} =
      (J_c(k) − J_c(k−1))(1 − 2t_{cx})/|K| at x's rank k (K the averaged classes); not
      differentiable where two errors tie (the order changes). Hessian 0 almost everywhere
      (the loss is piecewise linear in p); returned as 0.
    - Estimates "other": a convex surrogate of the mean per-class IoU of the crisp map.
    - Relations: the reference implementation's ``lovasz_softmax(probas, labels,
      classes="present", per_image=True)``; per_image=False (one ranking over the batch) is
      not per-sample and not provided. Ties are broken in a stable order; the value does not
      depend on it.
    - Reference: Berman, Triki, Blaschko (2018), The Lovász-Softmax loss: a tractable
      surrogate for the optimization of the intersection-over-union measure in neural
      networks (CVPR).

    >>> import losslab as ll
    >>> print(round(float(ll.lovasz_softmax([[0, 1]], [[[0.8, 0.4], [0.2, 0.6]]])), 6))  # (0.3 + 0.4)/2
    0.35
    """

    name = "lovasz_softmax"
    family = "segmentation"
    aliases = ("lovasz_softmax_loss",)
    description = "Lovász extension of the per-class Jaccard loss: optimises mean IoU directly."
    formula = r"\frac1{|K|}\sum_{c \in K}\sum_k m_{(k)}\big(J_c(k) - J_c(k-1)\big),\; m = |t - p|"
    parameters = (Param("classes", "present", V.one_of("present", "all"), "classes averaged over"),)
    TRAITS = Traits(
        task="segmentation", y_true_domain=UNIT, y_pred_domain=UNIT, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, bounded=True, robust=True, proper=False, estimates="other",
    )

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        y_true = arrays[0]
        if is_tracing(y_true):
            V.traced_invalid(xp, (y_true != 0) & (y_true != 1), "y_true must be a 0/1 (one-hot) map or class indices")
        elif not V.concrete(xp.all((y_true == 0) | (y_true == 1))):
            bad = y_true[(y_true != 0) & (y_true != 1)]
            raise ValueError(f"y_true must be a 0/1 (one-hot) map or class indices; got {float(bad[0]):g}")

    def _parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any]:
        """(errors, slopes, class weights (N, C, 1)): flattened to (N, C, n_pixels)."""
        n, c = p.shape[0], p.shape[1]
        t = xp.reshape(t, (n, c, -1))
        p = xp.reshape(p, (n, c, -1))
        errors = xp.abs(t - p)
        slopes = _lovasz_slopes(xp, errors, t)
        if self.classes == "all":
            weights = xp.full((n, c, 1), 1.0 / c, dtype=p.dtype, device=device(p))
        else:
            present = xp.astype(xp.sum(t, axis=-1, keepdims=True) > 0, p.dtype)
            weights = present / xp.maximum(xp.sum(present, axis=1, keepdims=True), xp.ones_like(present))
        return errors, slopes, weights

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        errors, slopes, weights = self._parts(xp, y_true, y_pred)
        return xp.sum(weights[..., 0] * xp.sum(errors * slopes, axis=-1), axis=1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        _, slopes, weights = self._parts(xp, y_true, y_pred)
        sign = 1.0 - 2.0 * xp.reshape(y_true, slopes.shape)  # ∂|t − p|/∂p for t in {0, 1}
        return xp.reshape(weights * slopes * sign, tuple(y_pred.shape))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


@register
class LovaszHinge(Loss):
    r"""Lovász hinge loss: the Lovász extension of the binary Jaccard loss, on hinge errors.

    - Formula: per sample (an image of scores f with 0/1 or ±1 labels y), errors
      m_x = 1 − f_x·y_x (y in ±1); sorted decreasingly,
      :math:`\ell = \sum_k \max(m_{(k)}, 0)\,(J(k) - J(k-1))`, J(k) the Jaccard loss of the
      foreground against the set of the k largest errors.
    - Domains: y_true (N, ...) labels in {0, 1} or {−1, +1}; y_pred (N, ...) real scores
      (logits), the same shape; each sample's axes after the first are its pixels.
    - Gradient: piecewise constant: ∂ℓ/∂f_x = −y_x·(J(k) − J(k−1))·1[m_x > 0] at x's rank k;
      not differentiable where errors tie or a margin is exactly 1. Hessian 0 almost
      everywhere (piecewise linear); returned as 0.
    - Estimates "other": a convex surrogate of the foreground IoU of sign(f).
    - Relations: the reference implementation's ``lovasz_hinge(logits, labels,
      per_image=True)`` (the mean over images); ties broken in a stable order, which the
      value does not depend on.
    - Reference: Berman, Triki, Blaschko (2018), The Lovász-Softmax loss (CVPR); Yu,
      Blaschko (2015), Learning submodular losses with the Lovász hinge (ICML).

    >>> import losslab as ll
    >>> print(round(float(ll.lovasz_hinge([[1, 0, 0]], [[2.0, -0.5, 1.0]])), 6))  # 2·½ + ½·⅙
    1.083333
    """

    name = "lovasz_hinge"
    family = "segmentation"
    aliases = ("lovasz_hinge_loss",)
    description = "Lovász extension of the binary Jaccard loss on hinge errors: optimises IoU."
    formula = r"\sum_k \max(m_{(k)}, 0)\big(J(k) - J(k-1)\big),\; m = 1 - y f"
    TRAITS = Traits(
        task="segmentation", y_true_domain=SIGN, y_pred_domain=REAL, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, robust=True, proper=False, estimates="other",
    )

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return tuple(arrays[1].shape[:1])

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = labels_in_prediction_dtype(xp, arrays)
        if y_pred.ndim < 2:
            raise ValueError(
                "y_pred must hold one score map per sample, of shape (n_samples, n_pixels, ...);"
                f" got shape {tuple(y_pred.shape)}"
            )
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        signed_labels(xp, arrays[0])

    def _parts(self, xp: Any, y: Any, f: Any) -> tuple[Any, Any, Any]:
        """(sign, errors, slopes), flattened to (N, n_pixels)."""
        n = f.shape[0]
        f = xp.reshape(f, (n, -1))
        one = xp.ones_like(f)
        sign = xp.where(xp.reshape(y, (n, -1)) > 0, one, -one)
        errors = 1.0 - f * sign
        return sign, errors, _lovasz_slopes(xp, errors, (sign + 1.0) / 2.0)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        _, errors, slopes = self._parts(xp, y_true, y_pred)
        return xp.sum(xp.maximum(errors, 0.0) * slopes, axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        sign, errors, slopes = self._parts(xp, y_true, y_pred)
        return xp.reshape(-sign * slopes * xp.astype(errors > 0, y_pred.dtype), tuple(y_pred.shape))

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)
