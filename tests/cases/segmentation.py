"""Cases for losses/segmentation.py: probability maps (N, C, H, W) with one-hot, soft or
class-index target maps. Hand-written: the class axis is axis 1 of a map (event_ndim 0
with a loss shape of one value per map), which the declarations do not describe."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case

C, H, W = 2, 3, 3


def _maps(rng, n, target="one_hot"):
    z = rng.normal(0.0, 1.5, size=(n, C, H, W))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = rng.integers(0, C, size=(n, H, W))
    if target == "index":
        return (labels.astype(float), p), {}
    t = (labels[:, None] == np.arange(C)[None, :, None, None]).astype(float)
    if target == "soft":
        t = 0.8 * t + 0.2 * rng.uniform(size=t.shape)
    return (t, p), {}


def _maps_absent_class(rng, n):
    """Three classes, the last never in the target: generalized_dice's absent-class weight."""
    z = rng.normal(0.0, 1.5, size=(n, 3, H, W))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 2, size=(n, H, W))
    return (labels.astype(float), p), {}


def _separated_errors(rng, n, n_classes=C, present=C):
    """Lovász-softmax: its gradient changes where two errors |t − p| of one class tie, so each
    class's errors are a shuffled grid 0.1 apart (jittered by at most 0.02), far wider than the
    finite-difference steps. Class-index targets drawn from the first ``present`` classes."""
    labels = rng.integers(0, present, size=(n, H, W))
    t = labels[:, None] == np.arange(n_classes)[None, :, None, None]
    grid = np.linspace(0.05, 0.85, H * W)
    errors = np.stack([rng.permutation(grid) for _ in range(n * n_classes)]).reshape(n, n_classes, H, W)
    errors += rng.uniform(-0.02, 0.02, size=errors.shape)
    return (labels.astype(float), np.where(t, 1.0 - errors, errors)), {}


def _score_maps(rng, n):
    """Lovász hinge: 0/1 label maps and real scores. The gradient changes where two errors
    1 − y·f tie or one crosses 0, so each map's errors are a shuffled grid 0.5 apart (jittered
    by at most 0.1) that keeps 0.15 away from 0, far wider than the finite-difference steps."""
    y = rng.integers(0, 2, size=(n, H, W)).astype(float)
    grid = np.linspace(-1.75, 2.25, H * W)
    errors = np.stack([rng.permutation(grid) for _ in range(n)]).reshape(n, H, W)
    errors += rng.uniform(-0.1, 0.1, size=errors.shape)
    return (y, (1.0 - errors) * (2 * y - 1)), {}


CASES = [
    Case("dice", ll.Dice(), _maps),
    Case("dice-smooth0-index", ll.Dice(smooth=0.0), lambda rng, n: _maps(rng, n, "index")),
    Case("tversky", ll.Tversky(), _maps),
    Case("tversky-0.3-0.7-soft", ll.Tversky(alpha=0.3, beta=0.7, smooth=0.5), lambda rng, n: _maps(rng, n, "soft")),
    Case("jaccard", ll.Jaccard(), _maps),
    Case("jaccard-smooth0-soft", ll.Jaccard(smooth=0.0), lambda rng, n: _maps(rng, n, "soft")),
    Case("focal_tversky", ll.FocalTversky(), _maps),
    Case("focal_tversky-gamma2-index", ll.FocalTversky(gamma=2.0, alpha=0.5, beta=0.5, smooth=0.0),
         lambda rng, n: _maps(rng, n, "index")),
    Case("generalized_dice", ll.GeneralizedDice(), _maps),
    Case("generalized_dice-smooth-soft", ll.GeneralizedDice(smooth=0.5), lambda rng, n: _maps(rng, n, "soft")),
    Case("generalized_dice-absent-class", ll.GeneralizedDice(smooth=1e-5), _maps_absent_class),
    Case("lovasz_softmax", ll.LovaszSoftmax(), _separated_errors),
    Case("lovasz_softmax-all-absent", ll.LovaszSoftmax(classes="all"), lambda rng, n: _separated_errors(rng, n, 3, 2)),
    Case("lovasz_softmax-present-absent", ll.LovaszSoftmax(), lambda rng, n: _separated_errors(rng, n, 3, 2)),
    Case("lovasz_hinge", ll.LovaszHinge(), _score_maps),
    Case("mcc", ll.MCC(), _maps),
    Case("mcc-soft", ll.MCC(), lambda rng, n: _maps(rng, n, "soft")),
    Case("mcc-index-absent", ll.MCC(), _maps_absent_class),
]
