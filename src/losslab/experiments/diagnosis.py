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
from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
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
    seed_rule = f"diagnose names at least {REQUIRED_CORRECT} of the {len(EXPECTED)} runs correctly"

    def trial(self, quick: bool, seed: int) -> Trial:
        epochs = 120 if quick else 200
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
        numbers: dict[str, Any] = {"runs": len(EXPECTED)}
        for run, history in histories.items():
            numbers[run] = {
                "diagnosis": found[run].kind,
                "correct": found[run].kind == EXPECTED[run],
                "message": str(found[run]),
                "epoch": found[run].epoch,
                "initial_loss": history.initial_loss,
                "final_train_loss": history.train_loss[-1],
                "final_val_loss": history.val_loss[-1] if history.val_loss else None,
                "min_val_loss": min(history.val_loss) if history.val_loss else None,
            }
        numbers["correct"] = int(sum(numbers[run]["correct"] for run in EXPECTED))
        curves = {run: (list(h.train_loss), list(h.val_loss), found[run].kind) for run, h in histories.items()}
        return Trial(numbers, curves)

    def checks(self, numbers: dict[str, Any]) -> list[Check]:
        return [Check("runs diagnose names correctly", numbers["correct"], ">=", REQUIRED_CORRECT)]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        wrong = {run: [t.numbers[run]["diagnosis"] for t in trials if not t.numbers[run]["correct"]] for run in EXPECTED}
        misses = "; ".join(f"{run} called {', '.join(names)}" for run, names in wrong.items() if names)
        notes = ("diagnose reads each History without being told the run; its full message for every run and seed"
                 " is in results.json. " + (f"Misses over the seeds: {misses}." if misses else
                                            "It named every run right at every seed."))
        return [_figure(trials[0].plot)], notes, {"misdiagnosed": wrong}


#: a curve above CLIP times its starting loss is cut there (a diverged run reaches 1e90)
CLIP = 100.0


def _figure(curves: dict[str, tuple[list[float], list[float], str]]) -> Figure:
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(2, 3, figsize=(11, 6.6), layout="constrained")
    for ax, (run, (train, val, kind)) in zip(axes.flat, curves.items()):
        ax.plot(train, label="train", lw=1.8)
        if val:
            ax.plot(val, label="validation", lw=1.8)
        values = train + val
        top = max(values)
        if top > 20 * min(values):  # curves spanning decades: a log axis
            ax.set_yscale("log")
            # plain tick labels: the default 10^k labels go through mathtext, which is slow to load
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        if top > CLIP * train[0]:  # a diverging run: frame the start, say how far it went
            ax.set_ylim(0.5 * min(values), CLIP * train[0])
            ax.text(0.5, 0.9, f"off the chart: up to {top:.1e}", transform=ax.transAxes, ha="center", fontsize=10,
                    bbox={"facecolor": "white", "edgecolor": "0.7"})
        ax.set_title(f"{run.replace('_', ' ')} → diagnose: {kind.replace('_', ' ')}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("binary cross-entropy (nats)")
    axes.flat[0].legend()
    axes.flat[-1].axis("off")
    return Figure.from_matplotlib(
        fig, "diagnosis_curves",
        "Training and validation loss of the five runs of one seed on the circle data set (log scale where it spans"
        " decades); each title names the run and what diagnose called it.",
    )
