"""Cases for losses/regression.py."""

from __future__ import annotations

import math


import losslab as ll

from . import Case, away_from, positive_pairs, real_pairs


def _residual_away(kinks):
    def make(rng, n):
        (y_true, y_pred), _ = real_pairs(rng, n)
        r = away_from(y_pred - y_true, kinks)
        return (y_true, y_true + r), {}

    return make


def _nonzero_targets(rng, n):
    y_true = rng.choice([-1.0, 1.0], size=n) * (1.0 + rng.lognormal(0, 1, size=n))
    return (y_true, away_from(y_true + rng.normal(0, 2, size=n), [0.0]) + 0.0), {}


def _mape_inputs(rng, n):
    y_true = rng.choice([-1.0, 1.0], size=n) * (1.0 + rng.lognormal(0, 1, size=n))
    r = away_from(rng.normal(0, 2, size=n), [0.0])
    return (y_true, y_true + r), {}


CASES = [
    Case("mse", ll.MSE(), real_pairs),
    Case("mse-2d", ll.MSE(), lambda rng, n: real_pairs(rng, n, (3,))),
    Case("mae", ll.MAE(), _residual_away([0.0])),
    Case("huber", ll.Huber(), _residual_away([0.0, -1.0, 1.0])),
    Case("huber-delta0.3", ll.Huber(delta=0.3), _residual_away([-0.3, 0.3])),
    Case("smooth_l1-beta0.5", ll.SmoothL1(beta=0.5), _residual_away([-0.5, 0.5])),
    Case("smooth_l1", ll.SmoothL1(), _residual_away([-1.0, 1.0])),
    Case("pseudo_huber", ll.get("pseudo_huber", delta=0.7), real_pairs),
    Case("log_cosh", ll.LogCosh(), real_pairs),
    Case("quantile", ll.Quantile(), _residual_away([0.0])),
    Case("quantile-0.9", ll.Quantile(q=0.9), _residual_away([0.0])),
    Case("epsilon_insensitive", ll.EpsilonInsensitive(), _residual_away([-0.1, 0.1])),
    Case("squared_epsilon_insensitive-0.5", ll.SquaredEpsilonInsensitive(epsilon=0.5), _residual_away([-0.5, 0.5])),
    Case("msle", ll.MSLE(), positive_pairs),
    Case("mape", ll.MAPE(), _mape_inputs),
    Case("cauchy", ll.Cauchy(), real_pairs),
    Case("cauchy-scale2", ll.Cauchy(scale=2.0), real_pairs),
    Case("tukey", ll.Tukey(), _residual_away([-4.685, 4.685])),
    Case("tukey-c1", ll.Tukey(c=1.0), _residual_away([-1.0, 1.0])),
    *[
        Case(f"barron-alpha{a:g}", ll.Barron(alpha=a, scale=1.5), real_pairs)
        for a in (2.0, 1.0, 0.0, -2.0, -math.inf, 0.5, 3.0, 1.999)
    ],
]
