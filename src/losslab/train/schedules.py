"""Learning-rate schedules: the step size as a function of the epoch.

A schedule is called as ``schedule(epoch, total_epochs)`` (epochs count from 0) and
returns a number. Optimizers take a number (a constant rate) or a schedule as ``lr``.

>>> s = cosine(0.1)
>>> print([round(s(e, 5), 4) for e in range(5)])
[0.1, 0.0905, 0.0655, 0.0345, 0.0095]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Schedule", "Constant", "StepDecay", "Cosine", "constant", "step", "cosine", "as_schedule"]


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


class Schedule:
    """Base class: ``__call__(epoch, total_epochs) -> learning rate``."""

    lr: float

    def __call__(self, epoch: int, total_epochs: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Schedule):
    """The same rate every epoch."""

    lr: float

    def __post_init__(self) -> None:
        _positive("lr", self.lr)

    def __call__(self, epoch: int, total_epochs: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay(Schedule):
    """lr · gamma^⌊epoch / step_size⌋: divide the rate by 1/gamma every ``step_size`` epochs."""

    lr: float
    step_size: int = 30
    gamma: float = 0.1

    def __post_init__(self) -> None:
        _positive("lr", self.lr)
        if isinstance(self.step_size, bool) or not isinstance(self.step_size, int) or self.step_size < 1:
            raise ValueError(f"step_size must be an integer >= 1; got {self.step_size!r}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be a number in (0, 1]; got {self.gamma!r}")

    def __call__(self, epoch: int, total_epochs: int) -> float:
        return self.lr * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Half a cosine from lr down toward min_lr over ``epochs`` (default: the whole run).

    lr_e = min_lr + ½(lr − min_lr)(1 + cos(π·e/E)). Decaying to (almost) zero is what lets a
    stochastic or adaptive method settle on the optimum instead of circling it.
    """

    lr: float
    epochs: int | None = None
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        _positive("lr", self.lr)
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"epochs must be an integer >= 1 or None (the whole run); got {self.epochs!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must lie in [0, lr={self.lr}]; got {self.min_lr!r}")

    def __call__(self, epoch: int, total_epochs: int) -> float:
        span = max(1, self.epochs or total_epochs)
        t = min(epoch, span) / span
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * t))


def constant(lr: float) -> Constant:
    return Constant(lr)


def step(lr: float, step_size: int = 30, gamma: float = 0.1) -> StepDecay:
    return StepDecay(lr, step_size, gamma)


def cosine(lr: float, epochs: int | None = None, min_lr: float = 0.0) -> Cosine:
    return Cosine(lr, epochs, min_lr)


def as_schedule(lr: Any) -> Schedule:
    """A number becomes ``Constant(lr)``; a schedule is returned as is."""
    if isinstance(lr, Schedule):
        return lr
    if callable(lr):
        raise TypeError(f"lr must be a number or a losslab.train schedule (constant, step, cosine); got {lr!r}")
    return Constant(_positive("lr", lr))
