"""One loss as a curve over the variable of its task (what the card and ``losslab.plot`` draw)."""

from __future__ import annotations

import numpy as np

from ..loss import Loss
from .kinds import _declared, _kind, unit_options


def loss_curve(loss: Loss, gradient: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, values, x label) of one loss over the variable of its task."""
    traits = _declared(loss)
    kind = _kind(loss, traits)
    extra = unit_options(loss)
    f = loss.gradient if gradient else (lambda *a, **k: loss(*a, reduction="none", **k))
    kw = {"reduction": "sum"} if gradient else {}
    if kind == "regression":
        dom = traits.y_pred_domain
        if dom.low == -np.inf:
            x = np.linspace(-3.0, 3.0, 601)
            t = np.zeros_like(x) + (0.0 if traits.y_true_domain.contains(0.0) and loss.name != "mape" else 1.0)
            opts = {k: np.full_like(x, v) for k, v in extra.items()}
            y = f(t, t + x, **kw, **opts)
            return x, np.asarray(y, dtype=float), "residual r = y_pred − y_true"
        x = np.linspace(max(dom.low, 0.0) + 0.02, 4.0, 600)
        return x, np.asarray(f(np.ones_like(x), x, **kw), dtype=float), "y_pred (y_true = 1)"
    if kind == "binary-probability":
        x = np.linspace(0.005, 0.995, 600)
        return x, np.asarray(f(np.ones_like(x), x, **kw), dtype=float), "p, probability of the true class"
    if kind == "binary-score":
        x = np.linspace(-3.0, 3.0, 601)
        return x, np.asarray(f(np.ones_like(x), x, **kw), dtype=float), "margin y·f"
    if kind.startswith("multiclass"):
        eye = np.tile(np.eye(3)[0], (600, 1))
        if kind == "multiclass-probability":
            x = np.linspace(0.005, 0.995, 600)
            pred = np.stack([x, (1 - x) / 2, (1 - x) / 2], axis=1)
            label = "p, probability of the true class (3 classes)"
        else:
            x = np.linspace(-6.0, 6.0, 600)
            z = np.stack([x, np.zeros_like(x), np.zeros_like(x)], axis=1)
            pred = z if kind == "multiclass-score" else z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            label = "score of the true class (others 0)"
        y = np.asarray(f(eye, pred, **kw), dtype=float)
        return x, (y[:, 0] if gradient else y), label
    raise ValueError(
        f"{loss.name} ({traits.task}) cannot be drawn as a curve of one variable: its inputs are {loss.inputs}")
