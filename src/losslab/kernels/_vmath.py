"""Elementary functions written in numba so that LLVM vectorises the loops that call them.

numba lowers ``math.exp`` and ``math.log1p`` to scalar libm calls (no SVML in the wheels):
measured 4.1 ns per float32 and 6.6 ns per float64 exp, against 0.7 and 1.7 ns for NumPy's
SIMD loops. These versions are branch-free polynomials with the exponent handled through
integer bit casts, which LLVM turns into AVX2/AVX-512 code inside the loss loops: range
reduction after Cody and Waite, Taylor polynomials evaluated by Estrin's scheme, and the
classic correction of log(1 + x) for the rounding of 1 + x (Goldberg 1991, Theorem 4). The
kernels need log1p only on [0, 1] (softplus) or of 1 + t² (Cauchy, Barron), so there are two
specialised versions and no general one. Accuracy: within a few ulp of libm in float64 over
each function's domain (tests/test_kernels.py checks them).
Every function propagates NaN, and ±inf where the libm function would (log1p_unit, whose
domain is [0, 1], excepted).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

LN2_HI = 6.93147180369123816490e-01  # the high bits of log 2: k·LN2_HI is exact for |k| < 2^11
LN2_LO = 1.90821492927058770002e-10
LOG2E = 1.4426950408889634
LN2 = math.log(2.0)
SQRT2 = math.sqrt(2.0)
_ROUND = 6755399441055744.0  # 1.5·2^52
_JIT = dict(cache=True, error_model="numpy", forceinline=True)


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits (a free register move)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@intrinsic
def _bits_from_f64(typingctx, x):
    """Reinterpret a float64 as the int64 with the same bits."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


@njit(**_JIT)
def _exp_reduced(r):
    """e^r − 1 for |r| ≤ log(2)/2: Taylor to degree 13 (truncation below 2e-17 relative),
    evaluated by Estrin's scheme (a dependency chain of 5 multiply-adds, not 12)."""
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    b0 = 1.0 / 2.0 + r * (1.0 / 6.0)
    b1 = 1.0 / 24.0 + r * (1.0 / 120.0)
    b2 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    b3 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    b4 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    b5 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    q = (b0 + r2 * b1) + r4 * (b2 + r2 * b3) + r8 * (b4 + r2 * b5)
    return r2 * q + r


@njit(**_JIT)
def exp(x):
    """e^x for float64 x; 0 below −745.2, +inf above 709.8, NaN for NaN.

    x = k·log 2 + r with k = round(x/log 2); e^x = 2^k·e^r, and 2^k is applied as two
    powers of two (each a bit pattern) so that subnormal results come out right.
    """
    xc = min(max(x, -746.0), 710.0)  # NaN stays NaN through min/max? no: see the select below
    kf = (xc * LOG2E + _ROUND) - _ROUND  # round to nearest: adding 1.5·2^52 drops the fraction
    r = (xc - kf * LN2_HI) - kf * LN2_LO
    em1 = _exp_reduced(r)
    k = np.int64(kf)
    k1 = k >> 1
    k2 = k - k1
    s1 = _f64_from_bits((k1 + 1023) << 52)
    s2 = _f64_from_bits((k2 + 1023) << 52)
    y = ((1.0 + em1) * s1) * s2
    return y if x == x else x


@njit(**_JIT)
def expm1(x):
    """e^x − 1 for float64 x, accurate near 0 (the Taylor part is returned as is there)."""
    xc = min(max(x, -746.0), 710.0)
    kf = (xc * LOG2E + _ROUND) - _ROUND  # round to nearest: adding 1.5·2^52 drops the fraction
    r = (xc - kf * LN2_HI) - kf * LN2_LO
    em1 = _exp_reduced(r)
    k = np.int64(kf)
    k1 = k >> 1
    k2 = k - k1
    s1 = _f64_from_bits((k1 + 1023) << 52)
    s2 = _f64_from_bits((k2 + 1023) << 52)
    # k = 0: e^x − 1 is the polynomial itself, with no cancellation.
    y = em1 if k == 0 else ((1.0 + em1) * s1) * s2 - 1.0
    return y if x == x else x


@njit(**_JIT)
def _log1p_reduced(f):
    """log(1 + f) for f in [−0.3, 0.5) given f itself (1 + f is never rounded): 2·atanh(s) with
    s = f/(2 + f), |s| ≤ 0.2, summed to s^25 (truncation below 1e-19) by Estrin's scheme."""
    s = f / (2.0 + f)
    s2 = s * s
    s4 = s2 * s2
    s8 = s4 * s4
    # Σ_{k≥0} s^{2k}/(2k + 3) to k = 11
    p = ((1.0 / 3.0 + s2 * (1.0 / 5.0)) + s4 * (1.0 / 7.0 + s2 * (1.0 / 9.0))) + s8 * (
        (1.0 / 11.0 + s2 * (1.0 / 13.0)) + s4 * (1.0 / 15.0 + s2 * (1.0 / 17.0))) + (s8 * s8) * (
        (1.0 / 19.0 + s2 * (1.0 / 21.0)) + s4 * (1.0 / 23.0 + s2 * (1.0 / 25.0)))
    # 2·atanh(s) = f − s·f + 2s·s²·p, the f − s·f form keeping the leading term exact.
    return f - s * (f - 2.0 * s2 * p)


@njit(**_JIT)
def log(x):
    """log x for float64 x > 0 (subnormals included); log 0 = −inf, NaN below 0, log inf = inf.

    x = 2^e·m with m in [√½, √2); log m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.1716,
    summed to s^25 (truncation below 1e-19).
    """
    tiny = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if tiny else x  # 2^54 lifts subnormals to normal
    bits = _bits_from_f64(xs)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = _f64_from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    ef = np.float64(e) - (54.0 if tiny else 0.0)
    log_m = _log1p_reduced(m - 1.0)  # m − 1 is exact (Sterbenz)
    y = ef * LN2_HI + (log_m + ef * LN2_LO)
    if x == 0.0:
        y = -math.inf
    if not (x >= 0.0):  # negative or NaN
        y = math.nan
    if x == math.inf:
        y = math.inf
    return y


@njit(**_JIT)
def log1p_unit(x):
    """log(1 + x) for 0 ≤ x ≤ 1 (NaN propagated; outside [0, 1], inf included, the result
    means nothing): the argument of every softplus lies there. One division, no bit
    manipulation and no rounding correction, because 1 + x is never formed. For x < 1/2,
    log(1 + x) = 2·atanh(s) with s = x/(2 + x); for x ≥ 1/2, log(1 + x) = log 2 + 2·atanh(s)
    with f = (x − 1)/2 (exact, by Sterbenz's lemma) and s = f/(2 + f). |s| ≤ 0.2 either way,
    where ``_log1p_reduced``'s series truncates below 1e-19.
    """
    big = x >= 0.5
    log_m = _log1p_reduced((x - 1.0) * 0.5 if big else x)
    return (LN2_HI + (log_m + LN2_LO)) if big else log_m


# ----------------------------------------------------------------------------- composites
# The stable forms of losslab/_stable.py, one scalar at a time.
@njit(**_JIT)
def log1p_square_and_ratio(t):
    """(log(1 + t²), t/(1 + t²)) without overflow, with one log and two divisions.

    u = 1 + t² is rounded, and the rounding error (t² − (u − 1))/u is added back (Goldberg
    1991, Theorem 4); 1/u serves both results. Beyond |t| = 1e150 (where t² would overflow) the pair
    is (2·log|t|, 1/t), the limits to rounding. A loop that uses one of the two loses the
    other's arithmetic to dead-code elimination.
    """
    a = abs(t)
    big = a >= 1e150
    x = t * t
    u = 1.0 + x
    den = a if big else u
    inv = 1.0 / den
    corr = (x - (u - 1.0)) * inv
    value = (2.0 * log(den)) if big else (log(den) + corr)
    ratio = math.copysign(inv, t) if big else t * inv
    return value, ratio


@njit(**_JIT)
def log1p_square(t):
    """log(1 + t²) without overflow (``log1p_square_and_ratio``'s first result)."""
    return log1p_square_and_ratio(t)[0]


@njit(**_JIT)
def softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^{−|x|})."""
    return max(x, 0.0) + log1p_unit(exp(-abs(x)))


@njit(**_JIT)
def sigmoid(x):
    """1 / (1 + e^{−x}) through e^{−|x|}, which cannot overflow."""
    e = exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)


@njit(**_JIT)
def clip(x, low, high):
    """min(max(x, low), high) with NaN propagated (as NumPy's minimum/maximum do)."""
    y = low if x < low else x
    y = high if y > high else y
    return y


@njit(**_JIT)
def sign(x):
    """−1, 0 or +1 (NaN for NaN), as np.sign."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x * 0.0 if x != x else 0.0


# ----------------------------------------------------------------------------- float32
@intrinsic
def _f32_from_bits(typingctx, bits):
    """Reinterpret an int32 as the float32 with the same bits."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


_F32 = np.float32
_LOG2E_F = _F32(LOG2E)
_ROUND_F = _F32(12582912.0)  # 1.5·2^23
_LN2_HI_F = _F32(0.693359375)  # 8 significant bits: k·_LN2_HI_F is exact for |k| < 2^15
_LN2_LO_F = _F32(-2.12194440e-4)


@njit(**_JIT)
def exp_f32(x):
    """e^x in float32 arithmetic (twice the SIMD lanes of float64) for float32 x, relative
    error below 3e-7 (a few float32 ulp); results below 2.5e-38 (x < −86.6, the bottom of
    float32's normal range) are flushed to 0, +inf above 88.72, NaN for NaN. For a float32
    softmax, whose probabilities that small are 0 in any case.

    The polynomial is of degree 5 with near-minimax coefficients (tools/exp_f32_coefficients.py:
    1.06e-7 relative, where Taylor's series needs degree 6 for 1.6e-7), and 2^k is applied as
    2^(k−1)·2, one bit pattern: k − 1 stays in float32's normal exponents for x in
    [−86.6, 88.72]. Together they cut the float32 softmax kernel's arithmetic by 14% (0.64 →
    0.55 ns per logit on one thread, in cache: bench/softmax_in_cache.py) against degree 6
    with 2^k split in two.
    """
    xc = x if x > _F32(-86.6) else _F32(-86.6)  # selects: numba's min/max on float32 are calls
    xc = xc if xc < _F32(88.72) else _F32(88.72)
    kf = (xc * _LOG2E_F + _ROUND_F) - _ROUND_F
    r = (xc - kf * _LN2_HI_F) - kf * _LN2_LO_F
    r2 = r * r
    q = (_F32(0.499992311000824) + r * _F32(0.16667114198207855)) + r2 * (
        _F32(0.041890114545822144) + r * _F32(0.008312525227665901))
    em1 = r2 * q + r
    k = np.int32(kf)
    y = ((_F32(1.0) + em1) * _f32_from_bits((k + np.int32(126)) << np.int32(23))) * _F32(2.0)
    if x < _F32(-86.6):
        y = _F32(0.0)
    if x > _F32(88.72):
        y = _F32(math.inf)
    return y if x == x else x
