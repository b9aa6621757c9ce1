"""Profiles of regression losses: what the best constant estimates on skewed samples, the
shape for a few targets, how the gradient behaves as an outlier runs away, the influence
of one outlier on the best constant, and the Gaussian efficiency of location losses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..traits import Interval
from .card import Profile
from .probes import (
    _argmin_1d, _convexity, _jumps, _kinks, _merge_kinks, _merge_tails, _Probe, _strict, _tail, _toward_ends,
)

def _targets(dom: Interval) -> list[float]:
    if dom.low == -math.inf:
        return [0.7, -2.0, 3.0]
    if dom.low_inclusive and dom.low == 0 and dom.high == math.inf:
        return [0.0, 0.7, 3.0]
    return [0.7, 3.0]


def _pred_grid(dom: Interval, t: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(wide sorted grid, uniform central grid) of predictions inside ``dom`` around target ``t``."""
    if dom.low == -math.inf:
        central = t + scale * np.linspace(-8.0, 8.0, 641)
        far = scale * np.logspace(1, 4, 40)
        wide = np.concatenate([t - far[::-1], central, t + far])
        return wide, central
    # Kinks are looked for from 0.05 away from an open end, where curvature blows up (1/μ²).
    lo = dom.low if dom.low_inclusive else dom.low + 0.05 * scale
    central = np.linspace(lo, max(lo, t) + 8.0 * scale, 641)
    if not dom.low_inclusive:
        central = central[central > dom.low]
    far = max(lo, t) + scale * np.logspace(1, 4, 40)
    near = dom.low + scale * np.logspace(-6, -1.5, 19)[:-1] if not dom.low_inclusive else np.array([])
    return np.unique(np.concatenate([near, central, far])), central


def _samples() -> dict[str, np.ndarray]:
    """Skewed samples, deterministic (quantile grids): log-normal and a contaminated Gaussian."""
    from scipy.stats import norm

    n = 501
    u = (np.arange(n) + 0.5) / n
    lognormal = np.exp(norm.ppf(u))
    bulk = 5.0 + norm.ppf((np.arange(400) + 0.5) / 400)
    outliers = 15.0 + norm.ppf((np.arange(101) + 0.5) / 101)
    contaminated = np.sort(np.concatenate([bulk, outliers]))
    # Narrow data (spread ~0.2) show loss shapes that live at small residuals (an ε-tube).
    return {"lognormal": lognormal, "contaminated_gaussian": contaminated, "narrow_lognormal": 1.0 + 0.2 * lognormal}


def _fit_constant(probe: _Probe, y: np.ndarray, extra: np.ndarray | None = None) -> float:
    dom = probe.traits.y_pred_domain
    grid = np.linspace(y.min(), y.max(), 161)
    if extra is not None:
        grid = np.concatenate([grid, extra])
    grid = grid[[dom.contains(g) for g in grid]]

    def risk(c: np.ndarray) -> np.ndarray:
        yy = np.broadcast_to(y, (len(c), len(y)))
        cc = np.broadcast_to(c[:, None], yy.shape)
        return probe.values(np.ascontiguousarray(yy), np.ascontiguousarray(cc)).mean(axis=1)

    return _argmin_1d(risk, grid)


def _match_statistic(fits: dict[str, float], samples: dict[str, np.ndarray]) -> tuple[str, dict[str, Any]]:
    evidence: dict[str, Any] = {}
    is_mean = is_median = on_point = True
    levels = []
    for key, y in samples.items():
        c = fits[key]
        spread = float(np.subtract(*np.percentile(y, [75, 25])))
        tol = 1e-6 * spread
        mean, median = float(np.mean(y)), float(np.median(y))
        lo, hi = float(np.mean(y < c - tol)), float(np.mean(y <= c + tol))
        levels.append((lo - 0.5 / len(y), hi + 0.5 / len(y)))
        evidence[key] = {"best_constant": c, "mean": mean, "median": median, "level": (lo + hi) / 2}
        is_mean &= abs(c - mean) <= tol * 100
        is_median &= abs(c - median) <= tol * 100
    if is_mean:
        return "mean", evidence
    if is_median:
        return "median", evidence
    low, high = max(lo for lo, _ in levels), min(hi for _, hi in levels)
    if on_point and low <= high:
        q = round((low + high) / 2, 2)
        return f"quantile({q:g})", evidence
    return "other", evidence


def _profile_regression(probe: _Probe, card: Profile) -> None:
    tr, scale, m = probe.traits, probe.scale, card.measurements
    dom_t, dom_p = tr.y_true_domain, tr.y_pred_domain
    # ---- estimates
    samples = _samples()
    fits = {k: _fit_constant(probe, y, np.log(y) if dom_p.low == -math.inf else None) for k, y in samples.items()}
    card.estimates, m["estimates"] = _match_statistic(fits, samples)
    if card.estimates == "other" and dom_p.low == -math.inf and dom_t.low >= 0:
        # A log link (y_pred = log μ, as Poisson's log_input): compare exp(best) with the statistics.
        linked, evidence = _match_statistic({k: math.exp(v) for k, v in fits.items()}, samples)
        if linked != "other":
            card.estimates, m["estimates"] = linked, evidence
            card.notes.append(f"estimates the {linked} through a log link: exp(best prediction) is the {linked}")
    ev = m["estimates"]
    m["estimates_evidence"] = "; ".join(
        f"{k}: best {v['best_constant']:.4g} vs mean {v['mean']:.4g}, median {v['median']:.4g}" for k, v in ev.items())
    # ---- distance-based: ℓ(y + t, ŷ + t) = ℓ(y, ŷ)
    yt = np.array([0.5, 1.0, 2.0, 3.0, 0.8])
    yp = np.array([1.5, 0.2, 2.5, 7.0, 0.9])
    base = probe.values(yt, yp)
    shifted = probe.values(yt + 1.7, yp + 1.7)
    card.distance_based = bool(np.allclose(base, shifted, rtol=1e-9, atol=1e-12))
    # ---- convexity, kinks, tails for a few fixed targets
    convex, strict, diff1, diff2, lips, bounded = True, True, True, True, True, True
    kinks: set[float] = set()
    worst = np.inf
    for t in _targets(dom_t):
        wide, central = _pred_grid(dom_p, t, scale)
        inside = t if dom_p.contains(t) and t != dom_p.low else 1.0
        v = probe.values(np.full_like(wide, t), wide)
        ok, w, _ = _convexity(wide, v)
        convex &= ok
        worst = min(worst, w)
        vc = probe.values(np.full_like(central, t), central)
        strict &= _strict(central, vc)
        k1 = _kinks(lambda x, t=t: probe.values(np.full_like(x, t), x), central)
        lips &= not _jumps(lambda x, t=t: probe.values(np.full_like(x, t), x), central)
        k2 = _kinks(lambda x, t=t: probe.gradient(np.full_like(x, t), x), central)
        diff1 &= not k1
        diff2 &= not k1 and not k2
        kinks.update(round(k - t, 8) for k in k1)
        for seq in _toward_ends(dom_p, inside, scale):
            lips &= _tail(probe.gradient(np.full_like(seq, t), seq)) != "growing"
            bounded &= _tail(probe.values(np.full_like(seq, t), seq)) != "growing"
        if t == _targets(dom_t)[0]:
            card.curves.update(x=central - t if card.distance_based else central, value=vc,
                               gradient=probe.gradient(np.full_like(central, t), central),
                               xlabel="residual r = y_pred - y_true" if card.distance_based else f"y_pred (y_true={t:g})")
    card.convex, card.strictly_convex = convex, convex and strict
    card.differentiable, card.twice_differentiable = diff1, diff2
    card.kinks = _merge_kinks(kinks, 0.05 * scale)
    card.lipschitz, card.bounded = lips, bounded
    m["convex_evidence"] = "second differences >= 0 on every grid" if convex else \
        f"a second difference {worst:.3g} times below the rounding noise"
    # ---- robustness: the target (an outlier) moves away from a fixed prediction
    c0 = 0.0 if dom_t.contains(0.0) and dom_p.contains(0.0) and dom_t.low < 0 else 1.0
    tails, g_seqs = [], {}
    for seq in _toward_ends(dom_t, c0, scale):
        if not math.isinf(seq[-1] - c0) and abs(seq[-1] - c0) < 1e3 * scale:
            continue  # a bounded target domain: no outlier can run away
        g = probe.gradient(seq, np.full_like(seq, c0))
        tails.append(_tail(g))
        g_seqs[f"toward {'+' if seq[-1] > c0 else '-'}inf"] = g.tolist()
    card.gradient_tail = _merge_tails(tails)
    card.robust = card.gradient_tail != "growing"
    m["gradient_as_outlier_grows"] = g_seqs
    m["robust_evidence"] = f"the gradient's size as y_true runs away from y_pred is {card.gradient_tail}"
    m["lipschitz_evidence"] = "the gradient's size bounded toward every end of the y_pred domain" if lips else \
        "the gradient's size grows toward an end of the y_pred domain"
    m["bounded_evidence"] = "loss stays bounded toward every end" if bounded else "loss grows toward an end"
    # ---- influence of one outlier on the best constant
    base_y = samples["lognormal"] if dom_t.low >= 0 else np.log(samples["lognormal"]) + 0.5
    base_y = base_y[::5]
    c_base = _fit_constant(probe, base_y)
    spread = float(np.std(base_y))
    outs = base_y.max() + spread * 10.0 ** np.arange(1, 5)
    shifts = []
    for o in outs:
        y = np.append(base_y, o)
        extra = np.concatenate([np.linspace(base_y.max(), o, 60), [o]])
        shifts.append(_fit_constant(probe, y, extra) - c_base)
    shifts = np.array(shifts)
    influence_bounded = bool(abs(shifts[-1]) <= 1.05 * abs(shifts[-2]) + 1e-9 * spread)
    m["influence"] = {"outlier": outs.tolist(), "shift_of_best_constant": shifts.tolist(),
                      "bounded": influence_bounded, "n": len(base_y) + 1}
    card.curves.update(outlier=outs - c_base, shift=shifts * (len(base_y) + 1))
    if influence_bounded != card.robust:
        card.notes.append(
            f"the gradient tail says robust={card.robust} but one outlier's pull on the best constant is "
            f"{'bounded' if influence_bounded else 'unbounded'} over the outliers tried")
    # ---- efficiency of symmetric location losses under N(0, 1)
    if card.distance_based and dom_t.low == -math.inf and dom_p.low == -math.inf:
        # Midpoint rule on [−12, 12]: no node at 0, where a kinked ψ (sign) has its jump.
        h = 24.0 / 24000
        x = -12.0 + h * (np.arange(24000) + 0.5)
        psi = probe.gradient(np.zeros_like(x), x)
        if np.allclose(psi, -psi[::-1], rtol=1e-9, atol=1e-12 * np.max(np.abs(psi))):
            phi = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            e_xpsi, e_psi2 = float(np.sum(x * psi * phi) * h), float(np.sum(psi * psi * phi) * h)
            if e_psi2 > 0:
                card.efficiency = float(e_xpsi**2 / e_psi2)
                m["efficiency_evidence"] = f"(E[Xψ])²/E[ψ²] = {e_xpsi:.6g}²/{e_psi2:.6g} under N(0, 1)"
        else:
            card.notes.append("efficiency not computed: the gradient is not odd (not a symmetric location loss)")
