"""losslab.torch: losses as torch.nn.Module objects, checked against losslab and torch.nn."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import losslab as ll  # noqa: E402
import losslab.torch as llt  # noqa: E402


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("spec, kind", [
    ("mse", "regression"), ("huber(delta=2)", "regression"), ("quantile(q=0.9)", "regression"),
    ("binary_cross_entropy(from_logits=True)", "binary"), ("focal(gamma=2, from_logits=True)", "multiclass"),
])
def test_value_and_gradient_equal_losslab(spec, kind):
    g = _generator()
    if kind == "regression":
        y, z = torch.randn(8, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64)
    elif kind == "binary":
        y = (torch.rand(8, generator=g) > 0.5).double()
        z = torch.randn(8, generator=g, dtype=torch.float64)
    else:
        y, z = torch.randint(0, 3, (8,), generator=g), torch.randn(8, 3, generator=g, dtype=torch.float64)
    z.requires_grad_(True)
    criterion = llt.Loss(spec)
    assert isinstance(criterion, torch.nn.Module)
    value = criterion(y, z)
    value.backward()
    L = ll.resolve_loss(spec)
    assert value.item() == pytest.approx(float(L(y.numpy(), z.detach().numpy())), rel=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), L.gradient(y.numpy(), z.detach().numpy()), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_argument_order_matches_torch_nn(reduction):
    g = _generator(1)
    x, t = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    ours = llt.Loss("huber", delta=0.7, argument_order="torch", reduction=reduction)(x, t)
    torch.testing.assert_close(ours, torch.nn.HuberLoss(delta=0.7, reduction=reduction)(x, t))
    labels = (torch.rand(6, 4, generator=g) > 0.5).double()
    ours = llt.module("binary_cross_entropy(from_logits=True)", argument_order="torch", reduction=reduction)(x, labels)
    torch.testing.assert_close(ours, torch.nn.BCEWithLogitsLoss(reduction=reduction)(x, labels))
    classes = torch.randint(0, 4, (6,), generator=g)
    ours = llt.Loss("cross_entropy", from_logits=True, argument_order="torch", reduction=reduction)(x, classes)
    torch.testing.assert_close(ours, torch.nn.CrossEntropyLoss(reduction=reduction)(x, classes))


def test_batchmean_is_pytorchs_kl_batchmean():
    g = _generator(2)
    p = torch.softmax(torch.randn(5, 3, generator=g, dtype=torch.float64), dim=1)
    q = torch.softmax(torch.randn(5, 3, generator=g, dtype=torch.float64), dim=1)
    ours = llt.Loss("kl_divergence", reduction="batchmean")(p, q)  # KL(p ‖ q), losslab's order
    torch.testing.assert_close(ours, torch.nn.KLDivLoss(reduction="batchmean")(q.log(), p))
    torch.testing.assert_close(ours, llt.Loss("kl_divergence")(p, q))  # losslab's mean is the same here


def test_sample_weight_is_the_weighted_mean():
    y, z = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([1.0, 2.0, 3.0])
    w = torch.tensor([1.0, 1.0, 2.0])
    # (1·1 + 1·4 + 2·9) / (1 + 1 + 2) = 23 / 4, by hand
    assert llt.Loss("mse")(y, z, sample_weight=w).item() == pytest.approx(23 / 4)


def test_a_tiny_torch_model_trains_with_the_module_exactly_as_with_torch_nn():
    # y = 3x − 1 with 5% gross outliers; the same SGD run with losslab's huber module and with
    # torch.nn.HuberLoss must take the same steps (the same loss and gradient at every step).
    g = _generator(3)
    X = torch.randn(200, 1, generator=g)
    y = 3.0 * X[:, 0] - 1.0 + 0.1 * torch.randn(200, generator=g)
    y[:10] += 50.0

    def train(criterion):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(300):
            optimizer.zero_grad()
            loss = criterion(model(X)[:, 0], y)
            loss.backward()
            optimizer.step()
        return model.weight.item(), model.bias.item()

    ours = train(llt.Loss("huber(delta=1.0)", argument_order="torch"))
    reference = train(torch.nn.HuberLoss(delta=1.0))
    assert ours == pytest.approx(reference, rel=1e-5)
    assert ours[0] == pytest.approx(3.0, abs=0.1)  # robust: the outliers barely move the slope


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="reduction must be one of"):
        llt.Loss("mse", reduction="average")
    with pytest.raises(ValueError, match="argument_order must be"):
        llt.Loss("mse", argument_order="keras")
    with pytest.raises(ValueError, match="triplet takes"):
        llt.Loss("triplet", argument_order="torch")
    with pytest.raises(ValueError, match="Did you mean 'huber'"):
        llt.Loss("hubr")
