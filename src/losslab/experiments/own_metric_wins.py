"""4. You get what you optimize for: each model wins on the metric it was trained with."""

from __future__ import annotations


import numpy as np

import losslab as ll
from losslab.train import LBFGS, Linear, fit

from ._base import Experiment, Figure, register_experiment
from ._fit import one_blas_thread, pyplot

LOSSES = {"mse": ll.MSE(), "mae": ll.MAE(), "quantile(0.9)": ll.Quantile(q=0.9)}
NOISE_SIGMA = 0.75  # log-normal noise: mean e^(σ²/2) ≈ 1.32, median 1, 0.9-quantile e^(1.2816σ) ≈ 2.61
N_FEATURES = 3



def skewed_data(n: int, coef: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = X·coef + 1 + log-normal noise: right-skewed, so mean, median and 0.9-quantile differ."""
    X = rng.standard_normal((n, len(coef)))
    return X, X @ coef + 1.0 + rng.lognormal(0.0, NOISE_SIGMA, n)


@register_experiment
class OwnMetricWins(Experiment):
    name = "own_metric_wins"
    title = "You get what you optimize for"
    claim = (
        "Linear models trained with MSE, MAE and quantile(0.9) loss on data with skewed noise each score best,"
        " on held-out data, on the metric they were trained with."
    )
    verdict_rule = (
        "in every column of the held-out 3x3 table (metric), the smallest value belongs to the model trained"
        " with that metric (the diagonal wins)"
    )

    def compute(self, quick: bool, seed: int):
        rng = np.random.default_rng(seed)
        coef = rng.uniform(-2.0, 2.0, N_FEATURES)
        X, y = skewed_data(200 if quick else 500, coef, rng)
        X_test, y_test = skewed_data(5000 if quick else 20000, coef, rng)
        table: dict = {}
        offsets: dict = {}
        with one_blas_thread():
            for trained in LOSSES:
                model = Linear(N_FEATURES, 1, seed=seed)
                fit(model, LOSSES[trained], X, y, optimizer=LBFGS(), epochs=500, progress=False)
                pred = model.forward(X_test)[:, 0]
                offsets[trained] = float(model.b[0]) - 1.0
                table[trained] = {metric: float(loss(y_test, pred)) for metric, loss in LOSSES.items()}
        winners = {metric: min(LOSSES, key=lambda trained: table[trained][metric]) for metric in LOSSES}
        numbers = {
            "test_metric_by_trained_loss": table,
            "winner_by_metric": winners,
            # how much worse than the metric's own model, per metric (0 on the diagonal)
            "excess_over_own_model": {
                trained: {m: table[trained][m] / table[m][m] - 1.0 for m in LOSSES} for trained in LOSSES
            },
            # the fitted intercept minus the true 1: the statistic of the noise each loss estimates
            "fitted_noise_offset": offsets,
            "noise_statistics": {
                "mean": float(np.exp(NOISE_SIGMA**2 / 2)),
                "median": 1.0,
                "quantile_0.9": float(np.exp(1.2815516 * NOISE_SIGMA)),  # 1.2815516 = Φ⁻¹(0.9)
            },
        }
        notes = (
            "All three models are fitted by L-BFGS to the same training set; the noise is log-normal (σ = 0.75), so the"
            " best constant offset differs: its mean, median and 0.9-quantile (see noise_statistics). scikit-learn's"
            " quantile-regression example reports the same pattern by cross-validation: linear regression CV MSE 6.690"
            " vs 7.129 for the median model, and the median model CV MAE 1.679 vs 1.732."
        )
        return all(winners[m] == m for m in LOSSES), numbers, [self._figure(table)], notes

    def _figure(self, table: dict) -> Figure:
        plt = pyplot()
        names = list(LOSSES)
        # each column divided by its own model's value: 1 on the diagonal, above 1 elsewhere
        relative = np.array([[table[t][m] / table[m][m] for m in names] for t in names])
        fig, ax = plt.subplots(figsize=(5.2, 4.2))
        image = ax.imshow(relative, cmap="viridis_r", vmin=1.0)
        for i, t in enumerate(names):
            for j, m in enumerate(names):
                ax.text(j, i, f"{table[t][m]:.3f}\n(x{relative[i, j]:.2f})", ha="center", va="center", fontsize=8,
                        color="white" if relative[i, j] > 1 + 0.6 * (relative.max() - 1) else "black")
        ax.set_xticks(range(3), names)
        ax.set_yticks(range(3), names)
        ax.set_xlabel("evaluated with (held-out data)")
        ax.set_ylabel("trained with")
        fig.colorbar(image, ax=ax, label="metric / best model's metric")
        return Figure.from_matplotlib(
            fig, "own_metric_wins",
            "Held-out metric of each trained model; colour: the value relative to the column's own model (1 = best).",
        )
