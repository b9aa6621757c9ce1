"""The array namespace: one place that knows which array library the caller uses.

Every loss is written once against the Array API (``xp.*`` calls only) and runs on
NumPy, PyTorch, JAX, array_api_strict and whatever else ``array-api-compat`` serves.
This module finds ``xp`` for the caller's arrays, turns Python lists into NumPy arrays,
and picks the floating dtype of the computation once.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from array_api_compat import array_namespace as _compat_namespace
from array_api_compat import is_array_api_obj

__all__ = [
    "array_namespace",
    "as_array",
    "is_numpy",
    "is_torch",
    "is_jax",
    "is_tracing",
    "float_dtype",
    "to_numpy",
    "index_dtype",
    "host_array",
]


def as_array(x: Any, name: str) -> Any:
    """Return ``x`` if it is an array of any library, else ``numpy.asarray(x)``.

    Python lists, tuples and scalars become NumPy arrays; strings and objects that are
    not numbers raise a ``TypeError`` naming the argument.
    """
    if is_array_api_obj(x):
        return x
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; got {type(x).__name__} ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be a numeric array (bool, integer or floating); got dtype {arr.dtype}"
            f" from {type(x).__name__}"
        )
    return arr


def array_namespace(*arrays: Any) -> Any:
    """The Array-API namespace shared by ``arrays`` (``None`` entries are skipped)."""
    present = [a for a in arrays if a is not None]
    try:
        return _compat_namespace(*present)
    except TypeError as exc:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in present})
        raise TypeError(
            f"all arrays must come from one array library; got {', '.join(kinds)}"
        ) from exc


def is_numpy(xp: Any) -> bool:
    return getattr(xp, "__name__", "") in ("numpy", "array_api_compat.numpy")


def is_torch(xp: Any) -> bool:
    return "torch" in getattr(xp, "__name__", "")


def is_jax(xp: Any) -> bool:
    return getattr(xp, "__name__", "").startswith("jax")


def is_tracing(x: Any) -> bool:
    """True while ``x`` is an abstract value under ``jax.jit``/``jax.grad`` tracing.

    Value checks need concrete numbers, so they are skipped for tracers (DESIGN §2).
    """
    jax_core = sys.modules.get("jax.core")
    if jax_core is None:
        return False
    tracer = getattr(jax_core, "Tracer", None)
    return tracer is not None and isinstance(x, tracer)


def _is_floating(xp: Any, dtype: Any) -> bool:
    return xp.isdtype(dtype, "real floating")


def float_dtype(xp: Any, *arrays: Any) -> Any:
    """The floating dtype of the computation.

    The result type of the floating inputs; integer and boolean inputs (labels, counts)
    do not take part, as in PyTorch's type promotion, so float32 predictions with
    integer labels stay float32. With no floating input, the library's default float.
    """
    floats = [a for a in arrays if a is not None and _is_floating(xp, a.dtype)]
    if floats:
        return xp.result_type(*floats)
    return xp.asarray(0.0).dtype


def index_dtype(xp: Any) -> Any:
    """The library's default integer dtype (int64; int32 on JAX without x64), for indices:
    asking JAX for int64 there warns and truncates."""
    return xp.asarray(0).dtype


def host_array(xp: Any, values: Any, like: Any) -> Any:
    """A parameter array (class weights, a cost matrix) in ``like``'s namespace, device and
    dtype, converted on the host first so that no library is asked for a dtype it lacks."""
    from array_api_compat import device

    host = np.asarray(values, dtype=np.float32 if like.dtype == xp.float32 else np.float64)
    return xp.asarray(host, dtype=like.dtype, device=device(like))


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of any array (detached from autograd, moved to the host)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    return np.asarray(x)
