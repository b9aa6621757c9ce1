"""The engine: evaluates a loss's per-sample mathematics on the caller's arrays.

Two paths run the same pure per-sample code (``Loss._per_sample``, ``_gradient``,
``_hessian``, ``_value_and_gradient``):

- **direct**, for every library and for small inputs: one call on the whole arrays;
- **row blocks**, for large NumPy inputs of separable losses: a small thread pool (NumPy's
  ufuncs release the GIL) walks contiguous shares of the rows in blocks that stay in cache,
  checks each block's values, writes the weighted gradient into one preallocated output
  (or the caller's ``out=``) and adds the block's weighted loss to a running sum, so the
  inputs are read once and the gradient written once.

On the block path, a loss may supply ONE optional fast kernel, ``Loss._kernel``: for a
value-and-gradient call it writes scale·w·∂ℓ/∂ŷ for one block and returns Σwℓ (or None,
and the generic code runs that block, checking and naming any bad value). The generic code
stays the reference; the tests compare the two on the whole catalog.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from .. import kernels as compiled
from .._array import is_numpy
from . import weights as W

__all__ = ["set_num_threads", "one_blas_thread", "evaluate_direct", "evaluate_blocked", "use_blocks",
           "BLOCK_BYTES", "BLOCK_THRESHOLD"]

#: Bytes per block array: as large as possible while every block temporary stays below
#: glibc's mmap threshold (128 KiB). Larger ones are mapped fresh on every allocation and
#: page-fault on first touch (measured 5-10x slower per element); smaller blocks make more
#: NumPy calls, whose Python overhead the two threads then contend for under the GIL.
BLOCK_BYTES = 124 * 1024
#: Below this many elements the blocked path's bookkeeping costs more than it saves.
BLOCK_THRESHOLD = 1 << 18


def _threads_from_environment() -> int:
    """LOSSLAB_NUM_THREADS, or the number of cores (at most 8); a bad value is ignored with a
    warning rather than failing ``import losslab``."""
    text = os.environ.get("LOSSLAB_NUM_THREADS", "").strip()
    cores = max(1, min(os.cpu_count() or 1, 8))
    if not text:
        return cores
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        import warnings

        warnings.warn(
            f"LOSSLAB_NUM_THREADS must be a whole number >= 1; got {text!r}. Using {cores} threads.", stacklevel=2
        )
        return cores
    return min(n, 64)


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_num_threads = _threads_from_environment()


def set_num_threads(n: int) -> None:
    """Threads used for large NumPy inputs, by the row blocks and the compiled kernels
    (default: the number of cores, at most 8, or LOSSLAB_NUM_THREADS)."""
    global _pool, _num_threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool, _num_threads = None, n
    compiled.set_num_threads(n)  # the compiled kernels' own threads too


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="losslab")
        return _pool


_blas_controller: Any = None


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread (threadpoolctl, when installed).

    Used wherever losslab runs NumPy work on threads or processes of its own (row blocks,
    the experiments): a block's small matrix products spawning BLAS threads of their own,
    beside ours, measured 1.5-2x slower, and 4.6x with two Python threads. The controller is
    built once (0.5 ms); each limit costs ~16 µs.
    """
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


class NonFiniteDerivative(ArithmeticError):
    """A block's gradient or Hessian overflowed (the contract turns it into LossOverflow)."""


def _check_block(values: Any, what: str) -> None:
    # One read of a block in cache: a finite sum means every term is finite.
    with np.errstate(invalid="ignore", over="ignore"):
        if not math.isfinite(np.add.reduce(values, axis=None)) and not np.isfinite(values).all():
            raise NonFiniteDerivative(what)


def use_blocks(pred: Any) -> bool:
    return pred.size >= BLOCK_THRESHOLD and pred.ndim >= 1 and pred.shape[0] > 1


def _map(grad: Any, fn: Callable[[Any], Any]) -> Any:
    return tuple(fn(g) for g in grad) if isinstance(grad, tuple) else fn(grad)


def as_tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def copy_into(out: Any, grad: Any) -> Any:
    """Write the gradient(s) into the caller's ``out=`` buffer(s) and return them."""
    for buffer, g in zip(as_tuple(out), as_tuple(grad)):
        np.copyto(buffer, g)
    return out


def evaluate_direct(loss: Any, xp: Any, arrays: tuple, options: dict, weights: Any, scale: Any, reduction: str,
                    value: bool, gradient: bool, hessian: bool) -> tuple[Any, Any, Any]:
    """One call of the per-sample code on the whole arrays; weights applied here.

    NumPy's overflow warnings are silenced here, and the invalid-value ones an overflow
    leads to (inf − inf): a result that overflowed is not returned but raised as
    ``LossOverflow`` by the contract, with what overflowed and what to do, and every NaN
    that reaches a result is raised the same way.
    """
    with np.errstate(over="ignore", invalid="ignore") if is_numpy(xp) else contextlib.nullcontext():
        return _direct(loss, xp, arrays, options, weights, scale, reduction, value, gradient, hessian)


def _direct(loss: Any, xp: Any, arrays: tuple, options: dict, weights: Any, scale: Any, reduction: str,
            value: bool, gradient: bool, hessian: bool) -> tuple[Any, Any, Any]:
    out_value = out_grad = out_hess = None
    if gradient and value:
        per_sample, grad = loss._value_and_gradient(xp, *arrays, **options)
    else:
        per_sample = loss._per_sample(xp, *arrays, **options) if value else None
        grad = loss._gradient(xp, *arrays, **options) if gradient else None
    if value:
        out_value = W.reduce(xp, per_sample, weights, scale, reduction)
    if gradient:
        out_grad = _map(grad, lambda g: W.scale_rows(xp, g, weights, scale))
    if hessian:
        out_hess = W.scale_rows(xp, loss._hessian(xp, *arrays, **options), weights, scale)
    return out_value, out_grad, out_hess


def evaluate_blocked(loss: Any, xp: Any, arrays: tuple, options: dict, weights: Any, scale: Any, reduction: str,
                     value: bool, gradient: bool, hessian: bool, out: Any = None) -> tuple[Any, Any, Any]:
    """The same per-sample code, run on row blocks that stay in cache (see the module doc)."""
    differentiable = loss._differentiable(arrays)
    pred = differentiable[0]
    n_rows = pred.shape[0]
    row_elems = max(1, math.prod(pred.shape[1:]))
    rows_per_block = max(1, BLOCK_BYTES * loss.block_scale // (pred.dtype.itemsize * row_elems))
    loss_shape = loss._loss_shape(arrays)
    per_sample_out = np.empty(loss_shape, dtype=pred.dtype) if value and reduction == "none" else None
    grad_out = None
    if gradient:
        grad_out = as_tuple(out) if out is not None else tuple(np.empty(a.shape, dtype=a.dtype) for a in differentiable)
    hess_out = np.empty(pred.shape, dtype=pred.dtype) if hessian else None
    scale_f = float(scale)
    use_kernel = value and gradient and not hessian and per_sample_out is None and loss._has_kernel(options)
    if use_kernel and loss.kernel_takes_whole_input:
        # A compiled kernel reads the inputs once and writes the gradient once, on its own
        # threads; None (a value it leaves to the reference code to judge) falls back below.
        partial = loss._kernel(arrays, weights, scale_f, grad_out[0])
        if partial is not None and math.isfinite(partial):
            return np.asarray(partial, dtype=pred.dtype)[()], grad_out if len(grad_out) > 1 else grad_out[0], None
        use_kernel = False

    def rows(x: Any, lo: int, hi: int) -> Any:
        return x[lo:hi] if hasattr(x, "shape") and x.ndim >= 1 and x.shape[0] == n_rows else x

    def work(start: int, stop: int) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # per thread: overflow is checked and raised, not warned
            return walk(start, stop)

    def walk(start: int, stop: int) -> float:
        total = 0.0
        for lo in range(start, stop, rows_per_block):
            hi = min(lo + rows_per_block, stop)
            block = tuple(rows(a, lo, hi) for a in arrays)
            w = None if weights is None else weights[lo:hi]
            if use_kernel:
                partial = loss._kernel(block, w, scale_f, grad_out[0][lo:hi])
                if partial is not None and math.isfinite(partial):
                    total += partial
                    continue  # else: a bad or overflowing block, which the generic code checks
            block_options = {k: rows(v, lo, hi) for k, v in options.items()}
            loss._check_values(xp, block, block_options)
            if value and gradient:
                per_sample, grad = loss._value_and_gradient(xp, *block, **block_options)
            else:
                per_sample = loss._per_sample(xp, *block, **block_options) if value else None
                grad = loss._gradient(xp, *block, **block_options) if gradient else None
            if value:
                weighted = per_sample if w is None else per_sample * W.broadcast_rows(np, w, per_sample.ndim)
                if per_sample_out is not None:
                    per_sample_out[lo:hi] = weighted
                else:
                    partial = float(np.add.reduce(weighted, axis=None)) * scale_f
                    if not math.isfinite(partial) and np.all(np.isfinite(weighted)):
                        partial = float(np.add.reduce(weighted * scale_f, axis=None))
                    total += partial
            if gradient:
                for g, buffer in zip(as_tuple(grad), grad_out):
                    _write_scaled(g, w, scale_f, buffer[lo:hi])
                    _check_block(buffer[lo:hi], "the gradient")
            if hessian:
                _write_scaled(loss._hessian(xp, *block, **block_options), w, scale_f, hess_out[lo:hi])
                _check_block(hess_out[lo:hi], "the Hessian")
        return total

    n_threads = min(_num_threads, max(1, n_rows // rows_per_block))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(int)
    try:
        with one_blas_thread():
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
        if per_sample_out is not None:
            out_value = per_sample_out
        else:
            # Each block's partial is already scaled: the sum cannot overflow where the mean fits.
            finite = all(math.isfinite(t) for t in totals)
            out_value = np.asarray(math.fsum(totals) if finite else sum(totals), dtype=pred.dtype)[()]
    if gradient:
        out_grad = grad_out if len(grad_out) > 1 else grad_out[0]
    return out_value, out_grad, hess_out


def _write_scaled(values: Any, w: Any, scale: float, out: Any) -> None:
    if w is None:
        np.multiply(values, scale, out=out)
    else:
        np.multiply(values, W.broadcast_rows(np, w * scale, values.ndim), out=out)
