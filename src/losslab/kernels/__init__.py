"""Compiled, fused loss kernels (numba): one read of the inputs, one write of the gradient.

The NumPy code of each loss stays the reference; these kernels compute the same numbers
(tests/test_kernels.py compares them on every loss that has one) in one parallel loop, at
the memory-bandwidth limit where NumPy makes one pass over memory per ufunc
(bench/README.md). They are optional: without numba, or with ``LOSSLAB_KERNELS=0`` in the
environment, ``available()`` is False and every kernel returns None, and the caller runs
the NumPy path. numba is imported on the first kernel call, never at ``import losslab``;
each loop is compiled on its first call for a dtype and cached on disk (``cache=True``), so
the compile time (about a second per loop) is paid once per machine, not per process.

The interface (the engine's one kernel hook calls these; nothing here imports the loss
classes):

- ``distance(name, params, y_true, y_pred, scale, grad_out, weights=None)``: losses
  ρ(y_pred − y_true); writes scale·w·ρ′ into ``grad_out`` and returns Σ w·ρ;
- ``margin(name, params, y_true, y_pred, scale, grad_out, weights=None)``: losses φ(y·f),
  y in {−1, +1} or {0, 1}; writes scale·w·y·φ′(y·f), returns Σ w·φ;
- ``distance_hessian`` / ``margin_hessian`` (same arguments, ``hess_out``): write
  scale·w·ρ″ (φ″), return True;
- ``softmax_cross_entropy(logits, labels, scale, grad_out, ...)`` and
  ``bce_logits(y_true, logits, scale, grad_out, ...)``.

numba keys a cached loop on its own source file only: after editing ``_vmath.py`` (or a helper
in ``_logits.py``) delete ``__pycache__/*.nbi`` and ``*.nbc`` here, or the loops that inline it
keep their old code (installing a new version rewrites every file, which invalidates them all).

Every kernel returns None, having possibly written part of ``grad_out``, when it cannot
answer: no kernel for that loss, numba absent, an unsupported dtype, or an input the
reference path must judge (NaN or inf, labels outside the loss's domain, a target on a
masked class, an overflow); the caller then runs the NumPy path, which raises its precise
error or computes the value. ``weights`` is None, one weight per row (shape (n,) for
inputs of shape (n, ...)) or one per element (the inputs' shape). Returned sums are
Python floats accumulated in float64; gradients keep ``grad_out``'s dtype.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from typing import Any

import numpy as np

from . import _codegen

__all__ = [
    "available",
    "distance",
    "margin",
    "distance_hessian",
    "margin_hessian",
    "softmax_cross_entropy",
    "bce_logits",
    "set_num_threads",
    "DISTANCE_LOSSES",
    "MARGIN_LOSSES",
]

#: Catalog names with a kernel.
DISTANCE_LOSSES = tuple(k for k in _codegen.DISTANCE if not k.startswith("barron_"))
MARGIN_LOSSES = tuple(_codegen.MARGIN)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_state: dict[str, Any] = {"modules": None, "failed": False}
# numba's default "workqueue" threading layer aborts the process when two threads launch
# parallel loops at once; one launch at a time (each launch already uses every core).
_launch = threading.Lock()


def _default_threads() -> int:
    # The engine warns about a bad LOSSLAB_NUM_THREADS; here it just falls back to the cores.
    cores = max(1, min(os.cpu_count() or 1, 8))
    try:
        n = int(os.environ.get("LOSSLAB_NUM_THREADS", "").strip() or 0)
    except ValueError:
        n = 0
    return min(n, 64) if n >= 1 else cores


_threads = [_default_threads()]


def available() -> bool:
    """Whether the kernels can run: numba is installed (and importable, once tried) and
    ``LOSSLAB_KERNELS`` is not "0". Cheap: does not import numba."""
    if os.environ.get("LOSSLAB_KERNELS", "1").strip() == "0" or _state["failed"]:
        return False
    if _state["modules"] is not None:
        return True
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # ValueError: numba set to None in sys.modules
        return False


def set_num_threads(n: int) -> None:
    """Threads a kernel uses (default: the number of cores, at most 8, or LOSSLAB_NUM_THREADS)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    _threads[0] = n


#: CPUs whose 512-bit arithmetic runs at full clock (Ice Lake and later, AMD Zen 4 and 5);
#: Skylake-SP and Cascade Lake lower their clock for it, which is why LLVM's tuning prefers
#: 256-bit vectors on every AVX-512 CPU, and why they are left out.
WIDE_VECTOR_CPUS = frozenset({
    "icelake-server", "icelake-client", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids",
    "graniterapids", "graniterapids-d", "diamondrapids", "znver4", "znver5",
})
#: numba's own settings of the target; when the user set any of them, numba decides alone.
_NUMBA_TARGET_SETTINGS = ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME", "NUMBA_ENABLE_AVX")


def _import_numba() -> Any:
    """Import numba, on a CPU of WIDE_VECTOR_CPUS with its code generator set for 512-bit vectors.

    LLVM's tuning for AVX-512 CPUs prefers 256-bit vectors. The memory-bound kernels do not
    care, but the ones that evaluate exp and log per element (log_cosh, logistic, BCE, cauchy,
    barron, softmax) are bound by arithmetic on two cores and take 4-25% less time with 512-bit
    vectors (bench/README.md). numba fixes its target features when it creates its code
    generator, from ``NUMBA_CPU_FEATURES``: this sets that variable to the host's features plus
    ``-prefer-256-bit`` (a tuning preference, never an instruction the CPU lacks), creates the
    code generator, and removes the variable again, so that child processes do not inherit it.
    The code generator is the process's: numba code of the user's own compiled later in the
    same process gets the same preference. Nothing is done when numba is already imported,
    when the user set NUMBA_CPU_FEATURES, NUMBA_CPU_NAME or NUMBA_ENABLE_AVX, or with
    ``LOSSLAB_KERNELS_512=0``.
    """
    wide = not (
        "numba" in sys.modules
        or any(name in os.environ for name in _NUMBA_TARGET_SETTINGS)
        or os.environ.get("LOSSLAB_KERNELS_512", "1").strip() == "0"
    )
    if wide:
        try:
            import llvmlite.binding as llvm

            features = llvm.get_host_cpu_features()
            wide = llvm.get_host_cpu_name() in WIDE_VECTOR_CPUS and bool(features.get("avx512f"))
        except Exception:  # llvmlite absent or unable to query the CPU: numba decides alone
            wide = False
    if not wide:
        import numba

        return numba
    os.environ["NUMBA_CPU_FEATURES"] = features.flatten() + ",-prefer-256-bit"
    try:
        import numba
        from numba.core.registry import cpu_target

        cpu_target.target_context  # creates the code generator, which keeps the features
    finally:
        del os.environ["NUMBA_CPU_FEATURES"]
    return numba


def _modules() -> Any:
    """The compiled-kernel modules, imported on first use (this is where numba loads)."""
    if not available():
        return None
    if _state["modules"] is None:
        try:
            numba = _import_numba()

            from . import _elementwise, _logits
        except ImportError:
            _state["failed"] = True
            return None
        _state["modules"] = (numba, _elementwise, _logits)
    return _state["modules"]


_dispatchers: dict[str, Any] = {}


def _compiled(name: str) -> Any:
    """The numba dispatcher of a generated loop, made on first use (compiled, or loaded from
    the on-disk cache, on its first call)."""
    if name not in _dispatchers:
        numba, module = _state["modules"][0], _state["modules"][1]
        _dispatchers[name] = numba.njit(**module.OPTIONS)(getattr(module, name))
    return _dispatchers[name]


#: Below this many elements a launch on one thread beats waking the others.
_PARALLEL_MIN = 1 << 17


def _run(fn: Any, size: int, *args: Any) -> Any:
    numba = _state["modules"][0]
    threads = 1 if size < _PARALLEL_MIN else min(_threads[0], numba.config.NUMBA_NUM_THREADS)
    with _launch:
        numba.set_num_threads(threads)
        return fn(*args)


# ----------------------------------------------------------------------------- arguments
def _flat_pair(y_true: Any, y_pred: Any, out: Any, what: str) -> tuple | None:
    """(y_true, y_pred, out) as 1-D arrays; out may be a temporary (then copied back)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{what} must be a NumPy array; got {type(out).__name__}")
    if y_true.shape != y_pred.shape or out.shape != y_pred.shape:
        raise ValueError(
            f"y_true, y_pred and {what} must have one shape; got {y_true.shape}, {y_pred.shape} and {out.shape}"
        )
    if y_pred.dtype not in _FLOATS or out.dtype not in _FLOATS or y_true.dtype.kind not in "fiub":
        return None
    if y_true.dtype.kind == "f" and y_true.dtype not in _FLOATS:
        return None
    if y_true.dtype.kind == "b":
        y_true = y_true.view(np.uint8)
    flat_out = out.reshape(-1) if out.flags.c_contiguous and out.flags.writeable else np.empty(out.size, out.dtype)
    return y_true.reshape(-1), y_pred.reshape(-1), flat_out


def _flat_weights(weights: Any, shape: tuple) -> Any:
    """None, or one float weight per element of ``shape`` (row weights repeated)."""
    if weights is None:
        return None
    w = np.asarray(weights)
    if w.dtype.kind not in "fiub":
        raise TypeError(f"weights must be real numbers; got dtype {w.dtype}")
    if w.shape == shape:
        return w.reshape(-1)
    if len(shape) >= 1 and w.shape == shape[:1]:
        inner = int(np.prod(shape[1:], dtype=np.int64))
        return w if inner == 1 else np.repeat(w, inner)
    raise ValueError(f"weights must have shape {shape[:1]} (one per row) or {shape} (one per element); got {w.shape}")


def _finish(out: np.ndarray, flat: np.ndarray) -> None:
    if not np.shares_memory(out, flat):
        np.copyto(out, flat.reshape(out.shape))


def _finite(*values: float) -> bool:
    return all(np.isfinite(v) for v in values)


def _pointwise(kind: str, resolve: Any, name: str, params: dict, y_true: Any, y_pred: Any, scale: float,
                 out: Any, weights: Any, what: str) -> Any:
    chosen = resolve(name, params or {})
    if chosen is None or _modules() is None:
        return None
    arrays = _flat_pair(y_true, y_pred, out, "grad_out" if what == "vg" else "hess_out")
    if arrays is None:
        return None
    t, p, flat = arrays
    w = _flat_weights(weights, np.shape(y_pred))
    key, (p0, p1, p2) = chosen
    fn = _compiled(f"{kind}_{key}_{what}{'' if w is None else '_w'}")
    args = (t, p) + (() if w is None else (w,)) + (float(scale), flat, p0, p1, p2)
    result = _run(fn, p.size, *args)
    total, check = result[0], result[1]
    if not _finite(total, check):
        return None
    if kind == "margin":
        n_neg, n_zero, n_bad = result[2:]
        if n_bad or (n_neg and n_zero):
            return None
    _finish(out, flat)
    return float(total) if what == "vg" else True


# ----------------------------------------------------------------------------- interface
def distance(name: str, params: dict, y_true: Any, y_pred: Any, scale: float, grad_out: Any,
             weights: Any = None) -> float | None:
    """Σ w·ρ(y_pred − y_true), writing scale·w·ρ′ into ``grad_out``; None when not computed.

    ``name`` is the catalog name (``DISTANCE_LOSSES``), ``params`` the loss's parameters
    (``loss.params``; missing ones take the catalog defaults).
    """
    return _pointwise("distance", _codegen.resolve_distance, name, params, y_true, y_pred, scale, grad_out,
                        weights, "vg")


def margin(name: str, params: dict, y_true: Any, y_pred: Any, scale: float, grad_out: Any,
           weights: Any = None) -> float | None:
    """Σ w·φ(y·f) for labels y in {−1, +1} or {0, 1} (0 read as −1), writing scale·w·y·φ′(y·f)
    into ``grad_out``; None when not computed (also for labels outside those sets, or a mix
    of −1 and 0)."""
    return _pointwise("margin", _codegen.resolve_margin, name, params, y_true, y_pred, scale, grad_out,
                        weights, "vg")


def distance_hessian(name: str, params: dict, y_true: Any, y_pred: Any, scale: float, hess_out: Any,
                     weights: Any = None) -> bool | None:
    """Writes scale·w·ρ″(y_pred − y_true) into ``hess_out``; True, or None when not computed."""
    return _pointwise("distance", _codegen.resolve_distance, name, params, y_true, y_pred, scale, hess_out,
                        weights, "hess")


def margin_hessian(name: str, params: dict, y_true: Any, y_pred: Any, scale: float, hess_out: Any,
                   weights: Any = None) -> bool | None:
    """Writes scale·w·φ″(y·f) into ``hess_out``; True, or None when not computed."""
    return _pointwise("margin", _codegen.resolve_margin, name, params, y_true, y_pred, scale, hess_out,
                        weights, "hess")


def softmax_cross_entropy(logits: Any, labels: Any, scale: float, grad_out: Any, weights: Any = None,
                          class_weight: Any = None, ignore_index: int | None = None,
                          label_smoothing: float = 0.0, gamma: float = 0.0) -> float | None:
    """Softmax cross-entropy of (N, C) logits and N class indices, one pass per row.

    Returns Σᵢ cᵢℓᵢ and writes scale·cᵢ·∂ℓᵢ/∂z into ``grad_out`` (N, C), with
    cᵢ = weights[i]·class_weight[yᵢ] (0 for a label equal to ``ignore_index``: its gradient
    row is 0). ℓᵢ = logsumexp(zᵢ) − (1 − ε)·z_{i,yᵢ} − ε·mean(zᵢ) for label smoothing ε
    (the smoothing term weighted by the true class, as losses/multiclass.py), or, for
    ``gamma`` > 0, the softmax focal loss −(1 − p_y)^γ log p_y (its α is a constant factor:
    multiply ``scale`` and the result by it). −inf logits (masked classes) are allowed.
    For "mean", scale = 1/Σᵢ cᵢ is the caller's. ``weights`` must not already contain the
    class weights when ``class_weight`` is given.
    """
    if _modules() is None:
        return None
    z, y = np.asarray(logits), np.asarray(labels)
    if z.ndim != 2 or y.shape != z.shape[:1]:
        raise ValueError(f"logits must be (N, C) and labels (N,); got {z.shape} and {y.shape}")
    if not isinstance(grad_out, np.ndarray) or grad_out.shape != z.shape:
        raise ValueError(f"grad_out must be a NumPy array of shape {z.shape}")
    if not 0.0 <= float(label_smoothing) < 1.0 or not float(gamma) >= 0.0:
        raise ValueError(f"label_smoothing must be in [0, 1) and gamma >= 0; got {label_smoothing} and {gamma}")
    if gamma and label_smoothing:
        raise ValueError("gamma (focal) and label_smoothing cannot be combined: no loss of the catalog does both")
    if z.dtype not in _FLOATS or grad_out.dtype not in _FLOATS or y.dtype.kind not in "iu":
        return None
    if z.shape[0] == 0:
        return 0.0
    z = np.ascontiguousarray(z)
    flags = 0
    w = np.zeros(1)
    if weights is not None:
        w = _flat_weights(weights, z.shape[:1])
        flags |= 1
    cw = np.zeros(1)
    if class_weight is not None:
        cw = np.asarray(class_weight, dtype=np.float64).reshape(-1)
        if cw.shape != (z.shape[1],):
            raise ValueError(f"class_weight must have one entry per class, {z.shape[1]}; got {cw.size}")
        flags |= 2
    ignore = 0
    if ignore_index is not None:
        ignore = int(ignore_index)
        flags |= 4
    if z.dtype == np.float32 and grad_out.dtype == np.float32:
        flags |= 8  # float32 in and out: the float32-accurate exp
    out = grad_out if grad_out.flags.c_contiguous and grad_out.flags.writeable else np.empty(z.shape, grad_out.dtype)
    total, n_bad = _run(_state["modules"][2].softmax_ce, z.size, z, y.astype(np.int64, copy=False), w, cw, ignore,
                        float(scale), out, float(label_smoothing), float(gamma), flags)
    if n_bad or not np.isfinite(total):
        return None
    if out is not grad_out:
        np.copyto(grad_out, out)
    return float(total)


def bce_logits(y_true: Any, logits: Any, scale: float, grad_out: Any, weights: Any = None,
               pos_weight: float | None = None) -> float | None:
    """Binary cross-entropy on logits: Σ w·ℓ, writing scale·w·∂ℓ/∂z into ``grad_out``.

    y_true in [0, 1] (soft labels; apply label smoothing to them first), any shape equal
    to the logits'; ``pos_weight`` weighs the positive term (PyTorch's). None when not
    computed (NaN or inf logits, targets outside [0, 1]).
    """
    if _modules() is None:
        return None
    arrays = _flat_pair(y_true, logits, grad_out, "grad_out")
    if arrays is None:
        return None
    t, z, flat = arrays
    w = _flat_weights(weights, np.shape(logits))
    flags = (0 if w is None else 1) | (0 if pos_weight in (None, 1, 1.0) else 2)
    total, check, n_bad = _run(_state["modules"][2].bce_logits, z.size, t, z, np.zeros(1) if w is None else w,
                               float(scale), flat, 1.0 if pos_weight is None else float(pos_weight), flags)
    if n_bad or not _finite(total, check):
        return None
    _finish(grad_out, flat)
    return float(total)
