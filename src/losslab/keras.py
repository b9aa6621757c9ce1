"""losslab losses for Keras 3: ``model.compile(loss=losslab.keras.get("huber", delta=1.0))``.

::

    import os; os.environ["KERAS_BACKEND"] = "torch"     # or "jax"; before importing keras
    import keras, losslab.keras
    model.compile(optimizer="adam", loss=losslab.keras.get("huber(delta=1.0)"))

``get`` returns an instance of :class:`Loss`, a ``keras.losses.Loss`` subclass: its
``call(y_true, y_pred)`` gives losslab's per-sample values (``reduction="none"``) and Keras
weighs and reduces them as it does for its own losses. The default reduction is Keras's
``"sum_over_batch_size"``: Σwᵢℓᵢ / N, N the number of values, not the weighted mean
Σwᵢℓᵢ / Σwᵢ that losslab's own ``reduction="mean"`` computes (they agree without weights);
Keras's other reductions (``"sum"``, ``"mean_with_sample_weight"``, ``"none"``, ...) pass
through. Keras's backends torch and jax are supported (losslab computes on their tensors).
"""

from __future__ import annotations

from typing import Any

try:
    import keras
except ImportError as exc:  # pragma: no cover - exercised only without keras
    raise ImportError(f"losslab.keras needs Keras 3: pip install keras ({exc})") from None

from .loss import Loss as _Loss
from .spec import format_spec, resolve_loss

__all__ = ["Loss", "get"]

_BACKENDS = ("torch", "jax")


class Loss(keras.losses.Loss):
    """A losslab loss as a Keras loss (see the module docstring)."""

    def __init__(self, loss: str | _Loss = "mse", reduction: str = "sum_over_batch_size", name: str | None = None,
                 dtype: Any = None, **params: Any) -> None:
        backend = keras.backend.backend()
        if backend not in _BACKENDS:
            raise ValueError(f"losslab.keras runs on the Keras backends {' and '.join(_BACKENDS)}; KERAS_BACKEND is"
                             f" {backend!r}. Set KERAS_BACKEND=torch (or jax) before importing keras.")
        self.losslab_loss = resolve_loss(loss, **params)
        if tuple(self.losslab_loss.inputs) != ("y_true", "y_pred"):
            raise ValueError(f"Keras losses take (y_true, y_pred); {self.losslab_loss.name} takes"
                             f" ({', '.join(self.losslab_loss.inputs)})")
        super().__init__(name=name or self.losslab_loss.name, reduction=reduction, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.losslab_loss(y_true, y_pred, reduction="none")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["loss"] = format_spec(self.losslab_loss)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Loss":
        return cls(**config)


def get(loss: str | _Loss, /, *, reduction: str = "sum_over_batch_size", name: str | None = None,
        **params: Any) -> Loss:
    """The Keras loss for a losslab spec, name, formula or Loss, with ``params``.

    >>> L = get("huber", delta=2.0)
    >>> L.name, L.reduction, L.get_config()["loss"]
    ('huber', 'sum_over_batch_size', 'huber(delta=2.0)')
    """
    return Loss(loss, reduction=reduction, name=name, **params)
