"""Every loss in the catalog as test cases: an instance (non-default parameters included)
and a factory of valid inputs. The generic tests in ``test_catalog.py`` run over all of
them; ``test_every_registered_loss_has_a_case`` makes sure nothing is left out.

Each family adds its cases in its own module here and is listed in ``FAMILY_MODULES``.
A factory takes a NumPy ``Generator`` and a sample count and returns
``(arrays, options)``: float64 NumPy arrays in the order of ``loss.inputs``, and the
per-call keywords (``var=`` for gaussian_nll). Inputs are drawn away from kinks, so that
finite differences are valid there.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import losslab as ll

FAMILY_MODULES = ["regression", "probabilistic", "binary", "multiclass", "segmentation"]
FAMILY_MODULES += ["ranking", "embedding", "sequence", "transport"]


@dataclass
class Case:
    id: str
    loss: ll.Loss
    make: Callable[[np.random.Generator, int], tuple[tuple, dict]]
    #: Tolerance of gradient checks (loosened only with a reason in the case module).
    rtol: float = 1e-6
    #: The loss's Hessian is not implemented (structured losses); skip Hessian checks.
    has_hessian: bool = True
    #: Backends the loss does not support, with the reason (e.g. a SciPy-only sort).
    skip_backends: dict[str, str] = field(default_factory=dict)


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for module in FAMILY_MODULES:
        cases.extend(importlib.import_module(f"cases.{module}").CASES)
    return cases


def case_id(case: Case) -> str:
    return case.id


# ----------------------------------------------------------------- shared input factories
def real_pairs(rng: np.random.Generator, n: int, shape: tuple = ()) -> tuple[tuple, dict]:
    y_true = rng.normal(0.0, 3.0, size=(n,) + shape)
    y_pred = y_true + rng.normal(0.0, 2.0, size=(n,) + shape)
    return (y_true, y_pred), {}


def positive_pairs(rng: np.random.Generator, n: int) -> tuple[tuple, dict]:
    return (rng.lognormal(0.0, 0.7, size=n), rng.lognormal(0.0, 0.7, size=n)), {}


def softmax_rows(rng: np.random.Generator, n: int, n_classes: int, scale: float = 1.0) -> np.ndarray:
    z = rng.normal(0.0, scale, size=(n, n_classes))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def away_from(values: np.ndarray, kinks: list[float], gap: float = 1e-2) -> np.ndarray:
    """Move entries that lie within ``gap`` of a kink out to ``gap`` away from it."""
    out = values.copy()
    for k in kinks:
        close = np.abs(out - k) < gap
        out[close] = k + np.where(out[close] >= k, gap, -gap)
    return out
