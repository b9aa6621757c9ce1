"""Which profile a loss gets: its declared traits (or, for a user loss, its task only) and
the kind of its inputs (regression, binary or multiclass; scores or probabilities)."""

from __future__ import annotations

from ..loss import Loss
from ..traits import Traits


def _declared(loss: Loss) -> Traits:
    # Custom losses without declared traits would measure themselves: use the task only.
    declared = getattr(loss, "_declared_traits", None)
    if declared is not None or not hasattr(type(loss), "_custom_task"):
        return declared if declared is not None else loss.traits
    return Traits(task=type(loss)._custom_task, y_true_domain=loss._y_true_domain, y_pred_domain=loss._y_pred_domain)


#: Per-call keywords that are a distribution's spread (gaussian_nll's var, laplace_nll's and
#: student_t_nll's scale): a profile fixes them at 1 and measures the loss of the location.
UNIT_OPTIONS = ("var", "scale")


def unit_options(loss: Loss) -> dict[str, float]:
    """The per-call keywords a profile passes: each spread at 1."""
    return {k: 1.0 for k in loss.call_options if k in UNIT_OPTIONS}


def _kind(loss: Loss, traits: Traits) -> str:
    if (tuple(loss.inputs) != ("y_true", "y_pred") or not loss.separable
            or not set(loss.call_options) <= set(UNIT_OPTIONS)):
        return "not measured"
    dom = traits.y_pred_domain
    logits = bool(loss.params.get("from_logits", False))
    probs = dom.low >= 0 and dom.high <= 1 and not logits
    if traits.task == "regression":
        # One prediction per target; multi_quantile's (N, Q) columns are not one prediction.
        return "regression" if loss.event_ndim == 0 else "not measured"
    if traits.task == "binary" or (traits.task == "classification" and loss.event_ndim == 0):
        return "binary-probability" if probs else "binary-score"
    if traits.task in ("multiclass", "classification"):
        if probs:
            return "multiclass-probability"
        if dom.high <= 0 and not logits:
            return "multiclass-logprob"
        return "multiclass-score"
    return "not measured"
