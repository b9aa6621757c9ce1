"""Autodiff through losslab's own code gives the analytic gradient at every switch point.

Stable forms switch branches (softplus at 0, log1p_square at |t| = 1, clips at a loss's
threshold); ``max``, ``min`` and ``abs`` have no derivative at a tie, and PyTorch and JAX
split it, so a stable form can silently give a wrong autodiff gradient exactly there (the
first wave's softplus gave 0 instead of ½ at a zero logit, cauchy 0.25 instead of 0.5 at
|r| = scale). Every differentiable distance, margin and binary-probability loss of the
catalog is checked at 0, ±1 and ±each of its own thresholds, on PyTorch and JAX, against
``L.gradient`` (independently checked against finite differences in test_catalog.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll
from cases import all_cases, case_id

CASES = all_cases()


def _thresholds(loss: ll.Loss) -> list[float]:
    """0, ±1, ±½ and ± every numeric parameter of the loss (and Barron's own switch point)."""
    points = {0.0, 1.0, -1.0, 0.5, -0.5}
    for value in loss.params.values():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value != 0:
            points |= {float(value), -float(value)}
    if loss.name == "barron":
        switch = loss.params["scale"] * math.sqrt(abs(loss.params["alpha"] - 2.0))
        if math.isfinite(switch):
            points |= {switch, -switch}
    return sorted(points)


def _differentiable_points(loss: ll.Loss, points: list[float]) -> list[float]:
    """Drop the points where the loss itself has a kink (no derivative to agree on)."""
    if not loss.traits.differentiable:
        return []
    return points


def _elementwise_cases():
    chosen = []
    for case in CASES:
        L = case.loss
        t = L.traits
        if L.inputs != ("y_true", "y_pred") or L.event_ndim != 0 or L.call_options or not t.differentiable:
            continue
        if t.distance_based or t.margin_based or (t.task == "binary" and getattr(L, "from_logits", False)):
            chosen.append(case)
    return chosen


ELEMENTWISE = _elementwise_cases()


def _arrays(loss: ll.Loss, points: list[float]) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(points, dtype=np.float64)
    t = loss.traits
    if t.distance_based:
        return np.zeros_like(z), z  # residual r = y_pred − y_true = the point
    if t.margin_based:
        return np.ones_like(z), z  # margin y·f = the point
    return np.tile([1.0, 0.0], len(z))[: len(z)], z  # a logit at the point, both labels


def test_the_switch_point_cases_cover_the_stable_forms():
    names = {c.loss.name for c in ELEMENTWISE}
    assert {"binary_cross_entropy", "logistic", "cauchy", "barron", "huber", "log_cosh"} <= names


@pytest.mark.parametrize("case", ELEMENTWISE, ids=case_id)
@pytest.mark.parametrize("library", ["torch", "jax"])
def test_autodiff_gradient_equals_analytic_at_switch_points(case, library):
    L = case.loss
    points = _differentiable_points(L, _thresholds(L))
    y_true, y_pred = _arrays(L, points)
    expected = L.gradient(y_true, y_pred, reduction="sum")
    if library == "torch":
        torch = pytest.importorskip("torch")
        z = torch.tensor(y_pred, requires_grad=True)
        L(torch.tensor(y_true), z, reduction="sum").backward()
        got = z.grad.numpy()
    else:
        jax = pytest.importorskip("jax")
        import jax.numpy as jnp

        got = np.asarray(jax.grad(lambda p: L(jnp.asarray(y_true), p, reduction="sum"))(jnp.asarray(y_pred)))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"{L!r} at {points}")


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_tied_scores_get_the_pairwise_gradient(library):
    """pairwise_logistic with every score tied (a zero-initialised model) still learns."""
    L = ll.get("pairwise_logistic")
    relevance, scores = np.array([2.0, 1.0, 0.0]), np.zeros(3)
    expected = L.gradient(relevance, scores)
    assert np.abs(expected).sum() > 0
    if library == "torch":
        torch = pytest.importorskip("torch")
        s = torch.tensor(scores, requires_grad=True)
        L(torch.tensor(relevance), s).backward()
        got = s.grad.numpy()
    else:
        jax = pytest.importorskip("jax")
        import jax.numpy as jnp

        got = np.asarray(jax.grad(lambda s: L(jnp.asarray(relevance), s))(jnp.asarray(scores)))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
