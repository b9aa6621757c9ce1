"""The verdict rules, fed numbers that must pass them and numbers that must fail them.

Each experiment's ``checks(numbers)`` is the function its runs use to judge a seed; here it
gets hand-made numbers: a set on the passing side of every threshold, and the same set with one
value moved past its threshold. The seed rule (k/n >= 80%), the checks' comparisons and the
margin interval are tested on their own.
"""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from losslab import experiments
from losslab.experiments import ce_vs_hinge, imbalance, outliers
from losslab.experiments._base import Check, Result, TrialResult, margin_interval, seed_verdict, seeds_for
from losslab.experiments.report import render_html


# ------------------------------------------------------------------ the seed rule and the checks
@pytest.mark.parametrize("passed, supported", [
    ([True] * 5, True),
    ([True] * 4 + [False], True),  # 4/5 = 80% meets the rule exactly
    ([True] * 3 + [False] * 2, False),  # 60%
    ([True] * 7 + [False] * 3, False),  # 70%
    ([True] * 8 + [False] * 2, True),
    ([False], False),
    ([], False),
])
def test_seed_verdict_is_k_of_n_at_least_80_percent(passed, supported):
    assert seed_verdict(passed, 0.8) is supported


def test_seed_verdict_rejects_a_share_outside_0_1():
    with pytest.raises(ValueError, match="min_share must be in"):
        seed_verdict([True], 1.5)


@pytest.mark.parametrize("value, op, threshold, passed, margin", [
    (0.3, "<=", 1 / 3, True, 1 / 3 - 0.3),
    (0.4, "<=", 1 / 3, False, 1 / 3 - 0.4),
    (1.0, ">=", 1.0, True, 0.0),  # on the threshold: passes a non-strict comparison ...
    (1.0, ">", 1.0, False, 0.0),  # ... and fails a strict one
    (5.0, "<", 4.0, False, -1.0),
    (float("nan"), ">=", 0.0, False, None),  # NaN never passes
])
def test_check_compares_and_signs_its_margin(value, op, threshold, passed, margin):
    check = Check("x", value, op, threshold)
    assert check.passed is passed
    if margin is None:
        assert math.isnan(check.margin)
    else:
        assert check.margin == pytest.approx(margin)


def test_check_rejects_an_unknown_comparison():
    with pytest.raises(ValueError, match="op must be one of"):
        Check("x", 1.0, "==", 1.0)


def test_margin_interval_is_the_student_t_interval():
    # margins 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.302653 (tables): 2 ± 4.302653/√3
    mean, lo, hi = margin_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert (lo, hi) == pytest.approx((2 - 4.302653 / math.sqrt(3), 2 + 4.302653 / math.sqrt(3)), rel=1e-6)
    assert margin_interval([0.5]) == (0.5, None, None)


def test_seeds_of_different_bases_do_not_overlap():
    assert seeds_for(0, 5) == [0, 1, 2, 3, 4] and seeds_for(3, 2) == [3000, 3001]
    assert not set(seeds_for(0, 999)) & set(seeds_for(1, 999))


# ------------------------------------------------------------------ every experiment's rule
def _regression_table(own_best: bool):
    names = ("mse", "mae", "quantile(0.9)")
    table = {t: {m: (1.0 if t == m else 1.2) for m in names} for t in names}
    if not own_best:
        table["mae"]["mse"] = 0.9  # the MAE model beats the MSE model on MSE
    return table


def _imbalance(ce_share=0.3, focal_share=0.001, ap_gain=0.02):
    budgets = [50, 300]
    return {"budgets": budgets, "runs": {
        imbalance.BASELINE: {str(b): {"easy_gradient_share": ce_share, "average_precision": 0.2} for b in budgets},
        imbalance.FOCAL: {str(b): {"easy_gradient_share": focal_share, "average_precision": 0.2 + ap_gain}
                          for b in budgets},
    }}


#: name -> (numbers that pass every check, a function returning numbers that fail one)
CASES = {
    "mean_vs_median": (
        {"articles": {"fitted": {"mse": 22.0, "mae": 3.0}, "statistic": {"mse": 22.0, "mae": 3.0}},
         "lognormal": {"fitted": {"mse": 1.6}, "statistic": {"mse": 1.6001}}},
        lambda n: n["articles"]["fitted"].update(mse=22.1),  # 0.45% off: over the 0.1% tolerance
    ),
    "outliers": (
        {"slope_error": {f"{f:g}": {name: (3.0 if name == "mse" else 0.5) for name in outliers.LOSSES}
                         for f in outliers.FRACTIONS}},
        lambda n: n["slope_error"]["0.1"].update(cauchy=1.5),  # half of MSE's error: over 1/3
    ),
    "landscape": (
        {"argmin": {"mse": 2.1, "mae": 2.1}, "slope_jump": {"mse": 1e-4, "mae": 166.7}},
        lambda n: n["slope_jump"].update(mse=1.0),  # ratio 167 < 1000: no kink to speak of
    ),
    "own_metric_wins": (
        {"test_metric_by_trained_loss": _regression_table(True)},
        lambda n: n.update(test_metric_by_trained_loss=_regression_table(False)),
    ),
    "convergence": (
        {"mse": {"final_error": 1e-9}, "mae": {"final_error": 0.1, "direction_changes_last_50": 48}},
        lambda n: n["mae"].update(direction_changes_last_50=3),  # MAE settles: no oscillation
    ),
    "huber_efficiency": (
        {"gaussian": {"efficiency_vs_mean": {"huber": 0.95, "median": 0.64}},
         "contaminated": {"efficiency_vs_mean": {"huber": 7.0, "median": 5.0}}},
        lambda n: n["gaussian"]["efficiency_vs_mean"].update(huber=0.85),  # 0.10 below 0.95
    ),
    "ce_vs_hinge": (
        {"epochs": 800,
         "cross-entropy": {"min_fraction_nonzero_gradient": 1.0, "weight_norm_growth_second_half": 0.2,
                           "test_overconfidence": {"400": 0.005, "800": 0.01}, "test_confidence": 0.99,
                           "test_accuracy": 0.98},
         "hinge": {"weight_norm_growth_second_half": 0.0, "final_fraction_nonzero_gradient": 0.0,
                   "min_train_margin_final": 1.001}},
        lambda n: n["hinge"].update(min_train_margin_final=1.32),  # stopped with no point at the margin
    ),
    "squared_loss_classification": (
        {"squared": {"error_change": 0.02, "far_points_already_correct": 1.0},
         "cross-entropy": {"error_change": 0.0, "far_points_already_correct": 1.0},
         "hinge": {"error_change": 0.001, "far_points_already_correct": 1.0}},
        lambda n: n["hinge"].update(error_change=-0.004),  # hinge moves by 0.4 points: over 0.25
    ),
    "vanishing_gradient": ({"speedup": 80.0}, lambda n: n.update(speedup=9.0)),
    "imbalance": (_imbalance(), lambda n: n["runs"][imbalance.FOCAL]["50"].update(average_precision=0.19)),
    "embedding_geometry": (
        {"input": {"same_ratio": 0.3, "sibling_ratio": 0.4, "recall_at_1": 0.98},
         "triplet": {"same_ratio": 0.15, "sibling_ratio": 0.6, "recall_at_1": 0.95},
         "contrastive": {"same_ratio": 0.1, "sibling_ratio": 0.4, "recall_at_1": 0.97}},
        lambda n: n["contrastive"].update(sibling_ratio=1.05),  # cat–car closer than cat–dog
    ),
    "l1_vs_l2": (
        {"sparse": {"l1": {"informative_kept": 1.0, "uninformative_zeroed": 0.95}, "l2": {"n_zero": 0}},
         "digits": {"l1": {"percent_zero": 85.9}, "l2": {"percent_zero": 4.7}}},
        lambda n: n["sparse"]["l1"].update(informative_kept=0.8),  # one informative feature of 5 dropped
    ),
    "diagnosis": ({"correct": 5}, lambda n: n.update(correct=4)),
    "calibration": (
        {"cross_entropy": {"ece": 0.18, "accuracy": 0.71, "confidence": 0.89},
         "label_smoothing": {"ece": 0.05, "accuracy": 0.70, "confidence": 0.72},
         "temperature_scaling": {"ece": 0.04, "accuracy": 0.71, "confidence": 0.72}},
        lambda n: n["label_smoothing"].update(accuracy=0.68),  # 3 accuracy points lost: over 2
    ),
    "label_noise": (
        {"cross_entropy": {"final_test_accuracy": 0.71, "early_stopped_test_accuracy": 0.85},
         "generalized_cross_entropy": {"final_test_accuracy": 0.88, "early_stopped_test_accuracy": 0.88}},
        lambda n: n["cross_entropy"].update(early_stopped_test_accuracy=0.89),  # early stopping does as well
    ),
    "combined_objective": (
        {"spearman_lambda_accuracy": -1.0, "spearman_lambda_box_mae": -0.9},
        lambda n: n.update(spearman_lambda_box_mae=float("nan")),  # a constant box error: no trade-off
    ),
}


def test_every_experiment_has_a_rule_case():
    assert set(CASES) == set(experiments.names())


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_passes_and_fails_on_hand_made_numbers(name):
    experiment = experiments.get_experiment(name)
    passing, break_one = CASES[name]
    checks = experiment.checks(passing)
    assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]
    failing = copy.deepcopy(passing)
    break_one(failing)
    failed = [c for c in experiment.checks(failing) if not c.passed]
    assert len(failed) == 1, failed


def test_ce_vs_hinge_rule_needs_growing_overconfidence():
    numbers = copy.deepcopy(CASES["ce_vs_hinge"][0])
    numbers["cross-entropy"]["test_overconfidence"] = {"400": 0.01, "800": 0.01}  # flat: not growing
    assert not all(c.passed for c in ce_vs_hinge.CEvsHinge().checks(numbers))


def test_imbalance_rule_needs_the_mechanism_at_every_budget():
    numbers = _imbalance()
    numbers["runs"][imbalance.FOCAL]["300"]["easy_gradient_share"] = 0.05  # focal keeps 5% at the long budget
    failed = [c.label for c in imbalance.Imbalance().checks(numbers) if not c.passed]
    assert failed == ["easy negatives' share of focal's gradient at 300 steps"]


def test_imbalance_rule_was_fixed_before_the_run():
    # the thresholds the design asks for, as committed before the first run
    assert (imbalance.MIN_EASY_SHARE_CE, imbalance.MAX_EASY_SHARE_FOCAL, imbalance.MIN_AP_GAIN) == (0.10, 0.02, 0.0)
    assert imbalance.Imbalance.min_share == 0.8
    assert np.isclose(imbalance.PRIOR, 0.01)


# ------------------------------------------------------------------ the page shows results.json's verdicts
def _result(name, kind, passed):
    """A Result whose seeds pass or fail as ``passed`` says (one check each: 1 >= 0 or -1 >= 0)."""
    trials = [TrialResult(seed, {"x": 1.0 if ok else -1.0}, [Check("x", 1.0 if ok else -1.0, ">=", 0.0)])
              for seed, ok in enumerate(passed)]
    return Result(name, name.replace("_", " "), f"The claim of {name}.", kind, "rule", 0.8, 0, trials, {})


def test_page_shows_the_verdicts_of_results_json_on_both_sides():
    """Hand-made results on both sides of the rule (5/5 and 4/5 supported, 3/5 not; a check that
    passes and one that fails): every verdict on the page and the summary's count are those of
    results.json, so a page that inverted or always showed one verdict would fail here."""
    results = [
        _result("all_pass", "experiment", [True] * 5),
        _result("four_of_five", "experiment", [True] * 4 + [False]),
        _result("three_of_five", "experiment", [True] * 3 + [False] * 2),
        _result("check_passes", "check", [True]),
        _result("check_fails", "check", [False]),
    ]
    payload = {"losslab_version": "test", "quick": True, "seed": 0, "seconds": 0.0,
               "experiments": [r.to_dict() for r in results]}
    page = render_html(results, payload)
    shown = dict(re.findall(r'<td class="verdict" data-name="([^"]+)"><span class="(?:yes|no)">([^<]+)</span>', page))
    expected = {e["name"]: (("supported" if e["supported"] else "not supported") if e["kind"] == "experiment"
                            else ("passes" if e["supported"] else "fails")) for e in payload["experiments"]}
    assert expected == {"all_pass": "supported", "four_of_five": "supported", "three_of_five": "not supported",
                        "check_passes": "passes", "check_fails": "fails"}
    assert shown == expected
    assert "Claims and verdicts (3 of 5 hold)" in page
