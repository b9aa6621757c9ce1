"""linear_cross_entropy's NumPy path: chunk sizing for bounded memory, and the filtered gradient.

The filtered mode (filter_eps) drops vocabulary blocks of small probability from the
gradients; its report must describe exactly what it dropped, so each test recomputes the
exact gradient (filter_eps=None) and checks the report against the true errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll
from losslab.losses import sequence


def _peaked(rng, n=96, d=16, vocab=20480, dtype=np.float64):
    """An LM head whose probability mass sits in the first vocabulary block (2048 columns),
    with a second, weaker block (the sixth) and the rest far down (bias −20), as in a trained
    model where most of the vocabulary is implausible for most tokens; targets on the first
    block, one in seven on the sixth."""
    hidden = rng.normal(size=(n, d)).astype(dtype) / np.sqrt(d)
    weight = rng.normal(size=(vocab, d)).astype(dtype)
    bias = np.full(vocab, -20.0, dtype=dtype)
    bias[:2048] = 0.0
    bias[5 * 2048:6 * 2048] = -8.0
    targets = rng.integers(0, 2048, size=n)
    targets[::7] = rng.integers(5 * 2048, 6 * 2048, size=targets[::7].size)
    return hidden, weight, bias, targets


def test_numpy_chunks_hold_48_mib_of_logits_at_any_vocabulary():
    loss = ll.LinearCrossEntropy()
    for vocab, itemsize in ((32768, 4), (65536, 4), (256000, 2), (256000, 4), (10**7, 8)):
        chunk = loss._numpy_chunk(100000, vocab, itemsize)
        assert chunk >= 1
        assert chunk == 1 or chunk * vocab * itemsize <= sequence.NUMPY_CHUNK_BYTES


def test_numpy_path_needs_one_chunk_of_memory_beyond_the_gradients():
    """tracemalloc sees NumPy's array allocations: the peak of one call less the gradients is
    the 48 MiB chunk and per-token vectors, where the naive logits alone would be 128 MiB."""
    import tracemalloc

    rng = np.random.default_rng(3)
    n, d, vocab = 2048, 16, 16384
    hidden = rng.normal(size=(n, d)).astype(np.float32)
    weight = rng.normal(size=(vocab, d)).astype(np.float32)
    targets = rng.integers(0, vocab, size=n)
    loss = ll.LinearCrossEntropy()
    loss.value_and_gradient(hidden[:4], weight[:8], targets[:4] % 8)  # imports (SciPy's BLAS) happen here
    tracemalloc.start()
    try:
        _, grads = loss.value_and_gradient(hidden, weight, targets)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    beyond = peak - sum(g.nbytes for g in grads)
    assert n * vocab * 4 > 2 * sequence.NUMPY_CHUNK_BYTES  # the bound below can fail
    assert beyond <= sequence.NUMPY_CHUNK_BYTES + (4 << 20), beyond / 2**20


def test_torch_and_jax_chunks_keep_at_least_min_chunk_tokens():
    """The weight gradient's traffic per chunk is fixed (8·V·d bytes), so its share of the time
    depends on the tokens per chunk alone: the byte budget never goes below the floor."""
    loss = ll.LinearCrossEntropy()
    assert loss._chunk(100000, 256000, 4) == sequence.MIN_CHUNK_TOKENS == 512
    assert loss._chunk(100000, 1000, 4) == sequence.CHUNK_BYTES // 4000
    assert loss._chunk(100, 256000, 4) == 100
    assert ll.LinearCrossEntropy(chunk_size=7)._chunk(100000, 256000, 4) == 7


@pytest.mark.parametrize("with_bias", [False, True])
def test_tiny_threshold_skips_nothing_and_is_exact(with_bias):
    rng = np.random.default_rng(0)
    hidden, weight, bias, targets = _peaked(rng)
    options = {"bias": bias} if with_bias else {}
    exact_value, exact = ll.LinearCrossEntropy(chunk_size=40).value_and_gradient(hidden, weight, targets, **options)
    loss = ll.LinearCrossEntropy(chunk_size=40, filter_eps=1e-300)
    value, grads = loss.value_and_gradient(hidden, weight, targets, **options)
    assert value == exact_value
    for g, e in zip(grads, exact):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    assert loss.last_filter_report["skipped_fraction"] == 0.0
    assert loss.last_filter_report["dropped_logit_gradient_norm"] == 0.0


@pytest.mark.parametrize("eps", [1e-6, 1e-3])
def test_report_describes_the_error_introduced(eps):
    rng = np.random.default_rng(1)
    hidden, weight, bias, targets = _peaked(rng)
    exact_value, (eh, ew, eb) = ll.LinearCrossEntropy(chunk_size=32).value_and_gradient(
        hidden, weight, targets, bias=bias)
    loss = ll.LinearCrossEntropy(chunk_size=32, filter_eps=eps)
    value, (gh, gw, gb) = loss.value_and_gradient(hidden, weight, targets, bias=bias)
    report = loss.last_filter_report
    assert value == pytest.approx(float(exact_value), rel=1e-14)  # the value is never filtered
    assert 0.0 < report["skipped_fraction"] < 1.0  # this peaked head does skip blocks
    # the bias gradient's error is reported exactly; the others within their bounds
    assert float(np.linalg.norm(gb - eb)) == pytest.approx(report["bias_gradient_error"], rel=1e-9, abs=1e-18)
    assert float(np.linalg.norm(gh - eh)) <= report["hidden_gradient_error_bound"] * (1 + 1e-9) + 1e-18
    assert float(np.linalg.norm(gw - ew)) <= report["weight_gradient_error_bound"] * (1 + 1e-9) + 1e-18
    # every dropped probability was below eps: the dropped gradient is at most eps per entry
    n_entries = hidden.shape[0] * weight.shape[0]
    assert report["dropped_logit_gradient_norm"] <= eps / hidden.shape[0] * math.sqrt(n_entries)
    assert report["dropped_logit_gradient_norm"] < report["logit_gradient_norm"]


def test_filter_on_torch_is_refused():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    hidden, weight, bias, targets = _peaked(rng, n=8)
    with pytest.raises(ValueError, match="filter_eps is implemented for NumPy inputs only"):
        ll.LinearCrossEntropy(filter_eps=1e-3)(torch.from_numpy(hidden), torch.from_numpy(weight),
                                               torch.from_numpy(targets))
