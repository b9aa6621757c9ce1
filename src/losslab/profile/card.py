"""The profile card: the measured verdicts of one loss, their evidence, and their comparison
with the declared ``Traits``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._json import to_json
from ..traits import Traits

COMPARED = (
    "convex", "strictly_convex", "differentiable", "twice_differentiable", "lipschitz", "bounded",
    "robust", "margin_based", "distance_based", "classification_calibrated", "proper", "estimates",
)


@dataclass
class Profile:
    """Measured behaviour of one loss; field names are those of ``Traits``.

    A field is ``None`` where it was not measured (not applicable to the loss's inputs).
    ``measurements`` keeps the numbers behind each verdict; ``curves`` the arrays the
    figure draws.
    """

    name: str
    task: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    estimates: str | None = None
    convex: bool | None = None
    strictly_convex: bool | None = None
    differentiable: bool | None = None
    twice_differentiable: bool | None = None
    lipschitz: bool | None = None
    bounded: bool | None = None
    robust: bool | None = None
    margin_based: bool | None = None
    distance_based: bool | None = None
    classification_calibrated: bool | None = None
    proper: bool | None = None
    gradient_tail: str | None = None
    kinks: tuple[float, ...] = ()
    efficiency: float | None = None
    vanishing_gradient_when_wrong: bool | None = None
    zero_gradient_beyond: float | None = None
    measurements: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    curves: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def measured(self) -> bool:
        return self.kind != "not measured"

    def to_dict(self) -> dict[str, Any]:
        """Every verdict and measurement as plain Python (JSON-ready); no curves."""
        out = {k: getattr(self, k) for k in (
            "name", "task", "kind", "params", "estimates", *Traits.PROPERTIES, "gradient_tail", "kinks",
            "efficiency", "vanishing_gradient_when_wrong", "zero_gradient_beyond",
        )}
        out["kinks"] = list(self.kinks)
        out["params"] = {k: to_json(v) for k, v in self.params.items()}
        out["measurements"] = to_json(self.measurements)
        out["notes"] = list(self.notes)
        return out

    def compare(self, traits: Traits) -> list[tuple[str, Any, Any]]:
        """``(field, declared, measured)`` for each measured field that disagrees with ``traits``."""
        out = []
        for name in COMPARED:
            measured, declared = getattr(self, name), getattr(traits, name)
            if measured is None or declared is None:
                continue
            if name == "estimates":
                if not _estimates_agree(declared, measured):
                    out.append((name, declared, measured))
            elif bool(declared) != bool(measured):
                out.append((name, declared, measured))
        return out

    def _rows(self) -> list[tuple[str, str, str]]:
        """(property, measured value, evidence) for every measured property, in the card's order."""
        m = self.measurements
        evidence = {
            "estimates": m.get("estimates_evidence", ""),
            "convex": m.get("convex_evidence", ""),
            "strictly_convex": m.get("strictly_convex_evidence", ""),
            "differentiable": f"kinks at {list(self.kinks)}" if self.kinks else "no kink found",
            "robust": m.get("robust_evidence", ""),
            "lipschitz": m.get("lipschitz_evidence", ""),
            "bounded": m.get("bounded_evidence", ""),
            "proper": m.get("proper_evidence", ""),
            "classification_calibrated": m.get("calibrated_evidence", ""),
        }
        rows = []
        for name in ("estimates", *Traits.PROPERTIES, "gradient_tail", "efficiency",
                     "vanishing_gradient_when_wrong", "zero_gradient_beyond"):
            value = getattr(self, name)
            if value is None:
                continue
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            rows.append((name, shown, str(evidence.get(name) or m.get(name + "_evidence", ""))))
        return rows

    def to_markdown(self) -> str:
        """The profile card as a Markdown table, with the evidence for each verdict."""
        args = ", ".join(f"{k}={to_json(v)!r}" for k, v in self.params.items())
        lines = [f"### Profile of `{self.name}({args})`", ""]
        if not self.measured:
            lines += [f"Not measured: {' '.join(self.notes)}", ""]
            return "\n".join(lines)
        lines += [f"Task: {self.task} ({self.kind} inputs).", "", "| property | measured | evidence |", "|---|---|---|"]
        for name, shown, note in self._rows():
            lines.append(f"| {name} | {shown} | {note.replace('|', chr(92) + '|')} |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        """The card as aligned text (what ``print(card)`` shows): one verdict per line, with its evidence."""
        args = ", ".join(f"{k}={to_json(v)!r}" for k, v in self.params.items())
        head = f"profile of {self.name}({args})"
        if not self.measured:
            return f"{head}: not measured. {' '.join(self.notes)}"
        lines = [f"{head}: {self.task} loss ({self.kind} inputs)"]
        rows = [(name, value, note) for name, value, note in self._rows()]
        width = max(len(name) for name, _, _ in rows)
        for name, value, note in rows:
            lines.append(f"  {name:<{width}}  {value:<8}  {note}".rstrip())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={to_json(v)!r}" for k, v in self.params.items())
        verdicts = ", ".join(f"{name}={value}" for name, value, _ in self._rows()[:6])
        return f"Profile({self.name}({args}), {self.kind}: {verdicts}, ...)" if self.measured else \
            f"Profile({self.name}({args}), not measured)"

    def figure(self, **kwargs: Any) -> Any:
        """A matplotlib figure: loss, gradient and influence curves (see ``losslab.plot``)."""
        from .figure import plot_profile

        return plot_profile(self, **kwargs)


def _estimates_agree(declared: str, measured: str) -> bool:
    declared, measured = declared.replace(" ", ""), measured.replace(" ", "")
    if declared == measured:
        return True
    if {declared, measured} == {"median", "quantile(0.5)"}:
        return True
    decisions = {"sign", "mode", "argmax", "class"}
    if declared in decisions and measured in decisions:
        return True
    # A declaration the measurement cannot name ("mode", "argmax", ...) only has to be "other".
    return declared not in ("mean", "median", "probability", *decisions) and not declared.startswith("quantile") \
        and measured == "other"
