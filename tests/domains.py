"""Valid random inputs for a loss, drawn from what the loss declares about itself.

As scikit-learn's ``random_y_true_raw_prediction`` reads a loss's ``interval_y_true`` and
``interval_y_pred``, ``draw`` reads ``loss.traits.y_true_domain`` and ``y_pred_domain``
(``Interval`` objects) and the loss's structure:

- ``loss.inputs``: which arrays to make (per-call keywords come from the case, whose
  domains are not declared);
- ``loss.event_ndim``: 1 means a class axis (rows of ``n_classes`` values);
- ``traits.margin_based``: y_true are labels, the two ends of the declared ``[-1, 1]``
  (or ``{0, 1}``, the other label convention the margin losses accept);
- a class axis with a y_true domain inside [0, 1]: class-index targets or distribution
  rows (one-hot or soft); with a y_pred domain inside [0, 1], probability rows; with
  ``(-inf, 0]``, log-probability rows; with the real line, scores or logits.

Closed ends of a domain are included: the targets (inputs the gradient is not taken of)
always hold them (hard 0/1 labels among soft ones, ±1 labels, zero counts); with
``edges="all"`` the predictions do too (probabilities of exactly 0 and 1, one-hot
probability rows). Interiors are drawn away from the ends, so that the finite differences
of ``oracles.py`` stay inside the domain.

What the declarations do not say is given by the case: where a non-smooth loss has its
kinks (``away_from_residual`` for functions of r = y_pred − y_true, ``away_from_margin``
for functions of y·f), which target form a class axis takes, and the per-call keywords
(``options``) whose domain is not declared (gaussian_nll's ``var``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

#: Classes on a class axis (cost_sensitive's test cost matrix is 4 x 4).
N_CLASSES = 4
#: Spread of draws on the real line: residuals of two such draws have sd 2.8, which puts
#: points on both sides of every kink and threshold of the catalog's default parameters.
REAL_SCALE = 2.0
#: Fraction of a finite interval kept free at each end for interior draws.
END_MARGIN = 0.05


def draw(
    loss: Any,
    rng: np.random.Generator,
    n: int,
    *,
    target: str = "index",
    labels: str = "signed",
    away_from_residual: tuple[float, ...] = (),
    away_from_margin: tuple[float, ...] = (),
    gap: float = 0.05,
    edges: str = "targets",
    shape: tuple[int, ...] = (),
    n_classes: int = N_CLASSES,
    options: Callable[[np.random.Generator, tuple], dict] | None = None,
) -> tuple[tuple, dict]:
    """``(arrays, options)`` for ``loss(*arrays, **options)``: ``n`` samples in the declared domains.

    - ``target``: "index" or "distribution", the form of y_true on a class axis;
    - ``labels``: "signed" ({−1, +1}) or "01" ({0, 1}), the label convention of margin losses;
    - ``away_from_residual`` / ``away_from_margin``: kinks of the loss, kept ``gap`` away;
    - ``edges``: "targets" (closed ends in y_true only) or "all" (in y_pred too);
    - ``shape``: trailing axes of elementwise losses (``(3,)`` for a 2-D input);
    - ``options``: a factory of the per-call keywords, ``options(rng, y_pred.shape)``.
    """
    if tuple(loss.inputs) != ("y_true", "y_pred"):
        raise TypeError(
            f"{loss.name} takes {loss.inputs}: its inputs' structure is not declared in its traits;"
            " give its case a hand-written factory"
        )
    if target not in ("index", "distribution") or labels not in ("signed", "01") or edges not in ("targets", "all"):
        raise ValueError(f"bad draw spec: target={target!r}, labels={labels!r}, edges={edges!r}")
    traits = loss.traits
    if loss.event_ndim == 1:
        y_true = _class_targets(rng, n, n_classes, traits.y_true_domain, target)
        y_pred = _class_predictions(rng, n, n_classes, traits.y_pred_domain, edges == "all")
    elif loss.event_ndim == 0:
        size = (n,) + tuple(shape)
        if traits.margin_based:
            y_true = _labels(rng, size, traits.y_true_domain, labels)
        else:
            y_true = _elementwise(rng, size, traits.y_true_domain, with_ends=True)
        y_pred = _elementwise(rng, size, traits.y_pred_domain, with_ends=edges == "all")
    else:
        raise TypeError(f"{loss.name}: event_ndim={loss.event_ndim} is not drawn here; write a factory")
    if away_from_residual:
        y_pred = y_true + away_from(y_pred - y_true, away_from_residual, gap)
    if away_from_margin:
        y = np.where(y_true == 0, -1.0, y_true)  # the {0, 1} convention is y = 2t − 1
        y_pred = y * away_from(y * y_pred, away_from_margin, gap)
    return (y_true, y_pred), (options(rng, y_pred.shape) if options else {})


def away_from(values: np.ndarray, kinks: tuple[float, ...], gap: float) -> np.ndarray:
    """Move entries that lie within ``gap`` of a kink out to ``gap`` away from it."""
    out = np.array(values, dtype=float, copy=True)
    for k in kinks:
        close = np.abs(out - k) < gap
        out[close] = k + np.where(out[close] >= k, gap, -gap)
    return out


def closed_ends(interval: Any) -> list[float]:
    """The finite ends that belong to the interval (the values a draw must be able to hit)."""
    ends = []
    if interval.low_inclusive and math.isfinite(interval.low):
        ends.append(float(interval.low))
    if interval.high_inclusive and math.isfinite(interval.high) and interval.high != interval.low:
        ends.append(float(interval.high))
    return ends


def in_interval(values: np.ndarray, interval: Any) -> np.ndarray:
    """Elementwise ``interval.contains``."""
    values = np.asarray(values, dtype=float)
    above = values >= interval.low if interval.low_inclusive else values > interval.low
    below = values <= interval.high if interval.high_inclusive else values < interval.high
    return above & below


# ------------------------------------------------------------------------------ pieces
def _interior(rng: np.random.Generator, size: tuple, interval: Any) -> np.ndarray:
    low, high = interval.low, interval.high
    if math.isfinite(low) and math.isfinite(high):
        width = high - low
        return rng.uniform(low + END_MARGIN * width, high - END_MARGIN * width, size=size)
    if math.isfinite(low):
        return low + rng.lognormal(0.0, 0.7, size=size)
    if math.isfinite(high):
        return high - rng.lognormal(0.0, 0.7, size=size)
    return rng.normal(0.0, REAL_SCALE, size=size)


def _elementwise(rng: np.random.Generator, size: tuple, interval: Any, with_ends: bool) -> np.ndarray:
    """Interior draws; with ``with_ends``, about a third of the entries on the closed ends,
    and each closed end at least once when there is room."""
    values = _interior(rng, size, interval)
    ends = closed_ends(interval)
    if not (with_ends and ends) or values.size == 0:
        return values
    flat = values.reshape(-1)
    picked = rng.random(flat.size) < 1.0 / 3.0
    flat[picked] = rng.choice(ends, size=int(picked.sum()))
    if flat.size >= 2 * len(ends):  # every end present, at positions the coin did not decide
        slots = rng.choice(flat.size, size=len(ends), replace=False)
        flat[slots] = ends
    return flat.reshape(size)


def _labels(rng: np.random.Generator, size: tuple, interval: Any, convention: str) -> np.ndarray:
    """Binary labels of a margin loss: the two ends of its declared y_true domain ([-1, 1]),
    or {0, 1}, the convention mapped onto them."""
    ends = closed_ends(interval)
    if len(ends) != 2:
        raise TypeError(f"a margin loss declares labels as a closed interval's two ends; got {interval}")
    values = np.array([0.0, 1.0]) if convention == "01" else np.array(ends)
    out = rng.choice(values, size=size)
    if out.size >= 2:
        out.reshape(-1)[:2] = values  # both labels present
    return out


def _probability_rows(rng: np.random.Generator, n: int, n_classes: int, one_hot: bool, scale: float = 0.7) -> np.ndarray:
    z = rng.normal(0.0, scale, size=(n, n_classes))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if one_hot and n >= 2:
        # About a third of the rows on the simplex's vertices: every entry exactly 0 or 1.
        rows = rng.random(n) < 1.0 / 3.0
        rows[0] = True
        p[rows] = np.eye(n_classes)[rng.integers(0, n_classes, size=int(rows.sum()))]
    return p


def _class_targets(rng: np.random.Generator, n: int, n_classes: int, interval: Any, target: str) -> np.ndarray:
    if not (interval.low >= 0.0 and interval.high <= 1.0):
        raise TypeError(f"a class axis with y_true in {interval} is not a target over classes; write a factory")
    if target == "index":
        return rng.integers(0, n_classes, size=n).astype(float)
    return _probability_rows(rng, n, n_classes, one_hot=True, scale=1.0)


def _class_predictions(rng: np.random.Generator, n: int, n_classes: int, interval: Any, edges: bool) -> np.ndarray:
    if interval.low >= 0.0 and interval.high <= 1.0:
        return _probability_rows(rng, n, n_classes, one_hot=edges)
    if interval.high == 0.0 and interval.low == -math.inf:
        # Log-probabilities: the closed end 0 needs every other class at −inf (not finite).
        return np.log(_probability_rows(rng, n, n_classes, one_hot=False))
    if interval.low == -math.inf and interval.high == math.inf:
        return rng.normal(0.0, REAL_SCALE, size=(n, n_classes))
    raise TypeError(f"a class axis with y_pred in {interval} is not drawn here; write a factory")
