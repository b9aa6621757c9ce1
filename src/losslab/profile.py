"""The profile card: what a loss *does*, measured numerically (DESIGN §2, Traits).

Libraries declare what a loss is; ``profile`` measures it, for any Loss (built-in or
custom), through its public interface only (per-sample values and the gradient):

- ``estimates``: the best constant prediction on skewed samples (log-normal and a
  contaminated Gaussian) compared with their mean, median and quantiles; for
  classification, the best prediction under Bernoulli(q) or categorical q: q itself
  (``proper``), only its sign / argmax (``classification_calibrated``), or neither;
- ``robust``: the gradient as an outlier moves away (``gradient_tail``: "bounded",
  "growing" or "redescending"), and the shift of the best constant as one outlier grows;
- ``convex`` / ``strictly_convex``: second differences on grids (along lines through
  the class simplex or the logit space for class-axis inputs); ``differentiable`` and
  ``twice_differentiable`` with the kinks found; ``lipschitz`` and ``bounded`` from the
  gradient and the value towards the ends of the prediction domain;
- classification: the gradient with respect to the score (the logit, for probability
  inputs: what a sigmoid/softmax model receives) when confidently wrong and right;
- ``efficiency``: for symmetric location losses, the asymptotic relative efficiency
  against the mean under N(0, 1): ARE = (E[Xψ(X)])² / E[ψ(X)²] with ψ = ∂ℓ/∂ŷ (by
  Stein's identity E[ψ′(X)] = E[Xψ(X)], so kinked ψ need no second derivative).

Definitions follow ``traits.py``. "For one target" properties (lipschitz, bounded,
convexity) are measured for a few fixed targets; ``robust`` moves the target (the
outlier) with the prediction fixed. Everything is deterministic (quantile grids and a
seeded generator) and takes a fraction of a second for an elementwise loss.

>>> import losslab as ll
>>> p = ll.profile("huber", params={"delta": 1.345})
>>> p.estimates, p.robust, p.convex, p.strictly_convex, round(p.efficiency, 2)
('other', True, True, False, 0.95)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .loss import Loss, get
from .traits import Interval, Traits

__all__ = ["Profile", "profile"]

#: Fields compared with the declared ``Traits`` (the same names).
COMPARED = (
    "convex", "strictly_convex", "differentiable", "twice_differentiable", "lipschitz", "bounded",
    "robust", "margin_based", "distance_based", "classification_calibrated", "proper", "estimates",
)


# =============================================================================== the card
@dataclass
class Profile:
    """Measured behaviour of one loss; field names are those of ``Traits``.

    A field is ``None`` where it was not measured (not applicable to the loss's inputs).
    ``measurements`` keeps the numbers behind each verdict; ``curves`` the arrays the
    figure draws.
    """

    name: str
    task: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    estimates: str | None = None
    convex: bool | None = None
    strictly_convex: bool | None = None
    differentiable: bool | None = None
    twice_differentiable: bool | None = None
    lipschitz: bool | None = None
    bounded: bool | None = None
    robust: bool | None = None
    margin_based: bool | None = None
    distance_based: bool | None = None
    classification_calibrated: bool | None = None
    proper: bool | None = None
    gradient_tail: str | None = None
    kinks: tuple[float, ...] = ()
    efficiency: float | None = None
    vanishing_gradient_when_wrong: bool | None = None
    zero_gradient_beyond: float | None = None
    measurements: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def measured(self) -> bool:
        return self.kind != "not measured"

    def to_dict(self) -> dict[str, Any]:
        """Every verdict and measurement as plain Python (JSON-ready); no curves."""
        out = {k: getattr(self, k) for k in (
            "name", "task", "kind", "params", "estimates", *Traits.PROPERTIES, "gradient_tail", "kinks",
            "efficiency", "vanishing_gradient_when_wrong", "zero_gradient_beyond",
        )}
        out["kinks"] = list(self.kinks)
        out["params"] = {k: _plain(v) for k, v in self.params.items()}
        out["measurements"] = _plain(self.measurements)
        out["notes"] = list(self.notes)
        return out

    def compare(self, traits: Traits) -> list[tuple[str, Any, Any]]:
        """``(field, declared, measured)`` for each measured field that disagrees with ``traits``."""
        out = []
        for name in COMPARED:
            measured, declared = getattr(self, name), getattr(traits, name)
            if measured is None or declared is None:
                continue
            if name == "estimates":
                if not _estimates_agree(declared, measured):
                    out.append((name, declared, measured))
            elif bool(declared) != bool(measured):
                out.append((name, declared, measured))
        return out

    def to_markdown(self) -> str:
        """The profile card as a Markdown table, with the evidence for each verdict."""
        args = ", ".join(f"{k}={_plain(v)!r}" for k, v in self.params.items())
        lines = [f"### Profile of `{self.name}({args})`", ""]
        if not self.measured:
            lines += [f"Not measured: {' '.join(self.notes)}", ""]
            return "\n".join(lines)
        lines += [f"Task: {self.task} ({self.kind} inputs).", "", "| property | measured | evidence |", "|---|---|---|"]
        m = self.measurements
        evidence = {
            "estimates": m.get("estimates_evidence", ""),
            "convex": m.get("convex_evidence", ""),
            "strictly_convex": m.get("strictly_convex_evidence", ""),
            "differentiable": f"kinks at {list(self.kinks)}" if self.kinks else "no kink found",
            "robust": m.get("robust_evidence", ""),
            "lipschitz": m.get("lipschitz_evidence", ""),
            "bounded": m.get("bounded_evidence", ""),
            "proper": m.get("proper_evidence", ""),
            "classification_calibrated": m.get("calibrated_evidence", ""),
        }
        rows = ["estimates", *Traits.PROPERTIES, "gradient_tail", "efficiency",
                "vanishing_gradient_when_wrong", "zero_gradient_beyond"]
        for name in rows:
            value = getattr(self, name)
            if value is None:
                continue
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            note = str(evidence.get(name) or m.get(name + "_evidence", "")).replace("|", "\\|")
            lines.append(f"| {name} | {shown} | {note} |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def figure(self, **kwargs: Any) -> Any:
        """A matplotlib figure: loss, gradient and influence curves (see ``losslab.plot``)."""
        from .plot import plot_profile

        return plot_profile(self, **kwargs)


def _estimates_agree(declared: str, measured: str) -> bool:
    declared, measured = declared.replace(" ", ""), measured.replace(" ", "")
    if declared == measured:
        return True
    if {declared, measured} == {"median", "quantile(0.5)"}:
        return True
    decisions = {"sign", "mode", "argmax", "class"}
    if declared in decisions and measured in decisions:
        return True
    # A declaration the measurement cannot name ("mode", "argmax", ...) only has to be "other".
    return declared not in ("mean", "median", "probability", *decisions) and not declared.startswith("quantile") \
        and measured == "other"


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v


# =============================================================================== entry point
def profile(loss: Loss | str, *, params: dict[str, Any] | None = None, scale: float = 1.0, seed: int = 0) -> Profile:
    """Measure what ``loss`` does (see the module docstring).

    ``loss`` is a Loss, a registered name (built with ``params``) or a formula in r, m or
    p (``losslab.custom.from_expression``). ``scale`` is the residual scale of the grids
    (raise it for losses whose shape lives at large residuals); ``seed`` fixes the one
    random sample (the contamination of the Gaussian). Tasks other than regression,
    binary and multiclass classification give a Profile with ``kind="not measured"``
    and a note saying why.
    """
    if isinstance(loss, str):
        loss = _resolve(loss, params or {})
    elif params:
        raise TypeError("params apply to a loss name; a built Loss already has its parameters")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss, a registered name or an expression; got {type(loss).__name__}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0; got {scale!r}")
    traits = _declared(loss)
    kind = _kind(loss, traits)
    card = Profile(name=loss.name, task=traits.task, kind=kind, params=loss.params)
    if kind == "not measured":
        card.notes.append(
            f"profile measures regression, binary and multiclass losses of (y_true, y_pred); {loss.name} is a"
            f" {traits.task!r} loss with inputs {loss.inputs}, whose behaviour depends on structure (sets of"
            " samples, pairs, masks) that a profile of one prediction cannot vary."
        )
        return card
    probe = _Probe(loss, traits, scale, np.random.default_rng(seed))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "regression":
            _profile_regression(probe, card)
        elif kind.startswith("binary"):
            _profile_binary(probe, card)
        else:
            try:
                probe.values(np.eye(3), np.full((3, 3), 1 / 3) if card.kind == "multiclass-probability"
                             else np.zeros((3, 3)) - (math.log(3) if card.kind == "multiclass-logprob" else 0.0))
            except ValueError as exc:
                card.kind = "not measured"
                card.notes.append(f"profile measures multiclass losses on 3 classes, which {loss!r} rejects: {exc}")
                return card
            _profile_multiclass(probe, card)
    return card


def _resolve(text: str, params: dict[str, Any]) -> Loss:
    from .loss import resolve

    try:
        resolve(text)
    except ValueError:
        from .custom import from_expression

        try:
            return from_expression(text, **params)
        except ValueError as exc:
            raise ValueError(f"{text!r} is neither a registered loss nor a valid expression: {exc}") from None
    return get(text, **params)


def _declared(loss: Loss) -> Traits:
    # Custom losses without declared traits would measure themselves: use the task only.
    declared = getattr(loss, "_declared_traits", None)
    if declared is not None or not hasattr(type(loss), "_custom_task"):
        return declared if declared is not None else loss.traits
    return Traits(task=type(loss)._custom_task, y_true_domain=loss._y_true_domain, y_pred_domain=loss._y_pred_domain)


def _kind(loss: Loss, traits: Traits) -> str:
    if tuple(loss.inputs) != ("y_true", "y_pred") or not loss.separable or loss.call_options not in ((), ("var",)):
        return "not measured"
    dom = traits.y_pred_domain
    logits = bool(loss.params.get("from_logits", False))
    probs = dom.low >= 0 and dom.high <= 1 and not logits
    if traits.task == "regression":
        return "regression"
    if traits.task == "binary" or (traits.task == "classification" and loss.event_ndim == 0):
        return "binary-probability" if probs else "binary-score"
    if traits.task in ("multiclass", "classification"):
        if probs:
            return "multiclass-probability"
        if dom.high <= 0 and not logits:
            return "multiclass-logprob"
        return "multiclass-score"
    return "not measured"


# =============================================================================== evaluation
class _Probe:
    """Calls the loss on NumPy float64 arrays: per-sample values and the 'sum' gradient."""

    def __init__(self, loss: Loss, traits: Traits, scale: float, rng: np.random.Generator):
        self.loss, self.traits, self.scale, self.rng = loss, traits, scale, rng
        self.options = {"var": 1.0} if "var" in loss.call_options else {}

    def values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        opts = {k: np.full(np.shape(y_pred), v) for k, v in self.options.items()}
        return np.asarray(self.loss(y_true, y_pred, reduction="none", **opts), dtype=float)

    def gradient(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        opts = {k: np.full(np.shape(y_pred), v) for k, v in self.options.items()}
        return np.asarray(self.loss.gradient(y_true, y_pred, reduction="sum", **opts), dtype=float)


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


# =============================================================================== regression
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


# =============================================================================== binary
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


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
        p = _sigmoid(z)
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
        proper, link = bool(np.allclose(_sigmoid(best), _QS, atol=2e-4)), "sigmoid (from_logits)"
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


def _shape_evidence(m: dict[str, Any], convex: bool, lips: bool, bounded: bool, where: str) -> None:
    m["convex_evidence"] = ("second differences >= 0 " if convex else "a negative second difference ") + where
    m["lipschitz_evidence"] = "the gradient stays bounded toward every end" if lips else \
        "the gradient grows toward an end (or the loss jumps)"
    m["bounded_evidence"] = "the loss stays bounded toward every end" if bounded else "the loss grows toward an end"


def _accepts_soft_labels(probe: _Probe) -> bool:
    """Soft labels (y in (0, 1)) have no margin form: margin_based is measured only for hard-label losses."""
    try:
        probe.values(np.array([0.5]), np.array([0.3]))
    except ValueError:
        return False
    return True


def _link(best: np.ndarray) -> str:
    """For raw scores: the name of the link that turns the best score back into q, if it is a usual one."""
    links = {"sigmoid(f)": _sigmoid(best), "sigmoid(2f)": _sigmoid(2 * best), "(f + 1)/2": (best + 1) / 2}
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


# =============================================================================== multiclass
_QC = np.array([[0.5, 0.3, 0.2], [0.4, 0.35, 0.25], [0.15, 0.7, 0.15], [0.2, 0.3, 0.5]])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _profile_multiclass(probe: _Probe, card: Profile) -> None:
    m, kind, C = card.measurements, card.kind, 3
    eye = np.eye(C)

    def pred_of(z: np.ndarray) -> np.ndarray:
        if kind == "multiclass-probability":
            return _softmax(z)
        if kind == "multiclass-logprob":
            zz = z - z.max(axis=-1, keepdims=True)
            return zz - np.log(np.exp(zz).sum(axis=-1, keepdims=True))
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
    from .plot import loss_curve

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
        best.append(_softmax(np.append(centre, 0.0)))
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
