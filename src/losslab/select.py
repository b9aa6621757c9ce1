"""Choosing a loss: advice read from the data (``recommend``) and a measured search (``search``).

``recommend(y, task=None, X=None, metric=None)`` describes the target (outliers by MAD,
skewness, tail heaviness, counts and excess zeros, positivity, class imbalance, and with
``X`` an estimate of label noise) and ranks losses with reasons that cite those numbers.
It follows the consistency table: a loss estimates a statistic, and the metric says which
statistic you want::

    mean        → mse (poisson, tweedie, gamma_deviance for counts and positive targets)
    median      → mae
    quantile(q) → quantile(q), the pinball loss
    probability → cross-entropy (log loss); Brier is proper too

``search(X, y, losses=[...])`` measures: each loss (and each point of ``param_grid``) is
trained with ``losslab.sklearn``'s estimators on the same seeded folds (KFold, or
StratifiedKFold for classes) and scored on the held-out fold; the table gives the mean,
a 95% confidence interval (mean ± t·sd/√k over the k folds), the best loss and the
runner-up. The folds and every estimator are seeded, so the table is the same whichever
backend runs it: ``"loky"`` (joblib, local processes), ``"dask"`` (a dask.distributed
cluster) or ``"ray"``.

Metrics: scikit-learn scorer names (``"neg_mean_absolute_error"``, ``"neg_log_loss"``,
``"f1"``, ``"average_precision"``, …) and short names (``"mse"``, ``"mae"``,
``"pinball_0.9"``, ``"log_loss"``, ``"brier"``, …); ``losslab.select.metric_names()``
lists them. Scores are reported in the metric's own units and sign (an MSE is positive,
lower is better); ``SearchResult.greater_is_better`` says which way is better.

Nothing heavy is imported with ``losslab``: scikit-learn, joblib and dask are imported
when ``recommend``/``search`` run.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from . import _validate as V
from .loss import Loss, get

__all__ = ["recommend", "search", "Advice", "Suggestion", "SearchResult", "metric_names", "default_metric"]

_TASKS = ("regression", "binary", "multiclass", "classification")
_CLASSIFICATION = ("binary", "multiclass", "classification")
_RAW_FLAGS = ("from_logits", "log_input")  # set by the estimators, never part of a candidate's name


# =============================================================================== metrics
@dataclass(frozen=True)
class _Metric:
    name: str                # canonical short name
    task: str                # "regression" or "classification"
    greater_is_better: bool
    response: str            # "predict" (labels / values), "proba" (probabilities), "score" (ranking scores)
    statistic: str           # what the best prediction is: "mean", "median", "quantile(q)", "probability", ...
    description: str

    @property
    def direction(self) -> str:
        return "higher is better" if self.greater_is_better else "lower is better"


_REG, _CLS = "regression", "classification"
_METRICS: dict[str, _Metric] = {
    m.name: m
    for m in (
        _Metric("mse", _REG, False, "predict", "mean", "mean squared error"),
        _Metric("rmse", _REG, False, "predict", "mean", "root mean squared error"),
        _Metric("r2", _REG, True, "predict", "mean", "coefficient of determination"),
        _Metric("explained_variance", _REG, True, "predict", "mean", "explained variance"),
        _Metric("mae", _REG, False, "predict", "median", "mean absolute error"),
        _Metric("median_absolute_error", _REG, False, "predict", "median", "median absolute error"),
        _Metric("d2_absolute_error", _REG, True, "predict", "median", "D² of the absolute error"),
        _Metric("max_error", _REG, False, "predict", "other", "largest absolute error"),
        _Metric("poisson_deviance", _REG, False, "predict", "mean (poisson)", "mean Poisson deviance"),
        _Metric("gamma_deviance", _REG, False, "predict", "mean (gamma)", "mean Gamma deviance"),
        _Metric("mape", _REG, False, "predict", "relative", "mean absolute percentage error"),
        _Metric("msle", _REG, False, "predict", "log", "mean squared log error"),
        _Metric("rmsle", _REG, False, "predict", "log", "root mean squared log error"),
        _Metric("accuracy", _CLS, True, "predict", "mode", "accuracy"),
        _Metric("balanced_accuracy", _CLS, True, "predict", "balanced", "mean recall over classes"),
        _Metric("f1", _CLS, True, "predict", "balanced", "F1 of the positive class"),
        _Metric("precision", _CLS, True, "predict", "balanced", "precision of the positive class"),
        _Metric("recall", _CLS, True, "predict", "balanced", "recall of the positive class"),
        _Metric("jaccard", _CLS, True, "predict", "balanced", "Jaccard index of the positive class"),
        _Metric("matthews_corrcoef", _CLS, True, "predict", "balanced", "Matthews correlation"),
        _Metric("log_loss", _CLS, False, "proba", "probability", "log loss (cross-entropy)"),
        _Metric("brier", _CLS, False, "proba", "probability", "Brier score"),
        _Metric("average_precision", _CLS, True, "score", "ranking", "average precision (area under PR)"),
        _Metric("roc_auc", _CLS, True, "score", "ranking", "area under the ROC curve"),
    )
}
for _avg in ("macro", "micro", "weighted"):
    for _base in ("f1", "precision", "recall", "jaccard"):
        _METRICS[f"{_base}_{_avg}"] = _Metric(
            f"{_base}_{_avg}", _CLS, True, "predict", "balanced", f"{_base} averaged ({_avg}) over classes"
        )
for _variant in ("ovr", "ovo", "ovr_weighted", "ovo_weighted"):
    _METRICS[f"roc_auc_{_variant}"] = _Metric(
        f"roc_auc_{_variant}", _CLS, True, "score", "ranking", f"ROC AUC ({_variant})"
    )

# scikit-learn scorer names (sklearn.metrics.get_scorer_names()) and other spellings users type
_ALIASES = {
    "neg_mean_squared_error": "mse", "mean_squared_error": "mse", "squared_error": "mse",
    "neg_root_mean_squared_error": "rmse", "root_mean_squared_error": "rmse",
    "neg_mean_absolute_error": "mae", "mean_absolute_error": "mae", "absolute_error": "mae",
    "neg_median_absolute_error": "median_absolute_error",
    "d2_absolute_error_score": "d2_absolute_error", "neg_max_error": "max_error",
    "neg_mean_poisson_deviance": "poisson_deviance", "neg_mean_gamma_deviance": "gamma_deviance",
    "neg_mean_absolute_percentage_error": "mape", "neg_mean_squared_log_error": "msle",
    "neg_root_mean_squared_log_error": "rmsle", "r2_score": "r2",
    "neg_log_loss": "log_loss", "cross_entropy": "log_loss", "logloss": "log_loss",
    "neg_brier_score": "brier", "brier_score": "brier", "f1_score": "f1", "accuracy_score": "accuracy",
    "ap": "average_precision", "auc": "roc_auc",
}
_PINBALL = re.compile(r"^(?:neg_mean_)?pinball(?:_loss)?_(0?\.\d+|0|1)$")


def metric_names() -> list[str]:
    """Every metric name ``recommend``/``search`` accept (``pinball_<q>`` stands for any 0 < q < 1)."""
    return sorted(_METRICS) + ["pinball_<q>"] + sorted(_ALIASES)


def _metric(metric: str | None, task: str | None = None) -> _Metric:
    """Resolve a metric name; an unknown name is an error that lists what is allowed."""
    if metric is None:
        return _METRICS[default_metric(task or "regression")]
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a metric name such as 'mse' or 'neg_log_loss'; got {metric!r}")
    key = metric.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _METRICS:
        return _METRICS[key]
    match = _PINBALL.match(key)
    if match:
        q = float(match.group(1))
        if not 0.0 < q < 1.0:
            raise ValueError(f"metric {metric!r}: the pinball level must lie strictly between 0 and 1; got {q:g}")
        return _Metric(f"pinball_{q:g}", _REG, False, "predict", f"quantile({q:g})", f"pinball loss at q={q:g}")
    hint = V.suggest(key, list(_METRICS) + list(_ALIASES) + ["pinball_0.9"])
    scorers = ", ".join(sorted(k for k in _ALIASES if k.startswith("neg_")))
    raise ValueError(
        f"unknown metric {metric!r}.{hint} Allowed: {', '.join(sorted(_METRICS))}, pinball_<q> (0 < q < 1, e.g."
        f" pinball_0.9), and the scikit-learn scorer names {scorers}."
    )


def default_metric(task: str) -> str:
    """The metric ``search`` uses when none is given: ``"mse"`` for regression,
    ``"balanced_accuracy"`` for classification (it is accuracy when the classes are balanced,
    and it does not reward predicting only the majority class when they are not)."""
    return "mse" if task == "regression" else "balanced_accuracy"


def _metric_value(metric: _Metric, y_true: np.ndarray, response: np.ndarray, classes: np.ndarray | None) -> float:
    """The metric in its own units and sign (an MSE is positive), from what ``_respond`` returned."""
    import sklearn.metrics as M

    name = metric.name
    if metric.task == _REG:
        pred = response
        if name in ("poisson_deviance", "gamma_deviance"):
            # a nonpositive predicted mean is infinitely wrong for a deviance; clip so the score stays finite
            pred = np.maximum(pred, 1e-8)
        if name in ("msle", "rmsle"):
            pred = np.maximum(pred, 0.0)
        simple = {
            "mse": M.mean_squared_error, "r2": M.r2_score, "explained_variance": M.explained_variance_score,
            "mae": M.mean_absolute_error, "median_absolute_error": M.median_absolute_error,
            "d2_absolute_error": M.d2_absolute_error_score, "max_error": M.max_error,
            "poisson_deviance": M.mean_poisson_deviance, "gamma_deviance": M.mean_gamma_deviance,
            "mape": M.mean_absolute_percentage_error, "msle": M.mean_squared_log_error,
        }
        if name in simple:
            return float(simple[name](y_true, pred))
        if name == "rmse":
            return float(math.sqrt(M.mean_squared_error(y_true, pred)))
        if name == "rmsle":
            return float(math.sqrt(M.mean_squared_log_error(y_true, pred)))
        q = float(name.split("_", 1)[1])
        return float(M.mean_pinball_loss(y_true, pred, alpha=q))
    assert classes is not None
    binary = len(classes) == 2
    positive = classes[-1]
    base, _, average = name.partition("_")
    if name in ("accuracy", "balanced_accuracy", "matthews_corrcoef"):
        fn = {"accuracy": M.accuracy_score, "balanced_accuracy": M.balanced_accuracy_score,
              "matthews_corrcoef": M.matthews_corrcoef}[name]
        return float(fn(y_true, response))
    if base in ("f1", "precision", "recall", "jaccard"):
        fn = {"f1": M.f1_score, "precision": M.precision_score, "recall": M.recall_score,
              "jaccard": M.jaccard_score}[base]
        if average:
            return float(fn(y_true, response, average=average, labels=classes, zero_division=0))
        return float(fn(y_true, response, pos_label=positive, zero_division=0))
    if name == "log_loss":
        return float(M.log_loss(y_true, response, labels=classes))
    onehot = (np.asarray(y_true)[:, None] == classes[None, :]).astype(np.float64)
    if name == "brier":
        if binary:  # scikit-learn's binary Brier: mean (p − y)²
            return float(np.mean((response[:, 1] - onehot[:, 1]) ** 2))
        return float(np.mean(np.sum((response - onehot) ** 2, axis=1)))
    if name == "average_precision":
        if binary:
            return float(M.average_precision_score(onehot[:, 1], response))
        return float(M.average_precision_score(onehot, response, average="macro"))
    if binary:
        return float(M.roc_auc_score(onehot[:, 1], response))
    multi_class, _, weighting = name.removeprefix("roc_auc").lstrip("_").partition("_")
    return float(M.roc_auc_score(y_true, response, labels=classes, multi_class=multi_class or "ovr",
                                 average=weighting or "macro"))


def _check_metric_for_data(metric: _Metric, y: np.ndarray, n_classes: int | None) -> None:
    if metric.task == _REG and n_classes is not None:
        raise ValueError(f"metric {metric.name!r} is a regression metric; the task is classification. "
                         f"Use e.g. {default_metric('binary')!r}, 'log_loss', 'f1' or 'average_precision'.")
    if metric.task == _CLS and n_classes is None:
        raise ValueError(f"metric {metric.name!r} is a classification metric; the task is regression. "
                         "Use e.g. 'mse', 'mae' or 'pinball_0.9'.")
    if n_classes is not None and n_classes > 2 and metric.name in ("f1", "precision", "recall", "jaccard"):
        raise ValueError(f"metric {metric.name!r} scores the positive class of a binary task; y has {n_classes}"
                         f" classes: use {metric.name}_macro or {metric.name}_weighted.")
    if metric.name in ("poisson_deviance", "msle", "rmsle") and np.min(y) < 0:
        raise ValueError(f"metric {metric.name!r} needs targets >= 0; y has min {np.min(y):g}.")
    if metric.name in ("gamma_deviance",) and np.min(y) <= 0:
        raise ValueError(f"metric {metric.name!r} needs targets > 0; y has min {np.min(y):g}.")


# =============================================================================== input checks
def _as_target(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be one target per sample, shape (n,); got shape {y.shape}")
    if y.size == 0:
        raise ValueError("y is empty; recommend and search need at least a few samples")
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        bad = int(np.sum(~np.isfinite(y)))
        raise ValueError(f"y holds {bad} NaN or infinite value(s) (first at index {int(np.argmin(np.isfinite(y)))});"
                         " drop or impute them first.")
    if y.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in y):
            raise ValueError("y holds missing values (None or NaN); drop or impute them first.")
    return y


def _as_features(X: Any, n: int) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("X must hold numbers (an array or data frame of numeric features)") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, shape (n_samples, n_features); got shape {X.shape}")
    if X.shape[0] != n:
        raise ValueError(f"X and y must have the same number of samples; got X {X.shape[0]} and y {n}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"X holds {int(np.sum(~np.isfinite(X)))} NaN or infinite value(s); drop or impute them first.")
    return X


def _infer_task(y: np.ndarray, task: str | None) -> str:
    if task is not None:
        if task not in _TASKS:
            raise ValueError(f"task must be None (inferred) or one of {', '.join(map(repr, _TASKS))}; got {task!r}")
        if task == "classification":
            return "binary" if len(np.unique(y)) <= 2 else "multiclass"
        if task == "regression" and y.dtype.kind not in "biuf":
            raise ValueError(f"task='regression' needs numeric targets; y has dtype {y.dtype}")
        return task
    n_unique = len(np.unique(y))
    if y.dtype.kind not in "biuf":
        return "binary" if n_unique <= 2 else "multiclass"
    if y.dtype.kind == "b" or n_unique == 2:
        return "binary"
    return "regression"  # integers with more than two values are treated as counts; pass task="multiclass" for labels


def _check_not_constant(y: np.ndarray) -> None:
    values = np.unique(y)
    if len(values) < 2:
        raise ValueError(f"y is constant (every one of the {len(y)} targets is {_plain(values[0])!r}): there is"
                         " nothing to learn and no loss to prefer; check the target column.")


def read_csv(path: str | os.PathLike, target: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(X, y, feature_names)`` from a CSV file with a header row (what the command line reads).

    Every column but ``target`` is a feature and must be numeric; the target may hold
    numbers or class labels. Empty cells are an error (losslab does not guess values)."""
    import csv

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [row for row in csv.reader(fh) if row and any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise ValueError(f"{path!r} needs a header row and at least one data row; it has {len(rows)} row(s)")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise ValueError(f"column {target!r} is not in {path!r}.{V.suggest(target, header)} Columns: "
                         f"{', '.join(header)}")
    data = rows[1:]
    for line, row in enumerate(data, 2):
        if len(row) != len(header):
            raise ValueError(f"{path!r} line {line} has {len(row)} fields; the header has {len(header)}")
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        cells = [row[j].strip() for row in data]
        empty = [i for i, c in enumerate(cells) if c == "" or c.lower() in ("na", "nan", "null")]
        if empty:
            raise ValueError(f"column {name!r} has a missing value on line {empty[0] + 2} ({len(empty)} in all); "
                             "fill or drop those rows first")
        try:
            columns[name] = np.array([float(c) for c in cells])
        except ValueError:
            if name == target:
                columns[name] = np.array(cells)  # class labels
                continue
            bad = next(i for i, c in enumerate(cells) if not _is_number(c))
            raise ValueError(f"column {name!r} is not numeric ({cells[bad]!r} on line {bad + 2}); features must be "
                             "numbers: encode or drop that column") from None
    features = [h for h in header if h != target]
    if not features:
        raise ValueError(f"{path!r} has no feature columns besides the target {target!r}")
    y = columns[target]
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return np.column_stack([columns[h] for h in features]), y, features


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# =============================================================================== describing the target
def _hill_tail_index(abs_dev: np.ndarray) -> float:
    """Hill's estimator of the tail index α from the largest 10% of |y − median| (Hill 1975).

    Small α means heavy tails: α < 2 infinite variance, α < 4 infinite kurtosis; a Gaussian
    sample gives a large α (its tail is lighter than any power law)."""
    x = np.sort(abs_dev[abs_dev > 0])[::-1]
    k = max(5, len(x) // 10)
    if len(x) <= k:
        return float("nan")
    logs = np.log(x[:k]) - np.log(x[k])
    mean = float(np.mean(logs))
    return float("inf") if mean <= 0 else 1.0 / mean


def _describe_regression(y: np.ndarray, X: np.ndarray | None, random_state: int) -> dict[str, Any]:
    from scipy import stats

    y = y.astype(np.float64)
    d: dict[str, Any] = {"task": "regression", "n_samples": len(y)}
    d.update(mean=float(np.mean(y)), std=float(np.std(y)), median=float(np.median(y)),
             min=float(np.min(y)), max=float(np.max(y)))
    d["skewness"] = float(stats.skew(y))
    # what the tails are measured on: the target, or with X the residuals of a least-squares fit
    r, source = y - np.median(y), "target"
    if X is not None and X.shape[1] > 0 and len(y) > X.shape[1] + 2:
        A = np.column_stack([X, np.ones(len(y))])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        r, source = y - A @ coef, "residuals of a linear least-squares fit on X"
    dev = np.abs(r - np.median(r))
    mad = float(np.median(dev))
    d["tails_measured_on"] = source
    d["mad"] = mad
    d["robust_sd"] = 1.4826 * mad  # the MAD of a Gaussian is 0.6745 σ
    d["outlier_fraction"] = float(np.mean(dev > 5 * mad)) if mad > 0 else float(np.mean(dev > 0))
    d["excess_kurtosis"] = float(stats.kurtosis(r))
    d["residual_skewness"] = float(stats.skew(r))
    d["tail_index"] = _hill_tail_index(dev)
    integer = bool(np.all(y == np.round(y)))
    d["integer_valued"] = integer
    d["nonnegative"] = bool(np.min(y) >= 0)
    d["positive"] = bool(np.min(y) > 0)
    d["zero_fraction"] = float(np.mean(y == 0))
    counts = integer and d["nonnegative"] and len(np.unique(y)) > 2
    d["counts"] = counts
    if counts and d["mean"] > 0:
        mu, d["count_model"] = np.full(len(y), d["mean"]), "one Poisson mean"
        if X is not None and X.shape[1] > 0:
            # a Poisson with a log-linear mean on X: the heterogeneity of the means alone adds zeros and
            # variance to the marginal counts, so compare with what that model expects
            from sklearn.linear_model import PoissonRegressor

            mu = PoissonRegressor(alpha=0.0, max_iter=300).fit(X, y).predict(X)
            d["count_model"] = "a Poisson regression on X"
        d["dispersion"] = float(np.mean((y - mu) ** 2 / mu))  # Pearson dispersion: 1 for Poisson counts
        d["poisson_zero_fraction"] = float(np.mean(np.exp(-mu)))  # the zeros that model expects
        d["excess_zeros"] = d["zero_fraction"] - d["poisson_zero_fraction"]
    if X is not None and len(y) >= 20:
        from sklearn.model_selection import KFold, cross_val_predict
        from sklearn.neighbors import KNeighborsRegressor

        pred = cross_val_predict(KNeighborsRegressor(n_neighbors=5), X, y,
                                 cv=KFold(5, shuffle=True, random_state=random_state))
        d["knn_unexplained_fraction"] = float(np.mean((y - pred) ** 2) / max(np.var(y), 1e-300))
    return d


def _describe_classification(y: np.ndarray, X: np.ndarray | None, task: str, random_state: int) -> dict[str, Any]:
    classes, counts = np.unique(y, return_counts=True)
    d: dict[str, Any] = {"task": task, "n_samples": len(y), "n_classes": len(classes)}
    d["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    d["class_counts"] = [int(c) for c in counts]
    d["imbalance_ratio"] = float(counts.max() / counts.min())
    d["minority_fraction"] = float(counts.min() / len(y))
    if X is not None and counts.min() >= 2 and len(y) >= 20:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.neighbors import KNeighborsClassifier

        folds = int(min(5, counts.min()))
        pred = cross_val_predict(KNeighborsClassifier(n_neighbors=5), X, y,
                                 cv=StratifiedKFold(folds, shuffle=True, random_state=random_state))
        # disagreement with the neighbours counts label noise plus the Bayes error: an upper bound on the noise
        d["knn_disagreement"] = float(np.mean(pred != y))
        d["knn_balanced_disagreement"] = float(1.0 - np.mean([np.mean(pred[y == c] == c) for c in classes]))
    return d


# =============================================================================== advice
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
                "describe": {k: _plain(v) for k, v in self.describe.items()},
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


def _describe_lines(d: dict[str, Any]) -> list[str]:
    if d["task"] == "regression":
        lines = [f"mean {d['mean']:.4g}, median {d['median']:.4g}, sd {d['std']:.4g}, range [{d['min']:.4g}, "
                 f"{d['max']:.4g}], skewness {d['skewness']:.2f}"]
        lines.append(f"tails ({d['tails_measured_on']}): {_pct(d['outlier_fraction'])} beyond 5 MADs, excess "
                     f"kurtosis {d['excess_kurtosis']:.2f}, tail index {d['tail_index']:.2g}")
        if d["counts"]:
            extra = (f", dispersion {d['dispersion']:.2f} and zeros {_pct(d['zero_fraction'])} (under "
                     f"{d['count_model']}: 1 and {_pct(d['poisson_zero_fraction'])})") if "dispersion" in d else ""
            lines.append(f"nonnegative integer counts{extra}")
        elif d["positive"]:
            lines.append("all targets positive")
        if "knn_unexplained_fraction" in d:
            lines.append(f"k-NN (5 neighbours, 5-fold) leaves {_pct(d['knn_unexplained_fraction'])} of the variance"
                         " unexplained (noise plus what k-NN misses)")
        return lines
    counts = ", ".join(f"{c}: {n}" for c, n in zip(d["classes"], d["class_counts"]))
    lines = [f"{d['n_classes']} classes ({counts}); imbalance 1:{d['imbalance_ratio']:.3g}"]
    if "knn_disagreement" in d:
        lines.append(f"k-NN (5 neighbours) disagrees with {_pct(d['knn_disagreement'])} of the labels "
                     "(an upper bound on label noise)")
    return lines


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 or x == 0 else f"{100 * x:.2g}%"


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
              f" (skewness {d['residual_skewness']:.2f})")
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
              f"(skewness {d['residual_skewness']:.2f})")
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


# =============================================================================== search
def _public_params(loss: Loss) -> dict[str, Any]:
    """The parameters that differ from the defaults, without the raw-score flags the estimators set."""
    defaults = {p.name: p.default for p in type(loss).parameters}
    out = {}
    for k, v in loss.params.items():
        if k in _RAW_FLAGS:
            continue
        d = defaults.get(k)
        sequence = hasattr(v, "__len__") or hasattr(d, "__len__")
        same = np.array_equal(np.asarray(v), np.asarray(d)) if sequence else v == d
        if not same:
            out[k] = v.tolist() if hasattr(v, "tolist") else v
    return out


def _label(loss: Loss, show: Iterable[str] = ()) -> str:
    """``name(param=value, ...)`` with the parameters that differ from the defaults and those in ``show``."""
    params = _public_params(loss)
    for k in show:
        params.setdefault(k, loss.params[k])
    if not params:
        return loss.name
    return f"{loss.name}({', '.join(f'{k}={_fmt(v)}' for k, v in params.items())})"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return repr(v) if isinstance(v, str) else str(v)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _candidates(losses: Sequence[Any], param_grid: dict[str, dict[str, Sequence[Any]]] | None
                ) -> list[tuple[Loss, str]]:
    if isinstance(losses, (str, Loss)):
        losses = [losses]
    built: list[Loss] = []
    for item in losses:
        if isinstance(item, Loss):
            built.append(item)
        elif isinstance(item, str):
            built.append(get(item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], dict):
            built.append(get(item[0], **item[1]))
        else:
            raise TypeError(f"losses must hold catalog names, Loss objects or (name, params) pairs; got {item!r}")
    if not built:
        raise ValueError("losses is empty; give at least one loss, e.g. losses=['mse', 'mae', 'huber']")
    grid = {}
    for name, params in (param_grid or {}).items():
        canonical = get(name).name
        if not isinstance(params, dict):
            raise TypeError(f"param_grid[{name!r}] must map parameter names to lists of values; got {params!r}")
        known = {p.name for p in type(get(name)).parameters}
        for p, values in params.items():
            if p not in known:
                raise ValueError(f"param_grid[{name!r}] has unknown parameter {p!r}; {canonical} takes "
                                 f"{', '.join(sorted(known)) or 'no parameters'}.{V.suggest(p, known)}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(f"param_grid[{name!r}][{p!r}] must be a list of values; got {values!r}")
        grid[canonical] = params
        if canonical not in {b.name for b in built}:
            raise ValueError(f"param_grid names {name!r}, which is not in losses ({', '.join(b.name for b in built)})")
    out: list[tuple[Loss, str]] = []
    for loss in built:
        if loss.name in grid:
            names = list(grid[loss.name])
            for combo in itertools.product(*(list(grid[loss.name][p]) for p in names)):
                params = {k: v for k, v in loss.params.items() if k not in _RAW_FLAGS}
                params.update(dict(zip(names, combo)))
                L = get(loss.name, **params)
                out.append((L, _label(L, show=names)))
        else:
            out.append((loss, _label(loss)))
    labels = [label for _, label in out]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"losses lists the same candidate more than once: {', '.join(dupes)}")
    return out


def _estimator_loss(loss: Loss) -> tuple[str, dict[str, Any]]:
    """(name, params) for the estimators: they add from_logits/log_input themselves when left out."""
    params = {k: v for k, v in loss.params.items() if k not in _RAW_FLAGS}
    return loss.name, params


def _check_loss_for_task(loss: Loss, task: str, n_classes: int | None, y: np.ndarray) -> None:
    t = loss.traits.task
    if task == "regression":
        if t != "regression":
            raise ValueError(f"loss {_label(loss)!r} is a {t} loss, but y is a regression target (continuous"
                             " values); use a regression loss such as 'mse', 'mae', 'huber' or 'quantile'.")
        dom = loss.traits.y_true_domain
        lo, hi = float(np.min(y)), float(np.max(y))
        if not (dom.contains(lo) and dom.contains(hi)):
            raise ValueError(f"loss {_label(loss)!r} needs targets in {dom}; y spans [{lo:g}, {hi:g}]. Use a loss"
                             " for any real target such as 'mse', 'mae' or 'huber'.")
        return
    if t not in _CLASSIFICATION:
        raise ValueError(f"loss {_label(loss)!r} is a {t} loss, but y holds {n_classes} class labels; use a"
                         " classification loss such as 'cross_entropy', 'binary_cross_entropy' or 'hinge'.")
    if t == "binary" and n_classes and n_classes > 2:
        raise ValueError(f"loss {_label(loss)!r} is a binary loss, but y has {n_classes} classes; use a multiclass"
                         " loss such as 'cross_entropy', 'focal' or 'multiclass_hinge'.")
    dom = loss.traits.y_pred_domain
    takes_scores = math.isinf(dom.low) and math.isinf(dom.high)
    if not takes_scores and not any(k in loss.params for k in _RAW_FLAGS):
        raise ValueError(f"loss {_label(loss)!r} takes y_pred in {dom}, but the estimators train raw scores, so it"
                         " cannot be searched; 'binary_cross_entropy' or 'cross_entropy' (proper as well) can.")
    cw = loss.params.get("class_weight")
    if cw is not None and n_classes and len(np.atleast_1d(cw)) != n_classes:
        raise ValueError(f"loss {_label(loss)!r} has {len(np.atleast_1d(cw))} class weights, but y has {n_classes}"
                         " classes")


def _respond(est: Any, X: np.ndarray, metric: _Metric, task: str) -> np.ndarray:
    """What the metric scores: predictions, probabilities, or ranking scores."""
    if task == "regression":
        return est.predict(X)
    if metric.response == "predict":
        return est.predict(X)
    binary = len(est.classes_) == 2
    if metric.response == "score" and binary:
        return est.decision_function(X)
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    # losses without probabilities (hinge, weighted or focal losses): the sigmoid / softmax of the scores
    scores = est.decision_function(X)
    if binary:
        e = np.exp(-np.abs(scores))
        p = np.where(scores >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return np.stack([1.0 - p, p], axis=1)
    z = np.exp(scores - scores.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _fit_and_score(task: str, loss_name: str, loss_params: dict[str, Any], estimator_params: dict[str, Any],
                   X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, metric_name: str) -> float:
    """One fold of one candidate (a module-level function: it travels to loky, dask and ray workers)."""
    from .sklearn import LossClassifier, LossRegressor

    cls = LossRegressor if task == "regression" else LossClassifier
    est = cls(loss=loss_name, loss_params=loss_params or None, **estimator_params)
    est.fit(X[train], y[train])
    metric = _metric(metric_name)
    classes = None if task == "regression" else np.unique(y)
    return _metric_value(metric, y[test], _respond(est, X[test], metric, task), classes)


@dataclass
class SearchResult:
    """Cross-validated scores of each candidate loss (rows ordered best first).

    ``table``: one dict per candidate (``label``, ``loss``, ``params``, ``scores`` per fold,
    ``mean``, ``std``, ``ci_low``/``ci_high`` (95%, mean ± t·sd/√k), ``rank``);
    ``best_loss`` (a Loss), ``best``/``runner_up`` (rows), ``metric``,
    ``greater_is_better``, ``cv``, ``backend``; ``comparison``: the paired difference of the
    best and the runner-up over the folds.
    """

    metric: str
    greater_is_better: bool
    task: str
    cv: int
    n_samples: int
    backend: str
    splitter: str
    table: list[dict[str, Any]]

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
                "comparison": self.comparison, "table": rows}

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
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SearchResult(metric={self.metric!r}, best={self.best['label']!r}, candidates={len(self.table)})"


_BACKENDS = ("loky", "threading", "sequential", "dask", "ray")


def search(X: Any, y: Any, losses: Sequence[Any] | None = None,
           param_grid: dict[str, dict[str, Sequence[Any]]] | None = None, metric: str | None = None, cv: int = 5,
           n_jobs: int | None = None, backend: str = "loky", *,
           scheduler: Any = None, estimator_params: dict[str, Any] | None = None, random_state: int = 0,
           progress: bool | None = None) -> SearchResult:
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
    run and stderr is a terminal).

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
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, _BACKENDS))}; got {backend!r}."
                         f"{V.suggest(str(backend), _BACKENDS)}")
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ValueError(f"cv must be an integer number of folds >= 2; got {cv!r}")
    if losses is None:
        losses = recommend(y, X=Xa, metric=metric, random_state=random_state).losses(3)
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
            small = _plain(classes[np.argmin(counts)])
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
    scores = _run(jobs, specs, folds, task, est_params, Xa, y, m.name, n_jobs, backend, scheduler, progress)
    table = _table(labelled, scores, m)
    return SearchResult(m.name, m.greater_is_better, task if task == "regression" else
                        ("binary" if n_classes == 2 else "multiclass"), cv, len(y), backend,
                        f"{type(splitter).__name__}(shuffle=True, random_state={random_state})", table)


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


def _run(jobs: list[tuple[int, int]], specs: list[tuple[str, dict]], folds: list, task: str, est_params: dict,
         X: np.ndarray, y: np.ndarray, metric_name: str, n_jobs: int | None, backend: str, scheduler: Any,
         progress: bool | None) -> np.ndarray:
    import joblib

    calls = [joblib.delayed(_fit_and_score)(task, specs[i][0], specs[i][1], est_params, X, y, folds[j][0], folds[j][1],
                                            metric_name) for i, j in jobs]
    show = progress if progress is not None else (len(calls) > 20 and sys.stderr.isatty())
    config: dict[str, Any] = {"backend": backend}
    client, own_client = None, False
    if backend == "dask":
        client, own_client = _dask_client(scheduler)
        config["client"] = client
    elif backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError:
            raise ImportError("backend='ray' needs Ray: pip install 'losslab[ray]' (or pip install ray), or use "
                              "backend='loky' or 'dask'") from None
        register_ray()
    elif scheduler is not None:
        raise ValueError(f"scheduler is for backend='dask'; got scheduler={scheduler!r} with backend={backend!r}")
    if n_jobs is None:
        n_jobs = -1 if backend in ("dask", "ray") else 1
    try:
        with joblib.parallel_config(**config):
            results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(calls)
            values = list(_with_progress(results, len(calls), show))
    finally:
        if own_client:
            client.close()
    scores = np.full((len(specs), len(folds)), np.nan)
    for (i, j), v in zip(jobs, values):
        scores[i, j] = v
    return scores


def _dask_client(scheduler: Any) -> tuple[Any, bool]:
    try:
        from distributed import Client, get_client
    except ImportError:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'losslab[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        if not isinstance(address, str):
            raise TypeError(f"scheduler must be an address such as 'tcp://10.0.0.5:8786' or a distributed Client; "
                            f"got {address!r}")
        try:
            return Client(address, set_as_default=False, timeout=30), True
        except OSError as exc:
            raise OSError(f"cannot reach the dask scheduler at {address!r}: {exc}") from None
    try:
        return get_client(), False
    except ValueError:
        raise ValueError("backend='dask' needs a cluster: pass scheduler='tcp://HOST:8786', set DASK_SCHEDULER_ADDRESS,"
                         " or create a distributed.Client first") from None


def _with_progress(results: Iterable[float], total: int, show: bool) -> Iterable[float]:
    if not show:
        yield from results
        return
    try:
        from rich.console import Console
        from rich.progress import Progress
    except ImportError:
        for done, value in enumerate(results, 1):
            print(f"\rsearch: {done}/{total} fits", end="", file=sys.stderr, flush=True)
            yield value
        print(file=sys.stderr)
        return
    with Progress(console=Console(stderr=True), transient=True) as bar:  # stdout keeps the table only
        task = bar.add_task("cross-validating losses", total=total)
        for value in results:
            bar.advance(task)
            yield value
