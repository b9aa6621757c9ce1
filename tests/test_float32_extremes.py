"""float32 at 1e-30 and 1e30, over the catalog (issue 12): the value, the gradient and the
Hessian computed in float32 are the float64 ones rounded to float32, or LossOverflow where
the float64 result exceeds float32's range (reduction="none" gives +inf for exactly the
samples whose loss does, and the reduced value raises).

Oracle: the same loss evaluated in float64 on the same inputs (float64 has room for every
such result: 1e±30 squared is 1e±60). Every loss whose inputs are one array pair on scale-
closed domains (the real line, or the positive half-line) is taken, with inputs drawn from
its declared domains (tests/domains.py) and multiplied by the scale; margin losses keep
their ±1 labels and ranking losses their relevance grades, and scale the scores. Elementwise results are compared to a relative 1e-4
(float32 keeps 7 digits; a few roundings add up), and results below float32's smallest
normal number (1.2e-38) may underflow to 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import losslab as ll
from cases import all_cases

F32_MAX = float(np.finfo(np.float32).max)
#: Below float32's smallest normal number a result may be 0 or subnormal.
UNDERFLOW = float(np.finfo(np.float32).tiny)

#: Results whose float64 oracle is itself rounding noise, with the reason.
KNOWN_NOISE = {
    ("negative_binomial_nll-full", 1e-30, "value"):
        "lgamma(y + 1/α) − lgamma(1/α) of two numbers near 1 leaves 4e-16 of float64 rounding for a true"
        " difference of 1e-30; float32 is the closer one here",
}


def _scale_closed(domain) -> bool:
    return domain is not None and domain.low in (0.0, -np.inf) and domain.high == np.inf


def _cases():
    out = []
    for case in all_cases():
        L = case.loss
        if not case.generated or L.event_ndim != 0 or tuple(L.inputs) != ("y_true", "y_pred"):
            continue
        labels = bool(L.traits.margin_based)
        if not _scale_closed(L.traits.y_pred_domain) or not (labels or _scale_closed(L.traits.y_true_domain)):
            continue
        out.append(case)
    return out


CASES = _cases()


def test_the_selection_covers_the_elementwise_catalog():
    """Regression, count, margin and deviance losses are all in (not an empty parametrization)."""
    names = {type(c.loss).name for c in CASES}
    assert {"mse", "huber", "cauchy", "barron", "poisson", "tweedie", "gamma_deviance", "negative_binomial_nll",
            "hinge", "logistic", "exponential", "squared_hinge"} <= names, sorted(names)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
@pytest.mark.parametrize("what", ["value", "gradient", "hessian"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float32_is_float64_rounded_or_an_overflow_error(case, what, scale):
    if what == "hessian" and not case.has_hessian:
        pytest.skip(f"{case.id} has no Hessian")
    if (case.id, scale, what) in KNOWN_NOISE:
        pytest.skip(KNOWN_NOISE[(case.id, scale, what)])
    L = case.loss
    (y_true, y_pred), options = case.make(np.random.default_rng(5), 6)
    if not (L.traits.margin_based or L.family == "ranking"):  # labels and relevance grades keep their values
        y_true = y_true * scale
    y_pred = y_pred * scale
    method = {"value": lambda *a: L(*a, reduction="none", **options),
              "gradient": lambda *a: L.gradient(*a, **options),
              "hessian": lambda *a: L.hessian(*a, **options)}[what]
    try:
        expected = np.asarray(method(y_true, y_pred), dtype=np.float64)
    except ll.LossOverflow:
        with pytest.raises(ll.LossOverflow):  # beyond float64, so beyond float32 too
            method(y_true.astype(np.float32), y_pred.astype(np.float32))
        return
    beyond = np.abs(expected) > F32_MAX
    if what != "value" and beyond.any():
        with pytest.raises(ll.LossOverflow):
            method(y_true.astype(np.float32), y_pred.astype(np.float32))
        return
    if beyond.any():
        # reduction="none" shows which samples overflowed: +inf there (a reduced value raises)
        with pytest.raises(ll.LossOverflow):
            L(y_true.astype(np.float32), y_pred.astype(np.float32), **options)
        got = method(y_true.astype(np.float32), y_pred.astype(np.float32))
        assert np.all(np.isposinf(got[beyond])) and np.all(np.isfinite(got[~beyond]))
        expected, got = expected[~beyond], got[~beyond]
        if not expected.size:
            return
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a result in range: no overflow or invalid-value warning on the way
            got = method(y_true.astype(np.float32), y_pred.astype(np.float32))
    assert got.dtype == np.float32
    error = np.abs(got.astype(np.float64) - expected)
    allowed = 1e-4 * np.abs(expected) + UNDERFLOW
    worst = int(np.argmax(error - allowed))
    assert np.all(error <= allowed), (f"{case.id} {what} at scale {scale:g}: float32 {got.ravel()[worst]!r} "
                                      f"against float64 {expected.ravel()[worst]!r}")
