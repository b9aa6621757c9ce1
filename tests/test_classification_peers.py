"""PyTorch's margin and multi-label losses, by their losslab names: values and gradients
against torch.nn.functional (autograd), and each formula written out in NumPy here.

Expected numbers come from torch.nn.functional (the peer), from the formula evaluated in
NumPy in the test (independent of losslab's code), or from PyTorch's documentation example
(multilabel_margin_loss: 0.85).
"""

from __future__ import annotations

import numpy as np
import pytest

import losslab as ll

RNG = np.random.default_rng(13)


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def _torch_value_grad(fn, x, *args, **kw):
    torch = _torch()
    xt = torch.tensor(x, requires_grad=True)
    value = fn(xt, *args, **kw)
    value.backward()
    return float(value.detach()), xt.grad.numpy()


def _softplus(x):
    return np.logaddexp(0.0, x)


# ------------------------------------------------------------------------------ soft margin
def test_soft_margin_is_logistic_and_matches_pytorch():
    torch = _torch()
    y = RNG.choice([-1.0, 1.0], size=(6, 3))
    x = RNG.normal(0.0, 3.0, size=(6, 3))
    L = ll.get("SoftMarginLoss")
    assert type(L) is ll.Logistic and ll.get("soft_margin") == L
    value, grad = _torch_value_grad(torch.nn.functional.soft_margin_loss, x, torch.tensor(y))
    np.testing.assert_allclose(float(L(y, x)), value, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(y, x), grad, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(float(L(y, x)), np.mean(np.log1p(np.exp(-y * x))), rtol=1e-12)


# ------------------------------------------------------------------------------ hinge embedding
@pytest.mark.parametrize("margin", [1.0, 2.5])
def test_hinge_embedding_matches_pytorch_and_formula(margin):
    torch = _torch()
    y = RNG.choice([-1.0, 1.0], size=20)
    x = RNG.uniform(0.0, 3.0, size=20)
    L = ll.get("HingeEmbeddingLoss", margin=margin)
    value, grad = _torch_value_grad(torch.nn.functional.hinge_embedding_loss, x, torch.tensor(y), margin=margin)
    np.testing.assert_allclose(float(L(y, x)), value, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(y, x), grad, rtol=1e-12)
    formula = np.where(y == 1, x, np.maximum(0.0, margin - x))
    np.testing.assert_allclose(L(y, x, reduction="none"), formula, rtol=1e-12)
    # {0, 1} labels are the house convention for ±1.
    np.testing.assert_allclose(float(L((y + 1) / 2, x)), value, rtol=1e-12)


def test_hinge_embedding_rejects_other_labels():
    with pytest.raises(ValueError, match="y_true"):
        ll.hinge_embedding([0.5, 1.0], [1.0, 2.0])


# ------------------------------------------------------------------------------ multi margin
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weight", [None, [1.0, 2.0, 0.5, 3.0, 1.5]])
def test_multi_margin_matches_pytorch_and_formula(p, weight):
    torch = _torch()
    n, c, m = 9, 5, 0.7
    y = RNG.integers(0, c, size=n)
    s = RNG.normal(0.0, 1.0, size=(n, c))
    kw = {"p": p, "margin": m, "weight": None if weight is None else torch.tensor(weight, dtype=torch.float64)}
    value, grad = _torch_value_grad(torch.nn.functional.multi_margin_loss, s, torch.tensor(y), **kw)
    L = ll.get("MultiMarginLoss", p=p, margin=m, weight=weight)
    np.testing.assert_allclose(float(L(y, s)), value, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(y, s), grad, rtol=1e-10, atol=1e-15)
    # The formula: Σ_{j≠y} w_y max(0, m − s_y + s_j)^p / C, mean over N.
    w = np.ones(c) if weight is None else np.asarray(weight)
    h = np.maximum(0.0, m - s[np.arange(n), y][:, None] + s)
    h[np.arange(n), y] = 0.0
    np.testing.assert_allclose(L(y, s, reduction="none"), w[y] * np.sum(h ** p, axis=1) / c, rtol=1e-12)


def test_multi_margin_is_multiclass_hinge_over_c():
    y = RNG.integers(0, 4, size=8)
    s = RNG.normal(0.0, 1.0, size=(8, 4))
    np.testing.assert_allclose(4 * ll.multi_margin(y, s, margin=0.5, reduction="none"),
                               ll.multiclass_hinge(y, s, margin=0.5, reduction="none"), rtol=1e-12)


def test_multi_margin_bad_input():
    with pytest.raises(ValueError, match="p"):
        ll.get("multi_margin", p=3)
    with pytest.raises(ValueError, match="weight"):
        ll.multi_margin([0, 1], np.zeros((2, 3)), weight=[1.0, 2.0])


# ------------------------------------------------------------------------------ multi-label soft margin
@pytest.mark.parametrize("weight", [None, [1.0, 0.5, 2.0, 0.0]])
@pytest.mark.parametrize("pos_weight", [None, 2.5, [3.0, 1.0, 0.5, 2.0]])
def test_multilabel_soft_margin_matches_pytorch_and_formula(weight, pos_weight):
    torch = _torch()
    y = (RNG.random((7, 4)) < 0.4).astype(float)
    x = RNG.normal(0.0, 3.0, size=(7, 4))
    L = ll.get("multilabel_soft_margin", weight=weight, pos_weight=pos_weight)
    wt = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    if pos_weight is None:
        value, grad = _torch_value_grad(torch.nn.functional.multilabel_soft_margin_loss, x, torch.tensor(y),
                                        weight=wt)
    else:
        # PyTorch has no pos_weight here: BCEWithLogits with the vector, averaged over classes then rows.
        pw = torch.tensor(np.broadcast_to(np.asarray(pos_weight, dtype=float), (4,)).copy())
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        value, grad = _torch_value_grad(
            lambda xt: bce(xt, torch.tensor(y), weight=wt, pos_weight=pw, reduction="none").mean(), x)
    np.testing.assert_allclose(float(L(y, x)), value, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(y, x), grad, rtol=1e-10, atol=1e-15)
    w = np.ones(4) if weight is None else np.asarray(weight)
    pw = np.ones(4) if pos_weight is None else np.broadcast_to(pos_weight, (4,))
    formula = np.mean(w * (pw * y * _softplus(-x) + (1 - y) * _softplus(x)), axis=1)
    np.testing.assert_allclose(L(y, x, reduction="none"), formula, rtol=1e-12)


def test_multilabel_soft_margin_is_bce_on_logits_over_elements():
    y = (RNG.random((5, 3)) < 0.5).astype(float)
    x = RNG.normal(0.0, 2.0, size=(5, 3))
    np.testing.assert_allclose(float(ll.get("MultiLabelSoftMarginLoss")(y, x)),
                               float(ll.get("BCEWithLogitsLoss")(y, x)), rtol=1e-12)


def test_multilabel_soft_margin_bad_input():
    with pytest.raises(ValueError, match="pos_weight"):
        ll.get("multilabel_soft_margin", pos_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="weight"):
        ll.multilabel_soft_margin(np.zeros((2, 3)), np.zeros((2, 3)), weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="y_true"):
        ll.multilabel_soft_margin(np.full((2, 3), 2.0), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="y_pred"):
        ll.multilabel_soft_margin(np.zeros(3), np.zeros(3))


# ------------------------------------------------------------------------------ multi-label margin
def _torch_targets(y, rng):
    """y multi-hot → PyTorch's format: target indices (shuffled), then -1, then junk."""
    n, c = y.shape
    t = np.full((n, c), -1, dtype=np.int64)
    for r in range(n):
        idx = rng.permutation(np.flatnonzero(y[r]))
        t[r, : len(idx)] = idx
        if len(idx) + 1 < c:
            t[r, len(idx) + 1:] = rng.integers(0, c, size=c - len(idx) - 1)
    return t


def test_multilabel_margin_matches_pytorch_in_both_target_formats():
    torch = _torch()
    y = (RNG.random((10, 5)) < 0.4).astype(float)
    y[0] = 0.0  # a row with no target costs 0
    y[1] = 1.0  # and one with no other class
    x = RNG.normal(0.0, 1.0, size=(10, 5))
    t = _torch_targets(y, RNG)
    value, grad = _torch_value_grad(torch.nn.functional.multilabel_margin_loss, x, torch.tensor(t))
    torch_name = ll.get("MultiLabelMarginLoss")
    np.testing.assert_allclose(float(torch_name(t, x)), value, rtol=1e-12)
    np.testing.assert_allclose(torch_name.gradient(t, x), grad, rtol=1e-10, atol=1e-15)
    multi_hot = ll.get("multilabel_margin")
    np.testing.assert_allclose(float(multi_hot(y, x)), value, rtol=1e-12)
    # The formula: Σ_{j∈J} Σ_{i∉J} max(0, 1 − x_j + x_i) / C, per row.
    formula = [sum(max(0.0, 1 - x[r, j] + x[r, i]) for j in range(5) for i in range(5) if y[r, j] and not y[r, i]) / 5
               for r in range(10)]
    np.testing.assert_allclose(multi_hot(y, x, reduction="none"), formula, rtol=1e-12)


def test_multilabel_margin_documented_example():
    # PyTorch's MultiLabelMarginLoss docstring: target [3, 0, -1, 1] on [0.1, 0.2, 0.4, 0.8] is 0.85.
    np.testing.assert_allclose(float(ll.get("MultiLabelMarginLoss")([[3, 0, -1, 1]], [[0.1, 0.2, 0.4, 0.8]])), 0.85)


def test_multilabel_margin_bad_input():
    with pytest.raises(ValueError, match="y_true"):
        ll.get("MultiLabelMarginLoss")([[4, -1, 0]], [[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="y_true"):
        ll.multilabel_margin([[0.5, 1.0]], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="target_format"):
        ll.get("multilabel_margin", target_format="sparse")


# ------------------------------------------------------------------------------ cosine distance
def test_cosine_distance_matches_formula_pytorch_and_keras():
    torch = _torch()
    y = RNG.normal(size=(6, 4))
    raw = RNG.normal(size=(6, 4))
    # Rows far below and above unit scale: the cosine is that of the unscaled rows.
    x = raw * np.array([[1e-200], [1.0], [1e150], [3.0], [0.5], [1.0]])
    L = ll.get("cosine_distance")
    cos = np.sum(raw * y, axis=1) / (np.linalg.norm(raw, axis=1) * np.linalg.norm(y, axis=1))
    np.testing.assert_allclose(L(y, x, reduction="none"), 1 - cos, rtol=1e-12, atol=1e-15)
    xs, ys = x[1:2], y[1:2]  # PyTorch's eps floor is invisible at unit scale
    value, grad = _torch_value_grad(
        lambda xt: (1 - torch.nn.functional.cosine_similarity(xt, torch.tensor(ys), dim=1)).mean(), xs)
    np.testing.assert_allclose(float(L(ys, xs)), value, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(ys, xs), grad, rtol=1e-9, atol=1e-15)
    keras = pytest.importorskip("keras")
    # Keras's CosineSimilarity is −cos: cosine_distance − 1 (ll.get names the difference).
    unit = [1, 3, 4, 5]  # rows whose squares fit (Keras squares without rescaling)
    k = float(keras.losses.CosineSimilarity()(y[unit], x[unit]))
    np.testing.assert_allclose(float(L(y[unit], x[unit])) - 1.0, k, rtol=1e-5)
    with pytest.raises(ValueError, match="cosine_distance"):
        ll.get("CosineSimilarity")


def test_cosine_distance_rejects_zero_rows():
    with pytest.raises(ValueError, match="y_pred row 1"):
        ll.cosine_distance(np.ones((2, 3)), np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
