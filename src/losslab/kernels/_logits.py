"""Softmax cross-entropy (with focal, label smoothing, class weights, ignore_index) and
binary cross-entropy on logits: one parallel loop each, reading the logits once.

Softmax rows: the row maximum, then e^{z − max} written straight into the gradient row and
summed, then one scaling pass; the row stays in L1 between the three, so memory sees one
read of the logits and one write of the gradient. Totals are float64; a float32 row is
computed in float32 (its exp, sum and scaling), a float64 row in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _vmath as M

_FAST = {"reassoc", "contract"}
_LOG2 = math.log(2.0)


@njit(cache=True, error_model="numpy")
def _log1mexp(lp):
    """log(1 − e^{lp}) for lp ≤ 0, accurate on both sides of −log 2 (Mächler 2012)."""
    lp = min(lp, -2.2250738585072014e-308)
    if lp > -_LOG2:
        return math.log(-math.expm1(lp))
    return math.log1p(-math.exp(lp))


@njit(cache=True, error_model="numpy", forceinline=True)
def _row_max(row):
    """max(row) in float64, NaN ignored (the exp pass catches it). Eight running maxima:
    LLVM does not vectorise a max reduction that numba writes (no fast-math flags on its
    selects), but it runs eight independent compare-selects per cycle."""
    n = row.shape[0]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = -math.inf
    j = 0
    while j + 8 <= n:
        m0 = row[j] if row[j] > m0 else m0
        m1 = row[j + 1] if row[j + 1] > m1 else m1
        m2 = row[j + 2] if row[j + 2] > m2 else m2
        m3 = row[j + 3] if row[j + 3] > m3 else m3
        m4 = row[j + 4] if row[j + 4] > m4 else m4
        m5 = row[j + 5] if row[j + 5] > m5 else m5
        m6 = row[j + 6] if row[j + 6] > m6 else m6
        m7 = row[j + 7] if row[j + 7] > m7 else m7
        j += 8
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    while j < n:
        m = row[j] if row[j] > m else m
        j += 1
    return np.float64(m)


@njit(cache=True, fastmath=_FAST, error_model="numpy", forceinline=True)
def _exp_into(row, g, m, single):
    """g = e^{row − m}; returns Σ g in float64 (float32 rows: float32 arithmetic, twice the lanes)."""
    s = 0.0
    if single:
        # A float32 sum (converting every term to float64 cost 40% more time): LLVM splits it
        # into 32 partial sums, so each adds ~30 terms, relative error ~1e-7 (the output's).
        m32 = np.float32(m)
        part = np.float32(0.0)
        for j in range(row.shape[0]):
            e = M.exp_f32(row[j] - m32)
            g[j] = e
            part += e
        s = np.float64(part)
    else:
        for j in range(row.shape[0]):
            e = M.exp(np.float64(row[j]) - m)
            g[j] = e
            s += e
    return s


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _ce_row(row, g, label, c, ignored, scale, smoothing, gamma, single, limit):
    """One row: (c·ℓ, bad). ``g`` receives scale·c·∂ℓ/∂z; bad is 1 when the row needs the
    reference path (a NaN or +inf logit, only −inf logits, a label out of range)."""
    n_classes = row.shape[0]
    if ignored:
        # Not computed, but checked as the reference path checks every row.
        nonfinite = 0
        for j in range(n_classes):
            x = np.float64(row[j])
            nonfinite += 0 if (x == x and x < math.inf) else 1
        for j in range(n_classes):
            g[j] = 0.0
        return 0.0, 1 if (nonfinite > 0 or _row_max(row) == -math.inf) else 0
    if label < 0 or label >= n_classes:
        return 0.0, 1
    # One pass, shifted by the first logit instead of the row maximum: e^{z − z₀} stays
    # finite in the gradient's dtype unless the row spans more than ~88 (float32) or ~690
    # (float64), and the sum is ≥ 1 (it holds e^0), so nothing underflows that matters.
    # Otherwise (or for a NaN, ±inf logit) the row is redone shifted by its maximum.
    m = np.float64(row[0])
    s = _exp_into(row, g, m, single)
    if not (s <= limit):
        m = _row_max(row)
        if m == -math.inf:
            return 0.0, 1
        s = _exp_into(row, g, m, single)
        # A NaN or +inf logit makes the sum NaN (x − m or inf − inf): no separate check pass.
        if not (s < math.inf):
            return 0.0, 1
    zsum = 0.0
    if smoothing > 0.0:
        for j in range(n_classes):
            zsum += np.float64(row[j])
    keep = 1.0 - smoothing
    spread = smoothing / n_classes
    z_y = np.float64(row[label])
    lse = m + math.log(s)
    log_p = z_y - lse
    if gamma != 0.0:
        # Focal: ℓ = −(1 − p_y)^γ log p_y; its gradient is −a_y·(p − onehot) with
        # −a_y = (1 − p_y)^γ·(1 − γ·p_y log p_y/(1 − p_y)), computed in logs.
        log_q = _log1mexp(log_p)
        q_gamma = math.exp(gamma * log_q)
        loss = -q_gamma * log_p
        factor = q_gamma * (1.0 - gamma * log_p * math.exp(log_p - log_q))
    else:
        loss = lse - keep * z_y - spread * zsum
        factor = 1.0
    k = scale * c * factor
    inv = k / s
    shift = k * spread
    if single:  # float32 arithmetic: no conversions, twice the lanes
        inv32, shift32 = np.float32(inv), np.float32(shift)
        for j in range(n_classes):
            g[j] = g[j] * inv32 - shift32
    else:
        for j in range(n_classes):
            g[j] = g[j] * inv - shift
    g[label] -= k * keep
    return c * loss, 0


@njit(parallel=True, nogil=True, cache=True, error_model="numpy")
def softmax_ce(z, labels, weights, class_weight, ignore_index, scale, out, smoothing, gamma, flags):
    """Σᵢ cᵢℓᵢ over the rows, writing scale·cᵢ·∂ℓᵢ/∂zᵢ into ``out``.

    cᵢ = weights[i]·class_weight[yᵢ] (each used when its flag bit is set: 1 weights, 2
    class_weight, 4 ignore_index), 0 for ignored rows. Returns (total, n_bad): n_bad counts
    rows that need the reference path; the total is ±inf or NaN when a target sits on a
    masked (−inf) class.
    """
    use_w = (flags & 1) != 0
    use_cw = (flags & 2) != 0
    use_ignore = (flags & 4) != 0
    single = (flags & 8) != 0
    # the largest row sum whose terms all fit the gradient's dtype
    limit = 1e38 if single else 1e300
    total = 0.0
    n_bad = 0
    for i in prange(z.shape[0]):
        label = labels[i]
        ignored = use_ignore and label == ignore_index
        c = 1.0
        if use_w:
            c *= np.float64(weights[i])
        if use_cw and not ignored and label >= 0 and label < z.shape[1]:
            c *= np.float64(class_weight[label])
        part, bad = _ce_row(z[i], out[i], label, c, ignored, scale, smoothing, gamma, single, limit)
        total += part
        n_bad += bad
    return total, n_bad


@njit(parallel=True, nogil=True, cache=True, fastmath=_FAST, error_model="numpy")
def bce_logits(t, z, weights, scale, out, pos_weight, flags):
    """Σᵢ wᵢℓᵢ of binary cross-entropy on logits, writing scale·wᵢ·∂ℓᵢ/∂zᵢ into ``out``.

    With e = e^{−|z|}, a = e/(1 + e) = σ(−|z|) and d = [z ≥ +0] − t (losses/binary.py):
    ℓ = log1p(e) + z·d and ∂ℓ/∂z = d − copysign(a, z) (pos_weight 1); with pos_weight w,
    ℓ = w·t·softplus(−z) + (1 − t)·softplus(z), ∂ℓ/∂z = (1 − t)σ(z) − w·t·σ(−z).
    Returns (total, check, n_bad): check is NaN or ±inf when a logit is; n_bad counts
    targets outside [0, 1] (or NaN).
    """
    use_w = (flags & 1) != 0
    weighted_pos = (flags & 2) != 0
    total = 0.0
    check = 0.0
    n_bad = 0
    for i in prange(z.shape[0]):
        x = np.float64(z[i])
        y = np.float64(t[i])
        n_bad += 0 if (y >= 0.0 and y <= 1.0) else 1
        e = M.exp(-abs(x))
        sp = M.log1p_unit(e)
        a = e / (1.0 + e)
        pos = 1.0 if math.copysign(1.0, x) > 0.0 else 0.0
        if weighted_pos:
            wt = pos_weight * y
            sig = 1.0 - a if pos > 0.0 else a  # σ(z)
            sig_neg = a if pos > 0.0 else 1.0 - a  # σ(−z), exact where it is tiny
            value = wt * (sp + max(-x, 0.0)) + (1.0 - y) * (sp + max(x, 0.0))
            grad = (1.0 - y) * sig - wt * sig_neg
        else:
            d = pos - y
            value = sp + x * d
            grad = d - math.copysign(a, x)
        check += x * 0.0
        if use_w:
            w = np.float64(weights[i])
            total += w * value
            out[i] = scale * w * grad
        else:
            total += value
            out[i] = scale * grad
    return total, check, n_bad
