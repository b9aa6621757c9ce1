"""A loss from a user function: ``custom_loss``.

The function ``fn(y_true, y_pred[, xp], **params) -> per-sample values`` is written with
array operations; its keyword parameters (those with defaults) become the loss's
parameters, so ``losslab.get(name, c=2.0)`` builds it with other values. Derivatives come
from ``derivatives.py``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .. import _validate as V
from .._array import float_dtype
from ..loss import Loss, Param, register as _register, resolve as _resolve_class, unregister as _unregister
from ..traits import REAL, Interval, Traits
from .base import TASKS, MeasuredTraits, check_name, check_task
from .derivatives import DERIVATIVES, derivatives

#: The arguments every loss function receives; the others are the loss's parameters.
_ARGUMENTS = ("y_true", "y_pred", "xp")


class CustomLoss(MeasuredTraits, Loss):
    """A loss from a user function; see ``custom_loss``."""

    family = "custom"
    _fn: Callable[..., Any]
    _takes_xp: bool = False
    _method: str = "auto"
    _y_true_domain: Interval = REAL
    _y_pred_domain: Interval = REAL

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_true, y_pred)
        y_true, y_pred = xp.astype(y_true, dtype), xp.astype(y_pred, dtype)
        if self.event_ndim == 0 or y_true.ndim == y_pred.ndim:
            V.check_same_shape(y_true, y_pred, "y_true", "y_pred")
        elif tuple(y_true.shape) != tuple(y_pred.shape[:1]):
            raise ValueError(
                f"y_true must be class indices of shape {(y_pred.shape[0],)} or rows of shape"
                f" {tuple(y_pred.shape)}; got shape {tuple(y_true.shape)}")
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        V.check_in(xp, arrays[0], "y_true", self._y_true_domain)
        V.check_in(xp, arrays[1], "y_pred", self._y_pred_domain)

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self._params.items())
        return f"custom_loss({self.name!r}, task={self._custom_task!r}{args})"

    def apply(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        """The user function on these arrays, with the loss's parameters (no checks)."""
        if self._takes_xp:
            return self._fn(y_true, y_pred, xp=xp, **self._params)
        return self._fn(y_true, y_pred, **self._params)

    def _call(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        out = self.apply(xp, y_true, y_pred)
        expected = tuple(y_pred.shape[: y_pred.ndim - self.event_ndim])
        if not hasattr(out, "shape") or tuple(out.shape) != expected:
            got = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
            raise ValueError(
                f"custom loss {self.name!r}: the function must return one value per sample, shape {expected};"
                f" got {got}. Return the unreduced values (losslab applies the reduction)."
            )
        return out

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._call(xp, y_true, y_pred)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return derivatives(self, xp, y_true, y_pred, hessian=False)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return derivatives(self, xp, y_true, y_pred, hessian=True)


def _parameters(function: Callable[..., Any], loss_name: str) -> tuple[bool, tuple[Param, ...]]:
    """(takes xp, the loss parameters): the function's arguments with defaults, after y_true and y_pred."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False, ()
    params = []
    for p in signature.parameters.values():
        if p.name in _ARGUMENTS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is p.empty:
            continue
        if p.name.startswith("_") or hasattr(Loss, p.name):
            raise ValueError(
                f"custom loss {loss_name!r}: the parameter name {p.name!r} is taken by the Loss object; rename it")
        if isinstance(p.default, bool):
            rule = V.BOOLEAN
        elif isinstance(p.default, (int, float)):
            rule = V.FINITE
        else:
            raise TypeError(
                f"custom loss {loss_name!r}: parameter {p.name!r} must default to a number or a bool (a loss"
                f" parameter that losslab can check and that `losslab.get` can set); got {p.default!r}")
        V.check_param(loss_name, p.name, p.default, rule)
        params.append(Param(p.name, p.default, rule, "parameter of the user function"))
    return "xp" in signature.parameters, tuple(params)


def custom_loss(
    fn: Callable[..., Any] | None = None,
    *,
    task: str = "regression",
    name: str | None = None,
    register: bool | None = None,
    traits: Traits | None = None,
    y_true_domain: Interval | None = None,
    y_pred_domain: Interval | None = None,
    derivatives: str = "auto",
) -> Any:
    """Decorator: turn ``fn(y_true, y_pred[, xp], **params) -> per-sample values`` into a Loss.

    - ``task``: "regression" or "binary" (elementwise: one value per element, any shape),
      or "multiclass" (y_pred (N, C), y_true indices (N,) or rows (N, C); one value per row).
    - ``name``: the registry name (default: the function's name). Given a ``name``, the loss
      is registered (``losslab.get(name)``) unless ``register=False``; a later loss of the
      same name replaces it (re-running a notebook cell), and a name held by a built-in loss
      is left to the built-in unless ``register=True`` (which then raises).
      ``losslab.loss.unregister(name)`` removes it.
    - the function's keyword arguments with defaults (numbers or bools) are the loss's
      parameters: ``losslab.get(name, c=2.0)``, checked like a built-in's.
    - ``traits``: declared Traits; without them ``loss.traits`` is measured by
      ``losslab.profile`` the first time it is asked for.
    - ``y_true_domain`` / ``y_pred_domain``: Intervals checked on every call (default: the
      real line; ``traits.UNIT`` for probabilities).
    - ``derivatives``: see ``losslab.custom`` ("auto", "torch", "jax",
      "finite_differences", "complex_step").

    The function must be elementwise (regression, binary) or row-wise (multiclass): each
    sample's value depends on that sample only, which is what makes the gradient of the
    summed values the per-sample gradient.

    >>> import losslab as ll
    >>> @ll.custom_loss(task="regression")
    ... def pseudo_huber(y_true, y_pred, xp, c=1.0):
    ...     r = (y_pred - y_true) / c
    ...     return c * c * (xp.sqrt(1 + r * r) - 1)
    >>> print(pseudo_huber.gradient([0.0], [2.0], reduction="sum"))
    [0.89442719]
    >>> print(type(pseudo_huber)(c=2.0).gradient([0.0], [2.0], reduction="sum"))
    [1.41421356]
    """
    check_task(task, TASKS)
    if derivatives not in DERIVATIVES:
        raise ValueError(f"derivatives must be one of {', '.join(map(repr, DERIVATIVES))}; got {derivatives!r}")
    if register is not None and not isinstance(register, bool):
        raise TypeError(f"register must be True, False or None (register when a name is given); got {register!r}")
    for label, value in (("traits", traits), ("y_true_domain", y_true_domain), ("y_pred_domain", y_pred_domain)):
        expected = Traits if label == "traits" else Interval
        if value is not None and not isinstance(value, expected):
            raise TypeError(f"{label} must be a {expected.__name__} or None; got {type(value).__name__}")

    def build(function: Callable[..., Any]) -> CustomLoss:
        if not callable(function):
            raise TypeError(f"custom_loss decorates a function (y_true, y_pred[, xp]); got {type(function).__name__}")
        loss_name = check_name(name if name is not None else getattr(function, "__name__", "custom"))
        takes_xp, parameters = _parameters(function, loss_name)
        attrs = {
            "name": loss_name,
            "description": (inspect.getdoc(function) or f"user function {loss_name}").splitlines()[0][:99],
            "formula": "",
            "__doc__": inspect.getdoc(function),
            "parameters": parameters,
            "event_ndim": 1 if task == "multiclass" else 0,
            "_fn": staticmethod(function),
            "_takes_xp": takes_xp,
            "_method": derivatives,
            "_custom_task": task,
            "_declared_traits": traits,
            "_y_true_domain": y_true_domain or (traits.y_true_domain if traits else REAL),
            "_y_pred_domain": y_pred_domain or (traits.y_pred_domain if traits else REAL),
        }
        cls = type(f"Custom_{loss_name}", (CustomLoss,), attrs)
        register_user_loss(cls, register if register is not None else (True if name is not None else False),
                           explicit=register is True)
        return cls()

    return build(fn) if fn is not None else build


def register_user_loss(cls: type[Loss], wanted: bool, *, explicit: bool) -> None:
    """Register a user loss: replace an earlier user loss of the same name; leave a built-in's
    name to the built-in unless registering was asked for explicitly (then the registry raises)."""
    if not wanted:
        return
    try:
        held = _resolve_class(cls.name)
    except ValueError:
        held = None
    if held is not None and issubclass(held, MeasuredTraits) and held.name == cls.name:
        _unregister(cls.name)
    elif held is not None and not explicit:
        return
    _register(cls)
