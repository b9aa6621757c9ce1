"""7. Separable data: cross-entropy never stops pushing, hinge stops at the margin."""

from __future__ import annotations


import numpy as np

import losslab as ll
from losslab.datasets import gaussians

from .. import _stable as S
from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import calibration_bins, one_blas_thread, pyplot

LOSSES = {"cross-entropy": "binary_cross_entropy", "hinge": "hinge"}
NOISE = 1.0  # extra Gaussian noise on Playground's gauss blobs: about 2% of the points fall on the wrong side
MARGIN = 0.3  # training points closer than this to the true boundary x1 + x2 = 0 are dropped: separable data
MIN_GROWTH = 0.05  # the logistic weight norm must still grow by at least 5% over the second half of training
MAX_HINGE_CHANGE = 1e-3  # the hinge weight norm must change by less than 0.1% over the second half
MAX_HINGE_ACTIVE = 0.10  # at the end at most 10% of the samples may carry hinge gradient
N_BINS = 15  # expected calibration error with 15 equal-width bins, as Guo et al. (2017)
LEARNING_RATE = 0.5
MAX_SV_GAP = 0.05  # the smallest hinge margin must end within 0.05 of 1: support vectors at the margin



def expected_calibration_error(p_positive: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE over the confidence of the predicted class (p ≥ ½ predicts class 1)."""
    confidence = np.maximum(p_positive, 1.0 - p_positive)
    correct = (p_positive >= 0.5) == (y == 1)
    return calibration_bins(confidence, correct, n_bins)["ece"]


def probability(loss: str, scores: np.ndarray) -> np.ndarray:
    """σ(f) for cross-entropy; for hinge, whose scores are no probabilities, the simple map clip((f + 1)/2, 0, 1)."""
    if loss == "hinge":
        return np.clip((scores + 1.0) / 2.0, 0.0, 1.0)
    return S.sigmoid(np, scores)


@register_experiment
class CEvsHinge(Experiment):
    name = "ce_vs_hinge"
    title = "Cross-entropy vs hinge on separable data"
    claim = (
        "On separable data a logistic (cross-entropy) linear model keeps growing its weights and its confidence,"
        " every sample keeping a non-zero gradient, and grows overconfident on new data; a hinge model stops once"
        " every margin reaches 1, with a few support vectors at margin 1 the last to carry gradient."
    )
    seed_rule = (
        f"under full-batch gradient descent (step {LEARNING_RATE:g}, weights started near 0), every training sample keeps"
        f" a non-zero cross-entropy gradient at every epoch, the cross-entropy weight norm grows by at least"
        f" {MIN_GROWTH:.0%} over the second half of training, and its test overconfidence (mean confidence minus"
        f" accuracy) is positive at the end and larger than at the half; the hinge weight norm changes by less than"
        f" {MAX_HINGE_CHANGE:.1%} over the second half, at most {MAX_HINGE_ACTIVE:.0%} of the samples carry hinge"
        f" gradient at the end, and the smallest hinge margin ends within {MAX_SV_GAP:g} of 1"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        data = gaussians(n=200 if quick else 400, noise=NOISE, seed=seed)
        keep = (2 * data.y - 1) * (data.X[:, 0] + data.X[:, 1]) / np.sqrt(2) > MARGIN
        X, y = data.X[keep], data.y[keep]
        test = gaussians(n=2000 if quick else 5000, noise=NOISE, seed=seed + 500)
        epochs = 800 if quick else 3000
        curves: dict = {}
        with one_blas_thread():
            for label, loss_name in LOSSES.items():
                curves[label] = self._train(loss_name, X, y, test, epochs, seed)
        numbers: dict = {"n_train": int(keep.sum()), "n_removed_near_boundary": int((~keep).sum()), "epochs": epochs}
        half = epochs // 2
        for label, c in curves.items():
            norms = np.array(c["weight_norm"])
            margins = c["final_margins"]
            active = np.nonzero(np.array(c["fraction_nonzero_gradient"]) > 0)[0]
            numbers[label] = {
                "min_fraction_nonzero_gradient": float(np.min(c["fraction_nonzero_gradient"])),
                "final_fraction_nonzero_gradient": c["fraction_nonzero_gradient"][-1],
                "last_epoch_with_gradient": int(active[-1]) if active.size else -1,
                "weight_norm_at_half": float(norms[half]),
                "weight_norm_final": float(norms[-1]),
                "weight_norm_growth_second_half": float(norms[-1] / norms[half] - 1.0),
                "min_train_margin_final": float(margins.min()),
                "n_margin_within_5_percent_of_the_smallest": int(np.sum(margins <= 1.05 * margins.min())),
                "test_accuracy": c["test_accuracy"],
                "test_confidence": c["test_confidence"],
                "test_ece_15_bins": c["test_ece"],
                "test_overconfidence": c["test_overconfidence"],
            }
        return Trial(numbers, {label: {k: c[k] for k in ("weight_norm", "fraction_nonzero_gradient", "min_margin",
                                                         "test_overconfidence")}
                               for label, c in curves.items()})

    def checks(self, numbers: dict) -> list[Check]:
        ce, hinge = numbers["cross-entropy"], numbers["hinge"]
        half = str(numbers["epochs"] // 2)
        return [
            Check("CE: smallest share of samples with gradient ≠ 0, over training", ce["min_fraction_nonzero_gradient"],
                  ">=", 1.0),
            Check("CE: weight-norm growth over the second half", ce["weight_norm_growth_second_half"], ">=", MIN_GROWTH),
            Check("CE: test overconfidence (confidence − accuracy) at the end − at the half",
                  ce["test_overconfidence"][str(numbers["epochs"])] - ce["test_overconfidence"][half], ">", 0.0),
            Check("CE: test confidence − test accuracy at the end", ce["test_confidence"] - ce["test_accuracy"], ">", 0.0),
            Check("hinge: |weight-norm change| over the second half", abs(hinge["weight_norm_growth_second_half"]), "<",
                  MAX_HINGE_CHANGE),
            Check("hinge: share of samples with gradient ≠ 0 at the end", hinge["final_fraction_nonzero_gradient"], "<=",
                  MAX_HINGE_ACTIVE),
            Check("hinge: |smallest final margin − 1|", abs(hinge["min_train_margin_final"] - 1.0), "<=", MAX_SV_GAP),
        ]

    def _train(self, loss_name: str, X: np.ndarray, y: np.ndarray, test, epochs: int, seed: int) -> dict:
        """Full-batch gradient descent on a linear model f(x) = w·x + b, recording every epoch."""
        w = 0.01 * np.random.default_rng(seed).standard_normal(2)  # near 0: margins climb to 1, not jump past it
        b = 0.0
        loss = ll.get(loss_name, **({"from_logits": True} if loss_name == "binary_cross_entropy" else {}))
        curve: dict = {"weight_norm": [], "fraction_nonzero_gradient": [], "min_margin": [], "test_ece": {},
                       "test_overconfidence": {}}
        read_at = {int(e) for e in np.geomspace(1, epochs, 25).astype(int)} | {epochs // 2, epochs}
        for epoch in range(epochs + 1):  # index e holds the state after e steps
            scores = X @ w + b
            gradient = loss.gradient(y, scores, reduction="none")
            curve["weight_norm"].append(float(np.linalg.norm(w)))
            curve["fraction_nonzero_gradient"].append(float(np.mean(gradient != 0)))
            curve["min_margin"].append(float(np.min((2 * y - 1) * scores)))
            if epoch in read_at:
                test_scores = test.X @ w + b
                p = probability(loss_name, test_scores)
                curve["test_ece"][str(epoch)] = expected_calibration_error(p, test.y)
                curve["test_overconfidence"][str(epoch)] = float(
                    np.mean(np.maximum(p, 1 - p)) - np.mean((test_scores > 0) == (test.y == 1)))
            if epoch < epochs:
                g = gradient / len(y)  # the mean loss's gradient
                w, b = w - LEARNING_RATE * (X.T @ g), b - LEARNING_RATE * float(g.sum())
        test_scores = test.X @ w + b
        p = probability(loss_name, test_scores)
        curve["test_accuracy"] = float(np.mean((test_scores > 0) == (test.y == 1)))
        curve["test_confidence"] = float(np.mean(np.maximum(p, 1 - p)))
        curve["final_margins"] = (2 * y - 1) * (X @ w + b)
        return curve

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        notes = (
            f"Training data: two Gaussian blobs (TensorFlow Playground's gauss, noise {NOISE:g}) with the few points on"
            f" the wrong side of the true boundary or within {MARGIN} of it dropped, so that they are separable; the"
            " test set is not filtered (about 2% of its points lie on the wrong side). Both models start at weights"
            " 0.01 times their random draw: from there a step of 1 would jump every margin past 1 at once (the hinge"
            f" model would stop after one step with no support vector); at step {LEARNING_RATE:g} the margins climb"
            " and the last points to cross 1 are the support vectors. The hinge model's 'probability' is"
            " clip((f + 1)/2, 0, 1), an ad hoc map: hinge scores are not probabilities. ECE uses 15 equal-width bins"
            " of the predicted class's confidence (Guo et al. 2017)."
        )
        return [self._figure(trials)], notes, {}

    def _figure(self, trials: list[TrialResult]) -> Figure:
        plt = pyplot()
        fig, axes = plt.subplots(2, 2, figsize=(11, 7.4), layout="constrained")
        curves = trials[0].plot
        for key, ax, ylabel in (
            ("weight_norm", axes[0, 0], "weight norm ‖w‖"),
            ("fraction_nonzero_gradient", axes[0, 1], "share of samples with gradient ≠ 0"),
            ("min_margin", axes[1, 0], "smallest training margin y·f(x)"),
        ):
            for k, (label, c) in enumerate(curves.items()):
                ax.plot(np.arange(len(c[key])), c[key], label=label, color=f"C{k}", lw=1.8)
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlabel("epoch (log scale)")
            ax.set_ylabel(ylabel)
        axes[1, 0].axhline(1.0, color="gray", ls=":", lw=1.5, label="margin 1")
        axes[0, 0].legend()
        axes[1, 0].legend()
        ax = axes[1, 1]
        for k, (label, c) in enumerate(curves.items()):
            epochs = [int(e) for e in c["test_overconfidence"]]
            ax.plot(epochs, list(c["test_overconfidence"].values()), "o-", ms=4, color=f"C{k}", label=label)
        ax.axhline(0.0, color="gray", ls=":", lw=1.5, label="calibrated on average")
        ax.set_xscale("log")
        ax.set_xlabel("epoch (log scale)")
        ax.set_ylabel("test confidence − test accuracy")
        ax.legend()
        return Figure.from_matplotlib(
            fig, "ce_vs_hinge",
            "Full-batch gradient descent on separable data, one seed: weight norm, share of samples with a non-zero"
            " gradient, smallest training margin, and test confidence minus test accuracy, per loss, over the epochs.",
        )
