"""The input generator (tests/domains.py): what it draws lies in the domains each loss
declares, reaches their closed ends, and every loss accepts it.

The oracle is the declaration itself (``loss.traits.y_true_domain``/``y_pred_domain``,
``Interval.contains``), read independently of how ``draw`` produced the numbers.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from cases import all_cases, case_id
from domains import N_CLASSES, closed_ends, draw, in_interval

CASES = all_cases()
GENERATED = [c for c in CASES if c.generated]

#: Cases of (y_true, y_pred) losses that keep a hand-written factory, and why (the comment
#: next to each factory says the same). A new hand-written case must be added here, so that
#: a factory never replaces the generator by accident.
HAND_WRITTEN = {
    "adaptive_focal": "its γ jumps at p = 0.2: inputs kept away from the jump",
    "adaptive_focal-logits-soft": "its γ jumps at p = 0.2: inputs kept away from the jump",
    "coral": "ordinal ranks 0..K−1 against K − 1 logits per row",
    "coral-levels-importance": "ordinal ranks 0..K−1 against K − 1 logits per row",
    "crps_ensemble": "an ensemble of M members per target (y_pred (N, M))",
    "crps_ensemble-fair": "an ensemble of M members per target (y_pred (N, M))",
    "generalized_jsd": "teacher and student logits (rows of scores on both sides)",
    "generalized_jsd-beta0.1-T2": "teacher and student logits (rows of scores on both sides)",
    "generalized_kl": "unnormalised non-negative rows on both sides",
    "generalized_kl-log_input": "unnormalised non-negative rows on both sides",
    "soft_dtw": "pairs of sequences (N, T, D) of different lengths",
    "soft_dtw-gamma0.1-univariate": "pairs of sequences (N, T, D) of different lengths",
    "brier-multiclass": "Brier's class axis is optional (event_ndim 0 declares the binary form)",
    "multiclass_hinge": "kinks on differences between classes' scores",
    "multiclass_hinge-crammer_singer": "kinks on differences between classes' scores",
    "dice": "class axis 1 of a map",
    "dice-smooth0-index": "class axis 1 of a map",
    "tversky": "class axis 1 of a map",
    "tversky-0.3-0.7-soft": "class axis 1 of a map",
    "jaccard": "class axis 1 of a map",
    "jaccard-smooth0-soft": "class axis 1 of a map",
    "focal_tversky": "class axis 1 of a map",
    "focal_tversky-gamma2-index": "class axis 1 of a map",
    "generalized_dice": "class axis 1 of a map",
    "generalized_dice-smooth-soft": "class axis 1 of a map",
    "generalized_dice-absent-class": "class axis 1 of a map",
    "lovasz_softmax": "class axis 1 of a map",
    "lovasz_softmax-all-absent": "class axis 1 of a map",
    "lovasz_softmax-present-absent": "class axis 1 of a map",
    "mcc": "class axis 1 of a map",
    "mcc-soft": "class axis 1 of a map",
    "mcc-index-absent": "class axis 1 of a map",
    "lovasz_hinge": "one score map per sample (the pixels of a sample interact)",
    "pairwise_logistic-queries": "query ids",
    "hinge_embedding": "±1 labels of a loss that is no function of y·x (not margin-based)",
    "hinge_embedding-margin2": "±1 labels of a loss that is no function of y·x (not margin-based)",
    "multi_margin": "kinks on differences between classes' scores",
    "multi_margin-p2-weight": "kinks on differences between classes' scores",
    "multiclass_perceptron": "kink where the two highest scores tie",
    "sparsemax": "kinks where a class enters the sparsemax support",
    "sparsemax-soft": "kinks where a class enters the sparsemax support",
    "distillation": "y_true is a second array of logits, not a class target",
    "distillation-T4": "y_true is a second array of logits, not a class target",
    "multilabel_soft_margin": "multi-hot label matrices",
    "multilabel_soft_margin-weights-soft": "multi-hot label matrices",
    "multilabel_soft_margin-pos_weight-scalar": "multi-hot label matrices",
    "multilabel_margin": "multi-hot label matrices, kinks on score differences",
    "multilabel_margin-indices": "PyTorch's padded index format",
    "asymmetric": "multi-hot label matrices, kink at p = m",
    "asymmetric-soft": "multi-hot label matrices, kink at p = m",
    "asymmetric-gamma0.5-nomargin": "multi-hot label matrices",
    "asymmetric-bce": "multi-hot label matrices",
    "cosine_distance": "y_true is a second array of vectors, not a class target",
    "listnet-queries": "query ids",
    "approx_ndcg-0.3": "query ids",
    "lambda_loss": "query ids; scores kept away from ties, where the loss jumps",
    "lambda_loss-lambdarank": "query ids; scores kept away from ties, where the loss jumps",
    "lambda_loss-one-query": "scores kept away from ties, where the loss jumps",
    "pairwise_hinge": "query ids; kinks where s_i - s_j = margin",
    "pairwise_hinge-0.5": "query ids; kinks where s_i - s_j = margin",
    "ranking_softmax": "lists as rows: a class-like axis whose labels are relevance grades, not a class target",
    "ranking_softmax-where": "lists as rows with a where mask",
    "multi_quantile": "a column per quantile level against one target per row",
    "multi_quantile-2": "a column per quantile level against one target per row",
    "kl_divergence-log_targets": "log-probability targets (−inf for 0) on a class axis",
}


def _all_edges(case):
    return functools.partial(draw, case.loss, **{**case.domain, "edges": "all"})


def _is_index_target(case, y_true, y_pred):
    return case.loss.event_ndim == 1 and y_true.ndim == y_pred.ndim - 1


def test_hand_written_factories_are_only_where_the_declarations_cannot_say():
    two_inputs = {c.id for c in CASES if tuple(c.loss.inputs) == ("y_true", "y_pred") and not c.generated}
    assert two_inputs == set(HAND_WRITTEN)
    assert len(GENERATED) >= 80  # regression, probabilistic, binary, multiclass, plain ranking


@pytest.mark.parametrize("case", GENERATED, ids=case_id)
def test_generated_inputs_lie_in_the_declared_domains(case):
    traits = case.loss.traits
    for seed in range(3):
        (y_true, y_pred), _ = _all_edges(case)(np.random.default_rng(seed), 16)
        assert y_true.dtype == y_pred.dtype == np.float64
        assert np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))
        if _is_index_target(case, y_true, y_pred):
            assert np.all(y_true == np.round(y_true)) and y_true.min() >= 0 and y_true.max() < y_pred.shape[-1]
        else:
            assert y_true.shape == y_pred.shape
            assert np.all(in_interval(y_true, traits.y_true_domain)), traits.y_true_domain
        assert np.all(in_interval(y_pred, traits.y_pred_domain)), traits.y_pred_domain
        if traits.margin_based:
            assert set(np.unique(y_true)) in ({-1.0, 1.0}, {0.0, 1.0})
        if case.loss.event_ndim == 1:
            if not _is_index_target(case, y_true, y_pred):
                np.testing.assert_allclose(y_true.sum(axis=1), 1.0, rtol=1e-12)
            if traits.y_pred_domain.low >= 0.0 and traits.y_pred_domain.high <= 1.0:
                np.testing.assert_allclose(y_pred.sum(axis=1), 1.0, rtol=1e-12)
            elif traits.y_pred_domain.high == 0.0:  # log-probabilities
                np.testing.assert_allclose(np.exp(y_pred).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("case", GENERATED, ids=case_id)
def test_generated_inputs_reach_every_closed_end(case):
    """0 and 1 labels and probabilities, ±1 labels, zero counts: the ends a domain includes."""
    traits = case.loss.traits
    (y_true, y_pred), _ = _all_edges(case)(np.random.default_rng(0), 16)
    if not _is_index_target(case, y_true, y_pred):
        ends = closed_ends(traits.y_true_domain)
        if traits.margin_based and case.domain.get("labels") == "01":
            ends = [0.0, 1.0]
        for end in ends:
            assert np.any(y_true == end), f"y_true never at the closed end {end} of {traits.y_true_domain}"
    if not (case.loss.event_ndim == 1 and traits.y_pred_domain.high == 0.0):  # log p = 0 needs −inf elsewhere
        for end in closed_ends(traits.y_pred_domain):
            assert np.any(y_pred == end), f"y_pred never at the closed end {end} of {traits.y_pred_domain}"


@pytest.mark.parametrize("case", GENERATED, ids=case_id)
def test_every_loss_accepts_its_generated_inputs_ends_included(case):
    L = case.loss
    arrays, options = _all_edges(case)(np.random.default_rng(1), 16)
    value, grad = L.value_and_gradient(*arrays, **options)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in (grad if isinstance(grad, tuple) else (grad,)))
    per_sample = np.asarray(L(*arrays, reduction="none", **options))
    assert per_sample.shape[0] == 16 and np.all(np.isfinite(per_sample))
    if case.has_hessian:
        assert np.all(np.isfinite(L.hessian(*arrays, **options)))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_inputs_are_reproducible_from_the_seed(case):
    a, oa = case.make(np.random.default_rng(7), 5)
    b, ob = case.make(np.random.default_rng(7), 5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert oa.keys() == ob.keys()


def test_kinks_are_kept_away_from():
    import losslab as ll

    for seed in range(5):
        (y, f), _ = draw(ll.Hinge(), np.random.default_rng(seed), 200, away_from_margin=(1.0,), gap=0.05)
        assert np.min(np.abs(y * f - 1.0)) >= 0.05 - 1e-12
        (t, p), _ = draw(ll.Huber(), np.random.default_rng(seed), 200, away_from_residual=(-1.0, 1.0), gap=0.05)
        assert np.min(np.abs(np.abs(p - t) - 1.0)) >= 0.05 - 1e-12
    (t, p), _ = draw(ll.CrossEntropy(), np.random.default_rng(0), 9, target="distribution")
    assert t.shape == p.shape == (9, N_CLASSES)


def test_undeclared_structures_are_refused_not_guessed():
    import losslab as ll

    with pytest.raises(TypeError, match="hand-written factory"):
        draw(ll.Triplet(), np.random.default_rng(0), 4)
    with pytest.raises(ValueError, match="bad draw spec"):
        draw(ll.MSE(), np.random.default_rng(0), 4, target="indices")
