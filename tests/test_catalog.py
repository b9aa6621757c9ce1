"""Generic tests over the whole catalog (tests/cases): every loss, every contract rule.

Oracles: 4th-order finite differences of the pure per-sample function (tests/oracles.py),
PyTorch autograd and jax.grad of the loss's own value path, and the NumPy result for the
other backends.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import losslab as ll
from cases import all_cases, case_id
from oracles import fd_gradient, fd_hessian_diagonal

CASES = all_cases()


def _as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def test_every_registered_loss_has_a_case():
    covered = {type(c.loss).name for c in CASES}
    missing = sorted(e.name for e in ll.catalog() if e.name not in covered)
    assert not missing, f"losses without a test case: {missing}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradient_matches_finite_differences(case, rng):
    arrays, options = case.make(rng, 12)
    L = case.loss
    expected = fd_gradient(L, arrays, options)
    got = _as_tuple(L.gradient(*arrays, reduction="sum", **options))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=case.rtol, atol=1e-7)


@pytest.mark.parametrize("case", [c for c in CASES if c.has_hessian], ids=case_id)
def test_hessian_matches_finite_differences_of_gradient(case, rng):
    """Away from the kinks: a loss declared not twice differentiable has generated draws that
    keep away from the kinks its case names, and each named kink is one (below)."""
    arrays, options = case.make(rng, 12)
    L = case.loss
    if not L.traits.twice_differentiable and case.generated:
        assert case.domain.get("away_from_residual") or case.domain.get("away_from_margin"), (
            f"{case.id} is declared not twice differentiable: its case must name its kinks")
    expected = fd_hessian_diagonal(L, arrays, options)
    got = L.hessian(*arrays, reduction="sum", **options)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


#: Generated cases of losses declared not twice differentiable (tukey's named points ±c are
#: where only its third derivative jumps, kept away from for the finite differences).
KINKED = [c for c in CASES if c.generated and not c.loss.traits.twice_differentiable]


@pytest.mark.parametrize("case", KINKED, ids=case_id)
def test_declared_kinks_are_where_the_loss_is_not_smooth(case):
    """The kinks a case keeps its draws away from are real: across each, the value, the
    gradient or the Hessian jumps (a C² loss changes all three by O(ε) over 2ε)."""
    L = case.loss
    eps = 1e-7
    # Per-call keywords (laplace_nll's scale), drawn once for the one-sample probes.
    options = case.domain["options"](np.random.default_rng(0), (1,)) if "options" in case.domain else {}
    for k in case.domain.get("away_from_residual", ()):
        y_true = np.array([0.75])
        sides = [(y_true, y_true + k - eps), (y_true, y_true + k + eps)]
        _assert_jump(L, sides, f"residual {k}", options)
    for k in case.domain.get("away_from_margin", ()):
        for y in (1.0, -1.0):
            label = np.array([y if case.domain.get("labels") != "01" else (y + 1.0) / 2.0])
            sides = [(label, np.array([y * (k - eps)])), (label, np.array([y * (k + eps)]))]
            _assert_jump(L, sides, f"margin {k}, label {label[0]:g}", options)


def _assert_jump(L, sides, where, options):
    left, right = ([float(L(*a, reduction="sum", **options)), float(np.sum(L.gradient(*a, reduction="sum", **options))),
                    float(np.sum(L.hessian(*a, reduction="sum", **options)))] for a in sides)
    jumps = [abs(b - a) for a, b in zip(left, right)]
    assert max(jumps) > 1e-3, f"{L!r} is smooth at its declared kink ({where}): value/gradient/Hessian jumps {jumps}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_value_and_gradient_equal_separate_calls(case, rng):
    arrays, options = case.make(rng, 10)
    L = case.loss
    weights = rng.uniform(0.5, 2.0, size=L._loss_shape(_prepared(L, arrays, options))[0])
    value, grad = L.value_and_gradient(*arrays, sample_weight=weights, **options)
    assert value == pytest.approx(L(*arrays, sample_weight=weights, **options), rel=1e-12)
    for a, b in zip(_as_tuple(grad), _as_tuple(L.gradient(*arrays, sample_weight=weights, **options))):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _prepared(L, arrays, options):
    from oracles import prepared

    return prepared(L, arrays, options)[1]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reductions_and_weights_agree(case, rng):
    """none = wᵢℓᵢ; sum = Σ none; mean = sum / Σ(weights per value); weight 2 doubles."""
    arrays, options = case.make(rng, 9)
    L = case.loss
    n = L._loss_shape(_prepared(L, arrays, options))[0]
    w = rng.uniform(0.0, 3.0, size=n)
    plain = np.asarray(L(*arrays, reduction="none", **options))
    weighted = np.asarray(L(*arrays, sample_weight=w, reduction="none", **options))
    w_rows = w.reshape((n,) + (1,) * (plain.ndim - 1))
    np.testing.assert_allclose(weighted, plain * w_rows, rtol=1e-12)
    total = L(*arrays, sample_weight=w, reduction="sum", **options)
    assert total == pytest.approx(weighted.sum(), rel=1e-12)
    denominator = w.sum() * (plain.size / n)
    assert L(*arrays, sample_weight=w, **options) == pytest.approx(total / denominator, rel=1e-12)
    assert L(*arrays, **options) == pytest.approx(plain.mean(), rel=1e-12)
    np.testing.assert_allclose(
        _as_tuple(L.gradient(*arrays, sample_weight=2 * w, reduction="sum", **options))[0],
        2 * _as_tuple(L.gradient(*arrays, sample_weight=w, reduction="sum", **options))[0],
        rtol=1e-12,
    )
    # The mean's gradient has the mean's denominator.
    np.testing.assert_allclose(
        _as_tuple(L.gradient(*arrays, sample_weight=w, **options))[0],
        _as_tuple(L.gradient(*arrays, sample_weight=w, reduction="sum", **options))[0] / denominator,
        rtol=1e-12,
    )


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_all_zero_weights_give_zero_mean_and_zero_gradient(case, rng):
    arrays, options = case.make(rng, 5)
    L = case.loss
    n = L._loss_shape(_prepared(L, arrays, options))[0]
    value, grad = L.value_and_gradient(*arrays, sample_weight=np.zeros(n), **options)
    assert value == 0.0
    assert all(np.all(np.asarray(g) == 0) for g in _as_tuple(grad))


@pytest.mark.parametrize("case", [c for c in CASES if c.loss.separable], ids=case_id)
def test_blocked_path_equals_direct_path(case, rng, monkeypatch):
    """Large NumPy inputs run in row blocks on threads: same numbers as one pass."""
    _check_blocked_equals_direct(case, rng, monkeypatch)


def _has_numpy_block_kernel(loss):
    # A family's own NumPy kernel (mse, huber, cross_entropy, binary_cross_entropy), not the
    # shapes' hook that only hands the input to the compiled kernels.
    return type(loss)._kernel.__module__.startswith("losslab.losses.")


@pytest.mark.parametrize("case", [c for c in CASES if c.loss.separable and _has_numpy_block_kernel(c.loss)],
                         ids=case_id)
def test_blocked_path_with_the_numpy_kernels_equals_direct_path(case, rng, monkeypatch):
    """The same with LOSSLAB_KERNELS=0: with numba installed the compiled kernels take the
    whole input, and the NumPy block kernels would run nowhere else in the suite."""
    monkeypatch.setenv("LOSSLAB_KERNELS", "0")
    _check_blocked_equals_direct(case, rng, monkeypatch)


def _check_blocked_equals_direct(case, rng, monkeypatch):
    from losslab.loss import engine as core

    arrays, options = case.make(rng, 3000)
    L = case.loss
    n = L._loss_shape(_prepared(L, arrays, options))[0]
    w = rng.uniform(0.0, 2.0, size=n)
    monkeypatch.setattr(core, "BLOCK_THRESHOLD", 10**12)
    direct = L.value_and_gradient(*arrays, sample_weight=w, **options)
    direct_unweighted = L.value_and_gradient(*arrays, **options)  # the fused block kernels' case
    direct_none = L(*arrays, reduction="none", **options)
    direct_none_weighted = L(*arrays, sample_weight=w, reduction="none", **options)
    direct_hess = L.hessian(*arrays, **options) if case.has_hessian else None
    monkeypatch.setattr(core, "BLOCK_THRESHOLD", 64)
    monkeypatch.setattr(core, "BLOCK_BYTES", 2048)
    blocked = L.value_and_gradient(*arrays, sample_weight=w, **options)
    assert blocked[0] == pytest.approx(direct[0], rel=1e-12)
    for a, b in zip(_as_tuple(blocked[1]), _as_tuple(direct[1])):
        # A loss's fast kernel (``Loss._kernel``) may round differently from the reference
        # code: a few ulp of the largest entry (an entry that cancels to 1e-7 keeps ~1e-20).
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14 * float(np.max(np.abs(b))))
    blocked_unweighted = L.value_and_gradient(*arrays, **options)
    assert blocked_unweighted[0] == pytest.approx(direct_unweighted[0], rel=1e-12)
    for a, b in zip(_as_tuple(blocked_unweighted[1]), _as_tuple(direct_unweighted[1])):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(L(*arrays, reduction="none", **options), direct_none, rtol=1e-13)
    # reduction="none" holds wᵢℓᵢ on the blocked path too (not the unweighted ℓᵢ).
    np.testing.assert_allclose(L(*arrays, sample_weight=w, reduction="none", **options), direct_none_weighted,
                               rtol=1e-13)
    if direct_hess is not None:
        np.testing.assert_allclose(L.hessian(*arrays, **options), direct_hess, rtol=1e-13)


# ----------------------------------------------------------------------------- backends
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_backends_agree_with_numpy(case, backend, rng):
    if backend.name in case.skip_backends:
        pytest.skip(case.skip_backends[backend.name])
    arrays, options = case.make(rng, 8)
    L = case.loss
    ref_value, ref_grad = L.value_and_gradient(*arrays, **options)
    xs = [backend.asarray(a) for a in arrays]
    opts = {k: backend.asarray(v) for k, v in options.items()}
    value, grad = L.value_and_gradient(*xs, **opts)
    assert float(backend.to_numpy(value)) == pytest.approx(float(ref_value), rel=1e-10, abs=1e-12)
    for a, b in zip(_as_tuple(backend.to_numpy(grad)), _as_tuple(ref_grad)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    hess = L.hessian(*xs, **opts) if case.has_hessian else None
    if hess is not None:
        np.testing.assert_allclose(backend.to_numpy(hess), L.hessian(*arrays, **options), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_autograd_equals_gradient_and_float32_stays_float32(case, rng):
    torch = pytest.importorskip("torch")
    if "torch" in case.skip_backends:
        pytest.skip(case.skip_backends["torch"])
    arrays, options = case.make(rng, 8)
    L = case.loss
    tensors = [torch.tensor(a, requires_grad=name in L.differentiable_inputs) for a, name in zip(arrays, L.inputs)]
    opts = {k: torch.tensor(v) for k, v in options.items()}
    value = L(*tensors, **opts)
    value.backward()
    expected = _as_tuple(L.gradient(*tensors, **opts))
    autograd = [t.grad for t, name in zip(tensors, L.inputs) if name in L.differentiable_inputs]
    for a, e in zip(autograd, expected):
        np.testing.assert_allclose(a.numpy(), e.detach().numpy(), rtol=1e-9, atol=1e-12)
    f32 = [torch.tensor(a, dtype=torch.float32) for a in arrays]
    opts32 = {k: torch.tensor(v, dtype=torch.float32) for k, v in options.items()}
    assert L(*f32, **opts32).dtype == torch.float32
    assert all(g.dtype == torch.float32 for g in _as_tuple(L.gradient(*f32, **opts32)))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_jax_grad_and_jit(case, rng):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    if "jax" in case.skip_backends:
        pytest.skip(case.skip_backends["jax"])
    arrays, options = case.make(rng, 8)
    L = case.loss
    xs = [jnp.asarray(a) for a in arrays]
    opts = {k: jnp.asarray(v) for k, v in options.items()}
    positions = tuple(L.inputs.index(n) for n in L.differentiable_inputs)

    def f(*args):
        return L(*args, **opts)

    grads = jax.grad(f, argnums=positions)(*xs)
    for a, e in zip(grads, _as_tuple(L.gradient(*arrays, **options))):
        np.testing.assert_allclose(np.asarray(a), e, rtol=1e-9, atol=1e-12)
    jitted = jax.jit(f)(*xs)
    assert float(jitted) == pytest.approx(float(L(*arrays, **options)), rel=1e-10)


def test_numpy_float32_stays_float32(rng):
    for case in CASES:
        arrays, options = case.make(rng, 6)
        f32 = [np.asarray(a, dtype=np.float32) for a in arrays]
        opts = {k: np.asarray(v, dtype=np.float32) for k, v in options.items()}
        value, grad = case.loss.value_and_gradient(*f32, **opts)
        assert np.asarray(value).dtype == np.float32, case.id
        assert all(np.asarray(g).dtype == np.float32 for g in _as_tuple(grad)), case.id


# ----------------------------------------------------------------------------- declarations
@pytest.mark.parametrize("entry", ll.catalog(), ids=lambda e: e.name)
def test_every_loss_is_documented_and_declares_traits(entry):
    cls = entry.cls
    doc = inspect.getdoc(cls) or ""
    assert entry.description and len(entry.description) < 100
    assert cls.formula, "formula (LaTeX) missing"
    assert "Formula" in doc and "Domains" in doc and "Gradient" in doc, "docstring misses the habit order"
    assert ">>>" in doc, "docstring example missing"
    traits = entry.build().traits
    assert isinstance(traits, ll.Traits)
    assert traits.task
    if traits.strictly_convex:
        assert traits.convex
    if traits.twice_differentiable:
        assert traits.differentiable
    assert getattr(ll, entry.name).__wrapped_loss__ is cls, "functional form missing from losslab"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_nan_anywhere_is_an_error_naming_the_argument(case, rng):
    arrays, options = case.make(rng, 4)
    L = case.loss
    for k, name in enumerate(L.inputs):
        if not np.issubdtype(np.asarray(arrays[k]).dtype, np.floating):
            continue
        bad = [np.array(a, dtype=float, copy=True) for a in arrays]
        bad[k].flat[1] = np.nan
        with pytest.raises(ValueError, match=name):
            L(*bad, **options)


def test_repr_and_params_round_trip():
    for case in CASES:
        rebuilt = type(case.loss)(**case.loss.params)
        assert rebuilt == case.loss
        assert repr(case.loss).startswith(type(case.loss).__name__ + "(")
        assert ll.get(type(case.loss).name, **case.loss.params) == case.loss
        assert not math.isnan(hash(case.loss))
