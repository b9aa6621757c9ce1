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


def _survival(rng, n):
    # (times, events, risk_scores): follow-up times on a coarse grid so that event times tie
    # (Breslow and Efron differ only there), a censored share, and scores; no declaration
    # describes three arrays of which one is an indicator and one an ordering.
    times = rng.integers(0, max(2, n // 3), size=n).astype(float)
    events = (rng.uniform(size=n) < 0.7).astype(float)
    return (times, events, rng.normal(0.0, 1.5, size=n)), {}


def _ensembles(rng, n, members=5):
    # y_true (N,) and y_pred (N, M) members, each member at least 0.05 from the observation
    # and from the other members (|x − y| and |x − x′| are kinked there); the class-axis draws
    # would make class targets, not one observation per row.
    y = rng.normal(0.0, 1.0, size=n)
    x = np.empty((n, members))
    for i in range(n):
        row = []
        while len(row) < members:
            v = rng.normal(0.3, 1.5)
            if abs(v - y[i]) > 0.05 and all(abs(v - u) > 0.05 for u in row):
                row.append(v)
        x[i] = row
    return (y, x), {}


def _ordinal(levels):
    def make(rng, n, n_ranks=4):
        # Ranks 0 … K − 1 with K − 1 logits per row (a class axis one shorter than the
        # classes, which no declaration describes), or the extended labels 1[y > k] themselves.
        ranks = rng.integers(0, n_ranks, size=n)
        logits = rng.normal(0.0, 2.0, size=(n, n_ranks - 1))
        if levels:
            return ((ranks[:, None] > np.arange(n_ranks - 1)[None, :]).astype(float), logits), {}
        return (ranks.astype(float), logits), {}

    return make


def _unnormalised_rows(log_input):
    def make(rng, n):
        # Non-negative rows that do not sum to 1 (with exact zeros, 0·log 0 = 0); the
        # class-axis draws make indices or distributions only.
        p = rng.lognormal(0.0, 1.0, size=(n, 4)) * (rng.uniform(size=(n, 4)) > 0.2)
        q = rng.lognormal(0.0, 1.0, size=(n, 4))
        return (p, np.log(q) if log_input else q), {}

    return make


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
    # Non-separable (risk sets): the Hessian oracle differences all rows at once, which is
    # the diagonal only for separable losses; test_survival_and_ordinal.py checks Cox's
    # Hessian against PyTorch's exact second derivatives instead.
    Case("cox", ll.Cox(), _survival, has_hessian=False),
    Case("cox-efron", ll.Cox(ties="efron"), _survival, has_hessian=False),
    Case("crps_ensemble", ll.CRPSEnsemble(), _ensembles),
    Case("crps_ensemble-fair", ll.CRPSEnsemble(fair=True), _ensembles),
    Case("coral", ll.CORAL(), _ordinal(False)),
    Case("coral-levels-importance", ll.CORAL(importance_weights=[1.0, 0.5, 2.0]), _ordinal(True)),
    Case("generalized_kl", ll.GeneralizedKL(), _unnormalised_rows(False)),
    Case("generalized_kl-log_input", ll.get("generalized_kl_divergence"), _unnormalised_rows(True)),
]
