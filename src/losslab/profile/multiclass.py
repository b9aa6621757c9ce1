"""Profiles of multiclass losses (3 classes): on logits, log-probabilities or probabilities.

Shape along lines through the logit space (or inside the simplex), the gradient when the
true class becomes improbable, and what the best prediction under categorical q estimates.
"""

from __future__ import annotations

import numpy as np

from .. import _stable as S
from .card import Profile
from .curves import loss_curve
from .probes import _convexity, _kinks, _Probe, _shape_evidence, _strict, _tail


def _probabilities(z: np.ndarray) -> np.ndarray:
    """Softmax of logits, through the stable log-softmax."""
    return np.exp(S.log_softmax(np, z))


_QC = np.array([[0.5, 0.3, 0.2], [0.4, 0.35, 0.25], [0.15, 0.7, 0.15], [0.2, 0.3, 0.5]])


def _profile_multiclass(probe: _Probe, card: Profile) -> None:
    m, kind, C = card.measurements, card.kind, 3
    eye = np.eye(C)

    def pred_of(z: np.ndarray) -> np.ndarray:
        if kind == "multiclass-probability":
            return _probabilities(z)
        if kind == "multiclass-logprob":
            return S.log_softmax(np, z)
        return z

    # ---- lines: in logit space for scores; inside the simplex for probabilities
    rng = probe.rng
    dirs = [eye[i] - eye[j] for i in range(C) for j in range(i + 1, C)]
    dirs += [d - d.mean() for d in rng.normal(size=(3, C))]
    if kind != "multiclass-probability":
        dirs += [np.ones(C), rng.normal(size=C)]
    convex = strict = diff1 = diff2 = lips = bounded = True
    kinks: set[float] = set()
    for c in range(C):
        target = eye[c]
        for d in dirs:
            d = d / np.linalg.norm(d)
            if kind == "multiclass-probability":
                p0 = np.array([0.3, 0.45, 0.25])[np.roll(np.arange(C), c)]
                with np.errstate(divide="ignore"):
                    lim = np.where(d < 0, (p0 - 1e-4) / -d, np.where(d > 0, (1 - 1e-4 - p0) / d, np.inf))
                    lim2 = np.where(d > 0, (p0 - 1e-4) / d, np.where(d < 0, (1 - 1e-4 - p0) / -d, np.inf))
                t = np.linspace(-lim2.min(), lim.min(), 401)
                t_kinks = np.linspace(-lim2.min() * 0.9, lim.min() * 0.9, 401)
                point = lambda t: p0[None, :] + t[:, None] * d[None, :]  # noqa: E731
            else:
                z0 = np.array([0.4, -0.3, 0.1])
                t = np.linspace(-8.0, 8.0, 401) * probe.scale
                t_kinks = t
                point = lambda t, z0=z0, d=d: pred_of(z0[None, :] + t[:, None] * d[None, :])  # noqa: E731

            def f(tt: np.ndarray, point=point, target=target) -> np.ndarray:
                return probe.values(np.tile(target, (len(tt), 1)), point(tt))

            def g(tt: np.ndarray, point=point, target=target, d=d) -> np.ndarray:
                grad = probe.gradient(np.tile(target, (len(tt), 1)), point(tt))
                return grad @ d

            v = f(t)
            convex &= _convexity(t, v)[0]
            strict &= _strict(t, v)
            k1 = _kinks(f, t_kinks)
            diff1 &= not k1
            diff2 &= not k1 and not _kinks(g, t_kinks)
            kinks.update(k1)
    card.convex, card.strictly_convex = convex, convex and strict
    card.differentiable, card.twice_differentiable = diff1, diff2
    card.kinks = ()
    m["kinks_along_lines"] = len(kinks)
    # ---- confidently wrong / right: the true class's score falls or rises (class 0 true)
    s = 10.0 ** np.arange(0, 9) if kind != "multiclass-probability" else None
    if kind == "multiclass-probability":
        eps = 10.0 ** -np.arange(1, 12)
        wrong_pts = np.stack([eps, (1 - eps) / 2, (1 - eps) / 2], axis=1)
        right_pts = np.stack([1 - eps, eps / 2, eps / 2], axis=1)
    else:
        wrong_pts = pred_of(np.stack([-s, np.zeros_like(s), np.zeros_like(s)], axis=1))
        right_pts = pred_of(np.stack([s, np.zeros_like(s), np.zeros_like(s)], axis=1))
    tgt = np.tile(eye[0], (len(wrong_pts), 1))
    g_wrong = np.linalg.norm(probe.gradient(tgt, wrong_pts), axis=1)
    v_wrong = probe.values(tgt, wrong_pts)
    card.gradient_tail = _tail(g_wrong)
    card.robust = card.gradient_tail != "growing"
    g_right = np.linalg.norm(probe.gradient(tgt, right_pts), axis=1)
    lips = card.robust and _tail(g_right) != "growing"
    bounded = _tail(v_wrong) != "growing" and _tail(probe.values(tgt, right_pts)) != "growing"
    card.lipschitz, card.bounded = lips, bounded
    _shape_evidence(m, convex, lips, bounded, f"along {len(dirs)} lines for each of the {C} targets")
    if kind != "multiclass-probability":
        z = np.linspace(-10, 10, 401)
        zz = np.stack([z, np.zeros_like(z), np.zeros_like(z)], axis=1)
        gz = probe.gradient(np.tile(eye[0], (len(z), 1)), pred_of(zz))[:, 0]
        peak = float(np.max(np.abs(gz)))
        card.vanishing_gradient_when_wrong = bool(abs(gz[0]) < 1e-3 * peak)
        card.curves.update(z=z, gradient_z=gz)
    x, value, label = loss_curve(probe.loss, False)
    card.curves.update(x=x, value=value, gradient=loss_curve(probe.loss, True)[1], xlabel=label)
    m["robust_evidence"] = f"the gradient's size as the true class becomes improbable is {card.gradient_tail}"
    m["gradient_when_wrong"] = g_wrong.tolist()
    m["gradient_when_right"] = g_right.tolist()
    # ---- estimates under categorical q: a vectorised grid search over z = (a, b, 0), zoomed 12 times
    # (the losses depend on scores through differences, so the last score can stay 0).
    best = []
    for q in _QC:
        def risk(ab: np.ndarray, q: np.ndarray = q) -> np.ndarray:
            z = np.concatenate([ab, np.zeros((len(ab), 1))], axis=1)
            pred = np.repeat(pred_of(z), C, axis=0)
            values = probe.values(np.tile(eye, (len(ab), 1)), pred).reshape(len(ab), C)
            return values @ q

        centre, half = np.zeros(2), 20.0
        for level in range(13):
            n = 81 if level == 0 else 21
            axis = np.linspace(-half, half, n)
            ab = centre + np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
            r = risk(ab)
            centre = ab[int(np.argmin(np.where(np.isfinite(r), r, np.inf)))]
            half = 2.0 * (axis[1] - axis[0])
        best.append(_probabilities(np.append(centre, 0.0)))
    best = np.array(best)
    calibrated = bool(np.all(np.argmax(best, axis=1) == np.argmax(_QC, axis=1))
                      and np.all(np.sort(best, axis=1)[:, -1] - np.sort(best, axis=1)[:, -2] > 1e-6))
    # Scores are read as logits (softmax), the link every multiclass score loss in use assumes.
    proper = bool(np.allclose(best, _QC, atol=1e-3))
    card.classification_calibrated, card.proper = calibrated, proper
    # Calibrated but not proper: "mode" when the best prediction is (nearly) one-hot, else a distorted probability.
    saturated = bool(np.all(best.max(axis=1) > 0.99))
    card.estimates = "probability" if proper else ("mode" if calibrated and saturated else "other")
    m["estimates_evidence"] = {"probability": "the best prediction recovers q", "mode": "the best prediction is"
                               " one-hot at argmax q", "other": "the best prediction is a distorted function of q"
                               if calibrated else "the best prediction does not follow q"}[card.estimates]
    m["best_prediction_under_categorical_q"] = {"q": _QC.tolist(), "best": best.tolist()}
    m["proper_evidence"] = "best prediction (as probabilities) for q = " + "; ".join(
        f"{np.round(q, 2).tolist()}: {np.round(b, 4).tolist()}" for q, b in zip(_QC, best))
    m["calibrated_evidence"] = "argmax of the best prediction matches argmax q" if calibrated else \
        "the best prediction's argmax does not follow q"
