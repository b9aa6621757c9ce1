"""losslab losses as ``torch.nn.Module`` objects, usable wherever a PyTorch loss is.

::

    import losslab.torch as llt
    criterion = llt.Loss("focal", gamma=2, from_logits=True)        # or llt.module("focal(gamma=2)")
    loss = criterion(targets, logits)                                  # losslab's order: (y_true, y_pred)
    loss.backward()

    criterion = llt.Loss("huber(delta=1.0)", argument_order="torch")   # PyTorch's order: (input, target)
    loss = criterion(outputs, targets)

- The loss is any spec, name, formula or Loss (:func:`losslab.spec.resolve_loss`); the
  value is computed by losslab on the tensors themselves, so autograd differentiates it
  and it runs on the tensors' device.
- ``reduction`` takes PyTorch's names: ``"mean"`` (losslab's mean: the weighted mean
  Σwᵢℓᵢ/Σwᵢ with ``sample_weight``), ``"sum"``, ``"none"`` and ``"batchmean"`` (the sum
  divided by the batch size, the first dimension of ``y_pred``; for ``kl_divergence``
  it equals losslab's mean, the KL of each row averaged, which is what PyTorch's
  ``KLDivLoss(reduction="batchmean")`` computes).
- ``forward(..., sample_weight=w)`` weights the samples as losslab does.
"""

from __future__ import annotations

from typing import Any

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(f"losslab.torch needs PyTorch: pip install 'losslab[torch]' ({exc})") from None

from . import _validate as V
from .loss import Loss as _Loss
from .spec import resolve_loss

__all__ = ["Loss", "module", "REDUCTIONS", "ARGUMENT_ORDERS"]

#: PyTorch's reduction names that the module takes.
REDUCTIONS = ("mean", "sum", "none", "batchmean")
#: "losslab": forward(y_true, y_pred); "torch": forward(input, target), PyTorch's order.
ARGUMENT_ORDERS = ("losslab", "torch")


class Loss(torch.nn.Module):
    """A losslab loss as a ``torch.nn.Module`` (see the module docstring).

    >>> import torch, losslab as ll
    >>> criterion = Loss("huber(delta=1.0)", argument_order="torch")
    >>> criterion(torch.tensor([0.0, 3.0]), torch.tensor([0.5, 0.0]))   # (input, target)
    tensor(1.3125)
    """

    def __init__(self, loss: str | _Loss, /, *, reduction: str = "mean", argument_order: str = "losslab",
                 **params: Any) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduction!r}."
                             f"{V.suggest(str(reduction), REDUCTIONS)}")
        if argument_order not in ARGUMENT_ORDERS:
            raise ValueError(f"argument_order must be 'losslab' (y_true, y_pred) or 'torch' (input, target);"
                             f" got {argument_order!r}")
        self.loss = resolve_loss(loss, **params)
        if argument_order == "torch" and tuple(self.loss.inputs) != ("y_true", "y_pred"):
            raise ValueError(f"argument_order='torch' swaps (y_true, y_pred); {self.loss.name} takes"
                             f" ({', '.join(self.loss.inputs)}): pass them in that order")
        self.reduction = reduction
        self.argument_order = argument_order

    def forward(self, *arrays: Any, sample_weight: Any = None, **options: Any) -> torch.Tensor:
        if self.argument_order == "torch":
            if len(arrays) != 2:
                raise TypeError(f"{self.loss.name} with argument_order='torch' takes (input, target); got"
                                f" {len(arrays)} arrays")
            arrays = (arrays[1], arrays[0])
        if self.reduction != "batchmean":
            return self.loss(*arrays, sample_weight=sample_weight, reduction=self.reduction, **options)
        total = self.loss(*arrays, sample_weight=sample_weight, reduction="sum", **options)
        pred = arrays[-1] if tuple(self.loss.inputs) == ("y_true", "y_pred") else arrays[0]
        batch = pred.shape[0] if getattr(pred, "ndim", 0) else 1
        return total / max(int(batch), 1)

    def extra_repr(self) -> str:
        return f"{self.loss!r}, reduction={self.reduction!r}, argument_order={self.argument_order!r}"


def module(loss: str | _Loss, /, **kwargs: Any) -> Loss:
    """``Loss(loss, **kwargs)``: a spec, name, formula or Loss as a ``torch.nn.Module``."""
    return Loss(loss, **kwargs)
