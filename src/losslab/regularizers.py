"""Weight penalties R(θ) and the regularised objective J(θ) = L + λ·R(θ).

Each regularizer has ``value(w)``, ``gradient(w)`` and ``prox(w, step)``, the proximal
operator argmin_v ½‖v − w‖² + step·R(v). The training engine applies L2 as a gradient and
L1 through its prox (soft-thresholding), which is what produces exact zeros: a gradient
step on |w| only ever jumps across 0.

Conventions: ``l2`` is Σw² (as the formulas are written; scikit-learn's and many papers'
penalty is ½Σw², so λ here is half theirs); ``elastic_net`` is
l1_ratio·Σ|w| + (1 − l1_ratio)·Σw². ``step`` may be a number or an array of
per-coordinate steps (Adam's lr/(√v̂ + ε)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _validate as V
from .loss import Loss, get

__all__ = ["Regularizer", "L1", "L2", "ElasticNet", "Objective", "get_regularizer", "l1", "l2", "elastic_net"]


class Regularizer:
    """A penalty R(w) on the model's weights (NumPy arrays or a list of them)."""

    name = "regularizer"
    formula = ""

    def value(self, w: Any) -> float:
        return float(sum(self._value(np.asarray(a)) for a in _as_list(w)))

    def gradient(self, w: Any) -> Any:
        return _map(w, lambda a: self._gradient(np.asarray(a)))

    def prox(self, w: Any, step: Any) -> Any:
        """argmin_v ½‖v − w‖² + step·R(v); ``step`` a number >= 0 or per-coordinate array."""
        steps = np.asarray(step, dtype=float)
        if not np.all(np.isfinite(steps)) or np.any(steps < 0):
            raise ValueError(f"step must be finite and >= 0 (a number or per-coordinate array); got {step!r}")
        return _map(w, lambda a: self._prox(np.asarray(a), step))

    def __call__(self, w: Any) -> float:
        return self.value(w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class L1(Regularizer):
    r"""Lasso penalty Σ|w|: its prox is soft-thresholding, which sets small weights to exactly 0.

    Subgradient sign(w), 0 at w = 0; prox(w, t) = sign(w)·max(|w| − t, 0).

    >>> print(L1().prox(np.array([0.3, -2.0]), 0.5))
    [ 0.  -1.5]
    """

    name = "l1"
    formula = r"\sum_j |w_j|"

    def _value(self, w: np.ndarray) -> float:
        return float(np.abs(w).sum())

    def _gradient(self, w: np.ndarray) -> np.ndarray:
        return np.sign(w)

    def _prox(self, w: np.ndarray, step: Any) -> np.ndarray:
        return np.sign(w) * np.maximum(np.abs(w) - step, 0.0)


class L2(Regularizer):
    r"""Ridge penalty Σw² (no ½): gradient 2w; prox(w, t) = w / (1 + 2t).

    >>> print(L2().value(np.array([3.0, 4.0])))
    25.0
    """

    name = "l2"
    formula = r"\sum_j w_j^2"

    def _value(self, w: np.ndarray) -> float:
        return float(np.dot(w.ravel(), w.ravel()))

    def _gradient(self, w: np.ndarray) -> np.ndarray:
        return 2.0 * w

    def _prox(self, w: np.ndarray, step: Any) -> np.ndarray:
        return w / (1.0 + 2.0 * np.asarray(step))


class ElasticNet(Regularizer):
    r"""Elastic net l1_ratio·Σ|w| + (1 − l1_ratio)·Σw²: sparse like L1, stable like L2.

    prox(w, t) = soft-threshold(w, t·l1_ratio) / (1 + 2t(1 − l1_ratio)).
    """

    name = "elastic_net"
    formula = r"\rho\sum_j|w_j| + (1-\rho)\sum_j w_j^2"

    def __init__(self, l1_ratio: float = 0.5) -> None:
        V.check_param("elastic_net", "l1_ratio", l1_ratio, V.CLOSED_UNIT)
        self.l1_ratio = float(l1_ratio)

    def _value(self, w: np.ndarray) -> float:
        return self.l1_ratio * L1()._value(w) + (1.0 - self.l1_ratio) * L2()._value(w)

    def _gradient(self, w: np.ndarray) -> np.ndarray:
        return self.l1_ratio * np.sign(w) + (1.0 - self.l1_ratio) * 2.0 * w

    def _prox(self, w: np.ndarray, step: Any) -> np.ndarray:
        step = np.asarray(step)
        shrunk = L1()._prox(w, step * self.l1_ratio)
        return shrunk / (1.0 + 2.0 * step * (1.0 - self.l1_ratio))

    def __repr__(self) -> str:
        return f"ElasticNet(l1_ratio={self.l1_ratio})"


_REGULARIZERS = {"l1": L1, "l2": L2, "elastic_net": ElasticNet, "elasticnet": ElasticNet}


def get_regularizer(name: Any, **params: Any) -> Regularizer | None:
    """A regularizer from a name ("l1", "l2", "elastic_net"), an instance, or None."""
    if name is None or isinstance(name, Regularizer):
        return name
    if not isinstance(name, str) or name.lower() not in _REGULARIZERS:
        raise ValueError(
            f"regularizer must be one of 'l1', 'l2', 'elastic_net' or None; got {name!r}."
            f"{V.suggest(str(name), _REGULARIZERS)}"
        )
    return _REGULARIZERS[name.lower()](**params)


@dataclass
class Objective:
    r"""J(θ) = L(y_true, y_pred(θ)) + λ·R(θ): a loss with a weight penalty.

    >>> J = Objective("mse", "l2", lam=0.1)
    >>> print(J.value([1.0, 2.0], [1.0, 3.0], weights=[np.array([3.0, 4.0])]))
    3.0
    """

    loss: Any
    regularizer: Any = None
    lam: float = 0.0

    def __post_init__(self) -> None:
        self.loss = get(self.loss) if not isinstance(self.loss, Loss) else self.loss
        self.regularizer = get_regularizer(self.regularizer)
        V.check_param("Objective", "lam", self.lam, V.NONNEGATIVE)
        if self.lam > 0 and self.regularizer is None:
            raise ValueError(f"lam={self.lam} needs a regularizer ('l1', 'l2' or 'elastic_net'); got None")

    def penalty(self, weights: Any) -> float:
        return 0.0 if self.regularizer is None or self.lam == 0 else self.lam * self.regularizer.value(weights)

    def value(self, y_true: Any, y_pred: Any, weights: Any = (), **kwargs: Any) -> float:
        return float(self.loss(y_true, y_pred, **kwargs)) + self.penalty(weights)


def _as_list(w: Any) -> list:
    return list(w) if isinstance(w, (list, tuple)) else [w]


def _map(w: Any, fn: Any) -> Any:
    if isinstance(w, (list, tuple)):
        return type(w)(fn(a) for a in w)
    return fn(w)


def l1(w: Any) -> float:
    """Σ|w| (over every array of ``w``)."""
    return L1().value(w)


def l2(w: Any) -> float:
    """Σw² (over every array of ``w``), no ½."""
    return L2().value(w)


def elastic_net(w: Any, *, l1_ratio: float = 0.5) -> float:
    """l1_ratio·Σ|w| + (1 − l1_ratio)·Σw²."""
    return ElasticNet(l1_ratio).value(w)
