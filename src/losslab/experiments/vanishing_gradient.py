"""9. MSE on a sigmoid: the gradient vanishes exactly when the unit is confidently wrong."""

from __future__ import annotations

import numpy as np

import losslab as ll

from .. import _stable as S
from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import pyplot

START_LOGIT = -8.0  # the unit starts confidently wrong on a positive example
STEP_SIZE = 0.5
TARGET_PROBABILITY = 0.9  # "reaching the loss threshold": σ(z) ≥ 0.9 on the positive example
SPEEDUP = 10.0


def dloss_dlogit(name: str, z: np.ndarray) -> np.ndarray:
    """∂L/∂z for a positive example (y = 1), through losslab's own gradients."""
    y = np.ones_like(z)
    if name == "mse":
        p = S.sigmoid(np, z)
        return ll.MSE().gradient(y, p, reduction="none") * p * (1 - p)  # chain rule: σ'(z) = σ(1 − σ)
    return ll.get("binary_cross_entropy", from_logits=True).gradient(y, z, reduction="none")


def epochs_to_threshold(name: str, max_epochs: int) -> int | None:
    z = np.array([START_LOGIT])
    for epoch in range(1, max_epochs + 1):
        z = z - STEP_SIZE * dloss_dlogit(name, z)
        if S.sigmoid(np, z)[0] >= TARGET_PROBABILITY:
            return epoch
    return None


@register_experiment
class VanishingGradient(Experiment):
    name = "vanishing_gradient"
    kind = "check"
    title = "Vanishing gradient of MSE on a sigmoid"
    claim = (
        "For a sigmoid unit that starts confidently wrong, MSE's gradient 2(σ(z) − y)σ′(z) is nearly 0 while"
        " cross-entropy's is σ(z) − y, so cross-entropy gets out of the wrong region at least 10x sooner."
    )
    seed_rule = (
        f"starting at z = {START_LOGIT:g} with step {STEP_SIZE:g}, cross-entropy reaches σ(z) ≥ {TARGET_PROBABILITY}"
        f" in at least {SPEEDUP:g}x fewer epochs than MSE"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        max_epochs = 20000 if quick else 100000
        epochs = {name: epochs_to_threshold(name, max_epochs) for name in ("mse", "cross_entropy")}
        start = np.array([START_LOGIT])
        mse_epochs = epochs["mse"] if epochs["mse"] is not None else max_epochs
        ce_epochs = epochs["cross_entropy"]
        return Trial({
            "epochs_to_threshold": epochs,
            "gradient_at_start": {name: float(dloss_dlogit(name, start)[0]) for name in ("mse", "cross_entropy")},
            # a run that never got there counts as max_epochs: a lower bound on the speed-up
            "speedup": mse_epochs / ce_epochs if ce_epochs else 0.0,
        })

    def checks(self, numbers: dict) -> list[Check]:
        return [Check("MSE's epochs / cross-entropy's", numbers["speedup"], ">=", SPEEDUP)]

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        return [self._figure()], "", {}

    def _figure(self) -> Figure:
        plt = pyplot()
        z = np.linspace(-10, 10, 401)
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for name, label in (("mse", "MSE on σ(z)"), ("cross_entropy", "cross-entropy")):
            ax.semilogy(z, np.abs(dloss_dlogit(name, z)), label=label, lw=2)
        ax.axvline(START_LOGIT, color="gray", ls=":", lw=1.5, label=f"start z = {START_LOGIT:g}")
        ax.set_xlabel("logit z (the true label is 1)")
        ax.set_ylabel("|∂L/∂z| (log scale)")
        ax.legend()
        start = np.array([START_LOGIT])
        ratio = float(dloss_dlogit("cross_entropy", start)[0] / dloss_dlogit("mse", start)[0])
        caption = (f"Gradient magnitude against the logit for a positive example: at z = {START_LOGIT:g} MSE's is"
                   f" {ratio:.0f}x smaller than cross-entropy's.")
        return Figure.from_matplotlib(fig, "vanishing_gradient", caption)
