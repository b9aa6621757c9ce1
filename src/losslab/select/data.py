"""Describing the data: input checks, the task, and the statistics the advice rests on
(outliers by MAD, skewness, tail index, counts and excess zeros, class imbalance, and
with X a k-NN estimate of how much is noise), with the sentences that print them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._json import to_json

TASKS = ("regression", "binary", "multiclass", "classification")


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
        if task not in TASKS:
            raise ValueError(f"task must be None (inferred) or one of {', '.join(map(repr, TASKS))}; got {task!r}")
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
        raise ValueError(f"y is constant (every one of the {len(y)} targets is {to_json(values[0])!r}): there is"
                         " nothing to learn and no loss to prefer; check the target column.")


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
    # Statistics of y / max|y|, scaled back: at |y| near 1e300 the squares inside sd and
    # skewness overflow; skewness and kurtosis do not depend on the scale.
    scale = float(np.max(np.abs(y))) or 1.0
    z = y / scale
    d: dict[str, Any] = {"task": "regression", "n_samples": len(y)}
    d.update(mean=float(np.mean(z)) * scale, std=float(np.std(z)) * scale, median=float(np.median(y)),
             min=float(np.min(y)), max=float(np.max(y)))
    d["skewness"] = float(stats.skew(z))
    # what the tails are measured on: the target, or with X the residuals of a least-squares fit
    r, source = z - np.median(z), "target"
    if X is not None and X.shape[1] > 0 and len(y) > X.shape[1] + 2:
        A = np.column_stack([X, np.ones(len(y))])
        coef, *_ = np.linalg.lstsq(A, z, rcond=None)
        r, source = z - A @ coef, "residuals of a linear least-squares fit on X"
    dev = np.abs(r - np.median(r))
    mad = float(np.median(dev))
    d["tails_measured_on"] = source
    d["mad"] = mad * scale
    d["robust_sd"] = 1.4826 * mad * scale  # the MAD of a Gaussian is 0.6745 σ
    d["outlier_fraction"] = float(np.mean(dev > 5 * mad)) if mad > 0 else float(np.mean(dev > 0))
    d["excess_kurtosis"] = float(stats.kurtosis(r))
    d["residual_skewness"] = float(stats.skew(r))
    d["tail_index"] = _hill_tail_index(dev)
    # whole numbers that float64 holds exactly (below 2^53) can be counts; larger ones are amounts
    integer = bool(np.all(np.abs(y) < 2.0**53) and np.all(y == np.round(y)))
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

        pred = cross_val_predict(KNeighborsRegressor(n_neighbors=5), X, z,
                                 cv=KFold(5, shuffle=True, random_state=random_state))
        # a share of the variance, at most all of it: k-NN can predict worse than the mean, which explains none
        d["knn_unexplained_fraction"] = min(1.0, float(np.mean((z - pred) ** 2) / max(np.var(z), 1e-300)))
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
            if d["knn_unexplained_fraction"] >= 1.0:
                lines.append("k-NN (5 neighbours, 5-fold) explains none of the variance (it predicts no better than"
                             " the mean: noise, or structure k-NN misses)")
            else:
                lines.append(f"k-NN (5 neighbours, 5-fold) leaves {_pct(d['knn_unexplained_fraction'])} of the"
                             " variance unexplained (noise plus what k-NN misses)")
        return lines
    counts = ", ".join(f"{c}: {n}" for c, n in zip(d["classes"], d["class_counts"]))
    lines = [f"{d['n_classes']} classes ({counts}); imbalance 1:{d['imbalance_ratio']:.3g}"]
    if "knn_disagreement" in d:
        lines.append(f"k-NN (5 neighbours) disagrees with {_pct(d['knn_disagreement'])} of the labels "
                     "(an upper bound on label noise)")
    return lines


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 or x == 0 else f"{100 * x:.2g}%"
