"""Optimizers with one small interface.

``init(params, penalized)`` makes the state; ``update(params, grads, lr)`` changes the
parameters in place and returns, for each parameter, its per-coordinate step η (a number
or an array): the update was w ← w − η·d for a direction d. The trainer uses η to apply
an L1 penalty as a proximal step matched to the optimizer (soft-thresholding at λ·η), so
exact zeros appear with every optimizer: for SGD η = lr, for Adam η = lr/(√v̂ + ε).

``LBFGS`` is different: it hands the whole (smooth) problem to SciPy's L-BFGS-B and has
no ``update``; ``fit`` runs it.

>>> w, g = [np.array([1.0, -2.0])], [np.array([0.5, 0.5])]
>>> opt = SGD(lr=0.1); opt.init(w, [True])
>>> _ = opt.update(w, g, 0.1); print(w[0])
[ 0.95 -2.05]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .schedules import as_schedule

__all__ = ["Optimizer", "GD", "SGD", "Adam", "AdamW", "RMSProp", "LBFGS"]


def _check(name: str, value: Any, low: float, high: float = math.inf, *, closed_low: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= low if closed_low else value > low) and value < high
    if not ok:
        lo = "[" if closed_low else "("
        raise ValueError(f"{name} must be a number in {lo}{low:g}, {high:g}); got {value!r}")
    return float(value)


class Optimizer:
    """Base class. ``lr`` is a number or a schedule (losslab.train.schedules)."""

    name = "optimizer"
    full_batch = False

    def __init__(self, lr: Any = 0.01) -> None:
        self.lr = as_schedule(lr)

    def init(self, params: list[np.ndarray], penalized: list[bool] | None = None) -> None:
        """A fresh state for ``params`` (zero moments, step 0), or the one ``load_state_dict``
        was given, once: ``fit`` calls this at its start."""
        self.t = 0
        self.penalized = list(penalized) if penalized is not None else [True] * len(params)
        self.state = self._zero_state(params)
        resume, self._resume = getattr(self, "_resume", None), None
        if resume is not None:
            self._restore(resume, params)

    def _zero_state(self, params: list[np.ndarray]) -> list[Any]:
        return []

    def state_dict(self) -> dict[str, Any]:
        """The run so far: the step count and the moments, as nested lists (JSON-ready), to
        continue it later in another ``fit`` (or another process) with ``load_state_dict``."""
        def plain(v: Any) -> Any:
            return [plain(x) for x in v] if isinstance(v, (list, tuple)) else np.asarray(v).tolist()
        return {"optimizer": self.name, "t": int(getattr(self, "t", 0)), "state": plain(getattr(self, "state", []))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict()``: the next ``init`` (the start of the next ``fit``)
        takes this step count and these moments instead of zeros. Checked there against the
        model's parameter shapes."""
        if not isinstance(state, dict) or not {"optimizer", "t", "state"} <= set(state):
            raise ValueError(f"state must be a dict from state_dict() with keys optimizer, t, state; got {state!r:.80}")
        if state["optimizer"] != self.name:
            raise ValueError(f"state is a {state['optimizer']!r} optimizer's; this one is {self.name!r}")
        t = state["t"]
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"state['t'] must be a step count >= 0; got {t!r}")
        self._resume = state

    def _restore(self, saved: dict[str, Any], params: list[np.ndarray]) -> None:
        def load(zero: Any, value: Any, where: str) -> Any:
            if isinstance(zero, tuple):
                if not isinstance(value, (list, tuple)) or len(value) != len(zero):
                    raise ValueError(f"state{where} must hold {len(zero)} moments; got {value!r:.80}")
                return tuple(load(z, v, f"{where}[{k}]") for k, (z, v) in enumerate(zip(zero, value)))
            arr = np.asarray(value, dtype=zero.dtype)
            if arr.shape != zero.shape or not np.all(np.isfinite(arr)):
                raise ValueError(f"state{where} must be finite numbers of the parameter's shape {zero.shape}; got "
                                 f"shape {arr.shape}")
            return arr
        moments = saved["state"]
        if not isinstance(moments, (list, tuple)) or len(moments) != len(self.state):
            raise ValueError(f"state['state'] must hold one entry per parameter ({len(self.state)}); got "
                             f"{len(moments) if isinstance(moments, (list, tuple)) else moments!r}")
        self.state = [load(z, v, f"['state'][{i}]") for i, (z, v) in enumerate(zip(self.state, moments))]
        self.t = int(saved["t"])

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        hidden = ("t", "penalized", "state")
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k not in hidden)
        return f"{type(self).__name__}({fields})"


class SGD(Optimizer):
    """Stochastic gradient descent with (Nesterov) momentum, PyTorch's form.

    v ← μv + g; w ← w − lr·v (Nesterov: w ← w − lr·(g + μv)).

    The step returned is lr/(1 − μ): a steady gradient g moves w by lr·g/(1 − μ) per
    step once the momentum has built up, so that is the step the L1 threshold must match
    (with lr alone, momentum would carry zeroed weights straight back out of 0).
    """

    name = "sgd"

    def __init__(self, lr: Any = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0; got momentum=0")

    def _zero_state(self, params: list[np.ndarray]) -> list[Any]:
        return [np.zeros_like(p) for p in params]

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[Any]:
        self.t += 1
        for p, g, v in zip(params, grads, self.state):
            if self.momentum:
                v *= self.momentum
                v += g
                p -= lr * (g + self.momentum * v if self.nesterov else v)
            else:
                p -= lr * g
        return [lr / (1.0 - self.momentum)] * len(params)


class GD(SGD):
    """Full-batch gradient descent: w ← w − lr·∇J(w) on the whole training set each epoch."""

    name = "gd"
    full_batch = True

    def __init__(self, lr: Any = 0.1) -> None:
        super().__init__(lr)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): w ← w − lr·m̂/(√v̂ + ε), with bias-corrected moments.

    The per-coordinate step returned is lr/(√v̂ + ε).
    """

    name = "adam"

    def __init__(self, lr: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = _check("beta1", beta1, 0.0, 1.0)
        self.beta2 = _check("beta2", beta2, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, closed_low=False)

    def _zero_state(self, params: list[np.ndarray]) -> list[Any]:
        return [(np.zeros_like(p), np.zeros_like(p)) for p in params]

    def _steps(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[np.ndarray]:
        self.t += 1
        c1, c2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        steps = []
        for p, g, (m, v) in zip(params, grads, self.state):
            m *= self.beta1
            m += (1.0 - self.beta1) * g
            v *= self.beta2
            v += (1.0 - self.beta2) * g * g
            step = lr / (np.sqrt(v / c2) + self.eps)
            p -= step * (m / c1)
            steps.append(step)
        return steps

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[Any]:
        return self._steps(params, grads, lr)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): also w ← w − lr·wd·w.

    The decay applies to penalized parameters (weights, not biases). ``weight_decay=0``
    is plain Adam.
    """

    name = "adamw"

    def __init__(
        self, lr: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.01
    ) -> None:
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = _check("weight_decay", weight_decay, 0.0)

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[Any]:
        if self.weight_decay:
            for p, penalized in zip(params, self.penalized):
                if penalized:
                    p *= 1.0 - lr * self.weight_decay
        return self._steps(params, grads, lr)


class RMSProp(Optimizer):
    """RMSProp (Hinton 2012): s ← ρs + (1 − ρ)g²; w ← w − lr·g/(√s + ε)."""

    name = "rmsprop"

    def __init__(self, lr: Any = 0.001, rho: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.rho = _check("rho", rho, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, closed_low=False)

    def _zero_state(self, params: list[np.ndarray]) -> list[Any]:
        return [np.zeros_like(p) for p in params]

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[Any]:
        self.t += 1
        steps = []
        for p, g, s in zip(params, grads, self.state):
            s *= self.rho
            s += (1.0 - self.rho) * g * g
            step = lr / (np.sqrt(s) + self.eps)
            p -= step * g
            steps.append(step)
        return steps


class LBFGS(Optimizer):
    """L-BFGS-B through ``scipy.optimize.minimize``, full batch, for smooth problems.

    Each iteration is one epoch of the History. An L1 penalty is handled exactly by
    splitting each penalized weight into w⁺ − w⁻ with bounds w± ≥ 0 (the penalty becomes
    the smooth λΣ(w⁺ + w⁻)); weights the bounds pin at 0 are exact zeros.
    """

    name = "lbfgs"
    full_batch = True

    def __init__(self, gtol: float = 1e-9, ftol: float = 1e-13, history_size: int = 20) -> None:
        self.lr = None
        self.gtol = _check("gtol", gtol, 0.0)
        self.ftol = _check("ftol", ftol, 0.0)
        if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"history_size must be an integer >= 1; got {history_size!r}")
        self.history_size = history_size

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> list[Any]:
        raise TypeError("LBFGS has no per-step update; train with losslab.train.fit, which runs SciPy's L-BFGS-B")


_BY_NAME = {"gd": GD, "sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSProp, "lbfgs": LBFGS}


def get_optimizer(name: Any, lr: Any = None) -> Optimizer:
    """An optimizer from its name ("gd", "sgd", "adam", "adamw", "rmsprop", "lbfgs") or an instance."""
    if isinstance(name, Optimizer):
        return name
    key = str(name).lower().replace("-", "")
    if key not in _BY_NAME:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, _BY_NAME))} or an Optimizer; got {name!r}")
    cls = _BY_NAME[key]
    return cls() if lr is None or cls is LBFGS else cls(lr=lr)
