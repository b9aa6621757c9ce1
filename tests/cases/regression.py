"""Cases for losses/regression.py: inputs drawn from the declared domains (tests/domains.py),
residuals kept away from each loss's kinks (the points where ρ′ or ρ″ jumps)."""

from __future__ import annotations

import math

import numpy as np

import losslab as ll

from . import Case


def _quantile_columns(levels):
    # multi_quantile: y_true (N,) against y_pred (N, Q), one column per level; the class axis
    # that draw() knows is over classes, not levels. Residuals kept 0.05 from the kink at 0.
    def make(rng, n):
        y_true = rng.normal(0.0, 2.0, size=n)
        r = rng.normal(0.0, 2.0, size=(n, len(levels)))
        r = np.where(np.abs(r) < 0.05, np.where(r >= 0, 0.05, -0.05), r)
        return (y_true, y_true[:, None] + r), {}

    return make


def _kinks(*points):
    return {"away_from_residual": points}


CASES = [
    Case("mse", ll.MSE()),
    Case("mse-2d", ll.MSE(), domain={"shape": (3,)}),
    Case("mae", ll.MAE(), domain=_kinks(0.0)),
    Case("huber", ll.Huber(), domain=_kinks(-1.0, 1.0)),
    Case("huber-delta0.3", ll.Huber(delta=0.3), domain=_kinks(-0.3, 0.3)),
    Case("smooth_l1-beta0.5", ll.SmoothL1(beta=0.5), domain=_kinks(-0.5, 0.5)),
    Case("smooth_l1", ll.SmoothL1(), domain=_kinks(-1.0, 1.0)),
    Case("pseudo_huber", ll.get("pseudo_huber", delta=0.7)),
    Case("log_cosh", ll.LogCosh()),
    Case("quantile", ll.Quantile(), domain=_kinks(0.0)),
    Case("quantile-0.9", ll.Quantile(q=0.9), domain=_kinks(0.0)),
    Case("expectile", ll.Expectile()),
    # τ ≠ ½: the Hessian jumps at r = 0 (2τ below, 2(1 − τ) above).
    Case("expectile-0.8", ll.Expectile(tau=0.8), domain=_kinks(0.0)),
    Case("multi_quantile", ll.MultiQuantile(), _quantile_columns((0.1, 0.5, 0.9))),
    Case("multi_quantile-2", ll.MultiQuantile(quantiles=[0.05, 0.7]), _quantile_columns((0.05, 0.7))),
    Case("epsilon_insensitive", ll.EpsilonInsensitive(), domain=_kinks(-0.1, 0.1)),
    Case("squared_epsilon_insensitive-0.5", ll.SquaredEpsilonInsensitive(epsilon=0.5), domain=_kinks(-0.5, 0.5)),
    Case("msle", ll.MSLE()),
    Case("mape", ll.MAPE(), domain=_kinks(0.0)),
    Case("cauchy", ll.Cauchy()),
    Case("cauchy-scale2", ll.Cauchy(scale=2.0)),
    # Tukey is C² (ρ″ = 0 on both sides of ±c); its third derivative jumps there, which the
    # finite differences of the Hessian (step ~1e-3) would see, so the draws keep away.
    Case("tukey", ll.Tukey(), domain=_kinks(-4.685, 4.685)),
    Case("tukey-c1", ll.Tukey(c=1.0), domain=_kinks(-1.0, 1.0)),
    *[
        Case(f"barron-alpha{a:g}", ll.Barron(alpha=a, scale=1.5))
        for a in (2.0, 1.0, 0.0, -2.0, -math.inf, 0.5, 3.0, 1.999)
    ],
]
