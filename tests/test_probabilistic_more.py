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
