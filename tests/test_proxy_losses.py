"""SphereFace, sub-center ArcFace, Proxy-NCA and proxy-anchor against their papers' formulas.

Expected values are each paper's equation written here with loops or plain NumPy (not the
loss's code); expected gradients are PyTorch's autograd of the same equations written in
torch. Where pytorch-metric-learning is installed (``pip install --no-deps
pytorch-metric-learning``; CI installs it), its SphereFaceLoss, SubCenterArcFaceLoss,
ProxyNCALoss and ProxyAnchorLoss give the value and, by autograd, the gradients too; those
tests skip when it is absent.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll


@pytest.fixture
def rng():
    return np.random.default_rng(57)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _classes(rng, n=8, n_classes=5, dim=4, rows_per_class=1, spread=0.8):
    """Embeddings near a row of their class (so that no true-class angle is near π)."""
    weight = rng.normal(size=(n_classes * rows_per_class, dim))
    labels = rng.integers(0, n_classes, n)
    rows = labels * rows_per_class + rng.integers(0, rows_per_class, n)
    return weight[rows] + spread * rng.normal(size=(n, dim)), labels, weight


def _pml():
    pytest.importorskip("torch")
    return pytest.importorskip("pytorch_metric_learning.losses")


# ----------------------------------------------------------------------------- SphereFace
def _psi(theta, m):
    """Liu et al. (2017) eq. 7: ψ(θ) = (−1)^k cos(mθ) − 2k on [kπ/m, (k+1)π/m]."""
    k = min(math.floor(theta * m / math.pi), m - 1)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def _sphereface_reference(x, labels, weight, m, s=1.0):
    """A-Softmax, eq. 7: normalised weights, the feature's norm kept, a loop."""
    cos = _unit(x) @ _unit(weight).T
    out = []
    for i, y in enumerate(labels):
        norm = np.linalg.norm(x[i])
        logits = s * norm * cos[i].copy()
        logits[y] = s * norm * _psi(math.acos(cos[i, y]), m)
        out.append(np.log(np.sum(np.exp(logits))) - logits[y])
    return np.array(out)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_sphereface_equals_liu_eq7(rng, m):
    x, labels, weight = _classes(rng, spread=1.5)
    x = 3.0 * x  # norms away from 1, which the logits carry
    np.testing.assert_allclose(ll.SphereFace(margin=m).per_sample(x, labels, weight),
                               _sphereface_reference(x, labels, weight, m), rtol=1e-10)
    np.testing.assert_allclose(ll.SphereFace(margin=m, scale=0.3).per_sample(x, labels, weight),
                               _sphereface_reference(x, labels, weight, m, s=0.3), rtol=1e-10)


def test_sphereface_covers_every_branch_of_psi(rng):
    # True-class angles spread over [0, π]: every k of ψ for m = 4 is exercised above and here.
    theta = np.linspace(0.05, math.pi - 0.05, 24)
    x = 2.0 * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    weight = np.array([[1.0, 0.0], [0.0, 1.0], [-0.6, -0.8]])
    labels = np.zeros(theta.size, dtype=int)
    assert len({min(math.floor(t * 4 / math.pi), 3) for t in theta}) == 4
    np.testing.assert_allclose(ll.sphereface(x, labels, weight, reduction="none"),
                               _sphereface_reference(x, labels, weight, 4), rtol=1e-10)


@pytest.mark.parametrize("m", [2, 3, 4])
def test_sphereface_psi_is_continuous_decreasing_and_spans_1_to_1_minus_2m(m):
    c = np.cos(np.linspace(0.0, math.pi, 2001))
    psi, dpsi, _ = ll.SphereFace(margin=m)._phi(np, c, np.sqrt(1.0 - c * c))
    assert psi[0] == pytest.approx(1.0) and psi[-1] == pytest.approx(1.0 - 2 * m)
    assert np.all(np.diff(psi) <= 1e-12)  # θ increasing: ψ never increases
    assert np.max(np.abs(np.diff(psi))) < 0.05  # no jump at the boundaries kπ/m
    # Its derivative in cos θ (the gradient's factor) is continuous and bounded by m².
    assert np.max(np.abs(np.diff(dpsi))) < 0.1 and np.max(np.abs(dpsi)) <= m * m + 1e-9
    np.testing.assert_allclose(psi, [_psi(t, m) for t in np.arccos(np.clip(c, -1, 1))], atol=1e-12)


def test_sphereface_on_unit_embeddings_is_the_normalised_feature_variant(rng):
    """The docstring's statement: with ‖x‖ = 1 the logits are s·ψ and s·cos θ."""
    x, labels, weight = _classes(rng)
    x = _unit(x)
    cos = x @ _unit(weight).T
    s = 16.0
    logits = s * cos
    logits[np.arange(len(labels)), labels] = [s * _psi(math.acos(cos[i, y]), 4) for i, y in enumerate(labels)]
    expected = np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(labels)), labels]
    np.testing.assert_allclose(ll.sphereface(x, labels, weight, scale=s, reduction="none"), expected, rtol=1e-10)


def test_sphereface_with_m1_is_softmax_on_norm_times_cosine(rng):
    x, labels, weight = _classes(rng)
    logits = np.linalg.norm(x, axis=1, keepdims=True) * (_unit(x) @ _unit(weight).T)
    expected = ll.cross_entropy(labels, logits, from_logits=True)
    assert ll.sphereface(x, labels, weight, margin=1) == pytest.approx(expected, rel=1e-12)


def test_sphereface_gradients_equal_torch_autograd_of_eq7(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, labels, weight = _classes(rng, n=10, spread=1.5)
    m, s = 4, 0.7
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    cos = F.normalize(tx, dim=1) @ F.normalize(tw, dim=1).T
    theta = torch.acos(cos.clamp(-1, 1))
    k = torch.clamp(torch.floor(theta.detach() * m / math.pi), max=m - 1)
    psi = (-1.0) ** k * torch.cos(m * theta) - 2 * k
    onehot = F.one_hot(torch.tensor(labels), weight.shape[0]).to(torch.float64)
    logits = s * tx.norm(dim=1, keepdim=True) * (onehot * psi + (1 - onehot) * cos)
    F.cross_entropy(logits, torch.tensor(labels)).backward()
    value, (gx, gw) = ll.SphereFace(scale=s, margin=m).value_and_gradient(x, labels, weight)
    assert value == pytest.approx(F.cross_entropy(logits, torch.tensor(labels)).item(), rel=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-8, atol=1e-12)


# ----------------------------------------------------------------------------- sub-center ArcFace
def _subcenter_reference(x, labels, weight, k, s, m):
    """Deng et al. (2020): cos θ_c = max over the class's K sub-centres, then ArcFace (eq. 3 of 2019)."""
    cos_all = _unit(x) @ _unit(weight).T
    out = []
    for i, y in enumerate(labels):
        cos = np.array([max(cos_all[i, c * k + j] for j in range(k)) for c in range(weight.shape[0] // k)])
        logits = s * cos
        logits[y] = s * math.cos(math.acos(cos[y]) + m)
        out.append(np.log(np.sum(np.exp(logits))) - logits[y])
    return np.array(out)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_subcenter_arcface_equals_deng_2020(rng, k):
    x, labels, weight = _classes(rng, rows_per_class=k)
    got = ll.SubCenterArcFace(scale=16.0, margin=0.4, sub_centers=k).per_sample(x, labels, weight)
    np.testing.assert_allclose(got, _subcenter_reference(x, labels, weight, k, 16.0, 0.4), rtol=1e-10)


def test_subcenter_arcface_with_one_sub_center_is_arcface(rng):
    x, labels, weight = _classes(rng)
    value, grads = ll.SubCenterArcFace(sub_centers=1).value_and_gradient(x, labels, weight)
    value_a, grads_a = ll.ArcFace().value_and_gradient(x, labels, weight)
    assert value == pytest.approx(value_a, rel=1e-13)
    for g, ga in zip(grads, grads_a):
        np.testing.assert_allclose(g, ga, rtol=1e-12, atol=1e-15)


def test_subcenter_arcface_gradient_goes_to_the_nearest_sub_center_and_to_the_first_of_a_tie(rng):
    x, labels, weight = _classes(rng, n=6, n_classes=3, rows_per_class=2)
    loss = ll.SubCenterArcFace(scale=8.0, margin=0.3, sub_centers=2)
    _, (_, gw) = loss.value_and_gradient(x, labels, weight)
    cos = _unit(x) @ _unit(weight).T
    chosen = {c * 2 + int(np.argmax(cos[i, 2 * c:2 * c + 2])) for i in range(6) for c in range(3)}
    for row in range(6):
        assert np.any(gw[row] != 0) == (row in chosen)
    # Sub-centres 0 and 1 of class 0 equal: the value is that of either, and the gradient
    # goes to the first (row 0) only.
    tied = weight.copy()
    tied[1] = tied[0]
    value, (_, gw) = loss.value_and_gradient(x, labels, tied)
    assert value == pytest.approx(np.mean(_subcenter_reference(x, labels, tied, 2, 8.0, 0.3)), rel=1e-12)
    assert np.any(gw[0] != 0) and np.all(gw[1] == 0)


def test_subcenter_arcface_gradients_equal_torch_autograd_of_the_formula(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, labels, weight = _classes(rng, n=9, rows_per_class=3)
    s, m = 10.0, 0.35
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    cos = (F.normalize(tx, dim=1) @ F.normalize(tw, dim=1).T).view(9, 5, 3).max(dim=2).values
    onehot = F.one_hot(torch.tensor(labels), 5).to(torch.float64)
    logits = s * (onehot * torch.cos(torch.acos(cos) + m) + (1 - onehot) * cos)
    ref = F.cross_entropy(logits, torch.tensor(labels))
    ref.backward()
    value, (gx, gw) = ll.SubCenterArcFace(scale=s, margin=m).value_and_gradient(x, labels, weight)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-8, atol=1e-12)


# ----------------------------------------------------------------------------- Proxy-NCA
def _proxy_nca_reference(x, labels, proxies, s, include_positive=True):
    """−log(e^{−s d_y} / Σ_j e^{−s d_j}), d the squared distance of normalised vectors
    (pytorch-metric-learning's form); include_positive=False: the paper's NCA denominator."""
    xs, ps = _unit(x), _unit(proxies)
    out = []
    for i, y in enumerate(labels):
        d = np.array([np.sum((xs[i] - p) ** 2) for p in ps])
        others = [j for j in range(len(ps)) if include_positive or j != y]
        out.append(s * d[y] + np.log(np.sum(np.exp(-s * d[others]))))
    return np.array(out)


@pytest.mark.parametrize("s", [1.0, 4.0])
def test_proxy_nca_equals_the_nca_softmax_over_proxies(rng, s):
    x, labels, proxies = _classes(rng)
    got = ll.ProxyNCA(scale=s).per_sample(x, labels, proxies)
    np.testing.assert_allclose(got, _proxy_nca_reference(x, labels, proxies, s), rtol=1e-10)
    # Movshovitz-Attias et al.'s denominator without the positive: ℓ + log(1 − e^{−ℓ}) (docstring).
    np.testing.assert_allclose(got + np.log1p(-np.exp(-got)),
                               _proxy_nca_reference(x, labels, proxies, s, include_positive=False), rtol=1e-9)


def test_proxy_nca_is_cosface_without_margin_at_twice_the_scale(rng):
    x, labels, proxies = _classes(rng)
    value, grads = ll.proxy_nca(x, labels, proxies, scale=3.0), ll.ProxyNCA(scale=3.0).gradient(x, labels, proxies)
    assert value == pytest.approx(ll.cosface(x, labels, proxies, scale=6.0, margin=0.0), rel=1e-12)
    for g, gc in zip(grads, ll.CosFace(scale=6.0, margin=0.0).gradient(x, labels, proxies)):
        np.testing.assert_allclose(g, gc, rtol=1e-12, atol=1e-15)


def test_proxy_nca_gradients_equal_torch_autograd_of_the_distance_form(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, labels, proxies = _classes(rng)
    tx, tp = torch.tensor(x, requires_grad=True), torch.tensor(proxies, requires_grad=True)
    d = torch.cdist(F.normalize(tx, dim=1), F.normalize(tp, dim=1)) ** 2
    ref = F.cross_entropy(-2.5 * d, torch.tensor(labels))
    ref.backward()
    value, (gx, gp) = ll.ProxyNCA(scale=2.5).value_and_gradient(x, labels, proxies)
    assert value == pytest.approx(ref.item(), rel=1e-10)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(gp, tp.grad.numpy(), rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------- proxy-anchor
def _proxy_anchor_reference(x, labels, proxies, alpha, delta):
    """Kim et al. (2020) eq. 4, loops over proxies and samples."""
    s = _unit(x) @ _unit(proxies).T
    n_classes = proxies.shape[0]
    with_positives = sorted(set(labels.tolist()))
    pos = sum(math.log(1 + sum(math.exp(-alpha * (s[i, p] - delta)) for i in range(len(x)) if labels[i] == p))
              for p in with_positives)
    neg = sum(math.log(1 + sum(math.exp(alpha * (s[i, p] + delta)) for i in range(len(x)) if labels[i] != p))
              for p in range(n_classes))
    return pos / len(with_positives) + neg / n_classes


@pytest.mark.parametrize("alpha, delta", [(32.0, 0.1), (4.0, 0.0), (10.0, 0.3)])
def test_proxy_anchor_equals_kim_eq4(rng, alpha, delta):
    x, labels, proxies = _classes(rng, n=10, n_classes=6)
    labels[labels == 5] = 0  # a proxy without a positive in the batch: only its negative term counts
    expected = _proxy_anchor_reference(x, labels, proxies, alpha, delta)
    got = ll.ProxyAnchor(alpha=alpha, margin=delta)(x, labels, proxies, reduction="none")
    assert got.shape == (1,)
    assert got[0] == pytest.approx(expected, rel=1e-12)
    # One number per batch: a sample_weight of shape (1,) scales it.
    assert ll.proxy_anchor(x, labels, proxies, sample_weight=[2.5], reduction="sum") == pytest.approx(
        2.5 * _proxy_anchor_reference(x, labels, proxies, 32.0, 0.1), rel=1e-12)


def test_proxy_anchor_gradients_equal_torch_autograd_of_eq4(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, labels, proxies = _classes(rng, n=10, n_classes=6)
    labels[labels == 4] = 1
    alpha, delta = 8.0, 0.1
    tx, tp = torch.tensor(x, requires_grad=True), torch.tensor(proxies, requires_grad=True)
    s = F.normalize(tx, dim=1) @ F.normalize(tp, dim=1).T
    pos = F.one_hot(torch.tensor(labels), 6).to(torch.float64)
    has = pos.sum(0) > 0
    pos_term = torch.log1p((pos * torch.exp(-alpha * (s - delta))).sum(0))[has].sum() / has.sum()
    neg_term = torch.log1p(((1 - pos) * torch.exp(alpha * (s + delta))).sum(0)).sum() / 6
    ref = pos_term + neg_term
    ref.backward()
    value, (gx, gp) = ll.ProxyAnchor(alpha=alpha, margin=delta).value_and_gradient(x, labels, proxies)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gp, tp.grad.numpy(), rtol=1e-8, atol=1e-12)


# ----------------------------------------------------------------------------- pytorch-metric-learning
def _pml_value_and_grads(loss_fn, matrix_attr, matrix, x, labels):
    """Value and autograd gradients of a pytorch-metric-learning loss with its class matrix set."""
    import torch

    loss_fn = loss_fn.to(torch.float64)
    getattr(loss_fn, matrix_attr).data = torch.tensor(matrix)
    tx = torch.tensor(x, requires_grad=True)
    value = loss_fn(tx, torch.tensor(labels))
    value.backward()
    return value.item(), tx.grad.numpy(), getattr(loss_fn, matrix_attr).grad.numpy()


# pytorch-metric-learning 2.9 builds its binomial table through scipy on torch tensors,
# which NumPy 2 flags as deprecated: their warning, not losslab's.
@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")
def test_sphereface_equals_pml(rng):
    losses = _pml()
    x, labels, weight = _classes(rng, spread=1.5)
    pml = losses.SphereFaceLoss(num_classes=5, embedding_size=4, margin=4, scale=1)
    value, gx, g_wt = _pml_value_and_grads(pml, "W", weight.T.copy(), x, labels)  # PML's W is (dim, classes)
    got, (ex, ew) = ll.SphereFace().value_and_gradient(x, labels, weight)
    assert got == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(ex, gx, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ew, g_wt.T, rtol=1e-7, atol=1e-12)


def test_subcenter_arcface_equals_pml_with_its_margin_in_degrees(rng):
    losses = _pml()
    x, labels, weight = _classes(rng, rows_per_class=3)
    pml = losses.SubCenterArcFaceLoss(num_classes=5, embedding_size=4, margin=28.6, scale=64, sub_centers=3)
    value, gx, g_wt = _pml_value_and_grads(pml, "W", weight.T.copy(), x, labels)
    got, (ex, ew) = ll.SubCenterArcFace(margin=math.radians(28.6)).value_and_gradient(x, labels, weight)
    assert got == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(ex, gx, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ew, g_wt.T, rtol=1e-7, atol=1e-10)


def test_proxy_nca_equals_pml(rng):
    losses = _pml()
    x, labels, proxies = _classes(rng)
    pml = losses.ProxyNCALoss(num_classes=5, embedding_size=4, softmax_scale=3)
    value, gx, gp = _pml_value_and_grads(pml, "proxies", proxies.copy(), x, labels)
    got, (ex, ep) = ll.ProxyNCA(scale=3.0).value_and_gradient(x, labels, proxies)
    assert got == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(ex, gx, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ep, gp, rtol=1e-7, atol=1e-12)
    assert type(ll.get("ProxyNCALoss")) is ll.ProxyNCA and ll.get("ProxyNCALoss").params == {"scale": 1.0}


def test_proxy_anchor_equals_pml(rng):
    losses = _pml()
    x, labels, proxies = _classes(rng, n=10, n_classes=6)
    labels[labels == 5] = 2  # a proxy without positives: PML's divisor counts only those with
    pml = losses.ProxyAnchorLoss(num_classes=6, embedding_size=4)  # margin=0.1, alpha=32
    value, gx, gp = _pml_value_and_grads(pml, "proxies", proxies.copy(), x, labels)
    got, (ex, ep) = ll.ProxyAnchor().value_and_gradient(x, labels, proxies)
    assert got == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(ex, gx, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ep, gp, rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------- extremes and errors
NAMES = ["sphereface", "subcenter_arcface", "proxy_nca", "proxy_anchor"]


def _inputs(name, rng):
    k = 3 if name == "subcenter_arcface" else 1
    return _classes(rng, rows_per_class=k)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("factor", [1e30, 1e-30])
def test_extreme_float32_inputs_give_finite_float32_values_and_gradients(rng, name, factor):
    x, labels, matrix = _inputs(name, rng)
    x, matrix = (factor * x).astype(np.float32), (factor * matrix).astype(np.float32)
    value, grads = ll.get(name).value_and_gradient(x, labels, matrix)
    assert np.isfinite(value) and np.asarray(value).dtype == np.float32
    for g in grads:
        assert g.dtype == np.float32 and np.all(np.isfinite(g))
    # The others see directions only: the value does not change with a large scale (below a
    # norm of 1e-12 the normalisation's floor, PyTorch's F.normalize eps, makes rows vanish).
    if name != "sphereface" and factor > 1:
        assert float(value) == pytest.approx(float(ll.get(name)(x.astype(float) / factor, labels,
                                                                 matrix.astype(float) / factor)), rel=1e-4)


def test_bad_parameters_and_inputs_name_the_argument(rng):
    x, labels, weight = _classes(rng)
    with pytest.raises(ValueError, match="margin"):
        ll.SphereFace(margin=2.5)
    with pytest.raises(ValueError, match="margin"):
        ll.SphereFace(margin=0)
    with pytest.raises(ValueError, match="sub_centers"):
        ll.SubCenterArcFace(sub_centers=0)
    with pytest.raises(ValueError, match="alpha"):
        ll.ProxyAnchor(alpha=-1.0)
    with pytest.raises(ValueError, match="scale"):
        ll.ProxyNCA(scale=0.0)
    with pytest.raises(ValueError, match=r"weight must be of shape \(rows, 4\): n_classes·3 rows.*got shape \(5, 4\)"):
        ll.subcenter_arcface(x, labels, weight)
    with pytest.raises(ValueError, match=r"proxies must be of shape \(rows, 4\): one row per class.*got shape \(5, 3\)"):
        ll.proxy_nca(x, labels, weight[:, :3])
    with pytest.raises(ValueError, match=r"labels must hold class indices in \[0, 1\] \(3 rows of weight per class\)"):
        ll.subcenter_arcface(x, labels, np.repeat(weight[:2], 3, axis=0))
    with pytest.raises(ValueError, match=r"labels must hold class indices in \[0, 2\] \(one row of proxies per class\)"):
        ll.proxy_anchor(x, labels + 3, weight[:3])
    with pytest.raises(ValueError, match="proxies must not contain NaN"):
        ll.proxy_anchor(x, labels, np.where(weight > 1, np.nan, weight))
    with pytest.raises(ValueError, match="embeddings must be a non-empty batch"):
        ll.proxy_anchor(np.zeros((0, 4)), np.zeros(0, dtype=int), weight)
    with pytest.raises(ValueError, match=r"labels must have shape \(8,\)"):
        ll.sphereface(x, labels[:3], weight)
