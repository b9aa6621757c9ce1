"""2. Gross outliers: MSE's slope is dragged, robust losses recover the true 2.1 per m²."""

from __future__ import annotations


import numpy as np

import losslab as ll
from losslab.datasets import houses
from losslab.train import LBFGS, Linear, fit

from ._base import Experiment, Figure, register_experiment
from ._fit import one_blas_thread, pyplot

LOSSES = {
    "mse": ll.MSE(),
    "mae": ll.MAE(),
    "huber": ll.Huber(delta=1.345),  # 95% efficiency under Gaussian noise (residuals in units of σ)
    "log_cosh": ll.LogCosh(),
    "cauchy": ll.Cauchy(scale=2.385),  # the Cauchy scale with 95% Gaussian efficiency
    "quantile(0.5)": ll.Quantile(q=0.5),
}
ROBUST = [name for name in LOSSES if name != "mse"]
FRACTIONS = (0.05, 0.10)  # share of houses whose price is multiplied by 5-10
MAX_RATIO = 1 / 3  # a robust loss's slope error must be at most this share of MSE's
TRUE_SLOPE = 2.1



def fit_slope(loss: ll.Loss, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """Slope and intercept of a linear fit in price units, trained on standardised size and on
    prices in units of a robust noise scale (so huber's delta and cauchy's scale mean "σ")."""
    x_mean, x_std = x.mean(), x.std()
    y_center = np.median(y)
    # σ̂ = 1.4826·MAD of the residuals of a Theil–Sen line: a robust scale that needs no scale to start with
    slope0, icpt0 = _theil_sen_line(x, y)
    sigma = 1.4826 * np.median(np.abs(y - slope0 * x - icpt0 - np.median(y - slope0 * x - icpt0)))
    model = Linear(1, 1, seed=seed)
    fit(model, loss, ((x - x_mean) / x_std)[:, None], (y - y_center) / sigma,
        optimizer=LBFGS(), epochs=500, progress=False)
    slope = float(model.W[0, 0]) * sigma / x_std
    return slope, float(model.b[0]) * sigma + y_center - slope * x_mean


def _theil_sen_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The median of the pairwise slopes and the median intercept (Theil–Sen)."""
    i, j = np.triu_indices(len(x), 1)
    keep = x[j] != x[i]
    slope = float(np.median((y[j] - y[i])[keep] / (x[j] - x[i])[keep]))
    return slope, float(np.median(y - slope * x))


@register_experiment
class Outliers(Experiment):
    name = "outliers"
    title = "Gross outliers: which losses keep the slope"
    claim = (
        "With 5-10% of house prices multiplied by 5-10, a least-squares (MSE) line is dragged far from the true"
        " 2.1 per m², while MAE, Huber, log-cosh, Cauchy and the median (quantile 0.5) recover the slope."
    )
    verdict_rule = (
        f"at every outlier share ({', '.join(f'{f:.0%}' for f in FRACTIONS)}), the mean slope error over the"
        f" repeats of every robust loss is at most {MAX_RATIO:.3g} of MSE's"
    )

    def compute(self, quick: bool, seed: int):
        with one_blas_thread():
            return self._compute(quick, seed)

    def _compute(self, quick: bool, seed: int):
        n, repeats = (100, 2) if quick else (200, 10)
        errors = {f: {name: [] for name in LOSSES} for f in FRACTIONS}
        sklearn_errors = {f: [] for f in FRACTIONS}
        example = {}
        for f in FRACTIONS:
            for r in range(repeats):
                data = houses(n=n, noise=15.0, outliers=int(round(f * n)), seed=seed + 100 * r + int(1000 * f))
                x, y = data.X[:, 0], data.y
                for name, loss in LOSSES.items():
                    slope, intercept = fit_slope(loss, x, y, seed)
                    errors[f][name].append(abs(slope - TRUE_SLOPE))
                    if r == 0 and f == FRACTIONS[-1]:
                        example[name] = (slope, intercept)
                if not quick:  # an independent check, skipped in quick mode (importing scikit-learn takes seconds)
                    sklearn_errors[f].append(_sklearn_huber_error(x, y))
                if r == 0 and f == FRACTIONS[-1]:
                    example["data"] = data
        numbers: dict = {"true_slope": TRUE_SLOPE, "n": n, "repeats": repeats}
        checks = []
        for f in FRACTIONS:
            mean = {name: float(np.mean(e)) for name, e in errors[f].items()}
            ratio = {name: mean[name] / mean["mse"] for name in ROBUST}
            checks += [ratio[name] <= MAX_RATIO for name in ROBUST]
            numbers[f"outliers_{f:.0%}"] = {
                "slope_error": mean,
                "error_ratio_to_mse": ratio,
                "sklearn_HuberRegressor_slope_error": _mean_or_none(sklearn_errors[f]),
            }
        numbers["example_slopes"] = {name: example[name][0] for name in LOSSES}
        notes = (
            "Prices are fitted in units of a robust noise scale (1.4826·MAD of Theil–Sen residuals), so Huber's"
            " delta = 1.345 and Cauchy's scale = 2.385 are their usual 95%-efficiency settings; all losses are trained"
            " with the same optimizer, L-BFGS (on the piecewise-linear MAE and quantile objectives it lands on the same"
            " slope as a long cosine-decayed Adam run, to about 1e-4). scikit-learn's \"HuberRegressor"
            " vs Ridge\" example (20 points + 4 strong outliers) reports a true slope of 14.34, least squares -4.36"
            " (error 18.7) and HuberRegressor 9.69 at epsilon = 1.35 (error 4.65, 0.25 of least squares'); here"
            " sklearn_HuberRegressor_slope_error is scikit-learn's own HuberRegressor(epsilon=1.35) on the same data, an"
            " independent check of the huber row (full mode only)."
        )
        return all(checks), numbers, [self._figure(example, numbers)], notes

    def _figure(self, example: dict, numbers: dict) -> Figure:
        plt = pyplot()
        data = example["data"]
        x, y, bad = data.X[:, 0], data.y, data.metadata["outliers"]
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
        clean = np.setdiff1d(np.arange(len(y)), bad)
        ax.scatter(x[clean], y[clean], s=8, color="0.5", label="houses")
        ax.scatter(x[bad], y[bad], s=14, color="C3", marker="x", label="outliers")
        grid = np.linspace(x.min(), x.max(), 2)
        for k, name in enumerate(LOSSES):
            slope, intercept = example[name]
            ax.plot(grid, slope * grid + intercept, color=f"C{k}", lw=1.2, label=f"{name}: {slope:.2f}")
        ax.plot(grid, TRUE_SLOPE * grid, "k:", lw=1, label=f"truth: {TRUE_SLOPE}")
        ax.set_ylim(0, np.percentile(y, 97) * 1.2)
        ax.set_xlabel("size (m²)")
        ax.set_ylabel("price")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        width = 0.8 / len(FRACTIONS)
        for k, f in enumerate(FRACTIONS):
            errs = numbers[f"outliers_{f:.0%}"]["slope_error"]
            bx.bar(np.arange(len(LOSSES)) + k * width, [errs[name] for name in LOSSES], width, label=f"{f:.0%} outliers")
        bx.set_yscale("log")
        bx.set_xticks(np.arange(len(LOSSES)) + width / 2, list(LOSSES), rotation=30, fontsize=8)
        bx.set_ylabel("|slope − 2.1| (mean over repeats)")
        bx.legend(fontsize=8)
        return Figure.from_matplotlib(
            fig, "outliers",
            f"Left: one data set with {FRACTIONS[-1]:.0%} gross outliers and the line of each loss. Right: slope error of"
            " each loss (log scale).",
        )


def _mean_or_none(values: list) -> float | None:
    return float(np.mean(values)) if values and None not in values else None


def _sklearn_huber_error(x: np.ndarray, y: np.ndarray) -> float | None:
    try:
        from sklearn.linear_model import HuberRegressor
    except ImportError:  # pragma: no cover - scikit-learn is an optional extra
        return None
    model = HuberRegressor(epsilon=1.35, alpha=0.0, max_iter=1000).fit(((x - x.mean()) / x.std())[:, None], y)
    return abs(float(model.coef_[0]) / x.std() - TRUE_SLOPE)
