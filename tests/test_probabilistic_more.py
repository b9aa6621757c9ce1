"""Reference tests of the probabilistic losses added for issue 13.

Each value is compared with an independent evaluation: SciPy's distributions (``logpdf``,
``logpmf``), the paper's closed form written here in NumPy, or PyTorch's own function when
it is installed (skipped cleanly otherwise).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import losslab as ll


def _data(seed, n=40):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 2.0, size=n), rng.normal(0.0, 2.0, size=n), rng.lognormal(0.0, 0.5, size=n)


# ------------------------------------------------------------------------------ laplace_nll
def test_laplace_nll_full_is_minus_scipy_logpdf():
    y, mu, b = _data(0)
    expected = -stats.laplace.logpdf(y, loc=mu, scale=b)
    np.testing.assert_allclose(ll.laplace_nll(y, mu, scale=b, full=True, reduction="none"), expected, rtol=1e-12)
    # full=False drops log 2 only, as gaussian_nll drops ½ log 2π.
    np.testing.assert_allclose(ll.laplace_nll(y, mu, scale=b, reduction="none"), expected - math.log(2.0), rtol=1e-12)


def test_laplace_nll_gradient_and_scalar_scale():
    y, mu, b = _data(1)
    # ∂/∂μ of log b + |μ − y|/b is sign(μ − y)/b (by hand).
    np.testing.assert_allclose(ll.LaplaceNLL().gradient(y, mu, scale=b, reduction="sum"), np.sign(mu - y) / b)
    # A number broadcasts: scale=1 is mae plus log 1 = 0.
    assert ll.laplace_nll(y, mu, scale=1.0) == pytest.approx(ll.mae(y, mu), rel=1e-12)


def test_laplace_nll_agrees_with_torch():
    torch = pytest.importorskip("torch")
    y, mu, b = _data(2)
    t = [torch.tensor(a) for a in (y, mu, b)]
    expected = -torch.distributions.Laplace(t[1], t[2]).log_prob(t[0]).numpy()
    np.testing.assert_allclose(ll.laplace_nll(y, mu, scale=b, full=True, reduction="none"), expected, rtol=1e-12)


# ---------------------------------------------------------------------------- student_t_nll
@pytest.mark.parametrize("df", [0.5, 1.0, 3.0, 30.0])
def test_student_t_nll_full_is_minus_scipy_logpdf(df):
    y, mu, s = _data(3)
    expected = -stats.t.logpdf(y, df, loc=mu, scale=s)
    L = ll.StudentTNLL(df=df, full=True)
    np.testing.assert_allclose(L(y, mu, scale=s, reduction="none"), expected, rtol=1e-12)
    # full=False drops log Γ(ν/2) − log Γ((ν+1)/2) + ½ log(νπ), a constant of ν alone.
    constant = math.lgamma(df / 2) - math.lgamma((df + 1) / 2) + 0.5 * math.log(df * math.pi)
    np.testing.assert_allclose(ll.StudentTNLL(df=df)(y, mu, scale=s, reduction="none"), expected - constant,
                               rtol=1e-10, atol=1e-12)


def test_student_t_nll_gradient_by_hand_and_against_torch():
    torch = pytest.importorskip("torch")
    y, mu, s = _data(4)
    df = 4.0
    r = mu - y
    # ∂/∂μ: (ν + 1) r / (ν s² + r²), by hand.
    np.testing.assert_allclose(ll.StudentTNLL(df=df).gradient(y, mu, scale=s, reduction="sum"),
                               (df + 1) * r / (df * s**2 + r**2), rtol=1e-12)
    loc = torch.tensor(mu, requires_grad=True)
    nll = -torch.distributions.StudentT(df, loc, torch.tensor(s)).log_prob(torch.tensor(y))
    nll.sum().backward()
    np.testing.assert_allclose(ll.student_t_nll(y, mu, scale=s, df=df, full=True, reduction="none"),
                               nll.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ll.StudentTNLL(df=df).gradient(y, mu, scale=s, reduction="sum"),
                               loc.grad.numpy(), rtol=1e-12)


def test_student_t_with_one_df_is_cauchy_and_tends_to_gaussian():
    y, mu, s = _data(5)
    c = 1.7
    # df = 1: log c + log(1 + (r/c)²) = log c + 2·cauchy(scale=c)/c².
    np.testing.assert_allclose(
        ll.student_t_nll(y, mu, scale=c, df=1.0, reduction="none"),
        math.log(c) + 2.0 * ll.cauchy(y, mu, scale=c, reduction="none") / c**2, rtol=1e-12)
    # df → ∞: gaussian_nll with var = s² (both full); at df = 1e7 within 1e-5.
    np.testing.assert_allclose(ll.student_t_nll(y, mu, scale=s, df=1e7, full=True, reduction="none"),
                               ll.gaussian_nll(y, mu, var=s**2, full=True, reduction="none"), rtol=1e-5)


def test_student_t_nll_stays_finite_far_out():
    # r = 1e200 would overflow r² (the textbook form): log1p_square keeps it finite.
    v = ll.student_t_nll([0.0], [1e200], scale=1.0, df=3.0)
    assert math.isfinite(v) and v == pytest.approx(2.0 * (2 * math.log(1e200) - math.log(3.0)), rel=1e-12)


# ---------------------------------------------------------------------- per-call scale errors
@pytest.mark.parametrize("name", ["laplace_nll", "student_t_nll"])
def test_scale_is_required_positive_and_of_a_matching_shape(name):
    L = ll.get(name)
    with pytest.raises(TypeError, match="scale="):
        L([0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="scale"):
        L([0.0, 1.0], [0.5, 0.5], scale=[1.0, 0.0])
    with pytest.raises(ValueError, match="scale"):
        L([0.0, 1.0], [0.5, 0.5], scale=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="scale"):
        L([0.0, 1.0], [0.5, 0.5], scale=[1.0, float("nan")])


def test_student_t_rejects_a_bad_df():
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="df"):
            ll.StudentTNLL(df=bad)


# ---------------------------------------------------------------------------- poisson(full)
def _counts(seed, n=60):
    rng = np.random.default_rng(seed)
    y = rng.poisson(3.0, size=n).astype(float)
    y[:4] = [0.0, 1.0, 2.0, 40.0]  # both sides of PyTorch's y > 1 mask
    return y, rng.normal(0.5, 1.0, size=n)


def test_poisson_full_adds_the_stirling_term_where_y_exceeds_one():
    y, x = _counts(6)
    # PyTorch's documented term: y log y − y + ½ log(2πy), masked to 0 where y ≤ 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        stirling = np.where(y > 1, y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y), 0.0)
    base = ll.poisson(y, x, log_input=True, reduction="none")
    np.testing.assert_allclose(ll.poisson(y, x, log_input=True, full=True, reduction="none"), base + stirling,
                               rtol=1e-12)
    # The term is free of y_pred: the gradient and Hessian are those of full=False.
    for method in ("gradient", "hessian"):
        np.testing.assert_array_equal(getattr(ll.Poisson(log_input=True, full=True), method)(y, x),
                                      getattr(ll.Poisson(log_input=True), method)(y, x))
    # The term approximates log y! (Stirling): within 1/(12y) of scipy's gammaln(y + 1).
    from scipy.special import gammaln

    big = y > 1
    assert np.all(np.abs(stirling[big] - gammaln(y[big] + 1)) <= 1.0 / (12 * y[big]))


def test_poisson_full_agrees_with_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    y, x = _counts(7)
    expected = F.poisson_nll_loss(torch.tensor(x), torch.tensor(y), log_input=True, full=True, reduction="none")
    np.testing.assert_allclose(ll.poisson(y, x, log_input=True, full=True, reduction="none"), expected.numpy(),
                               rtol=1e-12, atol=1e-12)
    # PoissonNLLLoss with full=True: the preset alias takes full= too.
    L = ll.get("PoissonNLLLoss", full=True)
    assert float(L(y, x)) == pytest.approx(float(torch.nn.PoissonNLLLoss(full=True)(torch.tensor(x), torch.tensor(y))),
                                           rel=1e-12)
    # The rate form: PyTorch adds eps = 1e-8 inside the log; the difference is y·1e-8/μ at most.
    mu = np.exp(x)
    ours = ll.poisson(y, mu, full=True, reduction="none")
    theirs = F.poisson_nll_loss(torch.tensor(mu), torch.tensor(y), log_input=False, full=True, reduction="none")
    np.testing.assert_allclose(ours, theirs.numpy(), atol=float(np.max(y / mu)) * 1e-8 * 1.01)


# ------------------------------------------------------------------------ kl_divergence logs
def _rows(seed, n=8, c=5, zeros=True):
    rng = np.random.default_rng(seed)
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    p, q = softmax(rng.normal(size=(n, c))), softmax(rng.normal(size=(n, c)))
    if zeros:
        p[0] = np.eye(c)[2]  # a one-hot target row: 0·log 0 = 0
    return p, q


def test_kl_divergence_forms_agree_with_scipy():
    from scipy.special import rel_entr

    p, q = _rows(8)
    expected = rel_entr(p, q).sum(axis=1)  # Σ p log(p/q), 0 where p = 0
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    np.testing.assert_allclose(ll.kl_divergence(p, q, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(ll.kl_divergence(p, np.log(q), log_input=True, reduction="none"), expected, rtol=1e-12)
    np.testing.assert_allclose(ll.kl_divergence(log_p, np.log(q), log_input=True, log_target=True, reduction="none"),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(ll.kl_divergence(log_p, q, log_target=True, reduction="none"), expected, rtol=1e-12)
    # Of log q the gradient is −p (by hand), and the Hessian 0.
    L = ll.KLDivergence(log_input=True)
    np.testing.assert_allclose(L.gradient(p, np.log(q), reduction="sum"), -p)
    np.testing.assert_array_equal(L.hessian(p, np.log(q), reduction="sum"), np.zeros_like(p))


def test_kl_divergence_with_log_targets_is_optax_formula():
    # Optax's kl_divergence_with_log_targets: Σ exp(log_t)·(log_t − log_pred) per row; Optax is
    # not installed here, so its documented formula is evaluated in NumPy (rows without zeros,
    # where Optax's exp(−inf)·(−inf) would be NaN).
    p, q = _rows(9, zeros=False)
    log_t, log_q = np.log(p), np.log(q)
    expected = np.sum(np.exp(log_t) * (log_t - log_q), axis=-1)
    L = ll.get("kl_divergence_with_log_targets")
    assert L.params == {"log_input": True, "log_target": True}
    np.testing.assert_allclose(L(log_t, log_q, reduction="none"), expected, rtol=1e-12)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_agrees_with_torch(log_target):
    torch = pytest.importorskip("torch")
    p, q = _rows(10, zeros=not log_target)  # torch gives NaN at exp(−inf)·(−inf), so no zeros there
    target = np.log(p) if log_target else p
    expected = torch.nn.functional.kl_div(torch.tensor(np.log(q)), torch.tensor(target), reduction="batchmean",
                                          log_target=log_target)
    L = ll.get("kl_divergence", log_input=True, log_target=log_target)
    assert float(L(target, np.log(q))) == pytest.approx(float(expected), rel=1e-12)
    # PyTorch's names are no aliases: their default reduction='mean' is not a KL (N·C).
    with pytest.raises(ValueError, match="not a losslab alias.*batchmean"):
        ll.get("KLDivLoss")


def test_kl_divergence_log_forms_reject_bad_rows():
    p, q = _rows(11)
    with pytest.raises(ValueError, match="y_pred"):
        ll.kl_divergence(p, q, log_input=True)  # probabilities where log-probabilities are due: > 0
    with pytest.raises(ValueError, match="exp\\(y_pred\\)"):
        ll.kl_divergence(p, np.log(q) - 0.1, log_input=True)  # rows that do not sum to 1
    with pytest.raises(ValueError, match="y_true"):
        ll.kl_divergence(p + 0.5, np.log(q), log_input=True, log_target=True)
    with pytest.raises(ValueError, match="y_pred"):
        ll.kl_divergence(p, np.where(q > 0.2, np.log(q), -np.inf), log_input=True)  # −inf log q: infinite KL


# --------------------------------------------------------------------- negative_binomial_nll
@pytest.mark.parametrize("alpha", [0.05, 0.5, 3.0])
def test_negative_binomial_nll_is_scipy_nbinom_up_to_log_gamma_terms(alpha):
    from scipy.special import gammaln

    rng = np.random.default_rng(12)
    mu = rng.lognormal(0.5, 0.8, size=50)
    y = rng.poisson(mu * rng.gamma(1 / alpha, alpha)).astype(float)
    y[:2] = [0.0, 25.0]
    # NB2 as SciPy writes it: n = 1/α successes, p = 1/(1 + αμ); mean μ, variance μ + αμ².
    exact = -stats.nbinom.logpmf(y, 1 / alpha, 1 / (1 + alpha * mu))
    log_gamma_terms = gammaln(y + 1) + gammaln(1 / alpha) - gammaln(y + 1 / alpha)
    ours = ll.negative_binomial_nll(y, mu, alpha=alpha, reduction="none")
    np.testing.assert_allclose(ours + log_gamma_terms, exact, rtol=1e-10)
    full = ll.negative_binomial_nll(y, mu, alpha=alpha, full=True, reduction="none")
    np.testing.assert_allclose(full, exact, rtol=1e-10)
    # Gradient (μ − y)/(μ(1 + αμ)), by hand.
    np.testing.assert_allclose(ll.NegativeBinomialNLL(alpha=alpha).gradient(y, mu, reduction="sum"),
                               (mu - y) / (mu * (1 + alpha * mu)), rtol=1e-12)


def test_negative_binomial_nll_tends_to_poisson_and_estimates_the_mean():
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(13)
    y = rng.poisson(4.0, size=30).astype(float)
    mu = rng.lognormal(1.0, 0.3, size=30)
    # As α → 0 the μ-dependent part is μ − y log μ: compare differences between two means.
    alpha = 1e-7
    nb = lambda m: ll.negative_binomial_nll(y, m, alpha=alpha, reduction="none")
    np.testing.assert_allclose(nb(mu) - nb(2 * mu), ll.poisson(y, mu, reduction="none") - ll.poisson(
        y, 2 * mu, reduction="none"), atol=1e-5)
    L = ll.NegativeBinomialNLL(alpha=2.0)
    best = minimize_scalar(lambda c: float(L(y, np.full_like(y, c))), bounds=(0.1, 20), method="bounded",
                           options={"xatol": 1e-10}).x
    assert best == pytest.approx(np.mean(y), rel=1e-6)


def test_negative_binomial_nll_full_on_torch_through_its_lgamma():
    torch = pytest.importorskip("torch")
    y = np.array([0.0, 1.0, 3.0, 17.0])
    mu = np.array([0.5, 1.5, 2.0, 9.0])
    ours = ll.negative_binomial_nll(torch.tensor(y), torch.tensor(mu), alpha=0.7, full=True, reduction="none")
    np.testing.assert_allclose(ours.numpy(), -stats.nbinom.logpmf(y, 1 / 0.7, 1 / (1 + 0.7 * mu)), rtol=1e-10)


def test_negative_binomial_nll_rejects_bad_input():
    with pytest.raises(ValueError, match="y_pred"):
        ll.negative_binomial_nll([1.0], [0.0])
    with pytest.raises(ValueError, match="y_true"):
        ll.negative_binomial_nll([-1.0], [1.0])
    with pytest.raises(ValueError, match="alpha"):
        ll.NegativeBinomialNLL(alpha=0.0)


# ------------------------------------------------------------------------------ crps_gaussian
def _crps_by_integration(y, mu, sigma):
    # The definition, CRPS = ∫ (F(x) − 1[x ≥ y])² dx with F the N(μ, σ²) CDF, integrated by
    # quadrature on both sides of y (Gneiting & Raftery 2007, eq. 20).
    from scipy.integrate import quad

    F = lambda x: stats.norm.cdf(x, mu, sigma)
    below = quad(lambda x: F(x) ** 2, -np.inf, y, epsabs=1e-13, epsrel=1e-12)[0]
    above = quad(lambda x: (1.0 - F(x)) ** 2, y, np.inf, epsabs=1e-13, epsrel=1e-12)[0]
    return below + above


def test_crps_gaussian_is_the_integral_of_its_definition():
    y, mu, s = _data(14, n=12)
    expected = [_crps_by_integration(a, b, c) for a, b, c in zip(y, mu, s)]
    np.testing.assert_allclose(ll.crps_gaussian(y, mu, scale=s, reduction="none"), expected, rtol=1e-8)


def test_crps_gaussian_gradient_limits_and_ensemble_form():
    from scipy.special import erf

    y, mu, s = _data(15)
    # ∂/∂μ = 2Φ((μ − y)/σ) − 1, by hand.
    np.testing.assert_allclose(ll.CRPSGaussian().gradient(y, mu, scale=s, reduction="sum"),
                               2 * stats.norm.cdf((mu - y) / s) - 1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ll.CRPSGaussian().gradient(y, mu, scale=s, reduction="sum"),
                               erf((mu - y) / (s * np.sqrt(2))), rtol=1e-12, atol=1e-15)
    # σ → 0: the absolute error (the σ/√π-order terms vanish).
    np.testing.assert_allclose(ll.crps_gaussian(y, mu, scale=1e-9, reduction="none"), np.abs(mu - y), atol=1e-8)
    # The ensemble (kernel) form E|X − y| − ½E|X − X′| with X ~ N(μ, σ²): Monte Carlo with
    # 400,000 draws, within 4 standard errors (about 2e-3 here).
    rng = np.random.default_rng(16)
    x, x2 = rng.normal(0.3, 1.5, size=(2, 400_000))
    mc = np.mean(np.abs(x - 1.0)) - 0.5 * np.mean(np.abs(x - x2))
    assert float(ll.crps_gaussian([1.0], [0.3], scale=1.5)) == pytest.approx(mc, abs=4e-3)


def test_crps_gaussian_agrees_with_properscoring_when_installed():
    ps = pytest.importorskip("properscoring")
    y, mu, s = _data(17)
    np.testing.assert_allclose(ll.crps_gaussian(y, mu, scale=s, reduction="none"), ps.crps_gaussian(y, mu, s),
                               rtol=1e-10)


def test_crps_gaussian_autograd_on_torch_through_its_erf():
    torch = pytest.importorskip("torch")
    y, mu, s = _data(18, n=10)
    loc = torch.tensor(mu, requires_grad=True)
    value = ll.crps_gaussian(torch.tensor(y), loc, scale=torch.tensor(s), reduction="sum")
    value.backward()
    np.testing.assert_allclose(float(value.detach()), float(ll.crps_gaussian(y, mu, scale=s, reduction="sum")), rtol=1e-12)
    np.testing.assert_allclose(loc.grad.numpy(), 2 * stats.norm.cdf((mu - y) / s) - 1, rtol=1e-10, atol=1e-15)
