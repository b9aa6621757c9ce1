"""Independent oracles for gradients and Hessians: 4th-order central finite differences.

Differences are taken of the loss's pure per-sample function on the prepared inputs
(after dtype casting and target encoding, before the value checks), so that a step off a
constrained domain (probability rows) is still a valid evaluation of the formula.
"""

from __future__ import annotations

import itertools

import numpy as np

from array_api_compat import array_namespace


def _fd(f, x, index, h):
    def shifted(t):
        z = x.copy()
        z[index] += t
        return f(z)

    return (-shifted(2 * h) + 8 * shifted(h) - 8 * shifted(-h) + shifted(-2 * h)) / (12 * h)


def prepared(loss, arrays, options):
    xp = array_namespace(*arrays)
    arrays = tuple(np.asarray(a, dtype=float) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays)
    return xp, *loss._prepare(xp, arrays, dict(options))


def fd_gradient(loss, arrays, options, h=1e-4):
    """∂(Σᵢ ℓᵢ)/∂x for each differentiable input x (the 'sum' reduction's gradient)."""
    xp, arrays, options = prepared(loss, arrays, options)
    grads = []
    for name in loss.differentiable_inputs:
        k = loss.inputs.index(name)

        def total(z, k=k):
            args = list(arrays)
            args[k] = z
            return np.sum(np.asarray(loss._per_sample(xp, *args, **options)))

        x = np.asarray(arrays[k], dtype=float)
        g = np.empty_like(x)
        if loss.separable and x.ndim >= 1:
            # ℓᵢ depends on row i only: perturb one position of every row at once.
            for event in itertools.product(*(range(s) for s in x.shape[1:])):
                idx = (slice(None),) + event

                def per_row(z, k=k):
                    args = list(arrays)
                    args[k] = z
                    values = np.asarray(loss._per_sample(xp, *args, **options))
                    return values.reshape(values.shape[0], -1).sum(axis=1) if values.ndim > 1 else values

                g[idx] = _fd(per_row, x, idx, h * np.maximum(0.1, np.abs(x[idx])))
        else:
            for idx in np.ndindex(x.shape):
                g[idx] = _fd(total, x, idx, h * max(0.1, abs(x[idx])))
        grads.append(g)
    return grads


def fd_hessian_diagonal(loss, arrays, options, h=1e-3):
    """The diagonal of ∂²(Σᵢ ℓᵢ)/∂ŷ², as differences of the analytic gradient (separable losses)."""
    xp, arrays, options = prepared(loss, arrays, options)
    k = loss.inputs.index(loss.differentiable_inputs[0])
    x = np.asarray(arrays[k], dtype=float)
    out = np.empty_like(x)
    for event in itertools.product(*(range(s) for s in x.shape[1:])):
        idx = (slice(None),) + event

        def grad_at(z):
            args = list(arrays)
            args[k] = z
            g = loss._gradient(xp, *args, **options)
            return np.asarray(g[0] if isinstance(g, tuple) else g)[idx]

        out[idx] = _fd(grad_at, x, idx, h * np.maximum(0.1, np.abs(x[idx])))
    return out
