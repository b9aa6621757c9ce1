"""Declared properties of a loss: ``Interval`` (input domains) and ``Traits``.

The definitions below are the ones ``losslab.profile`` measures, and the tests check that
every built-in loss declares what is measured.

- convex / strictly_convex: of the per-sample loss as a function of y_pred.
- differentiable / twice_differentiable: everywhere on the y_pred domain.
- lipschitz: |ℓ(a) − ℓ(b)| ≤ L·|a − b| for one L over the whole y_pred domain.
- bounded: the per-sample loss has a finite supremum.
- robust: bounded influence: |∂ℓ/∂y_pred| stays bounded as the residual grows.
- margin_based: a function of the margin y·f (y in {−1, +1}).
- distance_based: a function of the residual r = y_pred − y_true.
- classification_calibrated: minimising its risk gives the Bayes classifier's sign
  (Bartlett, Jordan & McAuliffe 2006); for convex margin losses φ, φ'(0) < 0.
- proper: a proper scoring rule: the expected loss under q is minimised at p = q.
- estimates: the statistic the minimiser of the expected loss is: "mean", "median",
  "quantile(q)", "probability", "sign", "mode", ... or "other".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Interval", "Traits", "REAL", "POSITIVE", "NONNEGATIVE", "UNIT", "SIGN"]


@dataclass(frozen=True)
class Interval:
    """A set of real numbers ``low .. high`` with open or closed ends.

    >>> Interval(0, 1)
    Interval([0, 1])
    >>> Interval(0, math.inf, low_inclusive=False).contains(0.0)
    False
    """

    low: float
    high: float
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"Interval low must not exceed high; got low={self.low}, high={self.high}")

    def contains(self, value: float) -> bool:
        """Whether the number ``value`` lies in the interval."""
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return bool(above and below)

    def contains_array(self, xp: Any, x: Any) -> Any:
        """Elementwise: which entries of the array ``x`` lie in the interval (NaN does not)."""
        above = x >= self.low if self.low_inclusive else x > self.low
        below = x <= self.high if self.high_inclusive else x < self.high
        return above & below

    def __str__(self) -> str:
        left = "[" if self.low_inclusive and math.isfinite(self.low) else "("
        right = "]" if self.high_inclusive and math.isfinite(self.high) else ")"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def __repr__(self) -> str:
        return f"Interval({self})"


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


REAL = Interval(-math.inf, math.inf, False, False)
POSITIVE = Interval(0.0, math.inf, False, False)
NONNEGATIVE = Interval(0.0, math.inf, True, False)
UNIT = Interval(0.0, 1.0)
SIGN = Interval(-1.0, 1.0)


@dataclass(frozen=True)
class Traits:
    """What a loss is, declared by its author (see the module docstring for definitions)."""

    task: str
    y_true_domain: Interval = REAL
    y_pred_domain: Interval = REAL
    convex: bool = False
    strictly_convex: bool = False
    differentiable: bool = True
    twice_differentiable: bool = True
    lipschitz: bool = False
    bounded: bool = False
    robust: bool = False
    margin_based: bool = False
    distance_based: bool = False
    classification_calibrated: bool | None = None
    proper: bool | None = None
    estimates: str = "other"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["y_true_domain"] = str(self.y_true_domain)
        out["y_pred_domain"] = str(self.y_pred_domain)
        out["notes"] = list(self.notes)
        return out

    #: The boolean properties, in the order the CLI and profile print them.
    PROPERTIES = (
        "convex",
        "strictly_convex",
        "differentiable",
        "twice_differentiable",
        "lipschitz",
        "bounded",
        "robust",
        "margin_based",
        "distance_based",
        "classification_calibrated",
        "proper",
    )
