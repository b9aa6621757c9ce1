"""Choosing a loss: ``recommend`` (advice from the data) and ``search`` (cross-validated).

The data sets are synthetic, built so that the right answer is known from the consistency
table (squared error → mean, absolute error → median, pinball → quantile, log loss →
probability) and from robustness: each test checks that recommend's first choice is that
answer and that search's measured winner agrees. Data, folds and epochs are small so the
file runs in seconds.
"""

from __future__ import annotations

import json
import math
import re
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

import losslab as ll
from losslab.select import Advice, SearchResult, metric_names, recommend, search

# Non-smooth losses train with Adam; a larger first step than the estimators' default (0.01)
# lets 200 epochs reach the optimum on these unscaled targets (coefficients of size 2).
FAST = {"learning_rate": 0.05, "max_epochs": 200}


def linear_data(n: int, noise: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, 2.0, -1.0]) + noise


def agrees(result: SearchResult, loss: ll.Loss) -> bool:
    """The recommended loss won, or is not clearly worse than the winner (paired over the folds)."""
    if result.best_loss == loss:
        return True
    return not result.compare(result.best["label"], loss)["clear"]


# ----------------------------------------------------------------------------- known answers
def test_gaussian_noise_recommends_mse_and_search_agrees():
    rng = np.random.default_rng(1)
    X, y = linear_data(300, rng.normal(size=300))
    advice = recommend(y, X=X)
    assert advice.best == ll.get("mse")
    # Gaussian residuals: a Gaussian puts 0.075% beyond 5 MADs (5 × 0.6745 σ), so almost none here
    assert advice.describe["outlier_fraction"] < 0.01
    result = search(X, y, losses=["mse", "mae", "huber"], cv=3, estimator_params=FAST)
    assert agrees(result, ll.get("mse"))
    # mae estimates the median: under Gaussian noise it is less efficient (2/π), never clearly better
    assert not (result.compare("mae", "mse")["clear"] and result.row("mae")["mean"] < result.row("mse")["mean"])


def test_heavy_tails_recommend_a_robust_loss_and_search_agrees():
    rng = np.random.default_rng(2)
    X, y = linear_data(300, rng.standard_t(1.5, size=300))  # Student t, 1.5 degrees of freedom: infinite variance
    advice = recommend(y, X=X)
    assert advice.best.traits.robust and advice.best.name in ("huber", "mae", "cauchy")
    assert advice.ranking[0].score > [s for s in advice.ranking if s.loss.name == "mse"][0].score
    # the reason cites the outlier fraction, computed here independently on least-squares residuals
    A = np.column_stack([X, np.ones(len(y))])
    r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    dev = np.abs(r - np.median(r))
    fraction = np.mean(dev > 5 * np.median(dev))
    assert advice.describe["outlier_fraction"] == pytest.approx(fraction)
    assert f"{100 * fraction:.1f}% of the residuals lie more than 5 MADs" in advice.ranking[0].reasons[0]
    # squared errors of infinite-variance noise are dominated by a few points; judge the fit by MAE
    result = search(X, y, losses=["mse", "huber", "mae"], metric="mae", cv=3, estimator_params=FAST)
    assert result.best_loss.traits.robust
    assert result.row("mse")["rank"] == 3


def test_pinball_metric_recommends_quantile_and_search_agrees():
    rng = np.random.default_rng(3)
    X, _ = linear_data(300, 0.0)
    y = X @ np.array([1.0, 2.0, -1.0]) + rng.normal(size=300) * np.exp(0.5 * X[:, 1])  # spread grows with X[:, 1]
    advice = recommend(y, X=X, metric="pinball_0.9")
    assert advice.best == ll.get("quantile", q=0.9)
    assert "pinball loss at q=0.9" in advice.ranking[0].reasons[0]
    result = search(X, y, losses=["mse", "mae", ("quantile", {"q": 0.9})], metric="pinball_0.9", cv=3,
                    estimator_params=FAST)
    assert result.best_loss == ll.get("quantile", q=0.9)
    assert result.comparison["clear"]


def test_counts_recommend_poisson_or_tweedie_and_search_agrees():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = rng.poisson(np.exp(0.3 + 0.7 * X[:, 0] + 0.4 * X[:, 1]))  # log-linear mean: the Poisson GLM is right
    advice = recommend(y, X=X)
    assert advice.best.name in ("poisson", "tweedie")
    assert advice.describe["counts"]
    # the Pearson dispersion of counts from that very model is close to 1
    assert advice.describe["dispersion"] == pytest.approx(1.0, abs=0.3)
    result = search(X, y, losses=["mse", "poisson", "tweedie"], cv=3)
    assert result.best_loss.name in ("poisson", "tweedie")
    assert result.row("mse")["rank"] == 3


def test_imbalanced_labels_recommend_weights_or_focal_and_search_agrees():
    rng = np.random.default_rng(5)
    n_pos, n_neg = 10, 990  # 1:99
    X = np.vstack([rng.normal(1.5, 1.0, size=(n_pos, 2)), rng.normal(0.0, 1.0, size=(n_neg, 2))])
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    advice = recommend(y, X=X)
    assert advice.describe["imbalance_ratio"] == pytest.approx(99.0)
    best = advice.best
    weighted = best.params.get("pos_weight") is not None or best.params.get("class_weight") is not None
    assert weighted or best.name in ("focal", "binary_focal")
    assert "1:99 imbalance" in advice.ranking[0].reasons[0]
    # balanced accuracy (the default classification metric) does not reward predicting only the majority
    result = search(X, y, losses=[best, "binary_cross_entropy"], cv=3, estimator_params={"max_epochs": 60})
    assert result.metric == "balanced_accuracy"
    assert result.best_loss == best
    # with a proper scoring rule as the metric the advice turns to the plain log loss
    assert recommend(y, X=X, metric="neg_log_loss").best == ll.get("binary_cross_entropy")


def test_metric_names_follow_the_consistency_table():
    rng = np.random.default_rng(6)
    y = rng.gamma(2.0, size=200) + 5.0  # positive, mildly skewed
    assert recommend(y, metric="neg_mean_absolute_error").best == ll.get("mae")
    assert recommend(y, metric="mae").best == ll.get("mae")
    assert recommend(y, metric="neg_mean_squared_error").best == ll.get("mse")
    assert recommend(y, metric="neg_mean_poisson_deviance").best == ll.get("poisson")
    assert recommend(y, metric="neg_mean_gamma_deviance").best == ll.get("gamma_deviance")
    assert recommend(y, metric="pinball_0.25").best == ll.get("quantile", q=0.25)
    labels = rng.integers(0, 3, size=200)
    assert recommend(labels, task="multiclass", metric="log_loss").best == ll.get("cross_entropy")
    assert "pinball_<q>" in metric_names() and "neg_log_loss" in metric_names()


# ----------------------------------------------------------------------------- the objects
def test_advice_reads_well_and_serialises():
    rng = np.random.default_rng(7)
    X, y = linear_data(120, rng.normal(size=120))
    advice = recommend(y, X=X)
    assert isinstance(advice, Advice)
    text = str(advice)
    assert text.splitlines()[0].startswith("losslab advice: regression, 120 samples")
    assert "1. mse" in text
    data = json.loads(json.dumps(advice.to_dict()))
    assert data["best"] == "mse" and data["ranking"][0]["loss"] == "mse"
    assert data["describe"]["n_samples"] == 120
    assert [s.loss for s in advice.ranking[:2]] == advice.losses(2)


def test_search_result_table_and_intervals():
    rng = np.random.default_rng(8)
    X, y = linear_data(90, rng.normal(size=90))
    result = search(X, y, losses=["mse", "huber"], param_grid={"huber": {"delta": [0.5, 2.0]}}, cv=3)
    labels = [r["label"] for r in result.table]
    assert sorted(labels) == ["huber(delta=0.5)", "huber(delta=2)", "mse"]
    means = [r["mean"] for r in result.table]
    assert means == sorted(means)  # mse: lower is better, best first
    row = result.table[0]
    # 95% interval: mean ± t(0.975, k−1)·sd/√k with t(0.975, 2) = 4.302652729911275 (SciPy)
    half = 4.302652729911275 * np.std(row["scores"], ddof=1) / math.sqrt(3)
    assert row["ci_high"] - row["mean"] == pytest.approx(half)
    assert row["mean"] == pytest.approx(np.mean(row["scores"]))
    assert result.runner_up["label"] == labels[1]
    expected = {"mse": ll.get("mse"), "huber(delta=0.5)": ll.get("huber", delta=0.5),
                "huber(delta=2)": ll.get("huber", delta=2.0)}
    assert result.best_loss == expected[labels[0]]
    text = str(result)
    assert "best:" in text and "runner-up:" in text and labels[0] in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["best"] == labels[0] and len(data["table"]) == 3


def test_search_progress_callable_counts_every_fit():
    """progress=callable is called as progress(done, total) once per (loss, fold) fit, in order;
    anything else that is not a bool or None is refused by name."""
    rng = np.random.default_rng(8)
    X, y = linear_data(60, rng.normal(size=60))
    calls = []
    search(X, y, losses=["mse", "mae"], cv=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 6) for k in range(1, 7)]
    with pytest.raises(TypeError, match="progress must be"):
        search(X, y, losses=["mse"], cv=3, progress="yes")


def test_search_scores_match_a_hand_written_cross_validation():
    from sklearn.model_selection import KFold

    from losslab.sklearn import LossRegressor

    rng = np.random.default_rng(9)
    X, y = linear_data(60, rng.normal(size=60))
    result = search(X, y, losses=["mse"], metric="mae", cv=3, random_state=4)
    expected = []
    for train, test in KFold(3, shuffle=True, random_state=4).split(X):
        est = LossRegressor(loss="mse", random_state=4).fit(X[train], y[train])
        expected.append(np.mean(np.abs(y[test] - est.predict(X[test]))))
    assert result.table[0]["scores"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("task, loss, scorer", [
    ("regression", "mse", "neg_mean_squared_error"),
    ("regression", "mse", "neg_root_mean_squared_error"),
    ("regression", "mae", "neg_median_absolute_error"),
    ("regression", "mse", "r2"),
    ("binary", "binary_cross_entropy", "neg_log_loss"),
    ("binary", "binary_cross_entropy", "neg_brier_score"),
    ("binary", "logistic", "f1"),
    ("binary", "binary_cross_entropy", "average_precision"),
    ("binary", "hinge", "roc_auc"),
    ("multiclass", "cross_entropy", "neg_log_loss"),
    ("multiclass", "cross_entropy", "neg_brier_score"),
    ("multiclass", "cross_entropy", "f1_macro"),
    ("multiclass", "cross_entropy", "roc_auc_ovr"),
])
def test_metrics_agree_with_scikit_learn_scorers(task, loss, scorer):
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import KFold, StratifiedKFold

    from losslab.sklearn import LossClassifier, LossRegressor

    rng = np.random.default_rng(14)
    X = rng.normal(size=(90, 2))
    if task == "regression":
        y, folds, cls = X @ [1.0, -1.0] + rng.normal(size=90), KFold(3, shuffle=True, random_state=0), LossRegressor
    else:
        k = 2 if task == "binary" else 3
        y = (X[:, 0] + 0.7 * rng.normal(size=90) > 0).astype(int) + (k == 3) * (X[:, 1] > 0.5)
        folds, cls = StratifiedKFold(3, shuffle=True, random_state=0), LossClassifier
    result = search(X, y, losses=[loss], metric=scorer, cv=3, estimator_params={"max_epochs": 50})
    # scikit-learn's scorer of the same name on the same folds; its "neg_" scores are our values negated
    sign = -1.0 if scorer.startswith("neg_") else 1.0
    expected = [sign * get_scorer(scorer)(cls(loss=loss, max_epochs=50, random_state=0).fit(X[tr], y[tr]), X[te], y[te])
                for tr, te in folds.split(X, y)]
    assert result.table[0]["scores"] == pytest.approx(expected, rel=1e-9)


def test_to_frame_with_pandas():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(10)
    X, y = linear_data(60, rng.normal(size=60))
    frame = search(X, y, losses=["mse", "huber"], cv=3).to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == [1, 2]


# ----------------------------------------------------------------------------- backends
def test_dask_cluster_gives_the_same_table_as_loky(monkeypatch):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(11)
    X, y = linear_data(90, rng.standard_t(3, size=90))
    kwargs = dict(losses=["mse", "mae", "huber"], param_grid={"huber": {"delta": [0.5, 2.0]}}, cv=3,
                  metric="mae", estimator_params={"max_epochs": 40})
    local = search(X, y, n_jobs=2, backend="loky", **kwargs)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        on_dask = search(X, y, backend="dask", scheduler=cluster.scheduler_address, **kwargs)
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        from_env = search(X, y, backend="dask", **kwargs)
    for other in (on_dask, from_env):
        assert other.backend == "dask"
        assert [r["label"] for r in other.table] == [r["label"] for r in local.table]
        for a, b in zip(local.table, other.table):
            assert a["scores"] == pytest.approx(b["scores"], rel=1e-12, abs=0)


def test_dask_without_a_cluster_is_a_clear_error(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    X, y = linear_data(30, np.random.default_rng(0).normal(size=30))
    with pytest.raises(ValueError, match="backend='dask' needs a cluster: pass scheduler="):
        search(X, y, losses=["mse"], cv=3, backend="dask")


def test_ray_backend_without_ray_says_how_to_install():
    try:
        import ray  # noqa: F401
    except ImportError:
        X, y = linear_data(30, np.random.default_rng(0).normal(size=30))
        with pytest.raises(ImportError, match=r"pip install 'losslab\[ray\]'"):
            search(X, y, losses=["mse"], cv=3, backend="ray")
    else:
        pytest.skip("ray is installed")


# ----------------------------------------------------------------------------- bad input
@pytest.fixture
def small():
    return linear_data(40, np.random.default_rng(12).normal(size=40))


def test_constant_target_is_an_error(small):
    X, _ = small
    y = np.full(40, 3.0)
    with pytest.raises(ValueError, match=r"y is constant \(every one of the 40 targets is 3.0\)"):
        recommend(y)
    with pytest.raises(ValueError, match="y is constant"):
        search(X, y, losses=["mse"])


def test_nan_is_an_error(small):
    X, y = small
    bad = y.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match=r"y holds 1 NaN or infinite value\(s\) \(first at index 5\)"):
        recommend(bad)
    badX = X.copy()
    badX[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"X holds 1 NaN"):
        search(badX, y, losses=["mse"])


def test_fewer_samples_than_folds_is_an_error():
    X, y = linear_data(4, np.arange(4.0))
    with pytest.raises(ValueError, match="cv=5 folds need at least 5 samples; y has 4"):
        search(X, y, losses=["mse"], cv=5)
    labels = np.r_[np.zeros(10, int), np.ones(2, int)]
    with pytest.raises(ValueError, match="class 1 has 2"):
        search(np.zeros((12, 1)) + np.arange(12)[:, None], labels, losses=["cross_entropy"], cv=3)


def test_unknown_metric_lists_what_is_allowed(small):
    X, y = small
    with pytest.raises(ValueError, match=r"unknown metric 'neg_mean_absolut_error'\. Did you mean "
                                         r"'neg_mean_absolute_error'.*Allowed: accuracy"):
        recommend(y, metric="neg_mean_absolut_error")
    with pytest.raises(ValueError, match="pinball level must lie strictly between 0 and 1"):
        search(X, y, losses=["mse"], metric="pinball_1")
    with pytest.raises(ValueError, match="'log_loss' is a classification metric; the task is regression"):
        search(X, y, losses=["mse"], metric="neg_log_loss")


def test_loss_that_does_not_fit_the_task(small):
    X, y = small
    with pytest.raises(ValueError, match="mix regression and classification losses"):
        search(X, y, losses=["mse", "cross_entropy"])
    with pytest.raises(ValueError, match="y holds continuous values"):
        search(X, y, losses=["cross_entropy"])
    labels = np.array(["a", "b", "c", "d"] * 10)
    with pytest.raises(ValueError, match="regression losses, but y holds non-numeric labels"):
        search(X, labels, losses=["mae"])
    with pytest.raises(ValueError, match="'hinge' is a binary loss, but y has 4 classes"):
        search(X, labels, losses=["hinge"], cv=3)
    binary = (y > np.median(y)).astype(int)
    with pytest.raises(ValueError, match=r"'brier' takes y_pred in \[0, 1\].*cannot be searched"):
        search(X, binary, losses=["brier"], cv=3)
    with pytest.raises(ValueError, match=r"loss 'poisson' needs targets in \[0, inf\); y spans \[-"):
        search(X, y, losses=["poisson"])
    with pytest.raises(ValueError, match="unknown loss 'hubber'"):
        search(X, y, losses=["hubber"])
    with pytest.raises(ValueError, match="param_grid\\['huber'\\] has unknown parameter 'delt'"):
        search(X, y, losses=["huber"], param_grid={"huber": {"delt": [1.0]}})
    with pytest.raises(ValueError, match="backend must be one of"):
        search(X, y, losses=["mse"], backend="spark")
    with pytest.raises(ValueError, match="task must be None"):
        recommend(y, task="ranking")


# ----------------------------------------------------------------------------- command line
def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "losslab.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(13)
    X, y = linear_data(60, rng.normal(size=60))
    path = tmp_path / "data.csv"
    lines = ["a,b,c,price,city"] + [f"{a},{b},{c},{t},{'x' if t > 0 else 'y'}" for (a, b, c), t in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    numeric = tmp_path / "numeric.csv"
    numeric.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    return path, numeric


def test_cli_recommend_and_search(csv_file):
    _, numeric = csv_file
    out = run_cli("recommend", str(numeric), "--target", "price", "--metric", "mae")
    assert out.returncode == 0, out.stderr
    assert "losslab advice: regression, 60 samples, metric mae" in out.stdout and "1. mae" in out.stdout
    out = run_cli("search", str(numeric), "--target", "price", "--losses", "mse,huber", "--cv", "3",
                  "--max-epochs", "30")
    assert out.returncode == 0, out.stderr
    assert "cross-validated mse" in out.stdout and "best:" in out.stdout


def test_cli_bad_arguments(csv_file, tmp_path):
    path, numeric = csv_file
    out = run_cli("recommend", str(tmp_path / "missing.csv"), "--target", "price")
    assert out.returncode == 2 and "does not exist" in out.stderr
    out = run_cli("search", str(numeric), "--target", "prise", "--losses", "mse")
    assert out.returncode == 2 and "--target 'prise' is not a column" in out.stderr and "Did you mean 'price'" in out.stderr
    out = run_cli("recommend", str(path), "--target", "price")
    assert out.returncode == 2 and "column 'city' is not numeric ('x'" in out.stderr
    out = run_cli("search", str(numeric), "--target", "price", "--losses", "mse", "--metric", "f2")
    assert out.returncode == 2 and "unknown metric 'f2'" in out.stderr and "Traceback" not in out.stderr


# ----------------------------------------------------------------------------- issues 12 and 16
def test_knn_never_leaves_more_than_all_the_variance_unexplained():
    # y independent of X: k-NN predicts noise with noise, a mean squared error about (1 + 1/5)·var(y)
    # (its own 5 neighbours' average adds var/5), more than the variance itself.
    rng = np.random.default_rng(21)
    X, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    advice = recommend(y, X=X)
    assert advice.describe["knn_unexplained_fraction"] == 1.0
    assert "explains none of the variance" in str(advice) and "118" not in str(advice)


def test_one_skewness_figure_per_run():
    # skewed targets whose residuals on X are less skewed: two different skewness numbers exist
    rng = np.random.default_rng(22)
    X = rng.exponential(size=(300, 1)) * 3
    y = X[:, 0] + rng.exponential(size=300)
    text = str(recommend(y, X=X, metric="mae"))
    figures = set(re.findall(r"skewness (-?[0-9.]+)", text))
    assert len(figures) == 1, text


def test_huge_targets_have_finite_statistics():
    # A Gaussian sample scaled by 1e300: the mean and sd scale with it, skewness does not change.
    base = np.random.default_rng(23).normal(size=300)
    advice = recommend(base * 1e300)
    d, ref = advice.describe, recommend(base).describe
    assert math.isfinite(d["std"]) and d["std"] == pytest.approx(ref["std"] * 1e300, rel=1e-12)
    assert d["skewness"] == pytest.approx(ref["skewness"], rel=1e-9)
    assert not re.search(r"\b(inf|nan)\b", str(advice)), str(advice)


def test_whole_numbers_beyond_float64_integers_stay_floats(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("x,y\n1,1e30\n2,2e30\n3,3.5e30\n")
    X, y, _ = ll.datasets.read_csv(path, "y")
    assert y.dtype == np.float64 and y.tolist() == [1e30, 2e30, 3.5e30]
    assert recommend(y).describe["integer_valued"] is False  # not counts: 1e30 has no units digit in float64
    small = tmp_path / "labels.csv"
    small.write_text("x,y\n1,0\n2,1\n3,2\n")
    assert ll.datasets.read_csv(small, "y")[1].dtype == np.int64


def test_csv_with_a_byte_order_mark_and_the_target_first(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("price,size\n1.5,10\n2.5,20\n3.5,30\n".encode("utf-8-sig"))
    X, y, features = ll.datasets.read_csv(path, "price")
    assert features == ["size"] and y.tolist() == [1.5, 2.5, 3.5] and X[:, 0].tolist() == [10, 20, 30]
    out = run_cli("fit", str(path), "--target", "price", "--epochs", "5")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr


def test_semicolon_separated_csv_gets_a_hint(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("price;size\n1,5;10\n2,5;20\n")
    with pytest.raises(ValueError, match="looks separated by semicolons"):
        ll.datasets.read_csv(path, "price")


def test_pinball_metric_trains_a_quantile_named_without_q_at_that_level():
    rng = np.random.default_rng(24)
    X, y = linear_data(90, rng.exponential(size=90))
    result = search(X, y, losses=["mse", "quantile"], metric="pinball_0.9", cv=3, estimator_params=FAST)
    assert {row["label"] for row in result.table} == {"mse", "quantile(q=0.9)"}
    assert "trains at q=0.9" in result.notes[0] and "note: the metric is pinball_0.9" in str(result)
    kept = search(X, y, losses=["mse", ll.get("quantile", q=0.5)], metric="pinball_0.9", cv=3,
                  estimator_params=FAST)
    assert kept.notes == [] and {row["label"] for row in kept.table} == {"mse", "quantile"}
