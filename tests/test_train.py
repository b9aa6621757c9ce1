"""The training engine: models, optimizers, fit, History, diagnose.

Oracles: numpy.linalg.lstsq for least squares; scipy.optimize.minimize on the objective
written out in the test; scikit-learn's LogisticRegression and LinearSVC with the penalty
converted to our convention; central finite differences for the hand-written backprop.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import losslab as ll
import losslab.datasets as D
from losslab.train import (
    GD, LBFGS, MLP, SGD, Adam, AdamW, EarlyStopping, EmbeddingNet, History, Linear, RMSProp, TrainingDiverged,
    cosine, diagnose, fit, step,
)


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.7 + 0.3 * rng.standard_normal(200)
    return X, y


def _lstsq(X, y):
    return np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]


# --------------------------------------------------------------------------- least squares
OPTIMIZERS = {
    "default": (lambda: None, None, 100),
    "lbfgs": (lambda: LBFGS(), None, 100),
    "gd": (lambda: GD(lr=0.2), None, 300),
    "sgd": (lambda: SGD(lr=cosine(0.05)), 20, 100),
    "sgd_momentum": (lambda: SGD(lr=cosine(0.02), momentum=0.9), 20, 100),
    "nesterov": (lambda: SGD(lr=cosine(0.02), momentum=0.9, nesterov=True), 20, 100),
    "adam": (lambda: Adam(lr=cosine(0.1)), None, 300),
    "adamw": (lambda: AdamW(lr=cosine(0.1), weight_decay=0.0), None, 300),
    "rmsprop": (lambda: RMSProp(lr=cosine(0.05)), None, 300),
}


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.02, momentum=0.9), lambda: Adam(lr=0.05),
                                  lambda: AdamW(lr=0.05), lambda: RMSProp(lr=0.01)], ids=["sgd_momentum", "adam",
                                                                                        "adamw", "rmsprop"])
def test_state_dict_continues_a_run_exactly(make, regression_data):
    """Two fits of 7 epochs, the second resumed from the first's state_dict (through JSON),
    reach the weights of one fit of 14 epochs; resumed from zeros instead, they do not
    (the moments and Adam's bias correction would restart)."""
    X, y = regression_data

    def run(chunks, carry):
        model, saved = Linear(4, 1, seed=0), None
        for _ in range(chunks):
            opt = make()
            if carry and saved is not None:
                opt.load_state_dict(json.loads(json.dumps(saved)))
            fit(model, "mse", X, y, optimizer=opt, batch_size=None, epochs=14 // chunks, seed=0)
            saved = opt.state_dict()
        return np.r_[model.W.ravel(), model.b], saved

    whole, state = run(1, carry=True)
    resumed, _ = run(2, carry=True)
    restarted, _ = run(2, carry=False)
    np.testing.assert_allclose(resumed, whole, rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(restarted - whole)) > 1e-6
    assert state["t"] == 14


def test_load_state_dict_refuses_a_state_that_does_not_fit(regression_data):
    X, y = regression_data
    adam = Adam(lr=0.05)
    fit(Linear(4, 1, seed=0), "mse", X, y, optimizer=adam, batch_size=None, epochs=2)
    with pytest.raises(ValueError, match="'adam' optimizer's; this one is 'rmsprop'"):
        RMSProp().load_state_dict(adam.state_dict())
    other = Adam(lr=0.05)
    other.load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="shape"):
        fit(Linear(3, 1, seed=0), "mse", X[:, :3], y, optimizer=other, batch_size=None, epochs=1)
    with pytest.raises(ValueError, match="keys optimizer, t, state"):
        Adam().load_state_dict({"t": 1})


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_linear_mse_reaches_lstsq_with_every_optimizer(name, regression_data):
    X, y = regression_data
    make, batch_size, epochs = OPTIMIZERS[name]
    model = Linear(4, 1, seed=0)
    fit(model, "mse", X, y, optimizer=make(), batch_size=batch_size, epochs=epochs, seed=0)
    expected = _lstsq(X, y)  # oracle: numpy.linalg.lstsq with a column of ones for the intercept
    got = np.r_[model.W.ravel(), model.b]
    assert np.max(np.abs(got - expected)) <= 1e-3 * np.max(np.abs(expected))


def test_default_optimizer_reaches_the_huber_optimum(regression_data):
    # A smooth convex loss other than mse: the default (L-BFGS) against SciPy minimising
    # the mean Huber loss written out here.
    from scipy.optimize import minimize

    X, y = regression_data
    y = y.copy()
    y[:10] += 30.0  # outliers, so that Huber differs from least squares
    A = np.c_[X, np.ones(len(X))]

    def huber_mean(theta):
        r = A @ theta - y
        a = np.abs(r)
        value = np.where(a <= 1.0, 0.5 * r * r, a - 0.5).mean()
        grad = A.T @ np.clip(r, -1.0, 1.0) / len(y)
        return value, grad

    expected = minimize(huber_mean, np.zeros(5), jac=True, method="BFGS", options={"gtol": 1e-12}).x
    model = Linear(4, 1, seed=0)
    fit(model, "huber", X, y)
    got = np.r_[model.W.ravel(), model.b]
    assert np.max(np.abs(got - expected)) <= 1e-3 * np.max(np.abs(expected))
    assert np.max(np.abs(got - _lstsq(X, y))) > 0.05  # and it is not the least-squares answer


def test_l2_matches_ridge_closed_form(regression_data):
    # mean (y − Xw − b)² + λΣw²: normal equations (XcᵀXc/n + λI) w = Xcᵀyc/n on centred data.
    X, y = regression_data
    lam = 0.3
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / len(y) + lam * np.eye(4), Xc.T @ yc / len(y))
    b = y.mean() - X.mean(0) @ w
    for optimizer, epochs in [(None, 100), (Adam(lr=cosine(0.1)), 400)]:
        model = Linear(4, 1, seed=0)
        fit(model, "mse", X, y, regularizer="l2", lam=lam, optimizer=optimizer, epochs=epochs)
        np.testing.assert_allclose(np.r_[model.W.ravel(), model.b], np.r_[w, b], atol=2e-3)


# --------------------------------------------------------------------------- L1: exact zeros
@pytest.mark.parametrize(
    "make, batch_size, epochs",
    [(lambda: None, None, 200), (lambda: GD(lr=0.2), None, 300), (lambda: Adam(lr=cosine(0.05)), None, 400),
     (lambda: SGD(lr=cosine(0.02), momentum=0.9), 25, 150)],
    ids=["default", "gd", "adam", "sgd_momentum"],
)
def test_l1_gives_exact_zeros_and_recovers_the_support(make, batch_size, epochs):
    data = D.sparse_linear(n=120, n_features=20, k=4, noise=0.1, seed=3)
    model = Linear(20, 1, seed=0)
    fit(model, "mse", data.X, data.y, regularizer="l1", lam=0.1, optimizer=make(), batch_size=batch_size,
        epochs=epochs, seed=0)
    w = model.W.ravel()
    assert np.sum(w == 0.0) >= 12  # exact zeros, not merely small values
    np.testing.assert_array_equal(np.flatnonzero(w), data.metadata["support"])


def test_l1_optimum_satisfies_the_lasso_optimality_conditions():
    # Subgradient conditions of mean (y − Xw − b)² + λ‖w‖₁ (KKT): for w_j ≠ 0 the loss
    # gradient is −λ·sign(w_j); for w_j = 0 it lies in [−λ, λ].
    data = D.sparse_linear(n=80, n_features=10, k=3, noise=0.5, seed=5)
    lam = 0.2
    model = Linear(10, 1, seed=0)
    fit(model, "mse", data.X, data.y, regularizer="l1", lam=lam)
    w, b = model.W.ravel(), model.b[0]
    r = data.X @ w + b - data.y
    g = 2.0 * data.X.T @ r / len(r)
    nz = w != 0
    np.testing.assert_allclose(g[nz], -lam * np.sign(w[nz]), atol=1e-6)
    assert np.all(np.abs(g[~nz]) <= lam + 1e-6)


def test_elastic_net_gives_zeros_too():
    data = D.sparse_linear(n=100, n_features=15, k=3, noise=0.1, seed=1)
    model = Linear(15, 1, seed=0)
    fit(model, "mse", data.X, data.y, regularizer=ll.ElasticNet(l1_ratio=0.7), lam=0.2,
        optimizer=Adam(lr=cosine(0.05)), epochs=300)
    assert np.sum(model.W == 0.0) >= 8


def test_objective_is_accepted_as_the_loss(regression_data):
    X, y = regression_data
    a, b = Linear(4, 1, seed=0), Linear(4, 1, seed=0)
    fit(a, ll.Objective("mse", "l2", lam=0.1), X, y)
    fit(b, "mse", X, y, regularizer="l2", lam=0.1)
    np.testing.assert_allclose(a.W, b.W, rtol=1e-10)
    with pytest.raises(TypeError, match="Objective"):
        fit(a, ll.Objective("mse", "l2", lam=0.1), X, y, lam=0.2)


# --------------------------------------------------------------------------- classification
def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X @ np.array([1.5, -1.0, 0.5]) + 0.3 + 0.8 * rng.standard_normal(n) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_logistic_regression_matches_scikit_learn(penalty):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = _blobs()
    n, C = len(y), 0.5
    # scikit-learn minimises C·Σᵢ logloss_i + ½‖w‖² (l2) or C·Σᵢ logloss_i + ‖w‖₁ (l1).
    # Dividing by C·n gives our objective, mean logloss + λ·R(w) with R = Σw² or Σ|w|:
    #   l2: λ = 1 / (2·C·n);   l1: λ = 1 / (C·n).   Neither penalises the intercept.
    lam = 1.0 / (2 * C * n) if penalty == "l2" else 1.0 / (C * n)
    if penalty == "l2":
        ref = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    else:
        ref = linear_model.LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100_000).fit(X, y)
    model = Linear(3, 1, seed=0)
    fit(model, "binary_cross_entropy", X, y, regularizer=penalty, lam=lam)
    np.testing.assert_allclose(model.W.ravel(), ref.coef_.ravel(), atol=2e-4)
    np.testing.assert_allclose(model.b, ref.intercept_, atol=2e-4)


def test_hinge_linear_model_matches_linear_svc():
    svm = pytest.importorskip("sklearn.svm")
    X, y = _blobs(n=100, seed=1)
    n, C = len(y), 1.0
    # LinearSVC(loss="hinge") minimises ½‖w‖² + C·Σᵢ hinge_i; divided by C·n that is
    # mean hinge + λΣw² with λ = 1/(2·C·n). liblinear penalises the intercept as a weight
    # on a constant feature of value intercept_scaling; a large scaling makes that penalty
    # (½(b/s)²) negligible, as ours (none) is.
    ref = svm.LinearSVC(loss="hinge", C=C, dual=True, intercept_scaling=10.0, tol=1e-10, max_iter=1_000_000)
    ref.fit(X, 2 * y - 1)
    for optimizer, epochs in [(None, 100), (Adam(lr=cosine(0.05)), 3000)]:  # the default is L-BFGS
        model = Linear(3, 1, seed=0)
        fit(model, "hinge", X, y, regularizer="l2", lam=1.0 / (2 * C * n), optimizer=optimizer, epochs=epochs)
        ours, theirs = model.forward(X)[:, 0], ref.decision_function(X)
        assert np.max(np.abs(ours - theirs)) <= 0.03 * np.max(np.abs(theirs))


@pytest.mark.parametrize("seed", [0, 1])
def test_default_optimizer_reaches_the_least_absolute_deviations_optimum(seed):
    # mae has a kink: the default (L-BFGS) has no guarantee there, so check it against the
    # exact optimum of the linear program min Σ(u⁺ + u⁻)/n s.t. Xw + b + u⁺ − u⁻ = y, u± ≥ 0.
    from scipy.optimize import linprog

    rng = np.random.default_rng(seed)
    n, p = 200, 5
    X = rng.standard_normal((n, p))
    y = X @ np.array([3.0, -2.0, 1.0, 0.0, 5.0]) + 2.0 + rng.standard_t(2, n)
    c = np.r_[np.zeros(p + 1), np.ones(2 * n) / n]
    A_eq = np.c_[X, np.ones(n), np.eye(n), -np.eye(n)]
    bounds = [(None, None)] * (p + 1) + [(0, None)] * (2 * n)
    optimum = linprog(c, A_eq=A_eq, b_eq=y, bounds=bounds, method="highs").fun
    model = Linear(p, 1, seed=0)
    fit(model, "mae", X, y)
    assert float(ll.mae(y, model.forward(X)[:, 0])) <= optimum * (1 + 1e-3)


@pytest.mark.parametrize("name", ["xor", "circle"])
def test_mlp_learns_playground_sets(name):
    # Squared loss on ±1 targets, as TensorFlow Playground trains them.
    data = D.playground(name, n=400, noise=0.1, seed=1)
    train, test = D.train_test_split(data, 0.25, seed=0)
    model = MLP([2, 16, 16, 1], activation="tanh", seed=0)
    fit(model, "mse", train.X, 2.0 * train.y - 1.0, optimizer=Adam(lr=cosine(0.05)), epochs=300)
    accuracy = np.mean((model.forward(test.X)[:, 0] > 0) == (test.y == 1))
    assert accuracy > 0.95


def test_mlp_learns_xor_with_cross_entropy_and_reports_accuracy():
    data = D.xor(n=400, noise=0.1, seed=2)
    train, test = D.train_test_split(data, 0.25, seed=0)
    model = MLP([2, 16, 16, 1], activation="relu", seed=0)
    h = fit(model, "binary_cross_entropy", train.X, train.y, optimizer=Adam(lr=cosine(0.05)), epochs=300,
            validation_data=(test.X, test.y))
    assert h.metrics["val_accuracy"][-1] > 0.95
    assert np.mean((model.forward(test.X)[:, 0] > 0) == (test.y == 1)) == pytest.approx(h.metrics["val_accuracy"][-1])


def test_softmax_regression_matches_scikit_learn_multinomial():
    linear_model = pytest.importorskip("sklearn.linear_model")
    data = D.load("iris")
    X = (data.X - data.X.mean(0)) / data.X.std(0)
    n, C = len(X), 1.0
    # multinomial: C·Σ CE + ½‖W‖²  →  mean CE + λΣW² with λ = 1/(2·C·n)
    ref = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, data.y)
    model = Linear(4, 3, seed=0)
    fit(model, "cross_entropy", X, data.y, regularizer="l2", lam=1 / (2 * C * n), epochs=500)
    # the softmax is unchanged by a constant added to every class: compare centred scores
    ours = model.forward(X)
    theirs = ref.decision_function(X)
    np.testing.assert_allclose(ours - ours.mean(1, keepdims=True), theirs - theirs.mean(1, keepdims=True), atol=1e-3)


# --------------------------------------------------------------------------- backprop
def _fd_check(model, X, rng):
    R = rng.standard_normal(model.forward(X).shape)  # J = Σ R ⊙ f(X), so ∂J/∂f = R
    model.forward(X)
    grad_X = model.backward(R)
    analytic = [g.copy() for g in model.gradients]
    h = 1e-6
    for p, g in zip(model.parameters, analytic):
        for idx in list(np.ndindex(p.shape))[:6]:
            old = p[idx]
            p[idx] = old + h
            up = np.sum(R * model.forward(X))
            p[idx] = old - h
            down = np.sum(R * model.forward(X))
            p[idx] = old
            assert g[idx] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7)
    Xp = X.copy()
    Xp[0, 0] += h
    up = np.sum(R * model.forward(Xp))
    Xp[0, 0] -= 2 * h
    down = np.sum(R * model.forward(Xp))
    assert grad_X[0, 0] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize(
    "make",
    [lambda: Linear(3, 2, seed=1), lambda: MLP([3, 5, 4, 2], "relu", seed=1), lambda: MLP([3, 5, 2], "tanh", seed=1),
     lambda: MLP([3, 5, 2], "sigmoid", seed=1), lambda: EmbeddingNet(3, 2, hidden=(5,), seed=1),
     lambda: EmbeddingNet(3, 4, hidden=(5,), normalize=False, seed=1)],
    ids=["linear", "mlp_relu", "mlp_tanh", "mlp_sigmoid", "embedding", "embedding_raw"],
)
def test_backward_matches_finite_differences(make, rng):
    _fd_check(make(), rng.standard_normal((7, 3)), rng)


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([2, 3, 1], activation="gelu", seed=0)
    with pytest.raises(ValueError, match="sizes must list"):
        MLP([2], seed=0)
    with pytest.raises(ValueError, match="n_features must be an integer >= 1; got 0"):
        Linear(0, 1, seed=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\)"):
        Linear(3, 1, seed=0).forward(np.ones((2, 4)))


def test_embedding_net_trains_on_a_supervised_contrastive_loss():
    data = D.hierarchical(n_per_class=30, n_features=8, noise=1.0, seed=0)
    train, test = D.train_test_split(data, 0.3, seed=0)
    net = EmbeddingNet(8, 4, hidden=(32,), seed=0)
    h = fit(net, "supcon", train.X, train.y, optimizer=Adam(lr=cosine(0.01)), epochs=60, batch_size=42, seed=0)
    assert h.train_loss[-1] < 0.85 * h.initial_loss
    emb, emb_test = net.forward(train.X), net.forward(test.X)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    centroids = np.array([emb[train.y == k].mean(axis=0) for k in range(4)])
    # nearest class centroid by cosine similarity in the learnt space
    assert np.mean(np.argmax(emb_test @ centroids.T, axis=1) == test.y) >= 0.95


def test_fit_refuses_losses_of_other_inputs():
    with pytest.raises(ValueError, match=r"fit trains losses of \(y_true, y_pred\) or \(embeddings, labels\); triplet"):
        fit(Linear(2, 2, seed=0), "triplet", np.ones((4, 2)), np.zeros(4))


# --------------------------------------------------------------------------- weights
# A step of 1e-300 moves the predictions of a model at W = b = 0 by ~1e-300, far below what
# float64 resolves next to the targets: every mini-batch of such a run sees the same model,
# so its epoch loss must be the weighted mean of the whole data set at that model.
FROZEN = 1e-300


def _frozen_linear(n_features, n_outputs=1):
    model = Linear(n_features, n_outputs, seed=0)
    model.set_weights([np.zeros_like(p) for p in model.parameters])
    return model


def test_reported_losses_are_the_weighted_mean_on_eight_rows():
    # Issue 11's case: 8 rows weighted 1 (four rows) and 10 (four rows). The model predicts 0,
    # so the squared error of row i is y_i²:
    #   rows weighted 1:  y = 1, -1, 2, -2 → ℓ = 1, 1, 4, 4 → Σwℓ = 10,     Σw = 4
    #   rows weighted 10: y = 3, -3, 1, -1 → ℓ = 9, 9, 1, 1 → Σwℓ = 10·20,  Σw = 40
    #   weighted mean = (10 + 200) / (4 + 40) = 210/44 = 4.7727...; the unweighted mean is 30/8 = 3.75.
    # Before the fix initial_loss reported the unweighted 3.75 (evaluate dropped the weights),
    # and the mini-batch epoch loss averaged each batch's own weighted mean by row counts, so
    # it moved with the shuffle: 5.53 in the second epoch at batch_size=4, 5.12 then 4.29 at
    # batch_size=3 (seed 0), for the same frozen model. (Issue 11 measured 4.053 and 8.069
    # against a true 6.412 on its own data.)
    X = np.array([[0.5], [1.0], [1.5], [2.0], [2.5], [3.0], [3.5], [4.0]])
    y = np.array([1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 1.0, -1.0])
    w = np.array([1.0] * 4 + [10.0] * 4)
    expected = 210.0 / 44.0
    for batch_size in (None, 4, 3):  # full batch; two batches; uneven batches of 3, 3, 2
        for seed in (0, 1):
            h = fit(_frozen_linear(1), "mse", X, y, optimizer=SGD(FROZEN), epochs=2, batch_size=batch_size,
                    seed=seed, sample_weight=w, validation_data=(X, y, w), progress=False)
            assert h.initial_loss == pytest.approx(expected, rel=1e-14)
            np.testing.assert_allclose(h.train_loss, expected, rtol=1e-14)
            np.testing.assert_allclose(h.val_loss, expected, rtol=1e-14)
    # Validation without weights is the plain mean of its rows.
    h = fit(_frozen_linear(1), "mse", X, y, optimizer=SGD(FROZEN), epochs=1, sample_weight=w,
            validation_data=(X, y), progress=False)
    assert h.val_loss == [pytest.approx(30.0 / 8.0, rel=1e-14)]


def test_epoch_loss_counts_the_loss_own_class_weights_and_ignored_rows():
    # cross_entropy with class_weight and ignore_index divides by Σ sample weight × class
    # weight over the rows not ignored; the epoch loss of a frozen run must be that loss
    # evaluated by the loss itself on the whole data set, whatever the batches.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((11, 2))
    y = np.array([0, 1, 2, 2, -100, 1, 0, 2, -100, 1, 2])
    w = rng.uniform(0.5, 3.0, 11)
    loss = ll.get("cross_entropy", from_logits=True, class_weight=[1.0, 4.0, 0.5], ignore_index=-100)
    model = Linear(2, 3, seed=1)
    start = model.get_weights()
    expected = float(loss(y, model(X), sample_weight=w))
    for batch_size in (None, 4):
        model.set_weights(start)
        h = fit(model, loss, X, y, optimizer=SGD(FROZEN), epochs=1, batch_size=batch_size, seed=0,
                sample_weight=w, progress=False)
        assert h.initial_loss == pytest.approx(expected, rel=1e-12)
        assert h.train_loss[0] == pytest.approx(expected, rel=1e-12)


def test_integer_weights_train_as_repeated_rows(regression_data):
    # Full-batch gradient descent on rows weighted k is gradient descent on the data with each
    # row repeated k times: the same steps, the same reported losses.
    X, y = regression_data
    X, y = X[:30], y[:30]
    k = np.random.default_rng(0).integers(1, 4, 30)
    Xr, yr = np.repeat(X, k, axis=0), np.repeat(y, k)
    weighted = fit(Linear(4, 1, seed=0), "huber", X, y, optimizer=GD(0.1), epochs=15, sample_weight=k,
                   validation_data=(X, y, k))
    repeated = fit(Linear(4, 1, seed=0), "huber", Xr, yr, optimizer=GD(0.1), epochs=15, validation_data=(Xr, yr))
    assert weighted.initial_loss == pytest.approx(repeated.initial_loss, rel=1e-12)
    np.testing.assert_allclose(weighted.train_loss, repeated.train_loss, rtol=1e-12)
    np.testing.assert_allclose(weighted.val_loss, repeated.val_loss, rtol=1e-12)


def test_sample_weight_follows_the_losses_rule(regression_data):
    X, y = regression_data
    cases = {  # the losses' own rule, word for word
        "must have shape \\(200,\\)": np.ones(199),
        "must be non-negative": np.r_[-1.0, np.ones(199)],
        "must not contain NaN": np.r_[np.nan, np.ones(199)],
    }
    for message, w in cases.items():
        with pytest.raises(ValueError, match="sample_weight " + message):
            ll.get("mse")(y, y, sample_weight=w)
        with pytest.raises(ValueError, match="sample_weight " + message):
            fit(Linear(4, 1, seed=0), "mse", X, y, sample_weight=w, epochs=1)
    # A loss accepts all-zero weights (its mean is then 0); training on them has nothing to fit.
    with pytest.raises(ValueError, match="sample_weight is zero for every sample"):
        fit(Linear(4, 1, seed=0), "mse", X, y, sample_weight=np.zeros(200), epochs=1)
    with pytest.raises(ValueError, match="validation_data: sample_weight must have shape \\(5,\\)"):
        fit(Linear(4, 1, seed=0), "mse", X, y, validation_data=(X[:5], y[:5], np.ones(4)), epochs=1)
    with pytest.raises(TypeError, match="a pair \\(X_val, y_val\\) or a triple"):
        fit(Linear(4, 1, seed=0), "mse", X, y, validation_data=(X, y, None, None), epochs=1)


# --------------------------------------------------------------------------- divergence
def test_sgd_at_rate_50_is_caught_diverging():
    # Issue 11: on standard-normal data this run went from a loss of ~10 to 2e212 (weights
    # of 1e108) in 50 epochs without a word. A run that ends 1e4 times above its starting
    # loss has diverged: the error names the epoch it passed that bound, the learning rate
    # and the loss before the rise.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10))
    y = X @ rng.standard_normal(10)  # Var y = Σ w² ≈ 10: a starting loss of ~10
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch \d+: the run ended with a loss of [0-9.e+]+, over"
                                               r" 1e\+04 times .* \(learning rate 50\); the last sane loss was"
                                               r" [0-9.]+ at epoch 0") as info:
        fit(Linear(10, 1, seed=0), "mse", X, y, optimizer=SGD(50.0), epochs=50, progress=False)
    err = info.value
    h = err.history
    assert 5 < h.initial_loss < 20 and h.train_loss[-1] > 1e200  # as the issue measured
    assert err.lr == 50.0 and h.diverged and h.epochs == 50
    passed = [epoch for epoch, v in enumerate(h.train_loss) if v > 1e4 * h.initial_loss]
    assert passed == list(range(err.epoch, 50)) and err.epoch <= 3  # named: the epoch it passed the bound
    assert err.last_sane_loss == err.last_finite_loss == h.train_loss[0] and err.last_sane_epoch == 0
    assert diagnose(h).kind == "diverged"


def test_an_overflowing_run_names_the_last_sane_loss():
    data = D.houses(n=50, seed=0)  # unscaled sizes of 40-250 m²: lr=1 explodes, to inf within 200 epochs
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch \d+: the loss became NaN or inf .*"
                                               r"last sane loss was [0-9.e+]+ at epoch 0") as info:
        fit(Linear(1, 1, seed=0), "mse", data.X, data.y, optimizer=GD(lr=1.0), epochs=200)
    err = info.value
    assert math.isfinite(err.last_sane_loss) and err.last_sane_epoch == 0 and err.epoch >= 2
    assert err.history.diverged and err.history.epochs == err.epoch + 1 == len(err.history.lr)
    assert json.loads(json.dumps(err.history.to_dict()))["train_loss"][-1] is None  # inf → null
    assert diagnose(err.history).kind == "diverged"


def test_geometric_growth_the_run_ends_in_is_divergence():
    # Gradient descent past its stable step on a quadratic: the loss grows 1.85x per epoch.
    # After 12 epochs it is 600x its start (a learning rate too high, see the diagnosis test
    # below); after 20, 1.3e4x: diverged, from epoch 17 on.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    fit(Linear(3, 1, seed=0), "mse", X, y, optimizer=GD(lr=0.9), epochs=12)
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 17: .*learning rate 0.9.*at epoch 1\.") as info:
        fit(Linear(3, 1, seed=0), "mse", X, y, optimizer=GD(lr=0.9), epochs=20)
    assert info.value.last_sane_loss == info.value.history.train_loss[1] < info.value.history.initial_loss


def test_an_excursion_that_comes_back_is_not_divergence():
    # The report's "learning rate too high" run: its loss climbs geometrically for 60 epochs
    # (to ~1e91) and then falls back below its start. Stopped in the middle of the climb, the
    # same run has diverged.
    circle = D.circle(300, noise=0.3, seed=0)
    h = fit(MLP([2, 16, 1], seed=0), "binary_cross_entropy", circle.X, circle.y, optimizer=GD(30.0), epochs=100,
            progress=False)
    assert max(h.train_loss) > 1e50 and h.train_loss[-1] < h.initial_loss and not h.diverged
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 3: the run ended with a loss"):
        fit(MLP([2, 16, 1], seed=0), "binary_cross_entropy", circle.X, circle.y, optimizer=GD(30.0), epochs=20,
            progress=False)


def test_early_stopping_judges_the_weights_it_restores():
    # Early stopping that restores the best weights after a blow-up ends with a sane model.
    circle = D.circle(300, noise=0.3, seed=0)
    h = fit(MLP([2, 16, 1], seed=0), "binary_cross_entropy", circle.X, circle.y, optimizer=GD(30.0), epochs=30,
            early_stopping=EarlyStopping(patience=5, monitor="train_loss"), progress=False)
    assert h.train_loss[-1] > 1e4 * h.initial_loss and h.train_loss[h.best_epoch] <= h.initial_loss
    assert not h.diverged


def test_a_non_finite_parameter_is_divergence_even_when_the_loss_is_finite():
    class Poisoned(SGD):
        """SGD that writes -inf into one first-layer weight at its 3rd step."""

        def update(self, params, grads, lr):
            steps = super().update(params, grads, lr)
            if self.t == 3:
                params[0][0, 0] = -np.inf
            return steps

    X = np.abs(np.random.default_rng(0).standard_normal((20, 2))) + 0.1  # > 0: that unit's ReLU gives 0, not NaN
    y = X.sum(axis=1)
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 2: parameter 0 \(shape \(2, 4\)\) became NaN"):
        fit(MLP([2, 4, 1], "relu", seed=0), "mse", X, y, optimizer=Poisoned(0.01), epochs=10, progress=False)


def test_a_noisy_but_healthy_sgd_run_never_trips_the_detector():
    # Small steps on noisy data, one sample per step: the epoch loss goes up and down, but
    # it is a healthy run and must finish.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + 1.0 * rng.standard_normal(60)
    h = fit(MLP([3, 16, 1], "tanh", seed=0), "mse", X, y, optimizer=SGD(0.03), batch_size=1, epochs=60, seed=0,
            progress=False)
    rises = np.diff(h.train_loss) > 0
    assert rises.sum() >= 5, "the run was meant to be noisy"
    assert h.epochs == 60 and not h.diverged and h.train_loss[-1] < 0.5 * h.initial_loss


def test_divergence_rules_on_hand_made_curves():
    from losslab.train.trainer import Divergence

    def verdict(start, values):
        d = Divergence(start)
        assert all(d.check(v) is None for v in values)
        found = d.verdict()
        return None if found is None else found[1:]  # (epoch, last sane loss, its epoch)

    assert verdict(1.0, [1.3, 0.9, 2.5, 0.8, 3e4, 0.7]) is None  # rises and a spike that came back
    assert verdict(1.0, [0.5, 5e3, 2e4, 3e4]) == (2, 0.5, 0)  # ended past 1e4 times the start
    assert verdict(1.0, [1e-6, 1e-5, 1e-4, 1e-3]) is None  # growth far below the start
    assert verdict(1.0, [0.5, 0.01, 0.1, 1.0, 10.0]) == (2, 0.01, 1)  # 10x three epochs running, past the start
    assert verdict(-2.0, [-3.0, -5.0, 4e4, 6e4]) == (3, -5.0, 1)  # log-likelihoods: magnitudes; scale 5, bound 5e4
    assert verdict(0.0, [1e-9, 1e-6, 1e-3]) is None  # a scale of 0: only NaN and inf count
    assert verdict(math.nan, [2.0, 1.0, 3e4]) == (2, 1.0, 1)  # no finite start: the first epoch's loss
    d = Divergence(1.0)
    assert d.check(math.inf) == "the loss became NaN or inf"


# --------------------------------------------------------------------------- early stopping
def _overfit_data():
    # 30 noisy points of sin(3x): a wide MLP fits the noise (the textbook overfitting run)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (30, 1))
    y = np.sin(3 * x[:, 0]) + 0.5 * rng.standard_normal(30)
    xv = rng.uniform(-1, 1, (100, 1))
    yv = np.sin(3 * xv[:, 0]) + 0.5 * rng.standard_normal(100)
    return x, y, xv, yv


def test_early_stopping_restores_the_best_weights():
    x, y, xv, yv = _overfit_data()
    model = MLP([1, 64, 64, 1], "tanh", seed=0)
    seen = []

    def remember(epoch, logs):
        seen.append([p.copy() for p in model.parameters])

    h = fit(model, "mse", x, y, optimizer=Adam(lr=0.02), epochs=300, validation_data=(xv, yv),
            early_stopping=EarlyStopping(patience=15), callbacks=[remember])
    best = int(np.argmin(h.val_loss))
    assert h.best_epoch == best
    assert h.stopped_epoch == best + 15 < 299  # it stopped early, patience epochs after the best
    for p, q in zip(model.parameters, seen[best]):
        np.testing.assert_array_equal(p, q)
    assert float(ll.mse(yv, model.forward(xv)[:, 0])) == pytest.approx(h.val_loss[best], rel=1e-12)


def test_callback_returning_true_stops_training(regression_data):
    X, y = regression_data
    h = fit(Linear(4, 1, seed=0), "mse", X, y, optimizer=GD(lr=0.01), epochs=100, callbacks=[lambda e, logs: e == 4])
    assert h.epochs == 5


# --------------------------------------------------------------------------- diagnosis
def _history(train, val=(), **kw):
    h = History(train_loss=list(train), val_loss=list(val), **kw)
    h.initial_loss = train[0]
    return h


SYNTHETIC = {
    "healthy": _history(1.0 * np.exp(-np.arange(50) / 5) + 0.05, 1.0 * np.exp(-np.arange(50) / 5) + 0.08),
    "overfitting": _history(
        np.exp(-np.arange(60) / 8), np.r_[np.exp(-np.arange(20) / 8), np.exp(-19 / 8) + 0.01 * np.arange(1, 41)]
    ),
    "underfitting": _history(0.7 + 0.3 * np.exp(-np.arange(50) / 3)),
    "lr_too_high": _history(1.0 + 0.5 * (np.arange(40) % 2)),
    "lr_too_low": _history(1.0 - 0.002 * np.arange(50)),
    "diverged": _history([1.0, 3.0, 40.0, math.inf], diverged=True),
}


@pytest.mark.parametrize("kind", list(SYNTHETIC))
def test_diagnose_names_synthetic_histories(kind):
    d = diagnose(SYNTHETIC[kind])
    assert d.kind == kind
    assert any(ch.isdigit() for ch in d.evidence) and d.advice


def test_diagnose_overfitting_names_the_epoch_of_the_lowest_validation_loss():
    d = diagnose(SYNTHETIC["overfitting"])
    assert d.epoch == 19 and "epoch 19" in d.evidence


def test_diagnose_a_real_overfitting_run():
    x, y, xv, yv = _overfit_data()
    model = MLP([1, 64, 64, 1], "tanh", seed=0)  # 4,353 weights for 30 points
    h = fit(model, "mse", x, y, optimizer=Adam(lr=0.02), epochs=300, validation_data=(xv, yv))
    d = diagnose(h)
    assert d.kind == "overfitting"
    assert d.epoch == int(np.argmin(h.val_loss)) < 150
    assert h.train_loss[-1] < 0.5 * h.val_loss[-1]


def test_diagnose_an_early_stopped_run_that_memorised_its_data():
    # 40 points, 20 features, one of them informative: the MLP fits the noise; early
    # stopping ends the run before validation rises, but the gap shows the overfitting.
    rng = np.random.default_rng(0)
    X, X_val = rng.standard_normal((40, 20)), rng.standard_normal((100, 20))
    y, y_val = X[:, 0] + rng.standard_normal(40), X_val[:, 0] + rng.standard_normal(100)
    model = MLP([20, 32, 1], "tanh", seed=0)
    h = fit(model, "mse", X, y, optimizer=LBFGS(), epochs=300, validation_data=(X_val, y_val), early_stopping=5)
    assert h.stopped_epoch < 299
    d = diagnose(h)
    assert d.kind == "overfitting" and d.epoch == h.best_epoch


def test_diagnose_names_a_large_generalisation_gap_as_overfitting():
    # validation never rises by 5% (early stopping ended it), but at its best epoch (2)
    # it is 0.9 / 0.2 = 4.5 times the training loss, a gap of 70% of the starting loss
    h = _history(np.r_[1.0, 0.5, 0.2, 0.1, 0.1], np.r_[1.0, 0.92, 0.9, 0.91, 0.92])
    d = diagnose(h)
    assert d.kind == "overfitting" and d.epoch == 2
    assert "4.5 times the training loss 0.2" in d.evidence


def test_diagnose_real_underfitting_and_learning_rate_runs():
    circle = D.circle(n=200, seed=0)  # a line cannot separate a disc from a ring
    assert diagnose(fit(Linear(2, 1, seed=0), "mse", circle.X, 2.0 * circle.y - 1)).kind == "underfitting"
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    slow = fit(Linear(3, 1, seed=0), "mse", X, y, optimizer=GD(lr=1e-4), epochs=50)
    assert diagnose(slow).kind == "lr_too_low"
    # Past the stable step the loss grows 1.85x per epoch: after 12 epochs 600x its start, a
    # rise diagnose calls lr_too_high (run for 20 epochs it ends 1.3e4x up: fit raises).
    fast = fit(Linear(3, 1, seed=0), "mse", X, y, optimizer=GD(lr=0.9), epochs=12)
    assert diagnose(fast).kind == "lr_too_high"


# --------------------------------------------------------------------------- reproducibility, history
def test_a_seed_makes_a_run_reproducible(regression_data):
    X, y = regression_data

    def run(seed):
        model = MLP([4, 8, 1], seed=seed)
        h = fit(model, "huber", X, y, optimizer=SGD(lr=0.01, momentum=0.9), batch_size=16, epochs=5, seed=seed)
        return model.get_weights(), h.train_loss

    (w1, l1), (w2, l2), (w3, _) = run(7), run(7), run(8)
    assert l1 == l2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(w1[0], w3[0])


def test_history_records_every_epoch_and_serialises(regression_data):
    X, y = regression_data
    h = fit(Linear(4, 1, seed=0), "mse", X, y, optimizer=SGD(lr=step(0.05, step_size=2, gamma=0.5)), epochs=6,
            validation_data=(X[:20], y[:20]))
    assert h.epochs == len(h.val_loss) == len(h.grad_norm) == len(h.lr) == 6
    assert h.lr == [0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]
    assert all(g > 0 for g in h.grad_norm)
    d = json.loads(json.dumps(h.to_dict()))
    assert d["epochs"] == 6 and d["train_loss"] == h.train_loss


def test_progress_is_off_when_not_a_terminal(regression_data, capsys):
    X, y = regression_data
    fit(Linear(4, 1, seed=0), "mse", X, y, optimizer=GD(lr=0.1), epochs=30, progress=True)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors(regression_data):
    X, y = regression_data
    model = Linear(4, 1, seed=0)
    with pytest.raises(ValueError, match="same number of rows; got 200 rows in X and 199"):
        fit(model, "mse", X, y[:-1])
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite; got nan at index \(3, 2\)"):
        fit(model, "mse", Xn, y)
    with pytest.raises(ValueError, match="lam=0.1 needs a regularizer"):
        fit(model, "mse", X, y, lam=0.1)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1; got 0"):
        fit(model, "mse", X, y, epochs=0)
    with pytest.raises(ValueError, match="GD is full batch"):
        fit(model, "mse", X, y, optimizer=GD(), batch_size=10)
    with pytest.raises(ValueError, match="unknown loss"):
        fit(model, "msee", X, y)
    with pytest.raises(TypeError, match="optimizer must be"):
        fit(model, "mse", X, y, optimizer="adam")
    with pytest.raises(ValueError, match="momentum must be a number in"):
        SGD(momentum=1.5)


def test_a_probability_loss_object_is_refused_for_raw_scores():
    X, y = _blobs()
    with pytest.raises(ValueError, match="from_logits=True"):
        fit(Linear(3, 1, seed=0), ll.get("binary_cross_entropy"), X, y)


# --------------------------------------------------------------------------- PyTorch interop
def test_pytorch_interop_example():
    # docs/training.md: a losslab loss trains a torch.nn model in a plain torch loop.
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    data = D.houses(n=64, outliers=3, seed=0)
    x = torch.tensor(data.X / 100.0, dtype=torch.float32)  # size in 100 m²
    y = torch.tensor(data.y / 100.0, dtype=torch.float32)  # price in 100 thousands

    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = ll.get("huber", delta=0.5)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(y, model(x).squeeze(-1))   # (y_true, y_pred), a torch scalar
        loss.backward()                            # autograd through the losslab loss
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first
    # the same value as PyTorch's own huber_loss (same δ, same mean)
    ref = torch.nn.functional.huber_loss(model(x).squeeze(-1), y, delta=0.5)
    assert loss_fn(y, model(x).squeeze(-1)).item() == pytest.approx(ref.item(), rel=1e-5)
    # Huber ignores the 3 gross outliers: the slope stays near 2.1 per m² (least squares would not)
    assert model.weight.item() == pytest.approx(2.1, abs=0.15)


@pytest.mark.unseeded_defaults("docs/training.md's examples, run as a user types them")
def test_docs_training_page_runs():
    # Every ```python block of docs/training.md, in order, in one namespace.
    import pathlib
    import re

    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "training.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
    assert abs(namespace["model"].weight.item() - 2.1) < 0.15
    assert namespace["search"].best_params_["loss"] in ("mae", "huber")


# --------------------------------------------------------------------------- AdamW, by hand
def test_adamw_one_step_with_weight_decay_by_hand():
    # Loshchilov & Hutter (2019), Algorithm 2 with schedule multiplier 1, as torch.optim.AdamW
    # writes it: w ← w·(1 − lr·wd), then the Adam step lr·m̂/(√v̂ + ε). At step 1 the
    # bias-corrected moments are m̂ = g and v̂ = g², so the Adam step is lr·g/(|g| + ε).
    # The bias is not penalized: it takes the Adam step only.
    lr, wd, eps = 0.1, 0.5, 1e-8
    w, b = np.array([1.0, -2.0, 0.5]), np.array([0.5])
    gw, gb = np.array([0.3, -0.1, 0.0]), np.array([0.2])
    opt = AdamW(lr=lr, weight_decay=wd, eps=eps)
    opt.init([w, b], penalized=[True, False])
    opt.update([w, b], [gw, gb], lr)
    # w: 1·(1 − 0.05) − 0.1·0.3/0.3 = 0.85; −2·0.95 + 0.1 = −1.8; 0.5·0.95 − 0 = 0.475.
    np.testing.assert_allclose(w, [0.95 - lr * 0.3 / (0.3 + eps), -1.9 + lr * 0.1 / (0.1 + eps), 0.475], rtol=1e-15)
    np.testing.assert_allclose(w, [0.85, -1.8, 0.475], rtol=1e-7)
    np.testing.assert_allclose(b, [0.5 - lr * 0.2 / (0.2 + eps)], rtol=1e-15)
    # The same step with weight_decay=0 is Adam's: the decay is the whole difference.
    w0 = np.array([1.0, -2.0, 0.5])
    plain = AdamW(lr=lr, weight_decay=0.0, eps=eps)
    plain.init([w0], penalized=[True])
    plain.update([w0], [gw], lr)
    np.testing.assert_allclose(w - w0, -lr * wd * np.array([1.0, -2.0, 0.5]), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- diagnose's thresholds
# diagnosis.py's rules of thumb, tested on both sides of each threshold: validation rising by
# more than 5% above its lowest value (OVERFIT_RISE), or, when it never rose, a validation
# loss above 2 times the training loss (GAP_RATIO) by more than 10% of the starting loss
# (GAP_SHARE). Training curves fall and flatten, so that no other rule applies.
_FALLING = 0.05 + np.exp(-np.arange(50) / 5.0)


def _rising_validation(rise):
    val = _FALLING + 0.03
    val[31:] = val[30] * (1.0 + rise * np.linspace(0.0, 1.0, 20)[1:])  # lowest at epoch 30, then up by `rise`
    return _history(_FALLING, val)


@pytest.mark.parametrize("rise, kind", [(0.045, "healthy"), (0.055, "overfitting")])
def test_diagnose_overfitting_rise_threshold_from_both_sides(rise, kind):
    d = diagnose(_rising_validation(rise))
    assert d.kind == kind, d
    if kind == "overfitting":
        assert d.epoch == 30 and "(+5.5%)" in d.evidence


def test_diagnose_rising_validation_is_not_overfitting_while_training_rises_too():
    h = _rising_validation(0.5)
    h.train_loss[31:] = list(np.asarray(h.train_loss[30]) * (1.0 + 0.01 * np.linspace(0.0, 1.0, 20)[1:]))
    assert diagnose(h).kind != "overfitting"


@pytest.mark.parametrize("ratio, kind", [(1.9, "healthy"), (2.1, "overfitting")])
def test_diagnose_gap_ratio_threshold_from_both_sides(ratio, kind):
    train = 0.3 + 0.7 * np.exp(-np.arange(50) / 5.0)  # from 1.0 to 0.30: the gap is > 10% of 1.0
    d = diagnose(_history(train, ratio * train))  # validation falls too: lowest at the last epoch
    assert d.kind == kind, d
    if kind == "overfitting":
        assert d.epoch == 49


@pytest.mark.parametrize("gap, kind", [(0.09, "healthy"), (0.11, "overfitting")])
def test_diagnose_gap_share_threshold_from_both_sides(gap, kind):
    train = 0.04 + 0.96 * np.exp(-np.arange(50) / 5.0)  # from 1.0 to 0.04: any gap of 0.09 is > 2x
    d = diagnose(_history(train, train + gap))
    assert d.kind == kind, d


def test_sgd_momentum_and_nesterov_two_steps_by_hand():
    # PyTorch's SGD (torch.optim.SGD, dampening 0): v ← μv + g; w ← w − lr·v, or with
    # Nesterov w ← w − lr·(g + μv). Gradients g₁ = 1, g₂ = 2, lr = 0.1, μ = 0.9, w₀ = 1:
    # v₁ = 1, w₁ = 0.9; v₂ = 0.9 + 2 = 2.9, w₂ = 0.9 − 0.29 = 0.61.
    # Nesterov: w₁ = 1 − 0.1·(1 + 0.9) = 0.81; w₂ = 0.81 − 0.1·(2 + 0.9·2.9) = 0.349.
    for nesterov, expected in ((False, [0.9, 0.61]), (True, [0.81, 0.349])):
        w = np.array([1.0])
        opt = SGD(lr=0.1, momentum=0.9, nesterov=nesterov)
        opt.init([w])
        for g, e in zip((1.0, 2.0), expected):
            opt.update([w], [np.array([g])], 0.1)
            assert w[0] == pytest.approx(e, rel=1e-12), (nesterov, g)


def test_a_seeded_model_trains_the_same_way_without_seed():
    """fit without seed= shuffles mini-batches with a seed derived from the model's own: a
    seeded model's run repeats exactly (issue 16); an explicit seed= still decides."""
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)

    def run(**seed):
        model = Linear(3, 1, seed=0)
        fit(model, "mse", X, y, optimizer=SGD(0.05), epochs=3, batch_size=8, progress=False, **seed)
        return model.W.copy()

    np.testing.assert_array_equal(run(), run())
    assert not np.array_equal(run(), run(seed=123))  # an explicit seed= shuffles its own way
