"""Profiles of binary classification losses: on margins y·f (scores) or on probabilities.

For each label: shape (convexity, kinks, tails); the margin form; the gradient a sigmoid
model receives when confidently wrong; and what the best prediction under Bernoulli(q)
estimates (q itself: proper; its sign only: classification-calibrated).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _stable as S
from ..traits import Interval
from .card import Profile
from .probes import (
    _argmin_1d, _convexity, _jumps, _kinks, _merge_kinks, _Probe, _shape_evidence, _strict, _tail, _toward_ends,
)

_QS = np.array([0.1, 0.25, 0.4, 0.6, 0.75, 0.9])


def _profile_binary(probe: _Probe, card: Profile) -> None:
    m = card.measurements
    is_prob = card.kind == "binary-probability"
    logits = bool(probe.loss.params.get("from_logits", False))
    ones = lambda x: np.ones_like(x)  # noqa: E731
    zeros = lambda x: np.zeros_like(x)  # noqa: E731
    if is_prob:
        # Kinks are looked for from 0.02 away from 0 and 1, where −log p's curvature blows up.
        central = np.linspace(0.02, 0.98, 961)
        wide = np.concatenate([10.0 ** -np.arange(12, 1.6, -0.5), central, 1 - 10.0 ** -np.arange(1.75, 12.1, 0.5)])
    else:
        central = probe.scale * np.linspace(-8.0, 8.0, 641)
        far = probe.scale * np.logspace(1, 4, 40)
        wide = np.concatenate([-far[::-1], central, far])
    # ---- shape for each label
    convex = strict = diff1 = diff2 = lips = bounded = True
    kinks: set[float] = set()
    for label in (ones, zeros):
        v = probe.values(label(wide), wide)
        convex &= _convexity(wide, v)[0]
        strict &= _strict(central, probe.values(label(central), central))
        k1 = _kinks(lambda x: probe.values(label(x), x), central)
        k2 = _kinks(lambda x: probe.gradient(label(x), x), central)
        lips &= not _jumps(lambda x: probe.values(label(x), x), central)
        diff1 &= not k1
        diff2 &= not k1 and not k2
        # Kinks in terms of the true class: the margin y·f, or the probability of the true class.
        kinks.update(k if label is ones else (1 - k if is_prob else -k) for k in k1)
        dom = Interval(0.0, 1.0, False, False) if is_prob else Interval(-math.inf, math.inf, False, False)
        for seq in _toward_ends(dom, 0.5 if is_prob else 0.0, probe.scale):
            lips &= _tail(probe.gradient(label(seq), seq)) != "growing"
            bounded &= _tail(probe.values(label(seq), seq)) != "growing"
    card.convex, card.strictly_convex = convex, convex and strict
    card.differentiable, card.twice_differentiable = diff1, diff2
    card.kinks, card.lipschitz, card.bounded = _merge_kinks(kinks, 0.05), lips, bounded
    _shape_evidence(m, convex, lips, bounded, "for labels 1 and 0 over " + ("p in (0, 1)" if is_prob else "scores"))
    # ---- margin form: ℓ(1, f) = ℓ(0, −f) for scores
    if not is_prob and not _accepts_soft_labels(probe):
        card.margin_based = bool(np.allclose(probe.values(ones(central), central),
                                             probe.values(zeros(central), -central), rtol=1e-9, atol=1e-12))
    # ---- gradient with respect to the score z (the logit, for probability inputs), true label 1
    z = np.linspace(-10.0, 10.0, 401) * (probe.scale if not is_prob else 1.0)
    if is_prob:
        p = S.sigmoid(np, z)
        gz = probe.gradient(np.ones_like(p), p) * p * (1 - p)
    else:
        gz = probe.gradient(np.ones_like(z), z)
    peak = float(np.max(np.abs(gz)))
    wrong, right = float(abs(gz[0])), float(abs(gz[-1]))
    card.vanishing_gradient_when_wrong = bool(wrong < 1e-3 * peak)
    zero = np.nonzero(gz != 0)[0]
    if len(zero) and zero[-1] < len(z) - 1 and not is_prob:
        card.zero_gradient_beyond = float(z[zero[-1] + 1]) if np.all(gz[zero[-1] + 1:] == 0) else None
        if card.zero_gradient_beyond is not None:
            card.zero_gradient_beyond = _zero_edge(probe, float(z[zero[-1]]), card.zero_gradient_beyond)
    m["gradient_when_wrong"], m["gradient_when_right"], m["gradient_peak"] = wrong, right, peak
    m["vanishing_gradient_when_wrong_evidence"] = (
        f"size of dℓ/d{'logit' if is_prob else 'score'} at {z[0]:g}: {wrong:.3g} (peak {peak:.3g}); at {z[-1]:g}: {right:.3g}")
    card.curves.update(x=central, value=probe.values(ones(central), central),
                       gradient=probe.gradient(ones(central), central),
                       xlabel="p (probability of class 1), y_true = 1" if is_prob else "score f (margin y·f), y_true = 1",
                       z=z, gradient_z=gz)
    # ---- robust: confidently wrong (true label 1, prediction to its low end)
    seq = _toward_ends(Interval(0.0, 1.0, False, False), 0.5, 1.0)[1] if is_prob else -probe.scale * 10.0 ** np.arange(0, 9)
    card.gradient_tail = _tail(probe.gradient(np.ones_like(seq), seq))
    card.robust = card.gradient_tail != "growing"
    m["robust_evidence"] = f"the gradient's size as the prediction becomes confidently wrong is {card.gradient_tail}"
    # ---- estimates under Bernoulli(q)
    grid = np.linspace(1e-4, 1 - 1e-4, 2001) if is_prob else np.linspace(-30.0, 30.0, 2401)
    best = []
    for q in _QS:
        def risk(f: np.ndarray, q: float = q) -> np.ndarray:
            return q * probe.values(np.ones_like(f), f) + (1 - q) * probe.values(np.zeros_like(f), f)

        best.append(_argmin_1d(risk, grid))
    best = np.array(best)
    half = 0.5 if is_prob else 0.0
    calibrated = bool(np.all(np.sign(best - half) == np.sign(_QS - 0.5)) and np.all(np.abs(best - half) > 1e-6))
    edge = grid[-1] - 1e-3 * (grid[-1] - grid[0])
    invertible = bool(np.all(np.diff(best) > 1e-4 * (grid[-1] - grid[0])) and np.all(np.abs(best - half) < abs(edge - half)))
    if is_prob:
        proper, link = bool(np.allclose(best, _QS, atol=2e-4)), "identity"
    elif logits:
        proper, link = bool(np.allclose(S.sigmoid(np, best), _QS, atol=2e-4)), "sigmoid (from_logits)"
    else:
        # Raw scores: proper composite when q can be read back from f*(q) through an invertible link.
        proper, link = invertible, _link(best) if invertible else "none"
    card.classification_calibrated, card.proper = calibrated, proper
    # Calibrated but not proper: "sign" when f* only takes the two signs' values, else a distorted probability.
    saturated = bool(np.ptp(best[_QS > 0.5]) < 1e-6 * (grid[-1] - grid[0]) and np.ptp(best[_QS < 0.5]) < 1e-6 * (grid[-1] - grid[0]))
    card.estimates = "probability" if proper else ("sign" if calibrated and saturated else "other")
    m["estimates_evidence"] = {"probability": "the best prediction recovers q", "sign": "the best prediction only"
                               " takes one value per side of q = 1/2", "other": "the best prediction is a distorted"
                               " function of q" if calibrated else "the best prediction does not follow q"}[card.estimates]
    m["best_prediction_under_bernoulli_q"] = {"q": _QS.tolist(), "best": best.tolist(), "link": link}
    m["proper_evidence"] = "best " + ("p" if is_prob else "f") + " at q = " + ", ".join(
        f"{q:g}: {b:.4g}" for q, b in zip(_QS, best)) + (f" (link: {link})" if proper and not is_prob else "")
    m["calibrated_evidence"] = "sign of the best prediction matches sign(q - 1/2)" if calibrated else \
        "the best prediction's sign does not follow q"


def _accepts_soft_labels(probe: _Probe) -> bool:
    """Soft labels (y in (0, 1)) have no margin form: margin_based is measured only for hard-label losses."""
    try:
        probe.values(np.array([0.5]), np.array([0.3]))
    except ValueError:
        return False
    return True


def _link(best: np.ndarray) -> str:
    """For raw scores: the name of the link that turns the best score back into q, if it is a usual one."""
    links = {"sigmoid(f)": S.sigmoid(np, best), "sigmoid(2f)": S.sigmoid(np, 2 * best), "(f + 1)/2": (best + 1) / 2}
    for name, q in links.items():
        if np.allclose(q, _QS, atol=2e-4):
            return name
    return "invertible (not a usual link)"


def _zero_edge(probe: _Probe, lo: float, hi: float) -> float:
    """Bisect the score where the gradient (true label 1) becomes exactly zero."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if probe.gradient(np.ones(1), np.array([mid]))[0] == 0:
            hi = mid
        else:
            lo = mid
    return float(round(hi, 8))
