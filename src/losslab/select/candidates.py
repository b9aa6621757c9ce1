"""The candidates of a search: losses given by name, object or (name, params), expanded
over ``param_grid``, and checked against the task and the target.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterable, Sequence

import numpy as np

from .. import _validate as V
from ..loss import Loss, get
from .labels import RAW_FLAGS, _label

CLASSIFICATION = ("binary", "multiclass", "classification")


def _candidates(losses: Sequence[Any], param_grid: dict[str, dict[str, Sequence[Any]]] | None
                ) -> list[tuple[Loss, str]]:
    if isinstance(losses, (str, Loss)):
        losses = [losses]
    built: list[Loss] = []
    for item in losses:
        if isinstance(item, Loss):
            built.append(item)
        elif isinstance(item, str):
            built.append(get(item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], dict):
            built.append(get(item[0], **item[1]))
        else:
            raise TypeError(f"losses must hold catalog names, Loss objects or (name, params) pairs; got {item!r}")
    if not built:
        raise ValueError("losses is empty; give at least one loss, e.g. losses=['mse', 'mae', 'huber']")
    grid = {}
    for name, params in (param_grid or {}).items():
        canonical = get(name).name
        if not isinstance(params, dict):
            raise TypeError(f"param_grid[{name!r}] must map parameter names to lists of values; got {params!r}")
        known = {p.name for p in type(get(name)).parameters}
        for p, values in params.items():
            if p not in known:
                raise ValueError(f"param_grid[{name!r}] has unknown parameter {p!r}; {canonical} takes "
                                 f"{', '.join(sorted(known)) or 'no parameters'}.{V.suggest(p, known)}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(f"param_grid[{name!r}][{p!r}] must be a list of values; got {values!r}")
        grid[canonical] = params
        if canonical not in {b.name for b in built}:
            raise ValueError(f"param_grid names {name!r}, which is not in losses ({', '.join(b.name for b in built)})")
    out: list[tuple[Loss, str]] = []
    for loss in built:
        if loss.name in grid:
            names = list(grid[loss.name])
            for combo in itertools.product(*(list(grid[loss.name][p]) for p in names)):
                params = {k: v for k, v in loss.params.items() if k not in RAW_FLAGS}
                params.update(dict(zip(names, combo)))
                L = get(loss.name, **params)
                out.append((L, _label(L, show=names)))
        else:
            out.append((loss, _label(loss)))
    labels = [label for _, label in out]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"losses lists the same candidate more than once: {', '.join(dupes)}")
    return out


def _estimator_loss(loss: Loss) -> tuple[str, dict[str, Any]]:
    """(name, params) for the estimators: they add from_logits/log_input themselves when left out."""
    params = {k: v for k, v in loss.params.items() if k not in RAW_FLAGS}
    return loss.name, params


def _check_loss_for_task(loss: Loss, task: str, n_classes: int | None, y: np.ndarray) -> None:
    t = loss.traits.task
    if task == "regression":
        if t != "regression":
            raise ValueError(f"loss {_label(loss)!r} is a {t} loss, but y is a regression target (continuous"
                             " values); use a regression loss such as 'mse', 'mae', 'huber' or 'quantile'.")
        dom = loss.traits.y_true_domain
        lo, hi = float(np.min(y)), float(np.max(y))
        if not (dom.contains(lo) and dom.contains(hi)):
            raise ValueError(f"loss {_label(loss)!r} needs targets in {dom}; y spans [{lo:g}, {hi:g}]. Use a loss"
                             " for any real target such as 'mse', 'mae' or 'huber'.")
        return
    if t not in CLASSIFICATION:
        raise ValueError(f"loss {_label(loss)!r} is a {t} loss, but y holds {n_classes} class labels; use a"
                         " classification loss such as 'cross_entropy', 'binary_cross_entropy' or 'hinge'.")
    if t == "binary" and n_classes and n_classes > 2:
        raise ValueError(f"loss {_label(loss)!r} is a binary loss, but y has {n_classes} classes; use a multiclass"
                         " loss such as 'cross_entropy', 'focal' or 'multiclass_hinge'.")
    dom = loss.traits.y_pred_domain
    takes_scores = math.isinf(dom.low) and math.isinf(dom.high)
    if not takes_scores and not any(k in loss.params for k in RAW_FLAGS):
        raise ValueError(f"loss {_label(loss)!r} takes y_pred in {dom}, but the estimators train raw scores, so it"
                         " cannot be searched; 'binary_cross_entropy' or 'cross_entropy' (proper as well) can.")
    cw = loss.params.get("class_weight")
    if cw is not None and n_classes and len(np.atleast_1d(cw)) != n_classes:
        raise ValueError(f"loss {_label(loss)!r} has {len(np.atleast_1d(cw))} class weights, but y has {n_classes}"
                         " classes")
