"""What an experiment is: a claim, a seeded trial repeated over seeds, checks, a verdict, figures.

An experiment module defines one subclass of ``Experiment`` and registers it with
``@register_experiment``. The subclass writes three things:

- ``trial(quick, seed)``: one seeded run, returning a ``Trial`` (its numbers, and data for
  the figures);
- ``checks(numbers)``: the per-seed rule as a list of ``Check`` (a value against a
  threshold), computed from a trial's numbers alone, so that a test can feed it numbers
  that must pass and numbers that must fail;
- ``summarize(trials, quick)``: the figures, the notes and numbers across the seeds.

``run(quick, seed)`` repeats the trial over ``n`` seeds drawn from the base seed (see
``seeds_for``); a seed passes when all its checks pass, and the claim is *supported* iff at
least ``min_share`` of the seeds pass (``seed_verdict``). ``min_share`` and the checks'
thresholds are class attributes, fixed in the code before anything runs; the verdict is
computed from them, never written by hand. Experiments whose computation involves no
randomness are ``kind = "check"``: they run once and are labelled as checks.
"""

from __future__ import annotations

import base64
import io
import math
import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from .._json import to_json

__all__ = [
    "Experiment", "Figure", "Result", "Trial", "TrialResult", "Check", "register_experiment", "EXPERIMENTS",
    "get_experiment", "seed_verdict", "margin_interval", "seeds_for", "DEFAULT_SEEDS", "MIN_SHARE",
]

#: Seeds per experiment unless the caller asks for another number.
DEFAULT_SEEDS = 5
#: The default verdict rule: a claim is supported iff at least this share of the seeds pass.
MIN_SHARE = 0.8
#: Seeds of one base seed are base·SEED_STRIDE + k: two base seeds share no draw (for n < SEED_STRIDE).
SEED_STRIDE = 1000

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}


@dataclass(frozen=True)
class Check:
    """One condition of a per-seed rule: ``value op threshold`` (op one of >=, >, <=, <).

    ``margin`` is the signed distance to the threshold, positive on the passing side, in the
    value's own units: how far a seed is from flipping its verdict.
    """

    label: str
    value: float
    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}; got {self.op!r}")

    @property
    def passed(self) -> bool:
        value = float(self.value)
        return not math.isnan(value) and _OPS[self.op](value, float(self.threshold))

    @property
    def margin(self) -> float:
        value = float(self.value)
        return value - self.threshold if self.op in (">=", ">") else self.threshold - value

    def describe(self) -> str:
        return f"{self.label} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Trial:
    """One seeded run: ``numbers`` (JSON-able, kept per seed in results.json) and ``plot`` (figure data)."""

    numbers: dict[str, Any]
    plot: Any = None


@dataclass
class TrialResult:
    seed: int
    numbers: dict[str, Any]
    checks: list[Check]
    plot: Any = field(default=None, repr=False)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def seed_verdict(passed: Sequence[bool], min_share: float) -> bool:
    """The verdict rule: supported iff at least ``min_share`` of the seeds passed (k/n ≥ min_share).

    ``k ≥ min_share·n`` is compared in integers (k·10⁶ ≥ round(min_share·10⁶)·n), so 4/5 meets 80%
    exactly, without a floating-point miss.
    """
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1]; got {min_share!r}")
    n, k = len(passed), sum(bool(p) for p in passed)
    return n > 0 and k * 10**6 >= round(min_share * 10**6) * n


def margin_interval(margins: Sequence[float], level: float = 0.95) -> tuple[float, float | None, float | None]:
    """Mean of the per-seed margins and its Student-t interval at ``level`` (None, None for one seed)."""
    import numpy as np
    from scipy.stats import t

    values = np.asarray(margins, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    half = float(t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def seeds_for(base: int, n: int) -> list[int]:
    """The n seeds of a base seed: base·1000, base·1000 + 1, …; different base seeds, different draws."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n < SEED_STRIDE:
        raise ValueError(f"the number of seeds must be an integer in [1, {SEED_STRIDE - 1}]; got {n!r}")
    if not isinstance(base, int) or isinstance(base, bool) or base < 0:
        raise ValueError(f"seed must be an integer >= 0; got {base!r}")
    return [base * SEED_STRIDE + k for k in range(n)]


@dataclass
class Figure:
    """A rendered figure: a name (file stem), a caption and PNG bytes."""

    name: str
    caption: str
    png: bytes = field(repr=False)

    @classmethod
    def from_matplotlib(cls, fig: Any, name: str, caption: str, dpi: int = 100) -> "Figure":
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
    kind: str
    verdict_rule: str
    min_share: float
    base_seed: int
    trials: list[TrialResult]
    numbers: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    notes: str = ""
    seconds: float = 0.0
    quick: bool = False
    #: rows of the page's short table: (label, value) pairs, already rounded as text
    table: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.trials)

    @property
    def k(self) -> int:
        return sum(t.passed for t in self.trials)

    @property
    def supported(self) -> bool:
        return seed_verdict([t.passed for t in self.trials], self.min_share)

    def check_summary(self) -> list[dict[str, Any]]:
        """Per check: its rule, how many seeds pass it, and the mean margin with its 95% interval."""
        rows = []
        for j, first in enumerate(self.trials[0].checks):
            checks = [t.checks[j] for t in self.trials]
            mean, lo, hi = margin_interval([c.margin for c in checks])
            rows.append({
                "check": first.label, "op": first.op, "threshold": first.threshold,
                "passed": sum(c.passed for c in checks), "n": len(checks),
                "mean_value": float(sum(float(c.value) for c in checks) / len(checks)),
                "margin_mean": mean, "margin_ci95": None if lo is None else [lo, hi],
            })
        return rows

    def to_dict(self, figure_paths: dict[str, str] | None = None) -> dict[str, Any]:
        return to_json({
            "name": self.name,
            "title": self.title,
            "claim": self.claim,
            "kind": self.kind,
            "verdict_rule": self.verdict_rule,
            "min_share": self.min_share,
            "base_seed": self.base_seed,
            "seeds": [t.seed for t in self.trials],
            "k": self.k,
            "n": self.n,
            "supported": bool(self.supported),
            "checks": self.check_summary(),
            "per_seed": [
                {"seed": t.seed, "passed": t.passed, "numbers": t.numbers,
                 "checks": [{"check": c.label, "value": c.value, "op": c.op, "threshold": c.threshold,
                             "margin": c.margin, "passed": c.passed} for c in t.checks]}
                for t in self.trials
            ],
            "numbers": self.numbers,
            "figures": [
                {"name": f.name, "caption": f.caption, **({"path": figure_paths[f.name]} if figure_paths else {})}
                for f in self.figures
            ],
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
            "quick": self.quick,
        })


class Experiment:
    """Subclasses set ``name``, ``title``, ``claim``, ``seed_rule`` and write ``trial``, ``checks``, ``summarize``."""

    name: ClassVar[str]
    title: ClassVar[str]
    claim: ClassVar[str]
    #: what one seed must show, in words (the checks say it in code)
    seed_rule: ClassVar[str]
    #: "experiment" (seeded, repeated) or "check" (deterministic: one run)
    kind: ClassVar[str] = "experiment"
    min_share: ClassVar[float] = MIN_SHARE

    def trial(self, quick: bool, seed: int) -> Trial:
        raise NotImplementedError

    def checks(self, numbers: dict[str, Any]) -> list[Check]:
        raise NotImplementedError

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict[str, Any]]:
        """(figures, notes, numbers across the seeds); the default has no figure."""
        return [], "", {}

    def table(self, trials: list[TrialResult]) -> list[tuple[str, str]]:
        """The page's short table: the numbers the verdict uses, rounded (default: each check's value per seed)."""
        if len(trials) == 1:
            return []  # the checks table already shows the one value
        rows = []
        for j, first in enumerate(trials[0].checks):
            values = [float(t.checks[j].value) for t in trials]
            rows.append((f"{first.label}, per seed", ", ".join(f"{v:.3g}" for v in values)))
        return rows

    def default_seeds(self, n: int | None) -> int:
        return 1 if self.kind == "check" else (DEFAULT_SEEDS if n is None else n)

    def verdict_rule(self, n: int) -> str:
        if self.kind == "check":
            return f"A deterministic check (no randomness, run once): it passes iff {self.seed_rule}."
        return (f"Per seed: {self.seed_rule}. Supported iff at least {self.min_share:.0%} of the {n} seeds pass"
                f" (k/n ≥ {self.min_share:g}).")

    def run_trial(self, quick: bool, seed: int) -> TrialResult:
        start = time.perf_counter()
        trial = self.trial(quick, seed)
        checks = self.checks(trial.numbers)
        return TrialResult(seed, trial.numbers, checks, trial.plot, time.perf_counter() - start)

    def finish(self, trials: list[TrialResult], quick: bool, base_seed: int) -> Result:
        """The Result of the trials: verdict, figures, notes (the part run once, after every seed)."""
        start = time.perf_counter()
        figures, notes, numbers = self.summarize(trials, quick)
        return Result(
            self.name, self.title, self.claim, self.kind, self.verdict_rule(len(trials)), self.min_share,
            base_seed, trials, numbers, figures, notes,
            sum(t.seconds for t in trials) + time.perf_counter() - start, quick, self.table(trials),
        )

    def run(self, quick: bool = False, seed: int = 0, n_seeds: int | None = None,
            on_trial: Callable[[str, TrialResult], None] | None = None) -> Result:
        trials = []
        for s in seeds_for(seed, self.default_seeds(n_seeds)):
            trials.append(self.run_trial(quick, s))
            if on_trial:
                on_trial(self.name, trials[-1])
        return self.finish(trials, quick, seed)


EXPERIMENTS: dict[str, type[Experiment]] = {}


def register_experiment(cls: type[Experiment]) -> type[Experiment]:
    if cls.name in EXPERIMENTS:
        raise ValueError(f"experiment {cls.name!r} is already registered")
    if cls.kind not in ("experiment", "check"):
        raise ValueError(f"{cls.name}: kind must be 'experiment' or 'check'; got {cls.kind!r}")
    EXPERIMENTS[cls.name] = cls
    return cls


def get_experiment(name: str) -> Experiment:
    from .._validate import suggest

    if name not in EXPERIMENTS:
        raise ValueError(
            f"unknown experiment {name!r}.{suggest(name, EXPERIMENTS)} `losslab experiments` lists them."
        )
    return EXPERIMENTS[name]()
