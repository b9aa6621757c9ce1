"""Classification losses: references, identities, extremes, bad input, published numbers.

Where each expected number comes from is said next to it: PyTorch (torch.nn.functional), the
torchvision focal formula written out here, scikit-learn's metrics, a formula evaluated
independently with NumPy in the test, a number published in Keras's or Optax's own loss
tests, or −log p worked by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import losslab as ll

RNG = np.random.default_rng(3)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    return torch


def _logits(n=7, c=5, scale=2.0):
    return RNG.normal(0.0, scale, size=(n, c))


# =============================================================================== PyTorch
class TestCrossEntropyAgainstPyTorch:
    """torch.nn.functional.cross_entropy on logits: values and autograd gradients."""

    def _torch_value_grad(self, z, target, **kw):
        torch = _torch()
        zt = torch.tensor(z, requires_grad=True)
        tt = torch.tensor(target) if np.asarray(target).dtype.kind == "f" else torch.tensor(target, dtype=torch.long)
        for key in ("weight",):
            if key in kw and kw[key] is not None:
                kw[key] = torch.tensor(np.asarray(kw[key], dtype=np.float64))
        value = torch.nn.functional.cross_entropy(zt, tt, **kw)
        value.backward()
        return float(value.detach()), zt.grad.numpy()

    @pytest.mark.parametrize(
        "options",
        [
            {},
            {"weight": [1.0, 2.0, 0.5, 3.0, 1.5]},
            {"ignore_index": 2},
            {"ignore_index": -100, "weight": [1.0, 2.0, 0.5, 3.0, 1.5]},
            {"label_smoothing": 0.1},
            {"label_smoothing": 0.2, "ignore_index": 1},
        ],
        ids=lambda o: ",".join(o) or "plain",
    )
    def test_index_targets(self, options):
        z = _logits()
        y = np.array([0, 1, 2, 3, 4, 1, 2])
        if options.get("ignore_index") == -100:
            y[[1, 4]] = -100
        expected, expected_grad = self._torch_value_grad(z, y, **dict(options))
        L = ll.CrossEntropy(
            from_logits=True,
            label_smoothing=options.get("label_smoothing", 0.0),
            class_weight=options.get("weight"),
            ignore_index=options.get("ignore_index"),
        )
        value, grad = L.value_and_gradient(y, z)
        assert value == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)
        # The generic (Array API) path on torch gives the same as the fused NumPy kernel.
        torch = _torch()
        assert float(L(torch.tensor(y), torch.tensor(z))) == pytest.approx(expected, rel=1e-12)

    def test_one_hot_targets(self):
        # PyTorch treats float targets as probabilities; one-hot gives the index result.
        z = _logits()
        y = RNG.integers(0, 5, size=7)
        one_hot = np.eye(5)[y]
        expected, expected_grad = self._torch_value_grad(z, one_hot)
        value, grad = ll.CrossEntropy(from_logits=True).value_and_gradient(one_hot, z)
        assert value == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)

    def test_one_hot_targets_with_class_weight_conversion(self):
        # PyTorch's probability targets put w_c inside the sum and divide 'mean' by N;
        # losslab's 'mean' is Σ w_y ℓ / Σ w_y (as PyTorch does for index targets):
        # ours = torch × N / Σ w_y.
        z = _logits()
        y = RNG.integers(0, 5, size=7)
        w = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
        torch_value, _ = self._torch_value_grad(z, np.eye(5)[y], weight=w)
        ours = ll.cross_entropy(np.eye(5)[y], z, from_logits=True, class_weight=w)
        assert ours == pytest.approx(torch_value * 7 / w[y].sum(), rel=1e-12)

    @pytest.mark.parametrize("smoothing", [0.0, 0.15])
    def test_soft_targets(self, smoothing):
        z = _logits()
        q = softmax(RNG.normal(size=(7, 5)))
        expected, expected_grad = self._torch_value_grad(z, q, label_smoothing=smoothing)
        value, grad = ll.CrossEntropy(from_logits=True, label_smoothing=smoothing).value_and_gradient(q, z)
        assert value == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-14)

    def test_label_smoothing_is_weighted_by_the_true_class_only(self):
        # CrossEntropy's docstring: ℓ_i = w_{y_i} · (−Σ_c t_ic log p_ic) with t the smoothed
        # target, and the mean divides by Σ w_{y_i}; PyTorch weights the smoothing term per class instead
        # (pytorch#104776), so it is not the reference here: the formula is, in NumPy.
        z = _logits()
        y = np.array([0, 1, 2, 3, 4, 1, 2])
        w = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
        eps = 0.2
        t = (1 - eps) * np.eye(5)[y] + eps / 5
        log_p = z - z.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        per_sample = -(t * log_p).sum(axis=1)
        expected = (w[y] * per_sample).sum() / w[y].sum()
        got = ll.cross_entropy(y, z, from_logits=True, label_smoothing=eps, class_weight=w)
        assert got == pytest.approx(expected, rel=1e-12)
        torch_value, _ = self._torch_value_grad(z, y, weight=w, label_smoothing=eps)
        assert abs(torch_value - expected) > 1e-3  # the documented difference is real

    def test_every_target_ignored_gives_zero_and_zero_gradient(self):
        # PyTorch returns NaN here (pytorch#70348); losslab's contract (loss/weights.py,
        # mean_scale) defines "mean" over no weight as 0 with a zero gradient.
        z = _logits(4, 3)
        y = np.full(4, -100)
        value, grad = ll.CrossEntropy(from_logits=True, ignore_index=-100).value_and_gradient(y, z)
        assert value == 0.0 and np.all(grad == 0)


class TestBinaryAndOthersAgainstPyTorch:
    def test_binary_cross_entropy_on_probabilities(self):
        torch = _torch()
        y = RNG.uniform(size=20)
        p = RNG.uniform(0.01, 0.99, size=20)
        pt = torch.tensor(p, requires_grad=True)
        expected = torch.nn.functional.binary_cross_entropy(pt, torch.tensor(y))
        expected.backward()
        value, grad = ll.BinaryCrossEntropy().value_and_gradient(y, p)
        assert value == pytest.approx(float(expected.detach()), rel=1e-12)
        np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-10)

    @pytest.mark.parametrize("pos_weight", [None, 3.0, 0.25])
    def test_binary_cross_entropy_with_logits_and_pos_weight(self, pos_weight):
        torch = _torch()
        y = RNG.uniform(size=(10, 3))
        z = RNG.normal(0.0, 4.0, size=(10, 3))
        zt = torch.tensor(z, requires_grad=True)
        pw = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64)
        expected = torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(y), pos_weight=pw)
        expected.backward()
        value, grad = ll.BinaryCrossEntropy(from_logits=True, pos_weight=pos_weight).value_and_gradient(y, z)
        assert value == pytest.approx(float(expected.detach()), rel=1e-12)
        np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-15)

    def test_nll_loss_with_weight_and_ignore_index(self):
        torch = _torch()
        log_p = np.log(softmax(_logits(8, 4)))
        y = np.array([0, 1, 2, 3, 1, 0, 2, 3])
        w = np.array([0.5, 1.0, 2.0, 4.0])
        lt = torch.tensor(log_p, requires_grad=True)
        expected = torch.nn.functional.nll_loss(lt, torch.tensor(y), weight=torch.tensor(w), ignore_index=3)
        expected.backward()
        value, grad = ll.NLL(class_weight=w, ignore_index=3).value_and_gradient(y, log_p)
        assert value == pytest.approx(float(expected.detach()), rel=1e-12)
        np.testing.assert_allclose(grad, lt.grad.numpy(), rtol=1e-12)

    @pytest.mark.parametrize("margin", [1.0, 0.5])
    def test_multi_margin_loss_is_weston_watkins_over_c(self, margin):
        # PyTorch's multi_margin_loss(p=1) = Σ_{j≠y} max(0, m − x_y + x_j) / C: multiply by C.
        torch = _torch()
        s = _logits(9, 4, scale=1.0)
        y = RNG.integers(0, 4, size=9)
        st = torch.tensor(s, requires_grad=True)
        expected = torch.nn.functional.multi_margin_loss(st, torch.tensor(y), margin=margin)
        expected.backward()
        value, grad = ll.MulticlassHinge(margin=margin).value_and_gradient(y, s)
        assert value == pytest.approx(4 * float(expected.detach()), rel=1e-12)
        np.testing.assert_allclose(grad, 4 * st.grad.numpy(), rtol=1e-12)

    @pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (None, 2.0), (0.75, 0.5), (0.25, 0.0)])
    def test_sigmoid_focal_as_torchvision_writes_it(self, alpha, gamma):
        # torchvision.ops.sigmoid_focal_loss, written out: p = σ(z), ce = BCE-with-logits,
        # p_t = p·y + (1 − p)(1 − y), loss = ce·(1 − p_t)^γ, times α_t = αy + (1 − α)(1 − y)
        # when alpha >= 0 (torchvision's alpha=−1 disables it: alpha=None here).
        torch = _torch()
        y = np.concatenate([RNG.integers(0, 2, size=12).astype(float), RNG.uniform(size=6)])
        z = RNG.normal(0.0, 3.0, size=18)
        zt = torch.tensor(z, requires_grad=True)
        yt = torch.tensor(y)
        p = torch.sigmoid(zt)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(zt, yt, reduction="none")
        p_t = p * yt + (1 - p) * (1 - yt)
        loss = ce * (1 - p_t) ** gamma
        if alpha is not None:
            loss = (alpha * yt + (1 - alpha) * (1 - yt)) * loss
        loss.sum().backward()
        L = ll.BinaryFocal(gamma=gamma, alpha=alpha, from_logits=True)
        np.testing.assert_allclose(L(y, z, reduction="none"), loss.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(L.gradient(y, z, reduction="sum"), zt.grad.numpy(), rtol=1e-10, atol=1e-15)


# =============================================================================== scikit-learn
class TestAgainstScikitLearn:
    def test_log_loss_multiclass_and_binary(self):
        metrics = pytest.importorskip("sklearn.metrics")
        p = softmax(_logits(10, 3))
        y = RNG.integers(0, 3, size=10)
        y[:3] = [0, 1, 2]
        assert ll.cross_entropy(y, p) == pytest.approx(metrics.log_loss(y, p, labels=[0, 1, 2]), rel=1e-12)
        yb = RNG.integers(0, 2, size=10)
        pb = RNG.uniform(0.02, 0.98, size=10)
        assert ll.binary_cross_entropy(yb, pb) == pytest.approx(metrics.log_loss(yb, pb), rel=1e-12)

    def test_log_loss_clips_0_and_1_like_scikit_learn(self):
        # Both clip to [eps, 1 − eps] with eps = finfo(float64).eps: −log(eps) = 36.04.
        metrics = pytest.importorskip("sklearn.metrics")
        p = np.array([[0.0, 1.0], [1.0, 0.0]])
        y = np.array([0, 0])
        assert ll.cross_entropy(y, p) == pytest.approx(metrics.log_loss(y, p, labels=[0, 1]), rel=1e-9)

    def test_crammer_singer_hinge_loss(self):
        metrics = pytest.importorskip("sklearn.metrics")
        s = _logits(12, 4, scale=1.0)
        y = RNG.integers(0, 4, size=12)
        y[:4] = [0, 1, 2, 3]
        expected = metrics.hinge_loss(y, s, labels=[0, 1, 2, 3])
        assert ll.multiclass_hinge(y, s, variant="crammer_singer") == pytest.approx(expected, rel=1e-12)


# =============================================================================== identities
class TestIdentities:
    def test_focal_with_gamma_zero_is_cross_entropy(self):
        z = _logits()
        y = RNG.integers(0, 5, size=7)
        ce = ll.CrossEntropy(from_logits=True)
        for L in (ll.Focal(gamma=0.0, from_logits=True),):
            assert L(y, z) == pytest.approx(ce(y, z), rel=1e-12)
            np.testing.assert_allclose(L.gradient(y, z), ce.gradient(y, z), rtol=1e-10, atol=1e-16)
            np.testing.assert_allclose(L.hessian(y, z), ce.hessian(y, z), rtol=1e-10, atol=1e-16)
        p = softmax(z)
        assert ll.focal(y, p, gamma=0.0) == pytest.approx(ll.cross_entropy(y, p), rel=1e-12)
        yb, zb = RNG.integers(0, 2, size=9), RNG.normal(0, 3, size=9)
        assert ll.binary_focal(yb, zb, gamma=0.0, from_logits=True) == pytest.approx(
            ll.binary_cross_entropy(yb, zb, from_logits=True), rel=1e-12
        )

    def test_poly1_with_epsilon_zero_is_cross_entropy(self):
        z = _logits()
        q = softmax(RNG.normal(size=(7, 5)))
        L, ce = ll.Poly1(epsilon=0.0, from_logits=True), ll.CrossEntropy(from_logits=True)
        assert L(q, z) == pytest.approx(ce(q, z), rel=1e-12)
        np.testing.assert_allclose(L.gradient(q, z), ce.gradient(q, z), rtol=1e-12)
        # Leng et al.: Poly-1 = CE + ε(1 − p_t), with p_t the true-class probability.
        y = RNG.integers(0, 5, size=7)
        p = softmax(z)
        expected = ce(y, z) + 2.0 * np.mean(1 - p[np.arange(7), y])
        assert ll.poly1(y, z, epsilon=2.0, from_logits=True) == pytest.approx(expected, rel=1e-12)

    def test_generalized_cross_entropy_tends_to_cross_entropy(self):
        p = softmax(_logits())
        y = RNG.integers(0, 5, size=7)
        ce = ll.cross_entropy(y, p)
        gaps = [abs(ll.generalized_cross_entropy(y, p, q=q) - ce) for q in (0.1, 0.01, 1e-4)]
        assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3 * ce
        # q = 1: 1 − p_y.
        assert ll.generalized_cross_entropy(y, p, q=1.0) == pytest.approx(np.mean(1 - p[np.arange(7), y]))

    def test_binary_cross_entropy_is_two_class_cross_entropy(self):
        y = RNG.integers(0, 2, size=11)
        p = RNG.uniform(0.01, 0.99, size=11)
        rows = np.stack([1 - p, p], axis=1)
        assert ll.binary_cross_entropy(y, p) == pytest.approx(ll.cross_entropy(y, rows), rel=1e-12)
        z = RNG.normal(0.0, 3.0, size=11)
        two = np.stack([np.zeros(11), z], axis=1)  # softmax([0, z])[1] = σ(z)
        assert ll.binary_cross_entropy(y, z, from_logits=True) == pytest.approx(
            ll.cross_entropy(y, two, from_logits=True), rel=1e-12
        )
        # ... and logistic on ±1 labels is the same function of the logit.
        assert ll.logistic(2 * y - 1, z) == pytest.approx(ll.binary_cross_entropy(y, z, from_logits=True), rel=1e-12)

    def test_index_targets_equal_one_hot(self):
        z = _logits()
        y = RNG.integers(0, 5, size=7)
        w = [1.0, 2.0, 0.5, 3.0, 1.5]
        for L in (
            ll.CrossEntropy(from_logits=True, class_weight=w, label_smoothing=0.1),
            ll.Focal(from_logits=True),
            ll.Poly1(from_logits=True),
            ll.GeneralizedCrossEntropy(from_logits=True),
            ll.SymmetricCrossEntropy(from_logits=True),
            ll.CostSensitive(from_logits=True),
            ll.MulticlassHinge(variant="crammer_singer"),
        ):
            a, ga = L.value_and_gradient(y, z)
            b, gb = L.value_and_gradient(np.eye(5)[y], z)
            assert a == pytest.approx(b, rel=1e-12), L
            np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-15)

    def test_probability_path_equals_logit_path(self):
        z = _logits(scale=1.0)
        p = softmax(z)
        y = RNG.integers(0, 5, size=7)
        for cls, kw in [
            (ll.CrossEntropy, {}),
            (ll.Focal, {"gamma": 1.5}),
            (ll.Poly1, {"epsilon": 1.0}),
            (ll.GeneralizedCrossEntropy, {}),
            (ll.SymmetricCrossEntropy, {}),
            (ll.CostSensitive, {}),
        ]:
            assert cls(**kw)(y, p) == pytest.approx(cls(from_logits=True, **kw)(y, z), rel=1e-12), cls
        zb = RNG.normal(0.0, 2.0, size=9)
        yb = RNG.integers(0, 2, size=9)
        pb = 1 / (1 + np.exp(-zb))
        for L, Lz in [
            (ll.BinaryCrossEntropy(), ll.BinaryCrossEntropy(from_logits=True)),
            (ll.BinaryFocal(gamma=0.5), ll.BinaryFocal(gamma=0.5, from_logits=True)),
        ]:
            assert L(yb, pb) == pytest.approx(Lz(yb, zb), rel=1e-12)
            # Chain rule: ∂ℓ/∂z = ∂ℓ/∂p · p(1 − p).
            np.testing.assert_allclose(L.gradient(yb, pb) * pb * (1 - pb), Lz.gradient(yb, zb), rtol=1e-9)

    def test_tversky_half_half_is_dice(self):
        p = softmax(RNG.normal(size=(3, 2, 16)).transpose(0, 2, 1).reshape(-1, 2)).reshape(3, 16, 2).transpose(0, 2, 1)
        t = (RNG.uniform(size=(3, 2, 16)) < 0.4).astype(float)
        assert ll.tversky(t, p, alpha=0.5, beta=0.5, smooth=0.0) == pytest.approx(ll.dice(t, p, smooth=0.0), rel=1e-12)
        # With smoothing s: (TP + s)/(½(P + T) + s) = (2TP + 2s)/(P + T + 2s).
        assert ll.tversky(t, p, smooth=1.0) == pytest.approx(ll.dice(t, p, smooth=2.0), rel=1e-12)
        # Index maps equal one-hot maps.
        labels = RNG.integers(0, 2, size=(3, 16))
        one_hot = (labels[:, None, :] == np.arange(2)[None, :, None]).astype(float)
        assert ll.dice(labels, p) == pytest.approx(ll.dice(one_hot, p), rel=1e-12)

    def test_dice_against_its_formula(self):
        # Milletari et al.: 1 − (2Σpt + s)/(Σp + Σt + s) per class, averaged over classes.
        p = RNG.uniform(size=(2, 3, 5))
        t = (RNG.uniform(size=(2, 3, 5)) < 0.5).astype(float)
        s = 1.0
        per_class = 1 - (2 * (p * t).sum(-1) + s) / (p.sum(-1) + t.sum(-1) + s)
        np.testing.assert_allclose(ll.dice(t, p, reduction="none"), per_class.mean(axis=1), rtol=1e-12)

    @pytest.mark.parametrize("cls", [ll.Hinge, ll.SquaredHinge, ll.SmoothedHinge, ll.ModifiedHuber, ll.Logistic,
                                     ll.Exponential, ll.Perceptron, ll.ZeroOne])
    def test_margin_losses_take_zero_one_labels(self, cls):
        y = RNG.integers(0, 2, size=15)
        f = RNG.normal(0.0, 2.0, size=15)
        L = cls()
        assert L(y, f) == pytest.approx(L(2 * y - 1, f), rel=1e-15)
        np.testing.assert_array_equal(L.gradient(y, f), L.gradient(2.0 * y - 1, f))

    def test_symmetric_cross_entropy_parts(self):
        p = softmax(_logits())
        y = RNG.integers(0, 5, size=7)
        # alpha=1, beta=0 is cross-entropy; the reverse term of a one-hot target is −A(1 − p_y), A = −4.
        assert ll.symmetric_cross_entropy(y, p, alpha=1.0, beta=0.0) == pytest.approx(ll.cross_entropy(y, p))
        rce = ll.symmetric_cross_entropy(y, p, alpha=0.0, beta=1.0)
        assert rce == pytest.approx(np.mean(4 * (1 - p[np.arange(7), y])), rel=1e-12)

    def test_cost_sensitive_is_the_expected_cost(self):
        p = softmax(_logits(6, 3))
        y = RNG.integers(0, 3, size=6)
        costs = np.array([[0.0, 1.0, 10.0], [1.0, 0.0, 1.0], [10.0, 1.0, 0.0]])
        expected = np.mean([costs[y[i]] @ p[i] for i in range(6)])
        assert ll.cost_sensitive(y, p, cost_matrix=costs) == pytest.approx(expected, rel=1e-12)
        assert ll.cost_sensitive(y, p) == pytest.approx(np.mean(1 - p[np.arange(6), y]), rel=1e-12)

    def test_class_balanced_weights_published_ratios(self):
        # Cui et al., "Class-Balanced Loss Based on Effective Number of Samples" (CVPR 2019):
        # w ∝ (1 − β)/(1 − βⁿ), so w₁/w₀ = (1 − β^9900)/(1 − β^100): at β = 0.999 that is
        # (1 − 5.0e-5)/(1 − e^(−0.10005)) = 10.5; at β = 0.9999, (1 − 0.372)/(1 − 0.990) = 63.2.
        w = ll.class_balanced_weights([9900, 100], beta=0.999)
        assert w[1] / w[0] == pytest.approx(10.5, abs=0.05)
        w = ll.class_balanced_weights([9900, 100], beta=0.9999)
        assert w[1] / w[0] == pytest.approx(63.2, abs=0.05)
        assert w.sum() == pytest.approx(2.0)
        np.testing.assert_allclose(ll.class_balanced_weights([5, 50, 500], beta=0.0), [1.0, 1.0, 1.0])
        # β → 1: inverse frequency (99x).
        w = ll.class_balanced_weights([9900, 100], beta=1 - 1e-12)
        assert w[1] / w[0] == pytest.approx(99.0, rel=1e-4)
        with pytest.raises(ValueError, match="counts"):
            ll.class_balanced_weights([10, 0])
        with pytest.raises(ValueError, match="beta"):
            ll.class_balanced_weights([10, 5], beta=1.0)


# =============================================================================== extremes
LOGIT_LOSSES = [
    ll.CrossEntropy(from_logits=True),
    ll.CrossEntropy(from_logits=True, label_smoothing=0.1),
    ll.Focal(from_logits=True),
    ll.Focal(gamma=0.5, from_logits=True),
    ll.Poly1(from_logits=True),
    ll.GeneralizedCrossEntropy(from_logits=True),
    ll.SymmetricCrossEntropy(from_logits=True),
    ll.CostSensitive(from_logits=True),
]


class TestExtremes:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_cross_entropy_at_logits_of_1e4_is_exact(self, dtype):
        z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
        y = np.array([0, 1, 0])
        L = ll.CrossEntropy(from_logits=True)
        # log Σ e^{z − max} = log(1 + 2e^{−1e4}) = 0 exactly, so ℓ = max − z_y.
        np.testing.assert_array_equal(L(y, z, reduction="none"), np.array([0.0, 2e4, 2e4], dtype=dtype))
        grad = L.gradient(y, z, reduction="sum")
        expected_grad = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [-1.0, 0.0, 1.0]], dtype=dtype)
        np.testing.assert_array_equal(grad, expected_grad)
        assert grad.dtype == dtype
        # The generic path (one-hot targets, no fused kernel) agrees.
        np.testing.assert_array_equal(L(np.eye(3, dtype=dtype)[y], z, reduction="none"), [0.0, 2e4, 2e4])
        # Every row's softmax is one-hot (e^{−1e4} underflows), so the diagonal p(1 − p) is exactly 0.
        np.testing.assert_array_equal(L.hessian(y, z), np.zeros((3, 3), dtype=dtype))

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("L", LOGIT_LOSSES, ids=repr)
    def test_logit_losses_finite_at_1e4(self, L, dtype):
        z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [0.0, 0.0, 1e4]], dtype=dtype)
        y = np.array([0, 0, 1])
        value = L(y, z, reduction="none")
        grad, hess = L.gradient(y, z), L.hessian(y, z)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
        assert value.dtype == dtype and grad.dtype == dtype
        # The first sample is right with certainty: no loss (GCE, SCE and cost are 0 there
        # too), except that label smoothing charges ε·(max − mean z) for the other classes.
        if getattr(L, "label_smoothing", 0) == 0:
            assert value[0] == 0.0

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize(
        "L", [ll.BinaryCrossEntropy(from_logits=True), ll.BinaryFocal(from_logits=True),
              ll.BinaryFocal(gamma=0.5, alpha=0.25, from_logits=True), ll.Logistic()], ids=repr
    )
    def test_binary_logits_at_1e4(self, L, dtype):
        y = np.array([1, 0, 1, 0], dtype=dtype)
        z = np.array([1e4, -1e4, -1e4, 1e4], dtype=dtype)
        value = L(y, z, reduction="none")
        # Right with certainty: 0; wrong: softplus(1e4) = 1e4 exactly (times α_t for focal,
        # whose (1 − p_t)^γ is exactly 1 there).
        a = getattr(L, "alpha", None)
        wrong = np.array([1e4 * (1 if a is None else a), 1e4 * (1 if a is None else 1 - a)], dtype=dtype)
        np.testing.assert_array_equal(value, np.concatenate([[0, 0], wrong]).astype(dtype))
        for arr in (L.gradient(y, z), L.hessian(y, z)):
            assert np.all(np.isfinite(arr)) and arr.dtype == dtype

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_exponential_overflow_is_an_error_not_a_capped_number(self, dtype):
        # e^{1e4} exceeds every float: the reduced loss says so instead of returning inf or a cap.
        L = ll.Exponential()
        y, f = np.array([1.0, -1.0], dtype=dtype), np.array([-1e4, 1e4], dtype=dtype)
        with np.errstate(over="ignore"), pytest.raises(ValueError, match="exponential: .* overflows"):
            L(y, f)
        # Just inside the range the value is exact: e^{−y·f} at the largest representable margin.
        edge = math.log(float(np.finfo(dtype).max)) - 1.0
        np.testing.assert_allclose(L(y[:1], np.array([-edge], dtype=dtype)), math.exp(edge), rtol=1e-5)

    @pytest.mark.parametrize("targets", ["index", "one_hot"])
    def test_masked_class_gives_exact_finite_results(self, targets):
        z = np.array([[2.0, -np.inf, 0.0], [-np.inf, 1.0, 3.0]])
        y = np.array([0, 2]) if targets == "index" else np.eye(3)[[0, 2]]
        L = ll.CrossEntropy(from_logits=True)
        value, grad = L(y, z, reduction="none"), L.gradient(y, z, reduction="sum")
        # Independent: the masked class drops out of the softmax.
        expected = np.array([np.log1p(np.exp(-2.0)), np.log1p(np.exp(-2.0))])
        np.testing.assert_allclose(value, expected, rtol=4e-15)
        p = np.array([[1 / (1 + np.exp(-2.0)), 0.0, 1 / (1 + np.exp(2.0))],
                      [0.0, 1 / (1 + np.exp(2.0)), 1 / (1 + np.exp(-2.0))]])
        np.testing.assert_allclose(grad, p - np.eye(3)[[0, 2]], rtol=1e-14, atol=1e-17)
        assert np.all(np.isfinite(L.hessian(y, z)))
        for M in LOGIT_LOSSES[2:]:
            v, g, h = M(y, z, reduction="none"), M.gradient(y, z), M.hessian(y, z)
            assert np.all(np.isfinite(v)) and np.all(np.isfinite(g)) and np.all(np.isfinite(h)), M
            assert g[0, 1] == 0.0 and g[1, 0] == 0.0, M  # no gradient flows to a masked class

    def test_masked_class_on_torch_with_autograd(self):
        torch = _torch()
        z = torch.tensor([[2.0, -math.inf, 0.0]], dtype=torch.float64, requires_grad=True)
        value = ll.cross_entropy(torch.tensor([0]), z, from_logits=True)
        value.backward()
        assert float(value.detach()) == pytest.approx(math.log1p(math.exp(-2.0)), rel=1e-15)
        assert torch.isfinite(z.grad).all() and float(z.grad[0, 1]) == 0.0

    @pytest.mark.parametrize("dtype,expected", [(np.float64, 36.04365338911715), (np.float32, 15.942385)])
    def test_probabilities_0_and_1_are_clipped_to_eps(self, dtype, expected):
        # −log(finfo(dtype).eps): 36.04 (float64) and 15.94 (float32), as scikit-learn's log_loss.
        assert -math.log(np.finfo(dtype).eps) == pytest.approx(expected, rel=1e-6)
        p = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)
        value = ll.cross_entropy([0, 0], p, reduction="none")
        np.testing.assert_allclose(value, [expected, -math.log1p(-float(np.finfo(dtype).eps))], rtol=1e-6)
        assert np.all(np.isfinite(ll.CrossEntropy().gradient([0, 0], p)))
        b = ll.binary_cross_entropy(np.array([1, 0], dtype=dtype), np.array([0.0, 1.0], dtype=dtype), reduction="none")
        np.testing.assert_allclose(b, [expected, expected], rtol=1e-6)
        for L in (ll.BinaryCrossEntropy(), ll.BinaryFocal(gamma=0.5)):
            y, q = np.array([1, 0, 1, 0], dtype=dtype), np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype)
            assert np.all(np.isfinite(L.gradient(y, q))) and np.all(np.isfinite(L.hessian(y, q)))

    def test_large_blocked_input_with_weights_ignore_and_masks_equals_direct(self, monkeypatch):
        from losslab.loss import engine as core

        rng = np.random.default_rng(31)  # its own generator: the data must not depend on which tests ran first
        z = rng.normal(0.0, 3.0, size=(600, 7))
        z[::5, 3] = -np.inf
        y = rng.integers(0, 7, size=600)
        y[y == 3] = 0
        y[::7] = -100
        L = ll.CrossEntropy(from_logits=True, class_weight=np.arange(1.0, 8.0), ignore_index=-100, label_smoothing=0.0)
        monkeypatch.setattr(core, "BLOCK_THRESHOLD", 10**12)
        direct = L.value_and_gradient(y, z)
        monkeypatch.setattr(core, "BLOCK_THRESHOLD", 64)
        monkeypatch.setattr(core, "BLOCK_BYTES", 256)
        blocked = L.value_and_gradient(y, z)
        assert blocked[0] == pytest.approx(direct[0], rel=1e-12)
        # entries are summed in another order block by block: rounding relative to the largest entry
        np.testing.assert_allclose(blocked[1], direct[1], rtol=1e-13, atol=1e-13 * np.max(np.abs(direct[1])))
        # ... and both agree with the generic one-hot path (no fused kernel).
        one_hot = np.eye(7)[np.where(y >= 0, y, 0)]  # ignored rows: any class, weight 0
        w = np.where(y >= 0, np.arange(1.0, 8.0)[np.where(y >= 0, y, 0)], 0.0)
        generic = ll.CrossEntropy(from_logits=True).value_and_gradient(one_hot, z, sample_weight=w)
        assert generic[0] == pytest.approx(direct[0], rel=1e-12)
        np.testing.assert_allclose(generic[1], direct[1], rtol=1e-10, atol=1e-16)

    def test_fused_float32_matches_float64(self):
        z = RNG.normal(0.0, 3.0, size=(50, 10))
        y = RNG.integers(0, 10, size=50)
        L = ll.CrossEntropy(from_logits=True)
        v64, g64 = L.value_and_gradient(y, z)
        v32, g32 = L.value_and_gradient(y, z.astype(np.float32))
        assert v32.dtype == np.float32 and g32.dtype == np.float32
        assert float(v32) == pytest.approx(float(v64), rel=1e-6)
        np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-8)


# =============================================================================== bad input
class TestErrors:
    def test_class_index_out_of_range_negative_or_fractional(self):
        p = softmax(_logits(3, 3))
        with pytest.raises(ValueError, match=r"y_true class indices must lie in \[0, 2\].*got 3"):
            ll.cross_entropy([0, 1, 3], p)
        with pytest.raises(ValueError, match="y_true.*got -1"):
            ll.cross_entropy([0, -1, 2], p)
        with pytest.raises(ValueError, match="y_true class indices must be whole numbers; got 1.5"):
            ll.cross_entropy([0, 1.5, 2], p)
        with pytest.raises(ValueError, match="y_true"):
            ll.cross_entropy(np.array([0, 1, 3]), _logits(3, 3), from_logits=True)  # the fused path

    def test_probabilities_outside_unit_interval_suggest_from_logits(self):
        with pytest.raises(ValueError, match=r"y_pred must hold probabilities.*got min -0.2.*from_logits=True"):
            ll.cross_entropy([0], [[1.2, -0.2]])
        with pytest.raises(ValueError, match=r"y_pred.*got m(in|ax) 1.5.*from_logits=True"):
            ll.binary_cross_entropy([1.0], [1.5])

    def test_rows_not_summing_to_one(self):
        with pytest.raises(ValueError, match="y_pred rows must sum to 1"):
            ll.cross_entropy([0], [[0.5, 0.6]])

    def test_one_hot_width_and_class_weight_length(self):
        shapes = r"y_true must be class indices of shape \(2,\).*\(2, 3\).*got shape \(2, 2\)"
        with pytest.raises(ValueError, match=shapes):
            ll.cross_entropy(np.eye(2), softmax(_logits(2, 3)))
        with pytest.raises(ValueError, match="class_weight is for 2 classes but y_pred has 3"):
            ll.cross_entropy([0, 1], softmax(_logits(2, 3)), class_weight=[1.0, 2.0])
        with pytest.raises(ValueError, match="cost_matrix is for 2 classes"):
            ll.cost_sensitive([0, 1], softmax(_logits(2, 3)), cost_matrix=[[0, 1], [1, 0]])

    def test_hinge_labels(self):
        with pytest.raises(ValueError, match=r"y_true must hold binary labels in \{-1, \+1\} or \{0, 1\}; got 2"):
            ll.hinge([1, 2], [0.3, 0.1])
        with pytest.raises(ValueError, match="y_true mixes"):
            ll.hinge([-1, 0], [0.3, 0.1])
        with pytest.raises(ValueError, match="soft labels"):
            ll.multiclass_hinge(softmax(_logits(2, 3)), _logits(2, 3))

    @pytest.mark.parametrize(
        "name,params,match",
        [
            ("focal", {"gamma": -1.0}, "gamma must be a finite number >= 0; got -1.0"),
            ("binary_focal", {"gamma": math.nan}, "gamma"),
            ("binary_focal", {"alpha": 1.5}, "alpha must be None or a number in"),
            ("focal", {"alpha": 0.0}, "alpha"),
            ("hinge", {"margin": -1.0}, "margin must be a finite number > 0; got -1.0"),
            ("multiclass_hinge", {"margin": 0.0}, "margin"),
            ("cross_entropy", {"label_smoothing": 1.0}, r"label_smoothing must be a number in \[0, 1\); got 1.0"),
            ("binary_cross_entropy", {"label_smoothing": -0.1}, "label_smoothing"),
            ("multiclass_hinge", {"variant": "ww"},
             "variant must be one of 'weston_watkins', 'crammer_singer'; got 'ww'"),
            ("cross_entropy", {"class_weight": [1.0, -2.0]}, "class_weight must be None or a 1-D sequence"),
            ("cross_entropy", {"ignore_index": 1.5}, "ignore_index"),
            ("binary_cross_entropy", {"pos_weight": 0.0}, "pos_weight"),
            ("poly1", {"epsilon": -2.0}, "epsilon must be a finite number >= -1"),
            ("generalized_cross_entropy", {"q": 0.0}, r"q must be a number in \(0, 1\]"),
            ("cost_sensitive", {"cost_matrix": [[0, 1], [-1, 0]]}, "cost_matrix"),
            ("tversky", {"alpha": 0.0, "beta": 0.0}, "alpha and beta must not both be 0"),
            ("dice", {"smooth": -1.0}, "smooth"),
        ],
    )
    def test_invalid_parameters_fail_at_construction(self, name, params, match):
        with pytest.raises(ValueError, match=match):
            ll.get(name, **params)

    def test_logits_errors(self):
        with pytest.raises(ValueError, match=r"y_pred must be finite \(−inf is allowed for a masked logit\)"):
            ll.cross_entropy([0], [[np.inf, 0.0]], from_logits=True)
        with pytest.raises(ValueError, match="row 0 is all -inf"):
            ll.cross_entropy([0], [[-np.inf, -np.inf]], from_logits=True)
        with pytest.raises(ValueError, match="y_pred must hold log-probabilities"):
            ll.nll([0], [[0.5, -1.0]])
        with pytest.raises(ValueError, match="y_pred must have shape \\(n_samples, n_classes\\)"):
            ll.cross_entropy([0, 1], [0.3, 0.7])
        with pytest.raises(ValueError, match="y_true must hold labels"):
            ll.binary_cross_entropy([2.0], [0.5])


# =============================================================================== published numbers
class TestPublishedNumbers:
    @pytest.mark.parametrize(
        "p,expected",
        [(0.9, 0.105), (0.6, 0.511), (0.4, 0.916), (0.05, 3.00), (0.02, 3.9), (0.7, 0.357), (0.2, 1.609)],
    )
    def test_cross_entropy_of_the_true_class_worked_by_hand(self, p, expected):
        # −log p of the true class's probability, worked by hand (−log 0.9 = 0.1054, ...).
        rows = [[p, 1 - p]]
        # Rounded to the digits shown: tolerance half a unit of the last digit.
        digits = len(str(expected).split(".")[1])
        assert ll.cross_entropy([0], rows) == pytest.approx(expected, abs=0.5 * 10**-digits + 1e-12)

    def test_binary_cross_entropy_and_hinge_worked_by_hand(self):
        # −log(1 − 0.2) = 0.2231 and −log(1 − 0.9) = 2.3026; hinge max(0, 1 − y·ŷ).
        assert ll.binary_cross_entropy([0], [0.2]) == pytest.approx(0.223, abs=5e-4)
        assert ll.binary_cross_entropy([0], [0.9]) == pytest.approx(2.302, abs=1e-3)  # 2.3026, truncated
        # Hinge of y = 1: ŷ = 0.5 → 0.5; ŷ = 0.8 → 0.2.
        np.testing.assert_allclose(ll.hinge([1, 1], [0.5, 0.8], reduction="none"), [0.5, 0.2], rtol=1e-15)

    def test_keras_binary_crossentropy(self):
        y = np.eye(3)
        p = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]])
        # Keras's number is computed in float32 (and clipped at 1e-7, which these values never
        # reach): float32 here gives it to float32 precision; float64 differs by 1.5e-7.
        f32 = ll.binary_cross_entropy(y.astype(np.float32), p.astype(np.float32))
        assert f32 == pytest.approx(0.20046903, rel=1e-6)
        assert ll.binary_cross_entropy(y, p) == pytest.approx(0.20046903, abs=2e-7)

    def test_keras_categorical_crossentropy_from_logits(self):
        z = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])
        assert ll.cross_entropy(np.eye(3), z, from_logits=True) == pytest.approx(0.0573, abs=1e-4)  # 0.05738
        np.testing.assert_allclose(
            ll.cross_entropy([0, 1, 2], z, from_logits=True, reduction="none"), [0.001822, 0.000459, 0.169846],
            atol=1e-6,
        )

    def test_keras_binary_focal_hinge_and_squared_hinge(self):
        y = np.array([[1, 0], [1, 0]])
        p = np.array([[0.9, 0.8], [0.7, 0.2]])
        assert ll.binary_focal(y, p, gamma=2.0) == pytest.approx(0.268, abs=5e-4)
        yh = np.array([[0, 1], [0, 0]])
        ph = np.array([[0.6, 0.4], [0.4, 0.6]])
        assert ll.hinge(yh, ph) == pytest.approx(1.3, rel=1e-12)
        assert ll.squared_hinge(yh, ph) == pytest.approx(1.86, rel=1e-12)

    def test_optax_softmax_cross_entropy(self):
        z = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]])
        y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        np.testing.assert_allclose(
            ll.cross_entropy(y, z, from_logits=True, reduction="none"), [9.00013, 3.0696733], rtol=1e-6
        )

    def test_focal_down_weights_easy_examples_100x(self):
        # Lin et al.: at p_t = 0.9 with γ = 2 the loss is down-weighted 100x.
        assert ll.cross_entropy([0], [[0.9, 0.1]]) / ll.focal([0], [[0.9, 0.1]]) == pytest.approx(100.0)


# =============================================================================== traits
def test_declared_traits_follow_the_issue():
    t = {e.name: e.build().traits for e in ll.catalog() if e.family in ("binary", "multiclass", "segmentation")}
    for name in ("hinge", "logistic", "exponential", "modified_huber", "squared_hinge"):
        assert t[name].classification_calibrated is True, name
        assert t[name].margin_based and t[name].convex
    assert t["perceptron"].classification_calibrated is False
    assert t["hinge"].proper is False and t["hinge"].estimates == "sign" and not t["hinge"].differentiable
    assert t["cross_entropy"].proper and t["binary_cross_entropy"].proper
    assert t["cross_entropy"].estimates == "probability"
    assert t["focal"].proper is False and ll.Focal(gamma=0.0).traits.proper is True
    assert t["binary_focal"].proper is False
    assert not t["exponential"].lipschitz and ll.Logistic().traits.lipschitz
    assert not t["zero_one"].differentiable and t["zero_one"].bounded
    assert ll.CrossEntropy(label_smoothing=0.1).traits.proper is False
    assert {v.task for v in t.values()} == {"binary", "multiclass", "segmentation"}


def test_crammer_singer_subgradient_splits_ties():
    # s = [0, 1, 1], y = 0: both rivals tie at the max; raising both by h raises the loss by h
    # (not 2h), so a valid subgradient gives the tied rivals 1/2 each.
    loss = ll.get("multiclass_hinge", variant="crammer_singer")
    g = loss.gradient([0], np.array([[0.0, 1.0, 1.0]]), reduction="sum")
    np.testing.assert_allclose(g, [[-1.0, 0.5, 0.5]])
    h = 1e-6
    up = loss([0], np.array([[0.0, 1.0 + h, 1.0 + h]]), reduction="sum") - loss([0], np.array([[0.0, 1.0, 1.0]]), reduction="sum")
    assert up == pytest.approx(h * float(g[0, 1:].sum()), rel=1e-6)


def test_jax_jit_with_labels_captured_in_a_closure():
    # Concrete labels closed over by a jitted function: their value checks are skipped inside
    # the trace (abstract values), and the result equals the eager one.
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    labels = jnp.asarray([0, 2, 1])
    logits = jnp.asarray([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [1.0, 3.0, -2.0]])
    eager = ll.cross_entropy(labels, logits, from_logits=True, label_smoothing=0.1)
    jitted = jax.jit(lambda z: ll.cross_entropy(labels, z, from_logits=True, label_smoothing=0.1))(logits)
    assert float(jitted) == pytest.approx(float(eager), rel=1e-6)


def test_masked_true_class_is_an_error_naming_the_row():
    # CrossEntropy's docstring (Domains): a −inf logit is allowed for a masked class; when the
    # true class is masked the loss is infinite, which is reported, not returned.
    z = np.array([[0.0, -np.inf], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"class 1 of row 0, whose logit is -inf"):
        ll.cross_entropy([1, 1], z, from_logits=True)
    with pytest.raises(ValueError, match="label_smoothing puts target mass on every class"):
        ll.cross_entropy([0, 1], z, from_logits=True, label_smoothing=0.1)
    assert np.isfinite(ll.cross_entropy([0, 1], z, from_logits=True))


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_blocked_fused_kernel_with_label_smoothing_equals_direct(label_smoothing, kernels, monkeypatch):
    # The fused kernels run only on large inputs: force blocks and compare with one pass of the
    # generic code. With numba installed the compiled kernel takes the whole input, so the NumPy
    # block kernel runs only with LOSSLAB_KERNELS=0; the spy makes sure it did.
    from losslab.kernels import available
    from losslab.loss import engine as core
    from losslab.losses import multiclass

    calls = []
    if kernels == "numpy":
        monkeypatch.setenv("LOSSLAB_KERNELS", "0")
        block_kernel = multiclass._softmax_cross_entropy_block

        def spy(*args):
            calls.append(block_kernel(*args))
            return calls[-1]

        monkeypatch.setattr(multiclass, "_softmax_cross_entropy_block", spy)
    elif not available():
        pytest.skip("numba is not installed: no compiled kernel")
    rng = np.random.default_rng(11)
    z = rng.normal(0.0, 3.0, size=(500, 6))
    y = rng.integers(0, 6, size=500)
    w = rng.uniform(0.0, 2.0, size=500)
    L = ll.CrossEntropy(from_logits=True, label_smoothing=label_smoothing)
    monkeypatch.setattr(core, "BLOCK_THRESHOLD", 10**12)
    direct = L.value_and_gradient(y, z, sample_weight=w)
    monkeypatch.setattr(core, "BLOCK_THRESHOLD", 64)
    monkeypatch.setattr(core, "BLOCK_BYTES", 256)
    blocked = L.value_and_gradient(y, z, sample_weight=w)
    assert blocked[0] == pytest.approx(direct[0], rel=1e-12)
    np.testing.assert_allclose(blocked[1], direct[1], rtol=1e-12, atol=1e-15)
    if kernels == "numpy":
        assert len(calls) > 1 and None not in calls  # every row block ran the NumPy kernel
