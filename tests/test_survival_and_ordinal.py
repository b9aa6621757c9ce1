"""Reference tests of cox, crps_ensemble, coral, generalized_kl and mmd (issue 13).

Each value is compared with an independent evaluation of the paper's formula written here in
a few lines of NumPy (loops over event times, over pairs of members, over points), with
numbers worked by hand (stated next to them), and with a peer where one is installed
(properscoring, PyTorch's binary_cross_entropy_with_logits, Optax; skipped cleanly
otherwise). Derivatives of the non-separable losses (cox, mmd) are checked against
PyTorch's exact second derivatives, sample weights included.

lifelines and scikit-survival are not used: neither installs without its dependencies
(lifelines needs autograd and formulaic, scikit-survival compiled solvers), so Cox is
checked against the direct evaluation of Cox's, Breslow's and Efron's formulas and against
a worked example.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll


# ------------------------------------------------------------------------------------- cox
def _survival_data(seed, n=30, grid=6):
    rng = np.random.default_rng(seed)
    times = rng.integers(0, grid, size=n).astype(float)  # a coarse grid: many tied times
    events = (rng.uniform(size=n) < 0.7).astype(float)
    return times, events, rng.normal(0.0, 1.5, size=n)


def _cox_direct(times, events, scores, ties):
    """The negative log partial likelihood, one distinct event time at a time (Cox 1972;
    Breslow 1974; Efron 1977, eq. 3.2)."""
    total = 0.0
    for t in np.unique(times[events == 1]):
        tied = (times == t) & (events == 1)
        at_risk = times >= t
        d = tied.sum()
        s, tied_sum = np.exp(scores[at_risk]).sum(), np.exp(scores[tied]).sum()
        if ties == "breslow":
            total += d * np.log(s)
        else:
            total += sum(np.log(s - l / d * tied_sum) for l in range(d))
        total -= scores[tied].sum()
    return total


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cox_equals_the_partial_likelihood_evaluated_directly(ties, seed):
    times, events, scores = _survival_data(seed)
    L = ll.Cox(ties=ties)
    expected = _cox_direct(times, events, scores, ties)
    assert L(times, events, scores, reduction="sum") == pytest.approx(expected, rel=1e-12)
    # Each event carries its share; censored samples none; "mean" divides by all N samples.
    per_sample = L(times, events, scores, reduction="none")
    assert np.all(per_sample[events == 0] == 0)
    assert per_sample.sum() == pytest.approx(expected, rel=1e-12)
    assert L(times, events, scores) == pytest.approx(expected / len(times), rel=1e-12)


def test_cox_worked_example_and_breslow_equals_efron_without_ties():
    # Hand: times (1, 2, 2, 3), the last censored, all scores 0. Breslow: the event at 1 sees
    # 4 at risk, each of the two at 2 sees 3: log 4 + 2 log 3. Efron: log 4 + log 3 + log(3 − 2/2).
    times, events, scores = [1.0, 2.0, 2.0, 3.0], [1, 1, 1, 0], [0.0, 0.0, 0.0, 0.0]
    assert ll.cox(times, events, scores, reduction="sum") == pytest.approx(math.log(4) + 2 * math.log(3), rel=1e-14)
    assert ll.cox(times, events, scores, ties="efron", reduction="sum") == pytest.approx(math.log(24), rel=1e-14)
    rng = np.random.default_rng(3)
    times = rng.permutation(40).astype(float)  # distinct times: both are the exact partial likelihood
    events, scores = (rng.uniform(size=40) < 0.6).astype(float), rng.normal(size=40)
    assert ll.cox(times, events, scores, ties="efron") == pytest.approx(ll.cox(times, events, scores), rel=1e-13)


def _torch_derivatives(L, arrays, weights, differentiable=-1):
    """Gradient and exact Hessian diagonal of the weighted 'sum' by PyTorch autograd."""
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a) for a in arrays]
    x = tensors[differentiable].clone().requires_grad_(True)
    tensors[differentiable] = x
    kwargs = {"sample_weight": torch.tensor(weights)} if weights is not None else {}
    value = L(*tensors, reduction="sum", **kwargs)
    (grad,) = torch.autograd.grad(value, x, create_graph=True)
    flat = grad.reshape(-1)
    hess = torch.stack([torch.autograd.grad(flat[i], x, retain_graph=True)[0].reshape(-1)[i]
                        for i in range(flat.numel())])
    return grad.detach().numpy(), hess.detach().numpy().reshape(x.shape)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cox_gradient_and_hessian_equal_torch_second_derivatives_with_weights(ties):
    times, events, scores = _survival_data(4, n=16, grid=4)
    weights = np.random.default_rng(5).uniform(0.2, 3.0, size=16)
    L = ll.Cox(ties=ties)
    grad, hess = _torch_derivatives(L, (times, events, scores), weights)
    np.testing.assert_allclose(L.gradient(times, events, scores, sample_weight=weights, reduction="sum"), grad,
                               rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(L.hessian(times, events, scores, sample_weight=weights, reduction="sum"), hess,
                               rtol=1e-10, atol=1e-13)
    # "mean" divides everything by Σw.
    np.testing.assert_allclose(L.hessian(times, events, scores, sample_weight=weights), hess / weights.sum(),
                               rtol=1e-10, atol=1e-13)


def test_cox_is_invariant_to_a_common_shift_and_stays_finite():
    times, events, scores = _survival_data(6)
    L = ll.Cox(ties="efron")
    base, base_grad = L.value_and_gradient(times, events, scores)
    shifted, shifted_grad = L.value_and_gradient(times, events, scores + 1e4)
    assert shifted == pytest.approx(base, rel=1e-9)
    np.testing.assert_allclose(shifted_grad, base_grad, atol=1e-12)
    # The gradient sums to 0 over the samples (the shift invariance, differentiated).
    assert abs(base_grad.sum()) < 1e-12
    # No event at all: nothing to explain, 0 with a zero gradient.
    value, grad = L.value_and_gradient(times, np.zeros_like(events), scores)
    assert value == 0.0 and np.all(grad == 0)


def test_cox_float32_and_scores_far_apart():
    times, events, scores = _survival_data(7)
    value32 = ll.cox(times.astype(np.float32), events, scores.astype(np.float32))
    assert value32.dtype == np.float32
    assert float(value32) == pytest.approx(float(ll.cox(times, events, scores)), rel=1e-5)
    # Scores 800 apart: e^{−800} underflows, but the risk sets are summed as logarithms. By
    # hand: the event at 1 sees both, log(1 + e^{−800}) − 0 = 0 to double precision; the event
    # at 2 sees itself alone, log e^{−800} + 800 = 0; the gradient is 0 as well.
    for dtype in (np.float64, np.float32):
        value, grad = ll.Cox().value_and_gradient([1.0, 2.0], [1, 1], np.array([0.0, -800.0], dtype=dtype),
                                                  reduction="sum")
        assert value == 0.0 and np.allclose(grad, 0.0, atol=1e-6)
        assert np.all(np.isfinite(ll.Cox(ties="efron").hessian([1.0, 2.0], [1, 1], np.array([0.0, -800.0], dtype=dtype))))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ll.cox([1.0, 2.0], [1, 2], [0.0, 1.0]), "events must hold"),
        (lambda: ll.cox([1.0, 2.0], [1, 0, 1], [0.0, 1.0]), "events and risk_scores must have the same shape"),
        (lambda: ll.cox([1.0, 2.0], [1, 0], [0.0, 1.0, 2.0]), "times"),
        (lambda: ll.cox([[1.0, 2.0]], [[1, 0]], [[0.0, 1.0]]), "risk_scores must hold one score"),
        (lambda: ll.cox([1.0, float("nan")], [1, 0], [0.0, 1.0]), "times must not contain NaN"),
        (lambda: ll.Cox(ties="exact"), "ties must be one of"),
    ],
)
def test_cox_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_cox_has_no_per_sample_gradient():
    times, events, scores = _survival_data(8)
    with pytest.raises(ValueError, match="reduction='none' has no gradient"):
        ll.Cox().gradient(times, events, scores, reduction="none")


# --------------------------------------------------------------------------- crps_ensemble
def _crps_direct(y, x, fair):
    """E|X − y| − ½E|X − X′| over the members, by the pairs themselves (Gneiting & Raftery
    2007, eq. 21; fair: the pairs m ≠ m′ only, Ferro 2014)."""
    m = x.shape[1]
    skill = np.abs(x - y[:, None]).mean(axis=1)
    pairs = np.abs(x[:, :, None] - x[:, None, :]).sum(axis=(1, 2))
    return skill - pairs / (2 * (m * (m - 1) if fair else m * m))


@pytest.mark.parametrize("fair", [False, True])
def test_crps_ensemble_equals_the_pairwise_formula(fair):
    rng = np.random.default_rng(10)
    y, x = rng.normal(size=50), rng.normal(0.5, 2.0, size=(50, 7))
    np.testing.assert_allclose(ll.crps_ensemble(y, x, fair=fair, reduction="none"), _crps_direct(y, x, fair),
                               rtol=1e-12, atol=1e-14)


def test_crps_ensemble_equals_properscoring():
    properscoring = pytest.importorskip("properscoring")
    rng = np.random.default_rng(11)
    y, x = rng.normal(size=40), rng.normal(size=(40, 9))
    np.testing.assert_allclose(ll.crps_ensemble(y, x, reduction="none"), properscoring.crps_ensemble(y, x),
                               rtol=1e-12, atol=1e-14)


def test_crps_ensemble_relations():
    rng = np.random.default_rng(12)
    y, x = rng.normal(size=20), rng.normal(size=(20, 1))
    # One member: |x − y|.
    assert ll.crps_ensemble(y, x) == pytest.approx(ll.mae(y, x[:, 0]), rel=1e-12)
    # A large ensemble drawn from N(μ, σ²) approaches the Gaussian closed form.
    mu, sigma = np.array([0.3, -1.0]), np.array([1.0, 2.5])
    members = mu[:, None] + sigma[:, None] * rng.standard_normal((2, 20000))
    obs = np.array([0.0, 1.0])
    np.testing.assert_allclose(ll.crps_ensemble(obs, members, fair=True, reduction="none"),
                               ll.crps_gaussian(obs, mu, scale=sigma, reduction="none"), rtol=2e-2)
    # The fair spread term is the biased one times M/(M − 1).
    x5 = rng.normal(size=(20, 5))
    spread = ll.mae(np.repeat(y, 5), x5.ravel(), reduction="none").reshape(20, 5).mean(axis=1)
    np.testing.assert_allclose(spread - ll.crps_ensemble(y, x5, fair=True, reduction="none"),
                               (spread - ll.crps_ensemble(y, x5, reduction="none")) * 5 / 4, rtol=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ll.crps_ensemble([0.0, 1.0], [0.0, 1.0]), "y_pred must hold ensemble members"),
        (lambda: ll.crps_ensemble([0.0], [[0.0, 1.0], [1.0, 2.0]]), "y_true must hold one observation"),
        (lambda: ll.crps_ensemble([0.0], [[1.0]], fair=True), "at least 2 members"),
    ],
)
def test_crps_ensemble_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------------- coral
def _coral_direct(ranks, logits, importance):
    """Σ_k λ_k BCE(1[y > k], σ(f_k)), Cao, Mirjalili & Raschka (2020), eq. 2."""
    levels = (ranks[:, None] > np.arange(logits.shape[1])[None, :]).astype(float)
    p = 1.0 / (1.0 + np.exp(-logits))
    return -(importance * (levels * np.log(p) + (1 - levels) * np.log(1 - p))).sum(axis=1)


@pytest.mark.parametrize("importance", [None, [1.0, 0.5, 2.0, 0.0]])
def test_coral_equals_the_papers_sum_of_binary_tasks(importance):
    rng = np.random.default_rng(20)
    ranks, logits = rng.integers(0, 5, size=60), rng.normal(0.0, 2.0, size=(60, 4))
    L = ll.CORAL(importance_weights=importance)
    expected = _coral_direct(ranks, logits, 1.0 if importance is None else np.array(importance))
    np.testing.assert_allclose(L(ranks, logits, reduction="none"), expected, rtol=1e-12)
    # The extended labels 1[y > k] given directly: the same loss.
    levels = (ranks[:, None] > np.arange(4)[None, :]).astype(float)
    np.testing.assert_allclose(L(levels, logits, reduction="none"), expected, rtol=1e-12)


def test_coral_equals_torch_bce_with_logits_summed_over_tasks():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(21)
    ranks, logits = rng.integers(0, 4, size=30), rng.normal(0.0, 3.0, size=(30, 3))
    levels = torch.tensor((ranks[:, None] > np.arange(3)[None, :]).astype(float))
    weight = torch.tensor([0.5, 1.0, 2.0])
    # coral-pytorch's coral_loss is this sum with importance weights, then the batch mean.
    expected = F.binary_cross_entropy_with_logits(torch.tensor(logits), levels, weight=weight, reduction="none")
    got = ll.coral(ranks, logits, importance_weights=[0.5, 1.0, 2.0])
    assert got == pytest.approx(float(expected.sum(dim=1).mean()), rel=1e-12)


def test_coral_stays_finite_for_extreme_logits():
    # softplus(1000) = 1000, not inf: the rank 0 sample with logits 1000 pays 3·1000.
    value = ll.coral([0], [[1000.0, 1000.0, 1000.0]])
    assert value == pytest.approx(3000.0, rel=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ll.coral([4], [[0.0, 0.0, 0.0]]), "y_true must hold integer ranks in 0 … 3"),
        (lambda: ll.coral([1.5], [[0.0, 0.0, 0.0]]), "y_true must hold integer ranks"),
        (lambda: ll.coral([1], [0.0, 0.0, 0.0]), "y_pred must hold K − 1 logits"),
        (lambda: ll.coral([[1.0, 2.0, 0.0]], [[0.0, 0.0, 0.0]]), "y_true must hold extended labels"),
        (lambda: ll.coral([1], [[0.0, 0.0, 0.0]], importance_weights=[1.0, 1.0]), "importance_weights has 2"),
        (lambda: ll.CORAL(importance_weights=[1.0, -1.0]), "importance_weights must be"),
    ],
)
def test_coral_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -------------------------------------------------------------------------- generalized_kl
def _unnormalised(seed, n=25, c=6):
    rng = np.random.default_rng(seed)
    p = rng.lognormal(0.0, 1.0, size=(n, c)) * (rng.uniform(size=(n, c)) > 0.25)
    return p, rng.lognormal(0.0, 1.0, size=(n, c))


def test_generalized_kl_equals_its_formula_on_q_and_on_log_q():
    p, q = _unnormalised(30)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p / q), 0.0)  # 0·log 0 = 0
    expected = (plogp - p + q).sum(axis=1)
    np.testing.assert_allclose(ll.generalized_kl(p, q, reduction="none"), expected, rtol=1e-12)
    # Optax's names: log q in, the same number.
    np.testing.assert_allclose(ll.get("generalized_kl_divergence")(p, np.log(q), reduction="none"), expected,
                               rtol=1e-12)
    assert ll.get("convex_kl_divergence") == ll.GeneralizedKL(log_input=True)


def test_generalized_kl_relations():
    rng = np.random.default_rng(31)
    # Rows that sum to 1: the KL divergence.
    p, q = rng.dirichlet(np.ones(5), size=10), rng.dirichlet(np.ones(5), size=10)
    np.testing.assert_allclose(ll.generalized_kl(p, q, reduction="none"), ll.kl_divergence(p, q, reduction="none"),
                               rtol=1e-10)
    # Each entry is half the Poisson deviance.
    p, q = _unnormalised(32)
    half_deviance = 0.5 * ll.tweedie(p.ravel(), q.ravel(), power=1.0, reduction="none").reshape(p.shape).sum(axis=1)
    np.testing.assert_allclose(ll.generalized_kl(p, q, reduction="none"), half_deviance, rtol=1e-12)


def test_generalized_kl_equals_optax():
    optax = pytest.importorskip("optax")
    p, q = _unnormalised(33)
    expected = np.asarray(optax.losses.generalized_kl_divergence(np.log(q), p))
    np.testing.assert_allclose(ll.get("generalized_kl_divergence")(p, np.log(q), reduction="none"), expected,
                               rtol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ll.generalized_kl([[1.0, 2.0]], [[0.0, 1.0]]), "y_pred must hold positive predictions.*log_input"),
        (lambda: ll.generalized_kl([[-1.0, 2.0]], [[1.0, 1.0]]), "y_true must hold non-negative"),
        (lambda: ll.generalized_kl([1.0, 2.0], [1.0, 1.0]), "y_pred must be rows"),
    ],
)
def test_generalized_kl_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------------- mmd
def _gaussian_gram(u, v, sigmas):
    squared = ((u[:, None, :] - v[None, :, :]) ** 2).sum(axis=-1)
    return sum(np.exp(-squared / (2 * s * s)) for s in sigmas)


def _clouds(seed, n=9, m=12):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(0.7, 1.3, size=(m, 3))


@pytest.mark.parametrize("sigma", [1.0, [0.5, 1.0, 4.0]])
def test_mmd_equals_gretton_biased_and_unbiased_statistics(sigma):
    x, y = _clouds(40)
    n, m = len(x), len(y)
    sigmas = sigma if isinstance(sigma, list) else [sigma]
    kxx, kyy, kxy = (_gaussian_gram(u, v, sigmas) for u, v in ((x, x), (y, y), (x, y)))
    # Gretton et al. (2012): MMD²_b (eq. 5) and MMD²_u (eq. 3), written out.
    biased = kxx.sum() / n**2 + kyy.sum() / m**2 - 2 * kxy.sum() / (n * m)
    unbiased = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                - 2 * kxy.sum() / (n * m))
    assert ll.mmd(x, y, sigma=sigma) == pytest.approx(biased, rel=1e-12)
    assert ll.mmd(x, y, sigma=sigma, estimator="unbiased") == pytest.approx(unbiased, rel=1e-12)
    # Uniform masses given explicitly change nothing; weighted masses are the weighted V-statistic.
    assert ll.mmd(x, y, sigma=sigma, a=np.full(n, 1 / n), b=np.full(m, 1 / m)) == pytest.approx(biased, rel=1e-12)
    rng = np.random.default_rng(41)
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    assert ll.mmd(x, y, sigma=sigma, a=a, b=b) == pytest.approx(a @ kxx @ a + b @ kyy @ b - 2 * a @ kxy @ b,
                                                                 rel=1e-12)


def test_mmd_worked_example_and_identical_clouds():
    # One point each, σ = 1, distance 1: k = 1 + 1 − 2e^{−1/2}.
    assert ll.mmd([[0.0]], [[1.0]]) == pytest.approx(2 - 2 * math.exp(-0.5), rel=1e-14)
    x, _ = _clouds(42)
    assert ll.mmd(x, x) == pytest.approx(0.0, abs=1e-15)
    assert np.allclose(ll.MMD().gradient(x, x), 0.0, atol=1e-15)


def test_mmd_stays_finite_for_far_apart_clouds():
    # Every cross kernel is 0 (and ‖x − y‖² overflows): the biased MMD² is Σa_ia_jk(x_i, x_j) + Σb_ib_jk(y_i, y_j),
    # here 1/2 + 1/2 for two points per cloud, far apart within each cloud too; no gradient, no curvature.
    x, y = np.array([[0.0], [1e3]]), np.array([[1e200], [-1e200]])
    L = ll.MMD()
    assert L(x, y) == pytest.approx(1.0, rel=1e-15)
    assert np.all(L.gradient(x, y) == 0) and np.all(np.isfinite(L.hessian(x, y)))


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_gradient_and_hessian_equal_torch_second_derivatives(estimator):
    x, y = _clouds(43, n=6, m=7)
    rng = np.random.default_rng(44)
    a, b = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(7))
    L = ll.MMD(sigma=[0.7, 2.0], estimator=estimator)
    torch = pytest.importorskip("torch")
    X = torch.tensor(x, requires_grad=True)
    value = L(X, torch.tensor(y), a=torch.tensor(a), b=torch.tensor(b), sample_weight=torch.tensor([2.5]),
              reduction="sum")
    (grad,) = torch.autograd.grad(value, X, create_graph=True)
    hess = np.array([[torch.autograd.grad(grad[i, j], X, retain_graph=True)[0][i, j].item() for j in range(3)]
                     for i in range(6)])
    np.testing.assert_allclose(L.gradient(x, y, a=a, b=b, sample_weight=[2.5], reduction="sum"),
                               grad.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(L.hessian(x, y, a=a, b=b, sample_weight=[2.5], reduction="sum"), hess,
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ll.MMD(sigma=0.0), "sigma must be"),
        (lambda: ll.MMD(sigma=[]), "sigma must be"),
        (lambda: ll.MMD(sigma=[1.0, -2.0]), "sigma must be"),
        (lambda: ll.MMD(estimator="linear"), "estimator must be one of"),
        (lambda: ll.mmd([[0.0]], [[1.0], [2.0]], estimator="unbiased"), "a: the unbiased MMD needs"),
        (lambda: ll.mmd([[0.0], [1.0]], [[1.0], [2.0]], a=[0.5, 0.6]), "a must sum to 1"),
        (lambda: ll.mmd([[0.0, 1.0]], [[1.0]]), "y must have the width of x"),
    ],
)
def test_mmd_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
