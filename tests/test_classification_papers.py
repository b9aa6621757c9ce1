"""Classification losses from papers and from Optax: each value against the paper's formula
evaluated directly in NumPy here (independent of losslab's code), and against PyTorch where
the peer's recipe exists (distillation). Gradients are checked by the catalog-wide tests
(finite differences, autograd); here, gradients against autograd of the written formula.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll

RNG = np.random.default_rng(2013)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _logsumexp(z):
    m = z.max(axis=1)
    return m + np.log(np.exp(z - m[:, None]).sum(axis=1))


# ------------------------------------------------------------------------------ multiclass perceptron
def test_multiclass_perceptron_is_optax_formula():
    # Optax: multiclass_perceptron_loss(scores, labels) = max(scores) − scores[label].
    s = RNG.normal(0.0, 2.0, size=(9, 5))
    y = RNG.integers(0, 5, size=9)
    expected = s.max(axis=1) - s[np.arange(9), y]
    np.testing.assert_allclose(ll.multiclass_perceptron(y, s, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(ll.multiclass_perceptron(np.eye(5)[y], s, reduction="none"), expected, rtol=1e-12)
    grad = ll.get("multiclass_perceptron").gradient(y, s, reduction="sum")
    manual = np.eye(5)[s.argmax(axis=1)] - np.eye(5)[y]
    np.testing.assert_array_equal(grad, manual)


def test_multiclass_perceptron_two_classes_is_binary_perceptron():
    f = RNG.normal(0.0, 2.0, size=10)
    y = RNG.integers(0, 2, size=10)
    s = np.stack([np.zeros(10), f], axis=1)
    np.testing.assert_allclose(ll.multiclass_perceptron(y, s, reduction="none"),
                               ll.perceptron(y, f, reduction="none"), rtol=1e-12)


def test_multiclass_perceptron_rejects_soft_labels():
    with pytest.raises(ValueError, match="soft labels"):
        ll.multiclass_perceptron([[0.5, 0.5]], [[1.0, 2.0]])


# ------------------------------------------------------------------------------ Taylor cross-entropy
@pytest.mark.parametrize("order", [1, 2, 6])
def test_taylor_cross_entropy_is_the_papers_series(order):
    # Feng et al. (2020), eq. (6): ℓ = Σ_{k=1}^{t} (1 − p_y)^k / k.
    z = RNG.normal(0.0, 2.0, size=(8, 4))
    y = RNG.integers(0, 4, size=8)
    p_y = _softmax(z)[np.arange(8), y]
    expected = sum((1 - p_y) ** k / k for k in range(1, order + 1))
    got = ll.taylor_cross_entropy(y, z, order=order, from_logits=True, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(ll.taylor_cross_entropy(y, _softmax(z), order=order, reduction="none"), expected,
                               rtol=1e-12)


def test_taylor_cross_entropy_tends_to_cross_entropy_and_is_bounded():
    z = RNG.normal(0.0, 1.0, size=(6, 3))
    y = RNG.integers(0, 3, size=6)
    ce = ll.cross_entropy(y, z, from_logits=True, reduction="none")
    np.testing.assert_allclose(ll.taylor_cross_entropy(y, z, order=400, from_logits=True, reduction="none"), ce,
                               rtol=1e-6)
    # Bounded by the harmonic number H_n however wrong the prediction.
    worst = ll.taylor_cross_entropy([0], [[-50.0, 50.0]], order=3, from_logits=True)
    assert worst <= 1 + 1 / 2 + 1 / 3 and worst == pytest.approx(1 + 1 / 2 + 1 / 3)


def test_taylor_cross_entropy_bad_order():
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="order"):
            ll.get("taylor_cross_entropy", order=bad)


# ------------------------------------------------------------------------------ z-loss
def test_z_loss_is_cross_entropy_plus_palm_term():
    # PaLM §5: auxiliary z_loss = 1e-4 · log² Z, added to softmax cross-entropy.
    z = RNG.normal(0.0, 3.0, size=(7, 5)) + 4.0
    y = RNG.integers(0, 5, size=7)
    log_z = _logsumexp(z)
    expected = log_z - z[np.arange(7), y] + 1e-4 * log_z ** 2
    np.testing.assert_allclose(ll.z_loss(y, z, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(ll.z_loss(y, z, z_weight=0.0), ll.cross_entropy(y, z, from_logits=True), rtol=1e-12)


def test_z_loss_gradient_matches_autograd_of_the_formula():
    torch = pytest.importorskip("torch")
    z = RNG.normal(0.0, 3.0, size=(6, 4))
    t = _softmax(RNG.normal(size=(6, 4)))  # soft targets
    zt = torch.tensor(z, requires_grad=True)
    lz = torch.logsumexp(zt, dim=1)
    value = (lz - (torch.tensor(t) * zt).sum(1) + 0.3 * lz ** 2).mean()
    value.backward()
    L = ll.get("z_loss", z_weight=0.3)
    np.testing.assert_allclose(float(L(t, z)), float(value.detach()), rtol=1e-12)
    np.testing.assert_allclose(L.gradient(t, z), zt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_z_loss_minimiser_is_the_shifted_softmax():
    # Its best logits for the true distribution q are log q shifted to log Z = 0: risk = entropy(q).
    q = np.array([0.5, 0.3, 0.2])
    L = ll.get("z_loss", z_weight=0.1)
    risk = lambda z: sum(q[c] * float(L([c], [z])) for c in range(3))  # noqa: E731
    best = np.log(q)
    entropy = -np.sum(q * np.log(q))
    assert risk(best) == pytest.approx(entropy, rel=1e-12)
    for shift in (-1.0, 1.0):
        assert risk(best + shift) > risk(best)


# ------------------------------------------------------------------------------ distillation
@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_distillation_matches_hintons_formula_and_the_pytorch_recipe(temperature):
    torch = pytest.importorskip("torch")
    T = temperature
    teacher = RNG.normal(0.0, 3.0, size=(8, 5))
    student = RNG.normal(0.0, 3.0, size=(8, 5))
    q, p = _softmax(teacher / T), _softmax(student / T)
    expected = T * T * np.sum(q * (np.log(q) - np.log(p)), axis=1)
    L = ll.get("distillation", temperature=T)
    np.testing.assert_allclose(L(teacher, student, reduction="none"), expected, rtol=1e-10)
    # The usual PyTorch recipe: kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") · T².
    st = torch.tensor(student, requires_grad=True)
    F = torch.nn.functional
    value = F.kl_div(F.log_softmax(st / T, dim=1), F.softmax(torch.tensor(teacher) / T, dim=1),
                     reduction="batchmean") * T * T
    value.backward()
    np.testing.assert_allclose(float(L(teacher, student)), float(value.detach()), rtol=1e-10)
    np.testing.assert_allclose(L.gradient(teacher, student), st.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_distillation_is_zero_for_a_shifted_copy_of_the_teacher():
    teacher = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(ll.distillation(teacher, teacher + 2.5, temperature=3.0), 0.0, atol=1e-12)


def test_distillation_bad_input():
    with pytest.raises(ValueError, match="y_true"):
        ll.distillation(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="temperature"):
        ll.get("distillation", temperature=0.0)
    with pytest.raises(ValueError, match="y_true"):
        ll.distillation(np.full((1, 2), math.inf), np.zeros((1, 2)))


# ------------------------------------------------------------------------------ asymmetric loss (ASL)
def _asl_numpy(y, x, gp, gn, m):
    """Ridnik et al. (2021), eqs. (1)-(4): p_m = max(p − m, 0); L₊ = (1 − p)^γ₊ log p,
    L₋ = p_m^γ₋ log(1 − p_m); ℓ = −Σ_c [y L₊ + (1 − y) L₋]."""
    p = 1.0 / (1.0 + np.exp(-x))
    pm = np.maximum(p - m, 0.0)
    return -np.sum(y * (1 - p) ** gp * np.log(p) + (1 - y) * pm ** gn * np.log(1 - pm), axis=1)


@pytest.mark.parametrize("gp,gn,m", [(0.0, 4.0, 0.05), (1.0, 2.0, 0.2), (0.5, 0.5, 0.0)])
def test_asymmetric_is_the_papers_formula(gp, gn, m):
    y = (RNG.random((9, 5)) < 0.3).astype(float)
    x = RNG.normal(0.0, 3.0, size=(9, 5))
    L = ll.get("asymmetric", gamma_pos=gp, gamma_neg=gn, margin=m)
    np.testing.assert_allclose(L(y, x, reduction="none"), _asl_numpy(y, x, gp, gn, m), rtol=1e-10)


def test_asymmetric_gradient_matches_autograd_of_the_authors_recipe():
    # The authors' AsymmetricLoss forward (without its 1e-8 clamp, which these logits never
    # reach), written in PyTorch: xs_neg = (1 − σ(x) + clip).clamp(max=1); the sum over all.
    torch = pytest.importorskip("torch")
    y = (RNG.random((6, 4)) < 0.4).astype(float)
    x = RNG.normal(0.0, 2.0, size=(6, 4))
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y)
    pos = torch.sigmoid(xt)
    neg = (1 - pos + 0.05).clamp(max=1)
    loss = yt * torch.log(pos) + (1 - yt) * torch.log(neg)
    pt = pos * yt + neg * (1 - yt)
    gamma = 1.0 * yt + 4.0 * (1 - yt)
    total = -(loss * torch.pow(1 - pt, gamma)).sum()
    total.backward()
    L = ll.get("asymmetric", gamma_pos=1.0, gamma_neg=4.0, margin=0.05)
    np.testing.assert_allclose(float(L(y, x, reduction="sum")), float(total.detach()), rtol=1e-10)
    np.testing.assert_allclose(L.gradient(y, x, reduction="sum"), xt.grad.numpy(), rtol=1e-8, atol=1e-14)


def test_asymmetric_without_asymmetry_is_bce_summed_over_classes():
    y = (RNG.random((5, 3)) < 0.5).astype(float)
    x = RNG.normal(0.0, 2.0, size=(5, 3))
    L = ll.get("asymmetric", gamma_pos=0.0, gamma_neg=0.0, margin=0.0)
    np.testing.assert_allclose(float(L(y, x)), 3 * float(ll.get("BCEWithLogitsLoss")(y, x)), rtol=1e-12)


def test_asymmetric_bad_input():
    with pytest.raises(ValueError, match="margin"):
        ll.get("asymmetric", margin=1.0)
    with pytest.raises(ValueError, match="gamma_neg"):
        ll.get("asymmetric", gamma_neg=-1.0)


# ------------------------------------------------------------------------------ sparsemax
def _sparsemax_numpy(z):
    """Martins & Astudillo (2016), Algorithm 1, one row at a time: sort, find k(z), τ."""
    out, taus = [], []
    for row in z:
        srt = np.sort(row)[::-1]
        k = max(k for k in range(1, len(row) + 1) if 1 + k * srt[k - 1] > srt[:k].sum())
        tau = (srt[:k].sum() - 1) / k
        out.append(np.maximum(row - tau, 0.0))
        taus.append(tau)
    return np.array(out), np.array(taus)


def test_sparsemax_loss_is_the_papers_formula():
    # Eq. (17): L(z; y) = −z_y + ½ Σ_{j∈S(z)} (z_j² − τ²(z)) + ½, with index labels.
    z = RNG.normal(0.0, 1.5, size=(10, 5))
    y = RNG.integers(0, 5, size=10)
    p, tau = _sparsemax_numpy(z)
    support = p > 0
    expected = -z[np.arange(10), y] + 0.5 * np.sum(np.where(support, z ** 2 - tau[:, None] ** 2, 0.0), axis=1) + 0.5
    L = ll.get("multiclass_sparsemax_loss")
    np.testing.assert_allclose(L(y, z, reduction="none"), expected, rtol=1e-10, atol=1e-13)
    # Its gradient is sparsemax(z) − one_hot(y) (eq. 18).
    np.testing.assert_allclose(L.gradient(y, z, reduction="sum"), p - np.eye(5)[y], atol=1e-13)


def test_sparsemax_loss_is_zero_beyond_a_unit_margin_and_shift_invariant():
    assert float(ll.sparsemax([1], [[0.0, 1.0, 0.0]])) == 0.0
    assert float(ll.sparsemax([1], [[0.0, 0.9, 0.0]])) > 0.0
    z = RNG.normal(size=(4, 3))
    y = RNG.integers(0, 3, size=4)
    np.testing.assert_allclose(ll.sparsemax(y, z + 1e6, reduction="none"), ll.sparsemax(y, z, reduction="none"),
                               atol=1e-8)


def test_sparsemax_is_proper_through_the_sparsemax_link():
    # Expected loss under q, minimised: its gradient E_q[p − e_y] = sparsemax(z) − q vanishes at z = q.
    q = np.array([0.5, 0.3, 0.2, 0.0])
    L = ll.get("sparsemax")
    expected_grad = sum(q[c] * L.gradient([c], q[None, :], reduction="sum") for c in range(4))
    np.testing.assert_allclose(expected_grad, 0.0, atol=1e-14)
    np.testing.assert_allclose(_sparsemax_numpy(q[None, :])[0][0], q, atol=1e-14)
