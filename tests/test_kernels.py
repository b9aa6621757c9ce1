"""The compiled kernels (losslab.kernels) against the NumPy reference path, loss by loss.

Every reference value comes from ``ll.get(name, **params)`` with ``LOSSLAB_KERNELS=0``, so
that it is the pure NumPy code even once the engine routes calls through the kernels.
reduction="sum" makes the reference Σ w·ℓ with gradient w·ℓ′, which is what a kernel
returns with scale = 1. Tolerances: float64 1e-12 relative (the kernels compute in float64
with the same stable forms; the elementary functions are within a few ulp of libm);
float32 2e-5, because the reference computes in float32 and the kernels in float64.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

pytest.importorskip("numba")

import losslab as ll  # noqa: E402
from losslab import kernels as K  # noqa: E402
from losslab.kernels import _codegen  # noqa: E402

TOL = {np.float64: 1e-12, np.float32: 2e-5}

DISTANCE_CASES = [
    ("mse", {}), ("mae", {}), ("huber", {"delta": 0.7}), ("smooth_l1", {"beta": 2.0}), ("log_cosh", {}),
    ("pseudo_huber", {"delta": 0.7}), ("expectile", {"tau": 0.8}),
    ("quantile", {"q": 0.8}), ("epsilon_insensitive", {"epsilon": 0.3}),
    ("squared_epsilon_insensitive", {"epsilon": 0.3}), ("cauchy", {"scale": 1.5}), ("tukey", {"c": 2.0}),
    ("barron", {"alpha": 2.0, "scale": 1.3}), ("barron", {"alpha": 0.0, "scale": 1.3}),
    ("barron", {"alpha": -math.inf, "scale": 1.3}), ("barron", {"alpha": 1.0, "scale": 0.8}),
    ("barron", {"alpha": -2.0, "scale": 1.0}), ("barron", {"alpha": 0.5, "scale": 2.0}),
    ("barron", {"alpha": 3.5, "scale": 1.0}),
]
MARGIN_CASES = [
    ("hinge", {"margin": 0.5}), ("squared_hinge", {}), ("smoothed_hinge", {}), ("modified_huber", {}),
    ("logistic", {}), ("exponential", {}), ("perceptron", {}), ("zero_one", {}),
]


@pytest.fixture
def reference(monkeypatch):
    """(value, gradient) of the NumPy path with reduction="sum"."""

    def run(name, params, *arrays, method="value_and_gradient", **kwargs):
        monkeypatch.setenv("LOSSLAB_KERNELS", "0")
        try:
            return getattr(ll.get(name, **params), method)(*arrays, reduction="sum", **kwargs)
        finally:
            monkeypatch.delenv("LOSSLAB_KERNELS")

    return run


def close(got, want, dtype, what):
    tol = TOL[dtype]
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


def test_generated_module_is_current():
    """_elementwise.py is the expansion of the specs (rewrite it with _codegen.py)."""
    assert _codegen.TARGET.read_text(encoding="utf-8") == _codegen.render()


def test_every_distance_and_margin_loss_of_the_catalog_has_a_kernel():
    from losslab.loss.shapes import DistanceLoss, MarginLoss

    # Every loss written as ρ(r) or φ(m) (a class that only borrows a shape's label handling,
    # as hinge_embedding does, writes its own per-sample code and has no scalar ρ or φ).
    for entry in ll.catalog():
        if issubclass(entry.cls, DistanceLoss) and entry.cls._rho is not DistanceLoss._rho:
            assert entry.name in K.DISTANCE_LOSSES, entry.name
        if issubclass(entry.cls, MarginLoss) and entry.cls._phi is not MarginLoss._phi:
            assert entry.name in K.MARGIN_LOSSES, entry.name


# ----------------------------------------------------------------------------- elementwise
def _distance_inputs(rng, dtype, shape):
    y = rng.normal(0.0, 2.0, size=shape)
    # residuals on every scale: inside the quadratic zones, near the thresholds, far out
    r = rng.normal(0.0, 1.0, size=shape) * np.exp(rng.uniform(-6.0, 4.0, size=shape))
    return y.astype(dtype), (y + r).astype(dtype)


def _margin_inputs(rng, dtype, shape, zero_one_labels):
    y = rng.integers(0, 2, size=shape).astype(dtype)
    if not zero_one_labels:
        y = 2 * y - 1
    f = rng.normal(0.0, 3.0, size=shape).astype(dtype)
    return y, f


#: float32 is compiled and checked for a loss of each kind of stable form only: each dtype is
#: a compilation of its own (about a second of CPU each in a fresh clone, where numba's disk
#: cache is empty), and the float32 code is the same template as the float64 one.
FLOAT32_NAMES = ("mse", "huber", "log_cosh", "cauchy", "barron", "logistic", "hinge", "exponential")
DTYPE_CASES = [(n, p, np.float64) for n, p in DISTANCE_CASES + MARGIN_CASES] + [
    (n, p, np.float32) for n, p in DISTANCE_CASES + MARGIN_CASES if n in FLOAT32_NAMES
]
DTYPE_IDS = [f"{n}{p}-{np.dtype(d).name}" for n, p, d in DTYPE_CASES]


@pytest.mark.parametrize("weighting", ["none", "rows", "elements"])
@pytest.mark.parametrize("name,params,dtype", DTYPE_CASES, ids=DTYPE_IDS)
def test_value_and_gradient_match_numpy(name, params, dtype, weighting, reference):
    rng = np.random.default_rng(zlib.crc32(f"{name}{params}{weighting}".encode()))
    shape = (400, 3)
    margin = name in K.MARGIN_LOSSES
    if margin:
        y, p = _margin_inputs(rng, dtype, shape, zero_one_labels=weighting == "rows")
    else:
        y, p = _distance_inputs(rng, dtype, shape)
    w = None
    if weighting == "rows":
        w = rng.uniform(0.0, 2.0, size=shape[0]).astype(dtype)
    elif weighting == "elements":
        w = rng.uniform(0.0, 2.0, size=shape).astype(dtype)
    kwargs = {} if w is None else {"sample_weight": w}
    if weighting == "elements":
        # the catalog's sample weights are per row: per-element weights are the row loss of
        # a 1-D input with one weight per element
        y, p, w = y.ravel(), p.ravel(), w.ravel()
        kwargs = {"sample_weight": w}
    want_value, want_grad = reference(name, params, y, p, **kwargs)
    grad = np.empty_like(p)
    fn = K.margin if margin else K.distance
    value = fn(name, params, y, p, 1.0, grad, weights=w)
    assert value is not None
    close(value, want_value, dtype, f"{name} value")
    close(grad, want_grad, dtype, f"{name} gradient")
    assert grad.dtype == p.dtype


@pytest.mark.parametrize("name,params,dtype", DTYPE_CASES, ids=DTYPE_IDS)
def test_hessian_matches_numpy(name, params, dtype, reference):
    rng = np.random.default_rng(7)
    margin = name in K.MARGIN_LOSSES
    y, p = _margin_inputs(rng, dtype, 500, False) if margin else _distance_inputs(rng, dtype, 500)
    w = rng.uniform(0.5, 1.5, size=500).astype(dtype)
    want = reference(name, params, y, p, method="hessian", sample_weight=w)
    hess = np.empty_like(p)
    fn = K.margin_hessian if margin else K.distance_hessian
    assert fn(name, params, y, p, 1.0, hess, weights=w) is True
    close(hess, want, dtype, f"{name} Hessian")


@pytest.mark.parametrize("name,params", DISTANCE_CASES, ids=[f"{n}{p}" for n, p in DISTANCE_CASES])
def test_extreme_residuals(name, params, reference):
    """Residuals from 1e-300 to 1e300 (float64): the stable forms keep every value exact or
    finite where the reference is; a kernel may decline (None) only where the reference
    value overflows."""
    y = np.zeros(12)
    p = np.array([1e-300, -1e-300, 1e-8, -3e-5, 0.0, 29.9, -30.1, 700.0, 1e6, -1e150, 1e300, -1e300])
    with np.errstate(over="ignore"):
        want_total = None
        try:
            want_total, want_grad = reference(name, params, y, p)
        except (ValueError, ArithmeticError):
            pass
    grad = np.empty_like(p)
    value = K.distance(name, params, y, p, 1.0, grad)
    if want_total is None or not np.isfinite(want_total):
        assert value is None
        return
    assert value is not None
    close(value, want_total, np.float64, f"{name} value")
    close(grad, want_grad, np.float64, f"{name} gradient")


@pytest.mark.parametrize("delta", [1e5, 1e10])
def test_pseudo_huber_with_a_large_delta_past_the_square_overflow(delta, reference):
    """|r| beyond 1.34e154 (where r² overflows) but |r/δ| well below 1e150: the kernel must not
    form r² there (δ²(h − 1) from |r/δ| = 1 on), and gives the reference's finite numbers."""
    y = np.zeros(4)
    p = np.array([1.5e154, -9e154, 1e155, 3.0]) * (delta / 1e5)
    want_total, want_grad = reference("pseudo_huber", {"delta": delta}, y, p)
    grad = np.empty_like(p)
    value = K.distance("pseudo_huber", {"delta": delta}, y, p, 1.0, grad)
    assert value is not None and np.isfinite(want_total)
    close(value, want_total, np.float64, "pseudo_huber value")
    close(grad, want_grad, np.float64, "pseudo_huber gradient")


@pytest.mark.parametrize("name", ["logistic", "exponential", "modified_huber", "hinge"])
def test_extreme_margins(name, reference):
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    f = np.array([700.0, 700.0, -30.0, 1e-300, 1e300, -1e3])
    grad = np.empty_like(f)
    value = K.margin(name, {}, y, f, 1.0, grad)
    try:
        with np.errstate(over="ignore"):
            want_value, want_grad = reference(name, {}, y, f)
    except ValueError:  # exponential: e^{700} + e^{1000} overflows; the reference says so
        assert value is None
        return
    close(value, want_value, np.float64, name)
    close(grad, want_grad, np.float64, name)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", ["mse", "huber", "log_cosh", "cauchy", "tukey", "barron"])
def test_nonfinite_inputs_are_left_to_the_reference(name, bad):
    y, p = np.zeros(1000), np.linspace(-3, 3, 1000)
    p[517] = bad
    assert K.distance(name, {}, y, p, 1.0, np.empty_like(p)) is None
    y[3], p[517] = bad, 0.0
    assert K.distance(name, {}, y, p, 1.0, np.empty_like(p)) is None
    assert K.distance_hessian(name, {}, y, p, 1.0, np.empty_like(p)) is None


@pytest.mark.parametrize("name", ["hinge", "logistic", "zero_one"])
def test_margin_labels_outside_the_domain_are_left_to_the_reference(name):
    f = np.linspace(-2, 2, 100)
    for labels in ([1.0, 2.0], [-1.0, 0.0], [0.5, 1.0], [np.nan, 1.0]):
        y = np.resize(np.array(labels), 100)
        assert K.margin(name, {}, y, f, 1.0, np.empty_like(f)) is None, labels
    f[5] = np.nan
    assert K.margin(name, {}, np.ones(100), f, 1.0, np.empty_like(f)) is None


def test_scale_and_non_contiguous_output():
    rng = np.random.default_rng(3)
    y, p = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    full = np.empty((50, 8))
    out = full[:, ::2]  # not contiguous: the kernel writes through a temporary
    value = K.distance("huber", {"delta": 1.0}, y, p, 0.25, out)
    ref = np.empty_like(p)
    assert K.distance("huber", {"delta": 1.0}, y, p, 1.0, ref) == pytest.approx(value)
    np.testing.assert_allclose(out, 0.25 * ref, rtol=1e-15)


def test_argument_errors():
    y = np.zeros(10)
    with pytest.raises(ValueError, match="one shape"):
        K.distance("mse", {}, y, np.zeros(11), 1.0, np.empty(11))
    with pytest.raises(ValueError, match="weights must have shape"):
        K.distance("mse", {}, y, y, 1.0, np.empty(10), weights=np.ones(3))
    with pytest.raises(TypeError, match="grad_out must be a NumPy array"):
        K.distance("mse", {}, y, y, 1.0, [0.0] * 10)
    assert K.distance("not_a_loss", {}, y, y, 1.0, np.empty(10)) is None
    assert K.distance("mse", {}, y, y.astype(np.float16), 1.0, np.empty(10, np.float16)) is None


# ----------------------------------------------------------------------------- softmax CE
CE_CASES = [
    ({}, {}),
    ({"label_smoothing": 0.1}, {"label_smoothing": 0.1}),
    ({"class_weight": "cw"}, {"class_weight": "cw"}),
    ({"ignore_index": -100}, {"ignore_index": -100}),
    ({"ignore_index": 2, "label_smoothing": 0.2, "class_weight": "cw"},
     {"ignore_index": 2, "label_smoothing": 0.2, "class_weight": "cw"}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss_params,kernel_params", CE_CASES, ids=[str(c[0]) for c in CE_CASES])
def test_softmax_cross_entropy_matches_numpy(loss_params, kernel_params, weighted, dtype, reference):
    rng = np.random.default_rng(11)
    n, c = 300, 37
    z = rng.normal(0.0, 4.0, size=(n, c)).astype(dtype)
    z[:5] *= 40.0  # rows spanning more than float32's exp range: the max-shifted redo
    z[5:10] += 1e4  # far from 0
    labels = rng.integers(0, c, size=n)
    cw = rng.uniform(0.2, 3.0, size=c)
    loss_params = {k: (cw if v == "cw" else v) for k, v in loss_params.items()}
    kernel_params = {k: (cw if v == "cw" else v) for k, v in kernel_params.items()}
    if "ignore_index" in loss_params:
        labels[rng.integers(0, n, size=40)] = loss_params["ignore_index"]
    w = rng.uniform(0.0, 2.0, size=n).astype(dtype) if weighted else None
    want_value, want_grad = reference("cross_entropy", {"from_logits": True, **loss_params}, labels, z,
                                      **({} if w is None else {"sample_weight": w}))
    grad = np.empty_like(z)
    value = K.softmax_cross_entropy(z, labels, 1.0, grad, weights=w, **kernel_params)
    assert value is not None
    close(value, want_value, dtype, "value")
    close(grad, want_grad, dtype, "gradient")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gamma", [0.5, 2.0, 5.0])
def test_softmax_focal_matches_numpy(gamma, dtype, reference):
    rng = np.random.default_rng(12)
    z = rng.normal(0.0, 5.0, size=(200, 10)).astype(dtype)
    labels = rng.integers(0, 10, size=200)
    labels[:20] = np.argmax(z[:20], axis=1)  # confident right answers: (1 − p)^γ tiny
    want_value, want_grad = reference("focal", {"gamma": gamma, "from_logits": True}, labels, z)
    grad = np.empty_like(z)
    value = K.softmax_cross_entropy(z, labels, 1.0, grad, gamma=gamma)
    close(value, want_value, dtype, "value")
    close(grad, want_grad, dtype, "gradient")


def test_softmax_masked_classes(reference):
    """−inf logits (masked classes) drop out, as in the reference, unless a target is on one."""
    rng = np.random.default_rng(13)
    z = rng.normal(size=(64, 9))
    z[:, 0] = -np.inf  # the first logit, the kernel's first shift, is masked in every row
    z[::3, 4] = -np.inf
    labels = rng.integers(5, 9, size=64)
    want_value, want_grad = reference("cross_entropy", {"from_logits": True}, labels, z)
    grad = np.empty_like(z)
    value = K.softmax_cross_entropy(z, labels, 1.0, grad)
    close(value, want_value, np.float64, "value")
    close(grad, want_grad, np.float64, "gradient")
    labels[7] = 0  # the target on a masked class: an infinite loss, for the reference to report
    assert K.softmax_cross_entropy(z, labels, 1.0, grad) is None
    labels[7] = 5
    assert K.softmax_cross_entropy(z, labels, 1.0, grad, label_smoothing=0.1) is None


def test_softmax_rejections():
    z = np.zeros((8, 4))
    grad = np.empty_like(z)
    labels = np.arange(8) % 4
    for bad in (np.nan, np.inf):
        z[3, 2] = bad
        assert K.softmax_cross_entropy(z, labels, 1.0, grad) is None
        # ignored rows are checked too, as the reference checks every row
        assert K.softmax_cross_entropy(z, np.where(np.arange(8) == 3, -1, labels), 1.0, grad,
                                       ignore_index=-1) is None
    z[3, 2] = 0.0
    z[4] = -np.inf
    assert K.softmax_cross_entropy(z, labels, 1.0, grad) is None
    z[4] = 0.0
    assert K.softmax_cross_entropy(z, np.where(labels == 1, 4, labels), 1.0, grad) is None
    assert K.softmax_cross_entropy(z, labels.astype(float), 1.0, grad) is None
    with pytest.raises(ValueError, match="cannot be combined"):
        K.softmax_cross_entropy(z, labels, 1.0, grad, gamma=2.0, label_smoothing=0.1)
    with pytest.raises(ValueError, match="class_weight"):
        K.softmax_cross_entropy(z, labels, 1.0, grad, class_weight=[1.0, 2.0])


# ----------------------------------------------------------------------------- BCE
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pos_weight", [None, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_logits_matches_numpy(pos_weight, weighted, dtype, reference):
    rng = np.random.default_rng(21)
    z = (rng.normal(0.0, 4.0, size=(500, 2)) * np.exp(rng.uniform(-8, 5, size=(500, 2)))).astype(dtype)
    z[0] = [0.0, -0.0]
    t = rng.integers(0, 2, size=(500, 2)).astype(dtype)
    t[:50] = rng.uniform(size=(50, 2))  # soft labels
    w = rng.uniform(0.0, 2.0, size=500).astype(dtype) if weighted else None
    want_value, want_grad = reference("binary_cross_entropy", {"from_logits": True, "pos_weight": pos_weight},
                                      t, z, **({} if w is None else {"sample_weight": w}))
    grad = np.empty_like(z)
    value = K.bce_logits(t, z, 1.0, grad, weights=w, pos_weight=pos_weight)
    close(value, want_value, dtype, "value")
    close(grad, want_grad, dtype, "gradient")


def test_bce_confident_answers_keep_their_tiny_gradients(reference):
    """σ(z) − t for a confident right answer is e^{−|z|}, not 0 (the reference's exact form)."""
    z = np.array([40.0, -40.0, 700.0, -700.0])
    t = np.array([1.0, 0.0, 1.0, 0.0])
    grad = np.empty_like(z)
    value = K.bce_logits(t, z, 1.0, grad)
    want_value, want_grad = reference("binary_cross_entropy", {"from_logits": True}, t, z)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-13)
    assert value == pytest.approx(float(want_value), rel=1e-13)
    assert grad[0] == pytest.approx(-math.exp(-40.0), rel=1e-14)


def test_bce_rejections():
    z = np.zeros(100)
    assert K.bce_logits(np.full(100, 1.5), z, 1.0, np.empty(100)) is None
    z[4] = np.nan
    assert K.bce_logits(np.ones(100), z, 1.0, np.empty(100)) is None


# ----------------------------------------------------------------------------- machinery
def test_elementary_functions_within_a_few_ulp():
    """_vmath against NumPy's libm over the whole finite range, subnormals included."""
    from numba import njit

    from losslab.kernels import _vmath as M

    @njit
    def apply(which, x, out):
        for i in range(x.size):
            if which == 0:
                out[i] = M.exp(x[i])
            elif which == 1:
                out[i] = M.expm1(x[i])
            elif which == 2:
                out[i] = M.log(x[i])
            elif which == 3:
                out[i] = M.log1p_unit(x[i])
            elif which == 4:
                out[i] = M.log1p_square_and_ratio(x[i])[0]
            else:
                out[i] = M.log1p_square_and_ratio(x[i])[1]

    rng = np.random.default_rng(5)
    wide = np.concatenate([rng.uniform(-745, 709.7, 20000), rng.normal(0, 1e-3, 5000), [0.0, -0.0, 1e-300]])
    positive = np.concatenate([np.exp(rng.uniform(-744, 709, 20000)), [5e-324, 1e-310, 1.0, 2.0, 1e308]])
    # log1p_unit's domain [0, 1], its switch at 1/2 and the ends; log1p_square across 1 and to
    # overflow (the oracles: NumPy's log1p, 2·log|t| + log1p(1/t²) and 1/(t + 1/t) above 1)
    unit = np.concatenate([rng.uniform(0, 1, 20000), np.exp(rng.uniform(-700, 0, 5000)),
                           np.nextafter(0.5, [0.0, 1.0]), [0.0, 5e-324, 0.5, 1.0]])
    squares = np.concatenate([rng.normal(0, 3, 10000), np.exp(rng.uniform(-300, 300, 5000)), [0.0, 1.0, -1.0, 1e300]])
    cases = ((0, np.exp, wide), (1, np.expm1, wide), (2, np.log, positive),
             (3, np.log1p, unit),
             (4, lambda t: np.where(np.abs(t) < 1, np.log1p(t * t), 2 * np.log(np.abs(t)) + np.log1p(1 / (t * t))), squares),
             (5, lambda t: np.where(np.abs(t) < 1, t / (1 + t * t), 1 / (t + 1 / t)), squares))
    for which, f, x in cases:
        out = np.empty_like(x)
        apply(which, x, out)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # the oracles' unselected branches
            want = f(x)
        ulp = np.spacing(np.maximum(np.abs(want), np.finfo(float).tiny))
        err = np.abs(out - want) / ulp
        assert np.max(err) <= 4.0, (which, x[np.argmax(err)], np.max(err))
    # the float32 exp of float32 softmax rows: a few float32 ulp, 0 below the normal range
    @njit
    def apply_f32(x, out):
        for i in range(x.size):
            out[i] = M.exp_f32(x[i])

    x32 = np.concatenate([rng.uniform(-86.6, 88.7, 20000), [0.0, -1e-30, -86.6, 88.72]]).astype(np.float32)
    out32 = np.empty_like(x32)
    apply_f32(x32, out32)
    want32 = np.exp(x32.astype(np.float64))
    assert np.max(np.abs(out32 - want32) / want32) <= 4 * np.finfo(np.float32).eps
    apply_f32(np.array([-100.0, 100.0, np.nan], dtype=np.float32), out32[:3])
    np.testing.assert_array_equal(out32[:3], [0.0, np.inf, np.nan])
    # below e^−86.6 ≈ 2.5e-38 (the bottom of the normal range) the result is flushed to 0
    apply_f32(np.array([-86.7, -87.3, -90.0], dtype=np.float32), out32[:3])
    np.testing.assert_array_equal(out32[:3], [0.0, 0.0, 0.0])
    specials = np.array([np.nan, np.inf, -np.inf])
    out = np.empty(3)
    apply(0, specials, out)
    np.testing.assert_array_equal(out, [np.nan, np.inf, 0.0])
    apply(2, np.array([0.0, -1.0, np.inf]), out)
    np.testing.assert_array_equal(out, [-np.inf, np.nan, np.inf])


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("LOSSLAB_KERNELS", "0")
    assert not K.available()
    y = np.zeros(10)
    assert K.distance("mse", {}, y, y, 1.0, np.empty(10)) is None
    assert K.softmax_cross_entropy(np.zeros((2, 3)), np.zeros(2, dtype=int), 1.0, np.empty((2, 3))) is None
    monkeypatch.delenv("LOSSLAB_KERNELS")
    assert K.available()


def test_import_losslab_does_not_import_numba():
    code = "import sys, losslab, losslab.kernels; print('numba' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"


def test_512_bit_vectors_asked_for_only_when_numba_is_ours_to_configure():
    """On a CPU of WIDE_VECTOR_CPUS the first kernel call builds numba's code generator with the
    host's features plus -prefer-256-bit, and leaves no NUMBA_CPU_FEATURES behind for child
    processes; never after numba was imported, over numba's own target settings, or with
    LOSSLAB_KERNELS_512=0. The oracle for the host: llvmlite's own CPU query."""
    import llvmlite.binding as llvm

    wide_host = llvm.get_host_cpu_name() in K.WIDE_VECTOR_CPUS and bool(llvm.get_host_cpu_features().get("avx512f"))
    code = ("import os, sys, numpy as np; {pre}from losslab import kernels as K; "
            "K.distance('mse', {{}}, np.zeros(3), np.ones(3), 1.0, np.empty(3)); "
            "from numba.core.registry import cpu_target; "
            "print(cpu_target.target_context.codegen().magic_tuple()[2].endswith(',-prefer-256-bit'), "
            "'NUMBA_CPU_FEATURES' in os.environ)")
    settings = ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME", "NUMBA_ENABLE_AVX", "LOSSLAB_KERNELS_512")
    base = {k: v for k, v in os.environ.items() if k not in settings}
    base["PYTHONPATH"] = os.pathsep.join(sys.path)

    def wide(pre="", **env):
        result = subprocess.run([sys.executable, "-c", code.format(pre=pre)], capture_output=True, text=True,
                                env=dict(base, **env), check=True)
        asked, left = result.stdout.split()
        assert left == "False"  # nothing inherited by child processes
        return asked == "True"

    assert wide() == wide_host
    assert not wide(LOSSLAB_KERNELS_512="0")
    assert not wide(pre="import numba; ")
    assert not wide(NUMBA_ENABLE_AVX="1")
    assert not wide(NUMBA_CPU_NAME="generic")


def test_concurrent_calls_from_threads():
    """Launches are serialised: numba's default threading layer aborts on concurrent ones."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    y, p = rng.normal(size=20000), rng.normal(size=20000)
    expected = float(np.sum((p - y) ** 2))
    with ThreadPoolExecutor(4) as pool:
        values = list(pool.map(lambda _: K.distance("mse", {}, y, p, 1.0, np.empty_like(p)), range(8)))
    assert values == pytest.approx([expected] * 8, rel=1e-12)
