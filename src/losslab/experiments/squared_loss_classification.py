"""8. Squared loss punishes being right by too much: far, correct points drag its boundary."""

from __future__ import annotations


import numpy as np

from losslab.datasets import gaussians
from losslab.train import LBFGS, Linear, fit

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import one_blas_thread, pyplot

LOSSES = {"squared": "mse", "cross-entropy": "binary_cross_entropy", "hinge": "hinge"}
NOISE = 1.0  # extra noise on Playground's gauss blobs (centres ±(2, 2)): about 2% Bayes error
FAR_CENTER = (12.0, 2.0)  # 10 to the right of class 1's centre: deep on the correct side
FAR_SHARE = 0.2  # far class-1 points added, as a share of the training set
MIN_RISE = 0.01  # the squared-loss test error must rise by at least 1 percentage point
MAX_CHANGE = 0.0025  # cross-entropy's and hinge's may change by at most 0.25 points



def train(loss: str, X: np.ndarray, y: np.ndarray, seed: int) -> Linear:
    """A linear classifier; the squared loss regresses the labels coded −1/+1 (least-squares classification)."""
    model = Linear(2, 1, seed=seed)
    target = 2.0 * y - 1.0 if loss == "mse" else y
    fit(model, loss, X, target, optimizer=LBFGS(), epochs=500, progress=False)
    return model


def error(model: Linear, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((model.forward(X)[:, 0] > 0) != (y == 1)))


def angle(model: Linear) -> float:
    """Direction of the boundary's normal, in degrees."""
    return float(np.degrees(np.arctan2(model.W[1, 0], model.W[0, 0])))


@register_experiment
class SquaredLossClassification(Experiment):
    name = "squared_loss_classification"
    title = "Squared loss for classification: dragged by points it already gets right"
    claim = (
        "Adding far, correctly classified points drags the boundary of a squared-loss (least-squares) linear"
        " classifier and raises its test error, while cross-entropy and hinge boundaries barely move (Bishop 2006,"
        " figure 4.4)."
    )
    seed_rule = (
        f"adding {FAR_SHARE:.0%} far class-1 points, which every model trained without them already classifies right,"
        f" raises the squared-loss test error by at least {MIN_RISE * 100:g} percentage point while the cross-entropy"
        f" and hinge test errors change by at most {MAX_CHANGE * 100:g} points"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        n = 200 if quick else 300
        k = int(FAR_SHARE * n)
        data = gaussians(n=n, noise=NOISE, seed=seed)
        test = gaussians(n=4000, noise=NOISE, seed=seed + 500)
        far = np.asarray(FAR_CENTER) + np.random.default_rng(seed).standard_normal((k, 2))
        X_far, y_far = np.vstack([data.X, far]), np.r_[data.y, np.ones(k, dtype=int)]
        numbers: dict = {"n_train": n, "n_far": k, "far_center": list(FAR_CENTER)}
        models = {}
        with one_blas_thread():
            for label, loss in LOSSES.items():
                before, after = train(loss, data.X, data.y, seed), train(loss, X_far, y_far, seed)
                clean, dragged = error(before, test.X, test.y), error(after, test.X, test.y)
                numbers[label] = {
                    "test_error_clean": clean,
                    "test_error_with_far_points": dragged,
                    "error_change": dragged - clean,
                    "boundary_rotation_degrees": abs(angle(after) - angle(before)),
                    "far_points_already_correct": 1.0 - error(before, far, np.ones(k)),
                }
                models[label] = (before.W.copy(), before.b.copy(), after.W.copy(), after.b.copy())
        return Trial(numbers, (data.X, data.y, far, models))

    def checks(self, numbers: dict) -> list[Check]:
        return [
            Check("squared loss: test error change", numbers["squared"]["error_change"], ">=", MIN_RISE),
            Check("cross-entropy: |test error change|", abs(numbers["cross-entropy"]["error_change"]), "<=", MAX_CHANGE),
            Check("hinge: |test error change|", abs(numbers["hinge"]["error_change"]), "<=", MAX_CHANGE),
            Check("smallest share of far points already right", min(numbers[label]["far_points_already_correct"]
                                                                    for label in LOSSES), ">=", 1.0),
        ]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        notes = (
            "The squared loss regresses labels coded -1/+1, so a point with score 5 on the right side costs (5 - 1)^2 = 16:"
            " the fit pulls the boundary toward the far points to lower their scores. Cross-entropy's gradient on them is"
            " about exp(-score), and hinge's is exactly 0 beyond the margin. All models are fitted by L-BFGS (on the"
            " non-smooth hinge it still lands near the optimum)."
        )
        mean = {label: {key: float(np.mean([t.numbers[label][key] for t in trials])) for key in trials[0].numbers[label]}
                for label in LOSSES}
        return [self._figure(*trials[0].plot)], notes, {"mean_over_seeds": mean}

    def _figure(self, X, y, far, models) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(10.5, 5.0), layout="constrained")
        ax.scatter(X[y == 0, 0], X[y == 0, 1], s=10, color="C0", alpha=0.6, label="class 0")
        ax.scatter(X[y == 1, 0], X[y == 1, 1], s=10, color="C3", alpha=0.6, label="class 1")
        ax.scatter(far[:, 0], far[:, 1], s=18, color="C3", marker="x", label="far class-1 points (added)")
        x1 = np.linspace(-7, 15, 2)
        colors = {"squared": "k", "cross-entropy": "C2", "hinge": "C4"}
        for label, (w0, b0, w1, b1) in models.items():
            for w, b, style, suffix in ((w0[:, 0], b0[0], ":", "without"), (w1[:, 0], b1[0], "-", "with")):
                ax.plot(x1, -(w[0] * x1 + b) / w[1], style, color=colors[label], lw=1.8,
                        label=f"{label}, {suffix} far points")
        ax.set_xlim(-7, 15)
        ax.set_ylim(-7, 7)
        ax.set_xlabel("feature x1 (no unit)")
        ax.set_ylabel("feature x2 (no unit)")
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return Figure.from_matplotlib(
            fig, "squared_loss_classification",
            "Decision boundaries of one seed without (dotted) and with (solid) the far, correctly classified points,"
            " for each loss.",
        )
