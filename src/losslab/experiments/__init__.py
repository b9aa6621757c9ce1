"""Measured experiments: each turns one claim about what a loss does into numbers.

One module per experiment, listed here in the report's order; importing a module
registers its experiment. ``run_all`` runs them (optionally in parallel processes) and
``losslab.report`` writes the HTML report and results.json.
"""

from __future__ import annotations

import importlib

from ._base import EXPERIMENTS, Experiment, Figure, Result, get_experiment, register_experiment

#: The experiments in the report's order (the numbering of the issue that asked for them).
ORDER = [
    "mean_vs_median",
    "outliers",
    "landscape",
    "own_metric_wins",
    "convergence",
    "huber_efficiency",
    "ce_vs_hinge",
    "squared_loss_classification",
    "vanishing_gradient",
    "imbalance",
    "embedding_geometry",
    "l1_vs_l2",
    "diagnosis",
    "calibration",
    "label_noise",
    "combined_objective",
]

for _module in ORDER:
    importlib.import_module(f"{__name__}.{_module}")


def names() -> list[str]:
    return [name for name in ORDER if name in EXPERIMENTS]


__all__ = ["Experiment", "Figure", "Result", "register_experiment", "get_experiment", "EXPERIMENTS", "ORDER", "names"]
