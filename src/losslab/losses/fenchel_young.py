"""Fenchel–Young losses built from a regularised max function: :func:`fenchel_young` returns a
Loss over a class axis from Ω* and its gradient (built-ins: "softmax", "sparsemax").

Family "multiclass"; a module of its own only to keep each file readable.
"""

from __future__ import annotations

from typing import Any


from .. import _stable as S
from ..loss.shapes import ClassAxisLoss
from ..traits import REAL, UNIT, Traits
from .multiclass import sparsemax_threshold


# ----------------------------------------------------------------------------- Fenchel–Young builder
class FenchelYoung(ClassAxisLoss):
    r"""A Fenchel–Young loss ℓ(z; t) = Ω*(z) − ⟨t, z⟩ (+ Ω(t)), built by :func:`fenchel_young`.

    Not a catalog entry: each instance carries its own max function Ω*, its gradient (the
    regularised prediction ŷ(z) = ∇Ω*(z)), optionally the diagonal of ∇²Ω* and the
    regulariser Ω of the target. Gradient ŷ(z) − t; Hessian diagonal that of ∇²Ω*.
    """

    family = "multiclass"

    def __init__(self, max_fun: Any, predict: Any, hessian: Any, regularizer: Any, name: str, traits: Traits,
                 shift: bool) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self._functions = (max_fun, predict, hessian, regularizer)
        self._declared = traits
        self._shift = shift

    def _traits(self) -> Traits:
        return self._declared

    @property
    def link(self) -> None:
        return None  # raw scores

    def __repr__(self) -> str:
        names = ", ".join(getattr(f, "__name__", repr(f)) for f in self._functions if f is not None)
        return f"FenchelYoung({self.name!r}: {names})"

    def __eq__(self, other: object) -> bool:
        return (type(other) is FenchelYoung and self.name == other.name  # type: ignore[attr-defined]
                and self._functions == other._functions)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, self._functions))

    def _scores(self, xp: Any, z: Any) -> Any:
        # A prediction map onto the simplex makes Ω*(z + c1) = Ω*(z) + c and ⟨t, z + c1⟩ = ⟨t, z⟩ + c
        # (Σt = 1): shifting by the row maximum cancels c exactly and keeps every digit of z.
        return z - xp.max(z, axis=-1, keepdims=True) if self._shift else z

    def _call(self, which: int, xp: Any, z: Any, shape: tuple) -> Any:
        argument = ("max_fun", "predict", "hessian", "regularizer")[which]
        out = self._functions[which](xp, z)
        if tuple(out.shape) != shape:
            raise ValueError(
                f"{self.name}: {argument}(xp, array) must return shape {shape} for an input of shape"
                f" {tuple(z.shape)}; got {tuple(out.shape)}"
            )
        return out

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, z = self._target_rows(xp, y_true, y_pred), self._scores(xp, y_pred)
        value = self._call(0, xp, z, z.shape[:1]) - xp.sum(t * z, axis=-1)
        if self._functions[3] is not None:
            value = value + self._call(3, xp, t, t.shape[:1])
        return value

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        return self._call(1, xp, self._scores(xp, y_pred), tuple(y_pred.shape)) - t

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._functions[2] is None:
            raise NotImplementedError(f"{self.name} has no Hessian: build it with fenchel_young(..., hessian=...)")
        return self._call(2, xp, self._scores(xp, y_pred), tuple(y_pred.shape))


def _logsumexp(xp: Any, z: Any) -> Any:
    return S.logsumexp(xp, z, axis=-1)


def _softmax(xp: Any, z: Any) -> Any:
    return S.softmax(xp, z, axis=-1)


def _softmax_hessian(xp: Any, z: Any) -> Any:
    p = S.softmax(xp, z, axis=-1)
    return p * (1.0 - p)


def _negentropy(xp: Any, t: Any) -> Any:
    return xp.sum(S.xlogy(xp, t, t), axis=-1)


def _sparsemax(xp: Any, z: Any) -> Any:
    return xp.maximum(z - sparsemax_threshold(xp, z), 0.0)


def _sparsemax_max(xp: Any, z: Any) -> Any:
    # Ω*(z) = ⟨p, z⟩ − ½‖p‖² at p = sparsemax(z) = τ + ½‖p‖² (p_j = z_j − τ on the support).
    p = _sparsemax(xp, z)
    return xp.sum(p * z - 0.5 * p * p, axis=-1)


def _sparsemax_hessian(xp: Any, z: Any) -> Any:
    support = xp.astype(_sparsemax(xp, z) > 0, z.dtype)
    return support * (1.0 - 1.0 / xp.sum(support, axis=-1, keepdims=True))


def _half_squared_norm(xp: Any, t: Any) -> Any:
    return 0.5 * xp.sum(t * t, axis=-1)


_FY_BUILTINS = {
    # Ω = Σ t log t on the simplex: Ω* = logsumexp, ŷ = softmax; ℓ = KL(t ‖ softmax z).
    "softmax": (_logsumexp, _softmax, _softmax_hessian, _negentropy, Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
        classification_calibrated=True, proper=True, estimates="probability")),
    # Ω = ½‖t‖² on the simplex: ŷ = sparsemax; ℓ = the sparsemax loss.
    "sparsemax": (_sparsemax_max, _sparsemax, _sparsemax_hessian, _half_squared_norm, Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, twice_differentiable=False,
        lipschitz=True, robust=True, classification_calibrated=True, proper=True, estimates="probability",
        notes=("proper with the sparsemax link, not the softmax",))),
}


def fenchel_young(max_fun: Any, predict: Any = None, *, hessian: Any = None, regularizer: Any = None,
                  name: str = "fenchel_young") -> FenchelYoung:
    r"""A Fenchel–Young loss (Blondel, Martins, Niculae 2020) from a regularised max function.

    - Formula: :math:`\ell(z; t) = \Omega^*(z) - \langle t, z\rangle + \Omega(t)` with Ω* the
      max function (the convex conjugate of a regulariser Ω), z the scores (y_pred, (N, C)),
      t the target (class indices or distribution rows); without ``regularizer`` the Ω(t)
      term (constant in z) is left out, as Optax does.
    - Arguments: ``max_fun(xp, z)`` → Ω*(z) per row (N,); ``predict(xp, z)`` → ∇Ω*(z) (N, C),
      the regularised prediction (softmax, sparsemax): losslab's core has no autodiff, so the
      gradient is given; ``hessian(xp, z)`` → the diagonal of ∇²Ω* (N, C), optional;
      ``regularizer(xp, t)`` → Ω(t) per row (N,), optional. Each is written with the array
      namespace ``xp`` (``xp.exp``, ``xp.sum``, ...) so the loss runs on NumPy, PyTorch and
      JAX. Or ``max_fun="softmax"`` (Ω the negative entropy: ℓ = KL(t ‖ softmax z), the
      cross-entropy for one-hot t) or ``"sparsemax"`` (Ω = ½‖·‖²: the sparsemax loss), with
      their own Hessians and Ω, computed on scores shifted by the row maximum.
    - Gradient ŷ(z) − t = predict(z) − t; Hessian diagonal ``hessian(z)``.
    - Estimates: a Fenchel–Young loss with Ω strictly convex is proper through ``predict``:
      its expected loss is minimised where predict(z) = η (declared for the built-ins; a
      user loss declares task "multiclass" and nothing it cannot know).
    - Relations: Optax's ``make_fenchel_young_loss(max_fun)`` returns fy(scores, targets) =
      max_fun(scores) − ⟨targets, scores⟩ and differentiates max_fun by autodiff; here the
      arguments are (y_true, y_pred) = (targets, scores), ``predict`` supplies the gradient,
      and a Loss comes back (reductions, weights, Hessian). fenchel_young("sparsemax") is
      ll.sparsemax; fenchel_young("softmax") is cross_entropy(from_logits=True) minus the
      target's entropy.
    - Reference: Blondel, Martins, Niculae (2020), Learning with Fenchel–Young losses (JMLR).

    >>> import numpy as np
    >>> from losslab.losses.fenchel_young import fenchel_young
    >>> L = fenchel_young("softmax")
    >>> print(round(float(L([0], [[np.log(3.0), 0.0, 0.0]])), 6))
    0.510826
    """
    if isinstance(max_fun, str):
        if max_fun not in _FY_BUILTINS:
            raise ValueError(f"max_fun must be 'softmax', 'sparsemax' or a function; got {max_fun!r}")
        if predict is not None or hessian is not None or regularizer is not None:
            raise TypeError(f"fenchel_young({max_fun!r}) has its own predict, hessian and regularizer; pass none")
        *functions, traits = _FY_BUILTINS[max_fun]
        return FenchelYoung(*functions, name=f"fenchel_young_{max_fun}", traits=traits, shift=True)
    for argument, f, required in (("max_fun", max_fun, True), ("predict", predict, True),
                                  ("hessian", hessian, False), ("regularizer", regularizer, False)):
        if (f is not None or required) and not callable(f):
            raise TypeError(
                f"{argument} must be a function of (xp, array){'' if required else ' or None'}; got"
                f" {type(f).__name__}" + (" (predict is ∇max_fun, the regularised prediction)"
                                          if argument == "predict" else "")
            )
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    traits = Traits(task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True,
                    twice_differentiable=hessian is not None)
    return FenchelYoung(max_fun, predict, hessian, regularizer, name=name, traits=traits, shift=False)
