"""Reference tests of the regression losses added for issue 13 (expectile, multi_quantile)
and of the scikit-learn metric names that resolve to regression and probabilistic losses.

Where each expected number comes from is said next to it: the paper's formula evaluated
in NumPy here, a closed form worked by hand, or scikit-learn evaluated in the test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import losslab as ll


# ------------------------------------------------------------------------------ expectile
def _newey_powell(y, yhat, tau):
    # Newey & Powell (1987), eq. (2): ρ_τ(u) = |τ − 1(u < 0)|·u², u = y − ŷ.
    u = np.asarray(y, float) - np.asarray(yhat, float)
    return np.abs(tau - (u < 0)) * u**2


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.8])
def test_expectile_matches_newey_powell(tau):
    rng = np.random.default_rng(0)
    y, yhat = rng.normal(size=50), rng.normal(size=50)
    np.testing.assert_allclose(ll.expectile(y, yhat, tau=tau, reduction="none"), _newey_powell(y, yhat, tau))
    # The gradient of the "sum" is 2|τ − 1(u < 0)|·(ŷ − y), differentiated by hand.
    np.testing.assert_allclose(ll.Expectile(tau=tau).gradient(y, yhat, reduction="sum"),
                               2 * np.abs(tau - (y - yhat < 0)) * (yhat - y))


def test_expectile_at_one_half_is_half_the_mse():
    rng = np.random.default_rng(1)
    y, yhat = rng.normal(size=30), rng.normal(size=30)
    assert ll.expectile(y, yhat) == pytest.approx(0.5 * ll.mse(y, yhat), rel=1e-12)


@pytest.mark.parametrize("tau", [0.2, 0.5, 0.9])
def test_expectile_best_constant_is_the_tau_expectile(tau):
    # The τ-expectile c solves τ·Σ(y − c)⁺ = (1 − τ)·Σ(c − y)⁺ (the first-order condition);
    # found here by bisection on that equation alone, then compared with the loss's argmin.
    y = np.random.default_rng(2).lognormal(size=201)
    lo, hi = y.min(), y.max()
    for _ in range(200):
        c = 0.5 * (lo + hi)
        if tau * np.maximum(y - c, 0).sum() > (1 - tau) * np.maximum(c - y, 0).sum():
            lo = c
        else:
            hi = c
    L = ll.Expectile(tau=tau)
    fit = minimize_scalar(lambda k: float(L(y, np.full_like(y, k))), bounds=(y.min(), y.max()), method="bounded",
                          options={"xatol": 1e-10}).x
    assert fit == pytest.approx(c, abs=1e-6)
    if tau == 0.5:
        assert fit == pytest.approx(np.mean(y), abs=1e-6)


def test_expectile_rejects_a_bad_tau():
    for bad in (0.0, 1.0, -0.2, float("nan")):
        with pytest.raises(ValueError, match="tau"):
            ll.Expectile(tau=bad)
