"""Cases for losses/ranking.py (query-level losses with and without query_ids).

Without query ids, pairwise_logistic and listnet take (y_true, y_pred) on the real line and
their inputs are drawn from the declared domains (tests/domains.py). Hand-written: the
pairs of margin_ranking (three inputs) and the query ids, which no declaration describes."""

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


CASES = [
    Case("margin_ranking", ll.MarginRanking(), _margin_pairs(0.0), has_hessian=False),
    Case("margin_ranking-0.5", ll.MarginRanking(margin=0.5), _margin_pairs(0.5), has_hessian=False),
    Case("pairwise_logistic", ll.PairwiseLogistic(), has_hessian=False),
    Case("pairwise_logistic-queries", ll.PairwiseLogistic(), _queries, has_hessian=False),
    Case("listnet", ll.ListNet(), has_hessian=False),
    Case("listnet-queries", ll.ListNet(), _queries, has_hessian=False),
]
