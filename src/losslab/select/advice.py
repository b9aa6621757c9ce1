"""Advice read from the data: ``recommend`` ranks losses with reasons that cite the numbers.

It follows the consistency table: a loss estimates a statistic, and the metric says
which statistic you want::

    mean        → mse (poisson, tweedie, gamma_deviance for counts and positive targets)
    median      → mae
    quantile(q) → quantile(q), the pinball loss
    probability → cross-entropy (log loss); Brier is proper too
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._json import to_json
from ..loss import Loss, get
from .data import (
    _as_features, _as_target, _check_not_constant, _describe_classification, _describe_lines, _describe_regression,
    _infer_task, _pct,
)
from .labels import _label, _public_params
from .metrics import _check_metric_for_data, _metric, _Metric


@dataclass
class Suggestion:
    """One ranked loss: the Loss, a score in [0, 1] (higher is a better fit to the data and the
    metric) and the reasons, each citing the numbers it rests on."""

    loss: Loss
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return _label(self.loss)

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss.name, "params": _public_params(self.loss), "label": self.label,
                "score": round(self.score, 3), "reasons": list(self.reasons)}


@dataclass
class Advice:
    """What ``recommend`` found: ``describe`` (the statistics), ``ranking`` (Suggestions, best
    first), ``best`` (a Loss), ``task``, ``metric`` (the metric given, or None) and ``notes``."""

    task: str
    metric: str | None
    describe: dict[str, Any]
    ranking: list[Suggestion]
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> Loss:
        return self.ranking[0].loss

    def losses(self, k: int = 3) -> list[Loss]:
        """The top ``k`` losses, ready for ``search``."""
        return [s.loss for s in self.ranking[:k]]

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metric": self.metric, "best": self.ranking[0].label,
                "describe": {k: to_json(v) for k, v in self.describe.items()},
                "ranking": [s.to_dict() for s in self.ranking], "notes": list(self.notes)}

    def __str__(self) -> str:
        d = self.describe
        lines = [f"losslab advice: {self.task}, {d['n_samples']} samples, metric "
                 f"{self.metric if self.metric else '(none given)'}"]
        lines.append("the data:")
        lines.extend(f"  {line}" for line in _describe_lines(d))
        lines.append("losses, best first:")
        width = max(len(s.label) for s in self.ranking)
        indent = " " * (width + 13)
        for i, s in enumerate(self.ranking, 1):
            for j, reason in enumerate(s.reasons):
                first = f"  {i}. {s.label:<{width}}  {s.score:.2f}  " if j == 0 else indent
                lines.append(textwrap.fill(reason, width=max(60, 110 - len(indent)) + len(indent),
                                           initial_indent=first, subsequent_indent=indent,
                                           break_on_hyphens=False))
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Advice(task={self.task!r}, metric={self.metric!r}, best={self.ranking[0].label!r})"


def _nice(x: float) -> float:
    """Two significant digits: a parameter a person would type."""
    return float(f"{x:.2g}") if x != 0 else 0.0


class _Ranking:
    def __init__(self) -> None:
        self.items: dict[str, Suggestion] = {}

    def add(self, loss: Loss, score: float, reason: str) -> None:
        key = _label(loss)
        if key in self.items:
            s = self.items[key]
            s.score = max(s.score, score)
            s.reasons.append(reason)
        else:
            self.items[key] = Suggestion(loss, score, [reason])

    def ordered(self) -> list[Suggestion]:
        return sorted(self.items.values(), key=lambda s: -s.score)  # stable: ties keep the order they were added


def recommend(y: Any, task: str | None = None, X: Any = None, metric: str | None = None, *,
              random_state: int = 0) -> Advice:
    """Rank losses for the target ``y`` (and features ``X``, optional) with reasons.

    ``task``: None (inferred: two values → binary, text labels → multiclass, numbers →
    regression; integer counts stay regression, pass ``task="multiclass"`` for integer class
    labels), "regression", "binary", "multiclass" or "classification". ``metric``: the
    metric you will be judged on (see ``metric_names()``); it decides the statistic to
    estimate, and the data decide the rest. With ``X`` the tails are measured on the
    residuals of a least-squares fit, and a k-NN estimates how noisy the labels are.

    >>> import numpy as np
    >>> y = np.random.default_rng(0).normal(size=500)
    >>> advice = recommend(y)
    >>> advice.best
    MSE()
    >>> recommend(y, metric="pinball_0.9").best
    Quantile(q=0.9)
    """
    y = _as_target(y)
    Xa = None if X is None else _as_features(X, len(y))
    kind = _infer_task(y, task)
    _check_not_constant(y)
    n_classes = None if kind == "regression" else len(np.unique(y))
    m = None if metric is None else _metric(metric)
    if m is not None:
        _check_metric_for_data(m, y, n_classes)
    if kind == "regression":
        d = _describe_regression(y, Xa, random_state)
        ranking, notes = _advise_regression(d, m)
    else:
        d = _describe_classification(y, Xa, kind, random_state)
        ranking, notes = _advise_classification(d, m)
    if task is None:
        notes.insert(0, f"task inferred from y: {kind}"
                     + (" (integer values are read as counts; pass task='multiclass' for class labels)"
                        if kind == "regression" and d.get("counts") else ""))
    return Advice(kind, None if m is None else m.name, d, ranking, notes)


def _advise_regression(d: dict[str, Any], m: _Metric | None) -> tuple[list[Suggestion], list[str]]:
    R, notes = _Ranking(), []
    out, kurt, alpha = d["outlier_fraction"], d["excess_kurtosis"], d["tail_index"]
    # A Gaussian puts 0.075% of its mass beyond 5 MADs (5 × 0.6745 σ = 3.37 σ); 1% is thirteen times that.
    heavy = out > 0.01 or (kurt > 3.0 and d["n_samples"] >= 50)
    delta = _nice(1.345 * d["robust_sd"]) or 1.0  # 95% efficiency under Gaussian noise (Huber 1964)
    tails = (f"{_pct(out)} of the {'residuals' if 'residual' in d['tails_measured_on'] else 'targets'} lie more than "
             f"5 MADs from the median (a Gaussian: 0.075%), excess kurtosis {kurt:.1f}")
    stat = m.statistic if m else None
    if m is not None and stat and stat.startswith("quantile("):
        q = float(stat[len("quantile("):-1])
        R.add(get("quantile", q=q), 0.95, f"the metric is the pinball loss at q={q:g}: train with quantile(q={q:g}),"
              f" the loss whose minimiser is the {q:g}-quantile")
        R.add(get("mae"), 0.4 if q != 0.5 else 0.9, "mae estimates the median (the 0.5-quantile)")
        R.add(get("mse"), 0.2, "mse estimates the mean: wrong statistic for a quantile metric")
        return R.ordered(), notes
    if stat == "median":
        R.add(get("mae"), 0.95, f"the metric is {m.description} ({m.name}): train with mae, the loss consistent"
              " with the median")
        R.add(get("huber", delta=delta), 0.7 if heavy else 0.55,
              f"huber(delta={delta:g}) is smoother than mae and close to the median when the noise is symmetric")
        R.add(get("mse"), 0.3, "mse estimates the mean, which differs from the median under skew or outliers"
              f" (skewness {d['skewness']:.2f})")
        return R.ordered(), notes
    if stat == "mean (poisson)":
        R.add(get("poisson"), 0.95, "the metric is the Poisson deviance: train with poisson (log link)")
        R.add(get("tweedie", power=1.5), 0.6, "tweedie(power=1.5) also estimates the mean, with variance ∝ mean^1.5")
        R.add(get("mse"), 0.4, "mse estimates the mean too, but may predict negative rates")
        return R.ordered(), notes
    if stat == "mean (gamma)":
        R.add(get("gamma_deviance"), 0.95, "the metric is the Gamma deviance: train with gamma_deviance (log link)")
        R.add(get("tweedie", power=1.5), 0.6, "tweedie(power=1.5) also estimates the mean of positive targets")
        R.add(get("mse"), 0.4, "mse estimates the mean, but ignores that the spread grows with the mean")
        return R.ordered(), notes
    if stat == "relative":
        R.add(get("mape"), 0.9, "the metric is MAPE: train with mape, which weighs each error by 1/|y|")
        R.add(get("mae"), 0.5, "mae: the same absolute errors without the 1/|y| weight")
        return R.ordered(), notes
    if stat == "log":
        R.add(get("msle"), 0.9, "the metric is the squared log error: train with msle")
        R.add(get("mse"), 0.4, "mse on the raw scale weighs large targets far more than the metric does")
        return R.ordered(), notes

    # the mean (the metric asks for it, or no metric: the conditional mean is the default goal)
    why_mean = (f"the metric is {m.description} ({m.name}), consistent with the mean" if m is not None
                else "no metric given: the conditional mean, what mse estimates, is the default goal")
    # the metric named the mean: mse is the loss consistent with it; poisson/tweedie/gamma are consistent too
    mse_score = 0.92 if m is not None else 0.6
    if d["counts"]:
        disp, excess = d.get("dispersion", 1.0), d.get("excess_zeros", 0.0)
        counts = f"nonnegative integer counts (mean {d['mean']:.3g}, dispersion {disp:.2f})"
        if excess > 0.05 or disp > 2.0:
            R.add(get("tweedie", power=1.5), 0.9,
                  f"{counts} with {_pct(d['zero_fraction'])} zeros where a Poisson gives "
                  f"{_pct(d['poisson_zero_fraction'])} ({d['count_model']}): tweedie(power=1.5), a mean with exact"
                  " zeros and overdispersion")
            R.add(get("poisson"), 0.85, f"{counts}: poisson estimates the mean rate with a log link")
        else:
            R.add(get("poisson"), 0.9, f"{counts}: poisson, consistent with the mean, with a log link"
                  " (predictions stay positive and effects multiply)")
            R.add(get("tweedie", power=1.5), 0.75, "tweedie(power=1.5): also the mean, for overdispersed counts")
        R.add(get("mse"), mse_score, f"{why_mean}; mse ignores that the variance of counts grows with their mean")
    elif d["positive"] and d["skewness"] > 1.0:
        R.add(get("gamma_deviance"), 0.85, f"positive, right-skewed targets (skewness {d['skewness']:.2f}):"
              " gamma_deviance estimates the mean with a log link, errors relative to the mean")
        R.add(get("tweedie", power=1.5), 0.75, "tweedie(power=1.5): the mean of positive skewed targets")
        R.add(get("mse"), mse_score, f"{why_mean}; the largest targets dominate mse")
    if d["counts"] or (d["positive"] and d["skewness"] > 1.0):
        heavy = heavy and out > 0.05  # skewed counts and amounts have long right tails by nature
    if heavy:
        base = 0.8 if m is not None else 0.9
        R.add(get("huber", delta=delta), base,
              f"{tails}: a robust loss, huber(delta={delta:g}) (1.345 robust sd: 95% efficient if the noise were"
              " Gaussian)")
        R.add(get("mae"), base - 0.1, f"{tails}: mae ignores how far the outliers lie (it estimates the median)")
        if out > 0.05 or (math.isfinite(alpha) and alpha < 1.5):
            R.add(get("cauchy", scale=_nice(d["robust_sd"]) or 1.0), base - 0.15,
                  f"tail index {alpha:.2g}: cauchy redescends, outliers far away get almost no weight")
        R.add(get("mse"), 0.85 if m is not None else 0.4,
              (f"{why_mean}; but outliers pull it, and its estimates vary more" if m is not None
               else f"mse: {tails}, so a few targets pull the fit"))
        if m is not None:
            notes.append(f"the metric ({m.name}) rewards the mean, yet the tails are heavy ({tails}); "
                         "search both to see which wins on held-out folds")
    elif not (d["counts"] or (d["positive"] and d["skewness"] > 1.0)):
        R.add(get("mse"), 0.9,
              f"{why_mean}; the tails look Gaussian ({_pct(out)} beyond 5 MADs, excess kurtosis {kurt:.2f}), where mse"
              " is the efficient choice")
        R.add(get("huber", delta=delta), 0.5, f"huber(delta={delta:g}) costs about 5% efficiency under Gaussian noise"
              " and guards against outliers that may come later")
        R.add(get("mae"), 0.3, "mae estimates the median: equal to the mean only for symmetric noise "
              f"(skewness {d['skewness']:.2f})")
    return R.ordered(), notes


def _advise_classification(d: dict[str, Any], m: _Metric | None) -> tuple[list[Suggestion], list[str]]:
    R, notes = _Ranking(), []
    binary = d["n_classes"] == 2
    counts = np.asarray(d["class_counts"], dtype=np.float64)
    ratio = d["imbalance_ratio"]
    imbalanced = ratio >= 5.0
    ce = get("binary_cross_entropy") if binary else get("cross_entropy")
    focal = get("binary_focal", gamma=2.0) if binary else get("focal", gamma=2.0)
    if binary:  # positive class = the larger label, as LossClassifier trains it
        weighted = get("binary_cross_entropy", pos_weight=_nice(counts[0] / counts[1]))
    else:
        weights = counts.sum() / (len(counts) * counts)  # inverse frequency, mean weight 1 over the samples
        weighted = get("cross_entropy", class_weight=[_nice(w) for w in weights])
    imb = f"1:{ratio:.3g} imbalance ({_pct(d['minority_fraction'])} in the smallest class)"
    stat = m.statistic if m else None
    if stat == "probability":
        R.add(ce, 0.95, f"the metric is {m.description} ({m.name}), a proper scoring rule: train with "
              f"{ce.name} (log loss), whose minimiser is the true probability")
        if imbalanced:
            R.add(weighted, 0.4, f"{imb}, but class weights would bias the probabilities the metric scores")
        R.add(focal, 0.35, "focal loss down-weights easy samples and leaves probabilities uncalibrated")
        if m.name == "brier":
            notes.append("brier takes probabilities, so losslab.sklearn cannot train on it from raw scores; "
                         "cross-entropy is proper too, and its probabilities minimise the Brier score as well")
    elif imbalanced and stat != "mode":
        goal = (f"the metric is {m.description} ({m.name})" if m is not None
                else "no metric given: every class counts (balanced accuracy)")
        reason = f"{imb}: class-balanced weights" + (f" (pos_weight={weighted.params['pos_weight']:g})" if binary else
                                                     " (inverse class frequency)")
        R.add(weighted, 0.9 if stat != "ranking" else 0.75, f"{reason} or focal loss; {goal}")
        R.add(focal, 0.8 if stat != "ranking" else 0.7,
              f"{imb}: focal(gamma=2) down-weights the many easy majority samples (Lin et al. 2017)")
        R.add(ce, 0.5 if stat != "ranking" else 0.8,
              ("plain cross-entropy: the metric ranks scores, and weights barely change the ranking"
               if stat == "ranking" else "plain cross-entropy would mostly predict the majority class"))
    else:
        goal = (f"the metric is {m.description} ({m.name})" if m is not None
                else "no metric given: class probabilities are the default goal")
        R.add(ce, 0.9, f"{goal}; {ce.name} (log loss) is proper and classification-calibrated"
              + (f" ({imb}: accuracy rewards the majority class, so keep the plain loss)" if imbalanced else
                 f" (imbalance only 1:{ratio:.3g})"))
        R.add(get("hinge") if binary else get("multiclass_hinge"), 0.6,
              "the hinge loss gives margins, not probabilities; fine when only the decision counts")
        if imbalanced:
            R.add(weighted, 0.45, f"{imb}: weights trade accuracy for recall of the small classes")
    noise = d.get("knn_disagreement")
    # on imbalanced classes k-NN disagreement mostly measures the minority it misses, not noise
    if noise is not None and noise > 0.15 and not imbalanced:
        R.add(get("generalized_cross_entropy", q=0.7), 0.7,
              f"k-NN disagrees with {_pct(d['knn_disagreement'])} of the labels: if they are noisy, generalized "
              "cross-entropy (q=0.7) is less pulled by wrong labels (Zhang & Sabuncu 2018)")
    return R.ordered(), notes
