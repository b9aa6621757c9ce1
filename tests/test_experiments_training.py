"""Extra checks of the helpers of experiments 11, 13, 14, 15 and 16 (issue 7).

tests/test_experiments.py runs every experiment in quick mode and checks the schema and the
verdicts; these tests check the pieces those verdicts rest on.
"""

from __future__ import annotations

import numpy as np
import pytest

import losslab as ll
from losslab.experiments import calibration, combined_objective, diagnosis, embedding_geometry, label_noise
from losslab.miners import triplet_from_labels
from losslab.train.diagnosis import KINDS


def test_ece_matches_a_hand_computed_value():
    # top-class confidences 0.9, 0.9, 0.6, 0.8 fall in bins 13, 13, 9, 12 of 15; the first
    # two hold one right and one wrong prediction, the others are right:
    # ECE = 2/4·|0.5 − 0.9| + 1/4·|1 − 0.6| + 1/4·|1 − 0.8| = 0.2 + 0.1 + 0.05 (worked by hand)
    p = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    y = np.array([0, 1, 1, 2])
    result = calibration.reliability(p, y)
    assert result["ece"] == pytest.approx(0.35)
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["bin_count"].sum() == 4 and result["bin_count"][13] == 2


def _softmax(z: np.ndarray) -> np.ndarray:
    # the textbook form, independent of losslab's _stable.softmax
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_ece_is_zero_for_perfect_calibration():
    # confidence 0.75 on every sample and exactly 3 of 4 right: calibrated by definition
    p = np.tile([0.75, 0.25], (4, 1))
    assert calibration.reliability(p, np.array([0, 0, 0, 1]))["ece"] == pytest.approx(0.0)


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels():
    # labels drawn from softmax(z / 2): cross-entropy is a proper scoring rule, so the
    # fitted T should be close to 2 (sampling error about 1% at 20000 samples)
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.standard_normal((20000, 5))
    p = _softmax(logits / 2.0)
    y = (rng.random(20000)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    assert calibration.fit_temperature(logits, y) == pytest.approx(2.0, rel=0.05)


def test_mae_of_the_label_noise_experiment_is_half_the_l1_distance_to_the_one_hot_target():
    # generalized cross-entropy at q = 1 is 1 − p_y = ½·Σ_c |p_c − onehot_c| (since Σ p = 1)
    name, params = label_noise.LOSSES["mae"]
    rng = np.random.default_rng(1)
    p = _softmax(rng.standard_normal((6, 4)))
    y = np.array([0, 1, 2, 3, 0, 1])
    expected = 0.5 * np.abs(p - np.eye(4)[y]).sum(axis=1)
    np.testing.assert_allclose(ll.get(name, **params).per_sample(y, p), expected, rtol=1e-12)


@pytest.mark.parametrize("loss", embedding_geometry.LOSSES)
def test_embedding_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(2)
    E = rng.standard_normal((8, 2))
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])

    def value(emb):
        if loss == "triplet":
            return float(triplet_from_labels(emb, labels, margin=embedding_geometry.TRIPLET_MARGIN, miner="all",
                                             squared=True))
        i, j = np.triu_indices(len(labels), k=1)
        similar = (labels[i] == labels[j]).astype(float)
        return float(ll.contrastive(similar, emb[i], emb[j], margin=embedding_geometry.CONTRASTIVE_MARGIN))

    h = 1e-6
    numeric = np.zeros_like(E)
    for index in np.ndindex(E.shape):
        step = np.zeros_like(E)
        step[index] = h
        numeric[index] = (value(E + step) - value(E - step)) / (2 * h)
    np.testing.assert_allclose(embedding_geometry.embedding_gradient(loss, E, labels), numeric, atol=1e-6)


def test_geometry_of_hand_placed_points():
    # cat at 0 and 0.2, dog at 1 and 1.2, car at 10 and 10.2, truck at 11 and 11.2 on a line
    points = np.array([[0.0], [0.2], [1.0], [1.2], [10.0], [10.2], [11.0], [11.2]])
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    g = embedding_geometry.geometry(points, y, np.array([0, 0, 1, 1]))
    assert g["same_class_distance"] == pytest.approx(0.2)
    assert g["class_distances"][0, 1] == pytest.approx(1.0)  # mean of |0−1|, |0−1.2|, |0.2−1|, |0.2−1.2|
    # sibling pairs: cat–dog 1, car–truck 1; the others: cat–car 10, cat–truck 11, dog–car 9, dog–truck 10
    assert g["sibling_class_distance"] == pytest.approx(1.0)
    assert g["other_superclass_distance"] == pytest.approx(10.0)
    assert g["recall_at_1"] == 1.0


def test_detection_data_follows_its_definition():
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((3, 4))
    X, label, box = combined_objective.detection_data(2000, weights, rng)
    assert X.shape == (2000, 6) and box.shape == (2000, 4)
    np.testing.assert_array_equal(label, np.argmax(X[:, :3], axis=1))
    # the box is linear in the last three features plus noise of std 0.1
    fitted, *_ = np.linalg.lstsq(X[:, 3:], box, rcond=None)
    np.testing.assert_allclose(fitted, weights, atol=0.02)
    assert np.std(box - X[:, 3:] @ fitted) == pytest.approx(0.1, rel=0.1)


def test_diagnosis_expects_only_kinds_that_diagnose_can_name():
    assert set(diagnosis.EXPECTED.values()) <= set(KINDS)
    assert diagnosis.REQUIRED_CORRECT == len(diagnosis.EXPECTED)


@pytest.mark.parametrize("accuracy, shape", [
    ([0.95, 0.95, 0.94, 0.40, 0.38], "cliff"),  # one step holds 0.54 of the 0.57 fall
    ([0.95, 0.80, 0.65, 0.50, 0.38], "gradual"),  # four equal steps of about 0.15
    ([0.95, 0.95, 0.94, 0.94, 0.945], "flat"),  # 0.005 over the grid
])
def test_curve_shape_names_the_shape_of_the_accuracy_curve(accuracy, shape):
    lambdas = [0.01, 0.1, 1.0, 10.0, 100.0]
    found = combined_objective.curve_shape(lambdas, accuracy)
    assert found["shape"] == shape
    if shape == "cliff":
        assert found["between"] == [1.0, 10.0] and found["flat_until"] == 1.0
