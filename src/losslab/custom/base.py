"""What function losses and formula losses share: the task and name rules, and traits
that are declared by the user or else measured.

Measuring traits is ``losslab.profile``'s job, and ``losslab.profile`` sits above this
package (it builds formula losses from text), so this package cannot import it: the
profile package hands its measuring function to ``set_trait_measurer`` when it is
imported, which ``import losslab`` always does.
"""

from __future__ import annotations

from typing import Any, Callable

from ..traits import Traits

TASKS = ("regression", "binary", "multiclass")
#: The longest name a user loss may have (registry names are typed at the command line).
MAX_NAME = 100

_measurer: list[Callable[[Any], Any]] = []


def set_trait_measurer(measure: Callable[[Any], Any]) -> None:
    """Install the function that measures a loss's traits (``losslab.profile.profile``)."""
    _measurer[:] = [measure]


class MeasuredTraits:
    """Traits declared by the user, or else measured once by ``losslab.profile``."""

    _custom_task: str = "regression"
    _declared_traits: Traits | None = None

    def _traits(self) -> Traits:
        if self._declared_traits is not None:
            return self._declared_traits
        cached = self.__dict__.get("_measured_traits")
        if cached is None:
            if not _measurer:
                raise RuntimeError("traits of a user loss are measured by losslab.profile; import losslab first")
            card = _measurer[0](self)
            values = {k: getattr(card, k) for k in Traits.PROPERTIES}
            for k in Traits.PROPERTIES:
                if values[k] is None and k not in ("classification_calibrated", "proper"):
                    values[k] = False
            cached = Traits(task=self._custom_task, y_true_domain=self._y_true_domain,  # type: ignore[attr-defined]
                            y_pred_domain=self._y_pred_domain, estimates=card.estimates or "other",  # type: ignore[attr-defined]
                            notes=("measured by losslab.profile",), **values)
            self.__dict__["_measured_traits"] = cached
        return cached


def check_task(task: Any, allowed: tuple[str, ...]) -> str:
    if task not in allowed:
        raise ValueError(f"task must be one of {', '.join(map(repr, allowed))}; got {task!r}")
    return task


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise ValueError(f"name must be a non-empty string of at most {MAX_NAME} characters; got {name!r}")
    return name.strip()
