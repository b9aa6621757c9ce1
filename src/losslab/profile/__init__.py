"""The profile card: what a loss *does*, measured numerically.

Libraries declare what a loss is; ``profile`` measures it, for any Loss (built-in or
custom), through its public interface only (per-sample values and the gradient):

- ``estimates``: the best constant prediction on skewed samples (log-normal and a
  contaminated Gaussian) compared with their mean, median and quantiles; for
  classification, the best prediction under Bernoulli(q) or categorical q: q itself
  (``proper``), only its sign / argmax (``classification_calibrated``), or neither;
- ``robust``: the gradient as an outlier moves away (``gradient_tail``: "bounded",
  "growing" or "redescending"), and the shift of the best constant as one outlier grows;
- ``convex`` / ``strictly_convex``: second differences on grids (along lines through
  the class simplex or the logit space for class-axis inputs); ``differentiable`` and
  ``twice_differentiable`` with the kinks found; ``lipschitz`` and ``bounded`` from the
  gradient and the value towards the ends of the prediction domain;
- classification: the gradient with respect to the score (the logit, for probability
  inputs: what a sigmoid/softmax model receives) when confidently wrong and right;
- ``efficiency``: for symmetric location losses, the asymptotic relative efficiency
  against the mean under N(0, 1): ARE = (E[Xψ(X)])² / E[ψ(X)²] with ψ = ∂ℓ/∂ŷ (by
  Stein's identity E[ψ′(X)] = E[Xψ(X)], so kinked ψ need no second derivative).

Definitions follow ``traits.py``. "For one target" properties (lipschitz, bounded,
convexity) are measured for a few fixed targets; ``robust`` moves the target (the
outlier) with the prediction fixed. Everything is deterministic (quantile grids and a
seeded generator) and takes a fraction of a second for an elementwise loss.

Modules: ``card`` (the Profile and its text forms), ``kinds`` (which profile a loss
gets), ``probes`` (the measuring instruments), ``regression``, ``binary``,
``multiclass`` (one per task), ``curves`` and ``figure`` (what is drawn).

>>> import losslab as ll
>>> p = ll.profile("huber", params={"delta": 1.345})
>>> p.estimates, p.robust, p.convex, p.strictly_convex, round(p.efficiency, 2)
('other', True, True, False, 0.95)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..custom.base import set_trait_measurer
from ..loss import Loss
from ..spec import resolve_loss
from ..traits import Traits
from .binary import _profile_binary
from .card import COMPARED, Profile
from .curves import loss_curve
from .kinds import _declared, _kind
from .multiclass import _profile_multiclass
from .probes import _Probe
from .regression import _profile_regression

__all__ = ["Profile", "profile", "loss_curve", "COMPARED"]


def profile(loss: Loss | str, *, params: dict[str, Any] | None = None, scale: float = 1.0, seed: int = 0) -> Profile:
    """Measure what ``loss`` does (see the module docstring).

    ``loss`` is a Loss, a registered name (built with ``params``) or a formula in r, m or
    p (``losslab.custom.from_expression``). ``scale`` is the residual scale of the grids
    (raise it for losses whose shape lives at large residuals); ``seed`` fixes the one
    random sample (the contamination of the Gaussian). Tasks other than regression,
    binary and multiclass classification give a Profile with ``kind="not measured"``
    and a note saying why.
    """
    if isinstance(loss, str):
        loss = resolve_loss(loss, **(params or {}))
    elif params:
        raise TypeError("params apply to a loss name; a built Loss already has its parameters")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss, a registered name or an expression; got {type(loss).__name__}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0; got {scale!r}")
    traits = _declared(loss)
    kind = _kind(loss, traits)
    card = Profile(name=loss.name, task=traits.task, kind=kind, params=loss.params)
    if kind == "not measured":
        card.notes.append(
            f"profile measures regression, binary and multiclass losses of (y_true, y_pred); {loss.name} is a"
            f" {traits.task!r} loss with inputs {loss.inputs}, whose behaviour depends on structure (sets of"
            " samples, pairs, masks) that a profile of one prediction cannot vary."
        )
        return card
    probe = _Probe(loss, traits, scale, np.random.default_rng(seed))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "regression":
            _profile_regression(probe, card)
        elif kind.startswith("binary"):
            _profile_binary(probe, card)
        else:
            try:
                probe.values(np.eye(3), np.full((3, 3), 1 / 3) if card.kind == "multiclass-probability"
                             else np.zeros((3, 3)) - (math.log(3) if card.kind == "multiclass-logprob" else 0.0))
            except ValueError as exc:
                card.kind = "not measured"
                card.notes.append(f"profile measures multiclass losses on 3 classes, which {loss!r} rejects: {exc}")
                return card
            _profile_multiclass(probe, card)
    return card


set_trait_measurer(profile)
