"""The shapes a loss is written in, so that a loss writes its mathematics and nothing else.

- ``DistanceLoss``: ℓ = ρ(r), r = y_pred − y_true. The loss writes ρ, ρ′, ρ″.
- ``MarginLoss``: ℓ = φ(y·f), y in {−1, +1} ({0, 1} mapped to ±1). The loss writes φ, φ′, φ″;
  the gradient with respect to f is y·φ′, the Hessian φ″ (y² = 1).
- ``ClassAxisLoss``: y_pred (N, C) over a class axis, y_true indices (N,) or distributions
  (N, C); shapes, checks, class weights and ``ignore_index`` handled here once.
- ``ClassSeparableLoss``: ℓ = Σ_c t_c·f(u_c), u = log p (cross-entropy, focal, generalized
  cross-entropy, Poly-1, …). The loss writes f, f′, f″ of u (given u and p = e^u); the
  link (``links.py``) turns them into the gradient and Hessian for probabilities, logits
  or log-probabilities. Losses whose per-class terms are not t_c·f(u_c) (a reverse
  cross-entropy, an expected cost) override ``_terms`` instead.
- ``BinarySeparableLoss``: ℓ = t·f₁(u₁) + (1 − t)·f₀(u₀), u₁ = log p, u₀ = log(1 − p), for a
  probability or a logit (binary cross-entropy).

(After LossFunctions.jl's distance- and margin-based types and scikit-learn's loss + link.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate as V
from .. import kernels as compiled
from .._array import array_namespace, as_array, float_dtype, host_array, index_dtype, is_numpy, is_tracing, to_numpy
from . import links as K
from .contract import Loss
from .registry import resolve
from .targets import check_class_indices, check_distribution, is_index_target, one_hot

__all__ = ["DistanceLoss", "MarginLoss", "ClassAxisLoss", "ClassSeparableLoss", "BinarySeparableLoss",
           "signed_labels", "labels_in_prediction_dtype"]


def _is_catalog_loss(loss: Loss, names: tuple[str, ...]) -> bool:
    """The loss is the catalog's class of that name (a user loss that shares a name gets no
    compiled kernel: the kernel computes the catalog's formula)."""
    if loss.name not in names:
        return False
    try:
        return resolve(loss.name) is type(loss)
    except ValueError:
        return False


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

    @property
    def kernel_takes_whole_input(self) -> bool:
        return _is_catalog_loss(self, compiled.DISTANCE_LOSSES) and compiled.available()

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        # The compiled loop generated from this loss's own ρ, ρ′ (losslab.kernels), if any.
        if not self.kernel_takes_whole_input:
            return None
        total = compiled.distance(self.name, self.params, *block, scale, out, weights)
        return None if total is None else total * scale


_MIXED_LABELS = (
    "{name} mixes the label conventions {{-1, +1}} and {{0, 1}} (it holds both -1 and 0); use one of them."
)


def signed_labels(xp: Any, y_true: Any, name: str = "y_true") -> Any:
    """Labels in {−1, +1}; {0, 1} is mapped to {−1, +1}; anything else is an error."""
    n_labels = math.prod(y_true.shape)  # not .size: a method on torch tensors
    allowed = (y_true == -1) | (y_true == 0) | (y_true == 1)
    neg_one = None if is_tracing(y_true) or not n_labels else V.concrete(xp.sum(xp.astype(y_true == -1, xp.int32)))
    if neg_one is None and is_tracing(y_true):
        # Abstract under jax.jit: an invalid label poisons the result instead of raising.
        V.traced_invalid(xp, ~allowed, f"{name} must hold binary labels in {{-1, +1}} or {{0, 1}}")
    elif neg_one is not None:
        if not V.concrete(xp.all(allowed)):
            bad = y_true[~allowed]
            raise ValueError(f"{name} must hold binary labels in {{-1, +1}} or {{0, 1}}; got {float(bad[0]):g}")
        if neg_one and V.concrete(xp.any(y_true == 0)):
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

    @property
    def kernel_takes_whole_input(self) -> bool:
        return _is_catalog_loss(self, compiled.MARGIN_LOSSES) and compiled.available()

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        # The compiled loop generated from this loss's own φ, φ′ (losslab.kernels), if any.
        if not self.kernel_takes_whole_input:
            return None
        total = compiled.margin(self.name, self.params, *block, scale, out, weights)
        return None if total is None else total * scale


# ------------------------------------------------------------------------------ class axis
class ClassAxisLoss(Loss):
    """y_pred (N, C); y_true indices (N,) or distributions (N, C).

    ``link`` says what y_pred holds: probabilities, logits (``from_logits=True``),
    log-probabilities (nll), or None for raw scores (multiclass hinge).
    """

    event_ndim = 1
    #: A softmax makes a dozen NumPy calls per row block: 1 MiB blocks of y_pred amortise
    #: them (on 2 cores, 64 KiB blocks of 1000 classes took 1.5-2x the CPU time per element).
    block_scale = 16
    #: Distribution (soft) targets are allowed; hard-label losses (hinge) set this False.
    soft_targets = True

    @property
    def link(self) -> K.Link | None:
        return K.SOFTMAX if getattr(self, "from_logits", False) else K.PROBABILITIES

    @property
    def _kind(self) -> str:
        return self.link.name if self.link is not None else "scores"

    def _n_classes_param(self) -> int | None:
        """The number of classes a parameter fixes (class_weight, cost_matrix), or None."""
        cw = getattr(self, "class_weight", None)
        return None if cw is None else len(np.asarray(cw))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must have shape (n_samples, n_classes) ({self._kind}); got shape {tuple(y_pred.shape)}"
            )
        n_classes = y_pred.shape[1]
        expected = self._n_classes_param()
        if expected is not None and expected != n_classes:
            what = "class_weight" if getattr(self, "class_weight", None) is not None else "cost_matrix"
            raise ValueError(
                f"{self.name}: {what} is for {expected} classes but y_pred has {n_classes} columns;"
                f" give one entry per class."
            )
        if is_index_target(y_true, y_pred):
            dtype = float_dtype(xp, y_pred)
            return (y_true, xp.astype(y_pred, dtype, copy=False)), options
        dtype = float_dtype(xp, y_true, y_pred)
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    # --------------------------------------------------------------- value checks
    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        n_classes = y_pred.shape[1]
        if y_true.ndim == 1:
            _check_indices(xp, y_true, n_classes, getattr(self, "ignore_index", None))
        else:
            check_distribution(xp, y_true)
            if not self.soft_targets and not is_tracing(y_true):
                if V.concrete(xp.any((y_true != 0.0) & (y_true != 1.0))):
                    raise ValueError(
                        f"y_true must be class indices or one-hot rows for {self.name} (a margin needs one"
                        " true class); got soft labels."
                    )
        if self.link is None:
            V.check_finite(xp, y_pred, "y_pred")
        else:
            self.link.check(xp, y_pred)

    # --------------------------------------------------------------- targets and weights
    def _valid(self, xp: Any, y_true: Any) -> Any:
        """Rows that count (index targets not equal to ignore_index), or None when all do."""
        ignore = getattr(self, "ignore_index", None)
        if ignore is None or y_true.ndim != 1:
            return None
        return y_true != ignore

    def _nonfinite_reason(self, arrays: tuple, options: dict) -> str | None:
        if not (self.link is not None and self.link.allows_masking):
            return None
        arrays = tuple(as_array(a, n) for a, n in zip(arrays, self.inputs))
        xp = array_namespace(*arrays)
        (y_true, z), _ = self._prepare(xp, arrays, dict(options))
        target = to_numpy(self._target_rows(xp, y_true, z))
        smoothing = float(getattr(self, "label_smoothing", 0.0) or 0.0)
        if smoothing > 0:
            target = (1.0 - smoothing) * target + smoothing / target.shape[1]
        hit = (target > 0) & np.isneginf(to_numpy(z))
        if not hit.any():
            return None
        row, col = (int(i) for i in np.argwhere(hit)[0])
        why = " (label_smoothing puts target mass on every class)" if smoothing > 0 else ""
        return (
            f"y_true puts probability on class {col} of row {row}, whose logit is -inf (masked){why}: the loss"
            " is infinite. A masked class must not be a target; drop the mask there or use label_smoothing=0."
        )

    def _target_rows(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        """(N, C) target distributions in y_pred's dtype; ignored rows are all 0."""
        if y_true.ndim == 2:
            return y_true
        t = one_hot(xp, y_true, y_pred.shape[1], y_pred.dtype)
        valid = self._valid(xp, y_true)
        return t if valid is None else t * xp.astype(valid, y_pred.dtype)[:, None]

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        """class_weight of each sample's true class, and 0 for an ignored target."""
        y_true, y_pred = arrays
        cw = getattr(self, "class_weight", None)
        valid = self._valid(xp, y_true)
        if cw is None and valid is None:
            return None
        dtype = y_pred.dtype
        if cw is None:
            return xp.astype(valid, dtype)
        w = host_array(xp, cw, y_pred)
        if y_true.ndim == 2:
            # A distribution's weight is the expected class weight: w[y] for a one-hot row.
            return xp.sum(y_true * w[None, :], axis=-1)
        if valid is None:
            return xp.take(w, xp.astype(y_true, index_dtype(xp)))
        labels = xp.astype(y_true, index_dtype(xp))
        safe = xp.where(valid, labels, xp.zeros_like(labels))
        return xp.take(w, safe) * xp.astype(valid, dtype)

    def _log_probs_and_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        """(log p, p), from one log_softmax for logits."""
        return self.link.log_probs(xp, y_pred)


def _check_indices(xp: Any, y_true: Any, n_classes: int, ignore_index: Any) -> None:
    if is_numpy(xp) and y_true.dtype.kind in "iu" and y_true.size:
        # Fast path for the common case (one pass each for min and max, per row block).
        if y_true.min() >= 0 and y_true.max() < n_classes:
            return
    check_class_indices(xp, y_true, n_classes, ignore_index)


class ClassSeparableLoss(ClassAxisLoss):
    """ℓ = Σ_c t_c·f(u_c) with u = log p: write ``_f``, ``_f_prime``, ``_f_second`` of (u, p).

    With a = ∂ℓ/∂u and v = ∂²ℓ/∂u² per class (here a = t·f′(u), v = t·f″(u)), the link's
    chain rule gives the gradient and Hessian diagonal for every kind of y_pred; see
    ``links.py``. A class with no target mass (t_c = 0) adds nothing, also where u_c = −inf
    (a masked logit).
    """

    def _f(self, xp: Any, u: Any, p: Any) -> Any:
        raise NotImplementedError

    def _f_prime(self, xp: Any, u: Any, p: Any) -> Any:
        raise NotImplementedError

    def _f_second(self, xp: Any, u: Any, p: Any) -> Any:
        raise NotImplementedError

    def _targets(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        """The (N, C) target distribution t (label smoothing applies here)."""
        return self._target_rows(xp, y_true, y_pred)

    def _terms(self, xp: Any, t: Any, u: Any, p: Any, order: int) -> tuple:
        """Per-class terms: order 0 → (ℓ_c,); 1 → (None, a_c); −1 → (ℓ_c, a_c); 2 → (None, a_c, v_c)."""
        value = t * self._f(xp, u, p) if order in (0, -1) else None
        if order == 0:
            return (value,)
        first = t * self._f_prime(xp, u, p)
        if order == 2:
            return value, first, t * self._f_second(xp, u, p)
        return value, first

    def _inputs(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
        t = self._targets(xp, y_true, y_pred)
        u, p = self._log_probs_and_probs(xp, y_pred)
        # A masked class without target mass: a finite stand-in keeps 0·f(−inf) out.
        u = xp.where((t == 0) & (u == -math.inf), xp.zeros_like(u), u)
        return t, u, p

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, u, p = self._inputs(xp, y_true, y_pred)
        return xp.sum(self._terms(xp, t, u, p, 0)[0], axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, u, p = self._inputs(xp, y_true, y_pred)
        return self.link.gradient(xp, p, self._terms(xp, t, u, p, 1)[1])

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        t, u, p = self._inputs(xp, y_true, y_pred)
        value, a = self._terms(xp, t, u, p, -1)
        return xp.sum(value, axis=-1), self.link.gradient(xp, p, a)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, u, p = self._inputs(xp, y_true, y_pred)
        _, a, v = self._terms(xp, t, u, p, 2)
        return self.link.hessian(xp, p, a, v)


# ------------------------------------------------------------------------------ binary
def _check_not_swapped(xp: Any, y_true: Any, y_pred: Any) -> None:
    """PyTorch's order (input, target) passed as losslab's (y_true, y_pred): refuse where the
    evidence is unambiguous, i.e. y_pred holds only the labels 0 and 1 while every y_true is
    a fraction strictly inside (0, 1) (labels are never all fractional; predictions rarely
    all exactly 0 or 1). Anything less clear is computed as given."""
    if is_tracing(y_true) or is_tracing(y_pred) or math.prod(y_true.shape) < 2:
        return
    predictions_are_labels = V.concrete(xp.all((y_pred == 0.0) | (y_pred == 1.0)))
    if predictions_are_labels and V.concrete(xp.all((y_true > 0.0) & (y_true < 1.0))):
        raise ValueError(
            "y_pred holds only the labels 0 and 1 while every y_true is a fraction in (0, 1): the arguments look"
            " swapped. losslab takes (y_true, y_pred), as Keras and scikit-learn do; PyTorch's order is"
            " (input, target). Pass ll.get(...)(labels, probabilities)."
        )


class BinarySeparableLoss(Loss):
    """ℓ = t·f₁(u₁) + (1 − t)·f₀(u₀), u₁ = log p, u₀ = log(1 − p), y_true = t in [0, 1].

    The loss writes ``_sides(xp, t, u1, u0, p1, p0, order)`` → per-element (ℓ, a₁, a₀, v₁, v₀)
    up to ``order`` (a = ∂ℓ/∂u, v = ∂²ℓ/∂u², each side's already multiplied by its target
    weight); the link (probability, or logit with ``from_logits=True``) does the chain rule.
    """

    @property
    def link(self) -> K.Link:
        return K.SIGMOID if getattr(self, "from_logits", False) else K.BINARY_PROBABILITY

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        return labels_in_prediction_dtype(xp, arrays), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        # Fast path (one pass each): min and max propagate NaN, so labels in [0, 1] are clean.
        clean = is_numpy(xp) and y_true.size and 0.0 <= y_true.min() and y_true.max() <= 1.0
        if not clean:
            V.check_finite(xp, y_true, "y_true")
            V.check_in(xp, y_true, "y_true", K.UNIT, what="labels (0, 1 or soft labels in between)")
        self.link.check(xp, y_pred)
        if self.link is K.BINARY_PROBABILITY:
            _check_not_swapped(xp, y_true, y_pred)

    def _sides(self, xp: Any, t: Any, u1: Any, u0: Any, order: int) -> tuple:
        raise NotImplementedError

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        u1, u0, _, _ = self.link.log_probs(xp, y_pred)
        return self._sides(xp, y_true, u1, u0, 0)[0]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._value_and_gradient(xp, y_true, y_pred)[1]

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        u1, u0, p, q = self.link.log_probs(xp, y_pred)
        value, a1, a0 = self._sides(xp, y_true, u1, u0, 1)
        return value, self.link.gradient(xp, p, q, a1, a0)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        u1, u0, p, q = self.link.log_probs(xp, y_pred)
        _, a1, a0, v1, v0 = self._sides(xp, y_true, u1, u0, 2)
        return self.link.hessian(xp, p, q, a1, a0, v1, v0)
