"""Cases for losses/binary.py: inputs drawn from the declared domains (tests/domains.py):
labels 0/1 among soft labels, probabilities or logits; margin losses' scores kept away
from the kinks of φ(y·f), so that finite differences are valid there."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case


def _pairs(margin):
    """Similar (+1) and dissimilar (−1) pairs with distances kept 0.05 away from the margin.
    Hand written: hinge_embedding's labels are ±1 but its loss is no function of y·x, so the
    declared traits do not make it margin-based, which is what makes draw() give labels."""

    def make(rng, n):
        y = rng.choice([-1.0, 1.0], size=n)
        y[:2] = (-1.0, 1.0)
        x = rng.uniform(0.0, 2.5 * margin, size=n)
        close = np.abs(x - margin) < 0.05
        x[close] = margin + np.where(x[close] >= margin, 0.05, -0.05)
        return (y, x), {}

    return make


def _margin(*kinks, zero_one_labels=False):
    return {"away_from_margin": kinks, "labels": "01" if zero_one_labels else "signed"}


CASES = [
    Case("binary_cross_entropy", ll.BinaryCrossEntropy()),
    Case("binary_cross_entropy-soft", ll.BinaryCrossEntropy(label_smoothing=0.1)),
    Case("binary_cross_entropy-logits", ll.BinaryCrossEntropy(from_logits=True)),
    Case("binary_cross_entropy-logits-2d", ll.BinaryCrossEntropy(from_logits=True), domain={"shape": (3,)}),
    Case(
        "binary_cross_entropy-logits-pos_weight",
        ll.BinaryCrossEntropy(from_logits=True, pos_weight=3.0, label_smoothing=0.2),
    ),
    Case("binary_cross_entropy-pos_weight", ll.BinaryCrossEntropy(pos_weight=0.5)),
    Case("binary_focal", ll.BinaryFocal()),
    Case("binary_focal-gamma0.5-soft", ll.BinaryFocal(gamma=0.5, alpha=0.25)),
    Case("binary_focal-logits", ll.BinaryFocal(from_logits=True, alpha=0.25)),
    Case("binary_focal-logits-gamma0.5-soft", ll.BinaryFocal(gamma=0.5, from_logits=True)),
    Case("binary_focal-logits-gamma0", ll.BinaryFocal(gamma=0.0, from_logits=True)),
    Case("hinge", ll.Hinge(), domain=_margin(1.0)),
    Case("hinge-01-margin2", ll.Hinge(margin=2.0), domain=_margin(2.0, zero_one_labels=True)),
    Case("squared_hinge", ll.SquaredHinge(), domain=_margin(1.0)),
    Case("squared_hinge-margin0.5", ll.SquaredHinge(margin=0.5), domain=_margin(0.5, zero_one_labels=True)),
    Case("smoothed_hinge", ll.SmoothedHinge(), domain=_margin(0.0, 1.0)),
    Case("modified_huber", ll.ModifiedHuber(), domain=_margin(-1.0, 1.0)),
    Case("logistic", ll.Logistic()),
    Case("logistic-01", ll.Logistic(), domain=_margin(zero_one_labels=True)),
    Case("exponential", ll.Exponential()),
    # Perceptron and 0-1 are kinked (0-1 jumps) at y·f = 0: the draws stay away from it.
    Case("perceptron", ll.Perceptron(), domain=_margin(0.0)),
    Case("zero_one", ll.ZeroOne(), domain=_margin(0.0)),
    Case("hinge_embedding", ll.HingeEmbedding(), _pairs(1.0)),
    Case("hinge_embedding-margin2", ll.HingeEmbedding(margin=2.0), _pairs(2.0)),
]
