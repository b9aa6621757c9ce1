"""The profile card's figure (matplotlib, imported only when a figure is drawn)."""

from __future__ import annotations

from typing import Any


def plot_profile(profile: Any, ax: Any = None) -> Any:
    """The profile card's figure: loss, gradient, and influence (or the score's gradient); returns the Figure."""
    c = profile.curves
    if not c:
        raise ValueError(f"the profile of {profile.name} has no curves: {' '.join(profile.notes)}")
    if ax is None:
        from matplotlib.figure import Figure  # without pyplot: no global state, no display needed

        fig = Figure(figsize=(3 * 4.2, 3.8), layout="constrained")
        axes = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    else:
        fig, axes = ax[0].figure, list(ax)
    axes[0].plot(c["x"], c["value"])
    axes[0].set(xlabel=c["xlabel"], ylabel="loss", title=f"{profile.name}: loss")
    axes[1].plot(c["x"], c["gradient"], color="C1")
    axes[1].set(xlabel=c["xlabel"], ylabel="∂ℓ/∂y_pred", title=f"gradient ({profile.gradient_tail or '?'} tail)")
    if "outlier" in c:
        axes[2].semilogx(c["outlier"], c["shift"], "o-", color="C2")
        axes[2].set(xlabel="outlier distance from the bulk", ylabel="n · shift of the best constant",
                    title="influence of one outlier")
    elif "z" in c:
        axes[2].plot(c["z"], c["gradient_z"], color="C2")
        axes[2].set(xlabel="logit / score of the true class", ylabel="∂ℓ/∂z",
                    title="gradient the model receives")
    for a in axes:
        a.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    return fig
