"""Targets over a class axis: integer indices (N,) or distributions (N, C) (DESIGN §2)."""

from __future__ import annotations

from typing import Any

from array_api_compat import device

from .. import _validate as V
from .._array import index_dtype, is_tracing
from .._validate import traced_invalid
from ..traits import UNIT
from .links import check_rows_sum_to_one


def is_index_target(y_true: Any, y_pred: Any) -> bool:
    """Index targets have one dimension fewer than the predictions; distributions the same shape."""
    if y_true.ndim == y_pred.ndim - 1 and tuple(y_true.shape) == tuple(y_pred.shape[:1]) + tuple(y_pred.shape[2:]):
        return True
    if tuple(y_true.shape) == tuple(y_pred.shape):
        return False
    raise ValueError(
        f"y_true must be class indices of shape {(y_pred.shape[0],)} or a distribution (one-hot or"
        f" probabilities) of shape {tuple(y_pred.shape)}, matching y_pred; got shape {tuple(y_true.shape)}"
    )


def check_class_indices(xp: Any, y_true: Any, n_classes: int, ignore_index: Any = None) -> None:
    """Integer-valued labels in [0, n_classes) (``ignore_index`` entries excepted)."""
    if is_tracing(y_true):
        labels = xp.astype(y_true, xp.float32) if xp.isdtype(y_true.dtype, "integral") else y_true
        bad = (labels < 0) | (labels >= n_classes) | (labels != xp.round(labels)) | xp.isnan(labels)
        if ignore_index is not None:
            bad = bad & (y_true != ignore_index)
        traced_invalid(xp, bad, f"y_true class indices must be whole numbers in [0, {n_classes - 1}]")
        return
    if y_true.size == 0:
        return
    V.check_finite(xp, xp.astype(y_true, xp.float32) if xp.isdtype(y_true.dtype, "integral") else y_true, "y_true")
    labels = y_true if ignore_index is None else y_true[y_true != ignore_index]
    if labels.size == 0:
        return
    fractional = V.concrete(xp.any(labels != xp.round(labels))) if not xp.isdtype(labels.dtype, "integral") else 0
    if fractional is None:
        return
    if fractional:
        bad = labels[labels != xp.round(labels)]
        raise ValueError(f"y_true class indices must be whole numbers; got {float(bad[0]):g}")
    lo, hi = V.concrete(xp.min(labels)), V.concrete(xp.max(labels))
    if lo is None or hi is None:  # labels captured by jax.jit: abstract, nothing to check
        return
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"y_true class indices must lie in [0, {n_classes - 1}] for {n_classes} classes; got {bad:g}"
            + (f" (ignore_index={ignore_index!r} marks samples to skip)" if ignore_index is not None else "")
        )


def check_distribution(xp: Any, y_true: Any, name: str = "y_true") -> None:
    """Target rows in [0, 1] that sum to 1 (one-hot or soft labels)."""
    V.check_finite(xp, y_true, name)
    V.check_in(xp, y_true, name, UNIT, what="target probabilities")
    check_rows_sum_to_one(xp, y_true, name)


def one_hot(xp: Any, indices: Any, n_classes: int, dtype: Any) -> Any:
    """(N,) integer-valued indices → (N, C) one-hot rows in ``dtype`` (out-of-range rows are all 0)."""
    classes = xp.arange(n_classes, device=device(indices))
    return xp.astype(xp.astype(indices, index_dtype(xp))[:, None] == classes[None, :], dtype)
