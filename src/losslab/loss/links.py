"""Links: what a classifier's y_pred holds, and how derivatives carry over to it.

A classification loss is written as a function of u = log p, the log-probability of each
class (``shapes.ClassSeparableLoss``) or of each side of a binary outcome
(``shapes.BinarySeparableLoss``). The link says how y_pred maps to (u, p), checks y_pred's
domain, and carries the chain rule, so that no loss writes its own ``from_logits`` branch:
with a = ∂ℓ/∂u and v = ∂²ℓ/∂u² (per class; ℓ is separable in u),

==================  =======================  ====================  ============================================
link                y_pred                   ∂ℓ/∂y_pred            ∂²ℓ/∂y_pred² (diagonal)
==================  =======================  ====================  ============================================
``PROBABILITIES``   p (clipped to [ε, 1−ε])  a/p                   (v − a)/p²
``LOG_PROBABILITIES`` u = log p              a                     v
``SOFTMAX``         logits z, p = softmax z  a − p·Σa              v(1−p)² + p²(Σv − v) − p(1−p)·Σa
``SIGMOID`` (binary) logit z, p = σ(z)       a₁(1−p) − a₀p         v₁(1−p)² + v₀p² − (a₁ + a₀)p(1−p)
==================  =======================  ====================  ============================================

(the binary rows use u₁ = log σ(z), u₀ = log σ(−z)). Clipped probabilities (DESIGN §7): the
value is that of the clipped p and the gradient the formula's gradient at the clipped point.

Each link also has ``inverse``: the probabilities a model's raw output stands for, which
the estimators' ``predict_proba`` uses (None where a loss estimates no probability).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from .._array import is_tracing, to_numpy
from ..traits import UNIT

__all__ = ["Link", "PROBABILITIES", "LOG_PROBABILITIES", "SOFTMAX", "SIGMOID", "BINARY_PROBABILITY",
           "LOGITS_HINT", "check_probabilities", "check_rows_sum_to_one", "clip_probabilities", "ScoreLink"]

#: The hint on probability errors: the most common cause is logits passed as probabilities.
LOGITS_HINT = "Pass from_logits=True if y_pred holds raw scores (logits)."


def check_probabilities(xp: Any, p: Any, name: str, *, hint: str = "") -> None:
    """Values in [0, 1] (no NaN): the message suggests from_logits where it applies."""
    V.check_finite(xp, p, name)
    V.check_in(xp, p, name, UNIT, what="probabilities", hint=hint)


def check_rows_sum_to_one(xp: Any, p: Any, name: str) -> None:
    """Probability rows are used as given, never renormalised: rows off 1 are an error."""
    tol = float(xp.finfo(p.dtype).eps) ** 0.5
    if is_tracing(p):
        V.traced_invalid(xp, xp.abs(xp.sum(p, axis=-1) - 1.0) > tol, f"{name} rows must sum to 1")
        return
    if p.size == 0:
        return
    deviation = xp.reshape(xp.sum(p, axis=-1) - 1.0, (-1,))
    worst = V.concrete(xp.max(xp.abs(deviation)))
    if worst is not None and worst > tol:
        row = int(np.argmax(np.abs(to_numpy(deviation))))
        raise ValueError(
            f"{name} rows must sum to 1 (probability distributions over the last axis); row {row} sums to"
            f" {1.0 + float(to_numpy(deviation)[row]):.6g}. losslab never renormalises silently: normalise"
            " the rows, or pass logits with from_logits=True."
        )


def clip_probabilities(xp: Any, p: Any) -> Any:
    """Clip to [ε, 1 − ε], ε = finfo(dtype).eps, so that log(0) never happens (DESIGN §2)."""
    eps = float(xp.finfo(p.dtype).eps)
    return S.clip(xp, p, eps, 1.0 - eps)


class Link:
    """What y_pred holds; ``name`` is what error messages and docs call it."""

    name = ""
    #: y_pred may hold −inf (a masked class).
    allows_masking = False

    def check(self, xp: Any, y_pred: Any) -> None:
        raise NotImplementedError

    def inverse(self, xp: Any, raw: Any) -> Any:
        """Probabilities from a model's raw output (the inverse link)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<link {self.name}>"


# ------------------------------------------------------------------------------ class axis
class _Probabilities(Link):
    name = "probabilities"

    def check(self, xp: Any, y_pred: Any) -> None:
        check_probabilities(xp, y_pred, "y_pred", hint=LOGITS_HINT)
        check_rows_sum_to_one(xp, y_pred, "y_pred")

    def log_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        p = clip_probabilities(xp, y_pred)
        return xp.log(p), p

    def gradient(self, xp: Any, p: Any, a: Any) -> Any:
        return a / p

    def hessian(self, xp: Any, p: Any, a: Any, v: Any) -> Any:
        return (v - a) / (p * p)

    def inverse(self, xp: Any, raw: Any) -> Any:
        return raw


class _LogProbabilities(Link):
    name = "log-probabilities"
    allows_masking = True

    def check(self, xp: Any, y_pred: Any) -> None:
        if is_tracing(y_pred) or y_pred.size == 0:
            return
        V.check_finite(xp, y_pred, "y_pred", allow_neg_inf=True)
        hi = V.concrete(xp.max(y_pred))
        if hi is not None and hi > 0:
            raise ValueError(
                f"y_pred must hold log-probabilities (<= 0); got max {hi:g}. nll takes log_softmax outputs; for"
                " logits use cross_entropy(from_logits=True)."
            )
        tol = float(xp.finfo(y_pred.dtype).eps) ** 0.5
        worst = V.concrete(xp.max(xp.abs(xp.sum(xp.exp(y_pred), axis=-1) - 1.0)))
        if worst is not None and worst > tol:
            raise ValueError(
                f"y_pred rows must be log-probabilities whose exponentials sum to 1; the worst row is off by"
                f" {worst:.3g}. Apply log_softmax, or use cross_entropy(from_logits=True) on raw scores."
            )

    def log_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        return y_pred, xp.exp(y_pred)

    def gradient(self, xp: Any, p: Any, a: Any) -> Any:
        return a

    def hessian(self, xp: Any, p: Any, a: Any, v: Any) -> Any:
        return v

    def inverse(self, xp: Any, raw: Any) -> Any:
        return xp.exp(raw)


class _Softmax(Link):
    name = "logits"
    allows_masking = True

    def check(self, xp: Any, y_pred: Any) -> None:
        check_logits(xp, y_pred)

    def log_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        return S.log_softmax_and_softmax(xp, y_pred)

    def gradient(self, xp: Any, p: Any, a: Any) -> Any:
        return a - p * xp.sum(a, axis=-1, keepdims=True)

    def hessian(self, xp: Any, p: Any, a: Any, v: Any) -> Any:
        q = 1.0 - p
        return v * q * q + p * p * (xp.sum(v, axis=-1, keepdims=True) - v) - p * q * xp.sum(a, axis=-1, keepdims=True)

    def inverse(self, xp: Any, raw: Any) -> Any:
        return S.softmax(xp, raw)


def check_logits(xp: Any, z: Any) -> None:
    """Finite logits or −inf (a masked class); every row needs one finite logit."""
    if is_tracing(z):
        return
    if isinstance(z, np.ndarray):
        with np.errstate(invalid="ignore", over="ignore"):
            if math.isfinite(float(np.add.reduce(z, axis=None))):
                return  # one read: every entry is finite
    V.check_finite(xp, z, "y_pred", allow_neg_inf=True)
    if z.ndim < 1 or z.shape[-1] == 0:
        return
    row_max = xp.max(z, axis=-1)
    all_masked = np.reshape(to_numpy(row_max == -math.inf), (-1,))
    if all_masked.any():
        raise ValueError(
            f"y_pred (logits) must have at least one finite logit per row; row {int(np.argmax(all_masked))}"
            " is all -inf (every class masked)."
        )


# ------------------------------------------------------------------------------ binary
class _BinaryProbability(Link):
    """p = P(y = 1) given directly (clipped); u₁ = log p, u₀ = log(1 − p)."""

    name = "probabilities"

    def check(self, xp: Any, y_pred: Any) -> None:
        check_probabilities(xp, y_pred, "y_pred", hint=LOGITS_HINT)

    def log_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any, Any, Any]:
        """(log p, log(1 − p), p, 1 − p) at the clipped p."""
        p = clip_probabilities(xp, y_pred)
        return xp.log(p), xp.log1p(-p), p, 1.0 - p

    def gradient(self, xp: Any, p: Any, q: Any, a1: Any, a0: Any) -> Any:
        return a1 / p - a0 / q

    def hessian(self, xp: Any, p: Any, q: Any, a1: Any, a0: Any, v1: Any, v0: Any) -> Any:
        return (v1 - a1) / (p * p) + (v0 - a0) / (q * q)

    def inverse(self, xp: Any, raw: Any) -> Any:
        return raw


class _Sigmoid(Link):
    """Logit z: u₁ = log σ(z), u₀ = log σ(−z), both exact for every finite z."""

    name = "logits"

    def check(self, xp: Any, y_pred: Any) -> None:
        V.check_finite(xp, y_pred, "y_pred")

    def log_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any, Any, Any]:
        """(log σ(z), log σ(−z), σ(z), σ(−z)): 1 − p computed as σ(−z), exact where p rounds to 1."""
        return S.log_sigmoid(xp, y_pred), S.log_sigmoid(xp, -y_pred), S.sigmoid(xp, y_pred), S.sigmoid(xp, -y_pred)

    def gradient(self, xp: Any, p: Any, q: Any, a1: Any, a0: Any) -> Any:
        return a1 * q - a0 * p

    def hessian(self, xp: Any, p: Any, q: Any, a1: Any, a0: Any, v1: Any, v0: Any) -> Any:
        return v1 * q * q + v0 * p * p - (a1 + a0) * p * q

    def inverse(self, xp: Any, raw: Any) -> Any:
        return S.sigmoid(xp, raw)


class ScoreLink(Link):
    """The probability a real score f stands for, where a margin loss's minimiser fixes it:
    σ(k·f) (logistic k = 1, exponential k = 2: f* = logit(η)/k) or (clip(f/m, −1, 1) + 1)/2
    (modified Huber and squared hinge with margin m: f* = m(2η − 1) on [−m, m]; Zhang 2004)."""

    def __init__(self, kind: str, scale: float = 1.0) -> None:
        self.kind, self.scale, self.name = kind, scale, f"score ({kind})"

    def inverse(self, xp: Any, raw: Any) -> Any:
        if self.kind == "sigmoid":
            return S.sigmoid(xp, self.scale * raw)
        return (S.clip(xp, raw / self.scale, -1.0, 1.0) + 1.0) / 2.0


PROBABILITIES = _Probabilities()
LOG_PROBABILITIES = _LogProbabilities()
SOFTMAX = _Softmax()
SIGMOID = _Sigmoid()
BINARY_PROBABILITY = _BinaryProbability()
