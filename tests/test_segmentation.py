"""Reference tests of the segmentation losses: each value against its paper's formula,
evaluated here in a few lines of NumPy, independently of losslab's code; the relations the
docstrings state; and float32 against float64 at map scales of 1e-30 (and scores of 1e30)
for every segmentation loss of the catalog.

Sources of the formulas: Rahman & Wang (2016) for the soft Jaccard; Abraham & Khan (2019),
eq. 3–4, for focal Tversky; Sudre et al. (2017), eq. 2, for the generalised Dice, with
MONAI's rule for a class absent from the target; Berman, Triki & Blaschko (2018),
Algorithm 1 and eq. 5–10, for the Lovász losses. The hand-computed numbers are derived in
the comments next to them.
"""

from __future__ import annotations

import numpy as np
import pytest

import losslab as ll
from cases import segmentation as seg_cases

RNG_SEED = 20260

# ----------------------------------------------------------------------------- helpers


def _softmax_maps(rng, n, c, shape):
    z = rng.normal(0.0, 1.5, size=(n, c) + shape)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _one_hot(labels, c):
    return (labels[:, None] == np.arange(c).reshape((1, c) + (1,) * (labels.ndim - 1))).astype(float)


def _jaccard_loss_of_set(mistakes, truth):
    """Berman et al. eq. 5: Δ_J(M) = |M| / |T ∪ M|, for sets of pixel indices."""
    union = truth | mistakes
    return len(mistakes) / len(union) if union else 0.0


def _lovasz_algorithm_1(errors, truth_mask):
    """Berman et al., Algorithm 1, evaluated with sets: sort the errors decreasingly; the k-th
    gets Δ(first k) − Δ(first k − 1); returns (the loss ⟨m, g⟩, g in the errors' order)."""
    truth = set(np.flatnonzero(truth_mask).tolist())
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    g = np.zeros(len(errors))
    previous, chosen = 0.0, set()
    for i in order:
        chosen.add(i)
        current = _jaccard_loss_of_set(chosen, truth)
        g[i] = current - previous
        previous = current
    return float(np.dot(errors, g)), g


def _lovasz_as_choquet_integral(errors, truth_mask):
    """The Lovász extension of a set function with Δ(∅) = 0 at m ≥ 0 is ∫₀^∞ Δ({m ≥ θ}) dθ
    (Lovász 1983): a second route to the same number, through level sets, with no sort."""
    truth = set(np.flatnonzero(truth_mask).tolist())
    levels = np.unique(np.concatenate([[0.0], errors]))
    total = 0.0
    for low, high in zip(levels[:-1], levels[1:]):
        above = set(np.flatnonzero(errors >= high).tolist())
        total += (high - low) * _jaccard_loss_of_set(above, truth)
    return total


# ----------------------------------------------------------------------------- values vs papers


def test_jaccard_against_its_formula_and_tversky():
    rng = np.random.default_rng(RNG_SEED)
    p = _softmax_maps(rng, 4, 3, (5, 4))
    t = _one_hot(rng.integers(0, 3, size=(4, 5, 4)), 3)
    for s in (0.0, 1.0):
        inter = (p * t).sum(axis=(2, 3))
        union = p.sum(axis=(2, 3)) + t.sum(axis=(2, 3)) - inter
        expected = (1 - (inter + s) / (union + s)).mean(axis=1)
        np.testing.assert_allclose(ll.jaccard(t, p, smooth=s, reduction="none"), expected, rtol=1e-12)
        assert ll.jaccard(t, p, smooth=s) == pytest.approx(ll.tversky(t, p, alpha=1.0, beta=1.0, smooth=s), rel=1e-12)
    # Crisp maps: IoU J and Dice D of the same masks satisfy J = D/(2 − D).
    crisp = _one_hot(rng.integers(0, 3, size=(4, 5, 4)), 3)
    iou = 1 - ll.jaccard(t, crisp, smooth=0.0, reduction="none")
    for n in range(4):
        per_class_j = [1 - ll.jaccard(t[n:n + 1, c:c + 1], crisp[n:n + 1, c:c + 1], smooth=0.0) for c in range(3)]
        per_class_d = [1 - ll.dice(t[n:n + 1, c:c + 1], crisp[n:n + 1, c:c + 1], smooth=0.0) for c in range(3)]
        np.testing.assert_allclose(per_class_j, [d / (2 - d) for d in per_class_d], rtol=1e-12)
        assert iou[n] == pytest.approx(np.mean(per_class_j), rel=1e-12)


def test_focal_tversky_against_abraham_khan():
    # Abraham & Khan eq. 3: TI_c = (Σ p_ic g_ic + ε)/(Σ p_ic g_ic + α Σ p_ic̄ g_ic + β Σ p_ic g_ic̄ + ε), α on
    # false negatives (0.7), β on false positives (0.3); eq. 4: FTL = Σ_c (1 − TI_c)^{1/γ}, γ = 4/3.
    # losslab averages over classes: the paper's sum / C.
    rng = np.random.default_rng(RNG_SEED + 1)
    p = _softmax_maps(rng, 3, 2, (6, 6))
    g = _one_hot(rng.integers(0, 2, size=(3, 6, 6)), 2)
    eps, a_fn, b_fp, gamma_paper = 1.0, 0.7, 0.3, 4.0 / 3.0
    tp = (p * g).sum(axis=(2, 3))
    fn = ((1 - p) * g).sum(axis=(2, 3))
    fp = (p * (1 - g)).sum(axis=(2, 3))
    ti = (tp + eps) / (tp + a_fn * fn + b_fp * fp + eps)
    expected = ((1 - ti) ** (1 / gamma_paper)).sum(axis=1) / 2
    np.testing.assert_allclose(ll.focal_tversky(g, p, reduction="none"), expected, rtol=1e-12)
    # The defaults are the paper's: exponent 1/γ = 0.75, false positives 0.3, false negatives 0.7.
    assert ll.get("focal_tversky") == ll.get("focal_tversky", alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0)
    # gamma = 1 is the Tversky loss, value and gradient.
    L1, T = ll.get("focal_tversky", gamma=1.0, alpha=0.2, beta=0.6), ll.get("tversky", alpha=0.2, beta=0.6)
    assert L1(g, p) == pytest.approx(T(g, p), rel=1e-12)
    np.testing.assert_allclose(L1.gradient(g, p), T.gradient(g, p), rtol=1e-12)


def test_focal_tversky_at_a_perfect_match_is_zero_with_a_zero_gradient():
    # TI = 1 (p = t crisp): (1 − TI)^0.75 = 0, its minimum; the slope γ q^{γ−1} would be infinite.
    t = _one_hot(np.array([[0, 1, 1, 0]]), 2)
    L = ll.get("focal_tversky")
    assert L(t, t) == 0.0
    assert np.all(L.gradient(t, t) == 0.0) and np.all(np.isfinite(L.hessian(t, t)))


def _sudre_generalised_dice(t, p, s=0.0):
    """Sudre et al. eq. 2 per sample, w_c = 1/(Σ_n r_cn)²; an absent class (w = ∞) takes the
    largest finite weight of the sample (MONAI's GeneralizedDiceLoss), all weights 1 if none."""
    axes = tuple(range(2, t.ndim))
    size = t.sum(axis=axes)
    with np.errstate(divide="ignore"):
        w = 1.0 / size**2
    for row in w:
        finite = np.isfinite(row)
        row[~finite] = row[finite].max() if finite.any() else 1.0
    num = 2 * (w * (p * t).sum(axis=axes)).sum(axis=1) + s
    den = (w * (p.sum(axis=axes) + size)).sum(axis=1) + s
    return 1 - num / den


def test_generalized_dice_against_sudre():
    rng = np.random.default_rng(RNG_SEED + 2)
    p = _softmax_maps(rng, 5, 4, (4, 5))
    labels = rng.integers(0, 4, size=(5, 4, 5))
    labels[0] = np.where(labels[0] == 3, 0, labels[0])  # sample 0 lacks class 3: MONAI's weight rule
    t = _one_hot(labels, 4)
    for s in (0.0, 1e-5, 2.0):
        np.testing.assert_allclose(ll.generalized_dice(t, p, smooth=s, reduction="none"),
                                   _sudre_generalised_dice(t, p, s), rtol=1e-12)
    # Soft targets (no class absent).
    soft = 0.7 * t + 0.3 * rng.uniform(size=t.shape)
    np.testing.assert_allclose(ll.generalized_dice(soft, p, reduction="none"), _sudre_generalised_dice(soft, p),
                               rtol=1e-12)
    # The hand-computed docstring example: T = (2, 1), w = (1/4, 1), I = (1.4, 0.7), P = (1.7, 1.3):
    # 1 − 2(0.35 + 0.7)/(0.25·3.7 + 2.3) = 1 − 2.1/3.225.
    t1 = [[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
    p1 = [[[0.8, 0.6, 0.3], [0.2, 0.4, 0.7]]]
    assert ll.generalized_dice(t1, p1) == pytest.approx(1 - 2.1 / 3.225, rel=1e-12)


def test_generalized_dice_with_one_class_is_dice_and_with_no_target_penalises_mass():
    rng = np.random.default_rng(RNG_SEED + 3)
    p = rng.uniform(size=(1, 1, 12))
    t = (rng.uniform(size=(1, 1, 12)) < 0.4).astype(float)
    size = t.sum()
    # One class: (2wI + s)/(w(P + T) + s) = (2I + sT²)/(P + T + sT²).
    assert ll.generalized_dice(t, p, smooth=0.5) == pytest.approx(ll.dice(t, p, smooth=0.5 * size**2), rel=1e-12)
    # No class in the target: weights 1, I = T = 0, so ℓ = 1 − s/(ΣP + s).
    empty = np.zeros((1, 2, 12))
    p2 = rng.uniform(size=(1, 2, 12))
    assert ll.generalized_dice(empty, p2, smooth=3.0) == pytest.approx(1 - 3.0 / (p2.sum() + 3.0), rel=1e-12)
    assert ll.generalized_dice(empty, np.zeros_like(p2)) == 0.0  # empty against empty: a perfect match


@pytest.mark.parametrize("classes", ["present", "all"])
def test_lovasz_softmax_against_algorithm_1(classes):
    rng = np.random.default_rng(RNG_SEED + 4)
    n, c = 4, 3
    p = _softmax_maps(rng, n, c, (3, 5))
    labels = rng.integers(0, 2, size=(n, 3, 5))  # class 2 absent everywhere
    t = _one_hot(labels, c)
    L = ll.get("lovasz_softmax", classes=classes)
    values, grads = np.zeros(n), np.zeros_like(p)
    for i in range(n):
        kept = [k for k in range(c) if classes == "all" or t[i, k].any()]
        for k in kept:
            errors = np.abs(t[i, k] - p[i, k]).ravel()
            value, g = _lovasz_algorithm_1(errors, t[i, k].ravel() > 0)
            assert value == pytest.approx(_lovasz_as_choquet_integral(errors, t[i, k].ravel() > 0), rel=1e-12)
            values[i] += value / len(kept)
            # Algorithm 1's g is ∂/∂m; m = |t − p| has ∂m/∂p = 1 − 2t for t in {0, 1}.
            grads[i, k] = (g * (1 - 2 * t[i, k].ravel())).reshape(3, 5) / len(kept)
    np.testing.assert_allclose(L(labels, p, reduction="none"), values, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(labels, p, reduction="sum"), grads, rtol=1e-12, atol=1e-15)
    assert np.all(L.hessian(labels, p) == 0.0)  # piecewise linear: 0 almost everywhere
    # Index maps and one-hot maps agree.
    assert L(t, p) == pytest.approx(L(labels, p), rel=1e-15)


def test_lovasz_softmax_docstring_example_by_hand():
    # Class 0: t = (1, 0), p = (0.8, 0.4): errors (0.2, 0.4); sorted (0.4 ∉ T, 0.2 ∈ T):
    # Δ({x2}) = 1/2, Δ({x1, x2}) = 2/2 = 1: g = (½, ½), 0.4·½ + 0.2·½ = 0.3.
    # Class 1: t = (0, 1), p = (0.2, 0.6): errors (0.2, 0.4); sorted (0.4 ∈ T, 0.2 ∉ T):
    # Δ({x2}) = 1/1, Δ({x1, x2}) = 2/2: g = (1, 0), 0.4. Mean (0.3 + 0.4)/2 = 0.35.
    assert ll.lovasz_softmax([[0, 1]], [[[0.8, 0.4], [0.2, 0.6]]]) == pytest.approx(0.35, rel=1e-15)


def test_lovasz_hinge_against_algorithm_1():
    rng = np.random.default_rng(RNG_SEED + 5)
    y = rng.integers(0, 2, size=(5, 4, 4)).astype(float)
    y[0] = 0.0  # an image without foreground
    f = rng.normal(0.0, 2.0, size=(5, 4, 4))
    signs = 2 * y - 1
    L = ll.get("lovasz_hinge")
    values, grads = np.zeros(5), np.zeros_like(f)
    for i in range(5):
        errors = (1 - f[i] * signs[i]).ravel()
        # Berman et al. eq. 10: the Lovász extension of Δ_J on the hinge errors max(m, 0); its
        # order is that of m (max(·, 0) is monotone).
        value, g = _lovasz_algorithm_1(np.maximum(errors, 0.0), y[i].ravel() > 0)
        values[i] = value
        grads[i] = (-signs[i].ravel() * g * (errors > 0)).reshape(4, 4)
    np.testing.assert_allclose(L(y, f, reduction="none"), values, rtol=1e-12)
    np.testing.assert_allclose(L.gradient(y, f, reduction="sum"), grads, rtol=1e-12, atol=1e-15)
    # {−1, +1} labels are the same as {0, 1}.
    assert L(signs, f) == pytest.approx(L(y, f), rel=1e-15)
    # Docstring example: errors (−1, 0.5, 2) for y = (1, 0, 0), f = (2, −0.5, 1); sorted 2, 0.5, −1
    # with T = {x1}: Δ = 1/2, 2/3, 1, so 2·½ + 0.5·(2/3 − ½) + 0 = 1 + 1/12.
    assert ll.lovasz_hinge([[1, 0, 0]], [[2.0, -0.5, 1.0]]) == pytest.approx(1 + 1 / 12, rel=1e-12)


def test_lovasz_losses_are_convex_along_a_line():
    # The Lovász extension of a submodular set function is convex (Lovász 1983; Berman et al. §3.1);
    # m = |t − p| is affine in p on [0, 1] for t in {0, 1}, so ℓ is convex in p. Midpoint check.
    rng = np.random.default_rng(RNG_SEED + 6)
    labels = rng.integers(0, 3, size=(6, 4, 4))
    a, b = _softmax_maps(rng, 6, 3, (4, 4)), _softmax_maps(rng, 6, 3, (4, 4))
    L = ll.get("lovasz_softmax")
    mid = L(labels, (a + b) / 2, reduction="none")
    assert np.all(mid <= (L(labels, a, reduction="none") + L(labels, b, reduction="none")) / 2 + 1e-12)



def test_mcc_against_abhishek_hamarneh_and_scikit_learn():
    # Abhishek & Hamarneh eq. 2–3: soft TP, TN, FP, FN; MCC = (TP·TN − FP·FN)/√((TP+FP)(TP+FN)(TN+FP)(TN+FN)).
    rng = np.random.default_rng(RNG_SEED + 9)
    p = _softmax_maps(rng, 4, 3, (5, 6))
    t = _one_hot(rng.integers(0, 3, size=(4, 5, 6)), 3)
    tp, tn = (p * t).sum(axis=(2, 3)), ((1 - p) * (1 - t)).sum(axis=(2, 3))
    fp, fn = (p * (1 - t)).sum(axis=(2, 3)), ((1 - p) * t).sum(axis=(2, 3))
    mcc = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    np.testing.assert_allclose(ll.mcc(t, p, reduction="none"), (1 - mcc).mean(axis=1), rtol=1e-12)
    # Crisp maps: 1 − scikit-learn's matthews_corrcoef, class by class.
    metrics = pytest.importorskip("sklearn.metrics")
    crisp = _one_hot(rng.integers(0, 3, size=(4, 5, 6)), 3)
    for n in range(4):
        for c in range(3):
            expected = 1 - metrics.matthews_corrcoef(t[n, c].ravel(), crisp[n, c].ravel())
            assert ll.mcc(t[n:n + 1, c:c + 1], crisp[n:n + 1, c:c + 1]) == pytest.approx(expected, rel=1e-12)
    # A class absent from the target: the denominator is 0, the MCC 0 (scikit-learn's rule), no gradient.
    absent = np.zeros((1, 1, 6))
    q = rng.uniform(0.1, 0.9, size=(1, 1, 6))
    assert ll.mcc(absent, q) == 1.0 and np.all(ll.get("mcc").gradient(absent, q) == 0.0)
    # Docstring example: n = 4, P = T = 2, I = 1.4: (4·1.4 − 4)/√16 = 0.4.
    assert ll.mcc([[[1.0, 0.0, 0.0, 1.0]]], [[[0.8, 0.2, 0.4, 0.6]]]) == pytest.approx(0.6, rel=1e-12)

# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("jaccard", {"smooth": -1.0}, "smooth"),
        ("focal_tversky", {"gamma": 0.0}, "gamma"),
        ("focal_tversky", {"alpha": 0.0, "beta": 0.0}, "alpha and beta must not both be 0"),
        ("generalized_dice", {"smooth": float("nan")}, "smooth"),
        ("lovasz_softmax", {"classes": "some"}, "classes"),
    ],
)
def test_bad_parameters_name_the_parameter(name, params, match):
    with pytest.raises(ValueError, match=match):
        ll.get(name, **params)


def test_bad_inputs_name_the_argument():
    p = np.full((1, 2, 3), 0.5)
    with pytest.raises(ValueError, match=r"y_true must be a 0/1 \(one-hot\) map or class indices; got 0.3"):
        ll.lovasz_softmax(np.full((1, 2, 3), 0.3), p)
    with pytest.raises(ValueError, match="y_pred must hold probabilities"):
        ll.jaccard(np.ones((1, 2, 3)), np.full((1, 2, 3), 1.5))
    with pytest.raises(ValueError, match=r"y_true must be a target map of shape \(1, 2, 4\)"):
        ll.generalized_dice(np.ones((1, 3)), np.full((1, 2, 4), 0.5))
    with pytest.raises(ValueError, match=r"y_true must hold binary labels"):
        ll.lovasz_hinge([[0.5, 1.0]], [[0.0, 1.0]])
    with pytest.raises(ValueError, match=r"y_pred must hold one score map per sample"):
        ll.lovasz_hinge([1.0, 0.0], [0.3, -0.2])
    with pytest.raises(ValueError, match=r"y_true.*y_pred|same shape"):
        ll.lovasz_hinge([[1.0, 0.0]], [[0.3, -0.2, 0.1]])



@pytest.mark.parametrize("name", sorted(e.name for e in ll.catalog() if e.family == "segmentation"))
def test_empty_batches_and_maps_of_no_pixel(name):
    """No sample: 0 for "sum", as every loss (issue 12). Maps of no pixel: empty sums, so the
    overlap losses see an empty class predicted empty (a perfect match, 0); mcc's counts are 0
    (its MCC is taken as 0); the Lovász losses sort nothing (0)."""
    L = ll.get(name)
    shapes = [(0, 3), (2, 0)] if name == "lovasz_hinge" else [(0, 2, 3), (2, 2, 0)]
    expected = {"mcc": 2.0}  # two samples, each 1 − 0
    for shape in shapes:
        value, grad = L.value_and_gradient(np.zeros(shape), np.zeros(shape), reduction="sum")
        assert value == (expected.get(name, 0.0) if shape[0] else 0.0) and grad.shape == shape

# ----------------------------------------------------------------------------- float32 at 1e±30


def _as_maps(case, rng):
    """A case's inputs with a target map of y_pred's shape (index maps one-hot encoded)."""
    (t, p), _ = case.make(rng, 4)
    if t.shape != p.shape and case.loss.name != "lovasz_hinge":
        t = _one_hot(t.astype(int), p.shape[1])
    return t, p


def _segmentation_losses():
    """Every segmentation case, plus smooth = 0 for each loss that has a smooth (the case where
    nothing masks an underflow of p·t)."""
    losses = [(c.id, c.loss) for c in seg_cases.CASES]
    for case in seg_cases.CASES:
        if "smooth" in case.loss.params and case.loss.params["smooth"] != 0:
            losses.append((case.id + "-smooth0", type(case.loss)(**{**case.loss.params, "smooth": 0.0})))
    return losses


def test_every_segmentation_loss_is_walked():
    names = {loss.name for _, loss in _segmentation_losses()}
    assert names == {e.name for e in ll.catalog() if e.family == "segmentation"}


@pytest.mark.parametrize("case_id, loss", _segmentation_losses(), ids=[i for i, _ in _segmentation_losses()])
@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_float32_equals_float64_at_extreme_scales(case_id, loss, scale):
    """Probability maps scaled to 1e-30 (p·t = 1e-60 underflows float32), scores to 1e±30:
    float32 gives float64's value, gradient and Hessian (computed from the same float32-rounded
    inputs) to float32 precision. Maps at 1e30 lie outside [0, 1] and are refused, naming y_pred."""
    case = next(c for c in seg_cases.CASES if case_id.startswith(c.id))
    t, p = _as_maps(case, np.random.default_rng(RNG_SEED + 7))
    if loss.name == "lovasz_hinge":
        p = p * scale
    elif scale > 1:
        with pytest.raises(ValueError, match="y_pred must hold probabilities"):
            loss(t, p * scale)
        return
    elif loss.name == "lovasz_softmax":
        p = p * scale  # its targets are 0/1 masks: only the probabilities shrink
    else:
        t, p = t * scale, p * scale
    t32, p32 = t.astype(np.float32), p.astype(np.float32)
    t64, p64 = t32.astype(np.float64), p32.astype(np.float64)
    for reduction in ("none", "sum"):
        v32, g32 = loss.value_and_gradient(t32, p32, reduction="sum") if reduction == "sum" else (
            loss(t32, p32, reduction="none"), None)
        v64, g64 = loss.value_and_gradient(t64, p64, reduction="sum") if reduction == "sum" else (
            loss(t64, p64, reduction="none"), None)
        assert np.asarray(v32).dtype == np.float32
        np.testing.assert_allclose(np.asarray(v32, dtype=float), v64, rtol=2e-5, atol=1e-6 * np.max(np.abs(v64)))
        if g32 is not None:
            assert g32.dtype == np.float32 and np.all(np.isfinite(g32))
            np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=2e-5 * np.max(np.abs(g64)))
    h32, h64 = loss.hessian(t32, p32, reduction="sum"), loss.hessian(t64, p64, reduction="sum")
    assert np.all(np.isfinite(h32))
    np.testing.assert_allclose(h32, h64, rtol=1e-3, atol=2e-5 * np.max(np.abs(h64)))


# ----------------------------------------------------------------------------- Optax's dice losses


def _optax():
    pytest.importorskip("jax")
    return pytest.importorskip("optax.losses")


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax_last(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_optax_dice_names_are_documented_differences_whose_recipes_give_optax_numbers():
    """The recipes that ll.get("dice_loss" / "binary_dice_loss" / "multiclass_generalized_dice_loss")
    raise reproduce Optax's numbers (Optax installed; float64 through jax's x64 mode)."""
    optax_losses = _optax()
    import jax

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(RNG_SEED + 8)
    for name, match in [("dice_loss", "tversky"), ("binary_dice_loss", "smooth=2.0"),
                        ("multiclass_generalized_dice_loss", "generalized_dice")]:
        with pytest.raises(ValueError, match=match):
            ll.get(name)
    # binary_dice_loss: logits (N, H, W), sigmoid, smooth 1 in the Tversky form.
    z = rng.normal(0.0, 2.0, size=(3, 4, 5))
    y = (rng.uniform(size=(3, 4, 5)) < 0.4).astype(float)
    expected = np.asarray(optax_losses.binary_dice_loss(z, y))
    got = ll.get("dice", smooth=2.0)(y[:, None], _sigmoid(z)[:, None], reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # dice_loss: logits (N, H, W, C), softmax over the last axis, alpha/beta/smooth of the Tversky index.
    z = rng.normal(0.0, 2.0, size=(3, 4, 5, 3))
    t = _one_hot(rng.integers(0, 3, size=(3, 4, 5)), 3).transpose(0, 2, 3, 1)
    to_first = (0, 3, 1, 2)
    for alpha, beta, smooth in [(0.5, 0.5, 1.0), (0.3, 0.7, 0.5)]:
        expected = np.asarray(optax_losses.dice_loss(z, t, alpha=alpha, beta=beta, smooth=smooth))
        got = ll.get("tversky", alpha=alpha, beta=beta, smooth=smooth)(
            t.transpose(to_first), _softmax_last(z).transpose(to_first), reduction="none")
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    # multiclass_generalized_dice_loss: class weights from the whole batch, a weighted mean of per-class dice.
    expected = float(optax_losses.multiclass_generalized_dice_loss(z, t))
    size = t.sum(axis=(0, 1, 2))
    w = 1 / (size**2 + 1e-7)
    w = w / w.sum() * 3
    tc, pc = t.transpose(to_first), _softmax_last(z).transpose(to_first)
    dice2 = ll.get("dice", smooth=2.0)
    assert np.mean([w[c] * dice2(tc[:, c:c + 1], pc[:, c:c + 1]) for c in range(3)]) == pytest.approx(expected,
                                                                                                     rel=1e-10)
