"""How a candidate loss is named in tables and advice: ``huber(delta=2)``, with the
parameters that differ from the defaults (the form ``search`` and the command line read back).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..loss import Loss

#: Set by the estimators, never part of a candidate's name.
RAW_FLAGS = ("from_logits", "log_input")


def _public_params(loss: Loss) -> dict[str, Any]:
    """The parameters that differ from the defaults, without the raw-score flags the estimators set."""
    defaults = {p.name: p.default for p in type(loss).parameters}
    out = {}
    for k, v in loss.params.items():
        if k in RAW_FLAGS:
            continue
        d = defaults.get(k)
        sequence = hasattr(v, "__len__") or hasattr(d, "__len__")
        same = np.array_equal(np.asarray(v), np.asarray(d)) if sequence else v == d
        if not same:
            out[k] = v.tolist() if hasattr(v, "tolist") else v
    return out


def _label(loss: Loss, show: Iterable[str] = ()) -> str:
    """``name(param=value, ...)`` with the parameters that differ from the defaults and those in ``show``."""
    params = _public_params(loss)
    for k in show:
        params.setdefault(k, loss.params[k])
    if not params:
        return loss.name
    return f"{loss.name}({', '.join(f'{k}={_fmt(v)}' for k, v in params.items())})"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return repr(v) if isinstance(v, str) else str(v)
