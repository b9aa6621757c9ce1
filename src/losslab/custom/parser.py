"""Reading a formula: the whitelist and the complexity budget, before SymPy sees anything.

The text is parsed with ``ast.parse(mode="eval")`` only (nothing calls eval, exec or
compile on it) and checked node by node: numbers, the variable (r, m or p), parameters
given by keyword, + − * / **, unary −, and the functions in ``FUNCTIONS``. Anything else
is refused with a ValueError naming it.

The budget bounds what the symbolic work can cost, so that every formula is accepted or
refused quickly (a hostile text must not hang the process):

- size: at most ``MAX_LENGTH`` characters, ``MAX_NODES`` syntax nodes, ``MAX_DEPTH`` levels;
- numbers: literals at most ``MAX_CONSTANT``; every constant subexpression is folded in
  floating point and must stay within float64 (``10**300`` passes, ``(1/3)**(10**15)``,
  ``(2/3)**(-(10**15))`` and ``9**9**9`` do not): SymPy would otherwise compute them
  exactly, with numbers of 10^15 digits;
- powers: an exponent of a non-constant base is at most ``MAX_EXPONENT`` in magnitude;
- expansion: the degree of the formula as a polynomial (exponents multiply through
  nested powers, add through products) is at most ``MAX_DEGREE``.
"""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np

from .. import _stable as S

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
MAX_EXPONENT = 1000
MAX_DEGREE = 10_000
#: Constant subexpressions must lie within 10^±MAX_MAGNITUDE (float64 reaches 10^±308).
MAX_MAGNITUDE = 300
#: Names a parameter may not take: the variables, the functions and the keywords of from_expression.
RESERVED = set(VARIABLES) | set(FUNCTIONS) | {"task", "name", "register", "from_logits"}

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
BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def read(text: Any, params: tuple[str, ...]) -> tuple[ast.expr, str]:
    """Check ``text`` against the whitelist and the budget; return its syntax tree and its variable."""
    if not isinstance(text, str):
        raise TypeError(f"expression must be a string; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression is too long: {len(text)} characters; at most {MAX_LENGTH} are allowed")
    if "\x00" in text:
        raise ValueError("expression must not contain NUL characters")
    for name in params:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name in RESERVED \
                or name in _LOSS_ATTRIBUTES:
            raise ValueError(
                f"parameter name {name!r} is not allowed: use an identifier not starting with '_', not an attribute"
                f" of a Loss and not one of {sorted(RESERVED)}")
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
    checker = _Checker(params)
    _, degree = checker.check(tree.body, 0)
    if degree > MAX_DEGREE:
        raise ValueError(f"expression is too large once expanded: a polynomial of degree {degree:g} in its variable;"
                         f" at most {MAX_DEGREE} is allowed")
    used = sorted(checker.variables)
    if not used:
        raise ValueError(
            f"expression {text!r} uses no variable; write it in one of r (regression residual y_pred - y_true),"
            " m (margin y·f) or p (probability of the true class)")
    if len(used) > 1:
        raise ValueError(f"expression {text!r} mixes the variables {used}; use exactly one of r, m, p")
    unused = [p for p in params if p not in checker.used_params]
    if unused:
        raise ValueError(f"parameter(s) {unused} are not used in the expression {text!r}")
    return tree.body, used[0]


#: Attributes of a Loss object that a parameter (set as an attribute of the loss) would hide.
_LOSS_ATTRIBUTES: set[str] = set()


def protect_attributes(names: Any) -> None:
    """Declare the Loss attributes that a formula parameter may not be called (set by expression.py)."""
    _LOSS_ATTRIBUTES.update(n for n in names if n != "self")


class _Checker:
    """Walks the syntax tree: accepts only whitelisted nodes, folds constants, measures the degree.

    ``check`` returns (the value of a constant subtree as a float, or None; its degree in
    the variable), raising ValueError at the first node outside the whitelist or the budget.
    """

    def __init__(self, params: tuple[str, ...]):
        self.params = params
        self.variables: set[str] = set()
        self.used_params: set[str] = set()

    def check(self, node: ast.AST, depth: int) -> tuple[float | None, float]:  # noqa: C901 (one branch per node)
        if depth > MAX_DEPTH:
            raise ValueError(f"expression is nested too deeply; at most {MAX_DEPTH} levels are allowed")
        for kind, what in _REJECTED.items():
            if isinstance(node, kind):
                raise ValueError(f"{what} is not allowed in an expression")
        if isinstance(node, ast.Constant):
            return self.constant(node.value), 0.0
        if isinstance(node, ast.Name):
            if node.id in VARIABLES:
                self.variables.add(node.id)
                return None, 1.0
            if node.id in self.params:
                self.used_params.add(node.id)
                return None, 0.0
            if node.id in FUNCTIONS:
                raise ValueError(f"{node.id} is a function: call it, e.g. {node.id}(r)")
            allowed = ", ".join(sorted(VARIABLES)) + (f"; parameters: {', '.join(self.params)}" if self.params else "")
            raise ValueError(
                f"unknown name {node.id!r} in the expression; allowed names: {allowed}, and the functions"
                f" {', '.join(FUNCTIONS)}. Give parameters by keyword, e.g. from_expression(text, {node.id}=1.0)")
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise ValueError(f"the unary operator {type(node.op).__name__} is not allowed (only - and +)")
            value, degree = self.check(node.operand, depth + 1)
            return (None if value is None else (-value if isinstance(node.op, ast.USub) else value)), degree
        if isinstance(node, ast.BinOp):
            if type(node.op) not in BINARY:
                raise ValueError(
                    f"the operator {type(node.op).__name__} is not allowed; operators: {' '.join(BINARY.values())}")
            (a, da), (b, db) = self.check(node.left, depth + 1), self.check(node.right, depth + 1)
            return self.binary(node.op, a, b, da, db)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Compare):
            raise ValueError("comparisons are only allowed as the first argument of where(condition, a, b)")
        raise ValueError(f"{type(node).__name__} is not allowed in an expression")

    @staticmethod
    def constant(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = {str: "strings", bytes: "bytes", complex: "complex numbers"}.get(type(value), repr(value))
            raise ValueError(f"{what} are not allowed in an expression; only real numbers")
        if not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise ValueError(f"the number {value!r} is out of range; numbers must be finite and at most {MAX_CONSTANT:g}")
        return float(value)

    def binary(self, op: ast.operator, a: float | None, b: float | None, da: float, db: float
               ) -> tuple[float | None, float]:
        if isinstance(op, ast.Div) and b == 0:
            raise ValueError("division by the constant 0 in the expression")
        if isinstance(op, ast.Pow):
            return self.power(a, b, da, db)
        degree = max(da, db) if isinstance(op, (ast.Add, ast.Sub)) else da + db
        if a is None or b is None:
            return None, degree
        value = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(op)] if not isinstance(op, ast.Div) else a / b
        if value == 0 and a != 0 and b != 0 and isinstance(op, (ast.Mult, ast.Div)):
            raise ValueError(f"the constant {a:g} {BINARY[type(op)]} {b:g} underflows: constants must lie within"
                             f" 10^±{MAX_MAGNITUDE}")
        return _in_range(value, "the constant"), degree

    @staticmethod
    def power(a: float | None, b: float | None, da: float, db: float) -> tuple[float | None, float]:
        if b is None:
            # a**b = exp(b·log a) with b not a number: transcendental in the variable, if it appears
            return None, 1.0 if da > 0 or db > 0 else 0.0
        if a is None:
            if abs(b) > MAX_EXPONENT:
                raise ValueError(f"the exponent {b:g} is too large; at most {MAX_EXPONENT} in magnitude")
            return None, da * abs(b)
        if a == 0:
            if b < 0:
                raise ValueError("0 raised to a negative power in the expression")
            return (1.0 if b == 0 else 0.0), 0.0
        if a < 0 and b != round(b):
            raise ValueError(f"the constant power ({a:g})**{b:g} is not a real number (a negative base, a fractional"
                             " exponent)")
        # log10 of the result, whichever side of 1 the base lies: bases below 1 with large positive
        # exponents, and above 1 with large negative ones, are as far out of float64 as 10**(10**15).
        size = b * math.log10(abs(a))
        if abs(size) > MAX_MAGNITUDE:
            raise ValueError(f"the constant power {a:g}**{b:g} is too large or too small (about 10^{size:.3g});"
                             f" constants must lie within 10^±{MAX_MAGNITUDE}")
        return _in_range(a**b, "the constant power"), 0.0

    def call(self, node: ast.Call, depth: int) -> tuple[float | None, float]:
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
            self.condition(node.args[0], depth + 1)
            results = [self.check(x, depth + 1) for x in node.args[1:]]
            return None, max(d for _, d in results)
        results = [self.check(x, depth + 1) for x in node.args]
        degree = max(d for _, d in results)
        if name in ("abs", "min", "max", "sqrt"):
            degree = degree if name != "sqrt" else degree / 2
        elif degree > 0:
            degree = 1.0  # a transcendental function of the variable: expansion stops at its argument
        values = [v for v, _ in results]
        if any(v is None for v in values):
            return None, degree
        return _fold(name, values), degree

    def condition(self, node: ast.AST, depth: int) -> None:
        if not isinstance(node, ast.Compare):
            raise ValueError("the first argument of where() must be a comparison such as r < 1")
        if len(node.ops) != 1:
            raise ValueError("chained comparisons (a < b < c) are not allowed; use one comparison")
        op = type(node.ops[0])
        if op not in COMPARE:
            raise ValueError(f"the comparison {op.__name__} is not allowed; comparisons: {' '.join(COMPARE.values())}")
        self.check(node.left, depth + 1)
        self.check(node.comparators[0], depth + 1)


def _in_range(value: float, what: str) -> float:
    if not math.isfinite(value) or (value != 0 and abs(math.log10(abs(value))) > MAX_MAGNITUDE):
        raise ValueError(f"{what} {value:g} is out of range: constants must lie within 10^±{MAX_MAGNITUDE}")
    return value


def _fold(name: str, values: list[float]) -> float:
    """The value of a whitelisted function of constants, in float64, refused when undefined or out of range."""
    x = values[0]
    try:
        value = {
            "abs": lambda: abs(x), "exp": lambda: math.exp(x), "log": lambda: math.log(x),
            "log1p": lambda: math.log1p(x), "sqrt": lambda: math.sqrt(x), "cosh": lambda: math.cosh(x),
            "tanh": lambda: math.tanh(x), "sigmoid": lambda: float(S.sigmoid(np, np.float64(x))),
            "softplus": lambda: float(S.softplus(np, np.float64(x))),
            "min": lambda: min(values), "max": lambda: max(values),
        }[name]()
    except (OverflowError, ValueError):
        raise ValueError(f"{name}({', '.join(f'{v:g}' for v in values)}) is undefined or out of range"
                         " in the expression") from None
    return _in_range(value, f"the constant {name}(...) =")
