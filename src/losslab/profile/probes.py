"""The measuring instruments: calling the loss on float64 grids, and reading shapes from the
numbers (minimisers, kinks, jumps, convexity, how a sequence behaves toward an end)."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..loss import Loss, LossOverflow
from ..traits import Interval, Traits
from .kinds import unit_options

class _Probe:
    """Calls the loss on NumPy float64 arrays: per-sample values and the 'sum' gradient."""

    def __init__(self, loss: Loss, traits: Traits, scale: float, rng: np.random.Generator):
        self.loss, self.traits, self.scale, self.rng = loss, traits, scale, rng
        self.options = unit_options(loss)

    def values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        opts = {k: np.full(np.shape(y_pred), v) for k, v in self.options.items()}
        return np.asarray(self.loss(y_true, y_pred, reduction="none", **opts), dtype=float)

    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        opts = {k: np.full(np.shape(y_pred), v) for k, v in self.options.items()}
        try:
            return np.asarray(self.loss.gradient(y_true, y_pred, reduction="sum", **opts), dtype=float)
        except LossOverflow:
            # The probes walk out to where a gradient overflows (the evidence of an unbounded
            # one): row by row, inf where it does.
            rows = []
            for i in range(len(y_pred)):
                row_opts = {k: v[i: i + 1] for k, v in opts.items()}
                try:
                    rows.append(self.loss.gradient(y_true[i: i + 1], y_pred[i: i + 1], reduction="sum", **row_opts))
                except LossOverflow:
                    rows.append(np.full((1,) + np.shape(y_pred)[1:], np.inf))
            return np.concatenate([np.asarray(r, dtype=float) for r in rows])


def _argmin_1d(risk: Callable[[np.ndarray], np.ndarray], grid: np.ndarray) -> float:
    """Global minimiser of a 1-D function: the best grid point, then a bounded Brent search between its neighbours."""
    from scipy.optimize import minimize_scalar

    grid = np.unique(grid)
    r = risk(grid)
    r = np.where(np.isfinite(r), r, np.inf)
    k = int(np.argmin(r))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    if hi <= lo:
        return float(grid[k])
    res = minimize_scalar(lambda c: float(risk(np.array([c]))[0]), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-12 * max(1.0, abs(grid[k])), "maxiter": 200})
    return float(res.x) if res.fun <= r[k] else float(grid[k])


def _kinks(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, max_candidates: int = 40) -> list[float]:
    """Points of ``x`` (a uniform grid) where f's slope jumps: kinks (or jumps) of f.

    A second difference that stands out from its neighbours is zoomed 32 times: at a smooth
    point it shrinks with the step (it is f″·h), at a kink it stays (it is the slope jump).
    """
    v = f(x)
    h = x[1] - x[0]
    s = np.diff(v) / h
    d = np.diff(s)
    if not np.all(np.isfinite(d)):
        d = np.where(np.isfinite(d), d, 0.0)
    size = max(1.0, float(np.max(np.abs(s[np.isfinite(s)]), initial=0.0)))
    padded = np.pad(np.abs(d), 3, mode="edge")
    background = np.minimum(padded[:-6], padded[6:])
    ratio = np.abs(d) / (background + 1e-300)
    cand = np.nonzero((np.abs(d) > 1e-7 * size) & (ratio > 2.0))[0]
    if len(cand) == 0:
        return []
    cand = cand[np.argsort(-np.abs(d[cand]))][:max_candidates]
    centres = x[cand + 1]
    fine = centres[:, None] + np.linspace(-h, h, 65)[None, :]
    fv = f(fine.ravel()).reshape(fine.shape)
    hf = fine[0, 1] - fine[0, 0]
    fd = np.diff(np.diff(fv, axis=1) / hf, axis=1)
    fd = np.where(np.isfinite(fd), fd, 0.0)
    found: list[float] = []
    for i, k in enumerate(cand):
        j = int(np.argmax(np.abs(fd[i])))
        coarse = float(np.max(np.abs(d[max(k - 1, 0):k + 2])))
        if abs(fd[i, j]) > max(0.25 * coarse, 1e-7 * size):
            loc = float(fine[i, j + 1])
            if all(abs(loc - g) > 2 * h for g in found):
                found.append(loc)
    return sorted(_round(g, h) for g in found)


def _jumps(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> list[float]:
    """Points of the uniform grid ``x`` where f itself jumps (a first difference that does not shrink when zoomed)."""
    v = f(x)
    h = x[1] - x[0]
    a = np.abs(np.diff(v))
    a = np.where(np.isfinite(a), a, 0.0)
    padded = np.pad(a, 3, mode="edge")
    ratio = a / (np.minimum(padded[:-6], padded[6:]) + 1e-300)
    cand = np.nonzero((a > 1e-9 * max(1.0, float(np.max(np.abs(v[np.isfinite(v)]), initial=1.0)))) & (ratio > 2.0))[0]
    cand = cand[np.argsort(-a[cand])][:20]
    if len(cand) == 0:
        return []
    fine = x[cand][:, None] + np.linspace(0.0, h, 65)[None, :]
    fa = np.abs(np.diff(f(fine.ravel()).reshape(fine.shape), axis=1))
    return sorted(float(x[k]) for i, k in enumerate(cand) if np.max(fa[i]) > 0.25 * a[k])


def _merge_kinks(values: Any, tol: float) -> tuple[float, ...]:
    out: list[float] = []
    for v in sorted(values):
        if not out or abs(v - out[-1]) > tol:
            out.append(v)
    return tuple(out)


def _round(x: float, h: float) -> float:
    step = 10.0 ** math.floor(math.log10(h / 8.0))
    return float(round(round(x / step) * step, 10)) + 0.0


def _convexity(x: np.ndarray, v: np.ndarray) -> tuple[bool, float, float]:
    """(convex, most negative slope increase, smallest slope increase) on a sorted grid."""
    s = np.diff(v) / np.diff(x)
    ds = np.diff(s)
    noise = 256 * np.finfo(float).eps * (np.abs(v[:-2]) + np.abs(v[1:-1]) + np.abs(v[2:])) * (
        1.0 / np.diff(x)[:-1] + 1.0 / np.diff(x)[1:]) + 1e-10 * (np.abs(s[:-1]) + np.abs(s[1:]))
    ok = np.isfinite(ds)
    worst = float(np.min((ds / noise)[ok], initial=np.inf))
    return bool(np.all(ds[ok] >= -noise[ok])), worst, float(np.min(ds[ok], initial=np.inf))


def _strict(x: np.ndarray, v: np.ndarray) -> bool:
    s = np.diff(v) / np.diff(x)
    ds = np.diff(s)
    noise = 256 * np.finfo(float).eps * (np.abs(v[:-2]) + np.abs(v[1:-1]) + np.abs(v[2:])) * (
        1.0 / np.diff(x)[:-1] + 1.0 / np.diff(x)[1:])
    ok = np.isfinite(ds)
    return bool(np.all(ds[ok] > noise[ok]))


def _tail(seq: np.ndarray) -> str:
    """'growing', 'bounded' or 'redescending' for |values| along a sequence running off to an end."""
    a = np.abs(seq)
    if not np.all(np.isfinite(a[-3:])) or a[-1] > 1e100:  # overflowed (or clipped at the float maximum)
        return "growing"
    last, prev, prev2 = a[-1], a[-2], a[-3]
    tiny = 1e-12 * max(1.0, float(np.max(a)))
    if last > prev * (1 + 1e-3) + tiny and prev > prev2 * (1 + 1e-3) + tiny:
        return "growing"
    if last < 0.5 * float(np.max(a)) - tiny:
        return "redescending"
    return "bounded"


def _merge_tails(tails: list[str]) -> str:
    if "growing" in tails:
        return "growing"
    return "redescending" if tails and all(t == "redescending" for t in tails) else "bounded"


def _toward_ends(dom: Interval, centre: float, scale: float) -> list[np.ndarray]:
    """Sequences of points running from ``centre`` to each end of ``dom`` (log-spaced)."""
    out = []
    steps = scale * 10.0 ** np.arange(0, 9)
    if math.isinf(dom.high):
        out.append(centre + steps)
    elif not dom.high_inclusive or dom.high <= 1:
        gaps = (dom.high - centre) * 10.0 ** -np.arange(0, 11)
        out.append(dom.high - gaps[1:])
    if math.isinf(dom.low):
        out.append(centre - steps)
    elif not dom.low_inclusive or dom.high <= 1:
        gaps = (centre - dom.low) * 10.0 ** -np.arange(0, 11)
        out.append(dom.low + gaps[1:])
    return out


def _shape_evidence(m: dict[str, Any], convex: bool, lips: bool, bounded: bool, where: str) -> None:
    m["convex_evidence"] = ("second differences >= 0 " if convex else "a negative second difference ") + where
    m["lipschitz_evidence"] = "the gradient stays bounded toward every end" if lips else \
        "the gradient grows toward an end (or the loss jumps)"
    m["bounded_evidence"] = "the loss stays bounded toward every end" if bounded else "the loss grows toward an end"
