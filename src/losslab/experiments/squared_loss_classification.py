"""8. Squared loss punishes being right by too much: far, correct points drag its boundary."""

from __future__ import annotations


import numpy as np

from losslab.datasets import gaussians
from losslab.train import LBFGS, Linear, fit

from ._base import Experiment, Figure, register_experiment
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
    verdict_rule = (
        f"averaged over the repeats, adding {FAR_SHARE:.0%} far class-1 points, which every model trained without them"
        f" already classifies right, raises the squared-loss test error by"
        f" at least {MIN_RISE * 100:g} percentage point while the cross-entropy and hinge test errors change by at most"
        f" {MAX_CHANGE * 100:g} points"
    )

    def compute(self, quick: bool, seed: int):
        repeats, n = (2, 200) if quick else (5, 300)
        k = int(FAR_SHARE * n)
        rows: dict = {label: {"clean": [], "with_far": [], "angle_change": [], "far_correct_before": []}
                      for label in LOSSES}
        example = None
        with one_blas_thread():
            for r in range(repeats):
                data = gaussians(n=n, noise=NOISE, seed=seed + r)
                test = gaussians(n=4000, noise=NOISE, seed=seed + 1000 + r)
                far = np.asarray(FAR_CENTER) + np.random.default_rng(seed + r).standard_normal((k, 2))
                X_far, y_far = np.vstack([data.X, far]), np.r_[data.y, np.ones(k, dtype=int)]
                models = {}
                for label, loss in LOSSES.items():
                    before, after = train(loss, data.X, data.y, seed), train(loss, X_far, y_far, seed)
                    rows[label]["clean"].append(error(before, test.X, test.y))
                    rows[label]["with_far"].append(error(after, test.X, test.y))
                    rows[label]["angle_change"].append(abs(angle(after) - angle(before)))
                    rows[label]["far_correct_before"].append(1.0 - error(before, far, np.ones(k)))
                    models[label] = (before, after)
                if r == 0:
                    example = (data, far, models)
        numbers: dict = {"n_train": n, "n_far": k, "far_center": list(FAR_CENTER), "repeats": repeats}
        for label, row in rows.items():
            clean, dragged = float(np.mean(row["clean"])), float(np.mean(row["with_far"]))
            numbers[label] = {
                "test_error_clean": clean,
                "test_error_with_far_points": dragged,
                "error_change": dragged - clean,
                "boundary_rotation_degrees": float(np.mean(row["angle_change"])),
                "far_points_already_correct": float(np.mean(row["far_correct_before"])),
            }
        supported = (
            numbers["squared"]["error_change"] >= MIN_RISE
            and all(abs(numbers[label]["error_change"]) <= MAX_CHANGE for label in ("cross-entropy", "hinge"))
            and all(numbers[label]["far_points_already_correct"] == 1.0 for label in LOSSES)
        )
        notes = (
            "The squared loss regresses labels coded -1/+1, so a point with score 5 on the right side costs (5 - 1)^2 = 16:"
            " the fit pulls the boundary toward the far points to lower their scores. Cross-entropy's gradient on them is"
            " about exp(-score), and hinge's is exactly 0 beyond the margin. far_points_already_correct is the share of the"
            " far points that the models trained without them classify right (the points are 'correct' before they are"
            " added). All models are fitted by L-BFGS (on the non-smooth hinge it still lands near the optimum)."
        )
        return supported, numbers, [self._figure(*example)], notes

    def _figure(self, data, far, models) -> Figure:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(8.5, 4.2))
        X, y = data.X, data.y
        ax.scatter(X[y == 0, 0], X[y == 0, 1], s=8, color="C0", alpha=0.6, label="class 0")
        ax.scatter(X[y == 1, 0], X[y == 1, 1], s=8, color="C3", alpha=0.6, label="class 1")
        ax.scatter(far[:, 0], far[:, 1], s=14, color="C3", marker="x", label="far class-1 points (added)")
        x1 = np.linspace(-7, 15, 2)
        colors = {"squared": "k", "cross-entropy": "C2", "hinge": "C4"}
        for label, (before, after) in models.items():
            for model, style, suffix in ((before, ":", "without"), (after, "-", "with")):
                w, b = model.W[:, 0], model.b[0]
                ax.plot(x1, -(w[0] * x1 + b) / w[1], style, color=colors[label], lw=1.3,
                        label=f"{label}, {suffix} far points")
        ax.set_xlim(-7, 15)
        ax.set_ylim(-7, 7)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return Figure.from_matplotlib(
            fig, "squared_loss_classification",
            "Decision boundaries without (dotted) and with (solid) the far, correctly classified points: the"
            " least-squares boundary turns toward them, cross-entropy and hinge stay put.",
        )
