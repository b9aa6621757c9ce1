"""Weights and reductions on every path a call can take: the row-block engine with
reduction="none", sample weights and ignored tokens; and the traced (jax.jit) weighted mean.

Oracles: the direct (one-pass) path of the same loss, and weighted means written out in
NumPy (Σ wᵢℓᵢ / Σ wᵢ over the kept values).
"""

from __future__ import annotations

import numpy as np
import pytest

import losslab as ll
from losslab.loss import engine as core


def _tokens(rng, n, time, vocab, ignored_share=0.2):
    logits = rng.normal(0.0, 2.0, size=(n, time, vocab))
    targets = rng.integers(0, vocab, size=(n, time)).astype(float)
    targets[rng.random((n, time)) < ignored_share] = -100.0
    return targets, logits


def test_token_cross_entropy_none_with_weights_and_ignored_tokens_on_the_block_path(monkeypatch):
    """2000 x 20 x 8 logits (320,000 values, above core.BLOCK_THRESHOLD): the row blocks
    must write wᵢ·ℓᵢₜ, and 0 for every ignored token, as the direct path does."""
    rng = np.random.default_rng(12)
    targets, logits = _tokens(rng, 2000, 20, 8)
    assert logits.size >= core.BLOCK_THRESHOLD  # the call below takes the block path
    w = rng.uniform(0.0, 3.0, size=2000)
    L = ll.TokenCrossEntropy()
    blocked = L(targets, logits, sample_weight=w, reduction="none")
    blocked_mean, blocked_grad = L.value_and_gradient(targets, logits, sample_weight=w)
    monkeypatch.setattr(core, "BLOCK_THRESHOLD", 10**12)
    direct = L(targets, logits, sample_weight=w, reduction="none")
    direct_mean, direct_grad = L.value_and_gradient(targets, logits, sample_weight=w)
    np.testing.assert_allclose(blocked, direct, rtol=1e-13, atol=0)
    assert np.all(blocked[targets == -100] == 0.0)
    # The plain formula: log-softmax of the target token, weighted per sequence.
    z = logits - logits.max(axis=2, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    kept = targets != -100
    ids = np.where(kept, targets, 0).astype(int)
    per_token = -np.take_along_axis(log_p, ids[..., None], axis=2)[..., 0] * kept
    np.testing.assert_allclose(blocked, w[:, None] * per_token, rtol=1e-12, atol=1e-300)
    expected_mean = (w[:, None] * per_token).sum() / (w[:, None] * kept).sum()
    assert blocked_mean == pytest.approx(expected_mean, rel=1e-12)
    assert direct_mean == pytest.approx(expected_mean, rel=1e-12)
    np.testing.assert_allclose(blocked_grad, direct_grad, rtol=1e-12, atol=1e-300)


def test_forced_blocks_of_a_small_input_give_the_same_weighted_values(monkeypatch):
    rng = np.random.default_rng(13)
    targets, logits = _tokens(rng, 50, 3, 5, ignored_share=0.3)
    w = rng.uniform(0.0, 2.0, size=50)
    L = ll.TokenCrossEntropy()
    direct = L(targets, logits, sample_weight=w, reduction="none")
    monkeypatch.setattr(core, "BLOCK_THRESHOLD", 64)
    monkeypatch.setattr(core, "BLOCK_BYTES", 256)
    np.testing.assert_allclose(L(targets, logits, sample_weight=w, reduction="none"), direct, rtol=1e-13)


# ------------------------------------------------------------------ traced weighted mean
@pytest.fixture
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def test_weighted_mean_under_jit_equals_numpy(jax):
    """Weights passed to a jitted function are tracers: the mean's denominator Σw is then
    computed in the trace (losslab.loss.weights.mean_scale's traced branch), not as a Python float."""
    jnp = jax.numpy
    rng = np.random.default_rng(14)
    y, p = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    w = rng.uniform(0.5, 2.0, size=6)
    L = ll.MSE()
    mean = jax.jit(lambda p, w: L(jnp.asarray(y), p, sample_weight=w))
    per_value = (p - y) ** 2
    expected = (w[:, None] * per_value).sum() / (3 * w.sum())  # each weight covers 3 values
    assert float(mean(jnp.asarray(p), jnp.asarray(w))) == pytest.approx(expected, rel=1e-12)
    assert float(mean(jnp.asarray(p), jnp.zeros(6))) == 0.0  # no weight at all: 0, not NaN
    grad = jax.jit(jax.grad(lambda p, w: L(jnp.asarray(y), p, sample_weight=w)))(jnp.asarray(p), jnp.asarray(w))
    np.testing.assert_allclose(np.asarray(grad), 2 * w[:, None] * (p - y) / (3 * w.sum()), rtol=1e-12)
    zero_grad = jax.jit(jax.grad(lambda p, w: L(jnp.asarray(y), p, sample_weight=w)))(jnp.asarray(p), jnp.zeros(6))
    assert np.all(np.asarray(zero_grad) == 0.0)


def test_weighted_mean_of_tokens_under_jit_counts_only_kept_tokens(jax):
    jnp = jax.numpy
    rng = np.random.default_rng(15)
    targets, logits = _tokens(rng, 5, 4, 6, ignored_share=0.3)
    w = rng.uniform(0.5, 2.0, size=5)
    L = ll.TokenCrossEntropy()
    eager = L(targets, logits, sample_weight=w)
    traced = jax.jit(lambda z, w: L(jnp.asarray(targets), z, sample_weight=w))(jnp.asarray(logits), jnp.asarray(w))
    assert float(traced) == pytest.approx(float(eager), rel=1e-12)
