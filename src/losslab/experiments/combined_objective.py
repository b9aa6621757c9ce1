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

from typing import Any, Sequence

import numpy as np
from scipy.stats import spearmanr

import losslab as ll
from losslab.train import MLP, Adam

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
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


def curve_shape(lambdas: Sequence[float], accuracy: Sequence[float]) -> dict[str, Any]:
    """How accuracy falls along the λ grid: 'flat', 'gradual', or a 'cliff' (one step holds most of the fall).

    Returns the shape, the largest single drop and the λ pair around it, and the share of the total fall
    (first minus last) that it holds; a cliff is one step holding more than half of the fall, flat a
    total fall under 0.02.
    """
    accuracy = np.asarray(accuracy, dtype=float)
    drops = -np.diff(accuracy)
    step = int(np.argmax(drops))
    total = float(accuracy[0] - accuracy[-1])
    share = float(drops[step] / total) if total > 0 else 0.0
    shape = "flat" if total < 0.02 else ("cliff" if share > 0.5 else "gradual")
    # the largest λ up to which accuracy stays within 0.02 of its value at the smallest λ
    below = np.nonzero(accuracy < accuracy[0] - 0.02)[0]  # never index 0
    flat_until = float(lambdas[below[0] - 1]) if below.size else float(lambdas[-1])
    return {"shape": shape, "flat_until": flat_until, "largest_drop": float(drops[step]),
            "between": [float(lambdas[step]), float(lambdas[step + 1])],
            "share_of_total_fall": share, "total_fall": total}


@register_experiment
class CombinedObjective(Experiment):
    name = "combined_objective"
    title = "A combined objective: focal + λ·smooth_l1"
    claim = (
        "On a toy detection task (a class and a box from one shared network) trained with focal + λ·smooth_l1, the"
        " weight λ trades the two tasks: as λ grows the box error falls and the classification accuracy falls."
    )
    seed_rule = (
        f"over the λ grid, Spearman's rank correlation of λ with the test box error and of λ with the test accuracy"
        f" are both at most {MAX_RANK_CORRELATION} (both fall as λ grows)"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        lambdas, epochs = (LAMBDAS_QUICK, 150) if quick else (LAMBDAS_FULL, 300)
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
        numbers = {
            "lambdas": list(lambdas), "accuracy": accuracy, "box_mae": box_error,
            # NaN (a constant column) fails the rule's comparison: no trade-off shown
            "spearman_lambda_accuracy": float(spearmanr(lambdas, accuracy)[0]),
            "spearman_lambda_box_mae": float(spearmanr(lambdas, box_error)[0]),
            "chance_accuracy": 1.0 / N_CLASSES,
            "box_mae_of_mean_box": float(np.mean(np.abs(box_test - box.mean(axis=0)))),
            "accuracy_curve": curve_shape(lambdas, accuracy),
        }
        return Trial(numbers)

    def checks(self, numbers: dict[str, Any]) -> list[Check]:
        return [
            Check("Spearman ρ(λ, test accuracy)", numbers["spearman_lambda_accuracy"], "<=", MAX_RANK_CORRELATION),
            Check("Spearman ρ(λ, test box error)", numbers["spearman_lambda_box_mae"], "<=", MAX_RANK_CORRELATION),
        ]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        lambdas = trials[0].numbers["lambdas"]
        accuracy = np.mean([t.numbers["accuracy"] for t in trials], axis=0)
        box_error = np.mean([t.numbers["box_mae"] for t in trials], axis=0)
        shape = curve_shape(lambdas, accuracy)
        shapes = [t.numbers["accuracy_curve"]["shape"] for t in trials]
        described = {
            "cliff": (f"falls off a cliff: the step from λ = {shape['between'][0]:g} to {shape['between'][1]:g} holds"
                      f" {shape['share_of_total_fall']:.0%} of the fall ({shape['largest_drop']:.3f}); the few shared"
                      " units switch from one task to the other rather than share them"),
            "gradual": (f"falls gradually: no single step holds more than half of the fall (the largest,"
                        f" {shape['largest_drop']:.3f} between λ = {shape['between'][0]:g} and {shape['between'][1]:g},"
                        f" holds {shape['share_of_total_fall']:.0%})"),
            "flat": "hardly moves (less than 0.02 over the grid)",
        }[shape["shape"]]
        notes = (
            f"Mean over the seeds, from λ = {lambdas[0]:g} to {lambdas[-1]:g} the test accuracy went {accuracy[0]:.3f} →"
            f" {accuracy[-1]:.3f} (chance {1 / N_CLASSES:.3f}); it stays within 0.02 of its start up to λ ="
            f" {shape['flat_until']:g}, then {described}. Per seed the accuracy curve is "
            + ", ".join(f"{shapes.count(s)} {s}" for s in ("cliff", "gradual", "flat") if shapes.count(s))
            + f". The box error (mean absolute, per coordinate) went {box_error[0]:.3f} → {box_error[-1]:.3f}."
            " Any point of the curve may be the right one for an application; detectors choose λ on validation data."
        )
        return ([_figure(lambdas, list(accuracy), list(box_error))], notes,
                {"mean_accuracy": list(accuracy), "mean_box_mae": list(box_error), "mean_accuracy_curve": shape})


def _figure(lambdas: Sequence[float], accuracy: list[float], box_error: list[float]) -> Figure:
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    left.plot(box_error, accuracy, "o-", lw=1.8)
    for lam, x, y in zip(lambdas, box_error, accuracy):
        left.annotate(f"λ={lam:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=9)
    left.set_xlabel("box error (mean absolute per coordinate, test)")
    left.set_ylabel("classification accuracy (test, share)")
    left.set_title("the trade-off curve (mean over seeds)")
    right.plot(lambdas, accuracy, "o-", lw=1.8, label="accuracy")
    right.axhline(1.0 / N_CLASSES, color="C0", ls=":", lw=1.2, label="chance accuracy")
    right.set_xscale("log")
    # plain tick labels: the default 10^k labels go through mathtext, which is slow to load
    right.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right.set_xlabel("λ (weight of smooth_l1, log scale)")
    right.set_ylabel("accuracy (share)")
    twin = right.twinx()
    twin.plot(lambdas, box_error, "s--", color="tab:red", lw=1.8, label="box error")
    twin.set_ylabel("box error (mean absolute)", color="tab:red")
    right.set_title("each task against λ")
    right.legend(loc="lower left")
    return Figure.from_matplotlib(
        fig, "combined_objective_tradeoff",
        "Focal + λ·smooth_l1 on a toy detection task with a shared layer of 4 units, mean over the seeds: each point"
        " one λ.",
    )
