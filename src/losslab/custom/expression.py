"""A loss from a formula: ``from_expression`` and ``parse_expression``.

The text is read by ``parser.py`` (whitelist and budget), turned into SymPy and
differentiated by ``symbolic.py`` (under a time limit), and evaluated by ``evaluate.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _stable as S
from .. import _validate as V
from .._array import is_tracing, to_numpy
from ..loss import Loss, Param
from ..loss.links import check_probabilities
from ..loss.shapes import DistanceLoss, MarginLoss, signed_labels
from ..traits import REAL, UNIT, Interval
from . import parser
from .base import MAX_NAME, MeasuredTraits, check_name, check_task
from .evaluate import Evaluator
from .function import register_user_loss
from .symbolic import build, check_size, stabilise, sympy_functions, time_limit

parser.protect_attributes(dir(Loss))


class ParsedExpression:
    """A checked formula: its SymPy expression, variable, parameter names and task."""

    def __init__(self, text: str, expr: Any, variable: str, params: tuple[str, ...]):
        self.text, self.expr, self.variable, self.params = text, expr, variable, params

    @property
    def task(self) -> str:
        return parser.VARIABLES[self.variable]

    def __repr__(self) -> str:
        return f"ParsedExpression({self.text!r}, variable={self.variable!r}, params={self.params})"


def parse_expression(text: Any, params: tuple[str, ...] | list[str] = ()) -> ParsedExpression:
    """Parse and check ``text`` (see ``losslab.custom``); raise ValueError naming what is not allowed.

    Only ``ast.parse(text, mode="eval")`` reads the text; the tree is checked node by node
    against the whitelist and the budget before SymPy builds anything from it.
    """
    params = tuple(params)
    tree, variable = parser.read(text, params)
    with time_limit(text):
        expr = build(tree)
    return ParsedExpression(text, expr, variable, params)


class ExpressionLoss(MeasuredTraits, Loss):
    """A loss from a checked formula; see ``from_expression``."""

    family = "custom"
    _parsed: ParsedExpression
    _y_true_domain: Interval = REAL

    def _check_params(self) -> None:
        with time_limit(self._parsed.text):
            self._differentiate()

    def _differentiate(self) -> None:
        import sympy as sp

        variable = self._parsed.variable
        expr = self._parsed.expr
        if variable == "p" and self._params.get("from_logits", False):
            expr, variable = expr.subs(sp.Symbol("p", real=True), sympy_functions()["sigmoid"](sp.Symbol("m", real=True))), "m"
        values = {sp.Symbol(k, real=True): sp.Float(float(v)) for k, v in self._params.items() if k != "from_logits"}
        expr = stabilise(expr.subs(values))
        x = sp.Symbol(variable, real=True)
        d1 = stabilise(sp.diff(expr, x))
        d2 = stabilise(sp.diff(d1, x))
        self._variable, self._trees = variable, (expr, d1, d2)
        trees = self._trees
        if variable == "p":
            # Label 0: p = 1 − y_pred, written out so that log(1 − y_pred) becomes log1p(−y_pred) and
            # keeps its digits near y_pred = 0; derivatives are then taken with respect to y_pred itself.
            complement = stabilise(expr.subs(x, 1 - x))
            c1 = stabilise(sp.diff(complement, x))
            self._complement_trees = (complement, c1, stabilise(sp.diff(c1, x)))
            trees += self._complement_trees
        check_size(self._parsed.text, trees)

    @property
    def _y_pred_domain(self) -> Interval:  # type: ignore[override]
        return UNIT if self._variable == "p" else REAL

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self._params.items())
        return f"from_expression({self._parsed.text!r}{args})"

    def _eval(self, xp: Any, k: int, x: Any, trees: tuple[Any, ...] | None = None) -> Any:
        with np.errstate(all="ignore"):  # NaN is reported below as what it is: a point outside the domain
            out = Evaluator(xp, {self._variable: x}, x)((trees or self._trees)[k])
        if k == 0:
            self._check_domain(xp, x, out)
        return out

    def _check_domain(self, xp: Any, x: Any, values: Any) -> None:
        """NaN from finite inputs: the formula is undefined there (a root or log of a negative, 0/0)."""
        if is_tracing(values) or not bool(xp.any(xp.isnan(values))):
            return
        flat_x, flat_v = to_numpy(x).reshape(-1), to_numpy(values).reshape(-1)
        i = int(np.argmax(np.isnan(flat_v)))
        raise ValueError(
            f"{self.name}: the formula is undefined (NaN) at {self._variable} = {flat_x[i]:g} (element {i}): that"
            f" input lies outside the formula's domain (a root or log of a negative number, 0/0, inf − inf)."
            " Restrict the formula, e.g. with abs() or where(), or keep the inputs inside its domain.")


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
        q = S.clip(xp, y_pred, eps, 1.0 - eps)  # probabilities are clipped to [ε, 1 − ε]
        one = self._eval(xp, k, q)
        zero = self._eval(xp, k, q, self._complement_trees)
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


def _default_name(text: str) -> str:
    """The formula itself, spaces collapsed, shortened with '…' past the longest name allowed."""
    short = " ".join(text.split())
    return short if len(short) <= MAX_NAME else short[: MAX_NAME - 1] + "…"


def from_expression(text: str, task: str | None = None, name: str | None = None, *, register: bool | None = None,
                    **params: Any) -> ExpressionLoss:
    """A Loss from a formula in r, m or p (see ``losslab.custom``); parameters by keyword.

    - ``task``: "regression" for r, "binary" for m and p (default: implied by the variable).
    - ``name``: the registry name (default: the text, shortened past 100 characters). Given
      a ``name``, the loss is registered unless ``register=False`` (see ``custom_loss``).
    - ``params``: the formula's parameters and their default values (finite numbers); the
      loss takes them as keyword parameters (``type(L)(delta=2.0)``). For p, ``from_logits``
      (True or False, default False) makes y_pred raw scores and p = sigmoid(y·f).

    >>> L = from_expression("(1 - p)**2", from_logits=True)   # squared error on a sigmoid
    >>> print(L.gradient([1.0], [-10.0], reduction="sum"))    # vanishes when confidently wrong
    [-9.07874937e-05]
    """
    from_logits = params.pop("from_logits", None)
    if from_logits is not None:
        V.check_param("from_expression", "from_logits", from_logits, V.BOOLEAN)
    for key, value in params.items():
        V.check_param("from_expression", key, value, V.FINITE)
    parsed = parse_expression(text, tuple(params))
    implied = parsed.task
    if task is None:
        task = implied
    check_task(task, ("regression", "binary"))
    if task != implied:
        raise ValueError(
            f"task={task!r} does not match the variable {parsed.variable!r}, which is for {implied!r} losses"
            " (r: regression; m and p: binary)")
    if from_logits is not None and parsed.variable != "p":
        raise ValueError("from_logits applies to formulas in p (the probability of the true class) only")
    if register is not None and not isinstance(register, bool):
        raise TypeError(f"register must be True, False or None (register when a name is given); got {register!r}")
    parameters = tuple(Param(k, float(v), V.FINITE, "formula parameter") for k, v in params.items())
    if parsed.variable == "p":
        parameters += (Param("from_logits", bool(from_logits), V.BOOLEAN, "y_pred holds raw scores; p = sigmoid(y·f)"),)
    import sympy as sp

    loss_name = check_name(name) if name is not None else _default_name(text)
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
    loss = cls(**params, **({"from_logits": bool(from_logits)} if parsed.variable == "p" else {}))
    register_user_loss(cls, register if register is not None else name is not None, explicit=register is True)
    return loss
