"""Cases for family "multiclass" (losses/multiclass.py, noisy_labels.py, sampled.py,
fenchel_young.py): index and distribution targets, probabilities and logits,
label smoothing, drawn from the declared domains (tests/domains.py); hinge scores drawn by
hand away from their kinks. class_weight and ignore_index change the weights, which the
generic oracles here do not model: test_classification.py checks them against PyTorch."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case

C = 4

INDEX = {"target": "index"}
SOFT = {"target": "distribution"}


def _hinge_scores(margin, variant):
    """Scores whose hinge terms all stay 0.05 away from 0 (and, for Crammer–Singer, no tie
    between the two strongest rivals), so that the loss is smooth around the draw. Hand
    written: these kinks lie on differences between classes' scores, which no declaration
    describes."""

    def make(rng, n):
        y = rng.integers(0, C, size=n)
        s = rng.normal(0.0, 1.5, size=(n, C))
        for i in range(n):
            while True:
                slack = margin - s[i, y[i]] + np.delete(s[i], y[i])
                rivals = np.sort(np.delete(s[i], y[i]))
                ok = np.all(np.abs(slack) > 0.05) and (variant == "weston_watkins" or rivals[-1] - rivals[-2] > 0.05)
                if ok:
                    break
                s[i] = rng.normal(0.0, 1.5, size=C)
        return (y.astype(float), s), {}

    return make


def _top_gap():
    """Scores whose two highest entries differ by more than 0.05: the perceptron loss's kink
    is where they tie, a difference between classes' scores that no declaration describes."""

    def make(rng, n):
        y = rng.integers(0, C, size=n)
        s = rng.normal(0.0, 1.5, size=(n, C))
        for i in range(n):
            while np.diff(np.sort(s[i]))[-1] <= 0.05:
                s[i] = rng.normal(0.0, 1.5, size=C)
        return (y.astype(float), s), {}

    return make


def _teacher_student(rng, n):
    """Teacher and student logits: y_true is a second (N, C) array of logits, not a target
    over classes, which draw() makes from a y_true domain inside [0, 1] only."""
    return (rng.normal(0.0, 2.0, size=(n, C)), rng.normal(0.0, 2.0, size=(n, C))), {}


def _sparse_scores(rng, n):
    """Scores whose classes all stay 0.05 away from the sparsemax threshold τ (where a class
    enters or leaves the support and the Hessian jumps), a kink no declaration describes."""
    from losslab.losses.multiclass import sparsemax_threshold

    y = rng.integers(0, C, size=n)
    s = rng.normal(0.0, 1.0, size=(n, C))
    for i in range(n):
        while np.min(np.abs(s[i] - sparsemax_threshold(np, s[i:i + 1])[0])) <= 0.05:
            s[i] = rng.normal(0.0, 1.0, size=C)
    return (y.astype(float), s), {}


def _sparse_scores_soft(rng, n):
    (y, s), _ = _sparse_scores(rng, n)
    t = rng.dirichlet(np.ones(C), size=n)
    return (t, s), {}


def _away_from_threshold(threshold, target, logits):
    """Rows whose class probabilities all stay 0.03 away from adaptive_focal's threshold, where
    γ switches and the loss jumps (a point on each class's probability, not on y_pred itself
    when y_pred holds logits, so no declaration describes it); and above 0.02, where the
    finite differences of a probability input stay accurate, as domains.draw keeps them."""

    def make(rng, n):
        z = rng.normal(0.0, 1.5, size=(n, C))
        for i in range(n):
            while True:
                p = np.exp(z[i] - z[i].max())
                p /= p.sum()
                if np.all(np.abs(p - threshold) > 0.03) and p.min() > 0.02:
                    break
                z[i] = rng.normal(0.0, 1.5, size=C)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = rng.dirichlet(np.ones(C), size=n) if target == "distribution" else rng.integers(0, C, size=n).astype(float)
        return (y, z if logits else p), {}

    return make


def _sampled(rng, n, k=5):
    """(logits, log_q): the true class's logit, then k sampled classes' (column 0 true), and
    the log proposal probabilities of the same entries, a structure of two (N, 1 + k) arrays
    that no declaration describes."""
    logits = rng.normal(0.0, 2.0, size=(n, 1 + k))
    q = rng.dirichlet(np.ones(50), size=n)[:, : 1 + k] + 1e-3
    return (logits, np.log(q)), {}


COSTS = [[0, 1, 4, 9], [1, 0, 1, 4], [4, 1, 0, 1], [9, 4, 1, 0]]

CASES = [
    Case("cross_entropy", ll.CrossEntropy(), domain=INDEX),
    Case("cross_entropy-soft", ll.CrossEntropy(), domain=SOFT),
    Case("cross_entropy-logits", ll.CrossEntropy(from_logits=True), domain=INDEX),
    Case("cross_entropy-logits-soft", ll.CrossEntropy(from_logits=True, label_smoothing=0.1), domain=SOFT),
    Case("cross_entropy-smoothing", ll.CrossEntropy(label_smoothing=0.2), domain=INDEX),
    Case("nll", ll.NLL(), domain=INDEX),
    Case("focal", ll.Focal(), domain=INDEX),
    Case("focal-logits", ll.Focal(from_logits=True, alpha=0.25), domain=INDEX),
    Case("focal-logits-gamma0.5-soft", ll.Focal(gamma=0.5, from_logits=True), domain=SOFT),
    Case("focal-gamma0.5-soft", ll.Focal(gamma=0.5), domain=SOFT),
    Case("multiclass_hinge", ll.MulticlassHinge(), _hinge_scores(1.0, "weston_watkins")),
    Case(
        "multiclass_hinge-crammer_singer",
        ll.MulticlassHinge(margin=0.5, variant="crammer_singer"),
        _hinge_scores(0.5, "crammer_singer"),
    ),
    Case("multi_margin", ll.MultiMargin(), _hinge_scores(1.0, "weston_watkins")),
    Case("multi_margin-p2-weight", ll.MultiMargin(p=2, margin=0.5, weight=[1.0, 2.0, 0.5, 3.0]),
         _hinge_scores(0.5, "weston_watkins")),
    Case("multiclass_perceptron", ll.MulticlassPerceptron(), _top_gap()),
    Case("taylor_cross_entropy", ll.TaylorCrossEntropy(), domain=INDEX),
    Case("taylor_cross_entropy-order4-logits-soft", ll.TaylorCrossEntropy(order=4, from_logits=True), domain=SOFT),
    Case("taylor_cross_entropy-order1-logits", ll.TaylorCrossEntropy(order=1, from_logits=True), domain=INDEX),
    Case("z_loss", ll.ZLoss(z_weight=0.05), domain=INDEX),
    Case("z_loss-soft", ll.ZLoss(), domain=SOFT),
    Case("distillation", ll.Distillation(), _teacher_student),
    Case("distillation-T4", ll.Distillation(temperature=4.0), _teacher_student),
    Case("sparsemax", ll.Sparsemax(), _sparse_scores),
    Case("sparsemax-soft", ll.Sparsemax(), _sparse_scores_soft),
    Case("poly1", ll.Poly1(epsilon=-0.5), domain=SOFT),
    Case("poly1-logits", ll.Poly1(epsilon=2.0, from_logits=True), domain=INDEX),
    Case("generalized_cross_entropy", ll.GeneralizedCrossEntropy(), domain=INDEX),
    Case("generalized_cross_entropy-logits", ll.GeneralizedCrossEntropy(q=0.3, from_logits=True), domain=SOFT),
    Case("symmetric_cross_entropy", ll.SymmetricCrossEntropy(), domain=SOFT),
    Case("symmetric_cross_entropy-logits", ll.SymmetricCrossEntropy(alpha=0.5, from_logits=True), domain=INDEX),
    Case("cost_sensitive", ll.CostSensitive(cost_matrix=COSTS), domain=INDEX),
    Case("cost_sensitive-logits", ll.CostSensitive(from_logits=True), domain=SOFT),
    Case("normalized_cross_entropy", ll.NormalizedCrossEntropy(), domain=INDEX),
    Case("normalized_cross_entropy-logits-soft", ll.NormalizedCrossEntropy(from_logits=True), domain=SOFT),
    Case("nce_rce", ll.NCERCE(), domain=SOFT),
    Case("nce_rce-logits-cifar100", ll.NCERCE(alpha=10.0, beta=0.1, from_logits=True), domain=INDEX),
    Case("nce_rce-logits-soft-code", ll.NCERCE(from_logits=True, log_zero=float(np.log(1e-4))), domain=SOFT),
    Case("adaptive_focal", ll.AdaptiveFocal(), _away_from_threshold(0.2, "index", logits=False)),
    Case("adaptive_focal-logits-soft", ll.AdaptiveFocal(gamma_below=4.0, gamma_above=1.5, threshold=0.3,
                                                        from_logits=True),
         _away_from_threshold(0.3, "distribution", logits=True)),
    Case("generalized_jsd", ll.GeneralizedJSD(), _teacher_student),
    Case("generalized_jsd-beta0.1-T2", ll.GeneralizedJSD(beta=0.1, temperature=2.0), _teacher_student),
    Case("sampled_softmax", ll.SampledSoftmax(), _sampled),
    Case("nce", ll.NCE(), _sampled),
]
