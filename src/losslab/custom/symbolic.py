"""User losses: a Python function (``custom_loss``) or a safe text formula (``from_expression``).

Both give a full ``Loss``: reductions and weights, gradient and Hessian, the registry
(``register=True``), ``losslab.profile`` and training.

**A function** ``(y_true, y_pred) -> per-sample values`` written with array operations::

    @losslab.custom_loss(task="regression", name="pseudo_huber")
    def pseudo_huber(y_true, y_pred, xp):
        r = y_pred - y_true
        return xp.sqrt(1 + r * r) - 1

Give the function an ``xp`` parameter and it receives the Array-API namespace of the
caller's arrays (NumPy, PyTorch, JAX, array_api_strict, ...): written with ``xp.*`` calls
and operators it runs, and differentiates, on every backend. A function without ``xp``
receives the arrays as they come and must work on them itself (operators and methods).

Derivatives (``derivatives=``):

- ``"auto"`` (default): PyTorch or JAX autodiff of the function itself, exact to rounding.
  Torch tensors use torch.autograd, JAX arrays jax.grad (also under jax.jit); NumPy and
  other arrays go through PyTorch when installed (float32 stays float32), else JAX (when
  its float64 is enabled or the input is float32), else finite differences. A function
  without ``xp`` is differentiated by autodiff only on its own backend's arrays.
- ``"finite_differences"``: 4th-order central differences in float64, steps
  h = ε^{1/5}·max(1, |x|) for the gradient (relative error about 1e-10 on smooth
  functions) and ε^{1/6}·max(1, |x|) for the Hessian (about 1e-8); within h of a kink
  they return a value between the one-sided derivatives.
- ``"complex_step"``: Im f(x + ih)/h with h = 1e-20: the gradient exact to rounding
  (about 1e-15) for functions analytic in y_pred (no abs, max, comparisons); the Hessian
  is 4th-order differences of those gradients (about 1e-11).

**A formula** in ``r`` = y_pred − y_true (regression), ``m`` = y·f (binary margin, y in
{−1, +1} or {0, 1}) or ``p`` = the predicted probability of the true class (binary; with
``from_logits=True`` p = sigmoid(m)). The text is parsed with ``ast.parse(mode="eval")``
into a whitelisted tree: numbers, the variable, parameters given by keyword, + − * / **,
unary −, abs, exp, log, log1p, sqrt, cosh, tanh, sigmoid, softplus, min, max and
where(comparison, a, b). Anything else is rejected with a ValueError naming it, before
anything is evaluated; nothing calls eval/exec/compile. The tree becomes a SymPy
expression, differentiated symbolically, and a small evaluator walks the SymPy trees with
``xp`` calls (stable forms for log(cosh), softplus, sigmoid and log(sigmoid)).

>>> import numpy as np
>>> from losslab.custom import from_expression
>>> L = from_expression("where(abs(r) <= delta, r**2/2, delta*(abs(r) - delta/2))", delta=1.0)
>>> print(L([0.0, 0.0], [0.5, 3.0]), L.gradient([0.0, 0.0], [0.5, 3.0], reduction="sum"))
1.3125 [0.5 1. ]
"""

from __future__ import annotations

import ast
import inspect
import math
from typing import Any, Callable

import numpy as np

from . import _stable as S
from . import _validate as V
from ._array import array_namespace, is_jax, is_numpy, is_torch, is_tracing, to_numpy
from .core import Loss, Param, register as _register
from .losses._base import DistanceLoss, MarginLoss, check_probabilities, signed_labels
from .traits import REAL, UNIT, Interval, Traits

__all__ = ["custom_loss", "from_expression", "parse_expression", "CustomLoss", "ExpressionLoss"]

TASKS = ("regression", "binary", "multiclass")
DERIVATIVES = ("auto", "torch", "jax", "finite_differences", "complex_step")


# =============================================================================== shared
class _MeasuredTraits:
    """Traits declared by the user, or else measured once by ``losslab.profile``."""

    _custom_task: str = "regression"
    _declared_traits: Traits | None = None

    def _traits(self) -> Traits:  # type: ignore[override]
        if self._declared_traits is not None:
            return self._declared_traits
        cached = self.__dict__.get("_measured_traits")
        if cached is None:
            from .profile import profile

            card = profile(self)  # type: ignore[arg-type]
            values = {k: getattr(card, k) for k in Traits.PROPERTIES}
            for k in Traits.PROPERTIES:
                if values[k] is None and k not in ("classification_calibrated", "proper"):
                    values[k] = False
            cached = Traits(task=self._custom_task, y_true_domain=self._y_true_domain,  # type: ignore[attr-defined]
                            y_pred_domain=self._y_pred_domain, estimates=card.estimates or "other",  # type: ignore[attr-defined]
                            notes=("measured by losslab.profile",), **values)
            self.__dict__["_measured_traits"] = cached
        return cached


def _check_task(task: Any, allowed: tuple[str, ...]) -> str:
    if task not in allowed:
        raise ValueError(f"task must be one of {', '.join(map(repr, allowed))}; got {task!r}")
    return task


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValueError(f"name must be a non-empty string of at most 100 characters; got {name!r}")
    return name.strip()


# =============================================================================== functions
class CustomLoss(_MeasuredTraits, Loss):
    """A loss from a user function; see ``custom_loss``."""

    family = "custom"
    _fn: Callable[..., Any]
    _takes_xp: bool = False
    _method: str = "auto"
    _y_true_domain: Interval = REAL
    _y_pred_domain: Interval = REAL

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        from ._array import float_dtype

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
        return f"custom_loss({self.name!r}, task={self._custom_task!r})"

    def _call(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        out = self._fn(y_true, y_pred, xp=xp) if self._takes_xp else self._fn(y_true, y_pred)
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
        return _derivatives(self, xp, y_true, y_pred, hessian=False)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return _derivatives(self, xp, y_true, y_pred, hessian=True)


def custom_loss(
    fn: Callable[..., Any] | None = None,
    *,
    task: str = "regression",
    name: str | None = None,
    register: bool = False,
    traits: Traits | None = None,
    y_true_domain: Interval | None = None,
    y_pred_domain: Interval | None = None,
    derivatives: str = "auto",
) -> Any:
    """Decorator: turn ``fn(y_true, y_pred[, xp]) -> per-sample values`` into a Loss.

    - ``task``: "regression" or "binary" (elementwise: one value per element, any shape),
      or "multiclass" (y_pred (N, C), y_true indices (N,) or rows (N, C); one value per row).
    - ``name``: the registry name (default: the function's name); ``register=True`` adds
      it to the catalog (``losslab.get(name)``; ``losslab.core.unregister(name)`` removes it).
    - ``traits``: declared Traits; without them ``loss.traits`` is measured by
      ``losslab.profile`` the first time it is asked for.
    - ``y_true_domain`` / ``y_pred_domain``: Intervals checked on every call (default: the
      real line; ``traits.UNIT`` for probabilities).
    - ``derivatives``: see the module docstring ("auto", "torch", "jax",
      "finite_differences", "complex_step").

    The function must be elementwise (regression, binary) or row-wise (multiclass): each
    sample's value depends on that sample only, which is what makes the gradient of the
    summed values the per-sample gradient.

    >>> import losslab as ll
    >>> @ll.custom_loss(task="regression")
    ... def pseudo_huber(y_true, y_pred, xp):
    ...     r = y_pred - y_true
    ...     return xp.sqrt(1 + r * r) - 1
    >>> print(pseudo_huber.gradient([0.0], [2.0], reduction="sum"))
    [0.89442719]
    """
    _check_task(task, TASKS)
    if derivatives not in DERIVATIVES:
        raise ValueError(f"derivatives must be one of {', '.join(map(repr, DERIVATIVES))}; got {derivatives!r}")
    for label, value in (("traits", traits), ("y_true_domain", y_true_domain), ("y_pred_domain", y_pred_domain)):
        expected = Traits if label == "traits" else Interval
        if value is not None and not isinstance(value, expected):
            raise TypeError(f"{label} must be a {expected.__name__} or None; got {type(value).__name__}")

    def build(function: Callable[..., Any]) -> CustomLoss:
        if not callable(function):
            raise TypeError(f"custom_loss decorates a function (y_true, y_pred[, xp]); got {type(function).__name__}")
        loss_name = _check_name(name if name is not None else getattr(function, "__name__", "custom"))
        try:
            takes_xp = "xp" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            takes_xp = False
        attrs = {
            "name": loss_name,
            "description": (inspect.getdoc(function) or f"user function {loss_name}").splitlines()[0][:99],
            "formula": "",
            "__doc__": inspect.getdoc(function),
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
        if register:
            _register(cls)
        return cls()

    return build(fn) if fn is not None else build


# ----------------------------------------------------------------- derivatives of a function
def _derivatives(loss: CustomLoss, xp: Any, y_true: Any, y_pred: Any, *, hessian: bool) -> Any:
    method = loss._method
    if method == "auto":
        if is_torch(xp) or is_jax(xp):
            method = "torch" if is_torch(xp) else "jax"
        elif not loss._takes_xp:
            method = "finite_differences"
        elif _importable("torch"):
            method = "torch"
        elif _importable("jax") and (_jax_x64() or y_pred.dtype == xp.float32):
            method = "jax"
        else:
            method = "finite_differences"
    native = (method == "torch" and is_torch(xp)) or (method == "jax" and is_jax(xp))
    if native:
        return (_torch_derivative if method == "torch" else _jax_derivative)(loss, y_true, y_pred, hessian)
    if is_tracing(y_pred):
        raise TypeError(f"custom loss {loss.name!r}: derivatives={method!r} cannot run under jax tracing; use 'jax'")
    t, p = to_numpy(y_true), to_numpy(y_pred)
    if method == "torch":
        import torch

        out = _torch_derivative(loss, torch.from_numpy(np.ascontiguousarray(t)),
                                torch.from_numpy(np.ascontiguousarray(p)), hessian).numpy()
    elif method == "jax":
        import jax.numpy as jnp

        out = np.asarray(_jax_derivative(loss, jnp.asarray(t), jnp.asarray(p), hessian))
    elif method == "complex_step":
        out = _complex_step(loss, t, p, hessian)
    else:
        out = _finite_differences(loss, t, p, hessian)
    out = out.astype(p.dtype, copy=False)
    if is_numpy(xp):
        return out
    from array_api_compat import device

    return xp.asarray(out, device=device(y_pred))


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _jax_x64() -> bool:
    import jax

    return bool(jax.config.read("jax_enable_x64"))


def _torch_derivative(loss: CustomLoss, y_true: Any, y_pred: Any, hessian: bool) -> Any:
    import torch

    xp = array_namespace(y_pred)
    with torch.enable_grad():
        x = y_pred.detach().clone().requires_grad_(True)
        values = loss._call(xp, y_true.detach(), x)
        if not values.requires_grad:
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(values.sum(), x, create_graph=hessian)
        if not hessian:
            return g.detach()
        if not g.requires_grad:
            return torch.zeros_like(x)
        if loss.event_ndim == 0:
            # Elementwise: the Hessian of Σℓ is diagonal, so ∂(Σ g)/∂x is its diagonal.
            (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
            return torch.zeros_like(x) if h is None else h.detach()
        out = torch.zeros_like(x)
        for c in range(x.shape[-1]):
            (hc,) = torch.autograd.grad(g[..., c].sum(), x, retain_graph=True, allow_unused=True)
            if hc is not None:
                out[..., c] = hc[..., c].detach()
        return out


def _jax_derivative(loss: CustomLoss, y_true: Any, y_pred: Any, hessian: bool) -> Any:
    import jax
    import jax.numpy as jnp

    xp = array_namespace(y_pred)

    def total(x: Any) -> Any:
        return jnp.sum(loss._call(xp, y_true, x))

    grad = jax.grad(total)
    if not hessian:
        return grad(y_pred)
    if loss.event_ndim == 0:
        # Elementwise: H·1 is the diagonal of the (diagonal) Hessian.
        return jax.jvp(grad, (y_pred,), (jnp.ones_like(y_pred),))[1]
    columns = []
    for c in range(y_pred.shape[-1]):
        tangent = jnp.zeros_like(y_pred).at[..., c].set(1.0)
        columns.append(jax.jvp(grad, (y_pred,), (tangent,))[1][..., c])
    return jnp.stack(columns, axis=-1)


def _numpy_values(loss: CustomLoss, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    import array_api_compat.numpy as npx

    return np.asarray(loss._call(npx, t, p))


def _directions(p: np.ndarray, event_ndim: int) -> list[np.ndarray]:
    """Perturbation masks: all elements at once (elementwise), one class column at a time (rows)."""
    if event_ndim == 0:
        return [np.ones_like(p)]
    masks = []
    for c in range(p.shape[-1]):
        mask = np.zeros_like(p)
        mask[..., c] = 1.0
        masks.append(mask)
    return masks


def _finite_differences(loss: CustomLoss, t: np.ndarray, p: np.ndarray, hessian: bool) -> np.ndarray:
    t, p = t.astype(np.float64), p.astype(np.float64)
    eps = np.finfo(np.float64).eps
    out = np.zeros_like(p)
    f = lambda x: _numpy_values(loss, t, x)  # noqa: E731
    for mask in _directions(p, loss.event_ndim):
        if not hessian:
            h = eps ** (1 / 5) * np.maximum(1.0, np.abs(p)) * mask
            d = (-f(p + 2 * h) + 8 * f(p + h) - 8 * f(p - h) + f(p - 2 * h)) / 12
        else:
            h = eps ** (1 / 6) * np.maximum(1.0, np.abs(p)) * mask
            d = (-f(p + 2 * h) + 16 * f(p + h) - 30 * f(p) + 16 * f(p - h) - f(p - 2 * h)) / 12
        step = h if not hessian else h * h
        d = d.reshape(d.shape + (1,) * loss.event_ndim)
        out += np.where(mask > 0, d / np.where(step != 0, step, 1.0), 0.0)
    return out


def _complex_step(loss: CustomLoss, t: np.ndarray, p: np.ndarray, hessian: bool) -> np.ndarray:
    t, p = t.astype(np.float64), p.astype(np.float64)

    def grad(x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        for mask in _directions(x, loss.event_ndim):
            values = np.asarray(loss._fn(t, x + 1e-20j * mask, xp=np) if loss._takes_xp else loss._fn(t, x + 1e-20j * mask))
            d = np.imag(values).reshape(values.shape + (1,) * loss.event_ndim) / 1e-20
            out += np.where(mask > 0, d, 0.0)
        return out

    if not hessian:
        return grad(p)
    out = np.zeros_like(p)
    for mask in _directions(p, loss.event_ndim):
        h = np.finfo(np.float64).eps ** (1 / 5) * np.maximum(1.0, np.abs(p)) * mask
        d = (-grad(p + 2 * h) + 8 * grad(p + h) - 8 * grad(p - h) + grad(p - 2 * h)) / 12
        out += np.where(mask > 0, d / np.where(h != 0, h, 1.0), 0.0)
    return out


# =============================================================================== expressions
#: Variables, and the task each implies.
VARIABLES = {"r": "regression", "m": "binary", "p": "binary"}
#: Functions and their number of arguments (min, max).
FUNCTIONS = {
    "abs": (1, 1), "exp": (1, 1), "log": (1, 1), "log1p": (1, 1), "sqrt": (1, 1), "cosh": (1, 1),
    "tanh": (1, 1), "sigmoid": (1, 1), "softplus": (1, 1), "min": (2, 8), "max": (2, 8), "where": (3, 3),
}
MAX_LENGTH = 500
MAX_NODES = 200
MAX_DEPTH = 30
MAX_CONSTANT = 1e15
_RESERVED = set(VARIABLES) | set(FUNCTIONS) | {"task", "name", "register", "from_logits"}

_REJECTED = {
    ast.Attribute: "attribute access (x.y)",
    ast.Subscript: "subscripts (x[i])",
    ast.Slice: "slices",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Lambda: "lambda",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.IfExp: "'a if c else b' (use where(c, a, b))",
    ast.BoolOp: "'and'/'or'",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.Starred: "starred arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class ParsedExpression:
    """A checked formula: its SymPy expression, variable, parameter names and task."""

    def __init__(self, text: str, expr: Any, variable: str, params: tuple[str, ...]):
        self.text, self.expr, self.variable, self.params = text, expr, variable, params

    @property
    def task(self) -> str:
        return VARIABLES[self.variable]

    def __repr__(self) -> str:
        return f"ParsedExpression({self.text!r}, variable={self.variable!r}, params={self.params})"


def parse_expression(text: Any, params: tuple[str, ...] | list[str] = ()) -> ParsedExpression:
    """Parse and check ``text`` (see the module docstring); raise ValueError naming what is not allowed.

    Only ``ast.parse(text, mode="eval")`` reads the text; the tree is checked node by node
    against the whitelist before anything is built from it.
    """
    if not isinstance(text, str):
        raise TypeError(f"expression must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression is too long: {len(text)} characters; at most {MAX_LENGTH} are allowed")
    if "\x00" in text:
        raise ValueError("expression must not contain NUL characters")
    for name in params:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name in _RESERVED \
                or hasattr(Loss, name):
            raise ValueError(
                f"parameter name {name!r} is not allowed: use an identifier not starting with '_' and not one of"
                f" {sorted(_RESERVED)}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(
            f"expression {text!r} is not a single valid formula ({exc.msg}); statements (import, assignment,"
            " ';') are not allowed") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ValueError(f"expression {text!r} is too deeply nested or malformed ({type(exc).__name__})") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ValueError(f"expression is too large: {count} syntax nodes; at most {MAX_NODES} are allowed")
    builder = _Builder(tuple(params))
    expr = builder.build(tree.body, 0)
    used = sorted(builder.variables)
    if not used:
        raise ValueError(
            f"expression {text!r} uses no variable; write it in one of r (regression residual y_pred - y_true),"
            " m (margin y·f) or p (probability of the true class)")
    if len(used) > 1:
        raise ValueError(f"expression {text!r} mixes the variables {used}; use exactly one of r, m, p")
    unused = [p for p in params if p not in builder.used_params]
    if unused:
        raise ValueError(f"parameter(s) {unused} are not used in the expression {text!r}")
    return ParsedExpression(text, expr, used[0], tuple(params))


class _Builder:
    """Walks a Python AST, accepting only whitelisted nodes, and builds the SymPy expression."""

    def __init__(self, params: tuple[str, ...]):
        import sympy

        self.sp = sympy
        self.fn = _sympy_functions()
        self.params = params
        self.variables: set[str] = set()
        self.used_params: set[str] = set()

    def build(self, node: ast.AST, depth: int) -> Any:
        sp = self.sp
        if depth > MAX_DEPTH:
            raise ValueError(f"expression is nested too deeply; at most {MAX_DEPTH} levels are allowed")
        for kind, what in _REJECTED.items():
            if isinstance(node, kind):
                raise ValueError(f"{what} is not allowed in an expression")
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            if node.id in VARIABLES:
                self.variables.add(node.id)
                return sp.Symbol(node.id, real=True)
            if node.id in self.params:
                self.used_params.add(node.id)
                return sp.Symbol(node.id, real=True)
            if node.id in FUNCTIONS:
                raise ValueError(f"{node.id} is a function: call it, e.g. {node.id}(r)")
            allowed = ", ".join(sorted(VARIABLES)) + (f"; parameters: {', '.join(self.params)}" if self.params else "")
            raise ValueError(
                f"unknown name {node.id!r} in the expression; allowed names: {allowed}, and the functions"
                f" {', '.join(FUNCTIONS)}. Give parameters by keyword, e.g. from_expression(text, {node.id}=1.0)")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, depth + 1)
            raise ValueError(f"the unary operator {type(node.op).__name__} is not allowed (only - and +)")
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise ValueError(
                    f"the operator {type(node.op).__name__} is not allowed; operators: {' '.join(_BINARY.values())}")
            a, b = self.build(node.left, depth + 1), self.build(node.right, depth + 1)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                if b == 0:
                    raise ValueError("division by the constant 0 in the expression")
                return a / b
            return self.power(a, b)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Compare):
            raise ValueError("comparisons are only allowed as the first argument of where(condition, a, b)")
        raise ValueError(f"{type(node).__name__} is not allowed in an expression")

    def constant(self, value: Any) -> Any:
        sp = self.sp
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = {str: "strings", bytes: "bytes", complex: "complex numbers"}.get(type(value), repr(value))
            raise ValueError(f"{what} are not allowed in an expression; only real numbers")
        if not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise ValueError(f"the number {value!r} is out of range; numbers must be finite and at most {MAX_CONSTANT:g}")
        return sp.Integer(value) if isinstance(value, int) else sp.Float(value)

    def power(self, a: Any, b: Any) -> Any:
        if a.is_Number and b.is_Number:
            if a == 0 and b < 0:
                raise ValueError("0 raised to a negative power in the expression")
            size = abs(float(b)) * math.log10(abs(float(a))) if a != 0 else 0.0
            if size > 300:
                raise ValueError(f"the constant power {a}**{b} is too large (about 10^{size:.0f})")
        elif b.is_Number and abs(float(b)) > 1000:
            raise ValueError(f"the exponent {b} is too large; at most 1000 in magnitude")
        return a**b

    def call(self, node: ast.Call, depth: int) -> Any:
        sp, fn = self.sp, self.fn
        if not isinstance(node.func, ast.Name):
            raise ValueError("only the whitelisted functions may be called, by name (no attribute or computed calls)")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ValueError(f"the function {name!r} is not allowed; functions: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise ValueError(f"{name}() takes no keyword arguments")
        lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            count = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise ValueError(f"{name}() takes {count} arguments; got {len(node.args)}")
        if name == "where":
            cond = self.condition(node.args[0], depth + 1)
            a, b = (self.build(x, depth + 1) for x in node.args[1:])
            return sp.Piecewise((a, cond), (b, True))
        if name == "log" and isinstance(node.args[0], ast.Call) and isinstance(node.args[0].func, ast.Name) \
                and node.args[0].func.id == "cosh" and len(node.args[0].args) == 1:
            # log(cosh u) overflows at |u| ≈ 710; its stable form is written once in _stable.
            return fn["logcosh"](self.build(node.args[0].args[0], depth + 2))
        args = [self.build(x, depth + 1) for x in node.args]
        table = {"abs": sp.Abs, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "cosh": sp.cosh, "tanh": sp.tanh,
                 "log1p": fn["log1p"], "sigmoid": fn["sigmoid"], "softplus": fn["softplus"],
                 "min": sp.Min, "max": sp.Max}
        return table[name](*args)

    def condition(self, node: ast.AST, depth: int) -> Any:
        sp = self.sp
        if not isinstance(node, ast.Compare):
            raise ValueError("the first argument of where() must be a comparison such as r < 1")
        if len(node.ops) != 1:
            raise ValueError("chained comparisons (a < b < c) are not allowed; use one comparison")
        op = type(node.ops[0])
        if op not in _COMPARE:
            raise ValueError(f"the comparison {op.__name__} is not allowed; comparisons: {' '.join(_COMPARE.values())}")
        a, b = self.build(node.left, depth + 1), self.build(node.comparators[0], depth + 1)
        return {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}[op](a, b)


_FUNCTION_CACHE: dict[str, Any] = {}


def _sympy_functions() -> dict[str, Any]:
    """SymPy functions with their derivatives, for the stable forms the evaluator maps to _stable."""
    if _FUNCTION_CACHE:
        return _FUNCTION_CACHE
    import sympy as sp

    def make(name: str, derivative: Callable[[Any], Any]) -> Any:
        def fdiff(self: Any, argindex: int = 1) -> Any:
            return derivative(self.args[0])

        return type(name, (sp.Function,), {"fdiff": fdiff, "nargs": 1})

    sigmoid = make("sigmoid", lambda x: sigmoid(x) * sigmoid(-x))
    _FUNCTION_CACHE.update(
        sigmoid=sigmoid,
        softplus=make("softplus", lambda x: sigmoid(x)),
        log1p=make("log1p", lambda x: 1 / (1 + x)),
        logcosh=make("logcosh", lambda x: sp.tanh(x)),
    )
    return _FUNCTION_CACHE


def _stabilise(expr: Any) -> Any:
    """Rewrite log(sigmoid u) → −softplus(−u), log(1 − sigmoid u) → −softplus(u), log(1 + e^u) → softplus(u)."""
    import sympy as sp

    fn = _sympy_functions()
    sig, softplus = fn["sigmoid"], fn["softplus"]

    def rewrite(e: Any) -> Any:
        if not e.args:
            return e
        e = e.func(*[rewrite(a) for a in e.args])
        if isinstance(e, sp.log):
            (a,) = e.args
            if isinstance(a, sig):
                return -softplus(-a.args[0])
            for s in a.atoms(sig):
                if sp.expand(a - (1 - s)) == 0:
                    return -softplus(s.args[0])
            for x in a.atoms(sp.exp):
                if sp.expand(a - (1 + x)) == 0:
                    return softplus(x.args[0])
            if a.is_Add and sp.S.One in a.args:
                return fn["log1p"](a - 1)  # log(1 + x) loses x's digits for small x
        if isinstance(e, sp.Add):
            for s in e.atoms(sig):
                if sp.expand(e - (1 - s)) == 0:
                    return sig(-s.args[0])
        return e

    return rewrite(expr)


class _Evaluator:
    """Evaluates a SymPy expression tree with ``xp`` calls (no lambdify, no eval)."""

    def __init__(self, xp: Any, env: dict[str, Any], like: Any):
        import sympy as sp

        self.xp, self.env, self.like, self.sp = xp, env, like, sp
        self.fn = _sympy_functions()

    def array(self, v: Any) -> Any:
        return self.xp.full_like(self.like, v) if isinstance(v, (float, int, bool)) else v

    def __call__(self, e: Any) -> Any:
        return self.array(self.ev(e))

    def ev(self, e: Any) -> Any:  # noqa: C901  (one branch per node type)
        sp, xp = self.sp, self.xp
        if e.is_Symbol:
            return self.env[e.name]
        if e.is_Number or e.is_NumberSymbol:
            return float(e)
        if e is sp.true or e is sp.false:
            return bool(e)
        if isinstance(e, sp.Add):
            out = self.ev(e.args[0])
            for a in e.args[1:]:
                out = out + self.ev(a)
            return out
        if isinstance(e, sp.Mul):
            out = self.ev(e.args[0])
            for a in e.args[1:]:
                out = out * self.ev(a)
            return out
        if isinstance(e, sp.Pow):
            base, exponent = e.args
            b = self.ev(base)
            if exponent == -1:
                return 1.0 / b
            if exponent == sp.Rational(1, 2):
                return xp.sqrt(self.array(b))
            if exponent == sp.Rational(-1, 2):
                return 1.0 / xp.sqrt(self.array(b))
            if exponent.is_Integer and 0 < int(exponent) <= 4:
                out = b
                for _ in range(int(exponent) - 1):
                    out = out * b
                return out
            return b ** self.ev(exponent)
        unary = {sp.exp: xp.exp, sp.log: xp.log, sp.tanh: xp.tanh, sp.cosh: xp.cosh, sp.sinh: xp.sinh,
                 sp.Abs: xp.abs, sp.sign: xp.sign}
        for kind, f in unary.items():
            if isinstance(e, kind):
                return f(self.array(self.ev(e.args[0])))
        fn = self.fn
        if isinstance(e, fn["sigmoid"]):
            return S.sigmoid(xp, self.array(self.ev(e.args[0])))
        if isinstance(e, fn["softplus"]):
            return S.softplus(xp, self.array(self.ev(e.args[0])))
        if isinstance(e, fn["log1p"]):
            return xp.log1p(self.array(self.ev(e.args[0])))
        if isinstance(e, fn["logcosh"]):
            return S.log_cosh(xp, self.array(self.ev(e.args[0])))
        if isinstance(e, (sp.Max, sp.Min)):
            f = xp.maximum if isinstance(e, sp.Max) else xp.minimum
            out = self.array(self.ev(e.args[0]))
            for a in e.args[1:]:
                out = f(out, self.array(self.ev(a)))
            return out
        if isinstance(e, sp.Piecewise):
            out = None
            for value, cond in reversed(e.args):
                v = self.array(self.ev(value))
                if out is None or cond is sp.true:
                    out = v
                else:
                    out = xp.where(self.array(self.ev(cond)), v, out)
            return out
        if isinstance(e, sp.Heaviside):
            x = self.array(self.ev(e.args[0]))
            at_zero = float(e.args[1]) if len(e.args) > 1 else 0.5
            return xp.where(x > 0, 1.0, xp.where(x < 0, 0.0, at_zero))
        if isinstance(e, sp.DiracDelta):
            return 0.0  # the derivative of a jump: 0 almost everywhere
        if isinstance(e, sp.core.relational.Relational):
            a, b = self.array(self.ev(e.lhs)), self.ev(e.rhs)
            ops = {sp.StrictLessThan: lambda: a < b, sp.LessThan: lambda: a <= b,
                   sp.StrictGreaterThan: lambda: a > b, sp.GreaterThan: lambda: a >= b,
                   sp.Equality: lambda: a == b, sp.Unequality: lambda: a != b}
            return ops[type(e)]()
        if isinstance(e, (sp.And, sp.Or)):
            f = xp.logical_and if isinstance(e, sp.And) else xp.logical_or
            out = self.array(self.ev(e.args[0]))
            for a in e.args[1:]:
                out = f(out, self.array(self.ev(a)))
            return out
        if isinstance(e, sp.Not):
            return xp.logical_not(self.array(self.ev(e.args[0])))
        raise ValueError(f"cannot evaluate the SymPy node {type(e).__name__} ({e}); please report this formula")


class ExpressionLoss(_MeasuredTraits, Loss):
    """A loss from a checked formula; see ``from_expression``."""

    family = "custom"
    _parsed: ParsedExpression
    _y_true_domain: Interval = REAL

    def _check_params(self) -> None:
        import sympy as sp

        variable = self._parsed.variable
        expr = self._parsed.expr
        if variable == "p" and self._params.get("from_logits", False):
            expr, variable = expr.subs(sp.Symbol("p", real=True), _sympy_functions()["sigmoid"](sp.Symbol("m", real=True))), "m"
        values = {sp.Symbol(k, real=True): sp.Float(float(v)) for k, v in self._params.items() if k != "from_logits"}
        expr = _stabilise(expr.subs(values))
        x = sp.Symbol(variable, real=True)
        d1 = _stabilise(sp.diff(expr, x))
        d2 = _stabilise(sp.diff(d1, x))
        self._variable, self._trees = variable, (expr, d1, d2)
        if variable == "p":
            # Label 0: p = 1 − y_pred, written out so that log(1 − y_pred) becomes log1p(−y_pred) and
            # keeps its digits near y_pred = 0; derivatives are then taken with respect to y_pred itself.
            complement = _stabilise(expr.subs(x, 1 - x))
            c1 = _stabilise(sp.diff(complement, x))
            self._complement_trees = (complement, c1, _stabilise(sp.diff(c1, x)))

    @property
    def _y_pred_domain(self) -> Interval:  # type: ignore[override]
        return UNIT if self._variable == "p" else REAL

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self._params.items())
        return f"from_expression({self._parsed.text!r}{args})"

    def _eval(self, xp: Any, k: int, x: Any) -> Any:
        return _Evaluator(xp, {self._variable: x}, x)(self._trees[k])


class _ResidualExpression(ExpressionLoss, DistanceLoss):
    def _rho(self, xp: Any, r: Any) -> Any:
        return self._eval(xp, 0, r)

    def _rho_prime(self, xp: Any, r: Any) -> Any:
        return self._eval(xp, 1, r)

    def _rho_second(self, xp: Any, r: Any) -> Any:
        return self._eval(xp, 2, r)


class _MarginExpression(ExpressionLoss, MarginLoss):
    """Margin m = y·f; with p and from_logits=True, p = sigmoid(m). With p on probabilities
    (clipped to [ε, 1 − ε]): p = y_pred for label 1 and 1 − y_pred for label 0, each label
    with its own symbolic derivatives with respect to y_pred."""

    def _phi(self, xp: Any, m: Any) -> Any:
        return self._eval(xp, 0, m)

    def _phi_prime(self, xp: Any, m: Any) -> Any:
        return self._eval(xp, 1, m)

    def _phi_second(self, xp: Any, m: Any) -> Any:
        return self._eval(xp, 2, m)

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        if self._variable == "p":
            check_probabilities(xp, arrays[1], "y_pred", hint="Pass from_logits=True for raw scores.")

    def _by_label(self, xp: Any, k: int, y_true: Any, y_pred: Any) -> Any:
        eps = float(xp.finfo(y_pred.dtype).eps)
        q = S.clip(xp, y_pred, eps, 1.0 - eps)  # DESIGN §2: probabilities clipped to [ε, 1 − ε]
        one = _Evaluator(xp, {"p": q}, q)(self._trees[k])
        zero = _Evaluator(xp, {"p": q}, q)(self._complement_trees[k])
        return xp.where(signed_labels(xp, y_true) > 0, one, zero)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._variable != "p":
            return super()._per_sample(xp, y_true, y_pred)
        return self._by_label(xp, 0, y_true, y_pred)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._variable != "p":
            return super()._gradient(xp, y_true, y_pred)
        return self._by_label(xp, 1, y_true, y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._variable != "p":
            return super()._hessian(xp, y_true, y_pred)
        return self._by_label(xp, 2, y_true, y_pred)


def from_expression(text: str, task: str | None = None, name: str | None = None, *, register: bool = False,
                    **params: Any) -> ExpressionLoss:
    """A Loss from a formula in r, m or p (see the module docstring); parameters by keyword.

    - ``task``: "regression" for r, "binary" for m and p (default: implied by the variable).
    - ``name``: the registry name (default: the text); ``register=True`` adds it to the catalog.
    - ``params``: the formula's parameters and their default values (finite numbers); the
      loss takes them as keyword parameters (``type(L)(delta=2.0)``). For p, ``from_logits``
      (default False) makes y_pred raw scores and p = sigmoid(y·f).

    >>> L = from_expression("(1 - p)**2", from_logits=True)   # squared error on a sigmoid
    >>> print(L.gradient([1.0], [-10.0], reduction="sum"))    # vanishes when confidently wrong
    [-9.07874937e-05]
    """
    from_logits = params.pop("from_logits", None)
    for key, value in params.items():
        V.check_param("from_expression", key, value, V.FINITE)
    parsed = parse_expression(text, tuple(params))
    implied = parsed.task
    if task is None:
        task = implied
    _check_task(task, ("regression", "binary"))
    if task != implied:
        raise ValueError(
            f"task={task!r} does not match the variable {parsed.variable!r}, which is for {implied!r} losses"
            " (r: regression; m and p: binary)")
    if from_logits is not None and parsed.variable != "p":
        raise ValueError("from_logits applies to formulas in p (the probability of the true class) only")
    parameters = tuple(Param(k, float(v), V.FINITE, "formula parameter") for k, v in params.items())
    if parsed.variable == "p":
        parameters += (Param("from_logits", bool(from_logits), V.BOOLEAN, "y_pred holds raw scores; p = sigmoid(y·f)"),)
    import sympy as sp

    loss_name = _check_name(name if name is not None else text)
    base = _ResidualExpression if parsed.variable == "r" else _MarginExpression
    attrs = {
        "name": loss_name,
        "description": f"user formula: {text.strip()}"[:99],
        "formula": sp.latex(parsed.expr),
        "parameters": parameters,
        "_parsed": parsed,
        "_custom_task": task,
        "__doc__": f"User formula ``{text.strip()}`` in {parsed.variable} ({task}).",
    }
    cls = type(f"Expression_{abs(hash(text)) % 10**8}", (base,), attrs)
    if register:
        _register(cls)
    return cls(**{k: v for k, v in params.items()}, **({"from_logits": bool(from_logits)} if parsed.variable == "p" else {}))
