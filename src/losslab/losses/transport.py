"""Distances between distributions: the exact 1-D Wasserstein distance, entropic OT
(Sinkhorn) and the kernel two-sample distance (MMD).

Each compares two whole distributions, so one call is one sample: the loss has shape
(1,), a ``sample_weight`` (rarely useful) has shape (1,), and the gradient is with respect
to the second distribution's support points (v_values, x).

A use: the Wasserstein-GAN critic. By Kantorovich–Rubinstein duality
W₁(P, Q) = sup over 1-Lipschitz f of E_P f − E_Q f; a WGAN critic f maximises
mean(f(real)) − mean(f(fake)) (its loss is the negative), and the generator minimises
−mean(f(fake)). For 1-D samples ``wasserstein_1d`` is the exact value that a critic's
estimate can be checked against; ``sinkhorn`` gives a differentiable OT loss between point
clouds without a critic at all (Genevay, Peyré & Cuturi 2018).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import as_array, float_dtype, is_jax, is_numpy, is_torch, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..loss.weights import scalar as _scalar
from ..traits import Traits

_TRANSPORT = dict(task="transport")


def _weights_option(xp: Any, weights: Any, n: int, name: str, like: Any) -> Any:
    """None, or a (n,) array of weights in ``like``'s library and dtype."""
    if weights is None:
        return None
    w = as_array(weights, name)
    if not V.same_namespace(xp, w):
        w = xp.asarray(to_numpy(w), device=device(like))
    V.check_floating_or_integer(xp, w, name)
    if tuple(w.shape) != (n,):
        raise ValueError(f"{name} must have shape ({n},), one weight per value; got shape {tuple(w.shape)}")
    return xp.astype(w, like.dtype, copy=False)


def _check_weights(xp: Any, w: Any, name: str) -> None:
    if w is None:
        return
    if is_tracing(w):  # under jit: the result becomes NaN (DESIGN §7)
        V.traced_invalid(xp, ~xp.isfinite(w) | (w < 0) | (xp.sum(w) <= 0),
                         f"{name} must be finite and non-negative, with a positive sum")
        return
    V.check_finite(xp, w, name)
    lowest = V.concrete(xp.min(w))
    if lowest is not None and lowest < 0:
        raise ValueError(f"{name} must be non-negative; got min {lowest:g}")
    total = V.concrete(xp.sum(w))
    if total is not None and total <= 0:
        raise ValueError(f"{name} must have a positive sum; got {total:g}")


def _prepare_clouds(xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
    """Point clouds x (n, d) and y (m, d) in one dtype, with their masses a (n,) and b (m,)
    (uniform when not given): the input convention of sinkhorn and mmd."""
    x, y = arrays
    for name, z in (("x", x), ("y", y)):
        if z.ndim != 2 or z.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty point cloud of shape (n_points, dim); got shape {tuple(z.shape)}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y must have the width of x (points in one space); got width {y.shape[1]} and {x.shape[1]}")
    dtype = float_dtype(xp, x, y)
    x, y = xp.astype(x, dtype, copy=False), xp.astype(y, dtype, copy=False)
    a = _weights_option(xp, options.get("a"), x.shape[0], "a", x)
    b = _weights_option(xp, options.get("b"), y.shape[0], "b", y)
    if a is None:
        a = xp.full((x.shape[0],), 1.0 / x.shape[0], dtype=dtype, device=device(x))
    if b is None:
        b = xp.full((y.shape[0],), 1.0 / y.shape[0], dtype=dtype, device=device(y))
    return (x, y), {"a": a, "b": b}


def _check_probability_weights(xp: Any, options: dict) -> None:
    """a and b are probability vectors (never renormalised silently)."""
    for name in ("a", "b"):
        w = options[name]
        _check_weights(xp, w, name)
        tolerance = math.sqrt(float(xp.finfo(w.dtype).eps))
        if is_tracing(w):
            V.traced_invalid(xp, xp.abs(xp.sum(w) - 1.0) > tolerance, f"{name} must sum to 1 (a probability vector)")
            continue
        total = V.concrete(xp.sum(w))
        if total is not None and abs(total - 1.0) > tolerance:
            raise ValueError(
                f"{name} must sum to 1 (a probability vector; unbalanced transport is not supported); got sum"
                f" {total:.6g}. losslab never renormalises silently."
            )


def _detached(xp: Any, x: Any) -> Any:
    """x without its autograd history (the optimal potentials are constants: envelope theorem)."""
    if is_torch(xp):
        return x.detach()
    if is_jax(xp):
        import jax

        return jax.lax.stop_gradient(x)
    return x


@register
class Wasserstein1D(Loss):
    r"""The 1-D Wasserstein-1 (earth mover's) distance between two weighted samples.

    - Formula: :math:`W_1(u, v) = \int_{-\infty}^{\infty} |F_u(t) - F_v(t)|\,dt
      = \int_0^1 |F_u^{-1}(q) - F_v^{-1}(q)|\,dq`, with F the weighted empirical CDFs.
    - Domains: u_values (n,), v_values (m,) real; ``u_weights=``, ``v_weights=`` optional
      per call, non-negative with a positive sum (normalised, as SciPy does).
    - Gradient with respect to v_values: v_k moves its quantile pieces, so
      ∂W₁/∂v_k = Σ over the quantile intervals where v_k is v's quantile of
      Δq · sign(v_k − u's quantile) (a subgradient where they tie). No Hessian. The loss is
      one sample (shape (1,)); it is marked not separable so that large inputs are never
      cut into row blocks.
    - Estimates: v's distribution matched to u's ("other").
    - Relations: equals ``scipy.stats.wasserstein_distance(u_values, v_values, u_weights,
      v_weights)``; for equal-size unweighted samples, mean |sort(u) − sort(v)|. In WGAN
      terms (module docstring), it is the value the ideal critic attains.
    - Reference: Villani (2009), Optimal transport; Arjovsky, Chintala & Bottou (2017), WGAN.

    >>> import losslab as ll
    >>> print(ll.wasserstein_1d([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]))
    5.0

    A 1-Lipschitz critic f(x) = x separates these two samples by exactly W₁
    (mean(v) − mean(u) = 5), the supremum of the duality.
    """

    name = "wasserstein_1d"
    family = "transport"
    aliases = ("wasserstein", "earth_movers_distance", "emd_1d")
    description = "Exact 1-D Wasserstein-1 distance between weighted samples (SciPy's)."
    formula = r"\int |F_u(t) - F_v(t)|\,dt"
    inputs = ("u_values", "v_values")
    differentiable_inputs = ("v_values",)
    call_options = ("u_weights", "v_weights")
    separable = False
    TRAITS = Traits(convex=True, differentiable=False, twice_differentiable=False, lipschitz=True,
                    distance_based=True, estimates="other", **_TRANSPORT)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        u, v = arrays
        for name, x in (("u_values", u), ("v_values", v)):
            if x.ndim != 1 or x.shape[0] == 0:
                raise ValueError(f"{name} must be a non-empty 1-D sample; got shape {tuple(x.shape)}")
        dtype = float_dtype(xp, u, v)
        u, v = xp.astype(u, dtype, copy=False), xp.astype(v, dtype, copy=False)
        return (u, v), {
            "u_weights": _weights_option(xp, options.get("u_weights"), u.shape[0], "u_weights", u),
            "v_weights": _weights_option(xp, options.get("v_weights"), v.shape[0], "v_weights", v),
        }

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return (1,)

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        _check_weights(xp, options["u_weights"], "u_weights")
        _check_weights(xp, options["v_weights"], "v_weights")

    def _pieces(self, xp: Any, u: Any, v: Any, u_weights: Any, v_weights: Any) -> tuple:
        """Quantile pieces: widths Δq, u's and v's sorted index on each, and v's sort order."""
        order_u, order_v = xp.argsort(u), xp.argsort(v)

        def cdf(w: Any, order: Any, n: int, like: Any) -> Any:
            if w is None:
                return xp.arange(1, n + 1, dtype=like.dtype, device=device(like)) / n
            sorted_w = xp.take(w, order)
            return xp.cumulative_sum(sorted_w) / xp.sum(sorted_w)

        cu = cdf(u_weights, order_u, u.shape[0], u)
        cv = cdf(v_weights, order_v, v.shape[0], v)
        ends = xp.sort(xp.concat([cu, cv]))
        starts = xp.concat([xp.zeros((1,), dtype=ends.dtype, device=device(ends)), ends[:-1]])
        # The piece (q_start, q_end] lies in the quantile step of the first cdf value > q_start.
        iu = S.clip(xp, xp.searchsorted(cu, starts, side="right"), 0, u.shape[0] - 1)
        iv = S.clip(xp, xp.searchsorted(cv, starts, side="right"), 0, v.shape[0] - 1)
        width = xp.maximum(ends - starts, 0.0)
        return width, xp.take(order_u, iu), iv, order_v

    def _per_sample(self, xp: Any, u: Any, v: Any, u_weights: Any = None, v_weights: Any = None) -> Any:
        width, u_index, iv, order_v = self._pieces(xp, u, v, u_weights, v_weights)
        gap = xp.take(v, xp.take(order_v, iv)) - xp.take(u, u_index)
        return xp.reshape(xp.sum(width * xp.abs(gap)), (1,))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        u, v = arrays
        width, u_index, iv, order_v = self._pieces(xp, u, v, options["u_weights"], options["v_weights"])
        v_index = xp.take(order_v, iv)
        gap = xp.take(v, v_index) - xp.take(u, u_index)
        total = _scalar(xp, cotangent[0] * xp.sum(width * xp.abs(gap))) if value else None
        if not gradient:
            return total, None
        contribution = cotangent[0] * width * xp.sign(gap)
        m = v.shape[0]
        if is_numpy(xp):
            grad = np.bincount(v_index, weights=contribution, minlength=m).astype(v.dtype)
        else:  # scatter-add as a product with the one-hot (pieces x m) matrix
            onehot = xp.astype(v_index[:, None] == xp.arange(m, device=device(v))[None, :], v.dtype)
            grad = contribution @ onehot
        return total, grad


@register
class Sinkhorn(Loss):
    r"""Entropic optimal transport between point clouds, by Sinkhorn iterations in the log domain.

    - Formula: :math:`\mathrm{OT}_\varepsilon(a, b) = \min_{P \in U(a, b)} \langle P, C\rangle
      + \varepsilon\,\mathrm{KL}(P \,\|\, a b^\top)`, C_ij = ‖x_i − y_j‖² (cost="sqeuclidean")
      or ‖x_i − y_j‖ (cost="euclidean"), computed as the dual value ⟨a, f⟩ + ⟨b, g⟩ at the
      optimal potentials. The iterations f ← −ε LSE_j(log b_j + (g_j − C_ij)/ε),
      g ← −ε LSE_i(log a_i + (f_i − C_ij)/ε) never exponentiate a large number, so they stay
      stable at small ε (ε is in the units of the cost); they stop when the row marginal of
      P is within ``tol`` (L1) of a (at least 100 ulp of the dtype), or warn after ``max_iter``.
      Convergence slows as ε shrinks relative to the cost (the contraction factor tends to
      1): at small ε use ``epsilon_scaling`` (a factor k in (0, 1)): the iterations start at
      ε₀ = max C and multiply ε by k after each one until it reaches ``epsilon``, each
      warm-started from the last potentials (Schmitzer 2019; GeomLoss's annealing), then run
      at ``epsilon`` to ``tol``; ``max_iter`` counts every iteration.
    - Domains: x (n, d), y (m, d) real; ``a=`` (n,), ``b=`` (m,) per call, non-negative and
      summing to 1 (uniform when absent; never renormalised); epsilon > 0.
    - Gradient with respect to x, by the envelope theorem (the potentials are optimal, so
      they are held fixed, not differentiated through the iterations):
      ∂/∂x_i = Σ_j P_ij ∂C_ij/∂x_i, i.e. 2 Σ_j P_ij (x_i − y_j) for the squared cost. Exact
      at convergence. Autograd (PyTorch, JAX) gives the same: the value is recomputed from
      the detached potential g with one differentiable f-step. No Hessian.
    - Estimates: x's cloud transported onto y's ("other"); ε → 0 gives unregularised OT.
    - Relations: POT's ``ot.sinkhorn(a, b, M, reg=ε)`` gives the same plan P;
      ``ot.sinkhorn2`` returns ⟨P, C⟩ alone, which is this value minus ε·KL(P ‖ abᵀ).
      GeomLoss's ``SamplesLoss("sinkhorn", p=2, blur=√ε)`` adds debiasing terms and a ½.
      See the module docstring for the WGAN use.
    - Reference: Cuturi (2013), Sinkhorn distances; Peyré & Cuturi (2019), Computational optimal transport.

    >>> import losslab as ll
    >>> print(round(float(ll.sinkhorn([[0.0], [1.0]], [[0.0], [1.0]], epsilon=0.01)), 6))  # ε·log 2
    0.006931
    """

    name = "sinkhorn"
    family = "transport"
    aliases = ("sinkhorn_distance", "entropic_ot")
    description = "Entropic optimal transport between point clouds (log-domain Sinkhorn)."
    formula = r"\min_{P\in U(a,b)}\langle P, C\rangle + \varepsilon\,\mathrm{KL}(P\,\|\,ab^\top)"
    parameters = (
        Param("epsilon", 0.1, V.POSITIVE, "entropic regularisation, in the units of the cost"),
        Param("cost", "sqeuclidean", V.one_of("sqeuclidean", "euclidean"), "the ground cost C(x, y)"),
        Param("max_iter", 1000, V.Rule(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                                       "an integer >= 1"), "iterations at most"),
        Param("tol", 1e-9, V.POSITIVE, "L1 error of the row marginal at which to stop"),
        Param("epsilon_scaling", None,
              V.Rule(lambda v: v is None or (V.FINITE.check(v) and 0.0 < v < 1.0), "None or a number in (0, 1)"),
              "anneal ε from the largest cost down to epsilon by this factor per iteration (None: off)"),
    )
    inputs = ("x", "y")
    differentiable_inputs = ("x",)
    call_options = ("a", "b")
    separable = False
    TRAITS = Traits(convex=False, estimates="other", **_TRANSPORT)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        return _prepare_clouds(xp, arrays, options)

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return (1,)

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        _check_probability_weights(xp, options)

    def _cost(self, xp: Any, x: Any, y: Any) -> Any:
        diff = x[:, None, :] - y[None, :, :]
        squared = xp.sum(diff * diff, axis=-1)
        if self.cost == "sqeuclidean":
            return squared
        return xp.sqrt(xp.maximum(squared, 1e-30))

    def _potential_g(self, xp: Any, cost: Any, log_a: Any, log_b: Any) -> Any:
        """The optimal potential g for a fixed (detached) cost matrix."""
        target = self.epsilon

        def f_step(g: Any, eps: Any) -> Any:
            return -eps * S.logsumexp(xp, log_b[None, :] + (g[None, :] - cost) / eps, axis=1)

        def g_step(f: Any, eps: Any) -> Any:
            return -eps * S.logsumexp(xp, log_a[:, None] + (f[:, None] - cost) / eps, axis=0)

        def marginal_error(f: Any, g: Any) -> Any:
            log_plan = log_a[:, None] + log_b[None, :] + (f[:, None] + g[None, :] - cost) / target
            return xp.sum(xp.abs(xp.sum(xp.exp(log_plan), axis=1) - xp.exp(log_a)))

        # Rounding bounds how small the marginal error can get: a float32 solve stops at about 1e-5.
        tol = max(self.tol, 100.0 * float(xp.finfo(cost.dtype).eps))
        g = xp.zeros((cost.shape[1],), dtype=cost.dtype, device=device(cost))
        k = self.epsilon_scaling
        # ε-scaling starts at the largest cost (where one iteration nearly solves the problem)
        # and shrinks ε by k per iteration down to epsilon; without it, ε is epsilon throughout.
        eps = target if k is None else xp.maximum(xp.max(cost), xp.asarray(target, dtype=cost.dtype))
        if is_jax(xp):
            import jax

            def body(state: tuple) -> tuple:
                _, g, _, it, eps = state
                f = f_step(g, eps)
                g = g_step(f, eps)
                err = xp.where(eps > target, xp.asarray(float("inf"), dtype=cost.dtype), marginal_error(f, g))
                return f, g, err, it + 1, eps if k is None else xp.maximum(eps * k, target)

            def going(state: tuple) -> Any:
                return (state[2] > tol) & (state[3] < self.max_iter)

            eps = xp.asarray(eps, dtype=cost.dtype)
            state = (f_step(g, eps), g, xp.asarray(float("inf"), dtype=cost.dtype), 0, eps)
            _, g, err, _, _ = jax.lax.while_loop(going, body, state)
            if not is_tracing(err) and float(err) > tol:
                self._warn(float(err))
            return g
        eps = float(eps)
        err, settled = float("inf"), 0
        for it in range(self.max_iter):
            f = f_step(g, eps)
            g = g_step(f, eps)
            if eps > target:
                eps = max(eps * k, target)
                continue
            settled += 1
            if settled % 10 == 0 or it == self.max_iter - 1:
                err = float(marginal_error(f, g))
                if err <= tol:
                    return g
        self._warn(err)
        return g

    def _warn(self, err: float) -> None:
        warnings.warn(
            f"sinkhorn did not converge in max_iter={self.max_iter} iterations (marginal error {err:.3g} >"
            f" tol={self.tol:g}); raise max_iter or epsilon, or anneal with epsilon_scaling=0.9.",
            RuntimeWarning,
            stacklevel=4,
        )

    def _solve(self, xp: Any, x: Any, y: Any, a: Any, b: Any) -> tuple:
        log_a = xp.log(a)
        log_b = xp.log(b)
        cost = self._cost(xp, x, y)
        g = _detached(xp, self._potential_g(xp, _detached(xp, cost), _detached(xp, log_a), _detached(xp, log_b)))
        # One differentiable f-step from the fixed g: the value ⟨a, f⟩ + ⟨b, g⟩ and, through
        # it, the envelope gradient Σ_j P_ij ∂C_ij/∂x_i.
        f = -self.epsilon * S.logsumexp(xp, log_b[None, :] + (g[None, :] - cost) / self.epsilon, axis=1)
        # a_i = 0 puts no mass on row i: 0·f_i, with f_i finite.
        value = xp.sum(a * f) + xp.sum(b * g)
        log_plan = log_a[:, None] + log_b[None, :] + (f[:, None] + g[None, :] - cost) / self.epsilon
        return value, xp.exp(log_plan)

    def plan(self, x: Any, y: Any, a: Any = None, b: Any = None) -> Any:
        """The entropic transport plan P (n, m): rows sum to a, columns to b."""
        arrays, options = self._bind((x, y), {"a": a, "b": b})
        from .._array import array_namespace

        xp = array_namespace(*arrays)
        arrays, options = self._prepare(xp, arrays, options)
        self._check_values(xp, arrays, options)
        return self._solve(xp, *arrays, options["a"], options["b"])[1]

    def _per_sample(self, xp: Any, x: Any, y: Any, a: Any = None, b: Any = None) -> Any:
        return xp.reshape(self._solve(xp, x, y, a, b)[0], (1,))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        x, y = arrays
        total_value, plan = self._solve(xp, x, y, options["a"], options["b"])
        total = _scalar(xp, cotangent[0] * total_value) if value else None
        if not gradient:
            return total, None
        plan = _detached(xp, plan)
        if self.cost == "sqeuclidean":
            grad = 2.0 * (x * xp.sum(plan, axis=1)[:, None] - plan @ y)
        else:
            diff = x[:, None, :] - y[None, :, :]
            dist = xp.sqrt(xp.maximum(xp.sum(diff * diff, axis=-1), 1e-30))
            grad = xp.sum((plan / dist)[:, :, None] * diff, axis=1)
        return total, cotangent[0] * grad


def _is_bandwidth(v: Any) -> bool:
    return V.POSITIVE.check(v)


_BANDWIDTHS = V.Rule(
    lambda v: _is_bandwidth(v) or (isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_bandwidth(s) for s in v)),
    "a finite number > 0 or a non-empty list of them (one Gaussian kernel per bandwidth, summed)",
)


@register
class MMD(Loss):
    r"""Squared maximum mean discrepancy between two point clouds, with a Gaussian kernel (or a sum of them).

    - Formula: with k(u, v) = Σ_s exp(−‖u − v‖²/(2σ_s²)) over the bandwidths σ = sigma, and
      masses a on x, b on y (uniform when absent):
      :math:`\mathrm{MMD}^2 = \sum_{ij} a_i a_j k(x_i, x_j) + \sum_{ij} b_i b_j k(y_i, y_j) - 2\sum_{ij} a_i b_j k(x_i, y_j)`
      (estimator="biased", the V-statistic: ‖mean embedding of x − that of y‖² in the
      kernel's feature space, ≥ 0). estimator="unbiased" (the U-statistic) leaves out the
      pairs i = j within each cloud and divides those sums by 1 − Σa_i² (and 1 − Σb_i²):
      with uniform masses, 1/(n(n − 1)) Σ_{i≠j}; it can be slightly negative.
    - Domains: x (n, d), y (m, d) real, the input convention of sinkhorn; ``a=`` (n,),
      ``b=`` (m,) per call, non-negative and summing to 1; sigma > 0 (a number or a list);
      the unbiased estimator needs two points with mass in each cloud (Σa² < 1).
    - Gradient with respect to x_i: with G = Σ_s k_s/σ_s²,
      2a_i[c Σ_j a_j G(x_i, x_j)(x_j − x_i) − Σ_j b_j G(x_i, y_j)(y_j − x_i)], c = 1 (biased)
      or 1/(1 − Σa²) (unbiased); Hessian diagonal, per coordinate, the same sums of
      Σ_s k_s((z − x_i)²/σ_s⁴ − 1/σ_s²) over j ≠ i. O(nm·d) time and memory.
    - Estimates: x's cloud matched to y's in distribution ("other"); with a characteristic
      kernel (the Gaussian) the population MMD is 0 only when the distributions are equal.
    - Relations: Gretton et al.'s MMD²_b (biased) and MMD²_u (unbiased, their eq. 3), with
      k = exp(−‖u − v‖²/(2σ²)); libraries that write exp(−γ‖u − v‖²) have γ = 1/(2σ²).
      Several bandwidths are the sum of kernels of MMD-GAN-style losses (Li et al. 2017).
      The loss is one sample, shape (1,), like sinkhorn.
    - Reference: Gretton, Borgwardt, Rasch, Schölkopf & Smola (2012), A kernel two-sample
      test, JMLR 13 (Lemma 6, eq. 3 and 5).

    >>> import losslab as ll
    >>> print(round(float(ll.mmd([[0.0]], [[1.0]], sigma=1.0)), 6))  # 1 + 1 − 2e^{−1/2}
    0.786939
    """

    name = "mmd"
    family = "transport"
    aliases = ("maximum_mean_discrepancy", "mmd2", "gaussian_mmd")
    description = "Squared maximum mean discrepancy with a Gaussian kernel (biased or unbiased)."
    formula = r"\mathbb{E}k(x,x') + \mathbb{E}k(y,y') - 2\,\mathbb{E}k(x,y)"
    parameters = (
        Param("sigma", 1.0, _BANDWIDTHS, "Gaussian kernel bandwidth(s) σ: k = exp(−‖u − v‖²/(2σ²)), summed"),
        Param("estimator", "biased", V.one_of("biased", "unbiased"), "V-statistic (≥ 0) or U-statistic (unbiased)"),
    )
    inputs = ("x", "y")
    differentiable_inputs = ("x",)
    call_options = ("a", "b")
    separable = False
    TRAITS = Traits(convex=False, bounded=True, lipschitz=True, estimates="other", **_TRANSPORT)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        return _prepare_clouds(xp, arrays, options)

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return (1,)

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        _check_probability_weights(xp, options)
        if self.estimator != "unbiased":
            return
        for name in ("a", "b"):
            w = options[name]
            spread = V.concrete(1.0 - xp.sum(w * w))
            if spread is not None and spread <= math.sqrt(float(xp.finfo(w.dtype).eps)):
                raise ValueError(
                    f"{name}: the unbiased MMD needs at least two points with mass in each cloud (1 − Σ{name}² > 0);"
                    f" got 1 − Σ{name}² = {spread:.3g}. Use estimator='biased' or pass more points."
                )

    @property
    def _sigmas(self) -> tuple[float, ...]:
        return tuple(float(s) for s in self.sigma) if isinstance(self.sigma, (list, tuple)) else (float(self.sigma),)

    def _gram(self, xp: Any, u: Any, v: Any, order: int) -> tuple:
        """(Σ_s k_s, Σ_s k_s/σ_s², [Σ_s k_s/σ_s⁴], u − v) for every pair (u_i, v_j)."""
        # Beyond 64σ in one coordinate every kernel is exp(−2048) = 0: clipping the differences
        # there changes no value or derivative, and keeps their squares from overflowing.
        cap = 64.0 * max(self._sigmas)
        diff = S.clip(xp, v[None, :, :] - u[:, None, :], -cap, cap)
        squared = xp.sum(diff * diff, axis=-1)
        k = g = h = 0.0
        for s in self._sigmas:
            ks = xp.exp(squared * (-0.5 / (s * s)))
            k, g = k + ks, g + ks / (s * s)
            if order == 2:
                h = h + ks / (s ** 4)
        return k, g, h, diff

    def _within(self, xp: Any, w: Any, k: Any) -> Any:
        """Σ_ij w_i w_j k_ij (biased), or over i ≠ j divided by 1 − Σw² (unbiased)."""
        if self.estimator == "biased":
            return xp.sum(w[:, None] * k * w[None, :])
        off = 1.0 - xp.eye(k.shape[0], dtype=k.dtype, device=device(k))
        return xp.sum(w[:, None] * (k * off) * w[None, :]) / (1.0 - xp.sum(w * w))

    def _value(self, xp: Any, x: Any, y: Any, a: Any, b: Any) -> Any:
        kxx = self._gram(xp, x, x, 0)[0]
        kyy = self._gram(xp, y, y, 0)[0]
        kxy = self._gram(xp, x, y, 0)[0]
        return self._within(xp, a, kxx) + self._within(xp, b, kyy) - 2.0 * xp.sum(a[:, None] * kxy * b[None, :])

    def _per_sample(self, xp: Any, x: Any, y: Any, a: Any = None, b: Any = None) -> Any:
        return xp.reshape(self._value(xp, x, y, a, b), (1,))

    def _within_scale(self, xp: Any, a: Any) -> Any:
        return 1.0 if self.estimator == "biased" else 1.0 / (1.0 - xp.sum(a * a))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        x, y = arrays
        a, b = options["a"], options["b"]
        total = _scalar(xp, cotangent[0] * self._value(xp, x, y, a, b)) if value else None
        if not gradient:
            return total, None
        _, gxx, _, dxx = self._gram(xp, x, x, 1)
        _, gxy, _, dxy = self._gram(xp, x, y, 1)
        # Σ_j W_ij (z_j − x_i) for W = a_j·G (x's own cloud; the pair i = i adds 0) and b_j·G (y).
        pull = self._within_scale(xp, a) * xp.sum((gxx * a[None, :])[:, :, None] * dxx, axis=1)
        push = xp.sum((gxy * b[None, :])[:, :, None] * dxy, axis=1)
        return total, cotangent[0] * 2.0 * a[:, None] * (pull - push)

    def _hessian(self, xp: Any, x: Any, y: Any, a: Any = None, b: Any = None) -> Any:
        kxx, gxx, hxx, dxx = self._gram(xp, x, x, 2)
        _, gxy, hxy, dxy = self._gram(xp, x, y, 2)
        off = 1.0 - xp.eye(x.shape[0], dtype=x.dtype, device=device(x))  # k(x_i, x_i) = 1 has no curvature
        def curvature(h: Any, g: Any, diff: Any) -> Any:
            return h[:, :, None] * (diff * diff) - g[:, :, None]  # Σ_s k_s((z − x)²/σ_s⁴ − 1/σ_s²)

        curv_xx = curvature(hxx, gxx, dxx) * (off * a[None, :])[:, :, None]
        curv_xy = curvature(hxy, gxy, dxy) * b[None, :, None]
        return 2.0 * a[:, None] * (self._within_scale(xp, a) * xp.sum(curv_xx, axis=1) - xp.sum(curv_xy, axis=1))
