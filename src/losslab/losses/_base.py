"""The shapes of loss the catalog is built from (after LossFunctions.jl's type tree).

- ``DistanceLoss``: a function ρ of the residual r = y_pred − y_true. The author writes ρ,
  ρ′ and ρ″; the gradient with respect to y_pred is ρ′(r) and the Hessian ρ″(r).
- ``MarginLoss``: a function φ of the margin m = y·f with y in {−1, +1} ({0, 1} is mapped
  to {−1, +1}). The gradient with respect to f is y·φ′(m), the Hessian φ″(m) (y² = 1).
- ``ProbabilityRowsLoss`` helpers: probability rows over a class axis, checked once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from .._array import float_dtype, is_tracing, to_numpy
from ..core import Loss
from ..traits import UNIT


class DistanceLoss(Loss):
    """ℓ(y_true, y_pred) = ρ(y_pred − y_true)."""

    def _rho(self, xp: Any, r: Any) -> Any:
        raise NotImplementedError

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        raise NotImplementedError

    def _rho_second(self, xp: Any, r: Any) -> Any:
        raise NotImplementedError

    def _rho_and_prime(self, xp: Any, r: Any) -> tuple[Any, Any]:
        return self._rho(xp, r), self._rho_prime(xp, r)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._rho(xp, y_pred - y_true)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._rho_prime(xp, y_pred - y_true)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._rho_second(xp, y_pred - y_true)

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        return self._rho_and_prime(xp, y_pred - y_true)


_MIXED_LABELS = (
    "{name} mixes the label conventions {{-1, +1}} and {{0, 1}} (it holds both -1 and 0); use one of them."
)


def signed_labels(xp: Any, y_true: Any, name: str = "y_true") -> Any:
    """Labels in {−1, +1}; {0, 1} is mapped to {−1, +1}; anything else is an error."""
    n_labels = math.prod(y_true.shape)  # not .size: a method on torch tensors
    if not is_tracing(y_true) and n_labels:
        neg_one = V.concrete(xp.sum(xp.astype(y_true == -1, xp.int32)))
        zero = V.concrete(xp.sum(xp.astype(y_true == 0, xp.int32)))
        one = V.concrete(xp.sum(xp.astype(y_true == 1, xp.int32)))
        if neg_one is None:  # abstract under jax.jit: nothing to check
            return xp.where(y_true == 0, -xp.ones_like(y_true), y_true)
        if neg_one + zero + one != n_labels:
            bad = y_true[(y_true != -1) & (y_true != 0) & (y_true != 1)]
            raise ValueError(
                f"{name} must hold binary labels in {{-1, +1}} or {{0, 1}}; got {float(bad[0]):g}"
            )
        if neg_one and zero:
            raise ValueError(_MIXED_LABELS.format(name=name))
    return xp.where(y_true == 0, -xp.ones_like(y_true), y_true)


def labels_in_prediction_dtype(xp: Any, arrays: tuple) -> tuple[Any, Any]:
    """(y_true, y_pred) of one shape, both in y_pred's floating dtype: labels never promote it."""
    y_true, y_pred = arrays
    dtype = float_dtype(xp, y_pred)
    y_true, y_pred = xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)
    V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
    return y_true, y_pred


class MarginLoss(Loss):
    """ℓ(y, f) = φ(y·f) for y in {−1, +1} (or {0, 1}) and a real score f."""

    def _phi(self, xp: Any, m: Any) -> Any:
        raise NotImplementedError

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        raise NotImplementedError

    def _phi_second(self, xp: Any, m: Any) -> Any:
        raise NotImplementedError

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = labels_in_prediction_dtype(xp, arrays)
        # Whole-array check: large inputs are checked block by block, and one block cannot
        # see that another uses the other label convention.
        if not is_tracing(y_true) and math.prod(y_true.shape):
            if V.concrete(xp.any(y_true == -1)) and V.concrete(xp.any(y_true == 0)):
                raise ValueError(_MIXED_LABELS.format(name="y_true"))
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        signed_labels(xp, arrays[0])

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._phi(xp, signed_labels(xp, y_true) * y_pred)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        y = signed_labels(xp, y_true)
        return y * self._phi_prime(xp, y * y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._phi_second(xp, signed_labels(xp, y_true) * y_pred)


#: The hint on probability errors: the most common cause is logits passed as probabilities.
LOGITS_HINT = "Pass from_logits=True if y_pred holds raw scores (logits)."


def check_probabilities(xp: Any, p: Any, name: str, *, hint: str = "") -> None:
    """Values in [0, 1] (no NaN): the message suggests from_logits where it applies."""
    V.check_finite(xp, p, name)
    V.check_in(xp, p, name, UNIT, what="probabilities", hint=hint)


def check_rows_sum_to_one(xp: Any, p: Any, name: str) -> None:
    """Probability rows are used as given, never renormalised: rows off 1 are an error."""
    if is_tracing(p) or p.size == 0:
        return
    tol = float(xp.finfo(p.dtype).eps) ** 0.5
    deviation = xp.reshape(xp.sum(p, axis=-1) - 1.0, (-1,))
    worst = V.concrete(xp.max(xp.abs(deviation)))
    if worst is not None and worst > tol:
        row = int(np.argmax(np.abs(to_numpy(deviation))))
        raise ValueError(
            f"{name} rows must sum to 1 (probability distributions over the last axis); row {row} sums to"
            f" {1.0 + float(to_numpy(deviation)[row]):.6g}. losslab never renormalises silently: normalise"
            " the rows, or pass logits with from_logits=True."
        )


def clip_probabilities(xp: Any, p: Any) -> Any:
    """Clip to [ε, 1 − ε], ε = finfo(dtype).eps, so that log(0) never happens (DESIGN §2)."""
    eps = float(xp.finfo(p.dtype).eps)
    return S.clip(xp, p, eps, 1.0 - eps)
