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


# ------------------------------------------------------------------------- multi_quantile
def test_multi_quantile_is_the_mean_of_sklearn_pinball_over_levels():
    from sklearn.metrics import mean_pinball_loss

    rng = np.random.default_rng(3)
    levels = [0.05, 0.3, 0.5, 0.95]
    y = rng.normal(size=40)
    pred = rng.normal(size=(40, len(levels)))
    expected = np.mean([mean_pinball_loss(y, pred[:, j], alpha=q) for j, q in enumerate(levels)])
    assert ll.multi_quantile(y, pred, quantiles=levels) == pytest.approx(expected, rel=1e-12)
    # Koenker & Bassett's check function ρ_q(u) = u(q − 1(u < 0)), u = y − ŷ, per level, averaged.
    u = y[:, None] - pred
    per_sample = np.mean(u * (np.array(levels) - (u < 0)), axis=1)
    np.testing.assert_allclose(ll.multi_quantile(y, pred, quantiles=levels, reduction="none"), per_sample,
                               rtol=1e-12)
    # y_true may be a column.
    assert ll.multi_quantile(y[:, None], pred, quantiles=levels) == pytest.approx(expected, rel=1e-12)


def test_multi_quantile_gradient_and_one_level():
    rng = np.random.default_rng(4)
    levels = np.array([0.2, 0.9])
    y, pred = rng.normal(size=25), rng.normal(size=(25, 2))
    r = pred - y[:, None]
    # ∂/∂ŷ_j: (1 − q_j)/Q above, −q_j/Q below (by hand).
    np.testing.assert_allclose(ll.MultiQuantile(quantiles=levels.tolist()).gradient(y, pred, reduction="sum"),
                               np.where(r > 0, 1 - levels, -levels) / 2)
    # One level is quantile(q).
    assert ll.multi_quantile(y, pred[:, :1], quantiles=[0.2]) == pytest.approx(ll.quantile(y, pred[:, 0], q=0.2))


def test_multi_quantile_columns_estimate_their_quantiles():
    # Fitting one constant per column: each lands on its level's empirical quantile (inverted CDF).
    from scipy.optimize import minimize

    y = np.random.default_rng(5).lognormal(size=101)
    levels = [0.1, 0.5, 0.9]
    L = ll.MultiQuantile(quantiles=levels)
    start = np.full(3, np.mean(y))
    fit = minimize(lambda c: float(L(y, np.tile(c, (len(y), 1)))), start, method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}).x
    np.testing.assert_allclose(fit, np.quantile(y, levels, method="inverted_cdf"), atol=1e-4)


def test_multi_quantile_rejects_bad_levels_and_shapes():
    for bad in ([], [0.0, 0.5], [0.5, 1.0], [0.5, 0.5], 0.5, ["a"]):
        with pytest.raises(ValueError, match="quantiles"):
            ll.MultiQuantile(quantiles=bad)
    with pytest.raises(ValueError, match="y_pred must have shape"):
        ll.multi_quantile([1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]])  # 2 columns for 3 levels
    with pytest.raises(ValueError, match="y_true must have shape"):
        ll.multi_quantile([1.0, 2.0, 3.0], [[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])


# --------------------------------------------------------------- scikit-learn metric names
def _sklearn_cases():
    """(losslab name, losslab params, scikit-learn metric name, its keywords, y_true, y_pred) on
    random data in each metric's domain (seeded)."""
    rng = np.random.default_rng(6)
    real_y, real_p = rng.normal(size=50), rng.normal(size=50)
    pos_y, pos_p = rng.lognormal(size=50), rng.lognormal(size=50)
    counts = rng.poisson(2.0, size=50).astype(float)
    labels, probs = rng.integers(0, 2, size=50).astype(float), rng.uniform(size=50)
    return [
        ("mean_squared_error", {}, "mean_squared_error", {}, real_y, real_p),
        ("mean_absolute_error", {}, "mean_absolute_error", {}, real_y, real_p),
        ("mean_pinball_loss", {}, "mean_pinball_loss", {}, real_y, real_p),
        ("mean_pinball_loss", {"q": 0.9}, "mean_pinball_loss", {"alpha": 0.9}, real_y, real_p),
        ("mean_tweedie_deviance", {}, "mean_tweedie_deviance", {}, real_y, real_p),
        ("mean_tweedie_deviance", {"power": 1.5}, "mean_tweedie_deviance", {"power": 1.5}, counts, pos_p),
        ("mean_tweedie_deviance", {"power": 3.0}, "mean_tweedie_deviance", {"power": 3.0}, pos_y, pos_p),
        ("mean_poisson_deviance", {}, "mean_poisson_deviance", {}, counts, pos_p),
        ("mean_gamma_deviance", {}, "mean_gamma_deviance", {}, pos_y, pos_p),
        ("mean_squared_log_error", {}, "mean_squared_log_error", {}, pos_y, pos_p),
        ("brier_score_loss", {}, "brier_score_loss", {}, labels, probs),
    ]


@pytest.mark.parametrize("name, params, metric, kwargs, y, p", _sklearn_cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_sklearn_metric_names_equal_the_metrics(name, params, metric, kwargs, y, p):
    import sklearn.metrics as M

    L = ll.get(name, **params)
    assert float(L(y, p)) == pytest.approx(getattr(M, metric)(y, p, **kwargs), rel=1e-12)
    # With sample weights: scikit-learn's weighted average is losslab's weighted mean.
    w = np.random.default_rng(7).uniform(0.1, 3.0, size=len(y))
    assert float(L(y, p, sample_weight=w)) == pytest.approx(getattr(M, metric)(y, p, sample_weight=w, **kwargs),
                                                           rel=1e-12)


def test_sklearn_tweedie_names_carry_sklearns_defaults():
    assert ll.get("mean_tweedie_deviance").params == {"power": 0.0}
    assert ll.get("mean_poisson_deviance").params == {"power": 1.0}
    assert ll.get("mean_gamma_deviance") == ll.GammaDeviance()
    assert ll.get("mean_pinball_loss") == ll.Quantile(q=0.5)
