"""Cases for losses/metric.py. Hand-written: labelled views, image–text pairs, embeddings
with a class matrix and two views of a batch are structures between inputs that the
declarations do not describe."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case

DIM, CLASSES = 4, 5


def _views(n_views):
    """n_views views of each image (labels = image ids), each view a noisy copy."""

    def make(rng, n):
        images = max(2, n // n_views)
        centres = rng.normal(size=(images, DIM))
        labels = np.repeat(np.arange(images), n_views)[:n].astype(float)
        labels = labels[rng.permutation(labels.size)]
        return (centres[labels.astype(int)] + 0.7 * rng.normal(size=(labels.size, DIM)), labels), {}

    return make


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _views_away_from(kink, margin):
    """Labelled views (as ``_views(3)``) redrawn until every pair's similarity (circle: the
    negatives' cosine, whose weight α_n has a kink at −m) or its hinge (margin_based) is
    0.02 or more from the kink, so that finite differences are valid. Batches above 64 rows
    (the blocked-path comparison, which needs no smoothness) are not redrawn: among
    millions of pairs some are always that close."""

    def make(rng, n):
        while True:
            (x, labels), options = _views(3)(rng, n)
            if n > 64 or kink(x, labels, margin) > 0.02:
                return (x, labels), options

    return make


def _circle_kink(x, labels, margin):
    s = _unit(x) @ _unit(x).T
    other = labels[:, None] != labels[None, :]
    return np.min(np.abs(s[other] + margin)) if other.any() else 1.0


def _margin_classes(margin):
    """Embeddings, class labels and one β per class, every pair's hinge α + y(D − β) at least
    0.02 from 0 (not redrawn above 64 rows, as in ``_views_away_from``)."""

    def make(rng, n):
        while True:
            labels = rng.integers(0, CLASSES, size=n).astype(float)
            centres = rng.normal(size=(CLASSES, DIM))
            x = centres[labels.astype(int)] + 0.8 * rng.normal(size=(n, DIM))
            beta = rng.uniform(0.6, 1.4, CLASSES)
            if n > 64:
                return (x, labels, beta), {}
            u = _unit(x)
            d = np.linalg.norm(u[:, None] - u[None], axis=2)
            y = np.where(labels[:, None] == labels[None, :], 1.0, -1.0)
            z = margin + y * (d - beta[labels.astype(int)][:, None])
            if np.min(np.abs(z[~np.eye(n, dtype=bool)]), initial=1.0) > 0.02:
                return (x, labels, beta), {}

    return make


def _pairs(rng, n):
    x = rng.normal(size=(n, DIM))
    return (x, x + 0.8 * rng.normal(size=(n, DIM))), {}


def _classes(rng, n):
    """Embeddings, class labels and a class matrix; cosines stay away from ±1, where
    arcface's derivative in cos θ is unbounded."""
    weight = rng.normal(size=(CLASSES, DIM))
    labels = rng.integers(0, CLASSES, size=n).astype(float)
    x = weight[labels.astype(int)] + rng.normal(size=(n, DIM))
    return (x, labels, weight), {}


def _sub_centers(k):
    """Embeddings, class labels and a class matrix of k sub-centres per class (row c·k + j):
    each embedding near one of its class's sub-centres; continuous draws, so that no two
    sub-centres tie for a class's maximum (where the loss is not differentiable)."""

    def make(rng, n):
        weight = rng.normal(size=(CLASSES * k, DIM))
        labels = rng.integers(0, CLASSES, size=n).astype(float)
        rows = labels.astype(int) * k + rng.integers(0, k, size=n)
        return (weight[rows] + rng.normal(size=(n, DIM)), labels, weight), {}

    return make


def _spread_views(rng, n):
    """Two views whose columns have sample standard deviations fixed away from VICReg's
    γ = 1 (its variance hinge's kink): 0.3 and 0.6 below it (active), 2 and 3 above."""
    scales = np.array([0.3, 0.6, 2.0, 3.0])

    def with_spread(z):
        centred = z - z.mean(axis=0)
        return centred / centred.std(axis=0, ddof=1) * scales + rng.normal(size=DIM)

    x = rng.normal(size=(n, DIM))
    return (with_spread(x), with_spread(x + 0.5 * rng.normal(size=(n, DIM)))), {}


CASES = [
    Case("ntxent-0.5-two-views", ll.NTXent(temperature=0.5), _views(2), has_hessian=False),
    Case("ntxent-0.3-three-views", ll.NTXent(temperature=0.3), _views(3), has_hessian=False),
    Case("multi_similarity", ll.MultiSimilarity(), _views(3), has_hessian=False),
    Case("multi_similarity-2-10-0.3", ll.MultiSimilarity(alpha=2.0, beta=10.0, base=0.3), _views(2), has_hessian=False),
    Case("circle", ll.Circle(), _views_away_from(_circle_kink, 0.4), has_hessian=False),
    Case("circle-g8-m0.25", ll.Circle(gamma=8.0, margin=0.25), _views_away_from(_circle_kink, 0.25),
         has_hessian=False),
    Case("npair", ll.NPair(), _pairs, has_hessian=False),
    Case("lifted_structure", ll.LiftedStructure(), _views(2), has_hessian=False),
    Case("lifted_structure-0.5-three-views", ll.LiftedStructure(margin=0.5), _views(3), has_hessian=False),
    Case("margin_based", ll.MarginBased(), _margin_classes(0.2), has_hessian=False),
    Case("margin_based-0.1", ll.MarginBased(margin=0.1), _margin_classes(0.1), has_hessian=False),
    Case("siglip", ll.SigLIP(), _pairs, has_hessian=False),
    Case("siglip-0.5-bias1", ll.SigLIP(temperature=0.5, bias=1.0), _pairs, has_hessian=False),
    Case("arcface-s4-m0.3", ll.ArcFace(scale=4.0, margin=0.3), _classes, has_hessian=False),
    Case("cosface-s4-m0.2", ll.CosFace(scale=4.0, margin=0.2), _classes, has_hessian=False),
    Case("barlow_twins", ll.BarlowTwins(), _pairs, has_hessian=False),
    Case("barlow_twins-0.1", ll.BarlowTwins(lambda_offdiag=0.1), _pairs, has_hessian=False),
    Case("vicreg", ll.VICReg(), _spread_views, has_hessian=False),
    Case("vicreg-weights", ll.VICReg(invariance_weight=1.0, variance_weight=2.0, covariance_weight=0.5, gamma=1.0),
         _spread_views, has_hessian=False),
]

# SphereFace, sub-center ArcFace and the proxy losses: embeddings with a class matrix (or
# proxies); SphereFace's ψ has a continuous derivative, so finite differences hold across
# its boundaries θ = kπ/m too.
CASES += [
    Case("sphereface", ll.SphereFace(), _classes, has_hessian=False),
    Case("sphereface-s2-m3", ll.SphereFace(scale=2.0, margin=3), _classes, has_hessian=False),
    Case("subcenter_arcface-k3", ll.SubCenterArcFace(scale=4.0, margin=0.3), _sub_centers(3), has_hessian=False),
    Case("subcenter_arcface-k2", ll.SubCenterArcFace(scale=8.0, margin=0.2, sub_centers=2), _sub_centers(2),
         has_hessian=False),
    Case("proxy_nca", ll.ProxyNCA(), _classes, has_hessian=False),
    Case("proxy_nca-s3", ll.ProxyNCA(scale=3.0), _classes, has_hessian=False),
    Case("proxy_anchor", ll.ProxyAnchor(), _classes, has_hessian=False),
    Case("proxy_anchor-a4-d0.3", ll.ProxyAnchor(alpha=4.0, margin=0.3), _classes, has_hessian=False),
]
