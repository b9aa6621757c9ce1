"""1. The loss picks the statistic: MSE's best constant is the mean, MAE's the median."""

from __future__ import annotations

import numpy as np

import losslab as ll

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
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
    seed_rule = (
        f"every fitted constant lies within {TOLERANCE:g} (relative) of its statistic, on the fixed sample and on"
        " the seed's log-normal sample"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        lognormal = np.random.default_rng(seed).lognormal(0.0, 1.0, size=101 if quick else 1001)
        numbers: dict = {}
        for label, sample in (("articles", SAMPLE), ("lognormal", lognormal)):
            expected = {
                "mse": float(np.mean(sample)),
                "mae": float(np.median(sample)),
                **{f"quantile({q:g})": float(np.quantile(sample, q, method="inverted_cdf")) for q in QUANTILES},
            }
            if label == "articles":  # the article's Huber answer is the median, 3
                expected["huber"] = 3.0
            fitted = {
                "mse": best_constant(ll.MSE(), sample),
                "mae": best_constant(ll.MAE(), sample),
                "huber": best_constant(ll.Huber(delta=1.0), sample),
                **{f"quantile({q:g})": best_constant(ll.Quantile(q=q), sample) for q in QUANTILES},
            }
            numbers[label] = {"fitted": fitted, "statistic": expected}
        return Trial(numbers)

    def checks(self, numbers: dict) -> list[Check]:
        worst = max(
            abs(part["fitted"][key] - value) / max(1.0, abs(value))
            for part in (numbers["articles"], numbers["lognormal"]) for key, value in part["statistic"].items()
        )
        return [Check("largest relative distance of a fitted constant from its statistic", worst, "<=", TOLERANCE)]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        fitted = trials[0].numbers["articles"]["fitted"]
        return [self._figure(fitted)], "", {"articles_sample": SAMPLE.tolist(), "articles_fitted": fitted}

    def _figure(self, fitted: dict) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        grid = np.linspace(0, 30, 601)
        for k, (loss, label) in enumerate(((ll.MSE(), "MSE"), (ll.MAE(), "MAE"), (ll.Huber(), "Huber (δ = 1)"))):
            values = np.array([float(loss(SAMPLE, np.full_like(SAMPLE, c))) for c in grid])
            ax.plot(grid, values / values.max(), label=label, color=f"C{k}", lw=2)
        ax.axvline(fitted["mse"], color="C0", ls=":", lw=1.5)
        ax.axvline(fitted["mae"], color="C1", ls=":", lw=1.5)
        ax.annotate("mean 22", (fitted["mse"], 0.9), xytext=(5, 0), textcoords="offset points", fontsize=11)
        ax.annotate("median 3", (fitted["mae"], 0.9), xytext=(5, 0), textcoords="offset points", fontsize=11)
        ax.set_xlabel("constant prediction c (same units as the sample)", fontsize=11)
        ax.set_ylabel("loss / its maximum on the grid", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=10, loc="lower right")
        return Figure.from_matplotlib(fig, "mean_vs_median", "Loss of a constant prediction on [1, 2, 3, 4, 100]:"
                                      " MSE is minimised at the mean, MAE and Huber at the median.")
