"""The loss contract (DESIGN §2): the ``Loss`` object and its parameters.

A loss author declares facts (name, family, parameters, traits, formula) and writes pure
per-sample functions (``_per_sample``, ``_gradient``, ``_hessian``) against the array
namespace ``xp``; usually not even those, but one of the shapes in ``shapes.py`` (ρ of a
residual, φ of a margin, f of each class's log-probability). Everything shared lives
elsewhere, once: the weights and reductions in ``weights.py``, the evaluation (direct or in
row blocks, with one optional fast kernel) in ``engine.py``, the catalog in ``registry.py``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from array_api_compat import device as array_device

from .. import _validate as V
from .._array import array_namespace, as_array, float_dtype, is_numpy, is_tracing, to_numpy
from ..traits import Traits
from . import engine as E
from . import weights as W

__all__ = ["Loss", "Param", "LossOverflow"]


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Param:
    """A keyword-only parameter of a loss: its name, default, rule and a line of help."""

    name: str
    default: Any
    rule: V.Rule = V.REAL_NUMBER
    help: str = ""


# --------------------------------------------------------------------------- the Loss
class Loss:
    """A loss function: value, gradient and Hessian diagonal, with reductions and weights.

    Subclasses declare ``name``, ``family``, ``description``, ``formula``, ``parameters``
    and ``traits`` and write the per-sample mathematics; see ``loss/shapes.py`` for the
    distance-based (ρ(y_pred − y_true)) and margin-based (φ(y·f)) shapes.

    Calling conventions (the same for every loss):

    - ``L(y_true, y_pred, sample_weight=None, reduction="mean")``; ``reduction`` is
      "mean" (Σ wᵢℓᵢ / Σ wᵢ), "sum" (Σ wᵢℓᵢ) or "none" (wᵢℓᵢ per sample);
    - ``gradient`` and ``hessian`` are of exactly the value ``L(...)`` returns, with the
      same weights and the same denominator;
    - "mean" over no weight at all (every sample ignored or weighted 0) is 0 with a zero
      gradient, not NaN; "mean" of an empty input raises ``ValueError``.
    """

    name: ClassVar[str] = "loss"
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Names users type that mean this loss with other defaults (PyTorch's
    #: "BCEWithLogitsLoss" is binary_cross_entropy with from_logits=True).
    preset_aliases: ClassVar[dict[str, dict[str, Any]]] = {}
    parameters: ClassVar[tuple[Param, ...]] = ()
    #: Names of the positional array inputs, in order, and those the gradient is taken of.
    inputs: ClassVar[tuple[str, ...]] = ("y_true", "y_pred")
    differentiable_inputs: ClassVar[tuple[str, ...]] = ("y_pred",)
    #: Keyword arrays given per call (gaussian_nll's ``var``); sliced with the rows.
    call_options: ClassVar[tuple[str, ...]] = ()
    #: Trailing axes of the prediction consumed by one sample (1 for a class axis).
    event_ndim: ClassVar[int] = 0
    #: Each sample's loss depends on its own row only: the Jacobian is block-diagonal, so
    #: reduction="none" has a per-sample gradient and large inputs may run in row blocks.
    separable: ClassVar[bool] = True
    #: Why a loss that is not separable has no per-sample gradient (completes "because …").
    _no_unreduced_gradient_reason: ClassVar[str] = "each sample's loss depends on the other samples"
    #: Row blocks of this loss hold ``block_scale × BLOCK_BYTES`` bytes of y_pred: losses that
    #: make many NumPy calls per block (softmax over a class axis) amortise them on larger blocks.
    block_scale: ClassVar[int] = 1

    def __init__(self, /, **params: Any) -> None:  # positional-only self: a parameter may be named "self"
        known = {p.name: p for p in self.parameters}
        for key in params:
            if key not in known:
                allowed = ", ".join(known) or "none"
                raise TypeError(
                    f"{self.name}() got an unexpected parameter {key!r}; its parameters are: {allowed}."
                    f"{V.suggest(key, known)}"
                )
        values = {}
        for p in self.parameters:
            value = params.get(p.name, p.default)
            V.check_param(self.name, p.name, value, p.rule)
            values[p.name] = value
        self._params = values
        for key, value in values.items():
            setattr(self, key, value)
        self._check_params()

    # ------------------------------------------------------------------ declared facts
    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def traits(self) -> Traits:
        return self._traits()

    #: The declared traits; losses whose traits depend on their parameters override ``_traits``.
    TRAITS: ClassVar[Traits]

    def _traits(self) -> Traits:
        return self.TRAITS

    def _check_params(self) -> None:
        """Checks between parameters, after each one passed its own rule."""

    @property
    def inverse_link(self) -> Any:
        """The map from a model's raw score to the probabilities under which this loss is a
        proper scoring rule (``links.Link`` with an ``inverse``), or None when its minimiser
        is no probability (hinge, focal, label smoothing). The estimators' ``predict_proba``
        uses it."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and _params_equal(self._params, other._params)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted((k, _short(v)) for k, v in self._params.items()))))

    # ------------------------------------------------------------- per-sample mathematics
    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        """Cast to the computation's floating dtype and check shapes (no values)."""
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_true, y_pred)
        y_true, y_pred = xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)
        V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        """Checks that need the values: NaN, inf, domains. Skipped while tracing."""
        for name, array in zip(self.inputs, arrays):
            V.check_finite(xp, array, name)

    def _per_sample(self, xp: Any, *arrays: Any, **options: Any) -> Any:
        raise NotImplementedError

    def _gradient(self, xp: Any, *arrays: Any, **options: Any) -> Any:
        """∂ℓᵢ/∂(differentiable input), one array per differentiable input (a tuple when several)."""
        raise NotImplementedError

    def _hessian(self, xp: Any, *arrays: Any, **options: Any) -> Any:
        raise NotImplementedError(f"{self.name} has no Hessian")

    def _value_and_gradient(self, xp: Any, *arrays: Any, **options: Any) -> tuple[Any, Any]:
        """Override where value and gradient share work (softmax, residuals)."""
        return self._per_sample(xp, *arrays, **options), self._gradient(xp, *arrays, **options)

    def _weighted_value_and_gradient(
        self, xp: Any, arrays: tuple, options: dict, cotangent: Any, value: bool, gradient: bool
    ) -> tuple[Any, Any]:
        """(Σᵢ cᵢℓᵢ, ∂(Σᵢ cᵢℓᵢ)/∂inputs) for the cotangent c (the loss's shape); non-separable losses only.

        Called for reduction "mean"/"sum" with cᵢ = wᵢ·scale. This default scales the rows of
        ``_gradient`` by cᵢ, which is exact only when row i of the gradient is ∂ℓᵢ alone;
        losses whose samples interact (in-batch negatives, pairs, transport) override it.
        """
        per_sample = grad = None
        if value and gradient:
            per_sample, grad = self._value_and_gradient(xp, *arrays, **options)
        elif value:
            per_sample = self._per_sample(xp, *arrays, **options)
        elif gradient:
            grad = self._gradient(xp, *arrays, **options)
        total = W.scalar(xp, xp.sum(per_sample * cotangent)) if value else None
        if gradient:
            grad = E._map(grad, lambda g: g * W.broadcast_rows(xp, cotangent, g.ndim))
        return total, grad

    def _weighted_hessian(self, xp: Any, arrays: tuple, options: dict, cotangent: Any) -> Any:
        """The diagonal of ∂²(Σᵢ cᵢℓᵢ)/∂ŷ² for the cotangent c; non-separable losses only.

        This default scales the rows of ``_hessian`` by cᵢ, exact when row i of the Hessian
        comes from ℓᵢ alone (or when the loss is one sample, shape (1,)); losses whose samples
        share terms (a Cox risk set) override it.
        """
        hess = self._hessian(xp, *arrays, **options)
        return hess * W.broadcast_rows(xp, cotangent, hess.ndim)

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        """Per-sample weights the loss itself adds (class_weight, ignore_index), or None."""
        return None

    def _kernel(self, block: tuple, weights: Any, scale: float, out: Any) -> float | None:
        """Optional fast kernel for one NumPy row block of a value-and-gradient call (the one
        hook of the engine): write scale·wᵢ·∂ℓᵢ/∂y_pred into ``out`` and return Σ wᵢℓᵢ·scale,
        or None to let the generic code run the block (a weight or option the kernel does not
        handle, a non-finite value, which the generic code then checks and names). The
        generic per-sample code stays the reference: the tests compare the two."""
        return None

    def _has_kernel(self, options: dict) -> bool:
        return type(self)._kernel is not Loss._kernel and not options

    @property
    def kernel_takes_whole_input(self) -> bool:
        """The kernel is compiled and runs its own threads (``losslab.kernels``): the engine
        hands it the whole input in one call instead of its NumPy row blocks."""
        return False

    def _differentiable(self, arrays: tuple) -> tuple:
        return tuple(arrays[self.inputs.index(n)] for n in self.differentiable_inputs)

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        pred = arrays[self.inputs.index(self.differentiable_inputs[0])]
        return tuple(pred.shape[: pred.ndim - self.event_ndim])

    # ------------------------------------------------------------------ public interface
    def __call__(self, *arrays: Any, sample_weight: Any = None, reduction: str = "mean", **options: Any) -> Any:
        return self._run(arrays, options, sample_weight, reduction, value=True)[0]

    def per_sample(self, *arrays: Any, sample_weight: Any = None, **options: Any) -> Any:
        """The unreduced values wᵢ·ℓᵢ, one per sample (one per element for elementwise losses)."""
        return self(*arrays, sample_weight=sample_weight, reduction="none", **options)

    def gradient(
        self, *arrays: Any, sample_weight: Any = None, reduction: str = "mean", out: Any = None, **options: Any
    ) -> Any:
        """The gradient of ``L(...)`` with respect to the differentiable inputs.

        ``out``: optional NumPy array (y_pred's shape and dtype) to write the gradient
        into, as NumPy's ufuncs take it; reusing one buffer across calls avoids the cost
        of touching fresh memory (about 0.17 s per GB) on large inputs.
        """
        return self._run(arrays, options, sample_weight, reduction, gradient=True, out=out)[1]

    def value_and_gradient(
        self, *arrays: Any, sample_weight: Any = None, reduction: str = "mean", out: Any = None, **options: Any
    ) -> tuple[Any, Any]:
        """``(L(...), L.gradient(...))`` in one pass over the inputs (``out`` as in ``gradient``)."""
        value, grad, _ = self._run(arrays, options, sample_weight, reduction, value=True, gradient=True, out=out)
        return value, grad

    def hessian(self, *arrays: Any, sample_weight: Any = None, reduction: str = "mean", **options: Any) -> Any:
        """The diagonal of the Hessian of ``L(...)`` with respect to y_pred."""
        return self._run(arrays, options, sample_weight, reduction, hessian=True)[2]

    def _weight_unit(self, arrays: tuple, loss_shape: tuple) -> str:
        """What one sample weight goes with, for the message of a wrong shape: a sample, or the
        whole batch for a loss that gives one value for several rows."""
        first = arrays[0] if arrays else None
        if loss_shape[0] == 1 and getattr(first, "ndim", 0) and first.shape[0] > 1:
            return f"batch: {self.name} gives one value per batch"
        return "sample"

    def row_weights(self, *arrays: Any, sample_weight: Any = None, **options: Any) -> np.ndarray:
        """Each sample's share of the total weight that ``reduction="mean"`` divides by: wᵢ
        (sample weight × the loss's own class weight and ignore mask) times the elements of
        its row, as a NumPy array. The trainer sums them over mini-batches to report an
        epoch's loss as the loss's own weighted mean."""
        arrays, options = self._bind(arrays, dict(options))
        xp = array_namespace(*arrays)
        arrays = tuple(xp.reshape(a, (1,)) if a.ndim == 0 else a for a in arrays)
        arrays, options = self._prepare(xp, arrays, options)
        loss_shape = self._loss_shape(arrays)
        pred = self._differentiable(arrays)[0]
        weights = W.check_sample_weight(xp, sample_weight, loss_shape[0], pred.dtype, array_device(pred),
                                        self._weight_unit(arrays, loss_shape))
        weights = W.combine(xp, weights, self._extra_weights(xp, arrays, options))
        if weights is None:
            return np.full(loss_shape[0], float(math.prod(loss_shape[1:])))
        weights = np.asarray(to_numpy(weights), dtype=np.float64)
        per_weight = float(math.prod(loss_shape[weights.ndim:]))
        return np.sum(weights.reshape(loss_shape[0], -1), axis=1) * per_weight

    # ------------------------------------------------------------------ the one engine
    def _bind(self, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        named = {k: options.pop(k) for k in list(options) if k in self.inputs}
        if len(arrays) + len(named) != len(self.inputs) or any(n in named for n in self.inputs[: len(arrays)]):
            raise TypeError(
                f"{self.name} takes the arrays ({', '.join(self.inputs)}); got {len(arrays)} positional"
                f" and {sorted(named)} by name"
            )
        bound = list(arrays) + [named[n] for n in self.inputs[len(arrays):]]
        for key in options:
            if key not in self.call_options:
                allowed = ", ".join(("sample_weight", "reduction") + self.call_options)
                parameters = [p.name for p in self.parameters]
                hint = (f" ({key} is a parameter of the loss: ll.get({self.name!r}, {key}=...).)" if key in parameters
                        else (f" Its parameters ({', '.join(parameters)}) go to ll.get({self.name!r}, ...)." if parameters
                              else f" {self.name} has no parameters.") + V.suggest(key, parameters + allowed.split(", ")))
                raise TypeError(
                    f"{self.name}() got an unexpected keyword {key!r}; per-call keywords are: {allowed}.{hint}"
                )
        return tuple(as_array(a, n) for a, n in zip(bound, self.inputs)), options

    def _run(self, arrays: tuple, options: dict, sample_weight: Any, reduction: str, **wanted: Any) -> tuple:
        with V.collecting_traced_flags() as invalid:
            out_value, out_grad, out_hess = self._compute(arrays, options, sample_weight, reduction, **wanted)
        if invalid:
            # Under jax.jit an invalid input cannot raise: it makes every result NaN (DESIGN §7).
            return tuple(None if r is None else E._map(r, lambda x: _poisoned(x, invalid))
                         for r in (out_value, out_grad, out_hess))
        if out_value is not None and reduction != "none":
            _check_finite_result(self, out_value, arrays, options)
        return out_value, out_grad, out_hess

    def _nonfinite_reason(self, arrays: tuple, options: dict) -> str | None:
        """Why the loss of these validated inputs is infinite, if the loss can tell (else None)."""
        return None

    def _compute(
        self,
        arrays: tuple,
        options: dict,
        sample_weight: Any,
        reduction: str,
        *,
        value: bool = False,
        gradient: bool = False,
        hessian: bool = False,
        out: Any = None,
    ) -> tuple[Any, Any, Any]:
        W.check_reduction(reduction)
        arrays, options = self._bind(arrays, dict(options))
        xp = array_namespace(*arrays)
        for name, array in zip(self.inputs, arrays):
            V.check_floating_or_integer(xp, array, name)
        arrays = tuple(xp.reshape(a, (1,)) if a.ndim == 0 else a for a in arrays)
        arrays, options = self._prepare(xp, arrays, options)
        loss_shape = self._loss_shape(arrays)
        if reduction == "mean" and math.prod(loss_shape) == 0:
            raise ValueError(
                f"{self.name}: the input is empty (shape {loss_shape}); reduction='mean' of no samples is"
                " undefined. Use reduction='sum' (0) or pass at least one sample."
            )
        if (gradient or hessian) and reduction == "none" and not self.separable:
            raise ValueError(
                f"{self.name}: reduction='none' has no gradient, because {self._no_unreduced_gradient_reason}."
                " Use 'mean' or 'sum'."
            )
        pred = self._differentiable(arrays)[0]
        dtype, dev = pred.dtype, array_device(pred)
        weights = W.check_sample_weight(xp, sample_weight, loss_shape[0], dtype, dev, self._weight_unit(arrays, loss_shape))
        weights = W.combine(xp, weights, self._extra_weights(xp, arrays, options))
        weights, scale = W.mean_scale(xp, weights, loss_shape, reduction)
        if out is not None:
            _check_out(out, self._differentiable(arrays), xp)
        if math.prod(loss_shape) == 0:
            return self._empty(xp, arrays, reduction, value, gradient, hessian, out)

        if is_numpy(xp) and self.separable and E.use_blocks(pred):
            try:
                return E.evaluate_blocked(
                    self, xp, arrays, options, weights, scale, reduction, value, gradient, hessian, out
                )
            except E.NonFiniteDerivative as exc:
                _check_finite_result(self, math.inf, arrays, options, what=str(exc))
        self._check_values(xp, arrays, options)
        if not self.separable and reduction != "none":
            # A sample's loss depends on the others: scaling gradient rows by wᵢ would be wrong,
            # so the loss takes the cotangent cᵢ = wᵢ·scale and differentiates Σᵢ cᵢℓᵢ itself.
            cotangent = W.cotangent(xp, weights, scale, loss_shape, dtype, dev)
            # As on the direct path: NumPy's overflow warnings are silenced, and an overflow in
            # any result is raised as LossOverflow instead.
            with np.errstate(over="ignore", invalid="ignore") if is_numpy(xp) else contextlib.nullcontext():
                if hessian:
                    out_hess = self._weighted_hessian(xp, arrays, options, cotangent)
                    if not _all_finite(out_hess):
                        _check_finite_result(self, math.inf, arrays, options, what="the Hessian")
                    return None, None, out_hess
                out_value, out_grad = self._weighted_value_and_gradient(xp, arrays, options, cotangent, value,
                                                                        gradient)
            for array in E.as_tuple(out_grad) if out_grad is not None else ():
                if not _all_finite(array):
                    _check_finite_result(self, math.inf, arrays, options, what="the gradient")
            if gradient and out is not None:
                out_grad = E.copy_into(out, out_grad)
            return out_value, out_grad, None
        out_value, out_grad, out_hess = E.evaluate_direct(
            self, xp, arrays, options, weights, scale, reduction, value, gradient, hessian
        )
        # The same rule for the derivatives as for the value: an overflow is an error, never
        # a silent inf or NaN.
        for what, result in (("the gradient", out_grad), ("the Hessian", out_hess)):
            for array in E.as_tuple(result) if result is not None else ():
                if not _all_finite(array):
                    _check_finite_result(self, math.inf, arrays, options, what=what)
        if gradient and out is not None:
            out_grad = E.copy_into(out, out_grad)
        return out_value, out_grad, out_hess

    def _empty(self, xp: Any, arrays: tuple, reduction: str, value: bool, gradient: bool, hessian: bool,
               out: Any) -> tuple[Any, Any, Any]:
        """No sample at all ("sum" and "none" only): 0 or an empty array, zero gradients."""
        pred = self._differentiable(arrays)[0]
        out_value = None
        if value:
            zeros = xp.zeros(self._loss_shape(arrays), dtype=pred.dtype, device=array_device(pred))
            out_value = zeros if reduction == "none" else W.scalar(xp, xp.sum(zeros))
        out_grad = None
        if gradient:
            grads = tuple(xp.zeros_like(a) for a in self._differentiable(arrays))
            out_grad = grads if len(grads) > 1 else grads[0]
            if out is not None:
                out_grad = E.copy_into(out, out_grad)
        out_hess = xp.zeros_like(pred) if hessian else None
        return out_value, out_grad, out_hess


class LossOverflow(ValueError):
    """The loss of validated inputs is not finite (an overflow, or a target on a masked class).

    A ``ValueError``; the training engine catches it to report a diverged run."""


def _check_finite_result(loss: Loss, value: Any, arrays: tuple, options: dict, what: str = "the loss") -> None:
    """A reduced loss (or a derivative) of validated inputs that is not finite is an error,
    not a result: the loss explains why when it can (a masked true class), else it overflowed
    its dtype."""
    number = value if isinstance(value, float) else V.concrete(value)
    if number is not None and not math.isfinite(number):
        reason = loss._nonfinite_reason(arrays, options)
        if reason:
            raise LossOverflow(f"{loss.name}: {reason}")
        pred = loss._differentiable(arrays)[0]
        dtype = str(getattr(pred, "dtype", "float64")).replace("torch.", "")
        hint = "" if dtype.endswith("float64") else " (or compute in float64)"
        raise LossOverflow(
            f"{loss.name}: {what} of these (finite) inputs overflows {dtype}: the true value exceeds the"
            f" largest representable number. Rescale the inputs{hint}."
        )


def _poisoned(x: Any, invalid: list) -> Any:
    xp = array_namespace(x)
    flag = invalid[0]
    for other in invalid[1:]:
        flag = flag | other
    # x·(NaN or 1), not where(flag, NaN, x): autodiff through the product is NaN too, so
    # jax.grad of a poisoned loss is NaN rather than a plausible zero.
    return x * xp.where(flag, xp.full_like(x, math.nan), xp.ones_like(x))


def _all_finite(array: Any) -> bool:
    """Every entry finite (True while tracing: values are abstract there)."""
    if is_tracing(array) or math.prod(array.shape) == 0:
        return True
    if isinstance(array, np.ndarray):
        # One read in the common case: a finite sum means every term is finite.
        with np.errstate(invalid="ignore", over="ignore"):
            return math.isfinite(np.add.reduce(array, axis=None)) or bool(np.isfinite(array).all())
    xp = array_namespace(array)
    return bool(V.concrete(xp.all(xp.isfinite(array))))


def _check_out(out: Any, targets: tuple, xp: Any) -> None:
    buffers = E.as_tuple(out)
    if not is_numpy(xp):
        raise TypeError("out must be None for non-NumPy arrays: other libraries allocate their own results")
    if len(buffers) != len(targets):
        raise ValueError(f"out must hold {len(targets)} array(s), one per differentiable input; got {len(buffers)}")
    for buffer, target in zip(buffers, targets):
        if not isinstance(buffer, np.ndarray) or buffer.shape != target.shape or buffer.dtype != target.dtype:
            got = f"{type(buffer).__name__} {getattr(buffer, 'shape', '')} {getattr(buffer, 'dtype', '')}"
            raise ValueError(
                f"out must be a NumPy array of shape {tuple(target.shape)} and dtype {target.dtype}; got {got}"
            )
        if not buffer.flags.writeable:
            raise ValueError("out must be a writeable NumPy array; got a read-only one (e.g. from np.broadcast_to)")


def _short(v: Any) -> str:
    if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
        return f"array(shape={tuple(v.shape)})"
    return repr(v)


def _params_equal(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if hasattr(x, "shape") or hasattr(y, "shape"):
            if not np.array_equal(np.asarray(x), np.asarray(y)):
                return False
        elif x != y:
            return False
    return True
