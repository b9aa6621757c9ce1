"""Small shared tools of the experiments: fitting a constant, plotting setup."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from ..loss import one_blas_thread  # noqa: F401  (the one BLAS-thread limiter, for the experiments)


def best_constant(loss: Any, sample: np.ndarray) -> float:
    """The constant c minimising loss(sample, c): the statistic the loss estimates."""
    sample = np.asarray(sample, dtype=float)
    lo, hi = float(sample.min()), float(sample.max())
    # A grid first: losses that are not convex (or flat in places) have several local minima.
    grid = np.linspace(lo, hi, 2001)
    # Every grid constant in one call: row k compares the sample with the constant grid[k].
    shape = (grid.size, sample.size)
    values = loss(np.broadcast_to(sample, shape), np.broadcast_to(grid[:, None], shape), reduction="none").mean(axis=1)
    k = int(np.argmin(values))
    left, right = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    result = minimize_scalar(
        lambda c: float(loss(sample, np.full_like(sample, c))), bounds=(left, right), method="bounded",
        options={"xatol": 1e-10 * max(1.0, abs(hi))},
    )
    return float(result.x)


#: Type sizes in points: figures are saved at 100 dpi and shown at about their size in the report
#: (at most 11 inches wide), so no text is smaller than 9 pt as read.
FONT = {"font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
        "legend.fontsize": 10, "figure.titlesize": 12}


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), with the report's type sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(FONT)
    return plt


def calibration_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """Expected calibration error with ``n_bins`` equal-width confidence bins (Guo et al. 2017:
    15 bins): ECE = Σ_b (n_b/n)·|accuracy_b − confidence_b|, with the bins behind it."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    filled = np.maximum(count, 1)
    accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / filled
    mean_confidence = np.bincount(bins, weights=confidence, minlength=n_bins) / filled
    ece = float(np.sum(count / len(confidence) * np.abs(accuracy - mean_confidence)))
    return {"ece": ece, "bin_count": count, "bin_accuracy": accuracy, "bin_confidence": mean_confidence}
