"""Loss specs in text: one syntax wherever a user types a loss (DESIGN §7).

A spec is ``name`` or ``name(param=value, ...)``: a catalog name or alias, then parameters
by keyword whose values are Python literals only (numbers, negative numbers included,
strings, ``True``/``False``/``None`` and lists of these)::

    mse
    huber(delta=1.345)
    focal(gamma=2, alpha=0.25)
    cross_entropy(class_weight=[1, 5], from_logits=True)

Specs are parsed with :mod:`ast` and never evaluated: nothing in the text is called or
looked up. In a search (:func:`expand_grid`, ``losslab search --losses``) a list value is a
grid, ``huber(delta=[0.5, 1, 2])`` being three candidates, except for a parameter that
takes a list as its value (``class_weight``, ``cost_matrix``): there a list of lists is the
grid.

:func:`resolve_loss` is the one door from user input to a Loss: a Loss, a name, a spec or a
formula in ``r``, ``m`` or ``p`` (handed to :func:`losslab.custom.from_expression`). What
``recommend`` prints (:func:`format_spec`) parses back to the same loss.

This module sits above the registry and the custom formulas; the loss core never imports it.
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from typing import Any

from .loss import Loss, get, resolve

__all__ = ["parse_spec", "format_spec", "split_specs", "expand_grid", "resolve_loss"]

_ALLOWED = ("numbers (2, -0.5, 1e-3), strings ('mean'), True, False, None, and lists of these")
_SYNTAX = "a loss spec is a name such as 'mse' or name(param=value, ...) such as 'huber(delta=1.345)'"
#: A formula mentions one of its variables r, m, p as a word; other text is not tried as one.
_VARIABLE = re.compile(r"\b[rmp]\b")
#: Specs longer than this are refused before parsing (the longest catalog spec is far shorter).
MAX_LENGTH = 2000


def _where(node: ast.AST, lead: int) -> str:
    return f"position {lead + getattr(node, 'col_offset', 0) + 1}"


def _literal(node: ast.AST, text: str, param: str, lead: int) -> Any:
    """The value of one literal node, or a ValueError naming the spec, parameter and position."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item, text, param, lead) for item in node.elts]
    shown = ast.get_source_segment(text.strip(), node) or type(node).__name__
    raise ValueError(f"loss spec {text!r}: the value of {param} at {_where(node, lead)} ({shown}) is not a literal;"
                     f" allowed: {_ALLOWED}")


def parse_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` of a spec ``name`` or ``name(param=value, ...)``, parsed without eval.

    The name is not looked up here (:func:`resolve_loss` does that); lists stay lists.

    >>> parse_spec("huber(delta=1.345)")
    ('huber', {'delta': 1.345})
    >>> parse_spec(" quantile( q = -0.5 ) ")
    ('quantile', {'q': -0.5})
    >>> parse_spec("huber(delta=[0.5, 1])")
    ('huber', {'delta': [0.5, 1]})
    """
    if not isinstance(text, str):
        raise TypeError(f"a loss spec must be a string; got {type(text).__name__}")
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    if not stripped:
        raise ValueError(f"the loss spec is empty; {_SYNTAX}")
    if len(stripped) > MAX_LENGTH:
        raise ValueError(f"loss spec of {len(stripped)} characters is too long (at most {MAX_LENGTH})")
    try:
        node = ast.parse(stripped, mode="eval").body
    except SyntaxError as exc:
        at = f" at position {lead + exc.offset}" if exc.offset else ""
        raise ValueError(f"loss spec {text!r} is not valid{at} ({exc.msg}); {_SYNTAX}") from None
    if isinstance(node, ast.Name):
        return node.id, {}
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError(f"loss spec {text!r} is not a name or name(...) (found {type(node).__name__} at"
                         f" {_where(node, lead)}); {_SYNTAX}")
    if node.args:
        raise ValueError(f"loss spec {text!r}: the value at {_where(node.args[0], lead)} has no parameter name;"
                         f" give parameters by name, e.g. {node.func.id}(param=value)")
    params: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError(f"loss spec {text!r}: '**' at {_where(kw, lead)} is not allowed; {_SYNTAX}")
        if kw.arg in params:
            raise ValueError(f"loss spec {text!r} gives {kw.arg} twice (at {_where(kw, lead)})")
        params[kw.arg] = _literal(kw.value, text, kw.arg, lead)
    return node.func.id, params


def _plain(value: Any, name: str) -> Any:
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()  # NumPy scalars and arrays
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"format_spec: {name}={value!r} has no literal form (a spec takes finite numbers)")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"format_spec: {name}={value!r} is a {type(value).__name__}; a spec holds {_ALLOWED}")


def format_spec(name: str | Loss, params: dict[str, Any] | None = None) -> str:
    """The spec text of ``name`` with ``params``; ``parse_spec`` gives them back unchanged.

    A Loss gives its name and the parameters that differ from their defaults.

    >>> format_spec("huber", {"delta": 1.345})
    'huber(delta=1.345)'
    >>> format_spec(get("quantile", q=0.9))
    'quantile(q=0.9)'
    """
    if isinstance(name, Loss):
        if params is not None:
            raise TypeError("format_spec(loss) takes its parameters from the loss; leave params out")
        defaults = {p.name: p.default for p in type(name).parameters}
        params = {k: v for k, v in name.params.items() if k in defaults and not _same(v, defaults[k])}
        name = name.name
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"format_spec: the name must be an identifier such as 'huber'; got {name!r}")
    if not params:
        return name
    parts = []
    for key, value in params.items():
        if not (isinstance(key, str) and key.isidentifier()):
            raise ValueError(f"format_spec: parameter names must be identifiers; got {key!r}")
        parts.append(f"{key}={_plain(value, key)!r}")
    return f"{name}({', '.join(parts)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) if not (hasattr(a, "shape") or hasattr(b, "shape")) else False
    except Exception:  # noqa: BLE001 - incomparable values are different
        return False


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs at the commas outside parentheses and brackets.

    >>> split_specs("mse, huber(delta=[0.5, 1]), quantile(q=0.9)")
    ['mse', 'huber(delta=[0.5, 1])', 'quantile(q=0.9)']
    """
    if not isinstance(text, str):
        raise TypeError(f"a list of loss specs must be a string; got {type(text).__name__}")
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{text!r}: unmatched {ch!r} at position {i + 1}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth or quote:
        raise ValueError(f"{text!r}: unclosed {'quote' if quote else 'parenthesis or bracket'}")
    parts.append(text[start:])
    items = [p.strip() for p in parts]
    if not any(items):
        raise ValueError(f"{text!r} names no loss; give one or more specs separated by commas, e.g. 'mse,mae'")
    empty = [k + 1 for k, p in enumerate(items) if not p]
    if empty:
        raise ValueError(f"{text!r}: item {empty[0]} is empty (two commas in a row, or a trailing comma)")
    return items


def _takes_list(name: str, param: str, value: list) -> bool:
    """Whether ``param`` of loss ``name`` accepts the list ``value`` itself (class_weight=[1, 5])."""
    try:
        get(name, **{param: value})
    except (TypeError, ValueError):
        return False
    return True


def expand_grid(text: str) -> list[Loss]:
    """The losses a spec stands for in a search: list values are expanded as a grid.

    ``huber(delta=[1, 2])`` is ``[Huber(delta=1.0), Huber(delta=2.0)]``; several lists give
    their cartesian product. A parameter that takes a list as its value keeps it (a list of
    lists is the grid there). A formula is one loss.

    >>> expand_grid("quantile(q=[0.1, 0.9])")
    [Quantile(q=0.1), Quantile(q=0.9)]
    """
    try:
        name, params = parse_spec(text)
        resolve(name)
    except ValueError:
        return [resolve_loss(text)]
    axes = []
    for key, value in params.items():
        grid = isinstance(value, list) and not _takes_list(name, key, value)
        if grid and not value:
            raise ValueError(f"loss spec {text!r}: the grid of {key} is empty; give at least one value")
        axes.append([(key, v) for v in value] if grid else [(key, value)])
    return [get(name, **dict(combo)) for combo in itertools.product(*axes)]


def resolve_loss(obj: Any, **params: Any) -> Loss:
    """The Loss that ``obj`` names: a Loss, a catalog name or alias, a spec, or a formula.

    ``params`` are added to those of the spec (giving one twice is an error); for a formula
    they are its parameters (see :func:`losslab.custom.from_expression`). Unknown names get
    "did you mean" suggestions.

    >>> resolve_loss("huber(delta=2.5)")
    Huber(delta=2.5)
    >>> resolve_loss("quantile", q=0.9)
    Quantile(q=0.9)
    """
    if isinstance(obj, Loss):
        return get(obj, **params)
    if not isinstance(obj, str):
        raise TypeError(f"a loss must be a Loss, a name, a spec or a formula; got {type(obj).__name__}")
    try:
        name, spec_params = parse_spec(obj)
    except ValueError as spec_error:
        if _head_is_loss(obj):  # huber(delta=x): a spec gone wrong, not a formula
            raise
        return _formula(obj, params, spec_error)
    try:
        resolve(name)
    except ValueError as unknown:
        if spec_params:  # name(param=...) with an unknown name: a formula has no keywords
            raise unknown from None
        return _formula(obj, params, unknown)
    both = sorted(set(spec_params) & set(params))
    if both:
        raise ValueError(f"loss spec {obj!r} and the keyword arguments both give {', '.join(both)}")
    try:
        return get(name, **spec_params, **params)
    except ValueError as exc:
        grids = [k for k, v in spec_params.items() if isinstance(v, list)]
        if grids:
            raise ValueError(f"{exc} (a list in a spec is a grid only in a search, e.g. losslab search --losses)"
                             ) from None
        raise


def _head_is_loss(text: str) -> bool:
    """Whether ``text`` starts as ``name(`` with ``name`` a registered loss."""
    head = text.strip().split("(", 1)[0].strip()
    try:
        resolve(head)
    except (TypeError, ValueError):
        return False
    return head.isidentifier()


def _formula(text: str, params: dict[str, Any], first: ValueError) -> Loss:
    """``text`` as a formula; if it is not one either, the clearer of the two errors."""
    if not _VARIABLE.search(text):
        if "unknown loss" in str(first):
            raise first
        raise ValueError(f"{text!r} is neither a loss spec nor a valid expression in r, m or p: {first}") from None
    from .custom import from_expression

    try:
        return from_expression(text, **params)
    except ValueError as exc:
        if "unknown loss" in str(first):
            raise ValueError(f"{first} ({text!r} is not a valid formula either: {exc})") from None
        raise ValueError(f"{text!r} is neither a registered loss nor a valid expression: {exc}") from None
