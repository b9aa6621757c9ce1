"""Weights and reductions: the only place where a weight multiplies a loss.

A sample's weight is ``sample_weight[i]`` × the loss's own weight (``class_weight`` of its
true class, 0 for an ``ignore_index`` target): ``Loss._extra_weights`` supplies the second
factor, this module combines them once and applies them to the value, the gradient and the
Hessian alike. The reductions (DESIGN §2, §7):

- ``"mean"``: Σ wᵢℓᵢ / Σ wᵢ (PyTorch's weighted mean; scikit-learn's ``sample_weight``
  mean). With no weights, the plain mean over every element of the loss's shape;
- ``"sum_over_batch_size"``: Σ wᵢℓᵢ / N, Keras's default (N counts the loss's elements);
- ``"sum"``: Σ wᵢℓᵢ; ``"none"``: wᵢℓᵢ per sample.

Scale safety: the weights are divided by their largest value
before anything is summed, so that equal weights give the plain mean at any magnitude
(1e308 or 1e-320), and Σw neither overflows nor underflows. A mean whose intermediate sum
overflows although the mean itself fits is summed again with the scale applied first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate as V
from .._array import as_array, is_numpy, is_tracing, to_numpy

__all__ = ["REDUCTIONS", "check_reduction", "check_sample_weight", "combine", "mean_scale", "reduce", "scale_rows",
           "cotangent", "broadcast_rows", "scalar"]

REDUCTIONS = ("mean", "sum", "none", "sum_over_batch_size")


def check_reduction(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduction!r}")
    return reduction


def check_sample_weight(xp: Any, sample_weight: Any, n_samples: int, dtype: Any = None, device: Any = None,
                        per: str = "sample") -> Any:
    """The one ``sample_weight`` rule, used by the losses, the trainer and the estimators.

    One finite, non-negative weight per sample: shape (N,); as in Keras, a scalar (the same
    weight for every sample) and a column (N, 1) are accepted too. Returned as a 1-D array
    of the computation's namespace and dtype (or None). ``per`` names what one weight goes
    with, in the message (a loss that gives one value per batch says so).
    """
    if sample_weight is None:
        return None
    w = as_array(sample_weight, "sample_weight")
    if not V.same_namespace(xp, w):
        w = xp.asarray(to_numpy(w), device=device)
    V.check_floating_or_integer(xp, w, "sample_weight")
    shape = tuple(w.shape)
    if shape == ():
        w = xp.broadcast_to(xp.reshape(w, (1,)), (n_samples,))
    elif shape == (n_samples, 1):
        w = xp.reshape(w, (n_samples,))
    elif shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) (one weight per {per}), ({n_samples}, 1) or ()"
            f" (one weight for all); got shape {shape}"
        )
    if dtype is not None:
        w = xp.astype(w, dtype, copy=False)
    V.check_finite(xp, w, "sample_weight")
    if is_tracing(w):
        V.traced_invalid(xp, w < 0, "sample_weight must be non-negative")
    lowest = V.concrete(xp.min(w)) if n_samples and not is_tracing(w) else None
    if lowest is not None and lowest < 0:
        raise ValueError(f"sample_weight must be non-negative; got min {lowest:g}")
    return w


def broadcast_rows(xp: Any, weights: Any, ndim: int) -> Any:
    """Weights of shape (N,) (or per element) reshaped to broadcast against an ``ndim`` array."""
    return xp.reshape(weights, tuple(weights.shape) + (1,) * (ndim - weights.ndim))


def combine(xp: Any, sample_weight: Any, extra: Any) -> Any:
    """sample_weight × the loss's own weights (per sample, or per element: ignored tokens)."""
    if extra is None:
        return sample_weight
    if sample_weight is None:
        return extra
    return broadcast_rows(xp, sample_weight, extra.ndim) * extra


def _normalised(xp: Any, weights: Any) -> Any:
    """Weights divided by their maximum, so that Σw neither overflows nor underflows (equal
    weights become exactly 1, whatever their magnitude)."""
    if is_tracing(weights):
        top = xp.max(weights)
        return weights / xp.where(top > 0, top, xp.ones_like(top))
    if math.prod(weights.shape) == 0:
        return weights
    top = V.concrete(xp.max(weights))
    if not top or (2.0**-60 < top < 2.0**60):
        return weights  # the common case: nothing to rescale
    return weights / top


def mean_scale(xp: Any, weights: Any, loss_shape: tuple, reduction: str) -> tuple[Any, Any]:
    """(weights, scale): the weights to apply (rescaled for "mean") and the factor on Σwℓ.

    The factor is 1 for "sum"/"none", 1/N for "sum_over_batch_size", 1/Σw (Σw counted per
    element of the loss's shape) for "mean", and 0 when Σw = 0 (every sample ignored: 0,
    not 0/0, as a fully padded batch is normal in sequence training).
    """
    n_elements = math.prod(loss_shape)
    if reduction in ("sum", "none"):
        return weights, 1.0
    if reduction == "sum_over_batch_size" or weights is None:
        return weights, 1.0 / n_elements if n_elements else 0.0
    weights = _normalised(xp, weights)
    per_weight = math.prod(loss_shape[weights.ndim:])
    total = xp.sum(weights) * per_weight
    if is_tracing(total):
        return weights, xp.where(total > 0, 1.0 / xp.where(total > 0, total, 1.0), 0.0)
    total = float(total)
    return weights, 1.0 / total if total > 0 else 0.0


def is_unit(scale: Any) -> bool:
    return isinstance(scale, float) and scale == 1.0


def scale_rows(xp: Any, values: Any, weights: Any, scale: Any) -> Any:
    """wᵢ·scale·values (a gradient or Hessian of the per-sample losses)."""
    if weights is not None:
        values = values * broadcast_rows(xp, weights, values.ndim)
    return values if is_unit(scale) else values * scale


def reduce(xp: Any, per_sample: Any, weights: Any, scale: Any, reduction: str) -> Any:
    """The reduced value: Σ wᵢℓᵢ·scale, or the weighted values for "none"."""
    weighted = per_sample if weights is None else per_sample * broadcast_rows(xp, weights, per_sample.ndim)
    if reduction == "none":
        return weighted
    if is_numpy(xp):
        with np.errstate(over="ignore"):  # an overflowing sum is summed again below, scaled first
            total = xp.sum(weighted)
    else:
        total = xp.sum(weighted)
    if not is_unit(scale):
        scaled = total * scale
        if is_numpy(xp) and not math.isfinite(float(scaled)) and bool(np.all(np.isfinite(weighted))):
            # The sum overflowed although every term is finite: the mean may still fit.
            scaled = xp.sum(weighted * scale)
        total = scaled
    return scalar(xp, total)


def cotangent(xp: Any, weights: Any, scale: Any, loss_shape: tuple, dtype: Any, device: Any) -> Any:
    """cᵢ = wᵢ·scale over the loss's shape: the factor on each ℓᵢ in the reduced value."""
    ones = xp.ones(loss_shape, dtype=dtype, device=device)
    c = ones if weights is None else ones * broadcast_rows(xp, weights, len(loss_shape))
    return c if is_unit(scale) else c * scale


def scalar(xp: Any, value: Any) -> Any:
    # NumPy users get a NumPy scalar (prints as a number); other libraries a 0-d array.
    return value[()] if is_numpy(xp) and hasattr(value, "shape") else value
