"""Numerically stable elementary functions, each written once.

Every loss that needs one of these calls it from here, so that each stability trick is
explained (and tested) in one place. All functions take the namespace ``xp`` first and
use only Array-API calls, so they run and differentiate on every backend. Where a
function branches, both branches are finite for every finite input, so that autograd
through ``xp.where`` never meets an inf or a NaN in the branch it discards.

Switch points and autodiff: ``max``, ``min``, ``abs`` and ``clip`` have no derivative at a
tie, and PyTorch and JAX split it (½ to each side) or take 0 there, which can make the
derivative of a stable form wrong exactly at its switch point (softplus at 0 would get a
gradient of 0 instead of ½). So the forms below pick each branch's operand with
``xp.where`` (whose derivative is 1 for the chosen operand) wherever a tie can sit at a
point where the loss is differentiable; the tests check every loss's autodiff gradient
against its analytic one at the switch points.
"""

from __future__ import annotations

import math
from typing import Any

LOG2 = math.log(2.0)


def clip(xp: Any, x: Any, low: float, high: float) -> Any:
    """min(max(x, low), high): NaN propagates; two plain ufuncs, where array_api_compat's
    ``clip`` wrapper for NumPy broadcasts its bounds first (measured 8x slower per call)."""
    return xp.minimum(xp.maximum(x, low), high)


def _is_numpy(xp: Any) -> bool:
    return getattr(xp, "__name__", "") in ("numpy", "array_api_compat.numpy")


def softplus(xp: Any, x: Any) -> Any:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): never overflows, exact for large |x|.

    Off NumPy (where autodiff may run) the two sides are chosen with ``where``, so that the
    derivative at x = 0 is σ(0) = ½ and not the split derivative of max and abs there.
    """
    if _is_numpy(xp):
        return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))
    positive = x > 0
    zero = xp.zeros_like(x)
    pos = xp.where(positive, x, zero)
    neg = xp.where(positive, zero, x)
    return xp.where(positive, pos + xp.log1p(xp.exp(-pos)), xp.log1p(xp.exp(neg)))


def sigmoid(xp: Any, x: Any) -> Any:
    """1 / (1 + e^{-x}) through e^{-|x|}, which cannot overflow on either side."""
    positive = x >= 0
    e = xp.exp(xp.where(positive, -x, x))  # e^{−|x|}, with a derivative at 0
    return xp.where(positive, 1.0 / (1.0 + e), e / (1.0 + e))


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


def _shifted(xp: Any, x: Any, axis: int) -> Any:
    """x − max(x) along ``axis`` (a row of −inf is shifted by 0, so it gives no NaN)."""
    row_max = xp.max(x, axis=axis, keepdims=True)
    row_max = xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))
    return x - row_max


def log_softmax(xp: Any, x: Any, axis: int = -1) -> Any:
    """(x − m) − log Σ e^{x − m}, m = max(x): the log-probabilities of a row of logits.

    Subtracting m before anything else keeps every digit of the largest entries: the form
    x − (m + log Σ e^{x−m}) rounds m + log Σ first and loses |m|·ε (in float32 at logits of
    ±1e4, 5e-4 of a probability of ½).
    """
    shifted = _shifted(xp, x, axis)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def softmax(xp: Any, x: Any, axis: int = -1) -> Any:
    """e^{x − m} / Σ e^{x − m}, m = max(x): never overflows; a −inf entry gives exactly 0."""
    return log_softmax_and_softmax(xp, x, axis)[1]


def log_softmax_and_softmax(xp: Any, x: Any, axis: int = -1) -> tuple[Any, Any]:
    """(log softmax x, softmax x) sharing one exponential; both from x − max(x)."""
    shifted = _shifted(xp, x, axis)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=axis, keepdims=True)
    return shifted - xp.log(total), e / total


def log1mexp(xp: Any, lp: Any) -> Any:
    """log(1 − e^{lp}) for lp ≤ 0, accurate on both sides of −log 2 (Mächler 2012).

    lp = 0 (a probability that rounds to 1) is moved to −tiny so that log(0) never runs;
    the true 1 − p is then below ε and every term that uses it is negligible.
    """
    tiny = float(xp.finfo(lp.dtype).smallest_normal)
    lp = xp.minimum(lp, -tiny)
    near_zero = xp.where(lp > -LOG2, lp, xp.full_like(lp, -LOG2))
    far = xp.where(lp > -LOG2, xp.full_like(lp, -LOG2), lp)
    return xp.where(lp > -LOG2, xp.log(-xp.expm1(near_zero)), xp.log1p(-xp.exp(far)))


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
    """log(1 + t²) without overflow: 2·log|t| + log1p(1/t²) once |t| ≥ 1 (t² overflows at 1e154).

    Each side's operand is chosen with ``where`` (not max/min), so that autodiff gives the
    derivative 2t/(1 + t²) at the switch |t| = 1 too.
    """
    small = xp.abs(t) < 1.0
    inner = xp.where(small, t, xp.zeros_like(t))
    outer = xp.where(small, xp.ones_like(t), t)
    inv = 1.0 / outer
    return xp.where(small, xp.log1p(inner * inner), 2.0 * xp.log(xp.abs(outer)) + xp.log1p(inv * inv))


def ratio_over_one_plus_square(xp: Any, t: Any) -> Any:
    """t / (1 + t²) without overflow: 1 / (t + 1/t) once |t| > 1 (operands chosen by ``where``)."""
    large = xp.abs(t) > 1.0
    inner = xp.where(large, xp.zeros_like(t), t)
    outer = xp.where(large, t, xp.ones_like(t))
    return xp.where(large, 1.0 / (outer + 1.0 / outer), inner / (1.0 + inner * inner))


def xlogy(xp: Any, x: Any, y: Any) -> Any:
    """x·log(y) with the convention 0·log(0) = 0 (entropy terms of one-hot targets)."""
    zero = x == 0
    safe_y = xp.where(zero, xp.ones_like(y), y)
    return xp.where(zero, xp.zeros_like(x), x * xp.log(safe_y))


def row_scale(xp: Any, x: Any, axis: int = -1) -> Any:
    """max(max|x| along ``axis``, 1), keepdims: divide a row by it before squaring, so that
    ‖x‖² cannot overflow (1e30 vectors in float32) while rows below 1 keep their scale."""
    top = xp.max(xp.abs(x), axis=axis, keepdims=True)
    return xp.where(top > 1.0, top, xp.ones_like(top))


def row_norm(xp: Any, x: Any, axis: int = -1, floor: float = 0.0) -> Any:
    """(‖x‖₂, keepdims) along ``axis`` without overflow: s·√(Σ(x/s)²), s = ``row_scale``;
    the square is floored at ``floor`` (a finite autodiff derivative at x = 0)."""
    s = row_scale(xp, x, axis)
    scaled = x / s
    squares = xp.sum(scaled * scaled, axis=axis, keepdims=True)
    if floor:
        squares = xp.maximum(squares, floor)
    return s * xp.sqrt(squares)


def safe_sqrt(xp: Any, x: Any, tiny: float) -> Any:
    """sqrt(x) whose autograd derivative at 0 is finite: sqrt(max(x, tiny)) where x > tiny."""
    return xp.where(x > tiny, xp.sqrt(xp.maximum(x, tiny)), xp.zeros_like(x))
