"""Cases for losses/probabilistic.py."""

from __future__ import annotations


import losslab as ll

from . import Case, positive_pairs, real_pairs, softmax_rows


def _counts(rng, n):
    return (rng.poisson(3.0, size=n).astype(float), rng.lognormal(1.0, 0.5, size=n)), {}


def _counts_log(rng, n):
    return (rng.poisson(3.0, size=n).astype(float), rng.normal(1.0, 0.5, size=n)), {}


def _gaussian(rng, n):
    (y_true, y_pred), _ = real_pairs(rng, n)
    return (y_true, y_pred), {"var": rng.lognormal(0.0, 0.5, size=n)}


def _rows(rng, n):
    return (softmax_rows(rng, n, 4), softmax_rows(rng, n, 4)), {}


def _binary_probs(rng, n):
    return (rng.integers(0, 2, size=n).astype(float), rng.uniform(0.05, 0.95, size=n)), {}


def _multiclass_indices(rng, n):
    return (rng.integers(0, 4, size=n).astype(float), softmax_rows(rng, n, 4)), {}


CASES = [
    Case("poisson", ll.Poisson(), _counts),
    Case("poisson-log_input", ll.Poisson(log_input=True), _counts_log),
    Case("gamma_deviance", ll.GammaDeviance(), positive_pairs),
    Case("tweedie-1.5", ll.Tweedie(), _counts),
    Case("tweedie-0", ll.Tweedie(power=0.0), real_pairs),
    Case("tweedie-1", ll.Tweedie(power=1.0), _counts),
    Case("tweedie-2", ll.Tweedie(power=2.0), positive_pairs),
    Case("tweedie-3", ll.Tweedie(power=3.0), positive_pairs),
    Case("gaussian_nll", ll.GaussianNLL(), _gaussian),
    Case("gaussian_nll-full", ll.GaussianNLL(full=True), _gaussian),
    Case("kl_divergence", ll.KLDivergence(), _rows),
    Case("js_divergence", ll.JSDivergence(), _rows),
    Case("brier-binary", ll.Brier(), _binary_probs),
    Case("brier-multiclass", ll.Brier(), _multiclass_indices),
]
