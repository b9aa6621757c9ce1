"""``History``: what happened during training, one entry per epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["History", "TrainingDiverged"]


@dataclass
class History:
    """Per-epoch numbers of one training run.

    - ``train_loss``: the objective (loss + λ·penalty) on the training data: the mean over
      the epoch's mini-batches, as Keras reports it (full batch: the value before the step);
    - ``val_loss``: the loss on ``validation_data`` after the epoch (empty without it);
    - ``metrics``: e.g. ``{"accuracy": [...], "val_accuracy": [...]}`` for classification;
    - ``grad_norm``: the norm of the loss gradient over all parameters (mean over batches);
    - ``lr``: the learning rate used in the epoch;
    - ``initial_loss``: the training loss before the first step (the reference the
      diagnosis compares with); ``best_epoch``: the epoch whose weights the model holds
      after early stopping; ``stopped_epoch``: the last epoch run; ``diverged``: whether
      the run ended in ``TrainingDiverged``.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    grad_norm: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    initial_loss: float = math.nan
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    diverged: bool = False
    loss: str = ""
    optimizer: str = ""

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def log(
        self, train_loss: float, grad_norm: float, lr: float, val_loss: float | None = None, **metrics: float
    ) -> None:
        self.train_loss.append(float(train_loss))
        self.grad_norm.append(float(grad_norm))
        self.lr.append(float(lr) if lr is not None else math.nan)
        if val_loss is not None:
            self.val_loss.append(float(val_loss))
        for name, value in metrics.items():
            self.metrics.setdefault(name, []).append(float(value))

    def last(self) -> dict[str, float]:
        """The latest epoch's numbers (what callbacks receive)."""
        out = {
            "epoch": self.epochs - 1, "train_loss": self.train_loss[-1], "grad_norm": self.grad_norm[-1],
            "lr": self.lr[-1],
        }
        if self.val_loss:
            out["val_loss"] = self.val_loss[-1]
        out.update({k: v[-1] for k, v in self.metrics.items() if v})
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (JSON-ready; non-finite numbers become None)."""

        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            return x

        return {
            "epochs": self.epochs,
            "train_loss": [clean(v) for v in self.train_loss],
            "val_loss": [clean(v) for v in self.val_loss],
            "metrics": {k: [clean(v) for v in vs] for k, vs in self.metrics.items()},
            "grad_norm": [clean(v) for v in self.grad_norm],
            "lr": [clean(v) for v in self.lr],
            "initial_loss": clean(self.initial_loss),
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "diverged": self.diverged,
            "loss": self.loss,
            "optimizer": self.optimizer,
        }

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(no epochs)"
        val = f", val_loss {self.val_loss[-1]:.4g}" if self.val_loss else ""
        return f"History({self.epochs} epochs, train_loss {self.train_loss[0]:.4g} → {self.train_loss[-1]:.4g}{val})"


class TrainingDiverged(RuntimeError):
    """Training diverged: a loss or a parameter became NaN or inf, or the loss exploded.

    Names the epoch where it was detected, ``last_sane_loss`` (the loss before the rise
    that ended in divergence, with its epoch ``last_sane_epoch``; -1 is the loss before the
    first step) and the learning rate. ``history`` holds the epochs run, the last one
    included, so ``diagnose`` can read it.
    """

    def __init__(
        self,
        epoch: int,
        last_sane_loss: float,
        lr: float | None,
        history: History,
        reason: str = "the loss became NaN or inf",
        last_sane_epoch: int | None = None,
    ) -> None:
        self.epoch, self.last_sane_loss, self.lr, self.history = epoch, last_sane_loss, lr, history
        self.reason, self.last_sane_epoch = reason, last_sane_epoch
        lr_text = f" (learning rate {lr:.3g})" if lr is not None and math.isfinite(lr) else ""
        last = f"{last_sane_loss:.6g}" if math.isfinite(last_sane_loss) else "none"
        if last_sane_epoch is not None and math.isfinite(last_sane_loss):
            last += " before the first step" if last_sane_epoch < 0 else f" at epoch {last_sane_epoch}"
        super().__init__(
            f"training diverged at epoch {epoch}: {reason}{lr_text}; the last sane loss was {last}. Lower the"
            " learning rate, scale the inputs, or use a loss with bounded gradients."
        )

    @property
    def last_finite_loss(self) -> float:
        """The name this number had before divergence meant more than NaN or inf."""
        return self.last_sane_loss
