"""15. Label noise: bounded losses keep more test accuracy than cross-entropy under 40% noise.

An MLP on scikit-learn's digits whose training labels are 40% wrong (each flipped label
replaced by another class, uniformly: symmetric noise), tested on clean labels. The
losses, all on softmax probabilities p:

- cross-entropy −log p_y: unbounded, so every wrong label pulls harder the better the
  model has learnt the true class, and the model ends up memorising the noise;
- MAE 1 − p_y (half of Σ|p − onehot|): bounded and symmetric, robust to symmetric noise
  (Ghosh et al. 2017), written here as generalized_cross_entropy with q = 1;
- generalized cross-entropy (1 − p_y^q)/q at q = 0.7 (Zhang & Sabuncu 2018): between them;
- symmetric cross-entropy α·CE + β·reverse CE (Wang et al. 2019, α = 0.1, β = 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import losslab as ll
from losslab.datasets import add_label_noise, load, train_test_split
from losslab.train import MLP, Adam, fit

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import one_blas_thread, pyplot

NOISE_RATE = 0.4
RATE_SWEEP = (0.0, 0.2, 0.4, 0.6)  # the full run's sweep over the noise rate (one seed)
MIN_GAIN = 0.02  # a robust loss must beat cross-entropy's clean test accuracy by 2 points
LOSSES = {
    "cross_entropy": ("cross_entropy", {}),
    "mae": ("generalized_cross_entropy", {"q": 1.0}),
    "generalized_cross_entropy": ("generalized_cross_entropy", {"q": 0.7}),
    "symmetric_cross_entropy": ("symmetric_cross_entropy", {"alpha": 0.1, "beta": 1.0}),
}
#: The loss the claim is about (MAE and symmetric cross-entropy are reported alongside).
CLAIMED = ("generalized_cross_entropy",)



def train_under_noise(quick: bool, seed: int, rate: float, losses: dict) -> tuple[dict[str, Any], dict]:
    """Each loss's MLP on digits with ``rate`` of the training labels flipped: clean test accuracy at the
    end, at its best epoch, and early-stopped on a noisy validation split; and the test accuracy curves."""
    epochs = 80 if quick else 150
    digits = load("digits")
    train, test = train_test_split(digits, 0.4, seed=seed)
    if quick:  # fewer training images: the same picture, in half the time
        train, _ = train_test_split(train, 0.45, seed=seed)
    noisy = add_label_noise(train, rate, n_classes=10, seed=seed) if rate > 0 else train
    # a validation split of the noisy training data: all that early stopping may look at
    fit_part, validation = train_test_split(noisy, 0.2, seed=seed + 1)
    X_fit, X_val, X_test = fit_part.X / 16.0, validation.X / 16.0, test.X / 16.0
    numbers: dict[str, Any] = {"noise_rate": rate, "epochs": epochs, "n_train": len(fit_part.y),
                               "n_validation": len(validation.y)}
    curves = {}
    with one_blas_thread():
        for label, (loss_name, params) in losses.items():
            model = MLP([64, 64, 10], seed=seed)
            loss = ll.get(loss_name, from_logits=True, **params)
            test_accuracy: list[float] = []
            val_accuracy: list[float] = []

            def record(epoch: int, logs: dict, model=model, test_accuracy=test_accuracy,
                       val_accuracy=val_accuracy) -> None:
                test_accuracy.append(float(np.mean(model.forward(X_test).argmax(axis=1) == test.y)))
                val_accuracy.append(float(np.mean(model.forward(X_val).argmax(axis=1) == validation.y)))

            fit(model, loss, X_fit, fit_part.y, optimizer=Adam(0.01), epochs=epochs, seed=seed,
                callbacks=[record], progress=False)
            best = int(np.argmax(val_accuracy))  # the epoch early stopping on the noisy validation split picks
            numbers[label] = {
                "final_test_accuracy": test_accuracy[-1],
                "best_test_accuracy": max(test_accuracy),
                "early_stopped_epoch": best + 1,
                "early_stopped_test_accuracy": test_accuracy[best],
            }
            curves[label] = test_accuracy
    return numbers, curves


@register_experiment
class LabelNoise(Experiment):
    name = "label_noise"
    title = "Label noise: bounded losses against cross-entropy, early-stopped or not"
    claim = (
        f"With {NOISE_RATE:.0%} symmetric label noise, generalized cross-entropy (q = 0.7) keeps more clean test"
        " accuracy than cross-entropy, which memorises the wrong labels, and than cross-entropy stopped early on a"
        " noisy validation split."
    )
    seed_rule = (
        f"generalized cross-entropy's final clean test accuracy is at least {MIN_GAIN:.2f} above cross-entropy's final"
        " one, and above that of cross-entropy early-stopped at its best epoch on a validation split with the same"
        " label noise"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        numbers, curves = train_under_noise(quick, seed, NOISE_RATE, LOSSES)
        return Trial(numbers, curves)

    def checks(self, numbers: dict[str, Any]) -> list[Check]:
        gce, ce = numbers["generalized_cross_entropy"], numbers["cross_entropy"]
        return [
            Check("GCE final − CE final test accuracy", gce["final_test_accuracy"] - ce["final_test_accuracy"], ">=",
                  MIN_GAIN),
            Check("GCE final − early-stopped CE test accuracy",
                  gce["final_test_accuracy"] - ce["early_stopped_test_accuracy"], ">", 0.0),
        ]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        mean = {label: {key: float(np.mean([t.numbers[label][key] for t in trials]))
                        for key in ("final_test_accuracy", "best_test_accuracy", "early_stopped_test_accuracy")}
                for label in LOSSES}
        epochs = trials[0].numbers["epochs"]
        notes = (
            f"Means over the seeds, clean test accuracy after {epochs} epochs: "
            + ", ".join(f"{label.replace('_', ' ')} {mean[label]['final_test_accuracy']:.3f}" for label in LOSSES)
            + f". Cross-entropy peaked at {mean['cross_entropy']['best_test_accuracy']:.3f} (its best epoch, chosen"
            " with the test set: an upper bound) and, early-stopped on the noisy validation split, reaches"
            f" {mean['cross_entropy']['early_stopped_test_accuracy']:.3f}: early stopping recovers"
            f" {_share(mean):.0%} of generalized cross-entropy's gain over cross-entropy trained to the end."
            " MAE (q = 1) and symmetric cross-entropy are"
            " reported alongside; MAE trains slowly with many classes (Zhang & Sabuncu 2018)."
        )
        figures = [_figure(trials[0].plot, {k: v["early_stopped_test_accuracy"] for k, v in trials[0].numbers.items()
                                            if isinstance(v, dict)})]
        numbers: dict[str, Any] = {"mean_over_seeds": mean}
        if not quick:  # the noise-rate sweep, one seed: cross-entropy (final and early-stopped) against GCE
            swept = {key: LOSSES[key] for key in ("cross_entropy", "generalized_cross_entropy")}
            sweep = {f"{rate:g}": train_under_noise(quick, trials[0].seed, rate, swept)[0] for rate in RATE_SWEEP}
            numbers["noise_rate_sweep"] = sweep
            figures.append(_sweep_figure(sweep))
        return figures, notes, numbers


def _figure(curves: dict[str, list[float]], early: dict[str, float]) -> Figure:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    for k, (label, accuracy) in enumerate(curves.items()):
        ax.plot(np.arange(1, len(accuracy) + 1), accuracy, color=f"C{k}", lw=1.8, label=label.replace("_", " "))
    ax.axhline(early["cross_entropy"], color="C0", ls=":", lw=1.5, label="cross-entropy, early-stopped")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (clean labels, share)")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return Figure.from_matplotlib(
        fig, "label_noise_accuracy",
        f"Clean test accuracy during training on digits with {NOISE_RATE:.0%} of the training labels flipped (one"
        " seed), per loss; the dotted line is cross-entropy stopped at its best epoch on the noisy validation split.",
    )


def _share(mean: dict[str, dict[str, float]]) -> float:
    """The share of GCE's gain over the final cross-entropy that early-stopped cross-entropy also reaches."""
    final = mean["cross_entropy"]["final_test_accuracy"]
    gap = mean["generalized_cross_entropy"]["final_test_accuracy"] - final
    return (mean["cross_entropy"]["early_stopped_test_accuracy"] - final) / gap if gap > 0 else float("nan")


def _sweep_figure(sweep: dict) -> Figure:
    plt = pyplot()
    rates = [100 * float(r) for r in sweep]
    fig, ax = plt.subplots(figsize=(8.5, 4.4))
    rows = [("cross_entropy", "final_test_accuracy", "cross-entropy, trained to the end", "C0", "-"),
            ("cross_entropy", "early_stopped_test_accuracy", "cross-entropy, early-stopped", "C0", ":"),
            ("generalized_cross_entropy", "final_test_accuracy", "generalized cross-entropy (q = 0.7)", "C2", "-")]
    for loss, key, label, color, style in rows:
        ax.plot(rates, [sweep[r][loss][key] for r in sweep], "o" + style, color=color, lw=2, label=label)
    ax.axvline(100 * NOISE_RATE, color="gray", ls="--", lw=1.2, label=f"{NOISE_RATE:.0%}: the rule's rate")
    ax.set_xlabel("training labels flipped (%)")
    ax.set_ylabel("clean test accuracy (share)")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower left", fontsize=9)
    return Figure.from_matplotlib(fig, "label_noise_rate_sweep", "Clean test accuracy against the share of flipped"
                                  " training labels (one seed): cross-entropy trained to the end, cross-entropy"
                                  " early-stopped on a noisy validation split, and generalized cross-entropy.")
