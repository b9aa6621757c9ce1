"""Cases for losses/embedding.py. Draws keep every hinge away from its kink. Hand-written:
pairs, triplets, two views and labelled batches are structures between inputs (and kinks
in distances between them) that the declarations do not describe."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case

DIM = 3


def _pairs(margin, kink):
    """(y, x1, x2): similar pairs and dissimilar pairs whose distance/cosine avoids the kink."""

    def make(rng, n):
        y = rng.integers(0, 2, size=n).astype(float)
        x1 = rng.normal(size=(n, DIM))
        x2 = rng.normal(size=(n, DIM))
        for i in range(n):
            while abs(kink(x1[i], x2[i]) - margin) < 0.05:
                x2[i] = rng.normal(size=DIM)
        return (y, x1, x2), {}

    return make


def _distance(x1, x2):
    return float(np.linalg.norm(x1 - x2))


def _cosine(x1, x2):
    return float(x1 @ x2 / (np.linalg.norm(x1) * np.linalg.norm(x2)))


def _signed_pairs(margin):
    inner = _pairs(margin, _cosine)

    def make(rng, n):
        (y, x1, x2), options = inner(rng, n)
        return (2.0 * y - 1.0, x1, x2), options

    return make


def _triplets(loss):
    """Triplets away from the hinge's kink and, with the swap, from d(a, n) = d(p, n) (where
    the min switches sides); p = ∞ draws have one largest |entry| per difference."""

    def distance(x, y):
        return float(loss.distance_and_gradient(np, x[None], y[None])[0][0])

    def far_from_kinks(a, p, q):
        d_an, d_pn = distance(a, q), distance(p, q)
        negative = min(d_an, d_pn) if loss.swap else d_an
        return abs(distance(a, p) - negative + loss.margin) > 0.05 and (not loss.swap or abs(d_an - d_pn) > 0.05)

    def make(rng, n):
        a, p, q = (rng.normal(size=(n, DIM)) for _ in range(3))
        for i in range(n):
            while not far_from_kinks(a[i], p[i], q[i]):
                # p as well: with p close to a, d(a, n) ≈ d(p, n) for every n.
                p[i], q[i] = rng.normal(size=DIM), rng.normal(size=DIM)
        return (a, p, q), {}

    return make


def _two_views(rng, n):
    x = rng.normal(size=(n, DIM))
    return (x, x + 0.5 * rng.normal(size=(n, DIM))), {}


def _labelled(rng, n):
    # Every label at least twice, so that every anchor has a positive (see test_structured
    # for anchors without one, which get weight 0).
    labels = rng.permutation(np.arange(n) % max(2, n // 3)).astype(float)
    return (rng.normal(size=(n, DIM)), labels), {}


TRIPLETS = [
    ("triplet", ll.Triplet()),
    ("triplet-squared-0.2", ll.Triplet(margin=0.2, squared=True)),
    ("triplet-cosine-0.3", ll.Triplet(margin=0.3, distance="cosine")),
    ("triplet-p1-swap", ll.Triplet(p=1.0, swap=True)),
    ("triplet-p3", ll.Triplet(margin=0.5, p=3.0)),
    ("triplet-pinf-swap-1.5", ll.Triplet(margin=1.5, p=float("inf"), swap=True)),
    ("triplet-cosine-swap", ll.Triplet(margin=0.4, distance="cosine", swap=True)),
]

def _vector_pairs(rng, n):
    """(N, dim) target and predicted vectors with no zero row: draw() makes a class axis of
    targets for event_ndim = 1, not a second array of vectors."""
    return (rng.normal(0.0, 1.0, size=(n, 3)), rng.normal(0.0, 1.0, size=(n, 3))), {}


CASES = [
    Case("contrastive", ll.Contrastive(), _pairs(1.0, _distance), has_hessian=False),
    Case("contrastive-margin2", ll.Contrastive(margin=2.0), _pairs(2.0, _distance), has_hessian=False),
    *[Case(name, loss, _triplets(loss), has_hessian=False) for name, loss in TRIPLETS],
    Case("cosine_embedding", ll.CosineEmbedding(), _signed_pairs(0.0), has_hessian=False),
    Case("cosine_distance", ll.CosineDistance(), _vector_pairs),
    Case("cosine_embedding-0.3", ll.CosineEmbedding(margin=0.3), _signed_pairs(0.3), has_hessian=False),
    Case("info_nce-0.5", ll.InfoNCE(temperature=0.5), _two_views, has_hessian=False),
    Case("clip-0.3", ll.CLIP(temperature=0.3), _two_views, has_hessian=False),
    Case("supcon-0.5", ll.SupCon(temperature=0.5), _labelled, has_hessian=False),
]
