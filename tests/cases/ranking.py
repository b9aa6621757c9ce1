"""Cases for losses/ranking.py (query-level losses with and without query_ids).

Without query ids, pairwise_logistic, listnet and approx_ndcg take (y_true, y_pred) and
their inputs are drawn from the declared domains (tests/domains.py; approx_ndcg's labels
are ≥ 0). Hand-written: the pairs of margin_ranking (three inputs), the query ids, scores
kept away from the jumps of lambda_loss (ties) and the kinks of pairwise_hinge
(s_i − s_j = m), and ranking_softmax's lists (rows) with a where mask; no declaration
describes these."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case


def _margin_pairs(margin):
    def make(rng, n):
        y = rng.choice([-1.0, 1.0], size=n)
        a = rng.normal(0.0, 2.0, size=n)
        b = rng.normal(0.0, 2.0, size=n)
        # Keep the hinge argument m − y(a − b) away from its kink at 0.
        z = margin - y * (a - b)
        close = np.abs(z) < 0.05
        b[close] += y[close] * 0.1
        return (y, a, b), {}

    return make


def _queries(rng, n):
    # Graded relevance 0-3 (ties within a query included) in about n/4 queries.
    relevance = rng.integers(0, 4, size=n).astype(float)
    scores = rng.normal(0.0, 1.5, size=n)
    return (relevance, scores), {"query_ids": rng.integers(0, max(1, n // 4), size=n).astype(float)}


def _spread_queries(margin, with_ids=True):
    """Graded labels 0-3 and scores whose within-query differences keep 0.05 away from 0
    (lambda_loss's ranks change there) and from ±margin (pairwise_hinge's kinks), so that
    finite differences of step ~1e-3 stay on one smooth piece."""

    def make(rng, n):
        relevance = rng.integers(0, 4, size=n).astype(float)
        ids = rng.integers(0, max(1, n // 4), size=n).astype(float) if with_ids else np.zeros(n)
        for _ in range(1000):
            scores = rng.normal(0.0, 1.5, size=n)
            diff = np.abs(scores[:, None] - scores[None, :])[(ids[:, None] == ids[None, :]) & ~np.eye(n, dtype=bool)]
            if np.all(diff > 0.05) and np.all(np.abs(diff - margin) > 0.05):
                return (relevance, scores), ({"query_ids": ids} if with_ids else {})
        raise RuntimeError("no spread scores drawn")

    return make


def _lists(masked):
    """ranking_softmax's rows: 3 items per list, graded labels ≥ 0 (zero rows included, which
    give 0); with ``masked`` one random item of some lists is masked, never a whole list
    (a fully masked list has weight 0, which the generic reduction test does not expect)."""

    def make(rng, n):
        labels = rng.integers(0, 3, size=(n, 3)).astype(float)
        scores = rng.normal(0.0, 2.0, size=(n, 3))
        if not masked:
            return (labels, scores), {}
        where = np.ones((n, 3), dtype=bool)
        hidden = rng.random(n) < 0.5
        where[np.flatnonzero(hidden), rng.integers(0, 3, size=int(hidden.sum()))] = False
        return (labels, scores), {"where": where}

    return make


CASES = [
    Case("margin_ranking", ll.MarginRanking(), _margin_pairs(0.0), has_hessian=False),
    Case("margin_ranking-0.5", ll.MarginRanking(margin=0.5), _margin_pairs(0.5), has_hessian=False),
    Case("pairwise_logistic", ll.PairwiseLogistic(), has_hessian=False),
    Case("pairwise_logistic-queries", ll.PairwiseLogistic(), _queries, has_hessian=False),
    Case("listnet", ll.ListNet(), has_hessian=False),
    Case("listnet-queries", ll.ListNet(), _queries, has_hessian=False),
    Case("ranking_softmax", ll.RankingSoftmax(), _lists(False)),
    Case("ranking_softmax-where", ll.RankingSoftmax(), _lists(True)),
    Case("approx_ndcg", ll.ApproxNDCG(), has_hessian=False),
    Case("approx_ndcg-0.3", ll.ApproxNDCG(temperature=0.3), _queries, has_hessian=False),
    Case("lambda_loss", ll.LambdaLoss(), _spread_queries(0.0), has_hessian=False),
    Case("lambda_loss-lambdarank", ll.LambdaLoss(mu=0.0, sigma=2.0), _spread_queries(0.0), has_hessian=False),
    Case("lambda_loss-one-query", ll.LambdaLoss(), _spread_queries(0.0, with_ids=False), has_hessian=False),
    Case("pairwise_hinge", ll.PairwiseHinge(), _spread_queries(1.0), has_hessian=False),
    Case("pairwise_hinge-0.5", ll.PairwiseHinge(margin=0.5), _spread_queries(0.5), has_hessian=False),
]
