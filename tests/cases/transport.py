"""Cases for losses/transport.py: one sample per call (two whole distributions). Hand-written:
two samples of different sizes with optional weights per sample, which the declarations do
not describe."""

from __future__ import annotations

import numpy as np

import losslab as ll

from . import Case


def _samples(weighted):
    def make(rng, n):
        u = rng.normal(0.0, 1.0, size=n)
        v = rng.normal(0.5, 1.5, size=n + 3)
        # Keep every v away from every u: |v − u| is kinked where they cross.
        for k in range(v.size):
            while np.min(np.abs(v[k] - u)) < 0.02:
                v[k] = rng.normal(0.5, 1.5)
        options = {"u_weights": rng.uniform(0.5, 2.0, size=n), "v_weights": rng.uniform(0.5, 2.0, size=n + 3)}
        return (u, v), (options if weighted else {})

    return make


def _clouds(weighted):
    def make(rng, n):
        x = rng.normal(size=(n, 2))
        y = rng.normal(1.0, 1.0, size=(n + 2, 2))
        if not weighted:
            return (x, y), {}
        a, b = rng.uniform(0.5, 2.0, size=n), rng.uniform(0.5, 2.0, size=n + 2)
        return (x, y), {"a": a / a.sum(), "b": b / b.sum()}

    return make


CASES = [
    Case("wasserstein_1d", ll.Wasserstein1D(), _samples(False), has_hessian=False),
    Case("wasserstein_1d-weighted", ll.Wasserstein1D(), _samples(True), has_hessian=False),
    # tol far below the finite-difference step, so that the oracle sees a converged value.
    Case("sinkhorn", ll.Sinkhorn(epsilon=0.5, tol=1e-13), _clouds(False), has_hessian=False),
    Case("sinkhorn-epsilon_scaling", ll.Sinkhorn(epsilon=0.2, tol=1e-13, epsilon_scaling=0.7), _clouds(False),
         has_hessian=False),
    Case("sinkhorn-euclidean-weighted", ll.Sinkhorn(epsilon=0.2, cost="euclidean", tol=1e-13), _clouds(True),
         has_hessian=False),
    # mmd's Hessian diagonal is checked against PyTorch in test_survival_and_ordinal.py: the
    # generic oracle differences a coordinate of every point at once (valid for separable losses).
    Case("mmd", ll.MMD(sigma=1.5), _clouds(False), has_hessian=False),
    Case("mmd-unbiased-bandwidths-weighted", ll.MMD(sigma=[0.5, 2.0], estimator="unbiased"), _clouds(True),
         has_hessian=False),
]
