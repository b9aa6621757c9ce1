"""The symbolic side of a formula: the checked syntax tree becomes a SymPy expression, is
differentiated, and rewritten into stable forms; all of it under a hard time limit.

``parser.py`` has already bounded the formula (size, constants, exponents, degree), so
SymPy never meets a number it would take long to compute exactly and never expands a
power: the rewriting below matches shapes (log(1 + e^u), 1 − sigmoid(u)) without
``expand``. The time limit (``MAX_SECONDS``) is a second wall: the symbolic work is
interrupted once the deadline has passed (a timer signal, or a profile hook off the main
thread), so a formula the budget did not foresee is refused instead of hanging the
process; the size of the derivative trees is capped (``MAX_TREE``), which bounds their
memory and the cost of every later evaluation.
"""

from __future__ import annotations

import ast
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator


#: Seconds the symbolic work (building, differentiating, rewriting) of one formula may take.
MAX_SECONDS = 5.0
#: Nodes a formula and its two derivatives may hold together once differentiated.
MAX_TREE = 50_000


class _OutOfTime(Exception):
    """Raised inside the symbolic work when its deadline has passed (never escapes ``time_limit``)."""


@contextmanager
def time_limit(text: str, seconds: float | None = None) -> Iterator[None]:
    """Run the block with a deadline: past it, ValueError naming the formula.

    In the main thread of a POSIX process with no timer of its own, a real-time timer
    (``signal.setitimer``) interrupts the block at no cost while it runs. Elsewhere (other
    threads, Windows, a caller's own SIGALRM timer) a profile hook sees every function call
    of this thread and raises at the first one after the deadline; it makes the symbolic
    work slower, and the previous hook (a profiler, a debugger) keeps running. Either way
    SymPy, which is Python, is interrupted promptly; a single long C call (an exact power of
    a huge number) is what the parser's budget excludes.
    """
    limit = MAX_SECONDS if seconds is None else seconds
    try:
        with (_alarm if _alarm_available() else _profile_hook)(max(limit, 1e-6)):
            yield
    except _OutOfTime:
        raise ValueError(f"expression {text!r} is too complex: its symbolic derivatives took more than {limit:g} s"
                         " (simplify the formula, or write it as a function with losslab.custom_loss)") from None
    except RecursionError:
        raise ValueError(f"expression {text!r} is too complex: its symbolic derivatives are nested too deeply"
                         ) from None


def _alarm_available() -> bool:
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0)


@contextmanager
def _alarm(limit: float) -> Iterator[None]:
    armed = [True]

    def ring(signum: int, frame: Any) -> None:
        if armed[0]:  # once: a ring during the clean-up below must not interrupt it
            armed[0] = False
            raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, ring)
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        yield
    finally:
        try:
            armed[0] = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            signal.signal(signal.SIGALRM, previous)


@contextmanager
def _profile_hook(limit: float) -> Iterator[None]:
    deadline = time.monotonic() + limit
    previous = sys.getprofile()
    calls = [0]

    def hook(frame: Any, event: str, arg: Any) -> None:
        if previous is not None:
            previous(frame, event, arg)
        calls[0] += 1
        if calls[0] % 64 == 0 and event in ("call", "c_call") and time.monotonic() > deadline:
            raise _OutOfTime

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(previous)


def check_size(text: str, trees: tuple[Any, ...]) -> None:
    """Refuse derivative trees over ``MAX_TREE`` nodes (counted up to the cap, never further)."""
    import sympy as sp

    count = 0
    for tree in trees:
        for _ in sp.preorder_traversal(tree):
            count += 1
            if count > MAX_TREE:
                raise ValueError(f"expression {text!r} is too complex: its derivatives hold more than {MAX_TREE}"
                                 " nodes (simplify the formula, or write it as a function with losslab.custom_loss)")


_FUNCTION_CACHE: dict[str, Any] = {}


def sympy_functions() -> dict[str, Any]:
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


def build(node: ast.AST) -> Any:
    """The SymPy expression of a syntax tree that ``parser.read`` has accepted."""
    return _Builder().build(node)


class _Builder:
    def __init__(self) -> None:
        import sympy

        self.sp = sympy
        self.fn = sympy_functions()

    def build(self, node: ast.AST) -> Any:
        sp = self.sp
        if isinstance(node, ast.Constant):
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        if isinstance(node, ast.Name):
            return sp.Symbol(node.id, real=True)
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            a, b = self.build(node.left), self.build(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                if b == 0:  # a symbolic zero such as (r - r)
                    raise ValueError("division by the constant 0 in the expression")
                return a / b
            return a**b
        if isinstance(node, ast.Call):
            return self.call(node)
        raise ValueError(f"{type(node).__name__} is not allowed in an expression")  # the parser admits none

    def call(self, node: ast.Call) -> Any:
        sp, fn = self.sp, self.fn
        name = node.func.id  # type: ignore[attr-defined]
        if name == "where":
            cond = self.condition(node.args[0])
            a, b = (self.build(x) for x in node.args[1:])
            return sp.Piecewise((a, cond), (b, True))
        inner = node.args[0]
        if name == "log" and isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) \
                and inner.func.id == "cosh" and len(inner.args) == 1:
            # log(cosh u) overflows at |u| ≈ 710; its stable form is written once in _stable.
            return fn["logcosh"](self.build(inner.args[0]))
        args = [self.build(x) for x in node.args]
        table = {"abs": sp.Abs, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "cosh": sp.cosh, "tanh": sp.tanh,
                 "log1p": fn["log1p"], "sigmoid": fn["sigmoid"], "softplus": fn["softplus"],
                 "min": sp.Min, "max": sp.Max}
        return table[name](*args)

    def condition(self, node: ast.Compare) -> Any:
        sp = self.sp
        op = type(node.ops[0])
        a, b = self.build(node.left), self.build(node.comparators[0])
        return {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}[op](a, b)


def stabilise(expr: Any) -> Any:
    """Rewrite log(sigmoid u) → −softplus(−u), log(1 − sigmoid u) → −softplus(u), log(1 + e^u) → softplus(u),
    log(1 + x) → log1p(x), 1 − sigmoid(u) → sigmoid(−u).

    The shapes are matched on SymPy's canonical sums (a − (1 − s) is 0 exactly when the sum
    a holds the terms 1 and −s), never by expanding: an expansion is what a hostile formula
    such as log(exp(r) + (1+r)**1000*(2+r)**1000) would turn into millions of terms.
    """
    import sympy as sp

    fn = sympy_functions()
    sig, softplus = fn["sigmoid"], fn["softplus"]
    has_log, has_sigmoid = expr.has(sp.log), expr.has(sig)
    if not (has_log or has_sigmoid):
        return expr  # nothing to rewrite; walking a large polynomial's derivatives would only cost time

    def rewrite(e: Any) -> Any:
        if not e.args:
            return e
        e = e.func(*[rewrite(a) for a in e.args])
        if has_log and isinstance(e, sp.log):
            (a,) = e.args
            if isinstance(a, sig):
                return -softplus(-a.args[0])
            if a.is_Add:
                for s in a.atoms(sig):
                    if a - (1 - s) == 0:
                        return -softplus(s.args[0])
                for x in a.atoms(sp.exp):
                    if a - (1 + x) == 0:
                        return softplus(x.args[0])
                if sp.S.One in a.args:
                    return fn["log1p"](a - 1)  # log(1 + x) loses x's digits for small x
        if has_sigmoid and isinstance(e, sp.Add):
            for s in e.atoms(sig):
                if e - (1 - s) == 0:
                    return sig(-s.args[0])
        return e

    return rewrite(expr)
