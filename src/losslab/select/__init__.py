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

Modules: ``metrics`` (names, statistics, values), ``data`` (checks and the description
of the target), ``advice`` (recommend), ``labels`` (how candidates are named),
``candidates`` (what a search trains), ``folds`` (one fit), ``backends`` (where the fits
run), ``search`` (the table). The CSV reader is ``losslab.datasets.read_csv``.
"""

from __future__ import annotations

from ..datasets import read_csv
from .advice import Advice, Suggestion, recommend
from .metrics import default_metric, metric_names
from .search import SearchResult, search

__all__ = ["recommend", "search", "Advice", "Suggestion", "SearchResult", "metric_names", "default_metric",
           "read_csv"]
