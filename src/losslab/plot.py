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

from .core import Loss
from .profile.curves import loss_curve
from .profile.figure import plot_profile

__all__ = ["plot_losses", "plot_profile", "loss_curve"]


def _figure(ax: Any, n: int = 1, width: float = 5.0) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    if ax is not None:
        return ax.figure, [ax]
    fig = Figure(figsize=(width * n, 3.8), layout="constrained")
    return fig, [fig.add_subplot(1, n, i + 1) for i in range(n)]


def _as_loss(item: Any) -> Loss:
    if isinstance(item, Loss):
        return item
    from .profile import _resolve

    return _resolve(item, {})


def plot_losses(losses: Any, gradient: bool = False, ax: Any = None) -> Any:
    """Draw ``losses`` (names, Loss objects or formulas; one or a list) on one axes; returns the Figure.

    >>> fig = plot_losses(["mse", "mae", "huber"], gradient=True)   # doctest: +SKIP
    >>> fig.savefig("gradients.png")                                  # doctest: +SKIP
    """
    items: Iterable[Any] = [losses] if isinstance(losses, (str, Loss)) else list(losses)
    fig, (axes,) = _figure(ax)
    label = ""
    for item in items:
        loss = _as_loss(item)
        x, y, label = loss_curve(loss, gradient)
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in loss.params.items())
        axes.plot(x, y, label=f"{loss.name}({args})" if args else loss.name)
    axes.set_xlabel(label)
    axes.set_ylabel("∂ℓ/∂y_pred" if gradient else "loss")
    axes.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    axes.legend(fontsize="small")
    return fig
