"""Cases for losses/ranking.py (query-level losses with and without query_ids)."""

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


def _items(with_queries):
    def make(rng, n):
        relevance = rng.integers(0, 4, size=n).astype(float)
        scores = rng.normal(0.0, 1.5, size=n)
        options = {"query_ids": rng.integers(0, max(1, n // 4), size=n).astype(float)} if with_queries else {}
        return (relevance, scores), options

    return make


CASES = [
    Case("margin_ranking", ll.MarginRanking(), _margin_pairs(0.0), has_hessian=False),
    Case("margin_ranking-0.5", ll.MarginRanking(margin=0.5), _margin_pairs(0.5), has_hessian=False),
    Case("pairwise_logistic", ll.PairwiseLogistic(), _items(False), has_hessian=False),
    Case("pairwise_logistic-queries", ll.PairwiseLogistic(), _items(True), has_hessian=False),
    Case("listnet", ll.ListNet(), _items(False), has_hessian=False),
    Case("listnet-queries", ll.ListNet(), _items(True), has_hessian=False),
]
