"""14. Calibration: an overconfident cross-entropy MLP, label smoothing and temperature scaling.

Guo et al. (2017) found modern networks overconfident where they fit their training set
perfectly while their test accuracy stays well below it (CIFAR-100, ResNet-110: ECE 16.5%,
1.3% after temperature scaling); Müller et al. (2019) found label smoothing at α = 0.05 as
good (0.150 → 0.024). Clean digits are too easy for that regime: an MLP on 500 of them
reaches about 95% test accuracy with an ECE of 2-3% (the full run measures it, with label
smoothing too, which then makes the model underconfident). So the digits here carry Gaussian pixel noise
(std 0.4 on intensities scaled to [0, 1]), which brings test accuracy to about 70% (the
CIFAR-100 regime) while the MLP still fits its 500 training images exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

import losslab as ll
from losslab.datasets import load, train_test_split
from losslab.train import MLP, Adam, fit

from .. import _stable as S
from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import calibration_bins, one_blas_thread, pyplot

N_BINS = 15  # equal-width confidence bins, as Guo et al. (2017)
PIXEL_NOISE = 0.4  # std of the Gaussian noise on pixel intensities in [0, 1]
N_TRAIN = 500
SMOOTHING = 0.05  # Müller et al. (2019)'s CIFAR-100 value
MAX_ECE_RATIO = 0.5  # each remedy must at least halve the expected calibration error
MIN_OVERCONFIDENCE = 0.05  # the baseline's mean confidence must exceed its accuracy by this much
MAX_ACCURACY_LOSS = 0.02  # label smoothing may cost at most 2 accuracy points



def reliability(probabilities: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> dict[str, Any]:
    """ECE over the top-class confidence, the bins, accuracy and mean confidence."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    return {**calibration_bins(confidence, correct, n_bins), "accuracy": float(correct.mean()),
            "confidence": float(confidence.mean())}


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the validation cross-entropy of softmax(logits / T) (Guo et al.)."""
    result = minimize_scalar(
        lambda log_t: float(ll.cross_entropy(y, logits / np.exp(log_t), from_logits=True)),
        bounds=(-3.0, 3.0), method="bounded",
    )
    return float(np.exp(result.x))


def train(X: np.ndarray, y: np.ndarray, smoothing: float, seed: int, epochs: int) -> MLP:
    model = MLP([X.shape[1], 128, 10], seed=seed)
    loss = ll.get("cross_entropy", from_logits=True, label_smoothing=smoothing)
    fit(model, loss, X, y, optimizer=Adam(0.01), epochs=epochs, seed=seed, progress=False)
    return model


@register_experiment
class Calibration(Experiment):
    name = "calibration"
    title = "Calibration: label smoothing and temperature scaling"
    claim = (
        "A cross-entropy MLP that fits its (noisy) training digits exactly is overconfident on new ones; temperature"
        f" scaling and label smoothing (α = {SMOOTHING}) each lower its expected calibration error ({N_BINS} bins) at"
        f" least {1 / MAX_ECE_RATIO:g}x, label smoothing at a cost of at most {MAX_ACCURACY_LOSS * 100:g} accuracy"
        " points (temperature scaling changes no prediction)."
    )
    seed_rule = (
        f"the plain model's mean test confidence exceeds its test accuracy by at least {MIN_OVERCONFIDENCE}; label"
        f" smoothing and temperature scaling each bring the test ECE to at most {MAX_ECE_RATIO} times the plain"
        f" model's; and label smoothing's test accuracy is at most {MAX_ACCURACY_LOSS} below the plain model's"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        epochs = 100 if quick else 200
        digits = load("digits")
        rest, test = train_test_split(digits, 0.4, seed=seed)
        train_part, validation = train_test_split(rest, 0.3, seed=seed)
        rng = np.random.default_rng(seed)

        def noisy(X: np.ndarray) -> np.ndarray:
            return X / 16.0 + PIXEL_NOISE * rng.standard_normal(X.shape)

        X_train, y_train = noisy(train_part.X[:N_TRAIN]), train_part.y[:N_TRAIN]
        X_val, X_test = noisy(validation.X), noisy(test.X)
        with one_blas_thread():
            plain = train(X_train, y_train, 0.0, seed, epochs)
            smoothed = train(X_train, y_train, SMOOTHING, seed, epochs)
            temperature = fit_temperature(plain.forward(X_val), validation.y)
            logits = plain.forward(X_test)
            results = {
                "cross_entropy": reliability(S.softmax(np, logits), test.y),
                "label_smoothing": reliability(S.softmax(np, smoothed.forward(X_test)), test.y),
                "temperature_scaling": reliability(S.softmax(np, logits / temperature), test.y),
            }
            clean = {}
            if not quick:  # the same MLP on clean digits: the regime where it is not overconfident
                for smoothing in (0.0, SMOOTHING):
                    model = train(train_part.X[:N_TRAIN] / 16.0, y_train, smoothing, seed, epochs)
                    clean[f"{smoothing:g}"] = reliability(S.softmax(np, model.forward(test.X / 16.0)), test.y)
        numbers: dict[str, Any] = {
            k: {m: r[m] for m in ("ece", "accuracy", "confidence")} for k, r in results.items()
        }
        numbers["temperature"] = temperature
        if clean:
            numbers["clean_digits"] = {
                k: {m: r[m] for m in ("ece", "accuracy", "confidence")} for k, r in clean.items()
            }
        return Trial(numbers, (results, temperature))

    def checks(self, numbers: dict[str, Any]) -> list[Check]:
        base = numbers["cross_entropy"]
        return [
            Check("plain model: test confidence − accuracy", base["confidence"] - base["accuracy"], ">=",
                  MIN_OVERCONFIDENCE),
            Check("label smoothing: test ECE / plain's", numbers["label_smoothing"]["ece"] / base["ece"], "<=",
                  MAX_ECE_RATIO),
            Check("temperature scaling: test ECE / plain's", numbers["temperature_scaling"]["ece"] / base["ece"], "<=",
                  MAX_ECE_RATIO),
            Check("label smoothing: accuracy lost", base["accuracy"] - numbers["label_smoothing"]["accuracy"], "<=",
                  MAX_ACCURACY_LOSS),
        ]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        keys = ("cross_entropy", "label_smoothing", "temperature_scaling")
        mean = {k: {m: float(np.mean([t.numbers[k][m] for t in trials])) for m in ("ece", "accuracy", "confidence")}
                for k in keys}
        notes = (
            f"Means over the seeds, noisy test digits: plain cross-entropy accuracy {mean['cross_entropy']['accuracy']:.3f},"
            f" confidence {mean['cross_entropy']['confidence']:.3f}, ECE {mean['cross_entropy']['ece']:.3f} (Guo et al.'s"
            f" CIFAR-100 ResNet-110: 0.165); temperature scaling ECE {mean['temperature_scaling']['ece']:.3f} (Guo: 0.013);"
            f" label smoothing ECE {mean['label_smoothing']['ece']:.3f} (Müller et al.: 0.024) at accuracy"
            f" {mean['label_smoothing']['accuracy']:.3f}."
        )
        numbers: dict[str, Any] = {"mean_over_seeds": mean, "literature_ece_cifar100_resnet110": 0.1653,
                                   "literature_ece_temperature_scaling": 0.0126,
                                   "literature_ece_label_smoothing_0.05": 0.024}
        if "clean_digits" in trials[0].numbers:
            clean = {k: {m: float(np.mean([t.numbers["clean_digits"][k][m] for t in trials]))
                         for m in ("ece", "accuracy", "confidence")} for k in trials[0].numbers["clean_digits"]}
            numbers["clean_digits_mean_over_seeds"] = clean
            plain, smooth = clean["0"], clean[f"{SMOOTHING:g}"]
            notes += (
                f" On clean digits, where the plain model is barely overconfident (accuracy {plain['accuracy']:.3f},"
                f" confidence {plain['confidence']:.3f}, ECE {plain['ece']:.3f}), label smoothing"
                f" {'raises' if smooth['ece'] > plain['ece'] else 'lowers'} the ECE to {smooth['ece']:.3f}"
                f" ({smooth['ece'] / plain['ece']:.1f}x) at accuracy {smooth['accuracy']:.3f}"
                f" ({100 * (smooth['accuracy'] - plain['accuracy']):+.1f} points): the remedy fits the regime where"
                " confidence runs well above accuracy, not every model."
            )
        else:
            notes += " The full run adds the clean-digits regime, where label smoothing has no overconfidence to remove."
        return [_figure(*trials[0].plot)], notes, numbers


def _figure(results: dict[str, dict[str, Any]], temperature: float) -> Figure:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 4.2), sharey=True, layout="constrained")
    centers = (np.arange(N_BINS) + 0.5) / N_BINS
    titles = {"cross_entropy": "cross-entropy", "label_smoothing": f"label smoothing α={SMOOTHING}",
              "temperature_scaling": f"temperature scaling T={temperature:.2f}"}
    for ax, (key, r) in zip(axes, results.items()):
        shown = r["bin_count"] > 0
        ax.bar(centers[shown], r["bin_accuracy"][shown], width=1.0 / N_BINS, edgecolor="black", label="accuracy")
        ax.bar(centers[shown], (r["bin_confidence"] - r["bin_accuracy"])[shown], bottom=r["bin_accuracy"][shown],
               width=1.0 / N_BINS, color="tab:red", alpha=0.35, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_title(f"{titles[key]}\nECE {r['ece']:.3f}, accuracy {r['accuracy']:.3f}")
        ax.set_xlabel("confidence (top-class probability)")
    axes[0].set_ylabel("accuracy in the bin")
    axes[0].legend(loc="upper left")
    return Figure.from_matplotlib(
        fig, "calibration_reliability",
        f"Reliability diagrams of one seed on noisy test digits ({N_BINS} bins): bars are each bin's accuracy,"
        " red the gap to"
        " its mean confidence; a calibrated model follows the diagonal.",
    )
