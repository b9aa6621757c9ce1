"""5. One fixed step size: MSE's gradient shrinks near the optimum, MAE's does not."""

from __future__ import annotations

import numpy as np

import losslab as ll

from ._base import Experiment, Figure, register_experiment
from ._fit import pyplot

STEP_SIZE = 0.1
TOLERANCE = 1e-3  # distance of (w, b) from the true (2, 1) that counts as converged


def gradient_descent(loss: ll.Loss, x: np.ndarray, y: np.ndarray, steps: int) -> np.ndarray:
    """Plain gradient descent on y ≈ w·x + b; returns the (w, b) path."""
    w, b = 0.0, 0.0
    path = np.empty((steps + 1, 2))
    path[0] = w, b
    for t in range(1, steps + 1):
        g = loss.gradient(y, w * x + b)  # ∂L/∂ŷ, already divided by n (reduction="mean")
        w, b = w - STEP_SIZE * float(g @ x), b - STEP_SIZE * float(g.sum())
        path[t] = w, b
    return path


@register_experiment
class Convergence(Experiment):
    name = "convergence"
    title = "Convergence with one fixed step size"
    claim = (
        "On clean linear data, gradient descent with one fixed step size converges smoothly under MSE (its"
        " gradient shrinks with the residual), while under MAE the constant-size gradient keeps it oscillating"
        " around the optimum."
    )
    verdict_rule = (
        f"with step size {STEP_SIZE:g}, MSE ends within {TOLERANCE:g} of the true parameters, MAE does not,"
        " and MAE's last iterates keep changing direction (oscillation)"
    )

    def compute(self, quick: bool, seed: int):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0.0, 2.0, size=50)
        y = 2.0 * x + 1.0  # clean data: both losses have the same optimum (2, 1)
        steps = 800 if quick else 2000
        paths = {name: gradient_descent(ll.get(name), x, y, steps) for name in ("mse", "mae")}
        numbers: dict = {}
        for name, path in paths.items():
            error = np.hypot(path[:, 0] - 2.0, path[:, 1] - 1.0)
            reached = np.nonzero(error < TOLERANCE)[0]
            tail = np.diff(path[-50:, 0])
            numbers[name] = {
                "final_error": float(error[-1]),
                "iterations_to_tolerance": int(reached[0]) if reached.size else None,
                "direction_changes_last_50": int(np.sum(np.sign(tail[1:]) != np.sign(tail[:-1]))),
            }
        supported = (
            numbers["mse"]["final_error"] < TOLERANCE
            and numbers["mae"]["final_error"] >= TOLERANCE
            and numbers["mae"]["direction_changes_last_50"] >= 10
        )
        return supported, numbers, [self._figure(paths)], ""

    def _figure(self, paths: dict) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        for name, path in paths.items():
            ax.semilogy(np.hypot(path[:, 0] - 2.0, path[:, 1] - 1.0), label=name.upper())
        ax.axhline(TOLERANCE, color="gray", ls=":", lw=1)
        ax.set_xlabel("iteration")
        ax.set_ylabel("distance to the optimum")
        ax.legend()
        return Figure.from_matplotlib(fig, "convergence", f"Gradient descent with step size {STEP_SIZE:g}.")
