"""Metrics: the names ``recommend`` and ``search`` accept, what each one scores (the
statistic its best prediction is) and its value on held-out predictions.

Scikit-learn scorer names (``"neg_mean_absolute_error"``, ``"neg_log_loss"``, ``"f1"``, …)
and short names (``"mse"``, ``"mae"``, ``"pinball_0.9"``, ``"log_loss"``, ``"brier"``, …);
scores are in the metric's own units and sign (an MSE is positive, lower is better).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .. import _validate as V

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
