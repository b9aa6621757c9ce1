"""Evaluating SymPy trees with ``xp`` calls: no lambdify, no eval, every backend.

The stable forms (softplus, sigmoid, log cosh) are the ones in ``losslab._stable``; the
nodes are those the parser admits and their derivatives produce (Heaviside, DiracDelta,
Piecewise, relations).
"""

from __future__ import annotations

from typing import Any

from .. import _stable as S
from .symbolic import sympy_functions


class Evaluator:
    """Evaluates a SymPy expression tree with ``xp`` calls (no lambdify, no eval)."""

    def __init__(self, xp: Any, env: dict[str, Any], like: Any):
        import sympy as sp

        self.xp, self.env, self.like, self.sp = xp, env, like, sp
        self.fn = sympy_functions()

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
