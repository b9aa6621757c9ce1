"""A measured search: ``search`` trains each candidate loss with ``losslab.sklearn``'s
estimators on the same seeded folds (KFold, or StratifiedKFold for classes), scores the
held-out fold, and reports the mean, a 95% confidence interval (mean ± t·sd/√k over the
k folds), the best loss and the runner-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .. import _validate as V
from .._json import to_json
from ..loss import Loss, get
from .advice import recommend
from .backends import BACKENDS, run_fits
from .candidates import _candidates, _check_loss_for_task, _estimator_loss
from .data import _as_features, _as_target, _check_not_constant
from .labels import _label, _public_params
from .metrics import _check_metric_for_data, _metric, _Metric


@dataclass
class SearchResult:
    """Cross-validated scores of each candidate loss (rows ordered best first).

    ``table``: one dict per candidate (``label``, ``loss``, ``params``, ``scores`` per fold,
    ``mean``, ``std``, ``ci_low``/``ci_high`` (95%, mean ± t·sd/√k), ``rank``);
    ``best_loss`` (a Loss), ``best``/``runner_up`` (rows), ``metric``,
    ``greater_is_better``, ``cv``, ``backend``; ``comparison``: the paired difference of the
    best and the runner-up over the folds; ``notes``: what the search decided for you (a
    quantile level taken from a pinball metric).
    """

    metric: str
    greater_is_better: bool
    task: str
    cv: int
    n_samples: int
    backend: str
    splitter: str
    table: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any]:
        return self.table[0]

    @property
    def best_loss(self) -> Loss:
        return self.table[0]["loss"]

    @property
    def runner_up(self) -> dict[str, Any] | None:
        return self.table[1] if len(self.table) > 1 else None

    @property
    def comparison(self) -> dict[str, Any] | None:
        """Best against the runner-up (see ``compare``)."""
        return None if self.runner_up is None else self.compare(self.best["label"], self.runner_up["label"])

    def row(self, label: str | Loss) -> dict[str, Any]:
        """The row of a candidate, by its label (``"huber(delta=2)"``) or its Loss."""
        for r in self.table:
            if (r["loss"] == label) if isinstance(label, Loss) else (r["label"] == label):
                return r
        key = _label(label) if isinstance(label, Loss) else label
        raise KeyError(f"no candidate {key!r} in this search; candidates: {', '.join(r['label'] for r in self.table)}")

    def compare(self, a: str | Loss, b: str | Loss) -> dict[str, Any]:
        """Score of ``a`` minus score of ``b``, fold by fold (the same folds: a paired comparison):
        ``mean_difference``, ``ci_half_width`` (95%, t over the folds) and ``clear`` (the interval
        excludes 0)."""
        from scipy import stats

        diff = np.asarray(self.row(a)["scores"]) - np.asarray(self.row(b)["scores"])
        k = len(diff)
        half = float(stats.t.ppf(0.975, k - 1)) * float(np.std(diff, ddof=1)) / math.sqrt(k)
        mean = float(np.mean(diff))
        return {"mean_difference": mean, "ci_half_width": half, "clear": abs(mean) > half}

    def to_dict(self) -> dict[str, Any]:
        rows = [{k: (v if k != "loss" else v.name) for k, v in row.items()} for row in self.table]
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "task": self.task, "cv": self.cv,
                "n_samples": self.n_samples, "backend": self.backend, "splitter": self.splitter,
                "best": self.best["label"], "runner_up": None if self.runner_up is None else self.runner_up["label"],
                "comparison": self.comparison, "table": rows, "notes": list(self.notes)}

    def to_frame(self) -> Any:
        """The table as a pandas DataFrame (pandas is optional)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SearchResult.to_frame needs pandas: pip install pandas (to_dict() needs nothing)"
                              ) from None
        cols = ["rank", "label", "mean", "std", "ci_low", "ci_high", "scores"]
        return pd.DataFrame([{c: row[c] for c in cols} for row in self.table]).set_index("rank")

    def __str__(self) -> str:
        head = (f"cross-validated {self.metric} ({'higher' if self.greater_is_better else 'lower'} is better), "
                f"{self.cv}-fold {self.splitter}, {self.n_samples} samples, backend {self.backend}")
        width = max(12, *(len(r["label"]) for r in self.table))
        lines = [head, f"  {'rank':>4}  {'loss':<{width}}  {'mean':>10}  {'± 95% CI':>10}  {'sd':>10}"]
        for r in self.table:
            half = r["ci_high"] - r["mean"]
            lines.append(f"  {r['rank']:>4}  {r['label']:<{width}}  {r['mean']:>10.4g}  {half:>10.3g}"
                         f"  {r['std']:>10.3g}")
        c = self.comparison
        if c is None:
            lines.append(f"best: {self.best['label']}")
        else:
            gap = abs(c["mean_difference"])
            verdict = "a clear difference" if c["clear"] else "within the noise of the folds"
            lines.append(f"best: {self.best['label']}; runner-up: {self.runner_up['label']}, {gap:.3g} "
                         f"{'lower' if self.greater_is_better else 'higher'} (paired over {self.cv} folds: {verdict}, "
                         f"± {c['ci_half_width']:.3g})")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SearchResult(metric={self.metric!r}, best={self.best['label']!r}, candidates={len(self.table)})"


def search(X: Any, y: Any, losses: Sequence[Any] | None = None,
           param_grid: dict[str, dict[str, Sequence[Any]]] | None = None, metric: str | None = None, cv: int = 5,
           n_jobs: int | None = None, backend: str = "loky", *,
           scheduler: Any = None, estimator_params: dict[str, Any] | None = None, random_state: int = 0,
           progress: bool | Callable[[int, int], Any] | None = None) -> SearchResult:
    """Cross-validated score of each loss (and of each point of ``param_grid``).

    ``losses``: catalog names, Loss objects or ``(name, params)`` pairs; None takes the top
    three of ``recommend(y, X=X, metric=metric)``. ``param_grid``: ``{"huber": {"delta":
    [0.5, 1, 2]}}`` expands a loss over its parameters. ``metric``: see ``metric_names()``;
    None is ``default_metric(task)``. ``cv``: the number of folds (KFold for regression,
    StratifiedKFold for classes, shuffled with ``random_state``). ``estimator_params``: more
    arguments of LossRegressor / LossClassifier (``max_epochs``, ``model``, ``penalty``, …);
    their ``random_state`` is ``random_state``.

    ``backend``: ``"loky"`` (local processes through joblib, ``n_jobs`` of them; None is 1),
    ``"threading"``, ``"sequential"``, ``"dask"`` (a dask.distributed cluster: the
    ``scheduler`` address, a distributed ``Client``, the environment variable
    DASK_SCHEDULER_ADDRESS, or the current client; n_jobs None uses every worker) or
    ``"ray"`` (needs ``pip install ray``). Every fold is seeded, so the table does not
    depend on the backend. ``progress``: show a progress bar (None: when more than 20 fits
    run and stderr is a terminal), or a callable, called as ``progress(done, total)`` after
    each fit (in the calling thread, as results arrive) for a display of one's own.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = X @ [1.0, 2.0] + rng.normal(size=60)
    >>> result = search(X, y, losses=["mse", "quantile"], param_grid={"quantile": {"q": [0.1, 0.9]}}, cv=3)
    >>> [row["label"] for row in result.table]
    ['mse', 'quantile(q=0.9)', 'quantile(q=0.1)']
    >>> result.best_loss
    MSE()
    """
    y = _as_target(y)
    Xa = _as_features(X, len(y))
    _check_not_constant(y)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}."
                         f"{V.suggest(str(backend), BACKENDS)}")
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        raise TypeError(f"progress must be True, False, None or a callable progress(done, total); got {progress!r}")
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ValueError(f"cv must be an integer number of folds >= 2; got {cv!r}")
    if losses is None:
        losses = recommend(y, X=Xa, metric=metric, random_state=random_state).losses(3)
    losses, notes = _quantile_level(losses, param_grid, metric)
    labelled = _candidates(losses, param_grid)
    candidates = [L for L, _ in labelled]
    tasks = {"regression" if L.traits.task == "regression" else "classification" for L in candidates}
    if len(tasks) > 1:
        raise ValueError("losses mix regression and classification losses: "
                         + ", ".join(f"{_label(L)} ({L.traits.task})" for L in candidates))
    task = tasks.pop()
    n_classes = None
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        n_classes = len(classes)
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise ValueError(f"y holds continuous values ({len(classes)} distinct, e.g. {y[0]:g}), but the losses are"
                             " classification losses; give class labels, or regression losses such as 'mse'.")
        if counts.min() < cv:
            small = to_json(classes[np.argmin(counts)])
            raise ValueError(f"cv={cv} folds need at least {cv} samples of every class; class {small!r} has "
                             f"{counts.min()}. Lower cv or gather more samples.")
    elif y.dtype.kind not in "biuf":
        raise ValueError(f"the losses are regression losses, but y holds non-numeric labels (dtype {y.dtype}); "
                         "use classification losses such as 'cross_entropy'.")
    if len(y) < cv:
        raise ValueError(f"cv={cv} folds need at least {cv} samples; y has {len(y)}. Lower cv or gather more samples.")
    for L in candidates:
        _check_loss_for_task(L, "regression" if task == "regression" else "classification", n_classes, y)
    m = _metric(metric, task)
    _check_metric_for_data(m, y, n_classes)
    est_params = dict(estimator_params or {})
    est_params.pop("loss", None)
    est_params.pop("loss_params", None)
    est_params["random_state"] = random_state

    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (KFold(cv, shuffle=True, random_state=random_state) if task == "regression"
                else StratifiedKFold(cv, shuffle=True, random_state=random_state))
    folds = list(splitter.split(Xa, y))
    jobs = [(i, j) for i in range(len(candidates)) for j in range(cv)]
    specs = [_estimator_loss(L) for L in candidates]
    scores = run_fits(jobs, specs, folds, task, est_params, Xa, y, m.name, n_jobs, backend, scheduler, progress)
    table = _table(labelled, scores, m)
    return SearchResult(m.name, m.greater_is_better, task if task == "regression" else
                        ("binary" if n_classes == 2 else "multiclass"), cv, len(y), backend,
                        f"{type(splitter).__name__}(shuffle=True, random_state={random_state})", table, notes)


def _quantile_level(losses: Any, param_grid: dict | None, metric: str | None) -> tuple[Any, list[str]]:
    """Under a pinball_q metric, a quantile loss named without its level q trains at that q.

    ``"quantile"`` alone means q = 0.5 (the median); judged by the pinball loss at 0.9 the
    user wants the 0.9-quantile, so the search trains it and says so. A Loss object keeps
    its own q (it was built on purpose); so does a ``param_grid`` over q.
    """
    if metric is None or isinstance(losses, Loss):
        return losses, []
    m = _metric(metric)
    if not m.statistic.startswith("quantile("):
        return losses, []
    q = float(m.statistic[len("quantile("):-1])
    items = [losses] if isinstance(losses, str) else list(losses)
    if "q" in ((param_grid or {}).get("quantile") or {}):
        return losses, []
    out, changed = [], False
    for item in items:
        name, params = (item, {}) if isinstance(item, str) else (item if isinstance(item, tuple) else (None, None))
        if isinstance(name, str) and isinstance(params, dict) and "q" not in params and _is_quantile(name):
            out.append((name, {**params, "q": q}))
            changed = True
        else:
            out.append(item)
    notes = [f"the metric is {m.name}: quantile given without q trains at q={q:g}, the level the metric scores"
             ] if changed else []
    return out, notes


def _is_quantile(name: str) -> bool:
    try:
        return get(name).name == "quantile"
    except ValueError:
        return False


def _table(candidates: list[tuple[Loss, str]], scores: np.ndarray, m: _Metric) -> list[dict[str, Any]]:
    from scipy import stats

    k = scores.shape[1]
    t = float(stats.t.ppf(0.975, k - 1))
    rows = []
    for (L, label), s in zip(candidates, scores):
        mean, sd = float(np.mean(s)), float(np.std(s, ddof=1))
        half = t * sd / math.sqrt(k)
        rows.append({"label": label, "loss": L, "params": _public_params(L), "scores": [float(v) for v in s],
                     "mean": mean, "std": sd, "ci_low": mean - half, "ci_high": mean + half})
    sign = -1.0 if m.greater_is_better else 1.0
    rows.sort(key=lambda r: sign * r["mean"])  # stable: ties keep the order of losses
    for rank, r in enumerate(rows, 1):
        r["rank"] = rank
    return rows
