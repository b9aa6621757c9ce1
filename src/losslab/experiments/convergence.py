"""5. One fixed step size: MSE's gradient shrinks near the optimum, MAE's does not."""

from __future__ import annotations

import numpy as np

import losslab as ll

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import pyplot

STEP_SIZE = 0.1
STEP_SWEEP = (0.01, 0.03, 0.1, 0.3)  # all below MSE's stability limit 2/λ_max ≈ 0.4 on x in [0, 2]
TOLERANCE = 1e-3  # distance of (w, b) from the true (2, 1) that counts as converged


def gradient_descent(loss: ll.Loss, x: np.ndarray, y: np.ndarray, steps: int, step_size: float = STEP_SIZE) -> np.ndarray:
    """Plain gradient descent on y ≈ w·x + b; returns the (w, b) path."""
    w, b = 0.0, 0.0
    path = np.empty((steps + 1, 2))
    path[0] = w, b
    for t in range(1, steps + 1):
        g = loss.gradient(y, w * x + b)  # ∂L/∂ŷ, already divided by n (reduction="mean")
        w, b = w - step_size * float(g @ x), b - step_size * float(g.sum())
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
    seed_rule = (
        f"with step size {STEP_SIZE:g}, MSE ends within {TOLERANCE:g} of the true parameters, MAE does not,"
        " and MAE's last 50 iterates change direction at least 10 times (oscillation)"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
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
        # the step-size sweep: final distance to the optimum of each loss after the same number of steps
        sweep_steps = 300 if quick else 1000
        numbers["sweep"] = {
            name: {f"{eta:g}": float(np.hypot(*(gradient_descent(ll.get(name), x, y, sweep_steps, eta)[-1] - (2.0, 1.0))))
                   for eta in STEP_SWEEP}
            for name in ("mse", "mae")
        }
        numbers["sweep_steps"] = sweep_steps
        return Trial(numbers, paths)

    def checks(self, numbers: dict) -> list[Check]:
        return [
            Check("MSE's final distance to the optimum", numbers["mse"]["final_error"], "<", TOLERANCE),
            Check("MAE's final distance to the optimum", numbers["mae"]["final_error"], ">=", TOLERANCE),
            Check("MAE's direction changes in the last 50 steps", numbers["mae"]["direction_changes_last_50"], ">=", 10),
        ]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        sweep = {name: {eta: float(np.exp(np.mean([np.log(max(t.numbers["sweep"][name][eta], 1e-300)) for t in trials])))
                        for eta in trials[0].numbers["sweep"][name]} for name in ("mse", "mae")}
        return [self._figure(trials[0].plot, sweep, trials[0].numbers["sweep_steps"])], "", {"sweep_geometric_mean": sweep}

    def _figure(self, paths: dict, sweep: dict, sweep_steps: int) -> Figure:
        plt = pyplot()
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
        for name, path in paths.items():
            ax.semilogy(np.hypot(path[:, 0] - 2.0, path[:, 1] - 1.0), label=name.upper(), lw=1.5)
        ax.axhline(TOLERANCE, color="gray", ls=":", lw=1.5, label=f"tolerance {TOLERANCE:g}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("distance to the optimum (w, b) = (2, 1)")
        ax.set_title(f"one seed, step size {STEP_SIZE:g}")
        ax.legend()
        for name in sweep:
            etas = [float(e) for e in sweep[name]]
            bx.loglog(etas, list(sweep[name].values()), "o-", label=name.upper(), lw=1.5)
        bx.axhline(TOLERANCE, color="gray", ls=":", lw=1.5)
        bx.set_xlabel("step size")
        bx.set_ylabel(f"distance after {sweep_steps} steps")
        bx.set_title("step-size sweep (geometric mean over seeds)")
        bx.legend()
        return Figure.from_matplotlib(
            fig, "convergence",
            f"Left: gradient descent with step size {STEP_SIZE:g} on one seed's data. Right: the distance left after"
            f" {sweep_steps} steps against the step size, for each loss.",
        )
