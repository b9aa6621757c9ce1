"""Input checks, in one place (DESIGN §3).

Bad input never gives a silent wrong number, a NaN or a traceback from deep inside an
array library: every check raises ``ValueError`` or ``TypeError`` with a message that
names the argument, shows what was given and says what is allowed.

Shape and dtype checks always run. Checks that need concrete values (ranges, NaN) cannot
raise while JAX traces a function (``jax.jit``, ``jax.grad``), where values are abstract
(DESIGN §7): there each check computes whether its input is invalid and ``traced_invalid``
records it; the loss then poisons its result with NaN wherever an input was invalid, so
that an invalid input never gives a plausible number. Inside ``checked()`` the same checks
also call ``jax.experimental.checkify.check``, so that a function wrapped in
``checkify.checkify`` raises with the eager message.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ._array import array_namespace, is_numpy, is_tracing, to_numpy
from .traits import Interval

def check_floating_or_integer(xp: Any, x: Any, name: str) -> None:
    if not (xp.isdtype(x.dtype, "numeric") or xp.isdtype(x.dtype, "bool")):
        raise TypeError(f"{name} must be a numeric array; got dtype {x.dtype}")
    if xp.isdtype(x.dtype, "complex floating"):
        raise TypeError(f"{name} must be real; got complex dtype {x.dtype}")


def check_same_shape(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Equal shapes, with the (n,) against (n, 1) case called out: it would broadcast to (n, n)."""
    shape_a, shape_b = tuple(a.shape), tuple(b.shape)
    if shape_a == shape_b:
        return
    hint = ""
    if len(shape_a) + len(shape_b) == 3 and sorted((len(shape_a), len(shape_b))) == [1, 2]:
        hint = (
            " A shape (n,) against (n, 1) would broadcast to (n, n) and give a wrong number;"
            " reshape one of them (e.g. y.reshape(-1))."
        )
    raise ValueError(f"{name_a} and {name_b} must have the same shape; got {shape_a} and {shape_b}.{hint}")


def concrete(value: Any) -> float | None:
    """A Python float of a 0-d array, or None while tracing (the value is abstract)."""
    if is_tracing(value):
        return None
    if hasattr(value, "detach"):  # a torch tensor that may require grad
        value = value.detach()
    return float(value)


# ---------------------------------------------------------------------------- under tracing
#: The invalid-input flags recorded while a loss is traced (None outside a traced call).
_TRACED_FLAGS: contextvars.ContextVar[list | None] = contextvars.ContextVar("losslab_traced_flags", default=None)
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("losslab_checked", default=False)


@contextlib.contextmanager
def checked():
    """Traced value checks raise through ``jax.experimental.checkify`` (the checked mode)::

        from jax.experimental import checkify
        with ll.checked():
            err, value = checkify.checkify(jax.jit(ll.get("bce")))(y_true, y_pred)
        err.throw()  # "y_pred must hold probabilities in [0, 1]", as in eager mode

    (tests/test_core.py runs this.)
    """
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


@contextlib.contextmanager
def collecting_traced_flags():
    """Collect the invalid-input flags of the checks run inside (for poisoning)."""
    token = _TRACED_FLAGS.set([])
    try:
        yield _TRACED_FLAGS.get()
    finally:
        _TRACED_FLAGS.reset(token)


def traced_invalid(xp: Any, invalid: Any, message: str) -> None:
    """Record that a traced input is invalid where ``invalid`` (a traced boolean) is True."""
    invalid = xp.any(invalid)
    flags = _TRACED_FLAGS.get()
    if flags is not None:
        flags.append(invalid)
    if _CHECKED.get():
        from jax.experimental import checkify

        checkify.check(~invalid, message)


def _first_bad_index(bad: np.ndarray) -> tuple[int, ...]:
    idx = np.argwhere(bad)[0]
    return tuple(int(i) for i in idx)


def check_finite(xp: Any, x: Any, name: str, *, allow_neg_inf: bool = False) -> None:
    """No NaN anywhere; no ±inf (a −inf is allowed where ``allow_neg_inf``, for masked logits)."""
    if is_numpy(xp):
        # Fast path: a sum is finite only if every term is; one read, no temporary. A sum
        # that is not finite (a bad value, or finite values overflowing) gets the full check.
        if x.dtype.kind != "f":
            return
        with np.errstate(invalid="ignore", over="ignore"):  # inf − inf in the sum is the signal
            if math.isfinite(np.add.reduce(x, axis=None)):
                return
    elif is_tracing(x):
        if xp.isdtype(x.dtype, "real floating"):
            bad = xp.isnan(x) | ((x == math.inf) if allow_neg_inf else xp.isinf(x))
            traced_invalid(xp, bad, f"{name} must be finite and not NaN" + (" (-inf allowed)" if allow_neg_inf else ""))
        return
    elif not xp.isdtype(x.dtype, "real floating"):
        return
    values = to_numpy(x)
    nan = np.isnan(values)
    if nan.any():
        raise ValueError(
            f"{name} must not contain NaN; found {int(nan.sum())} NaN value(s), the first at index"
            f" {_first_bad_index(nan)}."
        )
    bad = np.isposinf(values) if allow_neg_inf else np.isinf(values)
    if bad.any():
        what = "+inf" if allow_neg_inf else "±inf"
        allowed = " (−inf is allowed for a masked logit)" if allow_neg_inf else ""
        raise ValueError(
            f"{name} must be finite{allowed}; found {int(bad.sum())} {what} value(s), the first at index"
            f" {_first_bad_index(bad)}."
        )


def check_in(xp: Any, x: Any, name: str, interval: Interval, *, what: str = "values", hint: str = "") -> None:
    """Every element of ``x`` lies in ``interval``; the message shows the offending extreme."""
    if is_tracing(x):
        traced_invalid(xp, ~interval.contains_array(xp, x), f"{name} must hold {what} in {interval}")
        return
    if x.size == 0:
        return
    lo, hi = concrete(xp.min(x)), concrete(xp.max(x))
    if lo is None or hi is None:  # inside jax.jit even a constant's min is abstract
        return
    if not interval.contains(lo):
        raise ValueError(f"{name} must hold {what} in {interval}; got min {lo:g}.{(' ' + hint) if hint else ''}")
    if not interval.contains(hi):
        raise ValueError(f"{name} must hold {what} in {interval}; got max {hi:g}.{(' ' + hint) if hint else ''}")


def same_namespace(xp: Any, w: Any) -> bool:
    try:
        return array_namespace(w) is xp
    except TypeError:
        return False


# ---------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Rule:
    """A rule for a loss parameter: ``check(value)`` is True when allowed; ``text`` says what is."""

    check: Callable[[Any], bool]
    text: str


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


REAL_NUMBER = Rule(lambda v: _is_real(v) and not math.isnan(v), "a real number")
FINITE = Rule(lambda v: _is_real(v) and math.isfinite(v), "a finite real number")
POSITIVE = Rule(lambda v: _is_real(v) and math.isfinite(v) and v > 0, "a finite number > 0")
NONNEGATIVE = Rule(lambda v: _is_real(v) and math.isfinite(v) and v >= 0, "a finite number >= 0")
#: A scale whose square the loss forms (c²/6, ½c² log(1 + (r/c)²)): the square must be a
#: normal float64, so the scale lies in [1e-150, 1e150] (a residual's scale, never near those).
SQUARABLE_SCALE = Rule(lambda v: _is_real(v) and 1e-150 <= v <= 1e150, "a number in [1e-150, 1e150] (its square must fit a float64)")
OPEN_UNIT = Rule(lambda v: _is_real(v) and 0 < v < 1, "a number in (0, 1)")
HALF_OPEN_UNIT = Rule(lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)")
CLOSED_UNIT = Rule(lambda v: _is_real(v) and 0 <= v <= 1, "a number in [0, 1]")
BOOLEAN = Rule(lambda v: isinstance(v, (bool, np.bool_)), "True or False")


def one_of(*choices: Any) -> Rule:
    return Rule(lambda v: v in choices, "one of " + ", ".join(map(repr, choices)))


def optional(rule: Rule) -> Rule:
    return Rule(lambda v: v is None or rule.check(v), f"None or {rule.text}")


def interval_rule(low: float, high: float, low_inclusive: bool = True, high_inclusive: bool = True) -> Rule:
    interval = Interval(low, high, low_inclusive, high_inclusive)
    return Rule(lambda v: _is_real(v) and not math.isnan(v) and interval.contains(v), f"a number in {interval}")


def check_param(loss_name: str, name: str, value: Any, rule: Rule) -> None:
    try:
        allowed = rule.check(value)
    except (OverflowError, TypeError, ValueError):  # an int beyond float range, an odd object
        allowed = False
    if not allowed:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:28] + "…" + shown[-28:]
        raise ValueError(f"{loss_name}: {name} must be {rule.text}; got {shown}")


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """' Did you mean 'a', 'b'?' or '' (for unknown names)."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)
    return f" Did you mean {', '.join(map(repr, close))}?" if close else ""
