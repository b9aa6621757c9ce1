"""Cases for losses/probabilistic.py: inputs drawn from the declared domains (tests/domains.py)."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case, softmax_rows


def _variances(rng, shape):
    # gaussian_nll's per-call var > 0 is a keyword, not one of the declared domains.
    return {"var": rng.lognormal(0.0, 0.5, size=shape)}


def _scales(rng, shape):
    # laplace_nll's, student_t_nll's and crps_gaussian's per-call scale > 0, like gaussian_nll's var.
    return {"scale": rng.lognormal(0.0, 0.5, size=shape)}


def _log_distributions(rng, n):
    # log_target=True: y_true holds log-probability rows, −inf where a class has probability 0
    # (a third of the rows one-hot); the declared (−inf, 0] of a class axis is drawn as
    # predictions only, never as targets.
    p = softmax_rows(rng, n, 4)
    p[::3] = np.eye(4)[rng.integers(0, 4, size=len(p[::3]))]
    with np.errstate(divide="ignore"):
        y_true = np.log(p)
    return (y_true, np.log(softmax_rows(rng, n, 4))), {}


def _multiclass_indices(rng, n):
    # Brier declares event_ndim 0 (its binary form); the class axis it also accepts is
    # optional, so the declarations do not say when to draw one.
    return (rng.integers(0, 4, size=n).astype(float), softmax_rows(rng, n, 4)), {}


CASES = [
    Case("poisson", ll.Poisson()),
    Case("poisson-log_input", ll.Poisson(log_input=True)),
    Case("negative_binomial_nll", ll.NegativeBinomialNLL()),
    Case("negative_binomial_nll-alpha0.2", ll.NegativeBinomialNLL(alpha=0.2)),
    Case("negative_binomial_nll-full", ll.NegativeBinomialNLL(alpha=2.0, full=True)),
    Case("gamma_deviance", ll.GammaDeviance()),
    Case("tweedie-1.5", ll.Tweedie()),
    Case("tweedie-0", ll.Tweedie(power=0.0)),
    Case("tweedie-1", ll.Tweedie(power=1.0)),
    Case("tweedie-2", ll.Tweedie(power=2.0)),
    Case("tweedie-3", ll.Tweedie(power=3.0)),
    Case("gaussian_nll", ll.GaussianNLL(), domain={"options": _variances}),
    Case("gaussian_nll-full", ll.GaussianNLL(full=True), domain={"options": _variances}),
    Case("laplace_nll", ll.LaplaceNLL(), domain={"options": _scales, "away_from_residual": (0.0,)}),
    Case("laplace_nll-full", ll.LaplaceNLL(full=True), domain={"options": _scales, "away_from_residual": (0.0,)}),
    Case("student_t_nll", ll.StudentTNLL(), domain={"options": _scales}),
    Case("student_t_nll-df1-full", ll.StudentTNLL(df=1.0, full=True), domain={"options": _scales}),
    Case("student_t_nll-df30", ll.StudentTNLL(df=30.0), domain={"options": _scales}),
    Case("crps_gaussian", ll.CRPSGaussian(), domain={"options": _scales}),
    Case("kl_divergence", ll.KLDivergence(), domain={"target": "distribution"}),
    Case("kl_divergence-log_input", ll.KLDivergence(log_input=True), domain={"target": "distribution"}),
    Case("kl_divergence-log_targets", ll.get("kl_divergence_with_log_targets"), _log_distributions),
    Case("poisson-full", ll.Poisson(full=True)),
    Case("poisson-log_input-full", ll.Poisson(log_input=True, full=True)),
    Case("js_divergence", ll.JSDivergence(), domain={"target": "distribution"}),
    Case("brier-binary", ll.Brier()),
    Case("brier-multiclass", ll.Brier(), _multiclass_indices),
]
