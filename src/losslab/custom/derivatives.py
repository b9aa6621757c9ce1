"""Derivatives of a user function: autodiff (PyTorch, JAX), finite differences, complex step.

- ``"auto"`` (default): PyTorch or JAX autodiff of the function itself, exact to rounding.
  Torch tensors use torch.autograd, JAX arrays jax.grad (also under jax.jit); NumPy and
  other arrays go through PyTorch when installed (float32 stays float32), else JAX (when
  its float64 is enabled or the input is float32), else finite differences. A function
  without ``xp`` is differentiated by autodiff only on its own backend's arrays.
- ``"finite_differences"``: 4th-order central differences in float64, steps
  h = ε^{1/5}·max(1, |x|) for the gradient (relative error about 1e-10 on smooth
  functions) and ε^{1/6}·max(1, |x|) for the Hessian (about 1e-8); within h of a kink
  they return a value between the one-sided derivatives.
- ``"complex_step"``: Im f(x + ih)/h with h = 1e-20: the gradient exact to rounding
  (about 1e-15) for functions analytic in y_pred (no abs, max, comparisons); the Hessian
  is 4th-order differences of those gradients (about 1e-11).

The loss object passed in has ``_call(xp, y_true, y_pred)`` (checked per-sample values),
``apply`` (the raw function), ``_method``, ``_takes_xp``, ``event_ndim`` and ``name``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from .._array import array_namespace, is_jax, is_numpy, is_torch, is_tracing, to_numpy

DERIVATIVES = ("auto", "torch", "jax", "finite_differences", "complex_step")


def derivatives(loss: Any, xp: Any, y_true: Any, y_pred: Any, *, hessian: bool) -> Any:
    method = loss._method
    if method == "auto":
        if is_torch(xp) or is_jax(xp):
            method = "torch" if is_torch(xp) else "jax"
        elif not loss._takes_xp:
            method = "finite_differences"
        elif _importable("torch"):
            method = "torch"
        elif _importable("jax") and (_jax_x64() or y_pred.dtype == xp.float32):
            method = "jax"
        else:
            method = "finite_differences"
    native = (method == "torch" and is_torch(xp)) or (method == "jax" and is_jax(xp))
    if native:
        return (_torch_derivative if method == "torch" else _jax_derivative)(loss, y_true, y_pred, hessian)
    if is_tracing(y_pred):
        raise TypeError(f"custom loss {loss.name!r}: derivatives={method!r} cannot run under jax tracing; use 'jax'")
    t, p = to_numpy(y_true), to_numpy(y_pred)
    if method == "torch":
        import torch

        out = _torch_derivative(loss, torch.from_numpy(np.ascontiguousarray(t)),
                                torch.from_numpy(np.ascontiguousarray(p)), hessian).numpy()
    elif method == "jax":
        import jax.numpy as jnp

        out = np.asarray(_jax_derivative(loss, jnp.asarray(t), jnp.asarray(p), hessian))
    elif method == "complex_step":
        out = _complex_step(loss, t, p, hessian)
    else:
        out = _finite_differences(loss, t, p, hessian)
    out = out.astype(p.dtype, copy=False)
    if is_numpy(xp):
        return out
    from array_api_compat import device

    return xp.asarray(out, device=device(y_pred))


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _jax_x64() -> bool:
    import jax

    return bool(jax.config.read("jax_enable_x64"))


def _torch_derivative(loss: Any, y_true: Any, y_pred: Any, hessian: bool) -> Any:
    import torch

    xp = array_namespace(y_pred)
    with torch.enable_grad():
        x = y_pred.detach().clone().requires_grad_(True)
        values = loss._call(xp, y_true.detach(), x)
        if not values.requires_grad:
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(values.sum(), x, create_graph=hessian)
        if not hessian:
            return g.detach()
        if not g.requires_grad:
            return torch.zeros_like(x)
        if loss.event_ndim == 0:
            # Elementwise: the Hessian of Σℓ is diagonal, so ∂(Σ g)/∂x is its diagonal.
            (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
            return torch.zeros_like(x) if h is None else h.detach()
        out = torch.zeros_like(x)
        for c in range(x.shape[-1]):
            (hc,) = torch.autograd.grad(g[..., c].sum(), x, retain_graph=True, allow_unused=True)
            if hc is not None:
                out[..., c] = hc[..., c].detach()
        return out


def _jax_derivative(loss: Any, y_true: Any, y_pred: Any, hessian: bool) -> Any:
    import jax
    import jax.numpy as jnp

    xp = array_namespace(y_pred)

    def total(x: Any) -> Any:
        return jnp.sum(loss._call(xp, y_true, x))

    grad = jax.grad(total)
    if not hessian:
        return grad(y_pred)
    if loss.event_ndim == 0:
        # Elementwise: H·1 is the diagonal of the (diagonal) Hessian.
        return jax.jvp(grad, (y_pred,), (jnp.ones_like(y_pred),))[1]
    columns = []
    for c in range(y_pred.shape[-1]):
        tangent = jnp.zeros_like(y_pred).at[..., c].set(1.0)
        columns.append(jax.jvp(grad, (y_pred,), (tangent,))[1][..., c])
    return jnp.stack(columns, axis=-1)


def _numpy_values(loss: Any, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    import array_api_compat.numpy as npx

    return np.asarray(loss._call(npx, t, p))


def _directions(p: np.ndarray, event_ndim: int) -> list[np.ndarray]:
    """Perturbation masks: all elements at once (elementwise), one class column at a time (rows)."""
    if event_ndim == 0:
        return [np.ones_like(p)]
    masks = []
    for c in range(p.shape[-1]):
        mask = np.zeros_like(p)
        mask[..., c] = 1.0
        masks.append(mask)
    return masks


def _finite_differences(loss: Any, t: np.ndarray, p: np.ndarray, hessian: bool) -> np.ndarray:
    t, p = t.astype(np.float64), p.astype(np.float64)
    eps = np.finfo(np.float64).eps
    out = np.zeros_like(p)
    f = lambda x: _numpy_values(loss, t, x)  # noqa: E731
    for mask in _directions(p, loss.event_ndim):
        if not hessian:
            h = eps ** (1 / 5) * np.maximum(1.0, np.abs(p)) * mask
            d = (-f(p + 2 * h) + 8 * f(p + h) - 8 * f(p - h) + f(p - 2 * h)) / 12
        else:
            h = eps ** (1 / 6) * np.maximum(1.0, np.abs(p)) * mask
            d = (-f(p + 2 * h) + 16 * f(p + h) - 30 * f(p) + 16 * f(p - h) - f(p - 2 * h)) / 12
        step = h if not hessian else h * h
        d = d.reshape(d.shape + (1,) * loss.event_ndim)
        out += np.where(mask > 0, d / np.where(step != 0, step, 1.0), 0.0)
    return out


def _complex_step(loss: Any, t: np.ndarray, p: np.ndarray, hessian: bool) -> np.ndarray:
    t, p = t.astype(np.float64), p.astype(np.float64)

    def grad(x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        for mask in _directions(x, loss.event_ndim):
            values = np.asarray(loss.apply(np, t, x + 1e-20j * mask))
            d = np.imag(values).reshape(values.shape + (1,) * loss.event_ndim) / 1e-20
            out += np.where(mask > 0, d, 0.0)
        return out

    if not hessian:
        return grad(p)
    out = np.zeros_like(p)
    for mask in _directions(p, loss.event_ndim):
        h = np.finfo(np.float64).eps ** (1 / 5) * np.maximum(1.0, np.abs(p)) * mask
        d = (-grad(p + 2 * h) + 8 * grad(p + h) - 8 * grad(p - h) + grad(p - 2 * h)) / 12
        out += np.where(mask > 0, d / np.where(h != 0, h, 1.0), 0.0)
    return out
