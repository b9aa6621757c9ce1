"""16. A combined objective: focal + λ·smooth_l1 on a toy detection task, and the trade-off λ sets.

A detector predicts, for each input, a class and a box. Toy version: six features; the
class (one of 3) is the largest of the first three features, the box (4 coordinates) a
linear function of the last three plus noise. One MLP whose single hidden layer of 4 units
is shared by both heads outputs 3 class logits and 4 box coordinates, and is trained on

    J = focal(class, logits) + λ · smooth_l1(box, predicted box)

(focal γ = 2 as Lin et al. 2017; smooth_l1 β = 1, Fast R-CNN's box loss) for several λ.
The shared layer is too small to serve both tasks fully, as a detector's backbone has
finite capacity, so λ decides which task gets it. ``fit`` trains single losses of
(y_true, y_pred); the sum of two losses on two heads is a five-line loop here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

import losslab as ll
from losslab.train import MLP, Adam

from ._base import Experiment, Figure, register_experiment
from ._fit import one_blas_thread, pyplot

N_CLASSES, N_BOX = 3, 4
HIDDEN = 4  # the shared layer: too narrow for both tasks at once
LAMBDAS_FULL = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
LAMBDAS_QUICK = (0.01, 0.1, 1.0, 10.0, 100.0)
MAX_RANK_CORRELATION = -0.8  # Spearman's ρ of λ with accuracy, and of λ with box error, must be at most this



def detection_data(n: int, box_weights: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Features (n, 6), class indices (n,) and boxes (n, 4)."""
    X = rng.standard_normal((n, 6))
    label = np.argmax(X[:, :N_CLASSES], axis=1)
    box = X[:, N_CLASSES:] @ box_weights + 0.1 * rng.standard_normal((n, N_BOX))
    return X, label, box


def train(X: np.ndarray, label: np.ndarray, box: np.ndarray, lam: float, seed: int, epochs: int) -> MLP:
    focal = ll.get("focal", gamma=2.0, from_logits=True)
    smooth_l1 = ll.get("smooth_l1", beta=1.0)
    model = MLP([X.shape[1], HIDDEN, N_CLASSES + N_BOX], seed=seed)
    optimizer = Adam(0.01)
    optimizer.init(model.parameters, model.penalized)
    for epoch in range(epochs):
        out = model.forward(X)
        g_class = focal.gradient(label, out[:, :N_CLASSES])
        g_box = smooth_l1.gradient(box, out[:, N_CLASSES:])
        model.backward(np.concatenate([g_class, lam * g_box], axis=1))  # ∂J/∂outputs, both heads
        optimizer.update(model.parameters, model.gradients, optimizer.lr(epoch, epochs))
    return model


@register_experiment
class CombinedObjective(Experiment):
    name = "combined_objective"
    title = "A combined objective: focal + λ·smooth_l1"
    claim = (
        "On a toy detection task (a class and a box from one shared network) trained with focal + λ·smooth_l1, the"
        " weight λ trades the two tasks: as λ grows the box error falls and the classification accuracy falls."
    )
    verdict_rule = (
        f"Supported iff, over the λ grid, Spearman's rank correlation of λ with the test box error and of λ with"
        f" the test accuracy are both at most {MAX_RANK_CORRELATION} (monotone-ish: both fall as λ grows)."
    )

    def compute(self, quick: bool, seed: int) -> tuple[bool, dict[str, Any], list[Figure], str]:
        lambdas, epochs = (LAMBDAS_QUICK, 200) if quick else (LAMBDAS_FULL, 300)
        rng = np.random.default_rng(seed)
        box_weights = rng.standard_normal((N_CLASSES, N_BOX))
        X, label, box = detection_data(600, box_weights, rng)
        X_test, label_test, box_test = detection_data(600, box_weights, rng)
        accuracy, box_error = [], []
        with one_blas_thread():
            for lam in lambdas:
                out = train(X, label, box, lam, seed, epochs).forward(X_test)
                accuracy.append(float(np.mean(out[:, :N_CLASSES].argmax(axis=1) == label_test)))
                box_error.append(float(np.mean(np.abs(out[:, N_CLASSES:] - box_test))))
        rho_accuracy = float(spearmanr(lambdas, accuracy)[0])
        rho_box = float(spearmanr(lambdas, box_error)[0])
        # NaN (a constant column) fails the comparison: no trade-off shown
        supported = rho_accuracy <= MAX_RANK_CORRELATION and rho_box <= MAX_RANK_CORRELATION
        numbers = {
            "lambdas": list(lambdas), "accuracy": accuracy, "box_mae": box_error,
            "spearman_lambda_accuracy": rho_accuracy, "spearman_lambda_box_mae": rho_box,
            "chance_accuracy": 1.0 / N_CLASSES, "box_mae_of_mean_box": float(np.mean(np.abs(box_test - box.mean(axis=0)))),
        }
        drops = -np.diff(accuracy)
        step = int(np.argmax(drops))
        notes = (
            f"From λ = {lambdas[0]:g} to {lambdas[-1]:g} the test accuracy went {accuracy[0]:.3f} → {accuracy[-1]:.3f}"
            f" (chance {1 / N_CLASSES:.3f}) and the box error (mean absolute, per coordinate) {box_error[0]:.3f} →"
            f" {box_error[-1]:.3f} (predicting the mean box: {numbers['box_mae_of_mean_box']:.3f}). The largest"
            f" single drop in accuracy, {drops[step]:.3f}, came between λ = {lambdas[step]:g} and {lambdas[step + 1]:g}"
            + (": the few shared units switch from one task to the other rather than share them."
               if drops[step] > 0.5 * (accuracy[0] - accuracy[-1]) else ": accuracy falls gradually over the grid.")
            + " Any point of the curve may be the right one for an application; detectors choose λ on validation data."
        )
        return supported, numbers, [_figure(lambdas, accuracy, box_error)], notes


def _figure(lambdas: tuple[float, ...], accuracy: list[float], box_error: list[float]) -> Figure:
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    left.plot(box_error, accuracy, "o-")
    for lam, x, y in zip(lambdas, box_error, accuracy):
        left.annotate(f"λ={lam:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    left.set_xlabel("box error (mean absolute, test)")
    left.set_ylabel("classification accuracy (test)")
    left.set_title("the trade-off curve", fontsize=9)
    right.plot(lambdas, accuracy, "o-")
    right.set_xscale("log")
    # plain tick labels: the default 10^k labels go through mathtext, which is slow to load
    right.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right.set_xlabel("λ (weight of smooth_l1)")
    right.set_ylabel("accuracy")
    twin = right.twinx()
    twin.plot(lambdas, box_error, "s--", color="tab:red")
    twin.set_ylabel("box error", color="tab:red")
    right.set_title("each task against λ", fontsize=9)
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, "combined_objective_tradeoff",
        "Focal + λ·smooth_l1 on a toy detection task with a shared layer of 4 units: each point one λ; a larger λ"
        " buys box accuracy with classification accuracy.",
    )
