"""Reference tests of the sequence losses added in issue 13: ``ctc`` and ``soft_dtw``.

Where each expected number comes from:

- CTC: the paper's definition evaluated directly (every path π over the frames, kept when
  collapsing repeats then removing blanks gives the labels; −log of the summed products of
  softmax probabilities), and PyTorch's ``torch.nn.functional.ctc_loss`` (values and the
  gradient autograd returns for its log_probs) and Keras 3's ``keras.losses.CTC`` when
  installed.
- soft-DTW: Cuturi & Blondel's recursion written out cell by cell in plain Python, DTW's
  min recursion for γ → 0, and central finite differences of the value for the gradient.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest

import losslab as ll
from losslab.loss.contract import LossOverflow


@pytest.fixture
def rng():
    return np.random.default_rng(13)


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _batch(rng, n, frames, width, n_classes, blank=0, impossible=False):
    """Padded label rows with repeats and varied lengths; input lengths leave room for an
    alignment unless ``impossible`` (then the last sequence has one frame too few)."""
    labels = [c for c in range(n_classes) if c != blank]
    target_lengths = rng.integers(0, width + 1, size=n)
    target_lengths[0] = width  # at least one full row
    targets = np.full((n, width), blank)
    input_lengths = np.empty(n, dtype=int)
    for i, length in enumerate(target_lengths):
        row = rng.choice(labels, size=length)
        if length >= 2:
            row[length - 1] = row[length - 2]  # a repeat: needs a blank between its copies
        targets[i, :length] = row
        needed = length + int(np.sum(row[1:] == row[:-1]))
        input_lengths[i] = rng.integers(needed, frames + 1)
    if impossible:
        i = n - 1
        row = targets[i, : target_lengths[i]]
        needed = target_lengths[i] + int(np.sum(row[1:] == row[:-1]))
        assert needed >= 1
        input_lengths[i] = needed - 1
    return targets, input_lengths, target_lengths


# ----------------------------------------------------------------------------- CTC: the paper
def _ctc_by_enumeration(labels, log_p, blank=0):
    """−log Σ over all paths π in C^T with B(π) = labels of Π_t p_{t,π_t} (Graves et al. 2006, eq. 2–3)."""
    frames, n_classes = log_p.shape
    total = 0.0
    for path in itertools.product(range(n_classes), repeat=frames):
        collapsed = [c for k, c in enumerate(path) if k == 0 or c != path[k - 1]]
        if [c for c in collapsed if c != blank] == list(labels):
            total += math.exp(sum(log_p[t, c] for t, c in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


@pytest.mark.parametrize("labels, frames", [([1], 3), ([1, 1], 4), ([1, 2, 1], 5), ([], 3), ([2, 2], 3)])
def test_ctc_equals_the_sum_over_every_alignment(rng, labels, frames):
    n_classes = 3
    logits = rng.normal(0.0, 1.5, size=(1, frames, n_classes))
    expected = _ctc_by_enumeration(labels, _log_softmax(logits[0]))
    targets = np.array([labels + [0] * (2 - len(labels))]) if len(labels) < 2 else np.array([labels])
    got = ll.ctc(targets, logits, target_lengths=[len(labels)], reduction="none")
    assert float(got[0]) == pytest.approx(expected, rel=1e-12)


def test_ctc_blank_anywhere_and_the_docstring_number():
    # Two uniform frames over {blank, a}: "a" is reached by (a, a), (blank, a), (a, blank): 3/4.
    assert float(ll.ctc([[1]], np.zeros((1, 2, 2)))) == pytest.approx(-math.log(0.75), rel=1e-14)
    # The blank as the last class (TensorFlow's convention): the same number with the ids moved.
    logits = np.random.default_rng(0).normal(size=(1, 4, 3))
    moved = logits[..., [1, 2, 0]]  # class 0 becomes 2
    a = ll.ctc([[1, 2]], logits, reduction="none")
    b = ll.ctc([[0, 1]], moved, blank=2, reduction="none")
    np.testing.assert_allclose(a, b, rtol=1e-13)


# ----------------------------------------------------------------------------- CTC: PyTorch
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ctc_equals_torch_value_and_gradient(seed, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    frames, n, width, n_classes = 9, 5, 4, 5
    targets, input_lengths, target_lengths = _batch(rng, n, frames, width, n_classes)
    log_probs = _log_softmax(rng.normal(0.0, 2.0, size=(frames, n, n_classes)))
    args = (torch.tensor(targets), torch.tensor(input_lengths), torch.tensor(target_lengths))
    for reduction in ("none", "sum", "mean"):
        lp = torch.tensor(log_probs, requires_grad=True)
        ref = F.ctc_loss(lp, *args, reduction=reduction)
        # 'mean' is PyTorch's default, the preset "CTCLoss"; 'sum' and 'none' do not divide.
        loss = ll.get("CTCLoss") if reduction == "mean" else ll.get("ctc", time_major=True)
        value = loss(targets, log_probs, input_lengths=input_lengths, target_lengths=target_lengths,
                     reduction=reduction)
        np.testing.assert_allclose(value, ref.detach().numpy(), rtol=1e-12)
        if reduction != "none":
            ref.backward()
            grad = loss.gradient(targets, log_probs, input_lengths=input_lengths, target_lengths=target_lengths,
                                 reduction=reduction)
            np.testing.assert_allclose(grad, lp.grad.numpy(), rtol=1e-9, atol=1e-13)
    # Batch-first logits (not normalised: log_softmax is applied) and the concatenated form.
    z = rng.normal(0.0, 2.0, size=(n, frames, n_classes))
    lp = torch.tensor(z.transpose(1, 0, 2)).log_softmax(-1).requires_grad_()
    ref = F.ctc_loss(lp, *args, reduction="sum")
    ref.backward()
    value, grad = ll.CTC().value_and_gradient(targets, z, input_lengths=input_lengths,
                                              target_lengths=target_lengths, reduction="sum")
    assert float(value) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, lp.grad.numpy().transpose(1, 0, 2), rtol=1e-9, atol=1e-13)
    concatenated = np.concatenate([targets[i, : target_lengths[i]] for i in range(n)])
    assert float(ll.ctc(concatenated, z, input_lengths=input_lengths, target_lengths=target_lengths,
                        reduction="sum")) == pytest.approx(ref.item(), rel=1e-12)


def test_torch_returns_the_gradient_through_log_softmax_not_of_free_log_probs(torch):
    """What PyTorch calls the gradient of its log_probs is softmax − posterior (rows sum to 0):
    the gradient of the logits behind a log_softmax, which losslab returns. The gradient with
    the log-probabilities as free inputs is −posterior (rows sum to −1): finite differences of
    PyTorch's own value on unnormalised inputs show it."""
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    lp = torch.tensor(_log_softmax(rng.normal(size=(4, 1, 3))), requires_grad=True)
    args = (torch.tensor([[1, 2]]), torch.tensor([4]), torch.tensor([2]))
    F.ctc_loss(lp, *args, reduction="sum").backward()
    np.testing.assert_allclose(lp.grad.sum(-1).numpy(), 0.0, atol=1e-14)
    h, free = 1e-6, np.empty((4, 3))
    for t, k in itertools.product(range(4), range(3)):
        up, down = lp.detach().clone(), lp.detach().clone()
        up[t, 0, k] += h
        down[t, 0, k] -= h
        free[t, k] = (F.ctc_loss(up, *args, reduction="sum") - F.ctc_loss(down, *args, reduction="sum")).item() / (2 * h)
    np.testing.assert_allclose(free.sum(-1), -1.0, atol=1e-6)
    np.testing.assert_allclose(lp.grad.numpy()[:, 0], free + np.exp(lp.detach().numpy()[:, 0]), atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_ctc_time_major_weights_the_sequences_not_the_frames(rng, reduction):
    """The (T, N, C) layout goes through the cotangent hook, the (N, T, C) one through the rows:
    with sample weights the two must give the same numbers, transposed."""
    targets, il, tl = _batch(rng, 5, 7, 3, 4)
    z = rng.normal(size=(5, 7, 4))
    w = rng.uniform(0.0, 2.0, size=5)
    kw = dict(input_lengths=il, target_lengths=tl, sample_weight=w, reduction=reduction)
    for divide in (False, True):
        batch_first = ll.CTC(divide_by_target_length=divide)
        time_first = ll.CTC(divide_by_target_length=divide, time_major=True)
        v1, g1 = batch_first.value_and_gradient(targets, z, **kw)
        v2, g2 = time_first.value_and_gradient(targets, z.transpose(1, 0, 2), **kw)
        assert float(v2) == pytest.approx(float(v1), rel=1e-13)
        np.testing.assert_allclose(g2, g1.transpose(1, 0, 2), rtol=1e-12, atol=1e-15)


def test_ctc_impossible_alignments_are_inf_or_zero_with_zero_infinity(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    frames, n, width, n_classes = 6, 4, 3, 4
    targets, input_lengths, target_lengths = _batch(rng, n, frames, width, n_classes, impossible=True)
    z = rng.normal(size=(n, frames, n_classes))
    kw = dict(input_lengths=input_lengths, target_lengths=target_lengths)
    none = ll.ctc(targets, z, reduction="none", **kw)
    assert np.isinf(none[-1]) and np.all(np.isfinite(none[:-1]))
    with pytest.raises(LossOverflow, match=f"sequence {n - 1} has no alignment.*zero_infinity=True"):
        ll.ctc(targets, z, **kw)
    with pytest.raises(LossOverflow, match="no alignment"):
        ll.CTC().gradient(targets, z, **kw)
    with pytest.raises(LossOverflow, match="no alignment"):
        ll.get("CTCLoss").gradient(targets, z.transpose(1, 0, 2), **kw)
    lp = torch.tensor(z.transpose(1, 0, 2)).log_softmax(-1).requires_grad_()
    args = (torch.tensor(targets), torch.tensor(input_lengths), torch.tensor(target_lengths))
    ref = F.ctc_loss(lp, *args, zero_infinity=True)
    ref.backward()
    loss = ll.get("CTCLoss", zero_infinity=True)
    value, grad = loss.value_and_gradient(targets, lp.detach().numpy(), **kw)
    assert float(value) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, lp.grad.numpy(), rtol=1e-9, atol=1e-13)
    assert np.all(grad[:, -1] == 0)
    # A sequence weighted 0 is still reported (0·∞ is no number, in both layouts; see
    # test_ctc_layouts_agree_on_a_zero_weight_sequence_without_alignment); zero_infinity counts it as 0.
    w = np.array([1.0] * (n - 1) + [0.0])
    with pytest.raises(LossOverflow, match="no alignment"):
        ll.get("CTCLoss")(targets, lp.detach().numpy(), sample_weight=w, reduction="sum", **kw)
    assert np.isfinite(float(loss(targets, lp.detach().numpy(), sample_weight=w, reduction="sum", **kw)))


def test_ctc_empty_targets_and_zero_frames(torch):
    F = torch.nn.functional
    z = np.random.default_rng(3).normal(size=(2, 3, 3))
    targets, il, tl = np.array([[0, 0], [1, 2]]), np.array([0, 3]), np.array([0, 2])
    got = ll.ctc(targets, z, input_lengths=il, target_lengths=tl, reduction="none")
    lp = torch.tensor(z.transpose(1, 0, 2)).log_softmax(-1)
    ref = F.ctc_loss(lp, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), reduction="none")
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12, atol=1e-15)
    assert float(got[0]) == 0.0  # nothing to emit in no frames: probability 1


def test_ctc_extreme_logits_stay_finite(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    targets, il, tl = _batch(rng, 3, 8, 3, 5)
    z = rng.normal(size=(3, 8, 5)) * 1e4
    lp = torch.tensor(z.transpose(1, 0, 2)).log_softmax(-1).requires_grad_()
    ref = F.ctc_loss(lp, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), reduction="sum")
    ref.backward()
    for dtype in (np.float64, np.float32):
        value, grad = ll.CTC().value_and_gradient(targets, z.astype(dtype), input_lengths=il, target_lengths=tl,
                                                  reduction="sum")
        assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == dtype
        assert float(value) == pytest.approx(ref.item(), rel=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(ll.CTC().gradient(targets, z, input_lengths=il, target_lengths=tl, reduction="sum"),
                               lp.grad.numpy().transpose(1, 0, 2), atol=1e-9)


def test_ctc_hessian_diagonal_is_softmax_variance_minus_posterior_variance(rng):
    """p(1 − p) − γ(1 − γ), against central differences of the analytic gradient."""
    targets, il, tl = _batch(rng, 3, 5, 2, 4)
    z = rng.normal(size=(3, 5, 4))
    L = ll.CTC()
    kw = dict(input_lengths=il, target_lengths=tl, reduction="sum")
    h, expected = 1e-5, np.empty_like(z)
    for idx in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[idx] += h
        down[idx] -= h
        expected[idx] = (L.gradient(targets, up, **kw)[idx] - L.gradient(targets, down, **kw)[idx]) / (2 * h)
    np.testing.assert_allclose(L.hessian(targets, z, **kw), expected, atol=1e-8)


def test_keras_ctc_is_this_loss_with_its_defaults():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the comparison runs on Keras's torch backend")
    rng = np.random.default_rng(2)
    # Keras: labels padded with 0 (the blank) at the end, logits (N, T, C), every frame used.
    targets = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [2, 2, 1, 3]])
    z = rng.normal(size=(3, 9, 4)).astype(np.float32)
    expected = keras.losses.ctc(targets, z).detach().cpu().numpy()
    np.testing.assert_allclose(ll.get("ctc")(targets, z, reduction="none"), expected, rtol=1e-5)
    mean = keras.losses.CTC()(targets, z).item()
    assert float(ll.get("CTC")(targets, z)) == pytest.approx(mean, rel=1e-5)


def test_optax_names_raise_their_difference():
    for name in ("ctc_loss", "ctc_loss_with_forward_probs"):
        with pytest.raises(ValueError, match="paddings"):
            ll.get(name)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda z: ll.ctc([[1, 0]], z, target_lengths=[2]), "must not hold the blank"),
        (lambda z: ll.ctc([[1, 7]], z), r"class ids in \[0, 3\]"),
        (lambda z: ll.ctc([[0, 1]], z), "label after a blank"),
        (lambda z: ll.ctc([[1, 2]], z, target_lengths=[3]), "at most the width of targets"),
        (lambda z: ll.ctc([[1, 2]], z, input_lengths=[6]), r"input_lengths must hold lengths in \[0, 5\]"),
        (lambda z: ll.ctc([[1, 2]], z, input_lengths=[2.5]), "input_lengths must hold whole numbers"),
        (lambda z: ll.ctc([[1, 2]], z, input_lengths=[1, 2]), r"input_lengths must have shape \(1,\)"),
        (lambda z: ll.ctc([1, 2], z), "need target_lengths"),
        (lambda z: ll.ctc([1, 2], z, target_lengths=[3]), "sum\\(target_lengths\\) = 3"),
        (lambda z: ll.ctc([[1, 2]], z[0]), "logits must be 3-D"),
        (lambda z: ll.ctc([[1, 2], [1, 1]], z), r"targets must be \(1, S\)"),
        (lambda z: ll.ctc([[1, 2]], z, blank=4), r"blank must be a class id in \[0, 3\]"),
        (lambda z: ll.ctc([[1.5, 2]], z), "targets must hold whole numbers"),
    ],
)
def test_ctc_bad_input_errors_name_the_argument(call, match):
    z = np.random.default_rng(0).normal(size=(1, 5, 4))
    with pytest.raises(ValueError, match=match):
        call(z)


def test_ctc_bad_parameters():
    with pytest.raises(ValueError, match="blank"):
        ll.CTC(blank=-1)
    with pytest.raises(ValueError, match="zero_infinity"):
        ll.CTC(zero_infinity=1)
    with pytest.raises(ValueError, match="Hessian"):
        ll.get("CTCLoss").hessian([[1]], np.zeros((3, 1, 2)))


# ----------------------------------------------------------------------------- soft-DTW
def _soft_dtw_cells(x, y, gamma):
    """Cuturi & Blondel (2017), Algorithm 1, cell by cell."""
    n, m = len(x), len(y)
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            prev = np.array([r[i - 1, j - 1], r[i - 1, j], r[i, j - 1]])
            low = prev.min()
            soft = low - gamma * np.log(np.sum(np.exp(-(prev - low) / gamma)))
            r[i, j] = np.sum((x[i - 1] - y[j - 1]) ** 2) + soft
    return r[n, m]


def _dtw(x, y):
    n, m = len(x), len(y)
    r = np.full((n + 1, m + 1), np.inf)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            r[i, j] = np.sum((x[i - 1] - y[j - 1]) ** 2) + min(r[i - 1, j - 1], r[i - 1, j], r[i, j - 1])
    return r[n, m]


@pytest.mark.parametrize("gamma, t1, t2, d", [(1.0, 5, 4, 2), (0.1, 3, 7, 1), (2.5, 1, 4, 3), (0.5, 6, 1, 2)])
def test_soft_dtw_equals_the_cell_recursion_and_finite_differences(rng, gamma, t1, t2, d):
    x, y = rng.normal(size=(3, t1, d)), rng.normal(size=(3, t2, d))
    L = ll.SoftDTW(gamma=gamma)
    expected = [_soft_dtw_cells(x[i], y[i], gamma) for i in range(3)]
    np.testing.assert_allclose(L(x, y, reduction="none"), expected, rtol=1e-12)
    h, fd = 1e-6, np.empty_like(y)
    for idx in np.ndindex(y.shape):
        up, down = y.copy(), y.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (_soft_dtw_cells(x[idx[0]], up[idx[0]], gamma) - _soft_dtw_cells(x[idx[0]], down[idx[0]], gamma)) / (2 * h)
    np.testing.assert_allclose(L.gradient(x, y, reduction="sum"), fd, rtol=1e-6, atol=1e-7)


def test_soft_dtw_tends_to_dtw_as_gamma_goes_to_zero(rng):
    x, y = rng.normal(size=(4, 6, 2)), rng.normal(size=(4, 5, 2))
    dtw = np.array([_dtw(x[i], y[i]) for i in range(4)])
    previous = None
    for gamma in (1.0, 0.1, 1e-2, 1e-3):
        got = ll.soft_dtw(x, y, gamma=gamma, reduction="none")
        # Each cell's soft-min lies in [min − γ log 3, min]: at most T1 + T2 − 1 cells on a path.
        assert np.all(got <= dtw + 1e-12) and np.all(got >= dtw - gamma * math.log(3) * (6 + 5 - 1))
        gap = np.max(dtw - got)
        assert previous is None or gap < previous
        previous = gap
    assert previous < 1e-2


def test_soft_dtw_torch_autograd_of_the_cell_recursion(torch):
    """The backward recursion (Algorithm 2) against PyTorch autograd of Algorithm 1."""
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3))
    ty = torch.tensor(y, requires_grad=True)
    tx = torch.tensor(x)
    total = 0
    for b in range(2):
        r = [[torch.tensor(math.inf, dtype=torch.float64)] * 6 for _ in range(5)]
        r[0][0] = torch.tensor(0.0, dtype=torch.float64)
        for i in range(1, 5):
            for j in range(1, 6):
                prev = torch.stack([r[i - 1][j - 1], r[i - 1][j], r[i][j - 1]])
                r[i][j] = ((tx[b, i - 1] - ty[b, j - 1]) ** 2).sum() - 0.3 * torch.logsumexp(-prev / 0.3, 0)
        total = total + r[4][5]
    total.backward()
    np.testing.assert_allclose(ll.soft_dtw(x, y, gamma=0.3, reduction="sum"), total.item(), rtol=1e-12)
    np.testing.assert_allclose(ll.SoftDTW(gamma=0.3).gradient(x, y, reduction="sum"), ty.grad.numpy(), rtol=1e-9,
                               atol=1e-12)


def test_soft_dtw_of_a_series_with_itself_is_negative_and_extreme_inputs_stay_finite(rng):
    x = rng.normal(size=(3, 5, 2))
    assert np.all(ll.soft_dtw(x, x, reduction="none") < 0)
    big = rng.normal(size=(2, 4, 2)) * 1e100
    value, grad = ll.SoftDTW(gamma=1e-3).value_and_gradient(big, big[:, ::-1] * 0.5)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    value32, grad32 = ll.SoftDTW().value_and_gradient(x.astype(np.float32) * 1e3, x[:, :3].astype(np.float32))
    assert value32.dtype == np.float32 and grad32.dtype == np.float32 and np.isfinite(value32)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r: ll.soft_dtw(r.normal(size=(2, 5)), r.normal(size=(2, 5, 1))), "y_true must be 3-D"),
        (lambda r: ll.soft_dtw(r.normal(size=(2, 5, 2)), r.normal(size=(2, 5, 3))), "same batch size and features"),
        (lambda r: ll.soft_dtw(r.normal(size=(2, 5, 2)), r.normal(size=(3, 5, 2))), "same batch size and features"),
        (lambda r: ll.soft_dtw(r.normal(size=(2, 0, 2)), r.normal(size=(2, 5, 2))), "at least one time step"),
        (lambda r: ll.soft_dtw(r.normal(size=(2, 5, 2)), r.normal(size=(2, 5, 2)), gamma=0.0), "gamma must be"),
    ],
)
def test_soft_dtw_bad_input_errors_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.random.default_rng(0))


def test_ctc_layouts_agree_on_a_zero_weight_sequence_without_alignment():
    """Sequence 0 needs 3 frames and has 2: its loss is +inf. Both layouts report it (0·∞
    is no number) with the cure, zero_infinity=True, under which both give the same finite
    value and gradient; the time-major layout used to drop it from the value and then fail
    on the gradient."""
    z = np.random.default_rng(5).normal(size=(2, 2, 3))
    targets = np.array([[1, 2, 1], [1, 0, 0]])
    for time_major in (False, True):
        logits = z.transpose(1, 0, 2) if time_major else z
        loss = ll.get("ctc", time_major=time_major)
        for compute in (loss.__call__, loss.gradient):
            with pytest.raises(ll.LossOverflow, match="zero_infinity=True"):
                compute(targets, logits, sample_weight=[0.0, 1.0])
    batch_first = ll.get("ctc", zero_infinity=True)
    time_major = ll.get("ctc", zero_infinity=True, time_major=True)
    value, grad = batch_first.value_and_gradient(targets, z, sample_weight=[0.0, 1.0])
    value_t, grad_t = time_major.value_and_gradient(targets, z.transpose(1, 0, 2), sample_weight=[0.0, 1.0])
    assert float(value) == pytest.approx(float(value_t), rel=1e-12)
    np.testing.assert_allclose(grad, grad_t.transpose(1, 0, 2), rtol=1e-12, atol=1e-15)


def test_ctc_time_major_says_why_reduction_none_has_no_gradient():
    with pytest.raises(ValueError, match="rows are frames, not sequences"):
        ll.get("ctc", time_major=True).gradient(np.array([[1, 2]]), np.zeros((3, 1, 3)), reduction="none")
