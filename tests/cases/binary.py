"""Cases for losses/binary.py: log/focal losses on probabilities and logits, margin losses
on scores drawn away from their kinks (so that finite differences are valid there)."""

from __future__ import annotations


import losslab as ll

from . import Case, away_from


def _probabilities(soft=False):
    def make(rng, n):
        y = rng.uniform(0.0, 1.0, size=n) if soft else rng.integers(0, 2, size=n).astype(float)
        return (y, rng.uniform(0.05, 0.95, size=n)), {}

    return make


def _logits(soft=False, shape=()):
    def make(rng, n):
        size = (n,) + shape
        y = rng.uniform(0.0, 1.0, size=size) if soft else rng.integers(0, 2, size=size).astype(float)
        return (y, rng.normal(0.0, 3.0, size=size)), {}

    return make


def _margins(kinks, zero_one_labels=False):
    """Labels ±1 (or 0/1) and scores whose margin y·f stays 0.05 away from each kink."""

    def make(rng, n):
        y = rng.choice([-1.0, 1.0], size=n)
        v = away_from(rng.normal(0.0, 2.0, size=n), kinks, gap=0.05)
        f = y * v
        return ((y > 0).astype(float) if zero_one_labels else y, f), {}

    return make


CASES = [
    Case("binary_cross_entropy", ll.BinaryCrossEntropy(), _probabilities()),
    Case("binary_cross_entropy-soft", ll.BinaryCrossEntropy(label_smoothing=0.1), _probabilities(soft=True)),
    Case("binary_cross_entropy-logits", ll.BinaryCrossEntropy(from_logits=True), _logits()),
    Case("binary_cross_entropy-logits-2d", ll.BinaryCrossEntropy(from_logits=True), _logits(shape=(3,))),
    Case(
        "binary_cross_entropy-logits-pos_weight",
        ll.BinaryCrossEntropy(from_logits=True, pos_weight=3.0, label_smoothing=0.2),
        _logits(soft=True),
    ),
    Case("binary_cross_entropy-pos_weight", ll.BinaryCrossEntropy(pos_weight=0.5), _probabilities()),
    Case("binary_focal", ll.BinaryFocal(), _probabilities()),
    Case("binary_focal-gamma0.5-soft", ll.BinaryFocal(gamma=0.5, alpha=0.25), _probabilities(soft=True)),
    Case("binary_focal-logits", ll.BinaryFocal(from_logits=True, alpha=0.25), _logits()),
    Case("binary_focal-logits-gamma0.5-soft", ll.BinaryFocal(gamma=0.5, from_logits=True), _logits(soft=True)),
    Case("binary_focal-logits-gamma0", ll.BinaryFocal(gamma=0.0, from_logits=True), _logits(soft=True)),
    Case("hinge", ll.Hinge(), _margins([1.0])),
    Case("hinge-01-margin2", ll.Hinge(margin=2.0), _margins([2.0], zero_one_labels=True)),
    Case("squared_hinge", ll.SquaredHinge(), _margins([1.0])),
    Case("squared_hinge-margin0.5", ll.SquaredHinge(margin=0.5), _margins([0.5], zero_one_labels=True)),
    Case("smoothed_hinge", ll.SmoothedHinge(), _margins([0.0, 1.0])),
    Case("modified_huber", ll.ModifiedHuber(), _margins([-1.0, 1.0])),
    Case("logistic", ll.Logistic(), _margins([])),
    Case("logistic-01", ll.Logistic(), _margins([], zero_one_labels=True)),
    Case("exponential", ll.Exponential(), _margins([])),
    # Perceptron and 0-1 are kinked (0-1 jumps) at y·f = 0: the draws stay away from it.
    Case("perceptron", ll.Perceptron(), _margins([0.0])),
    Case("zero_one", ll.ZeroOne(), _margins([0.0])),
]
