"""Cases for losses/multilabel.py. Hand-written factories: a multi-label target is a (N, C)
matrix of independent labels (several 1s per row, or none), a structure no declaration
describes (draw() makes class indices or distribution rows on a class axis)."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case

C = 4


def _labels_and_logits(soft=False):
    def make(rng, n):
        y = (rng.random((n, C)) < 0.4).astype(float)
        if soft:
            y = np.where(rng.random((n, C)) < 0.3, rng.uniform(0.05, 0.95, size=(n, C)), y)
        return (y, rng.normal(0.0, 2.0, size=(n, C))), {}

    return make


def _margin_scores(margin, indices=False):
    """Scores whose pair slacks m − x_j + x_i all stay 0.05 away from 0 (the hinge's kinks)."""

    def make(rng, n):
        y = (rng.random((n, C)) < 0.5).astype(float)
        x = rng.normal(0.0, 1.5, size=(n, C))
        for r in range(n):
            while True:
                slack = margin - x[r][:, None] + x[r][None, :]
                pairs = (y[r][:, None] == 1) & (y[r][None, :] == 0)
                if not np.any(pairs & (np.abs(slack) < 0.05)):
                    break
                x[r] = rng.normal(0.0, 1.5, size=C)
        if not indices:
            return (y, x), {}
        # PyTorch's format: each row's target indices, shuffled, then -1 and arbitrary padding.
        t = np.full((n, C), -1.0)
        for r in range(n):
            idx = rng.permutation(np.flatnonzero(y[r]))
            t[r, : len(idx)] = idx
            if len(idx) + 1 < C:
                t[r, len(idx) + 1:] = rng.integers(0, C, size=C - len(idx) - 1)
        return (t, x), {}

    return make


def _asl_inputs(margin, soft=False):
    """Labels and logits with σ(x) kept 0.05 in logit away from the margin m, where a negative
    term's p_m = max(p − m, 0) has its kink."""
    base = _labels_and_logits(soft)

    def make(rng, n):
        (y, x), options = base(rng, n)
        if margin > 0:
            kink = np.log(margin / (1.0 - margin))
            close = np.abs(x - kink) < 0.05
            x[close] = kink + np.where(x[close] >= kink, 0.05, -0.05)
        return (y, x), options

    return make


CASES = [
    Case("multilabel_soft_margin", ll.MultiLabelSoftMargin(), _labels_and_logits()),
    Case("multilabel_soft_margin-weights-soft",
         ll.MultiLabelSoftMargin(weight=[1.0, 0.5, 2.0, 0.0], pos_weight=[3.0, 1.0, 0.5, 2.0]),
         _labels_and_logits(soft=True)),
    Case("multilabel_soft_margin-pos_weight-scalar", ll.MultiLabelSoftMargin(pos_weight=2.5), _labels_and_logits()),
    Case("multilabel_margin", ll.MultiLabelMargin(), _margin_scores(1.0)),
    Case("asymmetric", ll.Asymmetric(), _asl_inputs(0.05)),
    Case("asymmetric-soft", ll.Asymmetric(gamma_pos=1.0, gamma_neg=2.0, margin=0.2), _asl_inputs(0.2, soft=True)),
    Case("asymmetric-gamma0.5-nomargin", ll.Asymmetric(gamma_pos=0.5, gamma_neg=0.5, margin=0.0), _asl_inputs(0.0)),
    Case("asymmetric-bce", ll.Asymmetric(gamma_pos=0.0, gamma_neg=0.0, margin=0.0), _asl_inputs(0.0)),
    Case("multilabel_margin-indices", ll.get("MultiLabelMarginLoss", margin=0.5), _margin_scores(0.5, indices=True)),
]
