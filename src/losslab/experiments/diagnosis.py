"""13. Diagnosis: the training and validation curves of five runs, and what ``diagnose`` calls them.

Five runs on TensorFlow Playground's circle (noise 0.3), each made to go one way:

- underfitting: a linear model, which cannot draw a circle;
- healthy: a small MLP (one hidden layer of 16) trained by plain gradient descent at rate 1;
- overfitting: a larger MLP (two layers of 64) on 30 very noisy points (Adam);
- learning rate too high: the healthy run at rate 30;
- learning rate too low: the healthy run at rate 0.0001.

``losslab.train.diagnose`` reads each History without being told which is which.
"""

from __future__ import annotations

from typing import Any

from .. import datasets
from ..train import GD, MLP, Adam, Linear, TrainingDiverged, diagnose, fit
from ._base import Experiment, Figure, register_experiment
from ._fit import one_blas_thread, pyplot

#: Runs that ``diagnose`` must name right for the claim to hold (all of them).
REQUIRED_CORRECT = 5

#: (run, what diagnose should say): the report's order, healthy in the middle.
EXPECTED = {
    "underfitting": "underfitting",
    "healthy": "healthy",
    "overfitting": "overfitting",
    "lr_too_high": "lr_too_high",
    "lr_too_low": "lr_too_low",
}



def _runs(seed: int) -> dict[str, tuple[Any, Any, Any]]:
    """(model, optimizer, training data) of each run."""
    train = datasets.circle(300, noise=0.3, seed=seed)
    few_noisy = datasets.circle(30, noise=1.5, seed=seed + 2)

    def small() -> MLP:
        return MLP([2, 16, 1], seed=seed)

    return {
        "underfitting": (Linear(2, 1, seed=seed), Adam(0.05), train),
        "healthy": (small(), GD(1.0), train),
        "overfitting": (MLP([2, 64, 64, 1], seed=seed), Adam(0.01), few_noisy),
        "lr_too_high": (small(), GD(30.0), train),
        "lr_too_low": (small(), GD(1e-4), train),
    }


@register_experiment
class Diagnosis(Experiment):
    name = "diagnosis"
    title = "Reading the loss curves: underfitting, overfitting, learning rates"
    claim = (
        "The training and validation curves of an underfitting, a healthy and an overfitting model, and of a"
        " learning rate too high and too low, each have a recognisable shape, and losslab.train.diagnose names"
        " every one of them correctly."
    )
    verdict_rule = f"Supported iff diagnose names at least {REQUIRED_CORRECT} of the {len(EXPECTED)} runs correctly."

    def compute(self, quick: bool, seed: int) -> tuple[bool, dict[str, Any], list[Figure], str]:
        epochs = 150 if quick else 200
        validation = datasets.circle(150 if quick else 300, noise=0.3, seed=seed + 1)
        histories, found = {}, {}
        with one_blas_thread():
            for run, (model, optimizer, train) in _runs(seed).items():
                try:
                    history = fit(model, "binary_cross_entropy", train.X, train.y, optimizer=optimizer,
                                  epochs=epochs, validation_data=(validation.X, validation.y), seed=seed,
                                  progress=False)
                except TrainingDiverged as exc:  # diagnose reads the epochs run before it
                    history = exc.history
                histories[run], found[run] = history, diagnose(history)
        correct = {run: found[run].kind == EXPECTED[run] for run in EXPECTED}
        numbers: dict[str, Any] = {"correct": int(sum(correct.values())), "runs": len(EXPECTED)}
        for run, history in histories.items():
            numbers[run] = {
                "diagnosis": found[run].kind,
                "epoch": found[run].epoch,
                "initial_loss": history.initial_loss,
                "final_train_loss": history.train_loss[-1],
                "final_val_loss": history.val_loss[-1] if history.val_loss else None,
                "min_val_loss": min(history.val_loss) if history.val_loss else None,
                "final_val_accuracy": history.metrics.get("val_accuracy", [None])[-1],
            }
        notes = " ".join(f"{run}: {found[run]}" for run in EXPECTED)
        figure = _figure(histories, found)
        return numbers["correct"] >= REQUIRED_CORRECT, numbers, [figure], notes


def _figure(histories: dict[str, Any], found: dict[str, Any]) -> Figure:
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(1, len(histories), figsize=(3.0 * len(histories), 2.8))
    for ax, (run, history) in zip(axes, histories.items()):
        ax.plot(history.train_loss, label="train")
        if history.val_loss:
            ax.plot(history.val_loss, label="validation")
        values = history.train_loss + history.val_loss
        if max(values) > 20 * min(values):  # curves spanning decades: a log axis
            ax.set_yscale("log")
            # plain tick labels: the default 10^k labels go through mathtext, which is slow to load
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{run}\ndiagnose: {found[run].kind}", fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("binary cross-entropy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, "diagnosis_curves",
        "Training and validation loss (log scale where it spans decades) of the five runs on the circle data set; each title names the run"
        " and what diagnose called it.",
    )
