"""What the explorer computes, as plain functions of plain data (no HTTP here).

Every function takes validated, bounded inputs (``schemas.py``) and returns JSON-ready
dicts. Bad values that only the library can judge (a parameter out of its range, a target
outside a loss's domain) raise :class:`FieldError`, which names the request field; the app
turns it into a 422. The library is used only through its public API.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
import time
from typing import Any, Callable

import numpy as np

import losslab as ll

from .schemas import MAX_SEARCH_ROWS

__all__ = [
    "FieldError", "catalog", "controls", "curve", "fit_regression", "best_constant", "train_classifier",
    "landscape", "mlp_forward", "recommend", "search", "make_points", "natural_axis", "warm_up", "plain",
]

#: Families whose losses the classification playground trains (one output for binary losses,
#: one per class for multiclass ones).
CLASSIFICATION_FAMILIES = ("binary", "multiclass")
#: Losses that cannot train a model: zero_one has no gradient, nll takes log-probabilities
#: (a model's raw scores are not), brier takes probabilities, distillation and generalized_jsd
#: take a teacher's logits as their target (a data set has labels), sampled_softmax and nce
#: take (logits, log_q) of sampled classes.
NOT_TRAINABLE = ("zero_one", "nll", "brier", "distillation", "generalized_jsd", "sampled_softmax", "nce")


class FieldError(ValueError):
    """A request value the library rejected; ``field`` is the request field to blame."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _build(field: str, build: Callable[[], Any]) -> Any:
    """Run ``build`` and blame ``field`` for the library's ValueError/TypeError, a diverged
    fit, or an overflow (a RuntimeWarning is an exception only where warnings are errors,
    as under the test suite's filters; elsewhere the value is inf and the answer says null)."""
    try:
        return build()
    except FieldError:
        raise
    except (ValueError, TypeError, KeyError, ArithmeticError, RuntimeWarning, ll.train.TrainingDiverged) as exc:
        raise FieldError(field, str(exc).strip("'\"")) from None


def make_loss(name: str | None, params: dict[str, Any], expression: str | None = None,
              task: str | None = None) -> ll.Loss:
    """A Loss from a catalog name and parameters, or from a formula through the safe route
    (``ll.custom.from_expression``, which parses without eval)."""
    if expression:
        try:
            key = tuple(sorted(params.items()))
            hash(key)
        except TypeError:
            raise FieldError("params", "a formula's parameters must be numbers") from None
        return _build("expression", lambda: _expression_loss(expression, task, key))
    if not name:
        raise FieldError("loss", "give a loss name (GET /api/losses lists them) or an expression")
    _build("loss", lambda: ll.get(name))
    return _build("params", lambda: ll.get(name, **params))


@functools.lru_cache(maxsize=64)
def _expression_loss(expression: str, task: str | None, params: tuple[tuple[str, Any], ...]) -> ll.Loss:
    """A formula's Loss, built once: deriving it symbolically takes a second or two, and the
    playground refits the same formula on every drag."""
    return ll.custom.from_expression(expression, task, **dict(params))


# ------------------------------------------------------------------------------ the catalog
_INTERVAL = re.compile(r"in\s*([\[(])\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*([\])])")
_BOUND = re.compile(r"(>=|>|<=|<)\s*(-?[\d.]+)")
_CHOICES = re.compile(r"one of (.+)$")


def controls(entry: ll.CatalogEntry) -> list[dict[str, Any]]:
    """A page control per declared parameter, built from its default and its rule's text.

    Numbers get a slider whose range follows the rule ("a number in [0, 1)", "> 0"); open
    ends step inside by one slider step. Booleans get a checkbox, "one of ..." a select.
    Integers, lists and matrices are shown but fixed (they do not change a 1-D curve).
    """
    out = []
    for p in entry.parameters:
        text, default = p.rule.text, p.default
        spec: dict[str, Any] = {"name": p.name, "default": plain(default), "rule": text, "help": p.help}
        choices = _CHOICES.search(text)
        if isinstance(default, bool):
            spec["kind"] = "bool"
        elif choices and isinstance(default, str):
            spec["kind"] = "choice"
            spec["choices"] = re.findall(r"'([^']*)'", choices.group(1))
        elif "integer" in text or "sequence" in text or "matrix" in text or isinstance(default, (list, tuple)):
            spec["kind"] = "fixed"
        elif isinstance(default, (int, float)) or (default is None and "number" in text):
            spec.update(kind="number", optional=default is None, **_slider_range(text, default))
        else:
            spec["kind"] = "fixed"
        out.append(spec)
    return out


def _slider_range(text: str, default: float | None) -> dict[str, float]:
    d = 1.0 if default is None else float(default)
    interval = _INTERVAL.search(text)
    if interval:
        lo_open, lo, hi, hi_open = interval.group(1) == "(", float(interval.group(2)), float(interval.group(3)), \
            interval.group(4) == ")"
    else:
        lo, hi, lo_open, hi_open = d - 5.0, d + 5.0, False, False
        for op, value in _BOUND.findall(text):
            v = float(value)
            if op in (">", ">="):
                lo, lo_open = v, op == ">"
                hi = max(v + 5.0, 5.0 * abs(d), d + 1.0)
            elif "or" not in text:  # "<= 0 or >= 1" (tweedie) keeps the >= branch
                hi, hi_open = v, op == "<"
    span = hi - lo
    step = 10.0 ** math.floor(math.log10(span / 200.0)) if span > 0 else 0.01
    if lo_open:
        lo += step
    if hi_open:
        hi -= step
    return {"min": round(lo, 10), "max": round(hi, 10), "step": step, "value": d if default is not None else lo}


def plain(v: Any) -> Any:
    """``v`` as JSON can hold it: NumPy scalars and arrays as Python numbers and lists,
    non-finite floats and other objects as their text."""
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, np.generic):
        return plain(v.item())
    return str(v)


def traits_dict(loss: ll.Loss) -> dict[str, Any]:
    t = loss.traits
    out = {}
    for name in ("task", "convex", "strictly_convex", "differentiable", "twice_differentiable", "lipschitz",
                 "bounded", "robust", "margin_based", "distance_based", "classification_calibrated", "proper",
                 "estimates"):
        out[name] = plain(getattr(t, name, None))
    out["y_true_domain"] = str(t.y_true_domain)
    out["y_pred_domain"] = str(t.y_pred_domain)
    return out


def catalog() -> list[dict[str, Any]]:
    """Every loss of the catalog: name, family, description, traits, controls, whether it
    has a 1-D curve and which playground can train it."""
    out = []
    for entry in ll.catalog():
        loss = ll.get(entry.name)
        axis = natural_axis(loss)
        out.append({
            "name": entry.name, "family": entry.family, "description": entry.description,
            "formula": loss.formula or "", "aliases": list(getattr(loss, "aliases", ()) or ()),
            "params": {k: plain(v) for k, v in loss.params.items()}, "controls": controls(entry),
            "traits": traits_dict(loss), "axis": None if axis is None else axis["label"],
            # the regression fit passes no per-call options (gaussian_nll needs its variance)
            "regression": axis is not None and axis["kind"] == "residual" and not getattr(loss, "call_options", ()),
            "classification": entry.family in CLASSIFICATION_FAMILIES and entry.name not in NOT_TRAINABLE,
        })
    return out


# ------------------------------------------------------------------------------ curves
def natural_axis(loss: ll.Loss) -> dict[str, Any] | None:
    """How to walk a loss along one number, or None when no 1-D axis fits its inputs.

    - regression on the real line: the residual r = y − ŷ (target 0, or 1 for mape);
    - regression on (0, ∞): the prediction ŷ for a target of 1;
    - binary scores: the margin m = y·f (target +1); binary probabilities: p of the true class;
    - multiclass (3 classes, true class 0): probabilities (p, (1−p)/2, (1−p)/2), or the true
      class's score/logit with the others at 0.

    Returns ``label``, ``lo``/``hi`` (the default range), ``kind`` and ``sign`` (dx/dŷ).
    """
    if tuple(loss.inputs) != ("y_true", "y_pred"):
        return None
    t = loss.traits
    dom = str(t.y_pred_domain)
    probabilities = dom.startswith("[0, 1]") or dom.startswith("(0, 1)")
    if loss.event_ndim == 0 and t.task == "regression":
        if dom.startswith("(-inf"):
            return {"kind": "residual", "label": "residual r = y − ŷ", "lo": -4.0, "hi": 4.0, "sign": -1.0,
                    "target": 1.0 if loss.name == "mape" else 0.0}
        return {"kind": "prediction", "label": "prediction ŷ (target y = 1)", "lo": 0.05, "hi": 4.0, "sign": 1.0,
                "target": 1.0}
    if loss.event_ndim == 0 and t.task in ("binary", "classification"):
        if probabilities:
            return {"kind": "probability", "label": "probability of the true class p", "lo": 0.005, "hi": 0.995,
                    "sign": 1.0, "target": 1.0}
        return {"kind": "margin", "label": "margin m = y·f", "lo": -4.0, "hi": 4.0, "sign": 1.0, "target": 1.0}
    if loss.event_ndim == 1 and t.task == "multiclass" and str(t.y_true_domain).startswith("[0, 1]"):
        if probabilities:
            return {"kind": "class_probability", "label": "probability of the true class p (3 classes)",
                    "lo": 0.005, "hi": 0.995, "sign": 1.0, "target": 0}
        if dom.startswith("(-inf, inf)"):
            return {"kind": "class_score", "label": "score of the true class (3 classes, others 0)",
                    "lo": -4.0, "hi": 4.0, "sign": 1.0, "target": 0}
    return None


def _unit_spreads(loss: ll.Loss) -> dict[str, float]:
    """The per-call spread keywords (gaussian_nll's var, laplace_nll's and student_t_nll's
    scale) at 1, as the profiles fix them: the curves and constants are of the location."""
    return {k: 1.0 for k in getattr(loss, "call_options", ()) if k in ("var", "scale")}


def curve(loss: ll.Loss, n: int = 201, lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    """Value, first and second derivative of one sample's loss along its natural axis.

    The derivatives are the library's (``gradient`` with ``reduction="sum"``, ``hessian``)
    taken along the axis by the chain rule: for the residual, d/dr = −∂/∂ŷ; for the
    3-class probability path v = (1, −½, −½) the first derivative is g·v and the second
    Σ H_kk v_k², exact here because every class-axis loss on probabilities is a sum of
    per-class terms (its Hessian is diagonal, which is what ``hessian`` returns).
    """
    axis = natural_axis(loss)
    if axis is None:
        raise FieldError("loss", f"{loss.name} takes {', '.join(loss.inputs)}: it has no 1-D curve (curves cover "
                                 "regression, binary and multiclass losses)")
    lo = axis["lo"] if lo is None else lo
    hi = axis["hi"] if hi is None else hi
    if not lo < hi:
        raise FieldError("x_max", f"must be greater than x_min; got x_min={lo}, x_max={hi}")
    if axis["kind"] in ("probability", "class_probability") and not (0.0 <= lo and hi <= 1.0):
        raise FieldError("x_min", f"the probability axis lies in [0, 1]; got [{lo}, {hi}]")
    if axis["kind"] == "prediction" and lo <= 0.0:
        raise FieldError("x_min", f"the prediction axis of {loss.name} lies in (0, ∞); got x_min={lo}")
    x = np.linspace(lo, hi, n)
    kind = axis["kind"]
    options = _unit_spreads(loss)
    if kind in ("residual", "prediction", "probability", "margin"):
        target = np.full(n, axis["target"])
        pred = target - x if kind == "residual" else x
        arrays, v = (target, pred), None
    else:
        target = np.zeros(n, dtype=np.int64)
        if kind == "class_probability":
            pred = np.column_stack([x, (1 - x) / 2, (1 - x) / 2])
            v = np.array([1.0, -0.5, -0.5])
        else:
            pred = np.column_stack([x, np.zeros(n), np.zeros(n)])
            v = np.array([1.0, 0.0, 0.0])
        arrays = (target, pred)

    def along(kind_: str) -> np.ndarray:
        with np.errstate(all="ignore"):
            if kind_ == "value":
                return np.asarray(loss.per_sample(*arrays, **options), dtype=float).reshape(n)
            if kind_ == "gradient":
                g = np.asarray(loss.gradient(*arrays, reduction="sum", **options), dtype=float)
                return g.reshape(n) * axis["sign"] if v is None else g @ v
            h = np.asarray(loss.hessian(*arrays, reduction="sum", **options), dtype=float)
            return h.reshape(n) if v is None else h @ (v * v)

    if v is not None:
        try:
            along("value")
        except ValueError:  # divergences take a target distribution, not a class index
            arrays = (np.tile(np.eye(3)[0], (n, 1)), pred)

    out: dict[str, Any] = {"loss": loss.name, "params": {k: plain(w) for k, w in loss.params.items()},
                           "axis": axis["label"], "axis_kind": kind, "x": x.tolist()}
    for key in ("value", "gradient", "hessian"):
        try:
            out[key] = [float(a) if math.isfinite(a) else None for a in along(key)]
        except (NotImplementedError, ValueError, TypeError, ArithmeticError) as exc:
            if key == "value":
                raise FieldError("params", str(exc)) from None
            out[key] = None  # a loss without a Hessian still has its value and gradient
    return out


# ------------------------------------------------------------------------------ regression fits
def _quiet_fit(*args: Any, **kwargs: Any) -> Any:
    """``ll.fit`` with NumPy's floating-point warnings off: a run that overflows is reported
    by ``TrainingDiverged`` or by its non-finite curve, which the answer carries; the
    warnings would only fill the server's log. (``np.errstate`` is per thread, unlike the
    warnings filters, so concurrent requests do not disturb each other.)"""
    with np.errstate(all="ignore"):
        return ll.fit(*args, **kwargs)


class _Deadline:
    """A fit callback that stops training once ``seconds`` have passed (every fit is bounded);
    ``hit`` says whether it did, so the answer can say the fit was cut short."""

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds
        self.hit = False

    def __call__(self, epoch: int, logs: dict) -> bool:
        self.hit = self.hit or time.perf_counter() > self.end
        return self.hit


def best_constant(loss: ll.Loss, y: np.ndarray) -> float | None:
    """argmin_c mean ℓ(y, c): the statistic the loss estimates (mean for mse, median for mae).

    Where the loss declares the statistic (``traits.estimates``: mean, median, quantile(q);
    ``ll.profile`` measures the declarations in the test suite) it is computed directly;
    otherwise it is searched for, as below (a tenth of a refit's time).

    A grid of 41 candidates over [min y, max y], then five grids of 11 over the two cells
    around the best so far, each scored in one vectorised call: the constant to within
    (max y − min y)/100,000 where the risk is unimodal (it is for convex losses).
    None when the loss is undefined on the targets.
    """
    declared = str(loss.traits.estimates)
    quantile = re.fullmatch(r"quantile\(([0-9.]+)\)", declared)
    if declared == "mean":
        return float(np.mean(y))
    if declared == "median":
        return float(np.median(y))
    if quantile:
        return float(np.quantile(y, float(quantile.group(1))))
    return _searched_constant(loss, y)


def _searched_constant(loss: ll.Loss, y: np.ndarray) -> float | None:
    options = _unit_spreads(loss)  # gaussian_nll: unit variance; laplace_nll, student_t_nll: unit scale
    lo, hi = float(np.min(y)), float(np.max(y))
    if hi - lo < 1e-12:
        return lo
    best = math.nan
    for size in (41, 11, 11, 11, 11, 11):
        grid = np.linspace(lo, hi, size)
        try:
            with np.errstate(all="ignore"):
                values = np.asarray(loss.per_sample(np.broadcast_to(y, (len(grid), len(y))).ravel(),
                                                    np.repeat(grid, len(y)), **options), dtype=float)
        except (ValueError, TypeError, ArithmeticError):
            return None
        risk = values.reshape(len(grid), len(y)).mean(axis=1)
        if not np.any(np.isfinite(risk)):
            return None
        k = int(np.nanargmin(risk))
        best = float(grid[k])
        lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, len(grid) - 1)])
    return best


def fit_regression(loss: ll.Loss, x: list[float], y: list[float], model: str = "linear", hidden: int = 16,
                   epochs: int = 200, seed: int = 0, time_limit: float = 5.0,
                   start: tuple[float, float] | None = None, predictions: bool = True) -> dict[str, Any]:
    """Fit y ≈ f(x) under ``loss`` (a line, or a one-hidden-layer tanh MLP) with ``ll.fit``.

    The linear model takes the library's default optimiser (L-BFGS on convex or smooth
    losses), from ``start`` (slope, intercept) when given: after a point moves, the previous
    line is a few iterations from the new optimum (bench/bench_web.py measures both). The
    MLP takes Adam with its default cosine-decayed step. Training stops at ``epochs`` or
    after ``time_limit`` seconds.
    """
    if loss.traits.task != "regression" or natural_axis(loss) is None:
        raise FieldError("loss", f"{loss.name} is a {loss.traits.task} loss; the regression fit takes a regression "
                                 "loss (mse, mae, huber, quantile, ...)")
    X = np.asarray(x, dtype=float)[:, None]
    Y = np.asarray(y, dtype=float)
    if len(X) != len(Y):
        raise FieldError("y", f"must have as many values as x; got {len(Y)} and {len(X)}")
    t0 = time.perf_counter()
    net = ll.train.Linear(1, 1, seed=seed) if model == "linear" else ll.train.MLP([1, hidden, 1], "tanh", seed=seed)
    if start is not None and model == "linear":
        net.set_weights([np.array([[float(start[0])]]), np.array([float(start[1])])])
    deadline = _Deadline(time_limit)
    history = _build("y", lambda: _quiet_fit(net, loss, X, Y, epochs=epochs, seed=seed, progress=False,
                                         callbacks=[deadline]))
    with np.errstate(all="ignore"):
        # a line needs its two ends; an MLP's curve, 101 points
        grid = np.linspace(float(X.min()), float(X.max()), 2 if model == "linear" else 101)
        line = np.asarray(net.forward(grid[:, None]), dtype=float).reshape(-1)
        fitted = np.asarray(net.forward(X), dtype=float).reshape(-1) if predictions else None
    out: dict[str, Any] = {
        "loss": loss.name, "params": {k: plain(v) for k, v in loss.params.items()}, "model": model,
        "line": {"x": grid.tolist(), "y": _finite_list(line)},
        "history": _finite_list(history.train_loss), "epochs": history.epochs, "stopped_by_time_limit": deadline.hit,
        "estimates": str(loss.traits.estimates), "constant": best_constant(loss, Y),
    }
    if fitted is not None:
        out["predictions"] = _finite_list(fitted)
    if model == "linear":
        out["coefficients"] = {"slope": float(net.parameters[0].reshape(-1)[0]),
                               "intercept": float(net.parameters[1].reshape(-1)[0])}
    out["time_ms"] = 1000.0 * (time.perf_counter() - t0)
    return out


def _finite_list(a: Any) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(a, dtype=float).reshape(-1)]


def warm_up() -> None:
    """One small fit of each kind, so that the first request a user makes is as fast as the rest."""
    x = np.linspace(0.0, 1.0, 20)
    for name in ("mse", "mae"):
        fit_regression(ll.get(name), x.tolist(), (2 * x).tolist())
    d = make_points("blobs", 40)
    train_classifier("cross_entropy", {}, d["x"], d["y"], "mlp", [4], "tanh", "sgd", 0.1, "none", 0.0, 8, 1, None,
                     {}, 0, 10)


# ------------------------------------------------------------------------------ 2-D data sets
DATASETS = ("blobs", "moons", "circles", "spirals", "xor", "imbalanced", "noisy")


def make_points(name: str, n: int = 200, classes: int = 2, noise: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """A labelled 2-D data set for the classification playground.

    blobs and spirals take any number of classes (centres on a circle of radius 3; arms of
    a spiral); moons, circles and xor have 2; imbalanced is 9:1 (``ll.datasets.imbalanced``);
    noisy is blobs with a share ``max(noise, 0.2)`` of the labels flipped
    (``ll.datasets.add_label_noise``).
    """
    rng = np.random.default_rng(seed)
    if name in ("moons", "circles", "xor", "imbalanced") and classes != 2:
        raise FieldError("classes", f"the {name} set has 2 classes; got classes={classes}")
    if name in ("blobs", "noisy"):
        angles = 2 * np.pi * np.arange(classes) / classes
        centres = 3.0 * np.column_stack([np.cos(angles), np.sin(angles)])
        y = rng.integers(0, classes, n)
        X = centres[y] + (0.6 + 2 * noise) * rng.standard_normal((n, 2))
        if name == "noisy":
            y = np.asarray(ll.datasets.add_label_noise(y, max(noise, 0.2), n_classes=classes, seed=seed))
    elif name == "moons":
        y = rng.integers(0, 2, n)
        t = np.pi * rng.uniform(0, 1, n)
        X = np.where(y[:, None] == 0, np.column_stack([np.cos(t), np.sin(t)]),
                     np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)]))
        X = 2.5 * (X - [0.5, 0.25]) + noise * 2 * rng.standard_normal((n, 2))
    elif name == "circles":
        d = ll.datasets.circle(n=n, noise=noise, seed=seed)
        X, y = d.X, d.y
    elif name == "xor":
        d = ll.datasets.xor(n=n, noise=noise, seed=seed)
        X, y = d.X, d.y
    elif name == "imbalanced":
        d = ll.datasets.imbalanced(n=n, ratio=9.0, n_features=2, seed=seed)
        X, y = d.X, d.y
    elif name == "spirals":
        y = rng.integers(0, classes, n)
        r = rng.uniform(0.2, 1.0, n)
        theta = 1.75 * 2 * np.pi * r * 0.6 + 2 * np.pi * y / classes
        X = 5 * np.column_stack([r * np.cos(theta), r * np.sin(theta)]) + noise * rng.standard_normal((n, 2))
    else:
        raise FieldError("dataset", f"must be one of {', '.join(DATASETS)}; got {name!r}")
    X = np.asarray(X, dtype=float)
    return {"x": np.round(X, 4).tolist(), "y": [int(v) for v in np.asarray(y).reshape(-1)], "dataset": name}


# ------------------------------------------------------------------------------ classification
def _classifier_loss(loss: ll.Loss, n_classes: int) -> int:
    """The model's output width for ``loss`` on ``n_classes`` classes (blames ``loss``)."""
    family = loss.traits.task
    if loss.name in NOT_TRAINABLE or family not in ("binary", "multiclass", "classification"):
        raise FieldError("loss", f"{loss.name} cannot train a classifier here; choose a binary or multiclass loss "
                                 "(cross_entropy, hinge, focal, multiclass_hinge, ...)")
    if family in ("binary", "classification"):
        if n_classes != 2:
            raise FieldError("loss", f"{loss.name} is a binary loss and the data have {n_classes} classes; choose a "
                                     "multiclass loss (cross_entropy, multiclass_hinge, focal, ...)")
        return 1
    return n_classes


def train_classifier(loss_name: str, params: dict[str, Any], x: list[list[float]], y: list[int], model: str,
                     hidden: list[int], activation: str, optimizer: str, lr: float, penalty: str, lam: float,
                     batch_size: int | None, steps: int, weights: list[Any] | None, history: dict[str, list[float]],
                     seed: int, grid_size: int, time_limit: float = 3.0,
                     expression: str | None = None, optimizer_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """``steps`` epochs of training from ``weights`` (or a fresh model); the decision grid,
    the new weights, this chunk's curves and the diagnosis of the whole run so far.

    ``expression``: a binary loss written as a formula (``ll.custom.from_expression``),
    e.g. "(1 - p)**2", squared error on a sigmoid (formulas in p are built with
    ``from_logits=True``, since the model outputs raw scores).

    The page keeps the state (weights, curves, the optimiser's moments) and sends it back,
    so the server keeps none: with ``optimizer_state`` (the previous answer's), Adam and
    RMSProp continue their run across chunks instead of restarting their moments.
    20% of the points (a seeded split) are held out for the validation curve.
    """
    X = np.asarray(x, dtype=float)
    labels = np.asarray(y, dtype=np.int64)
    if X.shape[1:] != (2,):
        raise FieldError("x", f"must be a list of [x1, x2] points; got rows of length {X.shape[1:]}")
    if len(labels) != len(X):
        raise FieldError("y", f"must have one label per point; got {len(labels)} labels for {len(X)} points")
    classes = np.unique(labels)
    if len(classes) < 2 or classes[0] < 0 or classes[-1] != len(classes) - 1:
        raise FieldError("y", f"must hold the classes 0..C-1 (C >= 2), each present; got {classes.tolist()}")
    n_classes = len(classes)
    if expression:
        raw = {"from_logits": True} if re.search(r"\bp\b", expression) else {}
        loss = make_loss(None, {**params, **raw}, expression, "binary")
    else:
        loss = make_loss(loss_name, params)
        if loss.params.get("from_logits") is False:
            loss = make_loss(loss_name, {**params, "from_logits": True})
    width = _classifier_loss(loss, n_classes)
    sizes = [2, *hidden, width]
    net = ll.train.Linear(2, width, seed=seed) if model == "linear" else ll.train.MLP(sizes, activation, seed=seed)
    if weights is not None:
        shapes = [p.shape for p in net.parameters]
        try:
            arrays = [np.asarray(w, dtype=float).reshape(s) for w, s in zip(weights, shapes, strict=True)]
        except (ValueError, TypeError):
            raise FieldError("weights", f"must hold {len(shapes)} arrays of shapes {shapes} (the model's); send "
                                        "null to start afresh") from None
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise FieldError("weights", "must be finite")
        net.set_weights(arrays)
    order = np.random.default_rng(seed).permutation(len(X))
    cut = max(1, int(round(0.8 * len(X))))
    train, val = order[:cut], order[cut:]
    opt = _build("optimizer", lambda: ll.train.get_optimizer(optimizer, lr))
    if optimizer_state is not None:
        try:  # checked on a copy against the model's shapes, so that fit's errors stay the loss's
            probe = ll.train.get_optimizer(optimizer, lr)
            probe.load_state_dict(optimizer_state)
            probe.init(net.parameters, net.penalized)
        except ValueError as exc:
            raise FieldError("optimizer_state", f"{exc}; send null to start afresh") from None
        opt.load_state_dict(optimizer_state)
    regularizer = None if penalty == "none" or lam == 0 else penalty
    fit_kwargs = {}
    if len(val):
        fit_kwargs["validation_data"] = (X[val], labels[val])
    deadline = _Deadline(time_limit)
    try:
        h = _quiet_fit(net, loss, X[train], labels[train], optimizer=opt, regularizer=regularizer,
                   lam=lam if regularizer else 0.0, epochs=steps,
                   batch_size=batch_size, seed=seed + len(history.get("train_loss", [])), progress=False,
                   callbacks=[deadline], **fit_kwargs)
        diverged = False
    except ll.train.TrainingDiverged as exc:
        h = getattr(exc, "history", None) or ll.train.History()
        diverged = True
    except (ValueError, TypeError) as exc:
        raise FieldError("params", str(exc)) from None
    chunk = {"train_loss": list(h.train_loss), "val_loss": list(h.val_loss),
             "accuracy": list(h.metrics.get("accuracy", [])), "val_accuracy": list(h.metrics.get("val_accuracy", []))}
    whole = {k: list(history.get(k, [])) + v for k, v in chunk.items()}
    initial = history.get("initial_loss")
    full = ll.train.History(
        train_loss=whole["train_loss"], val_loss=whole["val_loss"],
        metrics={k: whole[k] for k in ("accuracy", "val_accuracy") if whole[k]},
        initial_loss=float(initial[0]) if initial else (h.initial_loss if h.epochs else math.nan),
        diverged=diverged,
    )
    diagnosis = ll.diagnose(full) if full.epochs or diverged else None
    lo, hi = X.min(axis=0) - 1.0, X.max(axis=0) + 1.0
    gx, gy = np.linspace(lo[0], hi[0], grid_size), np.linspace(lo[1], hi[1], grid_size)
    G = np.column_stack([np.repeat(gx[None, :], grid_size, 0).ravel(), np.repeat(gy[:, None], grid_size, 1).ravel()])
    with np.errstate(all="ignore"):
        scores = np.asarray(net.forward(G), dtype=float)
    if width == 1:
        cls = (scores.reshape(-1) > 0).astype(int)
    else:
        cls = np.argmax(scores, axis=1)
    with np.errstate(all="ignore"):
        scores_train = np.asarray(net.forward(X), dtype=float)
    pred = (scores_train.reshape(-1) > 0).astype(int) if width == 1 else np.argmax(scores_train, axis=1)
    return {
        "loss": loss.name, "weights": [_finite_list(p) for p in net.parameters],
        "optimizer_state": None if diverged else opt.state_dict(),
        "shapes": [list(p.shape) for p in net.parameters],
        "chunk": {k: _finite_list(v) for k, v in chunk.items()},
        "initial_loss": _finite_list([full.initial_loss])[0],
        "diverged": diverged, "epochs": full.epochs, "stopped_by_time_limit": deadline.hit,
        "accuracy": float(np.mean(pred == labels)),
        "diagnosis": None if diagnosis is None else {"kind": diagnosis.kind, "epoch": diagnosis.epoch,
                                                     "evidence": diagnosis.evidence, "advice": diagnosis.advice},
        "grid": {"x": gx.tolist(), "y": gy.tolist(), "z": cls.reshape(grid_size, grid_size).tolist()},
        "n_classes": n_classes,
    }


# ------------------------------------------------------------------------------ landscape
def landscape(loss: ll.Loss, task: str, optimizer: str, lr: float, steps: int, start: tuple[float, float],
              size: int, n: int, seed: int, time_limit: float = 2.0, model: str = "linear",
              hidden: int = 8) -> dict[str, Any]:
    """The mean loss over two weights of a small model, and an optimiser's path.

    ``model="linear"``: f(x) = w·x + b over (w, b), the path from ``start``.
    ``model="mlp"``: a one-hidden-layer tanh MLP trained from its seeded initialisation;
    the plane is spanned by the first two principal directions of the path's weights minus
    the final ones, through the final weights (Li et al. 2018, §7: random directions would
    miss the path, which lives in a low-dimensional subspace), and the path is its
    projection onto that plane.

    regression: a noisy line y = 1.5x + 0.5 with a tenth of the points shifted up by 6
    (outliers, so robust and squared losses differ); binary: two overlapping Gaussian
    classes on the line (centres ±1, std 1). Steps are full-batch unless the optimiser is
    sgd.
    """
    rng = np.random.default_rng(seed)
    xs = rng.uniform(-2, 2, n)
    if task == "regression":
        if loss.traits.task != "regression" or natural_axis(loss) is None:
            raise FieldError("loss", f"{loss.name} is not a regression loss on the real line; choose mse, mae, huber, ...")
        labels: np.ndarray = 1.5 * xs + 0.5 + 0.3 * rng.standard_normal(n)
        labels[: max(1, n // 10)] += 6.0
    else:
        if loss.traits.task != "binary" or loss.name in NOT_TRAINABLE:
            raise FieldError("loss", f"{loss.name} is not a trainable binary loss; choose logistic, hinge, "
                                     "binary_cross_entropy, ...")
        labels = rng.integers(0, 2, n)
        xs = np.where(labels == 1, 1.0, -1.0) + rng.standard_normal(n)
        if loss.params.get("from_logits") is False:
            loss = make_loss(loss.name, {**loss.params, "from_logits": True})
    X = xs[:, None]
    # the targets the loss itself takes (fit maps 0/1 labels to ±1 for margin losses)
    signed = task == "binary" and str(loss.traits.y_true_domain).startswith("[-1")
    targets = 2.0 * labels - 1.0 if signed else labels.astype(float)
    if model == "mlp":
        return _mlp_landscape(loss, task, optimizer, lr, steps, size, X, labels, targets, seed, time_limit, hidden)
    ws = np.linspace(-4, 4, size)
    W, B = np.meshgrid(ws, ws)  # rows: b, columns: w
    preds = W.ravel()[:, None] * xs[None, :] + B.ravel()[:, None]
    with np.errstate(all="ignore"):
        values = np.asarray(_build("loss", lambda: loss.per_sample(np.broadcast_to(targets, preds.shape).ravel(),
                                                                   preds.ravel())), dtype=float)
    Z = values.reshape(size * size, n).mean(axis=1).reshape(size, size)
    net = ll.train.Linear(1, 1, seed=seed)
    net.set_weights([np.array([[start[0]]]), np.array([start[1]])])
    path = [[float(start[0]), float(start[1])]]

    def record(epoch: int, logs: dict) -> bool:
        path.append([float(net.parameters[0][0, 0]), float(net.parameters[1][0])])
        return False

    opt = _build("optimizer", lambda: ll.train.get_optimizer(optimizer, lr))
    try:
        _quiet_fit(net, loss, X, labels, optimizer=opt, epochs=steps, progress=False, seed=seed,
               callbacks=[record, _Deadline(time_limit)])
    except ll.train.TrainingDiverged:
        pass  # the path so far shows the divergence
    except (ValueError, TypeError) as exc:
        raise FieldError("loss", str(exc)) from None
    with np.errstate(all="ignore"):
        path_values = _build("lr", lambda: [float(np.mean(loss.per_sample(targets, w * xs + b))) for w, b in path])
    return {"loss": loss.name, "task": task, "model": "linear", "w": ws.tolist(), "b": ws.tolist(),
            "names": ["slope w", "intercept b"], "z": [_finite_list(row) for row in Z], "path": path,
            "path_values": _finite_list(path_values)}


def mlp_forward(theta: np.ndarray, X: np.ndarray, hidden: int) -> np.ndarray:
    """Outputs of the 1 → hidden (tanh) → 1 MLP for each row of ``theta`` (flattened
    parameters in ``ll.train.MLP``'s order: W1, b1, W2, b2): shape (len(theta), len(X)).
    Evaluates a whole grid of weight vectors in one pass (the model evaluates one)."""
    theta = np.atleast_2d(theta)
    W1 = theta[:, :hidden]
    b1 = theta[:, hidden:2 * hidden]
    W2 = theta[:, 2 * hidden:3 * hidden]
    b2 = theta[:, 3 * hidden]
    h = np.tanh(X[None, :, 0:1] * W1[:, None, :] + b1[:, None, :])  # (G, n, hidden)
    return np.einsum("gnh,gh->gn", h, W2) + b2[:, None]


def _mlp_landscape(loss: ll.Loss, task: str, optimizer: str, lr: float, steps: int, size: int, X: np.ndarray,
                   labels: np.ndarray, targets: np.ndarray, seed: int, time_limit: float,
                   hidden: int) -> dict[str, Any]:
    if steps < 3:
        raise FieldError("steps", f"the MLP landscape needs at least 3 steps (its plane comes from the path); got {steps}")
    net = ll.train.MLP([1, hidden, 1], "tanh", seed=seed)
    flat = lambda: np.concatenate([p.ravel() for p in net.parameters])  # noqa: E731
    path = [flat()]

    def record(epoch: int, logs: dict) -> bool:
        path.append(flat())
        return False

    opt = _build("optimizer", lambda: ll.train.get_optimizer(optimizer, lr))
    try:
        _quiet_fit(net, loss, X, labels, optimizer=opt, epochs=steps, progress=False, seed=seed,
               batch_size=None if optimizer != "sgd" else 32, callbacks=[record, _Deadline(time_limit)])
    except ll.train.TrainingDiverged:
        pass
    except (ValueError, TypeError) as exc:
        raise FieldError("loss", str(exc)) from None
    P = np.array(path)
    if not np.all(np.isfinite(P)):
        raise FieldError("lr", f"training diverged at lr={lr}; lower it")
    centre = P[-1]
    _, sing, vt = np.linalg.svd(P - centre, full_matrices=False)
    if len(sing) < 2 or sing[1] <= 1e-12 * max(sing[0], 1e-300):
        raise FieldError("steps", "the path moved along a single direction; take more steps")
    d1, d2 = vt[0], vt[1]
    share = (sing[:2] ** 2 / np.sum(sing**2)).tolist()
    coords = (P - centre) @ np.column_stack([d1, d2])
    reach = 1.25 * np.max(np.abs(coords), axis=0) + 1e-3
    a, b = np.linspace(-reach[0], reach[0], size), np.linspace(-reach[1], reach[1], size)
    A, B = np.meshgrid(a, b)  # rows: direction 2, columns: direction 1
    thetas = centre + A.ravel()[:, None] * d1 + B.ravel()[:, None] * d2
    with np.errstate(all="ignore"):
        preds = mlp_forward(thetas, X, hidden)
        # an overflow here means the path ran far out: the learning rate is to blame
        values = np.asarray(_build("lr", lambda: loss.per_sample(np.broadcast_to(targets, preds.shape).ravel(),
                                                                 preds.ravel())), dtype=float)
        Z = values.reshape(size * size, len(X)).mean(axis=1).reshape(size, size)
        path_values = np.asarray(_build("lr", lambda: loss.per_sample(
            np.broadcast_to(targets, (len(P), len(X))).ravel(), mlp_forward(P, X, hidden).ravel())), dtype=float)
        path_values = path_values.reshape(len(P), len(X)).mean(axis=1)
    return {"loss": loss.name, "task": task, "model": "mlp", "w": a.tolist(), "b": b.tolist(),
            "names": [f"principal direction 1 ({100 * share[0]:.0f}% of the path)",
                      f"principal direction 2 ({100 * share[1]:.0f}%)"],
            "z": [_finite_list(row) for row in Z], "path": coords.tolist(), "path_values": _finite_list(path_values),
            "explained": share}


# ------------------------------------------------------------------------------ recommend, search
def read_csv_text(text: str, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Numeric features and a target (numbers or labels) from CSV text with a header."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if len(rows) < 3:
        raise FieldError("csv", f"needs a header row and at least two data rows; got {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise FieldError("target", f"{target!r} is not a column; columns: {', '.join(header)}")
    k = header.index(target)
    body = rows[1:]
    if any(len(r) != len(header) for r in body):
        bad = next(i for i, r in enumerate(body, start=2) if len(r) != len(header))
        raise FieldError("csv", f"row {bad} has a different number of values than the header ({len(header)})")
    try:
        X = np.array([[float(v) for i, v in enumerate(r) if i != k] for r in body], dtype=float)
    except ValueError as exc:
        raise FieldError("csv", f"feature columns must hold numbers: {exc}") from None
    if X.size and not np.all(np.isfinite(X)):
        raise FieldError("csv", "feature columns must hold finite numbers")
    raw = [r[k].strip() for r in body]
    try:
        y: np.ndarray = np.array([float(v) for v in raw])
    except ValueError:
        y = np.array(raw)
    features = [h for i, h in enumerate(header) if i != k]
    if X.ndim != 2 or X.shape[1] == 0:
        X = np.zeros((len(body), 0))
    return X, y, features


def recommend(text: str, target: str, task: str | None, metric: str | None) -> dict[str, Any]:
    X, y, _ = read_csv_text(text, target)
    try:
        advice = ll.recommend(y, task=task, X=X if X.shape[1] else None, metric=metric)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise FieldError(_blame(str(exc), "target"), str(exc).strip("'\"")) from None
    return advice.to_dict()


def _blame(message: str, default: str) -> str:
    """The request field a message from ``recommend``/``search`` is about: the metric, the
    folds, the task, or else ``default`` (the library names the argument in its messages)."""
    text = message.lower()
    for field, words in (("metric", ("metric",)), ("cv", ("cv=", "folds")), ("task", ("task",))):
        if any(w in text for w in words):
            return field
    return default


def search(text: str, target: str, losses: list[dict[str, Any]] | None, metric: str | None, cv: int,
           max_epochs: int, seed: int, progress: Callable[[int, int], Any] | None = None) -> dict[str, Any]:
    """``ll.search`` on CSV text; ``progress(done, total)`` is called as each fit ends."""
    X, y, _ = read_csv_text(text, target)
    if len(y) > MAX_SEARCH_ROWS:
        raise FieldError("csv", f"search cross-validates at most {MAX_SEARCH_ROWS} rows here (cv × losses fits per "
                                f"request); got {len(y)}. Use `losslab search` for larger files")
    if X.shape[1] == 0:
        raise FieldError("csv", "search needs at least one feature column besides the target")
    specs = None if not losses else [make_loss(s["name"], s.get("params") or {}) for s in losses]
    start = time.perf_counter()
    try:
        result = ll.search(X, y, losses=specs, metric=metric, cv=cv, n_jobs=1,
                           estimator_params={"max_epochs": max_epochs}, random_state=seed,
                           progress=progress or False)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise FieldError(_blame(str(exc), "losses"), str(exc).strip("'\"")) from None
    out = result.to_dict()
    out["time_s"] = time.perf_counter() - start
    return _plain_tree(out)


def _plain_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain_tree(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain_tree(w) for w in v]
    return plain(v)
