"""The loss contract (DESIGN §2): the ``Loss`` object, reductions, weights and the registry.

A loss author writes pure per-sample functions (``_per_sample``, ``_gradient``,
``_hessian``) against the array namespace ``xp``; everything shared lives here, once:
binding and checking the inputs, sample and class weights, the three reductions, scaling
the gradient and Hessian by the same denominator as the value, and running large NumPy
inputs in cache-sized row blocks on a small thread pool.

Nothing here imports a loss family; each family module registers its losses with
``@register`` when ``losslab`` is imported.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
from array_api_compat import device as array_device

from . import _validate as V
from ._array import array_namespace, as_array, float_dtype, is_numpy, is_tracing
from .traits import Traits

__all__ = [
    "Loss",
    "Param",
    "register",
    "get",
    "catalog",
    "CatalogEntry",
    "functional",
    "set_num_threads",
    "LossOverflow",
]


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
    and ``traits`` and write the per-sample mathematics; see ``losses/_base.py`` for the
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
    #: Row blocks of this loss hold ``block_scale × BLOCK_BYTES`` bytes of y_pred: losses that
    #: make many NumPy calls per block (softmax over a class axis) amortise them on larger blocks.
    block_scale: ClassVar[int] = 1

    def __init__(self, **params: Any) -> None:
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
        total = _scalar(xp, xp.sum(per_sample * cotangent)) if value else None
        if gradient:
            grad = _map(grad, lambda g: g * _broadcast_rows(xp, cotangent, g.ndim))
        return total, grad

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        """Per-sample weights the loss itself adds (class_weight, ignore_index), or None."""
        return None

    def _fused_block(self, y_true: Any, y_pred: Any, scale: float, out: Any) -> float | None:
        """Optional NumPy kernel for one row block of an unweighted value-and-gradient call:
        write scale·∂ℓ/∂y_pred into ``out`` and return Σℓ over the block, in as few passes as
        the loss allows; or None when the block's sum is not finite (a bad input value, which
        the generic path then checks and names). The generic per-sample code stays the
        reference: the tests compare the two."""
        return None

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
                raise TypeError(
                    f"{self.name}() got an unexpected keyword {key!r}; per-call keywords are: {allowed}."
                    f" (Loss parameters go to the constructor: ll.get({self.name!r}, {key}=...).)"
                )
        return tuple(as_array(a, n) for a, n in zip(bound, self.inputs)), options

    def _run(self, arrays: tuple, options: dict, sample_weight: Any, reduction: str, **wanted: Any) -> tuple:
        out_value, out_grad, out_hess = self._compute(arrays, options, sample_weight, reduction, **wanted)
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
        V.check_reduction(reduction)
        arrays, options = self._bind(arrays, dict(options))
        xp = array_namespace(*arrays)
        for name, array in zip(self.inputs, arrays):
            V.check_floating_or_integer(xp, array, name)
        arrays = tuple(xp.reshape(a, (1,)) if a.ndim == 0 else a for a in arrays)
        arrays, options = self._prepare(xp, arrays, options)
        loss_shape = self._loss_shape(arrays)
        n_samples = loss_shape[0]
        if reduction == "mean" and math.prod(loss_shape) == 0:
            raise ValueError(
                f"{self.name}: the input is empty (shape {loss_shape}); reduction='mean' of no samples is"
                " undefined. Use reduction='sum' (0) or pass at least one sample."
            )
        if (gradient or hessian) and reduction == "none" and not self.separable:
            raise ValueError(
                f"{self.name}: reduction='none' has no gradient, because each sample's loss depends on the"
                " other samples; use 'mean' or 'sum'."
            )
        pred = arrays[self.inputs.index(self.differentiable_inputs[0])]
        dtype, dev = pred.dtype, array_device(pred)
        weights = V.check_sample_weight(xp, sample_weight, n_samples, dtype, dev)
        extra = self._extra_weights(xp, arrays, options)
        if extra is not None:
            # Extra weights may be per sample (n,) or per element of the loss (ignored tokens).
            weights = extra if weights is None else _broadcast_rows(xp, weights, extra.ndim) * extra
        scale = self._scale(xp, weights, loss_shape, reduction, dtype)

        if out is not None:
            _check_out(out, _differentiable(self, arrays), xp)
        if is_numpy(xp) and self.separable and _use_blocks(pred):
            return _run_blocked(self, xp, arrays, options, weights, scale, reduction, value, gradient, hessian, out)

        self._check_values(xp, arrays, options)
        out_value = out_grad = out_hess = None
        if not self.separable and reduction != "none" and not hessian:
            # A sample's loss depends on the others: scaling gradient rows by wᵢ would be wrong,
            # so the loss takes the cotangent cᵢ = wᵢ·scale and differentiates Σᵢ cᵢℓᵢ itself.
            cotangent = _cotangent(xp, weights, scale, loss_shape, dtype, dev)
            out_value, out_grad = self._weighted_value_and_gradient(xp, arrays, options, cotangent, value, gradient)
            if gradient and out is not None:
                out_grad = _copy_into(out, out_grad)
            return out_value, out_grad, None
        if gradient and value:
            per_sample, grad = self._value_and_gradient(xp, *arrays, **options)
        else:
            per_sample = self._per_sample(xp, *arrays, **options) if value else None
            grad = self._gradient(xp, *arrays, **options) if gradient else None
        if value:
            out_value = _reduce(xp, per_sample, weights, scale, reduction)
        if gradient:
            out_grad = _map(grad, lambda g: _scale_rows(xp, g, weights, scale))
            if out is not None:
                out_grad = _copy_into(out, out_grad)
        if hessian:
            out_hess = _scale_rows(xp, self._hessian(xp, *arrays, **options), weights, scale)
        return out_value, out_grad, out_hess

    def _scale(self, xp: Any, weights: Any, loss_shape: tuple, reduction: str, dtype: Any) -> Any:
        """The factor on Σ wᵢℓᵢ: 1 for sum/none, 1/Σw (per element) for mean; 0 when Σw = 0."""
        if reduction != "mean":
            return 1.0
        per_weight = math.prod(loss_shape[1:] if weights is None else loss_shape[weights.ndim:])
        if weights is None:
            return 1.0 / math.prod(loss_shape)
        total = xp.sum(weights) * per_weight
        if is_tracing(total):
            return xp.where(total > 0, 1.0 / xp.where(total > 0, total, 1.0), 0.0)
        total = float(total)
        # Every sample ignored (a fully padded batch) is a normal case: 0, not 0/0.
        return 1.0 / total if total > 0 else 0.0


class LossOverflow(ValueError):
    """The loss of validated inputs is not finite (an overflow, or a target on a masked class).

    A ``ValueError``; the training engine catches it to report a diverged run."""


def _check_finite_result(loss: Loss, value: Any, arrays: tuple, options: dict) -> None:
    """A reduced loss of validated inputs that is not finite is an error, not a result: the
    loss explains why when it can (a masked true class), else it overflowed its dtype."""
    number = V.concrete(value)
    if number is not None and not math.isfinite(number):
        reason = loss._nonfinite_reason(arrays, options)
        if reason:
            raise LossOverflow(f"{loss.name}: {reason}")
        dtype = str(getattr(value, "dtype", "float64")).replace("torch.", "")
        hint = "" if dtype.endswith("float64") else " (or compute in float64)"
        raise LossOverflow(
            f"{loss.name}: the loss of these (finite) inputs overflows {dtype}: the true value exceeds the"
            f" largest representable number. Rescale the inputs{hint}."
        )


# --------------------------------------------------------------------------- reductions
def _map(grad: Any, fn: Callable[[Any], Any]) -> Any:
    return tuple(fn(g) for g in grad) if isinstance(grad, tuple) else fn(grad)


def _broadcast_rows(xp: Any, weights: Any, ndim: int) -> Any:
    return xp.reshape(weights, tuple(weights.shape) + (1,) * (ndim - weights.ndim))


def _cotangent(xp: Any, weights: Any, scale: Any, loss_shape: tuple, dtype: Any, device: Any) -> Any:
    """cᵢ = wᵢ·scale over the loss's shape: the factor on each ℓᵢ in the reduced value."""
    ones = xp.ones(loss_shape, dtype=dtype, device=device)
    c = ones if weights is None else ones * _broadcast_rows(xp, weights, len(loss_shape))
    return c if isinstance(scale, float) and scale == 1.0 else c * scale


def _scale_rows(xp: Any, values: Any, weights: Any, scale: Any) -> Any:
    if weights is not None:
        values = values * _broadcast_rows(xp, weights, values.ndim)
    if isinstance(scale, float) and scale == 1.0:
        return values
    return values * scale


def _reduce(xp: Any, per_sample: Any, weights: Any, scale: Any, reduction: str) -> Any:
    weighted = per_sample if weights is None else per_sample * _broadcast_rows(xp, weights, per_sample.ndim)
    if reduction == "none":
        return weighted
    total = xp.sum(weighted)
    if not (isinstance(scale, float) and scale == 1.0):
        total = total * scale
    return _scalar(xp, total)


def _scalar(xp: Any, value: Any) -> Any:
    # NumPy users get a NumPy scalar (prints as a number); other libraries a 0-d array.
    return value[()] if is_numpy(xp) and hasattr(value, "shape") else value


# --------------------------------------------------------------------------- row blocks
#: Bytes per block array: as large as possible while every block temporary stays below
#: glibc's mmap threshold (128 KiB). Larger ones are mapped fresh on every allocation and
#: page-fault on first touch (measured 5-10x slower per element); smaller blocks make more
#: NumPy calls, whose Python overhead the two threads then contend for under the GIL.
BLOCK_BYTES = 124 * 1024
#: Below this many elements the blocked path's bookkeeping costs more than it saves.
BLOCK_THRESHOLD = 1 << 18

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_num_threads = max(1, min(int(os.environ.get("LOSSLAB_NUM_THREADS", "0") or 0) or (os.cpu_count() or 1), 8))


def set_num_threads(n: int) -> None:
    """Threads used for large NumPy inputs (default: the number of cores, at most 8)."""
    global _pool, _num_threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool, _num_threads = None, n


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="losslab")
        return _pool


_blas_controller: Any = None


def _one_blas_thread() -> Any:
    """BLAS on one thread while the block threads run (threadpoolctl, when installed): a
    block's small dot products spawning BLAS threads of their own, beside our two, measured
    1.5-2x slower. The controller is built once (0.5 ms); each limit costs ~16 µs."""
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_controller = False
        else:
            _blas_controller = ThreadpoolController()
    if _blas_controller is False:
        return contextlib.nullcontext()
    return _blas_controller.limit(limits=1, user_api="blas")


def _use_blocks(pred: Any) -> bool:
    return pred.size >= BLOCK_THRESHOLD and pred.ndim >= 1 and pred.shape[0] > 1


def _run_blocked(
    loss: Loss,
    xp: Any,
    arrays: tuple,
    options: dict,
    weights: Any,
    scale: Any,
    reduction: str,
    value: bool,
    gradient: bool,
    hessian: bool,
    out: Any = None,
) -> tuple[Any, Any, Any]:
    """The same per-sample code, run on row blocks that stay in cache.

    Each thread takes a contiguous share of the rows and walks it block by block: check
    the block's values, compute it, write the weighted gradient into one preallocated
    output (``out=``) and add the block's weighted loss to a running sum. So the inputs
    are read once and the gradient written once, with no full-size temporary. Unweighted
    value-and-gradient calls use the loss's ``_fused_block`` kernel where it has one.
    """
    pred = arrays[loss.inputs.index(loss.differentiable_inputs[0])]
    n_rows = pred.shape[0]
    row_elems = max(1, math.prod(pred.shape[1:]))
    rows_per_block = max(1, BLOCK_BYTES * loss.block_scale // (pred.dtype.itemsize * row_elems))
    loss_shape = loss._loss_shape(arrays)
    per_sample_out = np.empty(loss_shape, dtype=pred.dtype) if value and reduction == "none" else None
    grad_out = None
    if gradient:
        grad_out = _as_tuple(out) if out is not None else tuple(
            np.empty(a.shape, dtype=a.dtype) for a in _differentiable(loss, arrays)
        )
    hess_out = np.empty(pred.shape, dtype=pred.dtype) if hessian else None
    scale_f = float(scale)

    def rows(x: Any, lo: int, hi: int) -> Any:
        return x[lo:hi] if hasattr(x, "shape") and x.ndim >= 1 and x.shape[0] == n_rows else x

    fused = (
        value and gradient and not hessian and weights is None and per_sample_out is None and not options
        and type(loss)._fused_block is not Loss._fused_block
    )

    def work(start: int, stop: int) -> float:
        total = 0.0
        for lo in range(start, stop, rows_per_block):
            hi = min(lo + rows_per_block, stop)
            block = tuple(rows(a, lo, hi) for a in arrays)
            if fused:
                partial = loss._fused_block(*block, scale_f, grad_out[0][lo:hi])
                if partial is not None:
                    total += partial
                    continue  # else: a non-finite block, which the generic path below checks
            block_options = {k: rows(v, lo, hi) for k, v in options.items()}
            loss._check_values(xp, block, block_options)
            w = None if weights is None else weights[lo:hi]
            if value and gradient:
                per_sample, grad = loss._value_and_gradient(xp, *block, **block_options)
            else:
                per_sample = loss._per_sample(xp, *block, **block_options) if value else None
                grad = loss._gradient(xp, *block, **block_options) if gradient else None
            if value:
                weighted = per_sample if w is None else per_sample * _broadcast_rows(np, w, per_sample.ndim)
                if per_sample_out is not None:
                    per_sample_out[lo:hi] = weighted
                else:
                    total += float(np.add.reduce(weighted, axis=None))
            if gradient:
                grads = grad if isinstance(grad, tuple) else (grad,)
                for g, out in zip(grads, grad_out):
                    _write_scaled(g, w, scale_f, out[lo:hi])
            if hessian:
                _write_scaled(loss._hessian(xp, *block, **block_options), w, scale_f, hess_out[lo:hi])
        return total

    n_threads = min(_num_threads, max(1, n_rows // rows_per_block))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(int)
    try:
        with _one_blas_thread():
            if n_threads == 1:
                totals = [work(0, n_rows)]
            else:
                futures = [_executor().submit(work, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
                totals = [f.result() for f in futures]
    except ValueError:
        # A block failed a value check: check the whole input again so that the message
        # gives indices into the caller's arrays, not into a block.
        loss._check_values(xp, arrays, options)
        raise
    out_value = out_grad = None
    if value:
        out_value = per_sample_out if per_sample_out is not None else np.float64(math.fsum(totals) * scale_f)
        if per_sample_out is None:
            out_value = out_value.astype(pred.dtype)
    if gradient:
        out_grad = grad_out if len(grad_out) > 1 else grad_out[0]
    return out_value, out_grad, hess_out


def _copy_into(out: Any, grad: Any) -> Any:
    """Write the gradient(s) into the caller's ``out=`` buffer(s) and return them."""
    for buffer, g in zip(_as_tuple(out), _as_tuple(grad)):
        np.copyto(buffer, g)
    return out


def _as_tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _check_out(out: Any, targets: tuple, xp: Any) -> None:
    buffers = _as_tuple(out)
    if not is_numpy(xp):
        raise TypeError("out= is for NumPy arrays; other libraries allocate their own results")
    if len(buffers) != len(targets):
        raise ValueError(f"out must hold {len(targets)} array(s), one per differentiable input; got {len(buffers)}")
    for buffer, target in zip(buffers, targets):
        if not isinstance(buffer, np.ndarray) or buffer.shape != target.shape or buffer.dtype != target.dtype:
            got = f"{type(buffer).__name__} {getattr(buffer, 'shape', '')} {getattr(buffer, 'dtype', '')}"
            raise ValueError(
                f"out must be a NumPy array of shape {tuple(target.shape)} and dtype {target.dtype}; got {got}"
            )


def _differentiable(loss: Loss, arrays: tuple) -> tuple:
    return tuple(arrays[loss.inputs.index(n)] for n in loss.differentiable_inputs)


def _write_scaled(values: Any, w: Any, scale: float, out: Any) -> None:
    if w is None:
        np.multiply(values, scale, out=out)
    else:
        np.multiply(values, _broadcast_rows(np, w * scale, values.ndim), out=out)


# --------------------------------------------------------------------------- registry
_REGISTRY: dict[str, type[Loss]] = {}
_ALIASES: dict[str, str] = {}
_PRESETS: dict[str, dict[str, Any]] = {}


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register(cls: type[Loss]) -> type[Loss]:
    """Class decorator: add a loss (and its aliases) to the catalog."""
    key = _normalise(cls.name)
    if key in _REGISTRY or key in _ALIASES:
        raise ValueError(f"a loss named {cls.name!r} is already registered")
    _REGISTRY[key] = cls
    for alias in (*cls.aliases, *cls.preset_aliases):
        _ALIASES[_normalise(alias)] = key
    for alias, preset in cls.preset_aliases.items():
        _PRESETS[_normalise(alias)] = dict(preset)
    cls.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default) for p in cls.parameters]
    )
    return cls


def unregister(name: str) -> None:
    """Remove a loss (and its aliases) from the catalog (for user losses)."""
    key = _normalise(name)
    _REGISTRY.pop(key, None)
    for alias in [a for a, k in _ALIASES.items() if k == key]:
        del _ALIASES[alias]
        _PRESETS.pop(alias, None)


def resolve(name: str) -> type[Loss]:
    """The Loss class registered under ``name`` or one of its aliases."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string or a Loss; got {type(name).__name__}")
    key = _normalise(name)
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(
            f"unknown loss {name!r}.{V.suggest(key, list(_REGISTRY) + list(_ALIASES))}"
            " `losslab list` (or losslab.catalog()) shows every loss."
        )
    return _REGISTRY[key]


def get(name: str | Loss, **params: Any) -> Loss:
    """The Loss registered under ``name`` (or an alias such as Keras's "mse"), built with ``params``.

    >>> get("mean_squared_error")
    MSE()
    >>> get("huber", delta=2.0)
    Huber(delta=2.0)
    >>> get("BCEWithLogitsLoss")       # a preset alias: PyTorch's defaults
    BinaryCrossEntropy(from_logits=True, label_smoothing=0.0, pos_weight=None)
    """
    if isinstance(name, Loss):
        if params:
            raise TypeError(f"params {sorted(params)} cannot be applied to an already built {name!r}")
        return name
    cls = resolve(name)
    preset = _PRESETS.get(_normalise(name), {})
    return cls(**{**preset, **params})


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    family: str
    description: str
    parameters: tuple[Param, ...]
    aliases: tuple[str, ...]
    cls: type[Loss] = field(repr=False)

    def build(self, **params: Any) -> Loss:
        return self.cls(**params)


def catalog(family: str | None = None) -> list[CatalogEntry]:
    """Every registered loss, by family then name."""
    entries = [
        CatalogEntry(cls.name, cls.family, cls.description, cls.parameters, cls.aliases, cls)
        for cls in _REGISTRY.values()
        if family is None or cls.family == family
    ]
    if family is not None and not entries:
        families = sorted({c.family for c in _REGISTRY.values()})
        raise ValueError(f"unknown family {family!r}; families are: {', '.join(families)}")
    return sorted(entries, key=lambda e: (e.family, e.name))


def functional(cls: type[Loss]) -> Callable[..., Any]:
    """The functional form of a loss: ``f(*arrays, sample_weight=None, reduction="mean", **params)``."""
    param_names = {p.name for p in cls.parameters}

    def loss_function(*arrays: Any, sample_weight: Any = None, reduction: str = "mean", **kwargs: Any) -> Any:
        params = {k: kwargs.pop(k) for k in list(kwargs) if k in param_names}
        return cls(**params)(*arrays, sample_weight=sample_weight, reduction=reduction, **kwargs)

    loss_function.__name__ = loss_function.__qualname__ = cls.name
    loss_function.__doc__ = cls.__doc__
    loss_function.__wrapped_loss__ = cls  # type: ignore[attr-defined]
    return loss_function


# --------------------------------------------------------------------------- helpers
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
