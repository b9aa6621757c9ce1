"""3. The landscape of one weight: MSE is a smooth bowl, MAE a kinked V, both bottoming at 2.1."""

from __future__ import annotations

import numpy as np

import losslab as ll

from ._base import Experiment, Figure, register_experiment
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
    title = "Loss landscape of one weight: bowl against V"
    claim = (
        "For houses of 50, 80 and 120 m² priced at 2.1 per m², MSE and MAE as functions of the weight w are"
        " both minimised at w = 2.1; MSE is a smooth bowl (its slope is continuous there), MAE a kinked V (its"
        " slope jumps from −mean(x) to +mean(x))."
    )
    verdict_rule = (
        f"both minima within {ARGMIN_TOLERANCE:g} of 2.1, and MAE's slope jump at the minimum is more than"
        f" {KINK_RATIO:g}x MSE's"
    )

    def compute(self, quick: bool, seed: int):
        prices = PRICE_PER_M2 * SIZES
        grid = np.round(np.linspace(0.0, 4.2, 4201 if not quick else 841), 10)
        curves = {}
        jumps = {}
        numbers: dict = {}
        for name in ("mse", "mae"):
            loss = ll.get(name)
            curves[name] = np.array([float(loss(prices, w * SIZES)) for w in grid])
            left, right = _slope(loss, prices, PRICE_PER_M2 - STEP), _slope(loss, prices, PRICE_PER_M2 + STEP)
            jumps[name] = right - left
            numbers[f"{name}_slope_left_right"] = [left, right]
        numbers["argmin"] = {k: float(grid[np.argmin(v)]) for k, v in curves.items()}
        numbers["slope_jump"] = jumps
        numbers["mae_expected_jump"] = 2 * float(SIZES.mean())  # ±mean(x) on either side
        supported = (
            all(abs(v - PRICE_PER_M2) <= ARGMIN_TOLERANCE for v in numbers["argmin"].values())
            and abs(jumps["mae"]) > KINK_RATIO * abs(jumps["mse"])
        )
        return supported, numbers, [self._figure(grid, curves)], ""

    def _figure(self, grid: np.ndarray, curves: dict) -> Figure:
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
        for ax, (name, values) in zip(axes, curves.items()):
            ax.plot(grid, values, color="C0" if name == "mse" else "C1")
            ax.axvline(PRICE_PER_M2, color="gray", ls=":", lw=1)
            ax.set_title(f"{name.upper()}(w)")
            ax.set_xlabel("w (price per m²)")
        return Figure.from_matplotlib(fig, "landscape", "MSE and MAE of the three houses as functions of the weight w.")
