"""``diagnose(history)``: read the loss curves the way the articles teach.

- diverged: the loss became NaN or inf;
- lr_too_high: the training loss oscillates (rises in many epochs, by a lot) or grows;
- overfitting: the training loss keeps falling while the validation loss, after its
  lowest epoch, rises (the epoch reported is the lowest one: where to stop); or, when
  early stopping ended the run before it could rise, the validation loss at its best is
  more than twice the training loss, by a gap above 10% of the starting loss;
- lr_too_low: the training loss falls steadily but slowly, not yet flattening (the second
  half of the run lowers it about as much as the first): more steps or a larger rate;
- converged: the loss is flat at its optimum for this model (the gradient norm fell to
  ~0, or the last epochs left it unchanged) while still high, and the residuals given to
  ``diagnose`` have heavy tails: the remaining loss is carried by a few large errors
  (outliers), which neither more epochs nor more capacity remove;
- underfitting: the loss flattened while still high (above half its starting value, or
  a classification accuracy below 75%) and the residuals do not explain it: the model
  cannot do better; give it capacity (the evidence says whether it has converged);
- healthy: none of these.

The thresholds are rules of thumb, and the evidence names the numbers they were applied
to, so the reader can judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .history import History

__all__ = ["Diagnosis", "diagnose", "KINDS"]

KINDS = ("healthy", "overfitting", "underfitting", "converged", "lr_too_high", "lr_too_low", "diverged")

#: Validation loss this far (relative) above its lowest value counts as rising.
OVERFIT_RISE = 0.05
#: A rise in this share of the epochs, by more than OSCILLATION_SIZE relative, is oscillation.
OSCILLATION_SHARE = 0.2
OSCILLATION_SIZE = 0.05
#: Validation loss above GAP_RATIO times the training loss, by more than GAP_SHARE of the
#: starting loss, is overfitting even when it has not (yet) risen.
GAP_RATIO = 2.0
GAP_SHARE = 0.1
#: Final loss above this share of the starting loss is "high".
HIGH_LOSS = 0.5
LOW_ACCURACY = 0.75
#: Converged: the last gradient norm below this share of the first, or the last
#: FLAT_EPOCHS epochs moved the loss by less than FLAT_CHANGE (relative).
CONVERGED_GRADIENT = 1e-3
FLAT_EPOCHS = 3
FLAT_CHANGE = 1e-6
#: Heavy-tailed residuals: at least OUTLIER_SHARE of them beyond OUTLIER_MADS robust
#: standard deviations (1.4826 MAD) from their median (a Gaussian puts 6e-7 there), and
#: those carry at least OUTLIER_WEIGHT of the sum of squared residuals.
OUTLIER_MADS = 5.0
OUTLIER_SHARE = 0.01
OUTLIER_WEIGHT = 0.25


@dataclass(frozen=True)
class Diagnosis:
    """What the curves show: ``kind`` (one of KINDS), the ``epoch`` it refers to (or None),
    the ``evidence`` in numbers and the ``advice``."""

    kind: str
    epoch: int | None
    evidence: str
    advice: str

    def __str__(self) -> str:
        at = f" (epoch {self.epoch})" if self.epoch is not None else ""
        return f"{self.kind}{at}: {self.evidence} Advice: {self.advice}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _converged(train: np.ndarray, grad_norm: np.ndarray, scale: float) -> str | None:
    """The evidence that the run sits at its optimum (gradient ~0, or flat), else None."""
    g = grad_norm[np.isfinite(grad_norm)]
    if g.size >= 2 and g[0] > 0 and g[-1] <= CONVERGED_GRADIENT * g[0]:
        return f"the gradient norm fell from {g[0]:.3g} to {g[-1]:.3g}"
    if train.size > FLAT_EPOCHS:
        change = float(np.max(np.abs(train[-FLAT_EPOCHS - 1:] - train[-1]))) / scale
        if change < FLAT_CHANGE:
            return f"the last {FLAT_EPOCHS} epochs changed the loss by {change:.1e} of its starting value"
    return None


def _heavy_tails(residuals: np.ndarray) -> str | None:
    """The evidence that a few large residuals carry the loss, else None."""
    r = residuals[np.isfinite(residuals)]
    if r.size < 20:
        return None
    dev = np.abs(r - np.median(r))
    sd = 1.4826 * float(np.median(dev))
    if sd <= 0:
        return None
    far = dev > OUTLIER_MADS * sd
    share = float(np.mean(far))
    squares = (r - np.mean(r)) ** 2
    weight = float(np.sum(squares[far]) / max(np.sum(squares), 1e-300))
    if share >= OUTLIER_SHARE and weight >= OUTLIER_WEIGHT:
        return (f"{int(far.sum())} of {r.size} residuals ({_pct(share)}) lie beyond {OUTLIER_MADS:g} robust standard"
                f" deviations ({sd:.4g}) and carry {_pct(weight)} of the squared error")
    return None


def diagnose(history: History, residuals: Any = None) -> Diagnosis:
    """Name what went right or wrong in a training run, with the numbers that show it.

    ``residuals`` (optional: y_pred − y_true on the training data, regression) let it tell
    a fit at its optimum whose remaining loss comes from outliers ("converged") from a
    model short of capacity ("underfitting").

    >>> h = History(train_loss=[1.0, 0.5, 0.3, 0.2, 0.15, 0.1], val_loss=[1.0, 0.6, 0.4, 0.45, 0.55, 0.7])
    >>> d = diagnose(h); d.kind, d.epoch
    ('overfitting', 2)
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a losslab.train.History; got {type(history).__name__}")
    train = np.asarray(history.train_loss, dtype=float)
    val = np.asarray(history.val_loss, dtype=float)
    if train.size == 0:
        raise ValueError("history has no epochs to diagnose")
    tails = None
    if residuals is not None:
        try:
            res = np.asarray(residuals, dtype=float).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"residuals must be an array of numbers (y_pred - y_true); got {type(residuals).__name__}"
                            ) from None
        tails = _heavy_tails(res)
    bad = np.flatnonzero(~np.isfinite(train))
    if history.diverged or bad.size:
        epoch = int(bad[0]) if bad.size else history.stopped_epoch
        finite = train[np.isfinite(train)]
        last = f"{finite[-1]:.4g}" if finite.size else "none"
        start = f"starting loss {history.initial_loss:.4g}"
        if bad.size:
            what = f"the training loss became NaN or inf at epoch {epoch} (last finite loss {last}, {start})."
        else:  # fit raised TrainingDiverged on a finite loss: it exploded, or a parameter became NaN/inf
            what = (
                f"fit stopped the run as diverged at epoch {epoch} (an exploded loss or a NaN/inf parameter);"
                f" its last loss was {last} ({start})."
            )
        return Diagnosis(
            "diverged", epoch, what,
            "Lower the learning rate (by 10x), scale the inputs, clip gradients, or use a loss with bounded"
            " gradients (huber, log_cosh) if outliers drive it.",
        )
    start = float(history.initial_loss) if math.isfinite(history.initial_loss) else float(train[0])
    scale = max(abs(start), 1e-12)
    n = train.size

    # oscillation or growth: a learning rate too high
    if n >= 3:
        rises = np.diff(train) / np.maximum(np.abs(train[:-1]), 1e-12)
        big = rises > OSCILLATION_SIZE
        share = float(np.mean(big))
        grew = train[-1] > 1.5 * start
        if share >= OSCILLATION_SHARE or grew:
            epoch = int(np.argmax(rises))
            return Diagnosis(
                "lr_too_high", epoch,
                f"the training loss rose by more than {_pct(OSCILLATION_SIZE)} in {int(big.sum())} of {n - 1} epochs"
                f" (largest rise {_pct(float(rises.max()))} at epoch {epoch + 1}); it went from {start:.4g} to"
                f" {train[-1]:.4g}.",
                "Lower the learning rate (by 3-10x) or use a schedule that decays it; with SGD add momentum"
                " only after the rate is stable.",
            )

    # validation rising after its lowest point while training keeps falling: overfitting
    if val.size >= 3 and np.all(np.isfinite(val)):
        best = int(np.argmin(val))
        v_best, v_last = float(val[best]), float(val[-1])
        rise = (v_last - v_best) / max(abs(v_best), 1e-12)
        t_at_best = float(train[min(best, n - 1)])
        if best < val.size - 1 and rise > OVERFIT_RISE and train[-1] < t_at_best:
            return Diagnosis(
                "overfitting", best,
                f"the validation loss was lowest at epoch {best} ({v_best:.4g}) and rose to {v_last:.4g}"
                f" (+{_pct(rise)}) by epoch {val.size - 1}, while the training loss kept falling from"
                f" {t_at_best:.4g} to {train[-1]:.4g}.",
                f"Stop at epoch {best} (early_stopping restores it), add a penalty (l2) or more data, or use a"
                " smaller model.",
            )

        # stopped (early) before validation could rise, yet far above the training loss:
        # the model memorised its training set
        gap = v_best - t_at_best
        if t_at_best >= 0 and v_best > GAP_RATIO * t_at_best and gap > GAP_SHARE * scale:
            return Diagnosis(
                "overfitting", best,
                f"at its best epoch {best} the validation loss {v_best:.4g} is {v_best / max(t_at_best, 1e-300):.3g}"
                f" times the training loss {t_at_best:.4g} (a gap of {_pct(gap / scale)} of the starting loss"
                f" {start:.4g}): the model fits its training data far better than new data.",
                "Add a penalty (l2) or more data, or use a smaller model; keep early stopping.",
            )

    # still falling at the same pace: a learning rate too low
    half = n // 2
    first = (start - float(train[half])) / scale
    second = (float(train[half]) - float(train[-1])) / scale
    monotone = n >= 4 and float(np.mean(np.diff(train) > 0)) < 0.1
    total = (start - float(train[-1])) / scale
    if monotone and second > 1e-6 and second >= 0.5 * first and total < 0.9:
        return Diagnosis(
            "lr_too_low", n - 1,
            f"the training loss still falls at a steady pace: {_pct(first)} of its starting value"
            f" {start:.4g} in the first half of the run and {_pct(second)} in the second, {_pct(total)} in all;"
            " it has not flattened.",
            "Raise the learning rate (by 3-10x), or train for more epochs.",
        )

    accuracy = history.metrics.get("accuracy")
    low_accuracy = bool(accuracy) and accuracy[-1] < LOW_ACCURACY
    high = float(train[-1]) > HIGH_LOSS * start or low_accuracy
    converged = _converged(train, np.asarray(history.grad_norm, dtype=float), scale)
    if high:
        acc_text = f", training accuracy {accuracy[-1]:.3f}" if accuracy else ""
        val_text = f", validation loss {val[-1]:.4g}" if val.size else ""
        flat = (f"the training loss flattened at {train[-1]:.4g}, {_pct(float(train[-1]) / scale)} of its starting"
                f" value {start:.4g} (last half of the run lowered it by {_pct(second)}){val_text}{acc_text}")
        if converged and tails:
            return Diagnosis(
                "converged", n - 1,
                f"{flat}; the fit is at its optimum ({converged}), and {tails}.",
                "More epochs or capacity will not lower it: the loss left is a few large errors. Check those rows"
                " for data errors, or use a robust loss (huber, mae) if they are genuine outliers.",
            )
        if converged:
            return Diagnosis(
                "underfitting", n - 1,
                f"{flat}; the fit has converged ({converged}): more epochs change nothing, and the residuals"
                + (" show no heavy tails." if residuals is not None else " were not given."),
                "Give the model more capacity (hidden units, features) or lower the penalty."
                + ("" if residuals is not None else " If a few large errors carry the loss (outliers), a robust loss"
                   " (huber, mae) helps instead: diagnose(history, residuals=y_pred - y_true) tells them apart."),
            )
        return Diagnosis(
            "underfitting", n - 1,
            f"{flat}.",
            "Give the model more capacity (hidden units, features), lower the penalty, or train longer with a"
            " larger learning rate if the loss is still creeping down.",
        )
    advice = "Nothing to fix; compare losses or models on held-out data."
    if tails:
        advice += f" Note: {tails}; a robust loss (huber, mae) is less pulled by them."
    return Diagnosis(
        "healthy", history.best_epoch,
        f"the training loss fell from {start:.4g} to {train[-1]:.4g} ({_pct(total)} lower) and flattened"
        + (f"; the validation loss ended at {val[-1]:.4g}, {_pct((val[-1] - val.min()) / max(abs(val.min()), 1e-12))}"
           " above its lowest" if val.size else "") + ".",
        advice,
    )
