"""One fold of one candidate: train an estimator with the loss, score the held-out part
(a module-level function: it travels to loky, dask and ray workers)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _stable as S
from .metrics import _metric, _Metric, _metric_value


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
        p = S.sigmoid(np, scores)
        return np.stack([1.0 - p, p], axis=1)
    return np.exp(S.log_softmax(np, scores))


def _fit_and_score(task: str, loss_name: str, loss_params: dict[str, Any], estimator_params: dict[str, Any],
                   X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, metric_name: str) -> float:
    """One fold of one candidate (a module-level function: it travels to loky, dask and ray workers)."""
    from ..sklearn import LossClassifier, LossRegressor

    cls = LossRegressor if task == "regression" else LossClassifier
    est = cls(loss=loss_name, loss_params=loss_params or None, **estimator_params)
    est.fit(X[train], y[train])
    metric = _metric(metric_name)
    classes = None if task == "regression" else np.unique(y)
    return _metric_value(metric, y[test], _respond(est, X[test], metric, task), classes)
