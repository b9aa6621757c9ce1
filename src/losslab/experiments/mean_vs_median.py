"""1. The loss picks the statistic: MSE's best constant is the mean, MAE's the median."""

from __future__ import annotations

import numpy as np

import losslab as ll

from ._base import Experiment, Figure, register_experiment
from ._fit import best_constant, pyplot

SAMPLE = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
TOLERANCE = 1e-3  # how close the fitted constant must be to the statistic
QUANTILES = (0.1, 0.25, 0.75, 0.9)


@register_experiment
class MeanVsMedian(Experiment):
    name = "mean_vs_median"
    title = "Mean vs median: the loss decides what a constant model predicts"
    claim = (
        "On [1, 2, 3, 4, 100] the best constant is 22 (the mean) under MSE, 3 (the median) under MAE and"
        " Huber, and the q-quantile under quantile(q); on a log-normal sample the same losses land on the"
        " same statistics."
    )
    verdict_rule = f"every fitted constant lies within {TOLERANCE:g} (relative) of its statistic on both samples"

    def compute(self, quick: bool, seed: int):
        lognormal = np.random.default_rng(seed).lognormal(0.0, 1.0, size=101 if quick else 1001)
        numbers: dict = {}
        checks = []
        for label, sample in (("articles", SAMPLE), ("lognormal", lognormal)):
            expected = {
                "mse": float(np.mean(sample)),
                "mae": float(np.median(sample)),
                **{f"quantile({q:g})": float(np.quantile(sample, q, method="inverted_cdf")) for q in QUANTILES},
            }
            fitted = {
                "mse": best_constant(ll.MSE(), sample),
                "mae": best_constant(ll.MAE(), sample),
                "huber": best_constant(ll.Huber(delta=1.0), sample),
                **{f"quantile({q:g})": best_constant(ll.Quantile(q=q), sample) for q in QUANTILES},
            }
            numbers[label] = {"fitted": fitted, "statistic": expected}
            for key, value in expected.items():
                checks.append(abs(fitted[key] - value) <= TOLERANCE * max(1.0, abs(value)))
            if label == "articles":  # the article's Huber answer is the median, 3
                checks.append(abs(fitted["huber"] - 3.0) <= TOLERANCE)
        numbers["articles_sample"] = SAMPLE.tolist()
        return all(checks), numbers, [self._figure(numbers)], ""

    def _figure(self, numbers: dict) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        grid = np.linspace(0, 30, 601)
        for loss, label in ((ll.MSE(), "MSE"), (ll.MAE(), "MAE"), (ll.Huber(), "Huber")):
            values = np.array([float(loss(SAMPLE, np.full_like(SAMPLE, c))) for c in grid])
            ax.plot(grid, values / values.max(), label=label)
        fitted = numbers["articles"]["fitted"]
        ax.axvline(fitted["mse"], color="C0", ls=":", lw=1)
        ax.axvline(fitted["mae"], color="C1", ls=":", lw=1)
        ax.set_xlabel("constant prediction c")
        ax.set_ylabel("loss / its maximum on the grid")
        ax.set_title("[1, 2, 3, 4, 100]: MSE is minimised at 22, MAE at 3")
        ax.legend()
        return Figure.from_matplotlib(fig, "mean_vs_median", "Loss of a constant prediction on [1, 2, 3, 4, 100].")
