"""3. The landscape of one weight: MSE is a smooth bowl, MAE a kinked V, both bottoming at 2.1."""

from __future__ import annotations

import numpy as np

import losslab as ll

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import pyplot

SIZES = np.array([50.0, 80.0, 120.0])  # m², the articles' three houses
PRICE_PER_M2 = 2.1
ARGMIN_TOLERANCE = 1e-3
KINK_RATIO = 1000.0  # MAE's slope jump must dwarf MSE's by this factor
STEP = 1e-6  # slopes are taken at 2.1 ± STEP


def _slope(loss, prices: np.ndarray, w: float) -> float:
    """dL/dw = Σᵢ ∂L/∂ŷᵢ · xᵢ (the chain rule through ŷ = w·x)."""
    return float(np.dot(loss.gradient(prices, w * SIZES), SIZES))


@register_experiment
class Landscape(Experiment):
    name = "landscape"
    kind = "check"
    title = "Loss landscape of one weight: bowl against V"
    claim = (
        "For houses of 50, 80 and 120 m² priced at 2.1 per m², MSE and MAE as functions of the weight w are"
        " both minimised at w = 2.1; MSE is a smooth bowl (its slope is continuous there), MAE a kinked V (its"
        " slope jumps from −mean(x) to +mean(x))."
    )
    seed_rule = (
        f"both minima lie within {ARGMIN_TOLERANCE:g} of 2.1, and MAE's slope jump at the minimum is more than"
        f" {KINK_RATIO:g}x MSE's"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        prices = PRICE_PER_M2 * SIZES
        grid = np.round(np.linspace(0.0, 4.2, 4201 if not quick else 841), 10)
        curves = {}
        numbers: dict = {"slope_jump": {}, "slope_left_right": {}}
        for name in ("mse", "mae"):
            loss = ll.get(name)
            curves[name] = np.array([float(loss(prices, w * SIZES)) for w in grid])
            left, right = _slope(loss, prices, PRICE_PER_M2 - STEP), _slope(loss, prices, PRICE_PER_M2 + STEP)
            numbers["slope_jump"][name] = right - left
            numbers["slope_left_right"][name] = [left, right]
        numbers["argmin"] = {k: float(grid[np.argmin(v)]) for k, v in curves.items()}
        numbers["mae_expected_jump"] = 2 * float(SIZES.mean())  # ±mean(x) on either side
        return Trial(numbers, (grid, curves))

    def checks(self, numbers: dict) -> list[Check]:
        jumps = numbers["slope_jump"]
        return [
            Check("|argmin of MSE − 2.1|", abs(numbers["argmin"]["mse"] - PRICE_PER_M2), "<=", ARGMIN_TOLERANCE),
            Check("|argmin of MAE − 2.1|", abs(numbers["argmin"]["mae"] - PRICE_PER_M2), "<=", ARGMIN_TOLERANCE),
            Check("MAE's slope jump / MSE's", abs(jumps["mae"]) / max(abs(jumps["mse"]), 1e-300), ">", KINK_RATIO),
        ]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        return [self._figure(*trials[0].plot)], "", {}

    def _figure(self, grid: np.ndarray, curves: dict) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for name, values in curves.items():
            ax.plot(grid, values / values.max(), color="C0" if name == "mse" else "C1", lw=2,
                    label=f"{name.upper()}(w) / its maximum")
        ax.axvline(PRICE_PER_M2, color="gray", ls=":", lw=1.5, label="w = 2.1 (the true price per m²)")
        ax.set_xlabel("w (price per m²)", fontsize=11)
        ax.set_ylabel("loss / its maximum on the grid", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=10)
        return Figure.from_matplotlib(fig, "landscape", "MSE (a smooth bowl) and MAE (a kinked V) of the three houses"
                                      " as functions of the weight w, both scaled to their maximum.")
