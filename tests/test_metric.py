"""Metric-learning losses of losses/metric.py against their papers' formulas.

Expected values are each paper's formula written here with loops or plain NumPy (not the
loss's code); where PyTorch can state the same formula (cross_entropy on masked
similarities, batch_norm without affine), its autograd gives the expected gradients too.
The peers: PyTorch's ``triplet_margin_loss`` (every p, swap), Keras's ``circle`` (torch
backend), and pytorch-metric-learning's CircleLoss, NPairsLoss and LiftedStructureLoss
where it is installed (each such test skips without it). The older tests write out
pytorch-metric-learning's conventions (ArcFace's margin in degrees, NT-Xent's mean over
positive pairs) instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll


@pytest.fixture
def rng():
    return np.random.default_rng(31)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _views(rng, images, views, dim=5):
    labels = np.repeat(np.arange(images), views)
    return rng.normal(size=(labels.size, dim)) + 2 * rng.normal(size=(images, dim))[labels], labels


# ----------------------------------------------------------------------------- NT-Xent
def _ntxent_pairs(z, labels, tau):
    """SimCLR / Optax / pytorch-metric-learning: −log(e^{s_ip}/(e^{s_ip} + Σ_negatives e^{s_in}))
    for every positive pair (i, p), as a list of (anchor, loss)."""
    s = _unit(z) @ _unit(z).T / tau
    out = []
    for i in range(len(z)):
        negatives = [k for k in range(len(z)) if labels[k] != labels[i]]
        for p in range(len(z)):
            if p != i and labels[p] == labels[i]:
                denominator = math.exp(s[i, p]) + sum(math.exp(s[i, k]) for k in negatives)
                out.append((i, -math.log(math.exp(s[i, p]) / denominator)))
    return out


@pytest.mark.parametrize("views", [2, 3, 4])
def test_ntxent_equals_chen_eq1_per_anchor(rng, views):
    z, labels = _views(rng, 4, views)
    tau = 0.4
    pairs = _ntxent_pairs(z, labels, tau)
    per_anchor = np.array([np.mean([loss for a, loss in pairs if a == i]) for i in range(len(z))])
    got = ll.ntxent(z, labels, temperature=tau, reduction="none")
    np.testing.assert_allclose(got, per_anchor, rtol=1e-12)
    # Optax / pytorch-metric-learning average over positive pairs: equal to the mean here
    # (every label has as many views), and to the |P(i)|-weighted mean in general.
    assert ll.ntxent(z, labels, temperature=tau) == pytest.approx(np.mean([loss for _, loss in pairs]), rel=1e-12)


def test_ntxent_with_unequal_groups_matches_the_pair_mean_when_weighted_by_positives(rng):
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 3])  # label 3 has no positive: weight 0
    z = rng.normal(size=(labels.size, 3))
    pairs = _ntxent_pairs(z, labels, 0.2)
    n_pos = np.array([np.sum(labels == labels[i]) - 1 for i in range(labels.size)])
    got = ll.ntxent(z, labels, temperature=0.2, sample_weight=n_pos)
    assert got == pytest.approx(np.mean([loss for _, loss in pairs]), rel=1e-12)
    assert ll.ntxent(z, labels, temperature=0.2, reduction="none")[-1] == 0.0


def test_ntxent_equals_supcon_for_two_views_and_differs_for_more(rng):
    z2, l2 = _views(rng, 5, 2)
    assert ll.ntxent(z2, l2, temperature=0.3) == pytest.approx(ll.supcon(z2, l2, temperature=0.3), rel=1e-12)
    np.testing.assert_allclose(ll.NTXent(temperature=0.3).gradient(z2, l2),
                               ll.SupCon(temperature=0.3).gradient(z2, l2), rtol=1e-10, atol=1e-14)
    z3, l3 = _views(rng, 5, 3)
    # SupCon keeps the other positives in the denominator: a larger denominator, a larger loss.
    assert ll.supcon(z3, l3, temperature=0.3) > ll.ntxent(z3, l3, temperature=0.3) + 1e-3


def test_ntxent_two_views_equals_simclr_cross_entropy_in_torch(rng):
    torch = pytest.importorskip("torch")
    n = 6
    views = rng.normal(size=(2 * n, 4))
    labels = np.concatenate([np.arange(n), np.arange(n)])
    t = torch.tensor(views, requires_grad=True)
    zn = torch.nn.functional.normalize(t, dim=1)
    sim = (zn @ zn.T / 0.5).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    partner = torch.tensor(np.concatenate([np.arange(n, 2 * n), np.arange(n)]))
    loss = torch.nn.functional.cross_entropy(sim, partner)
    loss.backward()
    value, grad = ll.NTXent(temperature=0.5).value_and_gradient(views, labels)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------- multi-similarity
@pytest.mark.parametrize("alpha, beta, base", [(2.0, 50.0, 0.5), (1.0, 10.0, 0.2)])
def test_multi_similarity_equals_wang_eq12_without_mining(rng, alpha, beta, base):
    z, labels = _views(rng, 4, 3)
    labels = np.append(labels, 9)  # a label of its own: no positive, its loss is the negative term only
    z = np.vstack([z, rng.normal(size=(1, z.shape[1]))])
    s = _unit(z) @ _unit(z).T
    expected = []
    for i in range(len(z)):
        pos = [k for k in range(len(z)) if k != i and labels[k] == labels[i]]
        neg = [k for k in range(len(z)) if labels[k] != labels[i]]
        expected.append(math.log(1 + sum(math.exp(-alpha * (s[i, k] - base)) for k in pos)) / alpha
                        + math.log(1 + sum(math.exp(beta * (s[i, k] - base)) for k in neg)) / beta)
    L = ll.MultiSimilarity(alpha=alpha, beta=beta, base=base)
    np.testing.assert_allclose(L(z, labels, reduction="none"), expected, rtol=1e-12)


def test_multi_similarity_gradient_equals_torch_autograd_of_pml_formula(rng):
    torch = pytest.importorskip("torch")
    z, labels = _views(rng, 3, 3)
    t = torch.tensor(z, requires_grad=True)
    zn = torch.nn.functional.normalize(t, dim=1)
    mat = zn @ zn.T
    same = torch.tensor(labels[:, None] == labels[None, :])
    pos, neg = same & ~torch.eye(len(z), dtype=torch.bool), ~same

    def log1p_sum(x, keep):  # PML's logsumexp(..., keep_mask, add_one=True)
        x = torch.where(keep, x, torch.full_like(x, -math.inf))
        return torch.logsumexp(torch.cat([torch.zeros(len(z), 1, dtype=x.dtype), x], dim=1), dim=1)

    loss = (log1p_sum(-2.0 * (mat - 0.5), pos) / 2.0 + log1p_sum(50.0 * (mat - 0.5), neg) / 50.0).mean()
    loss.backward()
    value, grad = ll.MultiSimilarity().value_and_gradient(z, labels)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- SigLIP
def test_siglip_equals_zhai_algorithm_1(rng):
    img, txt = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    t, b = 10.0, -10.0
    # Algorithm 1: logits = t·x̂ŷᵀ + b; labels = 2I − 1; loss = −Σ log σ(labels·logits) / n.
    logits = t * _unit(img) @ _unit(txt).T + b
    labels = 2 * np.eye(7) - 1
    expected = -np.sum(np.log(1 / (1 + np.exp(-labels * logits)))) / 7
    assert ll.siglip(img, txt, temperature=1 / t, bias=b) == pytest.approx(expected, rel=1e-12)


def test_siglip_gradient_equals_torch_autograd_of_the_formula(rng):
    torch = pytest.importorskip("torch")
    img, txt = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    w = rng.uniform(0.5, 2.0, 5)
    ti, tt = torch.tensor(img, requires_grad=True), torch.tensor(txt, requires_grad=True)
    F = torch.nn.functional
    logits = F.normalize(ti, dim=1) @ F.normalize(tt, dim=1).T / 0.3 + 0.5
    labels = 2 * torch.eye(5, dtype=torch.float64) - 1
    per_image = -F.logsigmoid(labels * logits).sum(dim=1)
    loss = (torch.tensor(w) * per_image).sum() / w.sum()
    loss.backward()
    value, (gi, gt) = ll.SigLIP(temperature=0.3, bias=0.5).value_and_gradient(img, txt, sample_weight=w)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(gi, ti.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(gt, tt.grad.numpy(), rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------- ArcFace, CosFace
def _angular_reference(x, labels, weight, scale, target):
    """−log softmax of s·cos θ with the true class's cosine replaced by target(θ): a loop."""
    cos = _unit(x) @ _unit(weight).T
    out = []
    for i, y in enumerate(labels):
        logits = scale * cos[i].copy()
        logits[y] = scale * target(np.arccos(cos[i, y]))
        out.append(np.log(np.sum(np.exp(logits))) - logits[y])
    return np.array(out)


def test_arcface_equals_deng_eq3_and_pml_degrees(rng):
    x, weight = rng.normal(size=(8, 4)), rng.normal(size=(6, 4))
    labels = rng.integers(0, 6, 8)
    # Deng et al. eq. 3: s·cos(θ_y + m); pytorch-metric-learning's margin is in degrees.
    margin_degrees = 28.6
    m = math.radians(margin_degrees)
    expected = _angular_reference(x, labels, weight, 64.0, lambda theta: np.cos(theta + m))
    got = ll.ArcFace(margin=m).per_sample(x, labels, weight)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_cosface_equals_wang_eq4(rng):
    x, weight = rng.normal(size=(8, 4)), rng.normal(size=(6, 4))
    labels = rng.integers(0, 6, 8)
    expected = _angular_reference(x, labels, weight, 30.0, lambda theta: np.cos(theta) - 0.35)
    np.testing.assert_allclose(ll.CosFace(scale=30.0).per_sample(x, labels, weight), expected, rtol=1e-10)


@pytest.mark.parametrize("loss", ["arcface", "cosface"])
def test_angular_margin_gradients_equal_torch_autograd_of_the_formula(rng, loss):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, weight = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, 6)
    s, m = 8.0, 0.4
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    cos = F.normalize(tx, dim=1) @ F.normalize(tw, dim=1).T
    onehot = F.one_hot(torch.tensor(labels), 4).to(torch.float64)
    target = torch.cos(torch.acos(cos) + m) if loss == "arcface" else cos - m
    logits = s * (onehot * target + (1 - onehot) * cos)
    ref = F.cross_entropy(logits, torch.tensor(labels))
    ref.backward()
    value, (gx, gw) = ll.get(loss, scale=s, margin=m).value_and_gradient(x, labels, weight)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arcface_gradient_is_exact_as_the_embedding_reaches_its_class_row(dtype):
    """Near θ = 0, ∂φ/∂cos θ ∝ 1/sin θ multiplies a tangent of length sin θ; computed as
    such, √(1 − cos²θ) has no digits left below θ ≈ √eps and the gradient exploded (1e137
    at θ = 0 in float64; float32 off by a quarter at θ = 1e-4). The oracle is PyTorch's
    autograd of ArcFace written with the angle from atan2, exact at small angles, in float64."""
    torch = pytest.importorskip("torch")
    s, m = 4.0, 0.5
    loss = ll.get("arcface", scale=s, margin=m)
    weight = np.array([[1.0, 0.0], [0.0, 1.0]])
    # Angles above the 8·eps below which the tangent is taken as rounding noise (9.5e-7 rad
    # in float32, 1.8e-15 in float64).
    for theta in (1e-2, 1e-4, 1e-7, 1e-10) if dtype == np.float64 else (1e-2, 1e-4, 1e-5):
        x = np.array([[2.0 * math.cos(theta), 2.0 * math.sin(theta)]])
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
        xn, wn = tx / tx.norm(dim=1, keepdim=True), tw / tw.norm(dim=1, keepdim=True)
        angle = torch.atan2(xn[0, 0] * wn[0, 1] - xn[0, 1] * wn[0, 0], xn[0] @ wn[0])  # θ to class 0's row
        logits = s * torch.stack([torch.cos(angle.abs() + m), xn[0] @ wn[1]])
        torch.nn.functional.cross_entropy(logits[None], torch.tensor([0])).backward()
        gx, gw = loss.gradient(x.astype(dtype), [0], weight.astype(dtype))
        assert gx.dtype == dtype
        tol = 1e-9 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(gx, tx.grad.numpy(), atol=tol, err_msg=f"theta={theta}")
        np.testing.assert_allclose(gw, tw.grad.numpy(), atol=tol, err_msg=f"theta={theta}")
    # θ = 0 up to rounding (a class row imprinted from the embedding, in general position in
    # 8-D): the margin term's subgradient is 0, so the gradient is that of the logit
    # s·cos m·cos θ for the true class (autograd of that formula is the oracle); PyTorch's
    # autograd through losslab's own value is finite there too (√ at 0 used to give NaN).
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(4, 8))
    for row in range(4):
        x = weight[row:row + 1] * 2.5
        gx, gw = loss.gradient(x, [row], weight)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
        cos = torch.nn.functional.normalize(tx, dim=1) @ torch.nn.functional.normalize(tw, dim=1).T
        onehot = torch.nn.functional.one_hot(torch.tensor([row]), 4).to(torch.float64)
        logits = s * (cos + onehot * cos * (math.cos(m) - 1.0))
        torch.nn.functional.cross_entropy(logits, torch.tensor([row])).backward()
        np.testing.assert_allclose(gx, tx.grad.numpy(), atol=1e-12, err_msg=f"row {row}")
        np.testing.assert_allclose(gw, tw.grad.numpy(), atol=1e-12, err_msg=f"row {row}")
        ax, aw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
        loss(ax, torch.tensor([row]), aw).backward()
        assert torch.isfinite(ax.grad).all() and torch.isfinite(aw.grad).all()


def test_cosface_with_zero_margin_is_normalised_softmax_cross_entropy(rng):
    x, weight = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    labels = rng.integers(0, 4, 5)
    logits = 7.0 * _unit(x) @ _unit(weight).T
    expected = ll.cross_entropy(labels, logits, from_logits=True)
    assert ll.CosFace(scale=7.0, margin=0.0)(x, labels, weight) == pytest.approx(expected, rel=1e-12)
    assert ll.ArcFace(scale=7.0, margin=0.0)(x, labels, weight) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- Barlow Twins
def test_barlow_twins_equals_zbontar_eq1(rng):
    za, zb = rng.normal(size=(16, 5)), rng.normal(size=(16, 5))
    lam = 0.02
    # BatchNorm1d(affine=False) in training mode: biased variance, eps 1e-5.
    bn = lambda z: (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)  # noqa: E731
    c = bn(za).T @ bn(zb) / 16
    expected = sum((1 - c[k, k]) ** 2 for k in range(5)) + lam * sum(
        c[k, l] ** 2 for k in range(5) for l in range(5) if k != l)
    assert ll.barlow_twins(za, zb, lambda_offdiag=lam) == pytest.approx(expected, rel=1e-12)
    assert ll.barlow_twins(za, zb, lambda_offdiag=lam, reduction="none").shape == (1,)


def test_barlow_twins_gradient_equals_torch_autograd_through_batch_norm(rng):
    torch = pytest.importorskip("torch")
    za, zb = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    ta, tb = torch.tensor(za, requires_grad=True), torch.tensor(zb, requires_grad=True)
    bn = lambda z: torch.nn.functional.batch_norm(z, None, None, training=True, eps=1e-5)  # noqa: E731
    c = bn(ta).T @ bn(tb) / 10
    eye = torch.eye(4, dtype=torch.float64)
    loss = ((1 - torch.diagonal(c)) ** 2).sum() + 0.005 * ((c * (1 - eye)) ** 2).sum()
    loss.backward()
    value, (ga, gb) = ll.BarlowTwins().value_and_gradient(za, zb)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- VICReg
def _vicreg_paper(za, zb, lam, mu, nu, gamma=1.0, eps=1e-4):
    """Bardes et al. eqs. 1-6, with loops over dimensions."""
    n, d = za.shape
    s = sum(np.sum((za[i] - zb[i]) ** 2) for i in range(n)) / n

    def v(z):
        return sum(max(0.0, gamma - math.sqrt(np.var(z[:, j], ddof=1) + eps)) for j in range(d)) / d

    def c(z):
        cov = np.cov(z, rowvar=False)  # 1/(n − 1) Σ (z − z̄)(z − z̄)ᵀ
        return sum(cov[k, l] ** 2 for k in range(d) for l in range(d) if k != l) / d

    return lam * s + mu * (v(za) + v(zb)) + nu * (c(za) + c(zb))


def test_vicreg_equals_bardes_eqs_1_to_6(rng):
    za = rng.normal(size=(12, 5)) * np.array([0.3, 0.5, 2.0, 1.5, 0.8])
    zb = za + 0.4 * rng.normal(size=(12, 5))
    for lam, mu, nu in [(25.0, 25.0, 1.0), (1.0, 3.0, 0.2)]:
        expected = _vicreg_paper(za, zb, lam, mu, nu)
        got = ll.vicreg(za, zb, invariance_weight=lam, variance_weight=mu, covariance_weight=nu)
        assert got == pytest.approx(expected, rel=1e-12)


def test_vicreg_equals_the_authors_code_with_its_normalisations_in_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    n, d = 10, 4
    za = rng.normal(size=(n, d)) * np.array([0.3, 0.6, 2.0, 1.4])
    zb = za + 0.5 * rng.normal(size=(n, d))
    ta, tb = torch.tensor(za, requires_grad=True), torch.tensor(zb, requires_grad=True)
    # facebookresearch/vicreg main_vicreg.py: mse_loss, std averaged over the two views /2,
    # covariance off-diagonal squares summed / d (written out here from its description).
    repr_loss = F.mse_loss(ta, tb)
    xa, xb = ta - ta.mean(dim=0), tb - tb.mean(dim=0)
    std_a, std_b = torch.sqrt(xa.var(dim=0) + 1e-4), torch.sqrt(xb.var(dim=0) + 1e-4)
    std_loss = torch.mean(F.relu(1 - std_a)) / 2 + torch.mean(F.relu(1 - std_b)) / 2
    off = 1 - torch.eye(d, dtype=torch.float64)
    cov_a, cov_b = xa.T @ xa / (n - 1), xb.T @ xb / (n - 1)
    cov_loss = ((cov_a * off) ** 2).sum() / d + ((cov_b * off) ** 2).sum() / d
    loss = 25.0 * repr_loss + 25.0 * std_loss + 1.0 * cov_loss
    loss.backward()
    L = ll.VICReg(invariance_weight=25.0 / d, variance_weight=25.0 / 2, covariance_weight=1.0)
    value, (ga, gb) = L.value_and_gradient(za, zb)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- circle
def _circle_paper(z, labels, gamma, m):
    """Sun et al. eq. 6 per anchor, with loops: log(1 + Σ_n Σ_p e^{γ(α_n(s_n − Δ_n) − α_p(s_p − Δ_p))})."""
    s = _unit(z) @ _unit(z).T
    out = []
    for i in range(len(z)):
        pos = [k for k in range(len(z)) if k != i and labels[k] == labels[i]]
        neg = [k for k in range(len(z)) if labels[k] != labels[i]]
        total = 0.0
        for n in neg:
            for p in pos:
                alpha_n, alpha_p = max(s[i, n] + m, 0.0), max(1 + m - s[i, p], 0.0)
                total += math.exp(gamma * (alpha_n * (s[i, n] - m) - alpha_p * (s[i, p] - (1 - m))))
        out.append(math.log1p(total))
    return np.array(out)


@pytest.mark.parametrize("gamma, m", [(80.0, 0.4), (8.0, 0.25), (2.0, 0.0)])
def test_circle_equals_sun_eq6(rng, gamma, m):
    z, labels = _views(rng, 3, 3)
    labels = np.append(labels, 7)  # an anchor without a positive: ℓ = 0 (an empty sum)
    z = np.vstack([z, rng.normal(size=(1, z.shape[1]))])
    expected = _circle_paper(z, labels, gamma, m)
    assert expected[-1] == 0.0
    np.testing.assert_allclose(ll.Circle(gamma=gamma, margin=m)(z, labels, reduction="none"), expected,
                               rtol=1e-12, atol=1e-300)


def test_circle_equals_keras_circle_value_and_autograd(rng):
    """Keras's circle (defaults gamma=80, margin=0.4, as here) on L2-normalised y_pred: the
    same per-sample values, the same mean (Keras masks the zero loss of the anchor without a
    positive, losslab gives it weight 0), and, since Keras does not
    stop the gradient through α, the same gradient (torch autograd through F.normalize).
    Keras's torch backend rounds its matmul to float32 (even of float64 tensors): the
    tolerances are float32's."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on another backend here")
    torch = pytest.importorskip("torch")
    z, labels = _views(rng, 4, 3)
    labels = np.append(labels, 9)
    z = np.vstack([z, rng.normal(size=(1, z.shape[1]))])
    t = torch.tensor(z, requires_grad=True)
    y_pred = torch.nn.functional.normalize(t, dim=1)
    per_sample = keras.losses.circle(torch.tensor(labels), y_pred)
    np.testing.assert_allclose(ll.circle(z, labels, reduction="none"), per_sample.detach().numpy(), rtol=1e-5)
    mean = keras.losses.Circle()(torch.tensor(labels), y_pred)
    mean.backward()
    value, grad = ll.get("Circle").value_and_gradient(z, labels)
    assert value == pytest.approx(mean.item(), rel=1e-5)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-3, atol=1e-5 * np.max(np.abs(grad)))


def test_circle_value_equals_pml_and_its_detached_gradient_differs_as_documented(rng):
    """pytorch-metric-learning's CircleLoss: the same values (its mean over the non-zero
    losses leaves out the anchor without a positive, as its weight 0 does here); its gradient is that of the
    formula with α_p, α_n frozen (written here in torch), which is not losslab's."""
    torch = pytest.importorskip("torch")
    pml = pytest.importorskip("pytorch_metric_learning.losses")
    z, labels = _views(rng, 3, 3)
    labels = np.append(labels, 9)
    z = np.vstack([z, rng.normal(size=(1, z.shape[1]))])
    gamma, m = 16.0, 0.3
    t = torch.tensor(z, requires_grad=True)
    loss = pml.CircleLoss(m=m, gamma=gamma)(t, torch.tensor(labels))
    loss.backward()
    value, grad = ll.Circle(gamma=gamma, margin=m).value_and_gradient(z, labels)
    assert value == pytest.approx(loss.item(), rel=1e-9)

    def formula(detach):
        x = torch.tensor(z, requires_grad=True)
        s = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(x, dim=1).T
        w = s.detach() if detach else s
        same = torch.tensor(labels[:, None] == labels[None, :])
        pos, neg = same & ~torch.eye(len(z), dtype=torch.bool), ~same
        a = torch.where(pos, -gamma * torch.relu(1 + m - w) * (s - (1 - m)), torch.tensor(-math.inf, dtype=s.dtype))
        b = torch.where(neg, gamma * torch.relu(w + m) * (s - m), torch.tensor(-math.inf, dtype=s.dtype))
        # The last anchor has no positive: left out of the mean (PML's non-zero mean).
        torch.nn.functional.softplus(torch.logsumexp(a, 1) + torch.logsumexp(b, 1))[:-1].mean().backward()
        return x.grad.numpy()

    np.testing.assert_allclose(t.grad.numpy(), formula(detach=True), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(grad, formula(detach=False), rtol=1e-7, atol=1e-10)
    assert np.max(np.abs(grad - t.grad.numpy())) > 1e-3 * np.max(np.abs(grad))


def test_circle_is_scale_invariant_and_finite_in_float32(rng):
    z, labels = _views(rng, 3, 2)
    small = ll.Circle(gamma=256.0, margin=0.25)
    base_value, base_grad = small.value_and_gradient(z, labels)
    value, grad = small.value_and_gradient((z * 1e30).astype(np.float32), labels)
    assert value.dtype == np.float32 and np.isfinite(value) and np.all(np.isfinite(grad))
    assert float(value) == pytest.approx(base_value, rel=1e-4)
    np.testing.assert_allclose(grad * 1e30, base_grad, rtol=2e-3, atol=1e-3 * np.max(np.abs(base_grad)))


# ----------------------------------------------------------------------------- N-pair
def test_npair_equals_sohn_n_pair_mc(rng):
    f, f_plus = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    expected = [math.log(1 + sum(math.exp(f[i] @ f_plus[j] - f[i] @ f_plus[i]) for j in range(6) if j != i))
                for i in range(6)]
    np.testing.assert_allclose(ll.npair(f, f_plus, reduction="none"), expected, rtol=1e-12)


def test_npair_equals_pml_npairs_loss_value_and_gradient(rng):
    """NPairsLoss takes (embeddings, labels) and pairs the first two rows of each label; its
    default similarity normalises the rows (the same as npair on unit rows), an un-normalised
    DotProductSimilarity gives the paper's loss."""
    torch = pytest.importorskip("torch")
    pml = pytest.importorskip("pytorch_metric_learning")
    pytest.importorskip("pytorch_metric_learning.distances")
    pytest.importorskip("pytorch_metric_learning.losses")
    x = rng.normal(size=(10, 3))
    labels = np.repeat(np.arange(5), 2)
    default = pml.losses.NPairsLoss()(torch.tensor(x), torch.tensor(labels))
    assert ll.npair(_unit(x)[0::2], _unit(x)[1::2]) == pytest.approx(default.item(), rel=1e-12)
    t = torch.tensor(x, requires_grad=True)
    dot = pml.distances.DotProductSimilarity(normalize_embeddings=False)
    loss = pml.losses.NPairsLoss(distance=dot)(t, torch.tensor(labels))
    loss.backward()
    value, (ga, gp) = ll.NPair().value_and_gradient(x[0::2], x[1::2])
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(ga, t.grad.numpy()[0::2], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(gp, t.grad.numpy()[1::2], rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------- lifted structure
def _lifted_paper(x, labels, alpha):
    """Oh Song et al. eq. 4 over the unordered positive pairs P̂, with loops."""
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    total, pairs = 0.0, 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if labels[i] != labels[j]:
                continue
            negatives = sum(math.exp(alpha - d[i, k]) for k in range(len(x)) if labels[k] != labels[i])
            negatives += sum(math.exp(alpha - d[j, k]) for k in range(len(x)) if labels[k] != labels[j])
            total += max(math.log(negatives) + d[i, j], 0.0) ** 2
            pairs += 1
    return total / (2 * pairs)


@pytest.mark.parametrize("views, alpha", [(2, 1.0), (3, 0.5)])
def test_lifted_structure_equals_oh_song_eq4(rng, views, alpha):
    x, labels = _views(rng, 4, views, dim=3)
    x = 0.4 * x  # distances near the margin: some pairs' J positive, some not
    assert ll.lifted_structure(x, labels, margin=alpha) == pytest.approx(_lifted_paper(x, labels, alpha), rel=1e-12)


def test_lifted_structure_with_unequal_groups_is_the_paper_when_weighted_by_positives(rng):
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 3])  # label 3: no positive, weight 0
    x = rng.normal(size=(labels.size, 3))
    n_pos = np.array([np.sum(labels == lab) - 1 for lab in labels])
    got = ll.lifted_structure(x, labels, sample_weight=n_pos)
    assert got == pytest.approx(_lifted_paper(x, labels, 1.0), rel=1e-12)
    assert ll.lifted_structure(np.ones((3, 2)) * [[0], [1], [2]], [5, 5, 5]) == 0.0  # one label: no negatives


def test_lifted_structure_keeps_the_margin_at_any_scale():
    """Three corners of a simplex: every distance is √2·s, so J = α + log 2 for any scale s;
    formed as log Σ e^{α − D} + D, α would round away once D ≫ α/ε (1e300, or 1e30 in float32)."""
    expected = 0.5 * (1.0 + math.log(2.0)) ** 2
    for scale, dtype, rel in [(1.0, np.float64, 1e-12), (1e300, np.float64, 1e-12), (1e30, np.float32, 1e-6)]:
        value, grad = ll.LiftedStructure().value_and_gradient((np.eye(3) * scale).astype(dtype), [0, 0, 1])
        assert value.dtype == dtype and value == pytest.approx(expected, rel=rel)
        assert np.all(np.isfinite(grad))


def test_npair_is_never_negative_at_large_dot_products(rng):
    f = 1e3 * rng.normal(size=(6, 3))
    assert np.all(ll.npair(f, f + 100 * rng.normal(size=(6, 3)), reduction="none") >= 0.0)


def test_lifted_structure_equals_pml_value_and_gradient(rng):
    """LiftedStructureLoss on an un-normalised LpDistance: its mean over ordered positive pairs
    is losslab's mean weighted by |P(i)|."""
    torch = pytest.importorskip("torch")
    pml = pytest.importorskip("pytorch_metric_learning")
    pytest.importorskip("pytorch_metric_learning.distances")
    pytest.importorskip("pytorch_metric_learning.losses")
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    x = 0.5 * rng.normal(size=(labels.size, 3))
    t = torch.tensor(x, requires_grad=True)
    distance = pml.distances.LpDistance(normalize_embeddings=False)
    loss = pml.losses.LiftedStructureLoss(neg_margin=0.8, distance=distance)(t, torch.tensor(labels))
    loss.backward()
    n_pos = np.array([np.sum(labels == lab) - 1 for lab in labels])
    value, grad = ll.LiftedStructure(margin=0.8).value_and_gradient(x, labels, sample_weight=n_pos)
    assert value == pytest.approx(loss.item(), rel=1e-9)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-7, atol=1e-11)


# ----------------------------------------------------------------------------- margin (Wu et al.)
def _margin_paper(x, labels, beta, alpha):
    """Wu et al.'s margin based loss over every ordered pair, on unit rows: mean of [α + y(D − β)]₊."""
    u = _unit(x)
    terms = []
    for i in range(len(x)):
        for j in range(len(x)):
            if i != j:
                y = 1.0 if labels[i] == labels[j] else -1.0
                terms.append(max(alpha + y * (np.linalg.norm(u[i] - u[j]) - beta[i]), 0.0))
    return np.mean(terms)


def test_margin_based_equals_wu_margin_loss_with_one_and_per_class_beta(rng):
    x, labels = _views(rng, 3, 3, dim=4)
    assert ll.margin_based(x, labels, [1.1]) == pytest.approx(
        _margin_paper(x, labels, np.full(len(x), 1.1), 0.2), rel=1e-12)
    per_class = np.array([0.9, 1.2, 1.3])
    got = ll.margin_based(x, labels, per_class, margin=0.3)
    assert got == pytest.approx(_margin_paper(x, labels, per_class[labels], 0.3), rel=1e-12)


def test_margin_based_gradients_equal_torch_autograd_of_the_formula(rng):
    torch = pytest.importorskip("torch")
    x, labels = _views(rng, 3, 3, dim=4)
    beta = np.array([0.9, 1.2, 1.3])
    w = rng.uniform(0.5, 2.0, len(x))
    tx, tb = torch.tensor(x, requires_grad=True), torch.tensor(beta, requires_grad=True)
    u = torch.nn.functional.normalize(tx, dim=1)
    d = torch.linalg.norm(u[:, None] - u[None] + torch.eye(len(x), dtype=torch.float64)[..., None], dim=2)
    y = torch.tensor(np.where(labels[:, None] == labels[None, :], 1.0, -1.0))
    off = 1 - torch.eye(len(x), dtype=torch.float64)
    per_anchor = (off * torch.relu(0.2 + y * (d - tb[torch.tensor(labels)][:, None]))).sum(1) / (len(x) - 1)
    ref = (torch.tensor(w) * per_anchor).sum() / w.sum()
    ref.backward()
    value, (gx, gb) = ll.MarginBased().value_and_gradient(x, labels, beta, sample_weight=w)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_margin_based_one_beta_gradient_and_float32_extremes(rng):
    x, labels = _views(rng, 3, 2, dim=3)
    value, (gx, gb) = ll.MarginBased().value_and_gradient(x, labels, [1.2])
    assert gb.shape == (1,)
    # β's gradient: −Σ_pairs y·[active]/(N − 1), averaged over anchors (a direct count).
    u = _unit(x)
    d = np.linalg.norm(u[:, None] - u[None], axis=2)
    y = np.where(labels[:, None] == labels[None, :], 1.0, -1.0)
    active = (0.2 + y * (d - 1.2) > 0) & ~np.eye(len(x), dtype=bool)
    assert gb[0] == pytest.approx(-np.sum(y * active) / (len(x) - 1) / len(x), rel=1e-12)
    big = (x * 1e30).astype(np.float32)
    value32, (gx32, gb32) = ll.MarginBased().value_and_gradient(big, labels, np.float32([1.2]))
    assert value32.dtype == np.float32 and float(value32) == pytest.approx(value, rel=1e-5)
    assert np.all(np.isfinite(gx32)) and gb32[0] == pytest.approx(gb[0], rel=1e-5)


def test_distance_losses_give_coincident_rows_an_exact_subgradient():
    """Duplicated (or collapsed) rows of a batch have D = 0, where ‖x_i − x_k‖ has a kink;
    the gradient there was rounding noise (h ≈ 1e15 times a cancelling sum). Properties that
    need no oracle: both losses depend on differences of rows only, so lifted_structure's
    row gradients sum to 0 (they summed to 0.125 on four equal rows), two identical rows
    with the same label get the same gradient; and for both, the gradient at the kink is
    the midpoint of the gradients on either side of it (‖u‖'s subgradient at u = 0 is the
    mean of its slopes at ±δv, 0, and the other pairs are smooth there)."""
    x = np.array([[0.3, 0.7], [0.3, 0.7], [1.0, -0.2]])
    g = ll.get("lifted_structure").gradient(x, [0, 0, 1])
    np.testing.assert_allclose(g.sum(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(g[0], g[1], atol=1e-15)  # the same row with the same label
    assert np.all(ll.get("lifted_structure").gradient(np.full((4, 2), 3.0), [0, 0, 1, 1]) == 0.0)
    for name, labels, extra in (("lifted_structure", [0, 0, 1], ()), ("margin_based", [0, 1, 1], ([1.2],))):
        loss = ll.get(name)
        at = loss.gradient(x, labels, *extra)
        at = at[0] if isinstance(at, tuple) else at
        step = np.zeros_like(x)
        step[1] = [3e-8, -4e-8]
        sides = [loss.gradient(x + sign * step, labels, *extra) for sign in (1.0, -1.0)]
        sides = [side[0] if isinstance(side, tuple) else side for side in sides]
        np.testing.assert_allclose(at, (sides[0] + sides[1]) / 2, atol=1e-6, err_msg=name)
    near = x.copy()
    near[1] += 1e-6
    g_near = ll.get("lifted_structure").gradient(near, [0, 0, 1])
    np.testing.assert_allclose(g_near.sum(axis=0), 0.0, atol=1e-12)


def test_margin_based_learns_beta_between_the_two_distance_groups(rng):
    """Gradient steps on β alone move it into the band where same-label distances are below
    β − α and other-label ones above β + α, when the embedding allows it."""
    x = np.array([[1.0, 0.05], [1.0, -0.05], [-1.0, 0.05], [-1.0, -0.05]])
    labels = np.array([0, 0, 1, 1])
    beta = np.array([0.2])
    for _ in range(200):
        beta = beta - 0.5 * ll.MarginBased(margin=0.2).gradient(x, labels, beta)[1]
    assert ll.margin_based(x, labels, beta) == 0.0
    assert 0.1 + 0.2 <= beta[0] <= 2.0 - 0.2


# ----------------------------------------------------------------------------- triplet with p and swap
@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0, math.inf, 0.5])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_equals_torch_for_every_p_and_swap(rng, p, swap):
    torch = pytest.importorskip("torch")
    a, pos, neg = (rng.normal(size=(12, 4)) for _ in range(3))
    pos = a + 0.8 * (pos - a)
    ts = [torch.tensor(v, requires_grad=True) for v in (a, pos, neg)]
    ref = torch.nn.functional.triplet_margin_loss(*ts, margin=0.7, p=p, swap=swap)
    ref.backward()
    value, grads = ll.Triplet(margin=0.7, p=p, swap=swap).value_and_gradient(a, pos, neg)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-13)
    assert ll.get("TripletMarginLoss", margin=0.7, p=p, swap=swap)(a, pos, neg) == pytest.approx(ref.item(), rel=1e-12)


def test_triplet_swap_uses_the_positive_when_it_is_closer_to_the_negative():
    """Balntas et al.: d(a, n) = 4 and d(p, n) = 1 (L1): the swap's negative distance is 1."""
    a, p, n = [[0.0, 0.0]], [[1.0, 1.0]], [[1.5, 1.5]]
    # p = 1: d(a, p) = 2 − 2e-6 (ε inside), d(p, n) = 1 − 2e-6: ℓ = 2 − 1 + 1 = 2.
    assert ll.triplet(a, p, n, p=1.0, swap=True) == pytest.approx(2.0, abs=1e-9)
    assert ll.triplet(a, p, n, p=1.0) == 0.0


def test_triplet_cosine_swap_equals_torch_with_distance_function(rng):
    torch = pytest.importorskip("torch")
    a, pos, neg = (rng.normal(size=(10, 3)) for _ in range(3))
    ts = [torch.tensor(v, requires_grad=True) for v in (a, pos, neg)]
    ref = torch.nn.TripletMarginWithDistanceLoss(
        distance_function=lambda x, y: 1.0 - torch.nn.functional.cosine_similarity(x, y), margin=0.3, swap=True)(*ts)
    ref.backward()
    value, grads = ll.Triplet(margin=0.3, distance="cosine", swap=True).value_and_gradient(a, pos, neg)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_triplet_p_norm_is_finite_for_huge_and_tiny_float32_rows():
    a = np.array([[3e30, -4e30], [3e-30, 4e-30]], dtype=np.float32)
    zero = np.zeros_like(a)
    value, grads = ll.Triplet(p=3.0, margin=0.0).value_and_gradient(a, zero, 2 * a, reduction="none")
    assert value.dtype == np.float32 and np.all(np.isfinite(value)) and all(np.all(np.isfinite(g)) for g in grads)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: ll.arcface([[1.0, 0.0]], [2], [[1.0, 0.0], [0.0, 1.0]]), "labels"),
    (lambda: ll.arcface([[1.0, 0.0]], [0], np.zeros((0, 2))), "the class matrix has no rows"),
    (lambda: ll.arcface([[1.0, 0.0]], [0.5], [[1.0, 0.0], [0.0, 1.0]]), "labels"),
    (lambda: ll.cosface([[1.0, 0.0]], [0], [[1.0, 0.0, 0.0]]), "weight"),
    (lambda: ll.cosface([[1.0, 0.0]], [0, 1], [[1.0, 0.0]]), "labels"),
    (lambda: ll.get("arcface", margin=2.0), "margin"),
    (lambda: ll.ntxent([[1.0, 0.0]], [0.5]), "labels"),
    (lambda: ll.siglip([[1.0, 0.0]], [[1.0, 0.0, 0.0]]), "text_embeddings"),
    (lambda: ll.barlow_twins([[1.0, 0.0]], [[1.0, 0.0]]), "z_a"),
    (lambda: ll.barlow_twins([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0]]), "z_b"),
    (lambda: ll.get("barlow_twins", lambda_offdiag=-1.0), "lambda_offdiag"),
    (lambda: ll.vicreg([[1.0, 0.0]], [[1.0, 0.0]]), "z_a"),
    (lambda: ll.get("vicreg", gamma=0.0), "gamma"),
    (lambda: ll.get("circle", gamma=0.0), "gamma"),
    (lambda: ll.get("circle", margin=-0.1), "margin"),
    (lambda: ll.circle([[1.0, 0.0]], [0, 1]), "labels"),
    (lambda: ll.npair([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]), "positives"),
    (lambda: ll.lifted_structure([1.0, 0.0], [0, 1]), "embeddings"),
    (lambda: ll.margin_based([[1.0, 0.0], [0.0, 1.0]], [0, 1], [[1.2]]), "beta"),
    (lambda: ll.margin_based([[1.0, 0.0], [0.0, 1.0]], [0, 2], [1.0, 1.2]), "labels"),
    (lambda: ll.margin_based([[1.0, 0.0], [0.0, 1.0]], [0, 1], [math.nan]), "beta"),
    (lambda: ll.get("margin_based", margin=-1.0), "margin"),
    (lambda: ll.get("triplet", p=0.0), "p"),
    (lambda: ll.get("triplet", p=3.0, squared=True), "p=3.0"),
    (lambda: ll.get("triplet", p=1.0, distance="cosine"), "p=1.0"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_separable_metric_losses_have_no_per_sample_gradient(rng):
    x, weight = rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    with pytest.raises(ValueError, match="reduction='none'"):
        ll.ArcFace().gradient(x, [0, 1, 0], weight, reduction="none")
