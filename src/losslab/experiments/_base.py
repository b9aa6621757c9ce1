"""What an experiment is: a claim, a seeded computation, numbers, a verdict, figures.

An experiment module defines one subclass of ``Experiment`` and registers it with
``@register_experiment``. Its ``run(quick, seed)`` returns a ``Result`` whose
``supported`` is computed from the numbers against the threshold that ``verdict_rule``
states in words (the same text goes into the report), never written in by hand.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._json import to_json

__all__ = ["Experiment", "Figure", "Result", "register_experiment", "EXPERIMENTS", "get_experiment"]


@dataclass
class Figure:
    """A rendered figure: a name (file stem), a caption and PNG bytes."""

    name: str
    caption: str
    png: bytes = field(repr=False)

    @classmethod
    def from_matplotlib(cls, fig: Any, name: str, caption: str, dpi: int = 110) -> "Figure":
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return cls(name, caption, buffer.getvalue())

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Result:
    name: str
    title: str
    claim: str
    verdict_rule: str
    supported: bool
    numbers: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    notes: str = ""
    seconds: float = 0.0
    quick: bool = False

    def to_dict(self, figure_paths: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "claim": self.claim,
            "verdict_rule": self.verdict_rule,
            "supported": bool(self.supported),
            "numbers": to_json(self.numbers),
            "figures": [
                {"name": f.name, "caption": f.caption, **({"path": figure_paths[f.name]} if figure_paths else {})}
                for f in self.figures
            ],
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "quick": self.quick,
        }


class Experiment:
    """Subclasses set ``name``, ``title``, ``claim``, ``verdict_rule`` and write ``compute``."""

    name: ClassVar[str]
    title: ClassVar[str]
    claim: ClassVar[str]
    verdict_rule: ClassVar[str]

    def compute(self, quick: bool, seed: int) -> tuple[bool, dict[str, Any], list[Figure], str]:
        """Return (supported, numbers, figures, notes)."""
        raise NotImplementedError

    def run(self, quick: bool = False, seed: int = 0) -> Result:
        start = time.perf_counter()
        supported, numbers, figures, notes = self.compute(quick, seed)
        return Result(
            self.name, self.title, self.claim, self.verdict_rule, bool(supported), numbers, figures, notes,
            time.perf_counter() - start, quick,
        )


EXPERIMENTS: dict[str, type[Experiment]] = {}


def register_experiment(cls: type[Experiment]) -> type[Experiment]:
    if cls.name in EXPERIMENTS:
        raise ValueError(f"experiment {cls.name!r} is already registered")
    EXPERIMENTS[cls.name] = cls
    return cls


def get_experiment(name: str) -> Experiment:
    from .._validate import suggest

    if name not in EXPERIMENTS:
        raise ValueError(
            f"unknown experiment {name!r}.{suggest(name, EXPERIMENTS)} `losslab experiments` lists them."
        )
    return EXPERIMENTS[name]()
