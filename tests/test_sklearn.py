"""losslab.sklearn: LossRegressor and LossClassifier.

Oracles: scikit-learn's own estimator checks; numpy.linalg.lstsq; Ridge, Lasso,
LogisticRegression and PoissonRegressor with the penalty converted to our convention
(the conversion is derived next to each comparison).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import linear_model  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import losslab.datasets as D  # noqa: E402
from losslab.sklearn import LossClassifier, LossRegressor  # noqa: E402


@parametrize_with_checks(
    [
        LossRegressor(random_state=0),
        LossClassifier(random_state=0),
        LossClassifier(random_state=0, loss="hinge", max_epochs=60),
        LossRegressor(random_state=0, loss="huber", model="mlp", hidden_layer_sizes=(8,), learning_rate=0.05, max_epochs=60),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_import_losslab_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = "import sys, losslab; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture(scope="module")
def linear_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 5))
    y = X @ np.array([1.0, 0.0, -2.0, 0.0, 0.5]) + 1.5 + 0.3 * rng.standard_normal(150)
    return X, y


def test_regressor_mse_is_least_squares(linear_data):
    X, y = linear_data
    reg = LossRegressor(random_state=0).fit(X, y)
    expected = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    np.testing.assert_allclose(np.r_[reg.coef_, reg.intercept_], expected, rtol=1e-6, atol=1e-8)
    assert reg.coef_.shape == (5,) and isinstance(reg.intercept_, float)
    assert reg.history_.epochs == reg.n_iter_ >= 1


def test_regressor_l2_matches_ridge(linear_data):
    X, y = linear_data
    n, alpha = len(y), 10.0
    # Ridge minimises Σ(y − ŷ)² + α‖w‖²; divided by n: mean squared error + (α/n)Σw².
    ref = linear_model.Ridge(alpha=alpha).fit(X, y)
    reg = LossRegressor(random_state=0, penalty="l2", alpha=alpha / n).fit(X, y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, atol=1e-6)
    assert reg.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)


def test_regressor_l1_matches_lasso_with_exact_zeros(linear_data):
    X, y = linear_data
    alpha = 0.05
    # Lasso minimises (1/2n)Σ(y − ŷ)² + α‖w‖₁; times 2: mean squared error + 2α‖w‖₁.
    ref = linear_model.Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    reg = LossRegressor(random_state=0, penalty="l1", alpha=2 * alpha).fit(X, y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_array_equal(reg.coef_ == 0, ref.coef_ == 0)
    assert np.sum(reg.coef_ == 0) == 2


def test_regressor_poisson_uses_a_log_link_and_matches_scikit_learn():
    data = D.counts(n=400, n_features=3, seed=0)
    # PoissonRegressor (alpha=0) minimises the mean half Poisson deviance
    # y·log(y/μ) − y + μ, which differs from our μ − y·log μ by terms free of μ.
    ref = linear_model.PoissonRegressor(alpha=0.0, tol=1e-12, max_iter=10_000).fit(data.X, data.y)
    reg = LossRegressor(random_state=0, loss="poisson").fit(data.X, data.y)
    np.testing.assert_allclose(reg.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(reg.predict(data.X[:5]), ref.predict(data.X[:5]), rtol=1e-5)


def test_classifier_logistic_probabilities_match_scikit_learn():
    data = D.load("breast_cancer")
    X = StandardScaler().fit_transform(data.X)[:, :6]
    n, C = len(X), 1.0
    # LogisticRegression minimises C·Σ logloss + ½‖w‖²; divided by C·n: mean logloss + Σw²/(2Cn).
    ref = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, data.y)
    clf = LossClassifier(random_state=0, loss="binary_cross_entropy", penalty="l2", alpha=1 / (2 * C * n)).fit(X, data.y)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-4)
    assert clf.coef_.shape == (1, 6)
    # The multiclass cross-entropy on two classes trains two scores w₀·x, w₁·x whose
    # difference d = w₁ − w₀ is the logit; the penalty ‖w₀‖² + ‖w₁‖² is smallest at
    # w₁ = −w₀ = d/2, where it is ‖d‖²/2: the same optimum as the binary loss with twice λ.
    both = LossClassifier(random_state=0, loss="cross_entropy", penalty="l2", alpha=2 / (2 * C * n)).fit(X, data.y)
    np.testing.assert_allclose(both.predict_proba(X), ref.predict_proba(X), atol=1e-4)


def test_classifier_string_labels_one_vs_rest_and_probabilities():
    data = D.load("iris")
    X = StandardScaler().fit_transform(data.X)
    labels = np.array(data.target_names)[data.y]
    hinge = LossClassifier(random_state=0, loss="hinge", learning_rate=0.1, max_epochs=300).fit(X, labels)  # one-vs-rest
    assert hinge.score(X, labels) > 0.9  # LinearSVC(loss="hinge") one-vs-rest scores 0.927 on these data
    assert set(hinge.predict(X)) <= set(labels)
    assert not hasattr(hinge, "predict_proba")  # the hinge loss estimates the sign, not a probability
    ce = LossClassifier(random_state=0).fit(X, labels)
    proba = ce.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ce.classes_[np.argmax(proba, axis=1)], ce.predict(X))
    mh = LossClassifier(random_state=0, loss="modified_huber", learning_rate=0.1, max_epochs=300).fit(X, labels)  # a proper margin loss
    np.testing.assert_allclose(mh.predict_proba(X).sum(axis=1), 1.0)


def test_grid_search_over_losses():
    data = D.houses(n=120, noise=10.0, outliers=12, seed=0)
    search = GridSearchCV(LossRegressor(random_state=0), {"loss": ["mse", "mae", "huber"]}, scoring="neg_median_absolute_error", cv=3)
    search.fit(data.X / 100.0, data.y / 100.0)
    assert len(search.cv_results_["params"]) == 3
    # gross outliers in 10% of the houses: a robust loss fits the bulk better than mse
    assert search.best_params_["loss"] in ("mae", "huber")
    mse_rank = search.cv_results_["rank_test_score"][0]
    assert mse_rank == 3


def test_pipeline_and_cross_val_score():
    data = D.load("wine")
    pipeline = make_pipeline(StandardScaler(), LossClassifier(random_state=0, loss="focal", max_epochs=100))
    scores = cross_val_score(pipeline, data.X, data.y, cv=3)
    assert scores.mean() > 0.9


def test_early_stopping_holds_out_validation_data(linear_data):
    X, y = linear_data
    reg = LossRegressor(model="mlp", hidden_layer_sizes=(16,), optimizer="adam", learning_rate=0.05,
                        early_stopping=True, max_epochs=400, random_state=0).fit(X, y)
    assert len(reg.history_.val_loss) == reg.history_.epochs
    assert reg.history_.best_epoch == int(np.argmin(reg.history_.val_loss))
    assert not hasattr(reg, "coef_")


def test_random_state_makes_fits_reproducible(linear_data):
    X, y = linear_data
    params = dict(model="mlp", hidden_layer_sizes=(8,), optimizer="sgd", learning_rate=0.05, batch_size=16,
                  max_epochs=20)
    a = LossRegressor(random_state=3, **params).fit(X, y).predict(X)
    b = LossRegressor(random_state=3, **params).fit(X, y).predict(X)
    c = LossRegressor(random_state=4, **params).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_input_gives_clear_errors(linear_data):
    X, y = linear_data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LossRegressor(random_state=0).fit(X, y[:-1])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LossRegressor(random_state=0).fit(Xn, y)
    with pytest.raises(ValueError, match="'hinge' is a binary loss; LossRegressor needs a regression loss"):
        LossRegressor(random_state=0, loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="'mse' is a regression loss; LossClassifier needs a classification loss"):
        LossClassifier(random_state=0, loss="mse").fit(X, y > 0)
    with pytest.raises(ValueError, match="unknown loss 'hubber'"):
        LossRegressor(random_state=0, loss="hubber").fit(X, y)
    with pytest.raises(ValueError, match="penalty must be None, 'l1', 'l2' or 'elastic_net'; got 'l3'"):
        LossRegressor(random_state=0, penalty="l3", alpha=0.1).fit(X, y)
    with pytest.raises(ValueError, match="model must be 'linear' or 'mlp'; got 'tree'"):
        LossRegressor(random_state=0, model="tree").fit(X, y)
    with pytest.raises(ValueError, match="y_true must hold counts"):
        LossRegressor(random_state=0, loss="poisson").fit(X, y - 10.0)
    labels = np.where(y > 1.5, "high", "low")
    clf = LossClassifier(random_state=0).fit(X, labels)
    with pytest.raises(ValueError, match=r"labels the classifier never saw in fit: \['medium'\]"):
        clf.score(X[:3], ["high", "medium", "low"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        LossClassifier(random_state=0).fit(X, np.zeros(len(X)))


def test_default_mae_regressor_on_unscaled_features_matches_median_regression():
    """Features far from 0 (0-100): the defaults still reach the L1 optimum, the one
    scikit-learn's QuantileRegressor(quantile=0.5, alpha=0) (an exact LP solver) finds."""
    from sklearn.linear_model import QuantileRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 100, size=(200, 2))
    y = X @ np.array([2.0, -1.5]) + 5 + 3 * rng.standard_t(2, size=200)
    reference = QuantileRegressor(quantile=0.5, alpha=0.0).fit(X, y)

    def mean_absolute_error(est):
        return np.mean(np.abs(y - X @ est.coef_ - est.intercept_))

    # The L1 objective is flat along some directions (the intercept moves by ~0.07 for a
    # change of 5e-5 in the objective), so every seed must reach the optimal objective,
    # and the seeded fit (random_state=0) the LP's coefficients.
    for seed in range(5):
        fitted = LossRegressor(random_state=seed, loss="mae").fit(X, y)
        assert mean_absolute_error(fitted) == pytest.approx(mean_absolute_error(reference), rel=2e-4)
    ours = LossRegressor(random_state=0, loss="mae").fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=2e-3)
    assert ours.intercept_ == pytest.approx(reference.intercept_, abs=0.05)


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "hinge"])
def test_binary_coef_has_scikit_learns_shape_and_meaning(loss):
    # scikit-learn's linear classifiers: coef_ (1, p), intercept_ (1,), and
    # decision_function = X @ coef_[0] + intercept_[0] (> 0 means classes_[1]).
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] - X[:, 2] > 0, "yes", "no")
    clf = LossClassifier(random_state=0, loss=loss).fit(X, y)
    assert clf.coef_.shape == (1, 3) and clf.intercept_.shape == (1,)
    np.testing.assert_allclose(clf.decision_function(X), X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-10, atol=1e-10)


def test_class_weight_equals_the_same_sample_weights_and_lifts_minority_recall():
    # scikit-learn's convention: class_weight multiplies into the sample weights; "balanced"
    # is n / (n_classes · count). Independent oracle: passing those weights by hand.
    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(0.0, 1.0, size=(380, 2)), rng.normal(1.2, 1.0, size=(20, 2))]
    y = np.r_[np.zeros(380, int), np.ones(20, int)]
    balanced = LossClassifier(random_state=0, class_weight="balanced").fit(X, y)
    by_hand = LossClassifier(random_state=0).fit(X, y, sample_weight=np.where(y == 1, 400 / 40, 400 / 760))
    np.testing.assert_allclose(balanced.coef_, by_hand.coef_, rtol=1e-6, atol=1e-8)
    plain = LossClassifier(random_state=0).fit(X, y)
    recall = lambda clf: np.mean(clf.predict(X[y == 1]) == 1)  # noqa: E731
    assert recall(balanced) > recall(plain) + 0.3
    with pytest.raises(ValueError):
        LossClassifier(random_state=0, class_weight="balance").fit(X, y)


def test_sample_weight_follows_the_losses_rule_and_weights_the_validation_loss(linear_data):
    X, y = linear_data
    with pytest.raises(ValueError, match=r"sample_weight must be non-negative; got min -1"):
        LossRegressor(random_state=0).fit(X, y, sample_weight=np.r_[-1.0, np.ones(149)])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(150,\)"):
        LossRegressor(random_state=0).fit(X, y, sample_weight=np.ones(149))
    # Keras's column of weights is the same as a vector.
    np.testing.assert_allclose(LossRegressor(random_state=0).fit(X, y, sample_weight=np.full((150, 1), 2.0)).coef_,
                               LossRegressor(random_state=0).fit(X, y).coef_, rtol=1e-6, atol=1e-8)
    # One number weights every sample alike (scikit-learn's convention): the unweighted fit.
    np.testing.assert_allclose(LossRegressor(random_state=0).fit(X, y, sample_weight=3.0).coef_, LossRegressor(random_state=0).fit(X, y).coef_,
                               rtol=1e-6, atol=1e-8)


def test_early_stopping_scores_the_held_out_rows_with_their_weights(linear_data, monkeypatch):
    # The estimator holds out 10% for early stopping; fit must get those rows' weights with
    # them, so that the validation loss is weighted as the training loss is. A spy on fit
    # reads what the estimator passes; y_val (not centred) finds each held-out row.
    import losslab.sklearn as S

    X, y = linear_data
    w = 1.0 + np.arange(150) / 1000.0  # a weight that names its row
    seen = {}
    real_fit = S.fit

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(S, "fit", spy)
    LossRegressor(early_stopping=True, max_epochs=5, random_state=0).fit(X, y, sample_weight=w)
    X_val, y_val, w_val = seen["validation_data"]
    rows = [int(np.argmin(np.abs(y - t))) for t in y_val]
    assert len(set(rows)) == len(y_val) == 15
    np.testing.assert_array_equal(w_val, w[rows])
    assert seen["sample_weight"].sum() + w_val.sum() == pytest.approx(w.sum())


def test_estimator_parameters_and_inputs_are_checked_by_their_own_names():
    """Issue 12: each bad input names itself (not a neighbour, not a Python internal)."""
    rng = np.random.default_rng(12)
    X = rng.normal(size=(30, 2))
    labels = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="class_weight must map each class to a finite weight >= 0"):
        LossClassifier(random_state=0, class_weight={0: -1.0, 1: 1.0}).fit(X, labels)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0; got inf"):
        LossRegressor(random_state=0, learning_rate=float("inf")).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="X must hold numbers; it holds text"):
        LossRegressor(random_state=0).fit(X.astype(str), X[:, 0])
    # An int is one hidden layer, as in scikit-learn's MLPs.
    model = LossRegressor(random_state=0, model="mlp", hidden_layer_sizes=5, max_epochs=2).fit(X, X[:, 0])
    assert model.model_.sizes == [2, 5, 1]
