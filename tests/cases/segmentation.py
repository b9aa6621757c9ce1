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


CASES = [
    Case("dice", ll.Dice(), _maps),
    Case("dice-smooth0-index", ll.Dice(smooth=0.0), lambda rng, n: _maps(rng, n, "index")),
    Case("tversky", ll.Tversky(), _maps),
    Case("tversky-0.3-0.7-soft", ll.Tversky(alpha=0.3, beta=0.7, smooth=0.5), lambda rng, n: _maps(rng, n, "soft")),
]
