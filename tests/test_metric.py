"""Metric-learning losses of losses/metric.py against their papers' formulas.

Expected values are each paper's formula written here with loops or plain NumPy (not the
loss's code); where PyTorch can state the same formula (cross_entropy on masked
similarities, batch_norm without affine), its autograd gives the expected gradients too.
pytorch-metric-learning is not installed: its conventions (ArcFace's margin in degrees,
NT-Xent's mean over positive pairs) are written out and compared below.
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


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: ll.arcface([[1.0, 0.0]], [2], [[1.0, 0.0], [0.0, 1.0]]), "labels"),
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
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_separable_metric_losses_have_no_per_sample_gradient(rng):
    x, weight = rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    with pytest.raises(ValueError, match="reduction='none'"):
        ll.ArcFace().gradient(x, [0, 1, 0], weight, reduction="none")
