"""diagnose on a converged fit: at the optimum with outliers ("converged") vs short of capacity."""

from __future__ import annotations

import numpy as np
import pytest

import losslab as ll
from losslab import datasets as D
from losslab.train import Linear, fit


def _line_with_outliers(seed=0):
    # y = 2.1·x + N(0, 5²) on x in [40, 160]; 8 of 200 targets moved up by 4000: they carry
    # nearly all of the squared error of the least-squares line.
    rng = np.random.default_rng(seed)
    x = rng.uniform(40, 160, 200)
    y = 2.1 * x + rng.normal(0, 5, 200)
    y[:8] += 4000.0
    return x[:, None], y


def test_a_least_squares_fit_at_its_optimum_with_outliers_is_converged_not_underfitting():
    X, y = _line_with_outliers()
    model = Linear(1, 1, seed=0)
    history = fit(model, "mse", X - X.mean(), y)
    residuals = model.forward(X - X.mean())[:, 0] - y
    d = ll.diagnose(history, residuals=residuals)
    assert d.kind == "converged"
    assert "8 of 200 residuals" in d.evidence and "robust loss" in d.advice
    # More epochs change nothing: the loss is already at its optimum (the check the kind rests on).
    longer = fit(Linear(1, 1, seed=0), "mse", X - X.mean(), y, epochs=400)
    assert abs(longer.train_loss[-1] - history.train_loss[-1]) <= 1e-9 * history.train_loss[-1]
    # Without residuals the curves alone cannot tell; the diagnosis says so.
    alone = ll.diagnose(history)
    assert alone.kind == "underfitting" and "converged" in alone.evidence and "residuals=" in alone.advice


def test_a_converged_model_short_of_capacity_stays_underfitting():
    circle = D.circle(n=200, seed=0)  # a line cannot separate a disc from a ring
    model = Linear(2, 1, seed=0)
    y = 2.0 * circle.y - 1
    history = fit(model, "mse", circle.X, y)
    d = ll.diagnose(history, residuals=model.forward(circle.X)[:, 0] - y)
    assert d.kind == "underfitting" and "no heavy tails" in d.evidence


def test_residuals_must_be_numbers():
    X, y = _line_with_outliers()
    history = fit(Linear(1, 1, seed=0), "mse", X - X.mean(), y)
    with pytest.raises(TypeError, match="residuals must be an array of numbers"):
        ll.diagnose(history, residuals=object())
