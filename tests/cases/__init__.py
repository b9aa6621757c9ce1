"""Every loss in the catalog as test cases: an instance (non-default parameters included)
and its inputs. The generic tests in ``test_catalog.py`` run over all of them;
``test_every_registered_loss_has_a_case`` makes sure nothing is left out.

Each family adds its cases in its own module here and is listed in ``FAMILY_MODULES``.
Inputs come from ``domains.draw``, which reads the loss's declared domains and structure;
a case gives only what the declarations do not say (``domain=``: kinks, target form,
label convention). A hand-written factory (``make=``) is kept only for losses whose
inputs' structure no declaration describes (pairs, triplets, query ids, sequences,
transport, class maps), each with a comment saying why. A factory takes a NumPy
``Generator`` and a sample count and returns ``(arrays, options)``: float64 NumPy arrays
in the order of ``loss.inputs``, and the per-call keywords. Inputs are drawn away from
kinks, so that finite differences are valid there.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import losslab as ll
from domains import draw

FAMILY_MODULES = ["regression", "probabilistic", "binary", "multiclass", "multilabel", "segmentation"]
FAMILY_MODULES += ["ranking", "embedding", "metric", "sequence", "transport", "preference"]


@dataclass
class Case:
    id: str
    loss: ll.Loss
    #: A hand-written input factory; None (the rule) draws from the declared domains.
    make: Callable[[np.random.Generator, int], tuple[tuple, dict]] | None = None
    #: Tolerance of gradient checks (loosened only with a reason in the case module).
    rtol: float = 1e-6
    #: The loss's Hessian is not implemented (structured losses); skip Hessian checks.
    has_hessian: bool = True
    #: Backends the loss does not support, with the reason (e.g. a SciPy-only sort).
    skip_backends: dict[str, str] = field(default_factory=dict)
    #: Keywords of ``domains.draw`` for what the declarations do not say (kinks, target form).
    domain: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.generated = self.make is None
        if self.generated:
            self.make = functools.partial(draw, self.loss, **self.domain)
        elif self.domain:
            raise ValueError(f"case {self.id}: domain= is for generated inputs, not a hand-written factory")


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for module in FAMILY_MODULES:
        cases.extend(importlib.import_module(f"cases.{module}").CASES)
    return cases


def case_id(case: Case) -> str:
    return case.id


# ----------------------------------------------------------------- shared by hand-written factories
def softmax_rows(rng: np.random.Generator, n: int, n_classes: int, scale: float = 1.0) -> np.ndarray:
    z = rng.normal(0.0, scale, size=(n, n_classes))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
