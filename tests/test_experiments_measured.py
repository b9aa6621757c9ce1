"""Extra checks of the helpers and numbers of experiments 2, 4, 7, 8, 10 and 12 (issues 7 and 14).

tests/test_experiments.py runs every experiment in quick mode and checks the schema and the
verdicts; these tests check that the pieces the verdicts rest on are right.
"""

from __future__ import annotations

import numpy as np
import pytest

from losslab.datasets import houses
from losslab.experiments import ce_vs_hinge, imbalance, l1_vs_l2, outliers, own_metric_wins


def test_ece_matches_a_hand_computed_value():
    # confidences 0.9, 0.9, 0.6, 0.8 fall in bins 13, 13, 9, 12 of 15; accuracies 0.5, 1, 1:
    # ECE = 2/4·|0.5 − 0.9| + 1/4·|1 − 0.6| + 1/4·|1 − 0.8| = 0.2 + 0.1 + 0.05 (worked by hand)
    p = np.array([0.9, 0.9, 0.6, 0.2])
    y = np.array([1, 0, 1, 0])
    assert ce_vs_hinge.expected_calibration_error(p, y) == pytest.approx(0.35)


def test_ece_is_zero_for_perfect_calibration():
    # every sample predicted with confidence 0.75, and exactly 3 of 4 right: calibrated by definition
    p = np.array([0.75, 0.75, 0.75, 0.75])
    y = np.array([1, 1, 1, 0])
    assert ce_vs_hinge.expected_calibration_error(p, y) == pytest.approx(0.0)


def test_average_precision_matches_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.05).astype(int)
    scores = rng.standard_normal(400) + 2.0 * y
    assert imbalance.average_precision(y, scores) == pytest.approx(metrics.average_precision_score(y, scores), rel=1e-12)


def test_best_f1_is_the_best_threshold_of_the_ranking():
    # ranked labels 1, 0, 1, 0, 0 (2 positives): the top 3 give precision 2/3, recall 1, F1 0.8;
    # the top 1 gives precision 1, recall 1/2, F1 2/3 (counted by hand)
    y = np.array([1, 0, 1, 0, 0])
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert imbalance.best_f1(y, scores) == pytest.approx(0.8)


def test_detection_data_follows_its_definition():
    rng = np.random.default_rng(4)
    X, y, kind = imbalance.detection_data(20000, rng)
    assert X.shape == (20000, 2) and y.mean() == pytest.approx(imbalance.PRIOR)
    assert np.array_equal(y == 1, kind == 2)
    negatives = kind < 2
    assert np.mean(kind[negatives] == 1) == pytest.approx(imbalance.HARD_SHARE, abs=1e-4)
    # easy negatives lie at least EASY_CLEARANCE from every blob centre and inside the box
    distance = np.min(np.linalg.norm(X[kind == 0][:, None, :] - imbalance.CENTRES[None], axis=-1), axis=1)
    assert distance.min() >= imbalance.EASY_CLEARANCE and np.abs(X[kind == 0]).max() <= imbalance.BOX


def test_easy_share_counts_the_easy_negatives_gradient():
    # cross-entropy on logits: |∂L/∂z| = |σ(z) − y|. Two easy negatives at z = 0 give 0.5 each, a
    # positive at z = 0 gives 0.5, a hard negative at z = 0 gives 0.5: easy share 2/4 (by hand)
    ce = imbalance.variants(np.array([99, 1]))[imbalance.BASELINE][0]
    y = np.array([0, 0, 1, 0])
    kind = np.array([0, 0, 2, 1])
    assert imbalance.easy_share(ce, None, y, np.zeros(4), kind) == pytest.approx(0.5)
    # with weight 3 on the positive class the positive's 0.5 counts 1.5: 1/(1 + 1.5 + 0.5) = 1/3
    assert imbalance.easy_share(ce, np.array([1.0, 3.0]), y, np.zeros(4), kind) == pytest.approx(1 / 3)


def test_class_balanced_weight_ratio_matches_cui_et_al():
    # Cui et al. (CVPR 2019): w ∝ (1 − β)/(1 − βⁿ), so the ratio is (1 − β^9900)/(1 − β^100):
    # 10.5 at β = 0.999 and 63.2 at β = 0.9999 (worked out in test_classification.py).
    assert imbalance.minority_weight_ratio(np.array([9900, 100]), 0.999) == pytest.approx(10.5, abs=0.05)
    assert imbalance.minority_weight_ratio(np.array([9900, 100]), 0.9999) == pytest.approx(63.2, abs=0.05)


def test_fit_slope_recovers_the_slope_on_clean_houses():
    # without outliers every loss estimates the same line, y = 2.1·size + noise (datasets.houses)
    data = houses(n=200, noise=15.0, seed=3)
    for name, loss in outliers.LOSSES.items():
        slope, _ = outliers.fit_slope(loss, data.X[:, 0], data.y, seed=0)
        assert abs(slope - 2.1) < 0.05, name


def test_fit_slope_undoes_the_scaling():
    # the MSE line fitted in scaled units, mapped back to prices, is the least-squares line (np.polyfit)
    data = houses(n=100, noise=15.0, outliers=8, seed=1)
    x, y = data.X[:, 0], data.y
    slope, intercept = outliers.fit_slope(outliers.LOSSES["mse"], x, y, seed=0)
    expected_slope, expected_intercept = np.polyfit(x, y, 1)
    assert slope == pytest.approx(expected_slope, rel=1e-5)
    assert intercept == pytest.approx(expected_intercept, rel=1e-5)


def test_own_metric_models_estimate_mean_median_and_quantile_of_the_noise():
    # log-normal(0, 0.75) noise: mean e^(0.75²/2) = 1.3248, median 1, 0.9-quantile e^(1.28155·0.75) = 2.6147
    numbers = own_metric_wins.OwnMetricWins().run_trial(quick=True, seed=0).numbers
    offset, statistic = numbers["fitted_noise_offset"], numbers["noise_statistics"]
    assert offset["mse"] == pytest.approx(statistic["mean"], abs=0.15)
    assert offset["mae"] == pytest.approx(statistic["median"], abs=0.15)
    assert offset["quantile(0.9)"] == pytest.approx(statistic["quantile_0.9"], abs=0.3)


@pytest.mark.unseeded_defaults("penalized_fit draws unseeded initial weights, then sets them to 0 (started at 0 as scikit-learn does)")
def test_l2_conversion_from_C_matches_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    # scikit-learn: C·Σ logloss + ½‖w‖²; losslab: mean logloss + lam·Σw² with lam = 1/(2·C·n)
    X, y = l1_vs_l2.digits_binary()
    X, y = X[:400], y[:400]
    C = 0.01
    ours = l1_vs_l2.penalized_fit("binary_cross_entropy", X, y, "l2", 1.0 / (2.0 * C * len(y)))
    reference = linear_model.LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y).coef_[0]
    np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.unseeded_defaults("penalized_fit draws unseeded initial weights, then sets them to 0 (started at 0 as scikit-learn does)")
def test_l1_gives_exact_zeros_and_l2_only_on_constant_pixels():
    X, y = l1_vs_l2.digits_binary()
    n = len(y)
    w1 = l1_vs_l2.penalized_fit("binary_cross_entropy", X, y, "l1", 1.0 / (l1_vs_l2.C * n))
    w2 = l1_vs_l2.penalized_fit("binary_cross_entropy", X, y, "l2", 1.0 / (2.0 * l1_vs_l2.C * n))
    constant = X.std(axis=0) == 0
    assert constant.sum() == 3  # the 3 always-blank pixels: scikit-learn's 4.69% of 64
    assert np.all(w2[constant] == 0) and np.all(w2[~constant] != 0)
    # scikit-learn's example reports 84.38% (54 of 64) at tol = 0.01; saga run to tol = 1e-6 finds 55
    assert 54 <= int(np.sum(w1 == 0)) <= 56
