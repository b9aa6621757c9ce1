"""Cases for losses/sequence.py (no ignored tokens here: the generic test compares the mean
with the plain mean of reduction="none"; ignore_index is tested in test_structured.py). Hand-written: token ids over a time axis and
an LM head's (hidden, weight, targets) are structures no declaration describes (their
declared domains are the real line)."""

from __future__ import annotations

import losslab as ll

from . import Case

VOCAB, TIME, DIM = 5, 3, 4


def _tokens(rng, n):
    return (rng.integers(0, VOCAB, size=(n, TIME)).astype(float), rng.normal(0.0, 2.0, size=(n, TIME, VOCAB))), {}


def _head(with_bias):
    def make(rng, n):
        hidden = rng.normal(size=(n, DIM))
        weight = rng.normal(size=(VOCAB + 1, DIM))
        targets = rng.integers(0, VOCAB + 1, size=n).astype(float)
        return (hidden, weight, targets), ({"bias": rng.normal(size=VOCAB + 1)} if with_bias else {})

    return make


CASES = [
    Case("token_cross_entropy", ll.TokenCrossEntropy(), _tokens),
    Case("linear_cross_entropy", ll.LinearCrossEntropy(), _head(False), has_hessian=False),
    Case("linear_cross_entropy-chunk5-bias", ll.LinearCrossEntropy(chunk_size=5), _head(True), has_hessian=False),
]
