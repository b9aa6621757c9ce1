"""Cases for losses/sequence.py (no ignored tokens here: the generic test compares the mean
with the plain mean of reduction="none"; ignore_index is tested in test_structured.py). Hand-written: token ids over a time axis,
an LM head's (hidden, weight, targets), CTC's label sequences with their lengths and
soft-DTW's pairs of series are structures no declaration describes (their declared
domains are the real line)."""

from __future__ import annotations

import numpy as np

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


def _ctc(time_major=False, lengths=True, blank=0):
    """Labels with adjacent repeats (which need a blank between them) and varied lengths, every
    sequence long enough for an alignment (impossible ones are tested in test_sequence_losses)."""
    frames, width, n_classes = 6, 3, 4

    def make(rng, n):
        labels = [c for c in range(n_classes) if c != blank]
        target_lengths = rng.integers(0, width + 1, size=n)
        targets = np.full((n, width), float(blank))
        input_lengths = np.empty(n)
        for i, length in enumerate(target_lengths):
            row = rng.choice(labels, size=length)
            if length >= 2 and rng.random() < 0.5:
                row[1] = row[0]  # a repeat
            targets[i, :length] = row
            repeats = int(np.sum(row[1:] == row[:-1]))
            input_lengths[i] = rng.integers(length + repeats, frames + 1) if lengths else frames
        logits = rng.normal(0.0, 1.5, size=(n, frames, n_classes))
        if time_major:
            logits = logits.transpose(1, 0, 2).copy()
        options = {"input_lengths": input_lengths, "target_lengths": target_lengths.astype(float)} if lengths else {}
        return (targets, logits), options

    return make


def _series(t1, t2, d):
    def make(rng, n):
        return (rng.normal(size=(n, t1, d)), rng.normal(size=(n, t2, d))), {}

    return make


CASES = [
    Case("token_cross_entropy", ll.TokenCrossEntropy(), _tokens),
    Case("linear_cross_entropy", ll.LinearCrossEntropy(), _head(False), has_hessian=False),
    Case("linear_cross_entropy-chunk5-bias", ll.LinearCrossEntropy(chunk_size=5), _head(True), has_hessian=False),
    Case("ctc", ll.CTC(), _ctc()),
    # PyTorch's layout and 'mean': the frames are the rows, so no Hessian (and no per-sample gradient).
    Case("ctc-CTCLoss-time-major", ll.get("CTCLoss"), _ctc(time_major=True), has_hessian=False),
    # Keras's convention: every frame used, the target lengths counted from the blank padding.
    Case("ctc-blank2-zero_infinity-inferred-lengths", ll.CTC(blank=2, zero_infinity=True), _ctc(lengths=False, blank=2)),
    Case("soft_dtw", ll.SoftDTW(), _series(5, 4, 2), has_hessian=False),
    Case("soft_dtw-gamma0.1-univariate", ll.SoftDTW(gamma=0.1), _series(3, 6, 1), has_hessian=False),
]
