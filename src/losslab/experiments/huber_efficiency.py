"""6. Efficiency: Huber keeps ~95% of the mean's precision under Gaussian noise, and wins under outliers."""

from __future__ import annotations

import math

import numpy as np

import losslab as ll

from ._base import Experiment, Figure, register_experiment
from ._fit import pyplot

DELTA = 1.345
SAMPLE_SIZE = 100
# Asymptotic values (Huber 1964; the median's 2/π), and how close the Monte-Carlo must come.
HUBER_ARE, MEDIAN_ARE = 0.95, 2.0 / math.pi
EFFICIENCY_TOLERANCE = 0.05
CONTAMINATION, OUTLIER_SCALE = 0.1, 10.0


def m_estimates(loss: ll.Loss, samples: np.ndarray) -> np.ndarray:
    """Location estimates of each row: the root of Σ ρ'(μ − x) = 0, by vectorised bisection.

    ρ' is monotone for convex losses, so bisection between the row's min and max converges
    (to within 2⁻⁶⁰ of the range) for every row at once.
    """
    lo, hi = samples.min(axis=1), samples.max(axis=1)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        slope = loss.gradient(samples, np.broadcast_to(mid[:, None], samples.shape), reduction="none").sum(axis=1)
        lo, hi = np.where(slope < 0, mid, lo), np.where(slope < 0, hi, mid)
    return 0.5 * (lo + hi)


@register_experiment
class HuberEfficiency(Experiment):
    name = "huber_efficiency"
    title = "Relative efficiency of mean, median and Huber"
    claim = (
        f"Under Gaussian noise, Huber (delta = {DELTA}) keeps about 95% of the mean's efficiency and the median"
        " about 64%; with 10% gross outliers the order reverses: both beat the mean."
    )
    verdict_rule = (
        f"Monte-Carlo efficiencies within {EFFICIENCY_TOLERANCE} of {HUBER_ARE} (Huber) and 2/π ≈ {MEDIAN_ARE:.3f}"
        " (median) under Gaussian noise, and both above 1 under contamination"
    )

    def compute(self, quick: bool, seed: int):
        rng = np.random.default_rng(seed)
        reps = 1500 if quick else 6000
        gaussian = rng.normal(size=(reps, SAMPLE_SIZE))
        outlier = rng.random(size=(reps, SAMPLE_SIZE)) < CONTAMINATION
        contaminated = np.where(outlier, rng.normal(0.0, OUTLIER_SCALE, size=gaussian.shape), gaussian)
        numbers: dict = {"replications": reps, "sample_size": SAMPLE_SIZE}
        for label, samples in (("gaussian", gaussian), ("contaminated", contaminated)):
            variances = {
                "mean": float(np.var(samples.mean(axis=1))),
                "median": float(np.var(np.median(samples, axis=1))),
                "huber": float(np.var(m_estimates(ll.Huber(delta=DELTA), samples))),
            }
            numbers[label] = {
                "variance": variances,
                "efficiency_vs_mean": {k: variances["mean"] / v for k, v in variances.items()},
            }
        g, c = numbers["gaussian"]["efficiency_vs_mean"], numbers["contaminated"]["efficiency_vs_mean"]
        supported = (
            abs(g["huber"] - HUBER_ARE) <= EFFICIENCY_TOLERANCE
            and abs(g["median"] - MEDIAN_ARE) <= EFFICIENCY_TOLERANCE
            and c["huber"] > 1.0
            and c["median"] > 1.0
        )
        return supported, numbers, [self._figure(numbers)], ""

    def _figure(self, numbers: dict) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 3.2))
        labels = ["mean", "median", "huber"]
        for k, label in enumerate(("gaussian", "contaminated")):
            values = [numbers[label]["efficiency_vs_mean"][name] for name in labels]
            ax.bar(np.arange(3) + 0.38 * k, values, width=0.36, label=label)
        ax.axhline(1.0, color="gray", lw=1, ls=":")
        ax.set_xticks(np.arange(3) + 0.19, labels)
        ax.set_ylabel("efficiency relative to the mean")
        ax.legend()
        return Figure.from_matplotlib(fig, "huber_efficiency", "Variance of the mean divided by each estimator's variance.")
