"""Numerically stable elementary functions, each written once.

Every loss that needs one of these calls it from here, so that each stability trick is
explained (and tested) in one place. All functions take the namespace ``xp`` first and
use only Array-API calls, so they run and differentiate on every backend. Where a
function branches, both branches are finite for every finite input, so that autograd
through ``xp.where`` never meets an inf or a NaN in the branch it discards.
"""

from __future__ import annotations

import math
from typing import Any

LOG2 = math.log(2.0)


def clip(xp: Any, x: Any, low: float, high: float) -> Any:
    """min(max(x, low), high): NaN propagates; two plain ufuncs, where array_api_compat's
    ``clip`` wrapper for NumPy broadcasts its bounds first (measured 8x slower per call)."""
    return xp.minimum(xp.maximum(x, low), high)


def softplus(xp: Any, x: Any) -> Any:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): never overflows, exact for large |x|."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid(xp: Any, x: Any) -> Any:
    """1 / (1 + e^{-x}) through e^{-|x|}, which cannot overflow on either side."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(xp: Any, x: Any) -> Any:
    """log σ(x) = −softplus(−x): exact in the far negative tail where σ underflows."""
    return -softplus(xp, -x)


def logsumexp(xp: Any, x: Any, axis: int = -1, keepdims: bool = False) -> Any:
    """log Σ e^x along ``axis``, shifted by the row maximum.

    A row maximum of −inf (every entry masked) is replaced by 0 so that the shift itself
    gives no NaN; such rows come out as −inf, which callers reject.
    """
    row_max = xp.max(x, axis=axis, keepdims=True)
    row_max = xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))
    # exp(−inf − max) = 0: a −inf logit (a masked class) simply drops out of the sum.
    out = xp.log(xp.sum(xp.exp(x - row_max), axis=axis, keepdims=True)) + row_max
    return out if keepdims else xp.squeeze(out, axis=axis)


def log_softmax(xp: Any, x: Any, axis: int = -1) -> Any:
    """x − logsumexp(x): the log-probabilities of a row of logits."""
    return x - logsumexp(xp, x, axis=axis, keepdims=True)


def log_cosh_and_tanh(xp: Any, x: Any) -> tuple[Any, Any]:
    """(log cosh x, tanh x), accurate to a few ulp for every finite x, sharing one expm1.

    With m = expm1(|x|): cosh|x| − 1 = m²/(2(m + 1)), so log cosh x = log1p(m²/(2(m + 1)))
    keeps every digit near 0, where the common form |x| + log1p(e^{−2|x|}) − log 2 has a
    relative error of order 1 (at |x| = 1e-8), and log(cosh x) overflows (at |x| ≈ 710).
    Beyond |x| = 30, log1p(e^{−2|x|}) is below an ulp of |x|, so log cosh x = |x| − log 2
    exactly; |x| is clipped to 30 inside expm1 so no branch overflows.
    tanh|x| = q/(q + 2) with q = m(m + 2) = e^{2|x|} − 1, and tanh x takes x's sign.
    """
    a = xp.abs(x)
    m = xp.expm1(xp.minimum(a, 30.0))
    value = xp.where(a < 30.0, xp.log1p(m * m / (2.0 * (m + 1.0))), a - LOG2)
    q = m * (m + 2.0)
    return value, xp.copysign(q / (q + 2.0), x)


def log_cosh(xp: Any, x: Any) -> Any:
    """log(cosh x), accurate to a few ulp for every finite x (see ``log_cosh_and_tanh``)."""
    return log_cosh_and_tanh(xp, x)[0]


def log1p_square(xp: Any, t: Any) -> Any:
    """log(1 + t²) without overflow: 2·log|t| + log1p(1/t²) once |t| > 1 (t² overflows at 1e154)."""
    a = xp.abs(t)
    small = xp.minimum(a, 1.0)
    large = xp.maximum(a, 1.0)
    inv = 1.0 / large
    return xp.where(a < 1.0, xp.log1p(small * small), 2.0 * xp.log(large) + xp.log1p(inv * inv))


def ratio_over_one_plus_square(xp: Any, t: Any) -> Any:
    """t / (1 + t²) without overflow: 1 / (t + 1/t) once |t| > 1."""
    a = xp.abs(t)
    inner = clip(xp, t, -1.0, 1.0)
    outer = xp.where(a > 1.0, t, xp.ones_like(t))
    return xp.where(a > 1.0, 1.0 / (outer + 1.0 / outer), inner / (1.0 + inner * inner))


def xlogy(xp: Any, x: Any, y: Any) -> Any:
    """x·log(y) with the convention 0·log(0) = 0 (entropy terms of one-hot targets)."""
    zero = x == 0
    safe_y = xp.where(zero, xp.ones_like(y), y)
    return xp.where(zero, xp.zeros_like(x), x * xp.log(safe_y))


def safe_sqrt(xp: Any, x: Any, tiny: float) -> Any:
    """sqrt(x) whose autograd derivative at 0 is finite: sqrt(max(x, tiny)) where x > tiny."""
    return xp.where(x > tiny, xp.sqrt(xp.maximum(x, tiny)), xp.zeros_like(x))
