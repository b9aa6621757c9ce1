"""Figures (matplotlib, imported only when a figure is drawn).

- ``plot_losses(losses, gradient=False, ax=None)``: curves of one or several losses over
  the variable their task is written in: the residual r = y_pred − y_true (regression),
  the margin y·f (binary scores), the probability of the true class (probabilities), the
  true class's logit (multiclass logits). ``gradient=True`` draws ∂ℓ/∂y_pred instead.
- ``plot_profile(profile)``: the profile card's figure: loss, gradient, and the influence
  of one outlier on the best constant (regression) or the gradient a sigmoid/softmax
  model receives (classification).

Figures are ``matplotlib.figure.Figure`` objects built without pyplot (no global state, no
display needed): ``fig.savefig("losses.png")``.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .loss import Loss
from .profile.curves import loss_curve
from .profile.figure import plot_profile

__all__ = ["plot_losses", "plot_profile", "loss_curve", "legend_label"]


def _figure(ax: Any, n: int = 1, width: float = 5.0) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    if ax is not None:
        return ax.figure, [ax]
    fig = Figure(figsize=(width * n, 3.8), layout="constrained")
    return fig, [fig.add_subplot(1, n, i + 1) for i in range(n)]


def _as_loss(item: Any) -> Loss:
    if isinstance(item, Loss):
        return item
    from .spec import resolve_loss

    return resolve_loss(item)


#: Legend labels longer than this are shortened (the parameters that differ from the defaults
#: are shown first; the rest is cut with an ellipsis).
LABEL_WIDTH = 36


def _short(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float, np.floating, np.integer)):
        return f"{float(value):.4g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[…]"
    return str(value)


def legend_label(loss: Loss) -> str:
    """``name(param=value, ...)`` with the parameters that differ from the defaults, numbers to
    4 significant digits, at most ``LABEL_WIDTH`` characters."""
    defaults = {p.name: p.default for p in getattr(type(loss), "parameters", ())}
    shown = []
    for key, value in loss.params.items():
        default = defaults.get(key, object())
        try:
            same = bool(value == default) if not isinstance(value, np.ndarray) else False
        except (TypeError, ValueError):
            same = False
        if not same:
            shown.append(f"{key}={_short(value)}")
    label = f"{loss.name}({', '.join(shown)})" if shown else loss.name
    return label if len(label) <= LABEL_WIDTH else label[: LABEL_WIDTH - 2] + "…)"


def plot_losses(losses: Any, gradient: bool = False, ax: Any = None) -> Any:
    """Draw ``losses`` (names, specs, Loss objects or formulas; one or a list); returns the Figure.

    Losses written in different variables (a residual, a margin, a probability) are never
    drawn on one axis: each variable gets its own panel, side by side. The legend sits
    below each panel, so it never hides the curves. With ``ax`` every loss must share one
    variable.

    >>> fig = plot_losses(["mse", "mae", "huber(delta=0.5)"], gradient=True)   # doctest: +SKIP
    >>> fig.savefig("gradients.png")                                            # doctest: +SKIP
    """
    items: Iterable[Any] = [losses] if isinstance(losses, (str, Loss)) else list(losses)
    curves: dict[str, list[tuple[np.ndarray, np.ndarray, str]]] = {}
    for item in items:
        loss = _as_loss(item)
        x, y, label = loss_curve(loss, gradient)
        curves.setdefault(label, []).append((x, y, legend_label(loss)))
    if not curves:
        raise ValueError("losses is empty; give at least one loss, e.g. ['mse', 'mae']")
    if ax is not None and len(curves) > 1:
        raise ValueError(f"the losses are written in {len(curves)} different variables ({'; '.join(curves)}):"
                         " they cannot share one axes; leave ax=None to draw one panel per variable")
    fig, panels = _figure(ax, len(curves))
    for axes, (xlabel, lines) in zip(panels, curves.items()):
        for x, y, name in lines:
            axes.plot(x, y, label=name)
        axes.set_xlabel(xlabel)
        axes.set_ylabel("∂ℓ/∂y_pred" if gradient else "loss")
        axes.axhline(0.0, color="0.8", lw=0.8, zorder=0)
        axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=min(len(lines), 3),
                    frameon=False)
    if ax is None:
        fig.set_size_inches(5.0 * len(curves), 3.8 + 0.25 * (max(len(v) for v in curves.values()) // 3))
    return fig
