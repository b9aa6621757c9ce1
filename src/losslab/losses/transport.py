"""Optimal-transport losses: the exact 1-D Wasserstein distance and entropic OT (Sinkhorn).

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
    if w is None or is_tracing(w):
        return
    V.check_finite(xp, w, name)
    lowest = V.concrete(xp.min(w))
    if lowest is not None and lowest < 0:
        raise ValueError(f"{name} must be non-negative; got min {lowest:g}")
    total = V.concrete(xp.sum(w))
    if total is not None and total <= 0:
        raise ValueError(f"{name} must have a positive sum; got {total:g}")


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
      1): at small ε raise ``max_iter`` or loosen ``tol``.
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
    )
    inputs = ("x", "y")
    differentiable_inputs = ("x",)
    call_options = ("a", "b")
    separable = False
    TRAITS = Traits(convex=False, estimates="other", **_TRANSPORT)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
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

    def _loss_shape(self, arrays: tuple) -> tuple[int, ...]:
        return (1,)

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        for name in ("a", "b"):
            w = options[name]
            _check_weights(xp, w, name)
            total = V.concrete(xp.sum(w))
            if total is not None and abs(total - 1.0) > math.sqrt(float(xp.finfo(w.dtype).eps)):
                raise ValueError(
                    f"{name} must sum to 1 (a probability vector; unbalanced transport is not supported); got sum"
                    f" {total:.6g}. losslab never renormalises silently."
                )

    def _cost(self, xp: Any, x: Any, y: Any) -> Any:
        diff = x[:, None, :] - y[None, :, :]
        squared = xp.sum(diff * diff, axis=-1)
        if self.cost == "sqeuclidean":
            return squared
        return xp.sqrt(xp.maximum(squared, 1e-30))

    def _potential_g(self, xp: Any, cost: Any, log_a: Any, log_b: Any) -> Any:
        """The optimal potential g for a fixed (detached) cost matrix."""
        eps = self.epsilon

        def f_step(g: Any) -> Any:
            return -eps * S.logsumexp(xp, log_b[None, :] + (g[None, :] - cost) / eps, axis=1)

        def g_step(f: Any) -> Any:
            return -eps * S.logsumexp(xp, log_a[:, None] + (f[:, None] - cost) / eps, axis=0)

        def marginal_error(f: Any, g: Any) -> Any:
            log_plan = log_a[:, None] + log_b[None, :] + (f[:, None] + g[None, :] - cost) / eps
            return xp.sum(xp.abs(xp.sum(xp.exp(log_plan), axis=1) - xp.exp(log_a)))

        # Rounding bounds how small the marginal error can get: a float32 solve stops at about 1e-5.
        tol = max(self.tol, 100.0 * float(xp.finfo(cost.dtype).eps))
        g = xp.zeros((cost.shape[1],), dtype=cost.dtype, device=device(cost))
        if is_jax(xp):
            import jax

            def body(state: tuple) -> tuple:
                _, g, _, it = state
                f = f_step(g)
                g = g_step(f)
                return f, g, marginal_error(f, g), it + 1

            def going(state: tuple) -> Any:
                return (state[2] > tol) & (state[3] < self.max_iter)

            state = (f_step(g), g, xp.asarray(float("inf"), dtype=cost.dtype), 0)
            _, g, err, _ = jax.lax.while_loop(going, body, state)
            if not is_tracing(err) and float(err) > tol:
                self._warn(float(err))
            return g
        err = float("inf")
        for it in range(self.max_iter):
            f = f_step(g)
            g = g_step(f)
            if it % 10 == 9 or it == self.max_iter - 1:
                err = float(marginal_error(f, g))
                if err <= tol:
                    return g
        self._warn(err)
        return g

    def _warn(self, err: float) -> None:
        warnings.warn(
            f"sinkhorn did not converge in max_iter={self.max_iter} iterations (marginal error {err:.3g} >"
            f" tol={self.tol:g}); raise max_iter or epsilon.",
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
