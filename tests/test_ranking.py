"""Reference tests of ranking_softmax, approx_ndcg, lambda_loss and pairwise_hinge.

Each value is checked against its paper's formula evaluated directly here (plain NumPy,
loops over the pairs and queries, ranks by sorting), each gradient against central
differences of that independent formula, and the query losses grouped by ``query_ids``
against each query evaluated on its own. Peers: Optax's ``ranking_softmax_loss`` when Optax
is installed (skipped otherwise), and the numbers printed in Optax's and Rax's
documentation (quoted where used; Rax is not installed here).
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

import losslab as ll

QUERY_LOSSES = ["approx_ndcg", "lambda_loss", "pairwise_hinge"]


@pytest.fixture
def rng():
    return np.random.default_rng(13)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _central_difference(f, x, h=1e-6):
    g = np.empty_like(x)
    for k in range(x.size):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        g[k] = (f(up) - f(down)) / (2 * h)
    return g


def _spread_scores(rng, n, gap=0.05):
    """Scores whose pairwise differences all exceed ``gap`` (no ties: lambda_loss's ranks are
    fixed within a central-difference step)."""
    while True:
        s = rng.normal(0.0, 1.5, size=n)
        if np.all(np.abs(s[:, None] - s[None, :])[~np.eye(n, dtype=bool)] > gap):
            return s


# ------------------------------------------------------------------ the formulas, directly
def _ideal_dcg(y):
    """DCG of the labels sorted descending: Σ_k (2^y_(k) − 1)/log₂(1 + k)."""
    ordered = np.sort(y)[::-1]
    return sum((2.0**g - 1.0) / math.log2(1 + k) for k, g in enumerate(ordered, start=1))


def _approx_ndcg_query(y, s, temperature):
    """1 − ApproxNDCG of one query (Qin, Liu & Li 2010, eq. for π̂ with a sigmoid)."""
    idcg = _ideal_dcg(y)
    if idcg == 0:
        return 0.0
    n = len(s)
    dcg = 0.0
    for i in range(n):
        rank = 1.0 + sum(_sigmoid((s[j] - s[i]) / temperature) for j in range(n) if j != i)
        dcg += (2.0 ** y[i] - 1.0) / math.log2(1.0 + rank)
    return 1.0 - dcg / idcg


def _score_ranks(s):
    """1-based ranks by score, descending (no ties in these tests)."""
    ranks = np.empty(len(s))
    ranks[np.argsort(-s, kind="stable")] = np.arange(1, len(s) + 1)
    return ranks


def _lambda_loss_query(y, s, mu, sigma):
    """NDCG-Loss2++ of one query (Wang et al. 2018, eq. 13 with the weights of §4)."""
    idcg = _ideal_dcg(y)
    G = (2.0**y - 1.0) / idcg if idcg > 0 else np.zeros_like(y)
    r = _score_ranks(s)
    total = 0.0
    for i, j in itertools.permutations(range(len(s)), 2):
        if y[i] > y[j]:
            rho = abs(1 / math.log2(1 + r[i]) - 1 / math.log2(1 + r[j]))
            gap = abs(r[i] - r[j])
            delta = abs(1 / math.log2(1 + gap) - 1 / math.log2(2 + gap))
            weight = (rho + mu * delta) * abs(G[i] - G[j])
            total += weight * math.log2(1 + math.exp(-sigma * (s[i] - s[j])))
    return total


def _pairwise_hinge_query(y, s, margin):
    return sum(max(0.0, margin - (s[i] - s[j])) for i, j in itertools.permutations(range(len(s)), 2) if y[i] > y[j])


def _by_query(query_loss, y, s, qid, **kw):
    return sum(query_loss(y[qid == q], s[qid == q], **kw) for q in np.unique(qid))


# ------------------------------------------------------------------ ranking_softmax
def test_ranking_softmax_equals_optax_documented_numbers():
    # optax.losses.ranking_softmax_loss docstring (also Rax's softmax_loss, the labels being
    # one-hot): 1.408 for one list, 0.497 for the masked batch, gradient [-0.755, 0.09, 0.665].
    assert ll.ranking_softmax([[1.0, 0.0, 0.0]], [[2.0, 1.0, 3.0]]) == pytest.approx(1.4076059, abs=1e-6)
    scores = np.array([[2.0, 1.0, 0.0], [1.0, 0.5, 1.5]])
    labels = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    where = np.array([[True, True, False], [True, True, True]])
    assert ll.ranking_softmax(labels, scores, where=where) == pytest.approx(0.49676564, abs=1e-7)
    grad = ll.get("ranking_softmax_loss").gradient([[1.0, 0.0, 0.0]], [[2.0, 1.0, 3.0]])
    np.testing.assert_allclose(grad[0], [-0.755, 0.09, 0.665], atol=5e-4)


def _ranking_softmax_direct(y, s, where):
    """−Σ y log softmax(s) over the valid items of each list; the mean over lists with one."""
    losses, counted = [], []
    for yi, si, wi in zip(y, s, where):
        if not wi.any():
            continue
        log_p = si[wi] - math.log(np.exp(si[wi]).sum())
        losses.append(-(yi[wi] * log_p).sum())
    return float(np.mean(losses))


def test_ranking_softmax_equals_the_formula_with_masks(rng):
    y = rng.integers(0, 4, size=(6, 5)).astype(float)
    s = rng.normal(0.0, 2.0, size=(6, 5))
    where = rng.random((6, 5)) < 0.7
    where[2] = False  # a list with no valid item: no loss, no weight in the mean
    expected = _ranking_softmax_direct(y, s, where)
    assert ll.ranking_softmax(y, s, where=where) == pytest.approx(expected, rel=1e-12)
    assert ll.ranking_softmax(y, s, where=where.astype(float)) == pytest.approx(expected, rel=1e-12)
    per_list = ll.ranking_softmax(y, s, where=where, reduction="none")
    assert per_list[2] == 0.0 and per_list.shape == (6,)
    grad = ll.RankingSoftmax().gradient(y, s, where=where)
    flat = lambda v: _ranking_softmax_direct(y, v.reshape(s.shape), where)  # noqa: E731
    np.testing.assert_allclose(grad.ravel(), _central_difference(flat, s.ravel()), rtol=1e-6, atol=1e-9)
    assert np.all(grad[~where] == 0.0)
    # The Hessian diagonal (Σy)·p(1 − p), from the softmax of the valid items.
    hess = ll.RankingSoftmax().hessian(y[:1], s[:1], where=where[:1], reduction="sum")
    w = where[0]
    p = np.exp(s[0][w]) / np.exp(s[0][w]).sum()
    np.testing.assert_allclose(hess[0][w], y[0][w].sum() * p * (1 - p), rtol=1e-12)


def test_ranking_softmax_equals_optax(rng):
    optax = pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    y = rng.integers(0, 3, size=(5, 4)).astype(float)
    s = rng.normal(0.0, 2.0, size=(5, 4))
    where = rng.random((5, 4)) < 0.75
    where[1] = False
    for kw, options in (({}, {}), ({"where": jnp.asarray(where)}, {"where": where})):
        for reduce_fn, reduction in ((jnp.mean, "mean"), (jnp.sum, "sum"), (None, "none")):
            def peer(v, kw=kw, reduce_fn=reduce_fn):
                return optax.losses.ranking_softmax_loss(v, jnp.asarray(y), reduce_fn=reduce_fn, **kw)

            ours = ll.get("ranking_softmax_loss")(y, s, reduction=reduction, **options)
            np.testing.assert_allclose(ours, np.asarray(peer(jnp.asarray(s))), rtol=1e-12, atol=1e-15)
            if reduction != "none":
                np.testing.assert_allclose(ll.RankingSoftmax().gradient(y, s, reduction=reduction, **options),
                                           np.asarray(jax.grad(peer)(jnp.asarray(s))), rtol=1e-10, atol=1e-15)


def test_ranking_softmax_extreme_scores_stay_finite():
    y = np.array([[1.0, 0.0, 2.0]])
    # Score gaps of 2e300 (float64) and 2e30 (float32): the loss, about y·gap, still fits.
    for s in (np.array([[1e300, -1e300, 0.0]]), np.array([[-1e30, 1e30, 1.0]], dtype=np.float32)):
        value, grad = ll.RankingSoftmax().value_and_gradient(y.astype(s.dtype), s)
        assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == s.dtype


# ------------------------------------------------------------------ approx_ndcg
@pytest.mark.parametrize("temperature", [1.0, 0.25])
def test_approx_ndcg_equals_the_formula_over_queries(rng, temperature):
    y = rng.integers(0, 4, size=11).astype(float)
    s = rng.normal(size=11)
    qid = np.array([2, 2, 2, 5, 5, 5, 5, 9, 9, 9, 9])
    y[qid == 9] = 0.0  # a query without a relevant item: IDCG = 0, loss 0
    L = ll.ApproxNDCG(temperature=temperature)
    expected = _by_query(_approx_ndcg_query, y, s, qid, temperature=temperature)
    assert L(y, s, query_ids=qid, reduction="sum") == pytest.approx(expected, rel=1e-12)
    assert L(y, s, query_ids=qid) == pytest.approx(expected / 11, rel=1e-12)
    total = lambda v: _by_query(_approx_ndcg_query, y, v, qid, temperature=temperature)  # noqa: E731
    np.testing.assert_allclose(L.gradient(y, s, query_ids=qid, reduction="sum"), _central_difference(total, s),
                               rtol=1e-6, atol=1e-9)


def test_approx_ndcg_equals_rax_documented_numbers():
    # Rax's approx_t12n(ndcg_metric) docstring: -0.71789175 for scores [0, 1, 3, 2], labels
    # [0, 0, 1, 2]; approx_ranks' docstring: ndcg_metric with approximate ranks 0.63092977 for
    # scores [-1, 1, 0], labels [0, 0, 1], gradient [-0.03763788, -0.03763788, 0.07527576]
    # (a metric to maximise: the loss is one minus it, its gradient the negative).
    assert ll.approx_ndcg([0.0, 0.0, 1.0, 2.0], [0.0, 1.0, 3.0, 2.0], reduction="sum") == pytest.approx(
        1 - 0.71789175, abs=1e-6)
    assert ll.approx_ndcg([0.0, 0.0, 1.0], [-1.0, 1.0, 0.0], reduction="sum") == pytest.approx(1 - 0.63092977, abs=1e-7)
    grad = ll.ApproxNDCG().gradient([0.0, 0.0, 1.0], [-1.0, 1.0, 0.0], reduction="sum")
    np.testing.assert_allclose(grad, [0.03763788, 0.03763788, -0.07527576], atol=1e-7)


def test_approx_ndcg_tends_to_one_minus_ndcg_at_low_temperature(rng):
    """As T → 0 each σ((s_j − s_i)/T) becomes the indicator s_j > s_i: π̂ is the true rank."""
    y = np.array([3.0, 0.0, 1.0, 2.0, 0.0])
    s = np.array([0.1, 0.9, 0.5, -0.4, -1.2])
    order = np.argsort(-s)
    ndcg = sum((2.0 ** y[i] - 1) / math.log2(2 + k) for k, i in enumerate(order)) / _ideal_dcg(y)
    assert ll.approx_ndcg(y, s, temperature=1e-3, reduction="sum") == pytest.approx(1 - ndcg, abs=1e-12)


# ------------------------------------------------------------------ lambda_loss
@pytest.mark.parametrize("mu, sigma", [(10.0, 1.0), (0.0, 2.0), (3.0, 0.5)])
def test_lambda_loss_equals_the_formula_over_pairs(rng, mu, sigma):
    qid = np.array([0, 0, 0, 0, 1, 1, 1, 3, 3, 3, 3, 3])
    y = rng.integers(0, 4, size=qid.size).astype(float)
    s = _spread_scores(rng, qid.size)
    L = ll.LambdaLoss(mu=mu, sigma=sigma)
    expected = _by_query(_lambda_loss_query, y, s, qid, mu=mu, sigma=sigma)
    assert L(y, s, query_ids=qid, reduction="sum") == pytest.approx(expected, rel=1e-12)
    # Away from ties the ranks are fixed, and the gradient is the loss's derivative.
    total = lambda v: _by_query(_lambda_loss_query, y, v, qid, mu=mu, sigma=sigma)  # noqa: E731
    np.testing.assert_allclose(L.gradient(y, s, query_ids=qid, reduction="sum"), _central_difference(total, s),
                               rtol=1e-6, atol=1e-9)


def test_lambda_loss_with_mu_zero_weights_each_pair_by_lambdaranks_delta_ndcg(rng):
    """LambdaRank's weight is |ΔNDCG|: the change of NDCG when i and j swap places in the
    ranking by score, computed here by swapping and re-evaluating NDCG."""
    y = np.array([2.0, 0.0, 1.0, 3.0, 1.0, 0.0])
    s = _spread_scores(rng, y.size)

    def ndcg(scores):
        return sum((2.0 ** y[i] - 1) / math.log2(2 + k) for k, i in enumerate(np.argsort(-scores))) / _ideal_dcg(y)

    expected = 0.0
    for i, j in itertools.permutations(range(y.size), 2):
        if y[i] > y[j]:
            swapped = s.copy()
            swapped[[i, j]] = swapped[[j, i]]
            expected += abs(ndcg(s) - ndcg(swapped)) * math.log2(1 + math.exp(-(s[i] - s[j])))
    assert ll.lambda_loss(y, s, mu=0.0, reduction="sum") == pytest.approx(expected, rel=1e-12)


def test_lambda_loss_jumps_where_two_scores_tie():
    """Declared not differentiable: when two items swap ranks the other pairs' weights change."""
    y = np.array([2.0, 1.0, 0.0])
    below = ll.lambda_loss(y, np.array([0.0, 0.5 - 1e-9, 0.5 + 1e-9]), reduction="sum")
    above = ll.lambda_loss(y, np.array([0.0, 0.5 + 1e-9, 0.5 - 1e-9]), reduction="sum")
    assert abs(above - below) > 1e-3
    assert ll.LambdaLoss().traits.differentiable is False


# ------------------------------------------------------------------ pairwise_hinge
def test_pairwise_hinge_equals_rax_documented_numbers_and_the_formula(rng):
    # rax.pairwise_hinge_loss docstring: 2.0 for scores [2, 1, 3], labels [1, 0, 0], and
    # [2.0, 0.5] per list with vmap (its default reduce_fn sums over pairs).
    assert ll.pairwise_hinge([1.0, 0.0, 0.0], [2.0, 1.0, 3.0], reduction="sum") == pytest.approx(2.0)
    y, s = np.array([1.0, 0, 0, 0, 0, 1]), np.array([2.0, 1.0, 3.0, 1.0, 0.5, 1.5])
    per_item = ll.pairwise_hinge(y, s, query_ids=[0, 0, 0, 1, 1, 1], reduction="none")
    assert [per_item[:3].sum(), per_item[3:].sum()] == pytest.approx([2.0, 0.5])
    qid = rng.integers(0, 3, size=10)
    y, s = rng.integers(0, 3, size=10).astype(float), rng.normal(size=10)
    for margin in (1.0, 0.3):
        expected = _by_query(_pairwise_hinge_query, y, s, qid, margin=margin)
        assert ll.pairwise_hinge(y, s, query_ids=qid, margin=margin, reduction="sum") == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ query groups
@pytest.mark.parametrize("name", QUERY_LOSSES)
def test_query_by_query_equals_one_query_at_a_time(name, rng):
    """Grouped evaluation (queries of equal size stacked, others apart) against each query
    evaluated alone: values per item and the gradient, with sample weights."""
    L = ll.get(name)
    query_ids = rng.permutation(np.repeat([3, 1, 7, 5, 8], [4, 6, 6, 2, 1]))
    relevance = rng.integers(0, 3, query_ids.size).astype(float)
    scores = _spread_scores(rng, query_ids.size)
    w = rng.uniform(0.5, 2.0, query_ids.size)
    per_item = L(relevance, scores, query_ids=query_ids, reduction="none")
    grad = L.gradient(relevance, scores, query_ids=query_ids, sample_weight=w, reduction="sum")
    for q in np.unique(query_ids):
        mine = query_ids == q
        np.testing.assert_allclose(per_item[mine], L(relevance[mine], scores[mine], reduction="none"), rtol=1e-13)
        alone = L.gradient(relevance[mine], scores[mine], sample_weight=w[mine], reduction="sum")
        np.testing.assert_allclose(grad[mine], alone, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", QUERY_LOSSES)
def test_traced_fallback_equals_the_grouped_evaluation(name, rng):
    """Under jax.jit the query ids are abstract: the same-query mask path gives the same numbers."""
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    jax.config.update("jax_enable_x64", True)
    L = ll.get(name)
    qid = rng.permutation(np.repeat([0, 1, 2], [3, 5, 4]))
    y, s = rng.integers(0, 4, qid.size).astype(float), _spread_scores(rng, qid.size)
    value, grad = jax.jit(jax.value_and_grad(lambda v, q: L(jnp.asarray(y), v, query_ids=q)))(jnp.asarray(s), qid)
    assert float(value) == pytest.approx(L(y, s, query_ids=qid), rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad), L.gradient(y, s, query_ids=qid), rtol=1e-10, atol=1e-15)


def test_query_losses_run_query_by_query_in_bounded_memory():
    """10⁵ items in queries of 100 under a 3 GiB address-space cap: one N×N float64 matrix
    would need 80 GB; query by query the pairs (10⁷ in all) go in bounded batches."""
    code = """
import resource, numpy as np
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
import losslab as ll
rng = np.random.default_rng(0)
n = 100_000
query_ids = rng.permutation(np.repeat(np.arange(n // 100), 100))
relevance, scores = rng.integers(0, 3, n).astype(float), rng.normal(size=n)
for name in ("approx_ndcg", "lambda_loss", "pairwise_hinge"):
    value, grad = ll.get(name).value_and_gradient(relevance, scores, query_ids=query_ids)
    assert np.isfinite(value) and grad.shape == (n,) and np.all(np.isfinite(grad))
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


# ------------------------------------------------------------------ bad input, extremes
@pytest.mark.parametrize("call, match", [
    (lambda: ll.approx_ndcg([1.0, -1.0], [0.5, 0.2]), "y_true must hold graded relevance labels"),
    (lambda: ll.lambda_loss([1.0, -1.0], [0.5, 0.2]), "y_true must hold graded relevance labels"),
    (lambda: ll.ranking_softmax([[1.0, -1.0]], [[0.5, 0.2]]), "y_true must hold relevance labels"),
    (lambda: ll.ranking_softmax([1.0, 0.0], [0.5, 0.2]), "y_pred must hold one list per row"),
    (lambda: ll.ranking_softmax([[1.0, 0.0]], [[0.5, 0.2]], where=[True, False]), "where must have y_pred's shape"),
    (lambda: ll.ranking_softmax([[1.0, 0.0]], [[0.5, 0.2]], where=[[0.5, 1.0]]), "where must be boolean"),
    (lambda: ll.pairwise_hinge([1.0, 0.0], [0.5, 0.2], query_ids=[0, 0, 1]), "query_ids must have shape"),
    (lambda: ll.get("approx_ndcg", temperature=0.0), "temperature"),
    (lambda: ll.get("lambda_loss", mu=-1.0), "mu"),
    (lambda: ll.get("lambda_loss", sigma=0.0), "sigma"),
    (lambda: ll.get("pairwise_hinge", margin=-1.0), "margin"),
])
def test_bad_input_is_an_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("name", QUERY_LOSSES)
def test_query_losses_stay_finite_at_extreme_scores(name):
    y = np.array([2.0, 0.0, 1.0, 0.0])
    # Score gaps of 2e300 (float64) and 2e30 (float32), which the pair losses still hold.
    for s in (np.array([1e300, -1e300, 3e299, 0.0]), np.array([-1e30, 1e30, 1.0, -1.0], dtype=np.float32)):
        value, grad = ll.get(name).value_and_gradient(y.astype(s.dtype), s, query_ids=[0, 0, 1, 1])
        assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == s.dtype
