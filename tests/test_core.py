"""The loss core: weights and reductions at any scale, empty inputs, derivative overflow,
``out=`` buffers, and invalid inputs under ``jax.jit`` (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import losslab as ll
from cases import all_cases, case_id
from oracles import prepared

CASES = all_cases()


# ----------------------------------------------------------------------------- weights
@pytest.mark.parametrize("weight", [1e308, 1e-320, 1e-300, 3.0])
def test_equal_weights_give_the_plain_mean_at_any_scale(weight):
    y_true, y_pred = np.zeros(4), np.array([1e-5, 2e-5, 3e-5, 4e-5])
    plain = ll.mse(y_true, y_pred)  # (1 + 4 + 9 + 16)·1e-10 / 4 = 7.5e-10, by hand
    assert plain == pytest.approx(7.5e-10, rel=1e-15)
    w = np.full(4, weight)
    assert ll.mse(y_true, y_pred, sample_weight=w) == pytest.approx(plain, rel=1e-15)
    np.testing.assert_allclose(ll.get("mse").gradient(y_true, y_pred, sample_weight=w),
                               ll.get("mse").gradient(y_true, y_pred), rtol=1e-15)


def test_a_mean_that_fits_is_returned_although_its_sum_overflows():
    # Ten squared residuals of 1e154: each 1e308, their sum 1e309 overflows, the mean fits.
    assert ll.mse(np.zeros(10), np.full(10, 1e154)) == pytest.approx(1e308, rel=1e-12)


def test_keras_sum_over_batch_size_divides_by_the_count():
    y_true, y_pred, w = np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 2.0, 1.0])
    weighted = w * y_pred**2  # [1, 0, 18, 16]
    assert ll.mse(y_true, y_pred, sample_weight=w, reduction="sum_over_batch_size") == pytest.approx(35 / 4)
    assert ll.mse(y_true, y_pred, sample_weight=w) == pytest.approx(weighted.sum() / w.sum())
    np.testing.assert_allclose(
        ll.get("mse").gradient(y_true, y_pred, sample_weight=w, reduction="sum_over_batch_size"),
        w * 2 * y_pred / 4,
    )


@pytest.mark.parametrize("shape", [(), (4, 1)])
def test_sample_weight_as_a_scalar_or_a_column_as_keras_takes_it(shape):
    y_true, y_pred = np.zeros(4), np.arange(4.0)
    w = np.full(shape, 2.0)
    assert ll.mse(y_true, y_pred, sample_weight=w, reduction="sum") == pytest.approx(2 * ll.mse(y_true, y_pred, reduction="sum"))


def test_a_bad_sample_weight_shape_names_the_shapes_allowed():
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(3,\) \(one weight per sample\).*\(3, 1\) or \(\)"):
        ll.mse(np.zeros(3), np.zeros(3), sample_weight=np.ones(2))
    # a loss that gives one value per batch says so, rather than asking for one weight per sample
    rng = np.random.default_rng(0)
    embeddings, labels, proxies = rng.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2]), rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"shape \(1,\) \(one weight per batch: proxy_anchor gives one value per batch\)"):
        ll.get("proxy_anchor")(embeddings, labels, proxies, sample_weight=np.ones(6))


# ----------------------------------------------------------------------------- empty input
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_empty_input_sums_to_zero_and_its_mean_is_an_error(case, rng):
    arrays, options = case.make(rng, 4)
    L = case.loss
    one_call_one_sample = L._loss_shape(prepared(L, arrays, options)[1]) == (1,)
    empty = tuple(a[:0] for a in arrays)
    if L.params.get("time_major"):  # CTC's (T, N, C) logits: the samples are axis 1, not the frames
        empty = (arrays[0][:0], arrays[1][:, :0])
    options = {k: (v[:0] if hasattr(v, "shape") and np.ndim(v) else v) for k, v in options.items()}
    if one_call_one_sample:
        # One call is one sample (a distance between distributions, a function of batch
        # statistics): of an empty input it is undefined, a clear error rather than 0.
        with pytest.raises(ValueError, match="non-empty"):
            L(*empty, reduction="sum", **options)
        return
    assert float(L(*empty, reduction="sum", **options)) == 0.0
    value, grad = L.value_and_gradient(*empty, reduction="sum", **options)
    assert float(value) == 0.0
    for g, a in zip(grad if isinstance(grad, tuple) else (grad,), [x for x in empty if x.dtype.kind == "f"]):
        assert g.size == 0
    with pytest.raises(ValueError, match="empty"):
        L(*empty, **options)


# ----------------------------------------------------------------------------- overflow
def test_a_gradient_that_overflows_raises_like_the_value():
    L = ll.get("exponential")
    with pytest.raises(ll.LossOverflow, match="overflows"):
        L([1.0], [-1e4])
    with pytest.raises(ll.LossOverflow, match="gradient"):
        L.gradient([1.0], [-1e4])
    with pytest.raises(ll.LossOverflow, match="Hessian"):
        L.hessian([1.0], [-1e4])


def test_a_read_only_out_buffer_is_named():
    out = np.zeros(3)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be a writeable"):
        ll.get("mse").gradient(np.zeros(3), np.ones(3), out=out)


def test_an_unknown_call_keyword_is_told_where_it_belongs():
    """A loss parameter given to the call is sent to ll.get; any other keyword gets the
    loss's real parameters and the nearest name, never a recipe that fails too (the hint
    used to say ll.get('approx_ndcg', where=...), which is no parameter either)."""
    with pytest.raises(TypeError, match=r"delta is a parameter of the loss: ll.get\('huber', delta=...\)"):
        ll.get("huber")([1.0], [2.0], delta=3.0)
    with pytest.raises(TypeError, match=r"Its parameters \(temperature\) go to ll.get\('approx_ndcg', ...\)") as info:
        ll.approx_ndcg(np.array([[1.0, 0.0]]), np.array([[0.2, 0.1]]), where=np.array([[True, True]]))
    assert "where=" not in str(info.value)
    with pytest.raises(TypeError, match="Did you mean 'sample_weight'"):
        ll.huber([1.0], [2.0], sample_weights=[1.0])
    with pytest.raises(TypeError, match="mse has no parameters"):
        ll.mse([1.0], [2.0], foo=3)


def test_arrays_of_two_libraries_are_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="one array library"):
        ll.mse(np.zeros(3), torch.zeros(3))


# ----------------------------------------------------------------------------- under jax.jit
@pytest.fixture
def jax():
    return pytest.importorskip("jax")


@pytest.mark.parametrize(
    "name, y_true, y_pred",
    [
        ("mse", [1.0, 2.0], [1.0, float("nan")]),
        ("bce", [1.0, 0.0], [1.3, 0.2]),  # a probability above 1: eager mode raises
        ("cross_entropy", [0, 1], [[2.0, -1.0], [0.5, 3.0]]),  # logits given as probabilities
        ("cross_entropy", [0, 3], [[0.2, 0.8], [0.5, 0.5]]),  # a class index out of range
        ("hinge", [1.0, 2.0], [0.3, 0.2]),  # a label that is not ±1 or 0/1
    ],
)
def test_invalid_input_under_jit_gives_nan_not_a_plausible_number(jax, name, y_true, y_pred):
    import jax.numpy as jnp

    L = ll.get(name)
    with pytest.raises(ValueError):
        L(np.asarray(y_true), np.asarray(y_pred))  # eager mode: an error
    value = jax.jit(L)(jnp.asarray(y_true), jnp.asarray(y_pred))
    assert np.isnan(float(value))
    grad = jax.jit(jax.grad(lambda p: L(jnp.asarray(y_true), p)))(jnp.asarray(y_pred, dtype=jnp.float64))
    # autodiff of the poisoned value: NaN wherever the loss depends on the input (a product
    # with a constant 0, such as a one-hot target, may fold to 0 in XLA)
    assert np.any(np.isnan(np.asarray(grad)))


_E, _W = [[0.6, 0.8], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]
_MAP = [[[0.3, 0.6, 0.2, 0.5], [0.3, 0.2, 0.4, 0.25], [0.4, 0.2, 0.4, 0.25]]]


@pytest.mark.parametrize(
    "name, params, arrays, options",
    [
        ("arcface", {}, (_E, [0, 5], _W), {}),  # integer class labels out of range
        ("cosface", {}, (_E, [0, -1], _W), {}),
        ("proxy_nca", {}, (_E, [0, 2], _W), {}),
        ("jaccard", {}, ([[0, 1, 2, 5]], _MAP), {}),  # a class index beyond the map's 3 classes
        ("lovasz_softmax", {}, ([[[0.5, 1.0], [0.5, 0.0]]], [[[0.6, 0.9], [0.4, 0.1]]]), {}),  # a soft target
        ("mmd", {}, ([[0.0], [0.0]], [[1.0], [1.0]]), {"a": [0.7, 0.7]}),  # masses summing to 1.4
        ("mmd", {}, ([[0.0], [0.0]], [[1.0], [1.0]]), {"a": [1.5, -0.5]}),  # a negative mass
        ("sinkhorn", {}, ([[0.0], [0.0]], [[1.0], [1.0]]), {"b": [0.7, 0.7]}),
        ("ctc", {}, ([[1, 2]], np.zeros((1, 3, 3))), {"input_lengths": [9]}),  # more frames than the 3 given
        ("ctc", {}, ([[1, 2]], np.zeros((1, 3, 3))), {"target_lengths": [3]}),  # longer than the 2 targets
    ],
)
def test_invalid_structured_input_under_jit_gives_nan(jax, name, params, arrays, options):
    """The rule of the test above for the losses that take labels, masses and lengths: every
    array (options included) is traced, so no eager check can see it."""
    import jax.numpy as jnp

    L = ll.get(name, **params)
    with pytest.raises(ValueError):
        L(*(np.asarray(a) for a in arrays), **{k: np.asarray(v) for k, v in options.items()})
    keys = list(options)
    traced = jax.jit(lambda arrays, values: L(*arrays, **dict(zip(keys, values))))
    value = traced(tuple(jnp.asarray(a) for a in arrays), tuple(jnp.asarray(options[k]) for k in keys))
    assert np.isnan(float(value))


def test_valid_input_under_jit_is_not_poisoned(jax):
    import jax.numpy as jnp

    y, p = jnp.asarray([0, 1]), jnp.asarray([[0.2, 0.8], [0.5, 0.5]])
    L = ll.get("cross_entropy")
    assert float(jax.jit(L)(y, p)) == pytest.approx(float(L(np.asarray(y), np.asarray(p))), rel=1e-12)


def test_checked_mode_raises_under_jit_with_the_eager_rule(jax):
    import jax.numpy as jnp
    from jax.experimental import checkify

    with ll.checked():
        err, _ = checkify.checkify(jax.jit(ll.get("bce")))(jnp.asarray([1.0, 0.0]), jnp.asarray([1.3, 0.2]))
    with pytest.raises(Exception, match=r"y_pred must hold probabilities in \[0, 1\]"):
        err.throw()


def test_default_precision_jax_gives_no_dtype_warnings():
    """Without JAX_ENABLE_X64, asking JAX for int64/float64 warns and truncates: losslab
    asks for the library's own default dtypes instead."""
    pytest.importorskip("jax")
    code = (
        "import warnings; warnings.simplefilter('error');"
        "import jax, jax.numpy as jnp, losslab as ll;"
        "y, z = jnp.asarray([0, 2]), jnp.asarray([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]]);"
        "jax.jit(ll.get('cross_entropy', from_logits=True, class_weight=[1., 2., 3.], ignore_index=-1))(y, z);"
        "jax.jit(ll.get('cost_sensitive', from_logits=True))(y, z);"
        "jax.grad(lambda z: ll.get('focal', from_logits=True)(y, z))(z)"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "JAX_ENABLE_X64"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


# ----------------------------------------------------------------------------- query groups
def test_query_losses_of_a_million_items_fit_in_bounded_memory():
    """1e6 items in queries of 100 (1e8 pairs in all) under a 3 GiB address-space cap: one
    N×N matrix would need 8 TB; query by query, a few hundred MB."""
    code = """
import resource, numpy as np
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import losslab as ll
rng = np.random.default_rng(0)
n = 1_000_000
query_ids = rng.permutation(np.repeat(np.arange(n // 100), 100))
relevance, scores = rng.integers(0, 3, n).astype(float), rng.normal(size=n)
for name in ("pairwise_logistic", "listnet"):
    value, grad = ll.get(name).value_and_gradient(relevance, scores, query_ids=query_ids)
    assert np.isfinite(value) and grad.shape == (n,) and np.all(np.isfinite(grad))
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("name", ["pairwise_logistic", "listnet"])
def test_query_by_query_equals_one_query_at_a_time(name, rng):
    """The grouped evaluation against its definition: the loss of each query on its own."""
    L = ll.get(name)
    query_ids = rng.permutation(np.repeat([3, 1, 7, 5], [4, 6, 6, 2]))
    relevance, scores = rng.integers(0, 3, query_ids.size).astype(float), rng.normal(size=query_ids.size)
    per_item = L(relevance, scores, query_ids=query_ids, reduction="none")
    grad = L.gradient(relevance, scores, query_ids=query_ids, reduction="sum")
    for q in np.unique(query_ids):
        mine = query_ids == q
        np.testing.assert_allclose(per_item[mine], L(relevance[mine], scores[mine], reduction="none"), rtol=1e-13)
        np.testing.assert_allclose(grad[mine], L.gradient(relevance[mine], scores[mine], reduction="sum"), rtol=1e-13)


# ----------------------------------------------------------------------------- swapped arguments
def test_swapped_arguments_are_named_where_the_evidence_is_unambiguous():
    labels, probabilities = np.array([1.0, 0.0, 1.0]), np.array([0.8, 0.3, 0.6])
    L = ll.get("bce")
    # losslab's order: log loss of (0.8, 0.3, 0.6) on (1, 0, 1), by hand −mean(log 0.8, log 0.7, log 0.6)
    assert L(labels, probabilities) == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.6])), rel=1e-12)
    with pytest.raises(ValueError, match="look swapped.*losslab takes \\(y_true, y_pred\\)"):
        L(probabilities, labels)  # PyTorch's order
    # Soft labels against probabilities are valid, even with a 0/1 prediction somewhere.
    assert np.isfinite(L(np.array([0.2, 0.9]), np.array([0.0, 0.7])))
