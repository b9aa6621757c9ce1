"""Preference losses (losses/preference.py) against their papers' equations.

Every expected number comes from the paper's equation evaluated here in a few lines of
NumPy (``np.logaddexp(0, -z)`` for −log σ(z)), written from the paper and not from the
loss's code; TRL's conventions (trl/trainer/dpo_trainer.py, cpo_trainer.py,
orpo_trainer.py, kto_trainer.py), which differ from the papers in names only, are written
out where they matter. Gradients are checked by the catalog cases (tests/cases/preference.py)
against finite differences, PyTorch autograd and jax.grad.
"""

from __future__ import annotations

import numpy as np
import pytest

import losslab as ll
from losslab.losses.preference import kto_reference_point


@pytest.fixture
def rng():
    return np.random.default_rng(13)


def _paired(rng, n=20):
    ref_c, ref_r = -rng.uniform(5, 40, n), -rng.uniform(5, 40, n)
    return -abs(ref_c + rng.normal(0, 3, n)), -abs(ref_r + rng.normal(0, 3, n)), ref_c, ref_r


def _neg_log_sigmoid(z):
    return np.logaddexp(0.0, -z)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_dpo_equals_rafailov_eq7(rng, beta):
    pc, pr, rc, rr = _paired(rng)
    # Rafailov et al. (2023), eq. 7: −log σ(β log(π(y_w)/π_ref(y_w)) − β log(π(y_l)/π_ref(y_l))).
    expected = _neg_log_sigmoid(beta * np.log(np.exp(pc - rc)) - beta * np.log(np.exp(pr - rr)))
    np.testing.assert_allclose(ll.dpo(pc, pr, rc, rr, beta=beta, reduction="none"), expected, rtol=1e-12)
    assert ll.dpo(pc, pr, rc, rr, beta=beta) == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_conservative_dpo_is_dpo_of_the_label_flipped_with_probability_eps(rng, eps):
    pc, pr, rc, rr = _paired(rng)
    beta = 0.3
    h = (pc - rc) - (pr - rr)
    # Mitchell (2023), cDPO: (1 − ε)·DPO(y_w ≻ y_l) + ε·DPO(y_l ≻ y_w).
    expected = (1 - eps) * _neg_log_sigmoid(beta * h) + eps * _neg_log_sigmoid(-beta * h)
    got = ll.dpo(pc, pr, rc, rr, beta=beta, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    flipped = ll.dpo(pr, pc, rr, rc, beta=beta, reduction="none")
    np.testing.assert_allclose(got, (1 - eps) * ll.dpo(pc, pr, rc, rr, beta=beta, reduction="none") + eps * flipped,
                               rtol=1e-12)
    # Its gradient vanishes where σ(βh) = 1 − ε (a bounded optimum), unlike DPO's.
    h_star = np.log((1 - eps) / eps) / beta
    g = ll.DPO(beta=beta, label_smoothing=eps).gradient([-5.0], [-5.0 - h_star], [-5.0], [-5.0], reduction="sum")
    np.testing.assert_allclose(g, ([0.0], [0.0]), atol=1e-12)


def test_ipo_equals_azar_eq17(rng):
    pc, pr, rc, rr = _paired(rng)
    tau = 0.25
    # Azar et al. (2023), eq. 17: (log(π(y_w)π_ref(y_l) / (π(y_l)π_ref(y_w))) − τ⁻¹/2)².
    expected = (np.log(np.exp(pc) * np.exp(rr) / (np.exp(pr) * np.exp(rc))) - 1 / (2 * tau)) ** 2
    np.testing.assert_allclose(ll.ipo(pc, pr, rc, rr, beta=tau, reduction="none"), expected, rtol=1e-9)


def test_simpo_equals_meng_eq6_on_token_averages(rng):
    # Token log-probabilities of responses of different lengths; SimPO takes their averages.
    lengths_c, lengths_r = rng.integers(3, 30, 15), rng.integers(3, 30, 15)
    avg_c = np.array([np.mean(np.log(rng.uniform(0.05, 1.0, k))) for k in lengths_c])
    avg_r = np.array([np.mean(np.log(rng.uniform(0.05, 1.0, k))) for k in lengths_r])
    beta, gamma = 2.5, 1.4
    # Meng et al. (2024), eq. 6: −log σ(β/|y_w| log π(y_w) − β/|y_l| log π(y_l) − γ).
    expected = _neg_log_sigmoid(beta * avg_c - beta * avg_r - gamma)
    np.testing.assert_allclose(ll.simpo(avg_c, avg_r, beta=beta, gamma=gamma, reduction="none"), expected, rtol=1e-12)
    # TRL's CPOTrainer(loss_type="simpo"): −log σ(β((π_c − π_r) − γ/β)), simpo_gamma = γ.
    trl = _neg_log_sigmoid(beta * ((avg_c - avg_r) - gamma / beta))
    np.testing.assert_allclose(ll.simpo(avg_c, avg_r, beta=beta, gamma=gamma, reduction="none"), trl, rtol=1e-12)


def test_orpo_equals_hong_eqs_6_7(rng):
    avg_c, avg_r = -rng.uniform(0.01, 4.0, 25), -rng.uniform(0.01, 4.0, 25)
    lam = 0.2
    # Hong et al. (2024), eqs. 6-7: odds(y) = P/(1 − P), P = exp(average log-probability);
    # L = L_SFT + λ·(−log σ(log(odds(y_w)/odds(y_l)))), L_SFT = −average log-probability of y_w.
    p_c, p_r = np.exp(avg_c), np.exp(avg_r)
    log_odds_ratio = np.log((p_c / (1 - p_c)) / (p_r / (1 - p_r)))
    expected = -avg_c + lam * _neg_log_sigmoid(log_odds_ratio)
    np.testing.assert_allclose(ll.orpo(avg_c, avg_r, lam=lam, reduction="none"), expected, rtol=1e-10)


def test_orpo_is_accurate_where_the_probability_rounds_near_one():
    # π̄ = −1e-12: 1 − e^{π̄} cancels in float64 (log1mexp and expm1 keep it exact). Here
    # 1 − e^{π̄} = 1e-12 to a relative 5e-13, so log odds = π̄ − log(1e-12) in closed form.
    pc, pr = np.array([-1e-12]), np.array([-1.0])
    log_odds_c = -1e-12 - np.log(1e-12)  # log(p/(1−p)) with 1 − p = 1e-12 to first order
    log_odds_r = -1.0 - np.log(-np.expm1(-1.0))
    expected = 1e-12 + 0.1 * _neg_log_sigmoid(log_odds_c - log_odds_r)  # ≈ 1.06e-12
    assert ll.orpo(pc, pr, lam=0.1) == pytest.approx(float(expected), rel=1e-9)
    assert np.all(np.isfinite(ll.ORPO().gradient(pc, pr)))


def test_orpo_is_not_convex_as_declared():
    # ∂²ℓ/∂π̄_c² = λ[σ(L)σ(−L)(∂L)² − σ(−L)e^{π̄}/(1 − e^{π̄})²] < 0 where the rejected response
    # is as likely as the chosen one; second differences of the value (not the loss's Hessian) show it.
    h, pr = 1e-4, np.array([-0.01])
    f = [float(ll.orpo(np.array([-0.01 + k * h]), pr)) for k in (-1, 0, 1)]
    assert (f[0] - 2 * f[1] + f[2]) / h**2 < 0
    assert not ll.ORPO().traits.convex


@pytest.mark.parametrize("beta, lam_d, lam_u", [(0.1, 1.0, 1.0), (0.5, 1.0, 1.33)])
def test_kto_equals_ethayarajh_eq8(rng, beta, lam_d, lam_u):
    n = 30
    desirable = rng.integers(0, 2, n)
    ref = -rng.uniform(5, 40, n)
    pol = -abs(ref + rng.normal(0, 3, n))
    # z_ref: the batch KL estimate on mismatched pairs, clipped at 0 (KTO §4.1; TRL's kl).
    kl_pol, kl_ref = -rng.uniform(5, 40, n), -rng.uniform(5, 40, n)
    z_ref = max(0.0, float(np.mean(kl_pol - kl_ref)))
    assert kto_reference_point(kl_pol, kl_ref) == pytest.approx(z_ref, rel=1e-14)
    r = pol - ref
    # Eq. 8: L = λ_y − v(x, y), v = λ_D σ(β(r − z_ref)) if desirable, λ_U σ(β(z_ref − r)) else.
    v = np.where(desirable == 1, lam_d * _sigmoid(beta * (r - z_ref)), lam_u * _sigmoid(beta * (z_ref - r)))
    expected = np.where(desirable == 1, lam_d, lam_u) - v
    L = ll.KTO(beta=beta, desirable_weight=lam_d, undesirable_weight=lam_u)
    got = L(desirable, pol, ref, reference_point=z_ref, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
    # The reference point is a constant: moving it by δ equals moving every r by −δ.
    np.testing.assert_allclose(L(desirable, pol - 0.3, ref, reference_point=z_ref, reduction="none"),
                               L(desirable, pol, ref, reference_point=z_ref + 0.3, reduction="none"), rtol=1e-12)


def test_kto_reference_point_defaults_to_zero_and_is_clipped(rng):
    pol, ref = -rng.uniform(5, 10, 6), -rng.uniform(5, 10, 6)
    d = rng.integers(0, 2, 6)
    assert ll.kto(d, pol, ref) == pytest.approx(ll.kto(d, pol, ref, reference_point=0.0), rel=1e-15)
    assert kto_reference_point([-10.0, -10.0], [-5.0, -6.0]) == 0.0  # a negative KL estimate is clipped


def test_dpo_torch_autograd_of_trl_formula(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    pc, pr, rc, rr = _paired(rng, 9)
    beta, eps = 0.2, 0.1
    tc, tr = torch.tensor(pc, requires_grad=True), torch.tensor(pr, requires_grad=True)
    # TRL's sigmoid loss: logits = (π_c − π_r) − (ref_c − ref_r);
    # −logσ(β·logits)(1 − ε) − logσ(−β·logits)ε, then the mean.
    logits = (tc - tr) - torch.tensor(rc - rr)
    loss = (-F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps).mean()
    loss.backward()
    value, (gc, gr) = ll.DPO(beta=beta, label_smoothing=eps).value_and_gradient(pc, pr, rc, rr)
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(gc, tc.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gr, tr.grad.numpy(), rtol=1e-10)


def test_dpo_with_sample_weights_is_the_weighted_mean(rng):
    pc, pr, rc, rr = _paired(rng, 8)
    w = rng.uniform(0, 2, 8)
    per = ll.dpo(pc, pr, rc, rr, reduction="none")
    assert ll.dpo(pc, pr, rc, rr, sample_weight=w) == pytest.approx(np.sum(w * per) / np.sum(w), rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: ll.dpo([-1.0, -2.0], [-1.0], [-1.0, -2.0], [-1.0, -2.0]), "policy_rejected_logps"),
    (lambda: ll.dpo([[-1.0]], [[-1.0]], [[-1.0]], [[-1.0]]), "policy_chosen_logps"),
    (lambda: ll.dpo([-1.0], [0.5], [-1.0], [-1.0]), "policy_rejected_logps"),
    (lambda: ll.dpo([-1.0], [-1.0], [-1.0], [2.0]), "reference_rejected_logps"),
    (lambda: ll.orpo([0.0], [-1.0]), "policy_chosen_logps"),
    (lambda: ll.simpo([-1.0], [np.nan]), "policy_rejected_logps"),
    (lambda: ll.kto([2], [-1.0], [-1.0]), "desirable"),
    (lambda: ll.kto([1], [-1.0], [-1.0], reference_point=[0.1, 0.2]), "reference_point"),
    (lambda: ll.kto([1], [-1.0], [-1.0], reference_point=np.nan), "reference_point"),
    (lambda: ll.get("dpo", beta=0.0), "beta"),
    (lambda: ll.get("dpo", label_smoothing=0.7), "label_smoothing"),
    (lambda: ll.get("simpo", gamma=-1.0), "gamma"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_kto_reference_point_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="reference_point"):
        ll.kto([1], [-1.0], [-1.0], reference_point="0.1")
