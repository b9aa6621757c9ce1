"""losslab.datasets: seeded generators, splits, label noise, scikit-learn's bundled data.

Expected numbers come from the generators' definitions (2.1 per m², the ratio, k of p)
and from the distributions' known moments (Poisson: variance = mean; Tweedie: E[Y] = μ).
"""

from __future__ import annotations

import numpy as np
import pytest

import losslab.datasets as D

GENERATORS = {
    "houses": lambda seed: D.houses(n=50, outliers=3, seed=seed),
    "heavy_tailed": lambda seed: D.heavy_tailed(n=50, seed=seed),
    "poisson": lambda seed: D.counts(n=50, seed=seed),
    "tweedie": lambda seed: D.counts(n=50, kind="tweedie", seed=seed),
    "imbalanced": lambda seed: D.imbalanced(n=100, ratio=9, seed=seed),
    "circle": lambda seed: D.circle(n=50, noise=0.1, seed=seed),
    "xor": lambda seed: D.xor(n=50, noise=0.1, seed=seed),
    "gaussians": lambda seed: D.gaussians(n=50, seed=seed),
    "spiral": lambda seed: D.spiral(n=50, noise=0.1, seed=seed),
    "hierarchical": lambda seed: D.hierarchical(n_per_class=5, seed=seed),
    "sparse_linear": lambda seed: D.sparse_linear(n=50, seed=seed),
}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_a_seed_makes_a_data_set_reproducible(name):
    a, b, c = GENERATORS[name](1), GENERATORS[name](1), GENERATORS[name](2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    assert a.X.ndim == 2 and len(a.X) == len(a.y) == len(a)
    assert np.all(np.isfinite(a.X)) and np.all(np.isfinite(a.y))
    X, y = a  # unpacks like a pair
    assert X is a.X and y is a.y


def test_houses_price_per_square_metre_and_outliers():
    clean = D.houses(n=500, noise=15.0, seed=0)
    slope, _ = np.polyfit(clean.X[:, 0], clean.y, 1)
    assert slope == pytest.approx(2.1, abs=0.05)  # 2.1 per m², noise sd 15 over sizes 40-250
    dirty = D.houses(n=500, noise=15.0, outliers=20, seed=0)
    idx = dirty.metadata["outliers"]
    assert len(idx) == 20
    ratio = dirty.y[idx] / (2.1 * dirty.X[idx, 0])
    assert np.all(ratio > 4.0)  # prices multiplied by 5-10
    others = np.setdiff1d(np.arange(500), idx)
    assert np.all(dirty.y[others] / (2.1 * dirty.X[others, 0]) < 2.0)


def test_heavy_tailed_noise_has_heavy_tails():
    d = D.heavy_tailed(n=4000, df=1.5, seed=0)
    resid = d.y - d.X @ d.metadata["coef"] - 1.0
    # P(|t_1.5| > 10) = 0.0237 (2·scipy.stats.t.sf(10, 1.5)); a normal gives 1.5e-23
    share = np.mean(np.abs(resid) > 10)
    assert 0.015 < share < 0.033


def test_poisson_counts_have_variance_equal_to_mean():
    d = D.counts(n=20000, n_features=1, seed=0)
    mu = d.metadata["mean"]
    assert np.all(d.y == np.round(d.y)) and d.y.min() >= 0
    # Pearson dispersion Σ(y − μ)²/μ / n is 1 for Poisson data
    assert np.mean((d.y - mu) ** 2 / mu) == pytest.approx(1.0, abs=0.05)


def test_tweedie_amounts_have_exact_zeros_and_mean_mu():
    d = D.counts(n=20000, kind="tweedie", power=1.5, seed=0)
    assert 0.05 < np.mean(d.y == 0) < 0.95 and np.all(d.y >= 0)
    assert np.mean(d.y) == pytest.approx(np.mean(d.metadata["mean"]), rel=0.05)  # E[Y] = μ
    with pytest.raises(ValueError, match=r"power must lie in \(1, 2\)"):
        D.counts(kind="tweedie", power=2.5, seed=0)


@pytest.mark.parametrize("ratio, positives", [(99, 10), (1, 500), (3, 250)])
def test_imbalanced_ratio(ratio, positives):
    d = D.imbalanced(n=1000, ratio=ratio, seed=0)
    assert int(d.y.sum()) == positives and set(np.unique(d.y)) == {0, 1}


def test_playground_sets():
    c = D.circle(n=200, seed=0)
    r = np.linalg.norm(c.X, axis=1)
    assert np.all(r[c.y == 1] <= 2.0) and np.all(r[c.y == 0] >= 3.0)
    x = D.xor(n=200, seed=0)
    np.testing.assert_array_equal(x.y, (x.X[:, 0] * x.X[:, 1] > 0).astype(int))
    g = D.gaussians(n=200, seed=0)
    assert g.X[g.y == 1].mean(axis=0) == pytest.approx([2.0, 2.0], abs=0.3)
    s = D.spiral(n=200, seed=0)
    assert np.max(np.linalg.norm(s.X, axis=1)) <= 5.0
    for d in (c, x, g, s):
        assert d.X.shape == (200, 2) and d.task == "binary"
    assert D.playground("gauss", n=10, seed=0).name == "gaussians"
    with pytest.raises(ValueError, match="name must be one of 'circle', 'xor', 'gaussians', 'spiral'; got 'moons'"):
        D.playground("moons")


def test_hierarchical_members_of_a_superclass_share_features():
    d = D.hierarchical(n_per_class=100, seed=0)
    centroids = np.array([d.X[d.y == k].mean(axis=0) for k in range(4)])
    dist = np.linalg.norm(centroids[:, None] - centroids[None], axis=2)
    parent = d.metadata["superclass"]
    within = [dist[i, j] for i in range(4) for j in range(4) if i < j and parent[i] == parent[j]]
    across = [dist[i, j] for i in range(4) for j in range(4) if parent[i] != parent[j]]
    assert max(within) < min(across)
    assert d.target_names == ("cat", "dog", "car", "truck")


def test_sparse_linear_ground_truth():
    d = D.sparse_linear(n=200, n_features=30, k=4, noise=0.0, seed=0)
    coef = d.metadata["coef"]
    np.testing.assert_array_equal(np.flatnonzero(coef), d.metadata["support"])
    assert len(d.metadata["support"]) == 4
    np.testing.assert_allclose(d.y, d.X @ coef)
    with pytest.raises(ValueError, match="k must be at most n_features=3; got 5"):
        D.sparse_linear(n_features=3, k=5)


def test_label_noise_flips_exactly_the_requested_share():
    d = D.hierarchical(n_per_class=50, seed=0)
    noisy = D.add_label_noise(d, 0.1, seed=0)
    flipped = noisy.metadata["noisy"]
    assert len(flipped) == 20
    assert np.all(noisy.y[flipped] != d.y[flipped])  # a flip always lands on another class
    keep = np.setdiff1d(np.arange(200), flipped)
    np.testing.assert_array_equal(noisy.y[keep], d.y[keep])
    np.testing.assert_array_equal(noisy.metadata["clean_y"], d.y)
    assert set(np.unique(noisy.y)) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match=r"rate must be a fraction in \[0, 1\]; got 1.5"):
        D.add_label_noise(d.y, 1.5)


def test_train_test_split_is_a_stratified_partition():
    d = D.imbalanced(n=400, ratio=3, seed=0)
    train, test = D.train_test_split(d, test_size=0.25, seed=0)
    assert len(train) == 300 and len(test) == 100
    assert int(test.y.sum()) == 25  # the class shares are kept
    idx = np.r_[train.metadata["indices"], test.metadata["indices"]]
    np.testing.assert_array_equal(np.sort(idx), np.arange(400))
    np.testing.assert_array_equal(test.X, d.X[test.metadata["indices"]])
    with pytest.raises(ValueError, match=r"test_size must be a fraction in \(0, 1\); got 1.0"):
        D.train_test_split(d, test_size=1.0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        D.houses(n=0)
    with pytest.raises(ValueError, match="ratio must be a number >= 1"):
        D.imbalanced(ratio=0.5)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0; got -1"):
        D.circle(noise=-1)
    with pytest.raises(ValueError, match="outliers must be at most n=5; got 6"):
        D.houses(n=5, outliers=6)


@pytest.mark.parametrize(
    "name, shape, task",
    [("diabetes", (442, 10), "regression"), ("breast_cancer", (569, 30), "binary"),
     ("digits", (1797, 64), "multiclass"), ("wine", (178, 13), "multiclass"), ("iris", (150, 4), "multiclass")],
)
def test_load_real_data_sets(name, shape, task):
    pytest.importorskip("sklearn")
    d = D.load(name)
    assert d.X.shape == shape and d.task == task and len(d.y) == shape[0]  # shapes from scikit-learn's docs


def test_load_unknown_name():
    with pytest.raises(ValueError, match="name must be one of 'diabetes', 'breast_cancer'"):
        D.load("mnist")
