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


# ------------------------------------------------------------------------------ NCE, NCE+RCE (Ma et al. 2020)
def _log_softmax(z):
    return z - _logsumexp(z)[:, None]


def test_normalized_cross_entropy_is_the_papers_ratio_and_symmetric():
    # Ma et al. (2020), eq. (3): NCE = −Σ_k q(k|x) log p(k|x) / (−Σ_j Σ_k q(y=j|x) log p(k|x)),
    # i.e. log p_y / Σ_k log p_k for a one-hot q.
    z = RNG.normal(0.0, 2.0, size=(9, 5))
    y = RNG.integers(0, 5, size=9)
    lp = _log_softmax(z)
    expected = lp[np.arange(9), y] / lp.sum(axis=1)
    np.testing.assert_allclose(ll.normalized_cross_entropy(y, z, from_logits=True, reduction="none"), expected,
                               rtol=1e-12)
    np.testing.assert_allclose(ll.normalized_cross_entropy(y, np.exp(lp), reduction="none"), expected, rtol=1e-10)
    # Symmetric (the paper's Lemma 1 condition): Σ_j NCE(j, p) = 1 for every p.
    total = sum(ll.normalized_cross_entropy(np.full(9, j), z, from_logits=True, reduction="none") for j in range(5))
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)


def test_nce_rce_is_the_authors_recipe():
    # The authors' NCEandRCE(alpha, beta) on logits, written here in NumPy: NCE as above, and
    # RCE = −Σ_k clamp(p, 1e-7, 1)·log clamp(onehot, 1e-4, 1) (their loss.py), so A = log 1e-4.
    z = RNG.normal(0.0, 2.0, size=(8, 4))
    y = RNG.integers(0, 4, size=8)
    lp = _log_softmax(z)
    p, onehot = np.clip(np.exp(lp), 1e-7, 1.0), np.eye(4)[y]
    nce = lp[np.arange(8), y] / lp.sum(axis=1)
    rce = -np.sum(p * np.log(np.clip(onehot, 1e-4, 1.0)), axis=1)
    for alpha, beta in [(1.0, 1.0), (10.0, 0.1)]:
        L = ll.get("NCEandRCE", alpha=alpha, beta=beta, from_logits=True, log_zero=math.log(1e-4))
        np.testing.assert_allclose(L(y, z), np.mean(alpha * nce + beta * rce), rtol=1e-10)
    # The paper's A = −4 (the default): the reverse term of an index target is 4(1 − p_y).
    expected = nce + 4.0 * (1.0 - np.exp(lp[np.arange(8), y]))
    np.testing.assert_allclose(ll.nce_rce(y, z, from_logits=True, reduction="none"), expected, rtol=1e-12)


def test_nce_rce_soft_targets_and_gradient_match_autograd_of_the_formula():
    torch = pytest.importorskip("torch")
    z = RNG.normal(0.0, 2.0, size=(6, 4))
    t = _softmax(RNG.normal(size=(6, 4)))
    t[0] = [0.0, 0.5, 0.5, 0.0]  # zeros in the target: log 0 taken as A
    zt = torch.tensor(z, requires_grad=True)
    lp = torch.log_softmax(zt, dim=1)
    tt = torch.tensor(t)
    log_t = torch.where(tt > math.exp(-4.0), torch.log(tt.clamp(min=1e-300)), torch.full_like(tt, -4.0))
    value = (2.0 * (tt * lp).sum(1) / lp.sum(1) - 0.5 * (lp.exp() * log_t).sum(1)).mean()
    value.backward()
    L = ll.get("nce_rce", alpha=2.0, beta=0.5, from_logits=True)
    np.testing.assert_allclose(float(L(t, z)), float(value.detach()), rtol=1e-12)
    np.testing.assert_allclose(L.gradient(t, z), zt.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_nce_rce_is_calibrated_but_has_no_minimiser():
    # For η = (0.5, 0.3, 0.2) the infimum α·min η + 4β(1 − max η) = 0.2 + 2 is approached as
    # p → e_0 with the least likely class fastest; a wrong argmax stays ≥ 4β(η₀ − η₁)/2 above.
    eta = np.array([0.5, 0.3, 0.2])
    L = ll.get("nce_rce")

    def risk(p):
        return float(eta @ L([0, 1, 2], np.tile(p, (3, 1)), reduction="none"))

    near = risk(np.array([1 - 1e-3 - 1e-14, 1e-3, 1e-14]))
    assert 2.2 < near < 2.22
    for wrong in ([0.49, 0.51, 0.0], [0.3, 0.7 - 1e-14, 1e-14], [0.0, 1.0, 0.0]):
        assert risk(np.array(wrong)) > 2.2 + 4 * (0.5 - 0.3) / 2 - 1e-9


def test_normalized_losses_bad_input():
    with pytest.raises(ValueError, match="alpha and beta"):
        ll.get("nce_rce", alpha=0.0, beta=0.0)
    with pytest.raises(ValueError, match="log_zero"):
        ll.get("nce_rce", log_zero=0.0)
    with pytest.raises(ValueError, match="at least 2 classes"):
        ll.normalized_cross_entropy([0], [[0.0]], from_logits=True)
    with pytest.raises(ValueError, match="y_pred"):
        ll.normalized_cross_entropy([0], [[0.0, -math.inf, 1.0]], from_logits=True)
    assert float(ll.nce_rce([1], [[0.2, 0.8]], alpha=1.0, beta=0.0)) == pytest.approx(
        float(ll.normalized_cross_entropy([1], [[0.2, 0.8]])), rel=1e-14)


# ------------------------------------------------------------------------------ adaptive focal (FLSD-53)
def _flsd53_numpy(y, z):
    """Mukhoti et al. (2020) FocalLossAdaptive(gamma=3) forward, in NumPy: γ = 5 for p_t < 0.2,
    3 for 0.2 ≤ p_t < 0.5 and self.gamma = 3 above; ℓ = −(1 − p_t)^γ log p_t, summed."""
    logpt = _log_softmax(z)[np.arange(len(y)), y]
    pt = np.exp(logpt)
    gamma = np.where(pt >= 0.5, 3.0, np.where(pt < 0.2, 5.0, 3.0))
    return -((1 - pt) ** gamma) * logpt


def test_adaptive_focal_is_the_authors_flsd53():
    z = RNG.normal(0.0, 2.0, size=(12, 5))
    y = RNG.integers(0, 5, size=12)
    expected = _flsd53_numpy(y, z)
    assert np.any(np.exp(_log_softmax(z)[np.arange(12), y]) < 0.2)  # both bands are exercised
    L = ll.get("focal_loss_adaptive", from_logits=True)
    np.testing.assert_allclose(L(y, z, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(float(L(y, z, reduction="sum")), expected.sum(), rtol=1e-12)


def test_adaptive_focal_gradient_treats_gamma_as_a_constant_like_the_authors():
    torch = pytest.importorskip("torch")
    z = RNG.normal(0.0, 2.0, size=(8, 4))
    y = RNG.integers(0, 4, size=8)
    zt = torch.tensor(z, requires_grad=True)
    logpt = torch.log_softmax(zt, dim=1)[torch.arange(8), torch.tensor(y)]
    pt = logpt.exp()
    gamma = torch.tensor(np.where(pt.detach().numpy() < 0.2, 5.0, 3.0))
    total = (-(1 - pt) ** gamma * logpt).sum()
    total.backward()
    L = ll.get("adaptive_focal", from_logits=True)
    np.testing.assert_allclose(L.gradient(y, z, reduction="sum"), zt.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_adaptive_focal_jumps_at_the_threshold_and_is_focal_without_one():
    # At p = 0.2: −0.8⁵ log 0.2 = 0.52740 just below, −0.8³ log 0.2 = 0.82401 at 0.2 (the γ = 3 side).
    below = float(ll.adaptive_focal([0], [[0.2 - 1e-12, 0.8 + 1e-12]]))
    at = float(ll.adaptive_focal([0], [[0.2, 0.8]]))
    assert below == pytest.approx(-(0.8 ** 5) * math.log(0.2), rel=1e-9)
    assert at == pytest.approx(-(0.8 ** 3) * math.log(0.2), rel=1e-12)
    # The gradient at p = 0.2 is the γ = 3 branch's (focal(gamma=3)'s), the right-hand derivative.
    np.testing.assert_allclose(ll.get("adaptive_focal").gradient([0], [[0.2, 0.8]]),
                               ll.get("focal", gamma=3.0).gradient([0], [[0.2, 0.8]]), rtol=1e-12)
    z = RNG.normal(size=(5, 3))
    y = RNG.integers(0, 3, size=5)
    same = ll.get("adaptive_focal", gamma_below=2.0, gamma_above=2.0, from_logits=True)
    np.testing.assert_allclose(same(y, z, reduction="none"), ll.focal(y, z, from_logits=True, reduction="none"),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="threshold"):
        ll.get("adaptive_focal", threshold=1.0)


# ------------------------------------------------------------------------------ generalised JSD (GKD)
def _trl_generalized_jsd(student_logits, teacher_logits, beta, temperature, torch):
    """TRL's GKDTrainer.generalized_jsd_loss (0 < beta < 1, no labels), written here: the
    mixture log m = logsumexp(log p_s + log(1 − β), log p_t + log β); jsd = β·kl_div(m, t) +
    (1 − β)·kl_div(m, s) (PyTorch's kl_div(input, target) is KL(target‖input)), summed and
    divided by B·L ("batchmean" of (B, L, V) logits)."""
    F = torch.nn.functional
    s = F.log_softmax(student_logits / temperature, dim=-1)
    t = F.log_softmax(teacher_logits / temperature, dim=-1)
    b = torch.tensor(beta, dtype=s.dtype)
    m = torch.logsumexp(torch.stack([s + torch.log(1 - b), t + torch.log(b)]), dim=0)
    jsd = b * F.kl_div(m, t, reduction="none", log_target=True) + (1 - b) * F.kl_div(m, s, reduction="none",
                                                                                     log_target=True)
    return jsd.sum() / (jsd.size(0) * jsd.size(1))


@pytest.mark.parametrize("beta,temperature", [(0.5, 1.0), (0.1, 2.0), (0.9, 0.5)])
def test_generalized_jsd_matches_trls_formula_and_autograd(beta, temperature):
    torch = pytest.importorskip("torch")
    student = RNG.normal(0.0, 3.0, size=(2, 3, 6))  # (B, L, V) as TRL takes it
    teacher = RNG.normal(0.0, 3.0, size=(2, 3, 6))
    st = torch.tensor(student, requires_grad=True)
    value = _trl_generalized_jsd(st, torch.tensor(teacher), beta, temperature, torch)
    value.backward()
    L = ll.get("generalized_jsd_loss", beta=beta, temperature=temperature)
    rows_t, rows_s = teacher.reshape(-1, 6), student.reshape(-1, 6)  # teacher first: (y_true, y_pred)
    np.testing.assert_allclose(float(L(rows_t, rows_s)), float(value.detach()), rtol=1e-10)
    np.testing.assert_allclose(L.gradient(rows_t, rows_s), st.grad.numpy().reshape(-1, 6), rtol=1e-8, atol=1e-14)
    # The GKD paper's eq. (2) directly: β KL(q‖m) + (1 − β) KL(p‖m), m = βq + (1 − β)p.
    q, p = _softmax(rows_t / temperature), _softmax(rows_s / temperature)
    m = beta * q + (1 - beta) * p
    direct = beta * np.sum(q * np.log(q / m), axis=1) + (1 - beta) * np.sum(p * np.log(p / m), axis=1)
    np.testing.assert_allclose(L(rows_t, rows_s, reduction="none"), direct, rtol=1e-9)


def test_generalized_jsd_half_is_the_js_divergence_and_bounded():
    teacher, student = RNG.normal(0.0, 2.0, size=(5, 4)), RNG.normal(0.0, 2.0, size=(5, 4))
    np.testing.assert_allclose(ll.generalized_jsd(teacher, student, reduction="none"),
                               ll.js_divergence(_softmax(teacher), _softmax(student), reduction="none"), rtol=1e-10)
    # Bounded by the binary entropy h(β), reached as the two distributions become disjoint.
    worst = float(ll.generalized_jsd([[60.0, 0.0]], [[0.0, 60.0]], beta=0.3))
    h = -(0.3 * math.log(0.3) + 0.7 * math.log(0.7))
    assert worst <= h and worst == pytest.approx(h, rel=1e-12)
    np.testing.assert_allclose(ll.generalized_jsd(teacher, teacher - 3.0, beta=0.2), 0.0, atol=1e-15)
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match="beta"):
            ll.get("generalized_jsd", beta=bad)
    with pytest.raises(ValueError, match="y_true"):
        ll.generalized_jsd(np.zeros((2, 3)), np.zeros((2, 4)))


# ------------------------------------------------------------------------------ sampled softmax, NCE
def _tf_sampled_logits(x, weights, biases, labels, sampled, log_expected_true, log_expected_sampled):
    """TensorFlow's _compute_sampled_logits (num_true=1, subtract_log_q=True), in NumPy:
    [x·w_y + b_y − log E_y, x·w_s + b_s − log E_s], accidental hits (s = y) set to −inf."""
    true = np.sum(x * weights[labels], axis=1) + biases[labels] - log_expected_true
    samp = x @ weights[sampled].T + biases[sampled] - log_expected_sampled[None, :]
    samp = np.where(sampled[None, :] == labels[:, None], -np.inf, samp)
    return np.concatenate([true[:, None], samp], axis=1)


def test_sampled_softmax_is_tensorflows_recipe():
    n, dim, n_classes = 6, 3, 20
    x = RNG.normal(size=(n, dim))
    weights, biases = RNG.normal(size=(n_classes, dim)), RNG.normal(size=n_classes)
    labels = RNG.integers(0, n_classes, size=n)
    q = RNG.dirichlet(np.ones(n_classes))
    sampled = RNG.choice(n_classes, size=7, p=q)
    sampled[0] = labels[0]  # one accidental hit, removed
    expected_count = 7 * q  # sampling with replacement
    logits_tf = _tf_sampled_logits(x, weights, biases, labels, sampled, np.log(expected_count[labels]),
                                   np.log(expected_count[sampled]))
    # tf.nn.softmax_cross_entropy_with_logits with labels [1, 0, ..., 0] on those logits:
    expected = -_log_softmax(np.where(np.isinf(logits_tf), -1e300, logits_tf))[:, 0]
    # losslab's inputs: the raw logits and log Q (log K·Q differs by a constant per row).
    raw = np.concatenate([np.sum(x * weights[labels], axis=1)[:, None] + biases[labels][:, None],
                          x @ weights[sampled].T + biases[sampled]], axis=1)
    raw[:, 1:] = np.where(sampled[None, :] == labels[:, None], -np.inf, raw[:, 1:])
    log_q = np.log(np.concatenate([q[labels][:, None], np.tile(q[sampled], (n, 1))], axis=1))
    got = ll.sampled_softmax(raw, log_q, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(ll.sampled_softmax(raw, log_q + math.log(7), reduction="none"), got, rtol=1e-12)
    grad = ll.get("sampled_softmax").gradient(raw, log_q, reduction="sum")
    assert grad[0, 1 + 0] == 0.0  # the masked accidental hit gets no gradient
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-14)


def test_sampled_softmax_over_every_class_with_uniform_q_is_cross_entropy():
    z = RNG.normal(0.0, 2.0, size=(5, 4))
    y = RNG.integers(0, 4, size=5)
    order = np.array([[y[i]] + [c for c in range(4) if c != y[i]] for i in range(5)])
    reordered = np.take_along_axis(z, order, axis=1)
    np.testing.assert_allclose(ll.sampled_softmax(reordered, np.full((5, 4), math.log(0.25)), reduction="none"),
                               ll.cross_entropy(y, z, from_logits=True, reduction="none"), rtol=1e-12)


def test_nce_is_mnih_and_tehs_objective():
    # Mnih & Teh (2012), eqs. (5)-(6): P(D = 1 | w) = P_θ(w) / (P_θ(w) + k·P_n(w)), P_θ = e^s;
    # ℓ = −log P(D=1 | w_data) − Σ_j log P(D=0 | w_j), in probability form here.
    k = 4
    s = RNG.normal(-2.0, 1.0, size=(6, 1 + k))
    q = RNG.dirichlet(np.ones(30), size=6)[:, : 1 + k]
    p_true = np.exp(s[:, 0]) / (np.exp(s[:, 0]) + k * q[:, 0])
    p_noise = k * q[:, 1:] / (np.exp(s[:, 1:]) + k * q[:, 1:])
    expected = -np.log(p_true) - np.sum(np.log(p_noise), axis=1)
    np.testing.assert_allclose(ll.nce(s, np.log(q), reduction="none"), expected, rtol=1e-12)
    # A masked noise entry drops out.
    masked = s.copy()
    masked[:, 2] = -np.inf
    np.testing.assert_allclose(ll.nce(masked, np.log(q), reduction="none"), expected + np.log(p_noise[:, 1]),
                               rtol=1e-12)


def test_nce_minimiser_is_the_self_normalised_data_log_probability():
    # Gutmann & Hyvärinen (2010), Thm. 1: per class w the expected loss is
    # p_d(w)·softplus(−Δ_w) + k·q(w)·softplus(Δ_w), stationary at s_w = log p_d(w) for every k.
    p_d, q, k = np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.3, 0.5]), 3
    L = ll.get("nce")
    for w in range(3):
        row = np.array([[math.log(p_d[w])] * (1 + k)])
        log_q = np.full((1, 1 + k), math.log(q[w]))
        g = L.gradient(row, log_q, reduction="sum")[0]
        # The true column weighs p_d(w); each of the k noise columns weighs q(w).
        assert p_d[w] * g[0] + q[w] * g[1:].sum() == pytest.approx(0.0, abs=1e-15)


def test_sampled_objectives_bad_input():
    with pytest.raises(ValueError, match=r"logits\[:, 0\]"):
        ll.sampled_softmax([[-math.inf, 0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="log_q"):
        ll.nce([[0.0, 1.0]], [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="logits"):
        ll.nce([[0.0]], [[0.0]])
    with pytest.raises(ValueError, match="log_q"):
        ll.sampled_softmax([[0.0, 1.0]], [[0.0, math.inf]])


# ------------------------------------------------------------------------------ Fenchel–Young builder
def _optax_fy(max_fun, scores, targets):
    """Optax's make_fenchel_young_loss(max_fun)(scores, targets), written here: max_fun over
    the last axis minus vdot(targets, scores)."""
    return np.array([max_fun(s) for s in scores]) - np.sum(targets * scores, axis=1)


def _lse(s):
    m = s.max()
    return m + math.log(np.exp(s - m).sum())


def test_fenchel_young_softmax_and_sparsemax_are_the_papers_losses():
    from losslab.losses.fenchel_young import fenchel_young

    z = RNG.normal(0.0, 2.0, size=(7, 4))
    t = _softmax(RNG.normal(size=(7, 4)))
    # Blondel et al. (2020), Table 1: Ω = Σ t log t gives logsumexp(z) − ⟨t, z⟩ + Σ t log t = KL(t ‖ softmax z).
    expected = _optax_fy(_lse, z, t) + np.sum(t * np.log(t), axis=1)
    np.testing.assert_allclose(fenchel_young("softmax")(t, z, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(expected, np.sum(t * (np.log(t) - _log_softmax(z)), axis=1), rtol=1e-12)
    y = RNG.integers(0, 4, size=7)
    np.testing.assert_allclose(fenchel_young("softmax")(y, z, reduction="none"),
                               ll.cross_entropy(y, z, from_logits=True, reduction="none"), rtol=1e-12)
    # Ω = ½‖t‖²: the sparsemax loss (eq. 17 of Martins & Astudillo, checked above against Algorithm 1).
    np.testing.assert_allclose(fenchel_young("sparsemax")(y, z, reduction="none"), ll.sparsemax(y, z, reduction="none"),
                               rtol=1e-12, atol=1e-14)
    # Stable at large scores: the row maximum is shifted out before Ω* and ⟨t, z⟩ are formed
    # (unshifted, logsumexp(z) − z_y at z ≈ 1e8 would keep only about 8 digits).
    far = z + 1e8
    np.testing.assert_allclose(fenchel_young("softmax")(y, far, reduction="none"),
                               ll.cross_entropy(y, far, from_logits=True, reduction="none"), rtol=1e-12)
    assert ll.profile(fenchel_young("softmax")).proper


def _user_fy():
    """A user's Fenchel–Young loss, Optax-style (no Ω(t)): the softmax's, with a temperature of
    2 (Ω* = 2·logsumexp(z/2), ŷ = softmax(z/2), ∇²Ω* diagonal p(1 − p)/2), written with xp."""
    from losslab.losses.fenchel_young import fenchel_young

    def max_fun(xp, z):
        m = xp.max(z, axis=-1, keepdims=True)
        return 2.0 * (m[:, 0] / 2.0 + xp.log(xp.sum(xp.exp((z - m) / 2.0), axis=-1)))

    def predict(xp, z):
        e = xp.exp((z - xp.max(z, axis=-1, keepdims=True)) / 2.0)
        return e / xp.sum(e, axis=-1, keepdims=True)

    def hessian(xp, z):
        p = predict(xp, z)
        return p * (1.0 - p) / 2.0

    return fenchel_young(max_fun, predict, hessian=hessian, name="tempered_softmax_fy")


def test_fenchel_young_from_user_functions_is_optaxs_number_with_its_derivatives():
    from oracles import fd_gradient, fd_hessian_diagonal

    L = _user_fy()
    z = RNG.normal(0.0, 2.0, size=(6, 4))
    t = _softmax(RNG.normal(size=(6, 4)))
    expected = _optax_fy(lambda s: 2.0 * _lse(s / 2.0), z, t)
    np.testing.assert_allclose(L(t, z, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(t, z, reduction="sum"), fd_gradient(L, (t, z), {})[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(L.hessian(t, z, reduction="sum"), fd_hessian_diagonal(L, (t, z), {}), rtol=1e-5,
                               atol=1e-7)
    assert L == L and L != _user_fy() and "tempered_softmax_fy" in repr(L)


def test_fenchel_young_runs_on_torch_with_autograd():
    torch = pytest.importorskip("torch")
    L = _user_fy()
    z = RNG.normal(0.0, 2.0, size=(5, 3))
    y = RNG.integers(0, 3, size=5)
    zt = torch.tensor(z, requires_grad=True)
    value = L(torch.tensor(y), zt)
    value.backward()
    np.testing.assert_allclose(float(value.detach()), float(L(y, z)), rtol=1e-12)
    np.testing.assert_allclose(zt.grad.numpy(), L.gradient(y, z), rtol=1e-10, atol=1e-14)


def test_fenchel_young_bad_arguments():
    from losslab.losses.fenchel_young import fenchel_young

    with pytest.raises(ValueError, match="max_fun"):
        fenchel_young("entmax")
    with pytest.raises(TypeError, match="max_fun"):
        fenchel_young(3.0, lambda xp, z: z)
    with pytest.raises(TypeError, match="predict"):
        fenchel_young(lambda xp, z: z[:, 0])
    with pytest.raises(TypeError, match="hessian"):
        fenchel_young(lambda xp, z: z[:, 0], lambda xp, z: z, hessian="p(1-p)")
    with pytest.raises(TypeError, match="own predict"):
        fenchel_young("softmax", lambda xp, z: z)
    bad = fenchel_young(lambda xp, z: z, lambda xp, z: z)  # max_fun returns a row, not a number
    with pytest.raises(ValueError, match=r"max_fun\(xp, array\) must return shape \(2,\)"):
        bad([0, 1], np.zeros((2, 3)))
    with pytest.raises(NotImplementedError, match="hessian="):
        fenchel_young(lambda xp, z: xp.sum(z, axis=-1), lambda xp, z: z).hessian([0], [[0.0, 1.0]])


# ------------------------------------------------------------------------------ extremes, all new losses
_EXTREME = [
    ("normalized_cross_entropy", {"from_logits": True}, "class"),
    ("nce_rce", {"from_logits": True}, "class"),
    ("adaptive_focal", {"from_logits": True}, "class"),
    ("generalized_jsd", {"temperature": 0.5}, "teacher"),
    ("sampled_softmax", {}, "log_q"),
    ("nce", {}, "log_q"),
]


@pytest.mark.parametrize("name,params,first", _EXTREME, ids=[e[0] for e in _EXTREME])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_scores_give_finite_values_gradients_and_hessians(name, params, first, dtype):
    # Scores of ±1e4 (e^{1e4} overflows every float): each true class is once certain, once hopeless.
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=dtype)
    other = {"class": np.array([0, 0]), "teacher": z[::-1].copy(),
             "log_q": np.full(z.shape, math.log(1e-30), dtype=dtype)}[first]
    args = (z, other) if first == "log_q" else (other, z)
    L = ll.get(name, **params)
    value, grad = L.value_and_gradient(*args, reduction="none")
    hess = L.hessian(*args, reduction="none")
    for a in (value, grad, hess):
        assert np.all(np.isfinite(a)) and a.dtype == dtype, (name, a)
