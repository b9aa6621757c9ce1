"""Metric-learning losses: pairs, triplets, and in-batch contrastive objectives.

Embeddings are rows, shape (n_samples, dim). Pair and triplet losses (contrastive,
triplet, cosine_embedding) are separable: one loss per row. The in-batch losses
(info_nce, clip, supcon) use every other row as a negative, so a sample's loss depends on
the whole batch (``separable = False``): their gradient is that of Σᵢ cᵢℓᵢ, computed
exactly for any sample weights, and reduction="none" has no gradient.

``losslab.miners`` turns a labelled batch (embeddings, labels) into triplets.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import float_dtype, is_tracing, to_numpy
from ..loss import Loss, Param, register
from ..loss.shapes import signed_labels
from ..loss.weights import scalar as _scalar
from ..traits import Traits

#: PyTorch's pairwise_distance adds this to the difference inside the norm.
PAIRWISE_EPS = 1e-6
#: Floor of a norm in a normalisation (as torch.nn.functional.normalize).
NORM_EPS = 1e-12
#: PyTorch's cosine_embedding_loss adds this to each squared norm.
COSINE_EMBEDDING_EPS = 1e-12
#: Floor of each norm in the cosine distance (as torch.nn.functional.cosine_similarity).
COSINE_EPS = 1e-8

_METRIC = dict(task="metric_learning", twice_differentiable=False)


# ----------------------------------------------------------------------------- helpers
def check_rows(x: Any, name: str) -> None:
    if x.ndim != 2:
        raise ValueError(f"{name} must be embeddings of shape (n_samples, dim); got shape {tuple(x.shape)}")


def check_same_rows(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Both (n, dim): the message names the argument that differs from the first."""
    check_rows(a, name_a)
    check_rows(b, name_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_b} must have as many rows as {name_a} (one per sample); got {b.shape[0]} and {a.shape[0]}"
        )
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_b} must have the width of {name_a} (embeddings of one dimension); got width {b.shape[1]}"
            f" and {a.shape[1]}"
        )


def check_labels(labels: Any, n: int, name: str) -> None:
    if tuple(labels.shape) != (n,):
        raise ValueError(f"{name} must have shape ({n},), one per sample; got shape {tuple(labels.shape)}")


def normalize(xp: Any, x: Any) -> tuple[Any, Any]:
    """Rows divided by their L2 norm (floored at NORM_EPS); returns (x̂, ‖x‖). The norm is
    formed without overflow (``_stable.row_norm``), so that cosine similarities, and the
    losses built on them, are the same for x and 1e30·x in float32."""
    norm = xp.maximum(S.row_norm(xp, x, axis=1), NORM_EPS)
    return x / norm, norm


def normalize_backward(xp: Any, x_hat: Any, norm: Any, grad: Any) -> Any:
    """The gradient with respect to x of a function of x̂ = x/‖x‖: (g − x̂(x̂·g)) / ‖x‖."""
    return (grad - x_hat * xp.sum(x_hat * grad, axis=1, keepdims=True)) / norm


def _p_norm_and_gradient(xp: Any, u: Any, p: float) -> tuple[Any, Any]:
    """‖u‖_p per row and its gradient sign(u)(|u|/‖u‖_p)^{p−1}, with each row divided by its
    largest |entry| first (no power overflows or underflows to 0 for every entry); p = ∞:
    the largest |entry|, whose gradient is shared among ties (as PyTorch's norm does)."""
    a = xp.abs(u)
    top = xp.max(a, axis=1, keepdims=True)
    top = xp.maximum(top, float(xp.finfo(u.dtype).smallest_normal))
    t = a / top
    if p == math.inf:
        at_top = xp.astype(a == top, u.dtype)
        return top[:, 0], xp.sign(u) * at_top / xp.sum(at_top, axis=1, keepdims=True)
    ratio = xp.sum(t ** p, axis=1, keepdims=True) ** (1.0 / p)  # ‖u‖_p / max|u|, in [1, dim^{1/p}]
    r = t / ratio  # |u| / ‖u‖_p, in [0, 1]
    # An entry exactly 0 has derivative 0 for p > 1 (and no finite one for p < 1: 0 as well,
    # without a 0 to a negative power).
    positive = r > 0
    power = xp.where(positive, r, xp.ones_like(r)) ** (p - 1.0)
    return (top * ratio)[:, 0], xp.sign(u) * xp.where(positive, power, xp.zeros_like(r))


def _eye(xp: Any, n: int, like: Any) -> Any:
    return xp.eye(n, dtype=like.dtype, device=device(like))


def _cast(xp: Any, arrays: tuple) -> tuple:
    dtype = float_dtype(xp, *arrays)
    return tuple(xp.astype(a, dtype, copy=False) for a in arrays)


# ----------------------------------------------------------------------------- pairs
@register
class Contrastive(Loss):
    r"""Contrastive loss (Hadsell, Chopra & LeCun 2006): pull similar pairs, push dissimilar ones past a margin.

    - Formula: with d = ‖x1 − x2‖₂, :math:`\ell = \tfrac12 y\,d^2 + \tfrac12 (1-y)\max(0, m - d)^2`,
      y = 1 for a similar pair, 0 (or −1) for a dissimilar one.
    - Domains: y_true in {0, 1} or {−1, +1} (1 = similar); x1, x2 of shape (N, dim); margin > 0.
    - Gradient with respect to x1: y·(x1 − x2) − (1 − y)·max(0, m − d)·(x1 − x2)/d; with
      respect to x2 its negative. No Hessian.
    - Estimates: an embedding in which similar pairs are at distance 0 and dissimilar ones
      at least m apart ("other").
    - Relations: Hadsell et al. write Y = 0 for similar pairs; losslab (like most libraries)
      uses 1 for similar. pytorch-metric-learning's ContrastiveLoss uses d and max(0, m − d)
      without squares or ½.
    - Reference: Hadsell, Chopra & LeCun (2006), Dimensionality reduction by learning an invariant mapping.

    >>> import losslab as ll
    >>> print(ll.contrastive([1, 0], [[0.0, 0.0], [0.0, 0.0]], [[3.0, 4.0], [0.0, 0.5]], margin=1.0))
    6.3125
    """

    name = "contrastive"
    family = "embedding"
    aliases = ("contrastive_loss", "ContrastiveLoss")
    description = "Pairs: similar pulled together (½d²), dissimilar pushed past the margin."
    formula = r"\tfrac12 y\,d^2 + \tfrac12(1-y)\max(0, m-d)^2"
    parameters = (Param("margin", 1.0, V.POSITIVE, "distance beyond which dissimilar pairs cost nothing"),)
    inputs = ("y_true", "x1", "x2")
    differentiable_inputs = ("x1", "x2")
    event_ndim = 1
    TRAITS = Traits(convex=False, estimates="other", **_METRIC)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, x1, x2 = arrays
        check_same_rows(x1, x2, "x1", "x2")
        check_labels(y_true, x1.shape[0], "y_true")
        x1, x2 = _cast(xp, (x1, x2))
        return (xp.astype(y_true, x1.dtype), x1, x2), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        signed_labels(xp, arrays[0])

    def _parts(self, xp: Any, y_true: Any, x1: Any, x2: Any) -> tuple:
        similar = xp.astype(signed_labels(xp, y_true) > 0, x1.dtype)
        diff = x1 - x2
        # sqrt of a floored square: a finite derivative for autograd at d = 0; rows scaled
        # first so that the square cannot overflow.
        d = S.row_norm(xp, diff, axis=1, floor=1e-30)[:, 0]
        gap = xp.maximum(self.margin - d, 0.0)
        return similar, diff, d, gap

    def _per_sample(self, xp: Any, y_true: Any, x1: Any, x2: Any) -> Any:
        similar, diff, d, gap = self._parts(xp, y_true, x1, x2)
        return 0.5 * similar * d * d + 0.5 * (1.0 - similar) * gap * gap

    def _gradient(self, xp: Any, y_true: Any, x1: Any, x2: Any) -> Any:
        similar, diff, d, gap = self._parts(xp, y_true, x1, x2)
        coef = similar - (1.0 - similar) * gap / d
        g = coef[:, None] * diff
        return g, -g


@register
class Triplet(Loss):
    r"""Triplet margin loss: the positive closer to the anchor than the negative, by a margin.

    - Formula: :math:`\ell = \max(0,\ d(a, p) - d(a, n) + m)` with, for distance="euclidean",
      :math:`d(x, y) = \|x - y + \epsilon\|_p` (p = 2 by default; any p > 0, or math.inf for
      the largest |entry|), ε = 1e-6 added to the difference inside the norm as PyTorch's
      ``pairwise_distance`` does (squared=True: :math:`\|x - y\|_2^2`, no ε, FaceNet's
      choice); for distance="cosine", d = 1 − cos(x, y) with each norm floored at 1e-8.
      swap=True (Balntas et al.'s distance swap) uses min(d(a, n), d(p, n)) for the negative
      distance: the harder of the two sides of the negative.
    - Domains: anchor, positive, negative of shape (N, dim); margin >= 0; p > 0 (p ≠ 2 with
      the unsquared euclidean distance only).
    - Gradient: where the hinge is active, ∂d(a,p)/∂a − ∂d(a,n)/∂a for the anchor,
      ∂d(a,p)/∂p for the positive and −∂d(a,n)/∂n for the negative; with ∂‖u‖_p/∂u =
      sign(u)(|u|/‖u‖_p)^{p−1} (p = ∞: sign(u) at the largest |entry|, shared among ties).
      With swap, where d(p, n) < d(a, n) the negative term −∂d(p,n) goes to p and n instead
      of a and n. No Hessian.
    - Estimates: an embedding where each class is tighter than the gap to others ("other").
    - Relations: PyTorch ``triplet_margin_loss(anchor, positive, negative, margin, p, eps=1e-6,
      swap)`` (defaults margin 1.0, p 2, swap False, the defaults here) is the same for every
      p and swap; its ``TripletMarginWithDistanceLoss`` with a cosine distance matches
      distance="cosine" (with swap too). FaceNet uses squared distances of unit-length
      embeddings with margin 0.2. ``losslab.miners.triplet_from_labels`` goes from
      (embeddings, labels) to this loss.
    - Reference: Schroff, Kalenichenko & Philbin (2015), FaceNet; Weinberger & Saul (2009);
      Balntas, Riba, Ponsa & Mikolajczyk (2016), Learning local feature descriptors with
      triplets and shallow convolutional neural networks (the distance swap).

    >>> import losslab as ll
    >>> print(ll.triplet([[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.5]], margin=1.0, squared=True))
    0.0
    >>> a, p, n = [[0.0, 0.0]], [[1.0, 1.0]], [[2.0, 2.0]]
    >>> print(round(float(ll.triplet(a, p, n, p=1.0)), 4), round(float(ll.triplet(a, p, n, p=1.0, swap=True)), 4))
    0.0 1.0
    """

    name = "triplet"
    family = "embedding"
    aliases = ("triplet_margin", "triplet_margin_loss", "TripletMarginLoss")
    description = "Anchor closer to the positive than to the negative by a margin (FaceNet)."
    formula = r"\max(0,\ d(a,p) - d(a,n) + m)"
    parameters = (
        Param("margin", 1.0, V.NONNEGATIVE, "required gap between the negative and the positive distance"),
        Param("distance", "euclidean", V.one_of("euclidean", "cosine"), "the distance d"),
        Param("squared", False, V.BOOLEAN, "use the squared euclidean distance"),
        Param("p", 2.0, V.Rule(V.interval_rule(0.0, math.inf, False, True).check, "a number in (0, inf] (inf: the largest"
                               " |difference|)"), "the norm degree of the euclidean distance"),
        Param("swap", False, V.BOOLEAN, "use min(d(a, n), d(p, n)) as the negative distance"),
    )
    inputs = ("anchor", "positive", "negative")
    differentiable_inputs = ("anchor", "positive", "negative")
    event_ndim = 1
    TRAITS = Traits(convex=False, differentiable=False, estimates="other", **_METRIC)

    def _check_params(self) -> None:
        if self.squared and self.distance != "euclidean":
            raise ValueError(f"triplet: squared=True applies to distance='euclidean' only; got distance={self.distance!r}")
        if self.p != 2 and (self.squared or self.distance != "euclidean"):
            raise ValueError(f"triplet: p={self.p!r} applies to the unsquared euclidean distance only"
                             f" (distance='euclidean', squared=False); got distance={self.distance!r}, squared={self.squared}")

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        anchor, positive, negative = arrays
        check_same_rows(anchor, positive, "anchor", "positive")
        check_same_rows(anchor, negative, "anchor", "negative")
        return _cast(xp, arrays), options

    def distance_and_gradient(self, xp: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
        """d(x, y) per row and its gradients with respect to x and y."""
        if self.distance == "cosine":
            nx = xp.maximum(S.row_norm(xp, x, axis=1), COSINE_EPS)
            ny = xp.maximum(S.row_norm(xp, y, axis=1), COSINE_EPS)
            cos = xp.sum(x * y, axis=1, keepdims=True) / (nx * ny)
            d_cos_x = y / (nx * ny) - cos * x / (nx * nx)
            d_cos_y = x / (nx * ny) - cos * y / (ny * ny)
            return 1.0 - cos[:, 0], -d_cos_x, -d_cos_y
        if self.squared:
            u = x - y
            return xp.sum(u * u, axis=1), 2.0 * u, -2.0 * u
        u = x - y + PAIRWISE_EPS
        if self.p == 2:
            d = S.row_norm(xp, u, axis=1)
            g = u / d
            return d[:, 0], g, -g
        d, g = _p_norm_and_gradient(xp, u, self.p)
        return d, g, -g

    def _active(self, xp: Any, anchor: Any, positive: Any, negative: Any) -> tuple:
        d_ap, ga_p, gp = self.distance_and_gradient(xp, anchor, positive)
        d_an, ga_n, gn = self.distance_and_gradient(xp, anchor, negative)
        # With the swap, the negative term's gradient goes to (p, n) where d(p, n) is the
        # smaller; its anchor part is then 0 and a positive part appears.
        gp_n = xp.zeros_like(gp)
        if self.swap:
            d_pn, gp_swap, gn_swap = self.distance_and_gradient(xp, positive, negative)
            use = (d_pn < d_an)[:, None]
            d_an = xp.minimum(d_an, d_pn)
            ga_n = xp.where(use, xp.zeros_like(ga_n), ga_n)
            gn = xp.where(use, gn_swap, gn)
            gp_n = xp.where(use, gp_swap, gp_n)
        z = d_ap - d_an + self.margin
        return z, ga_p, gp, ga_n, gn, gp_n

    def _per_sample(self, xp: Any, anchor: Any, positive: Any, negative: Any) -> Any:
        return xp.maximum(self._active(xp, anchor, positive, negative)[0], 0.0)

    def _gradient(self, xp: Any, anchor: Any, positive: Any, negative: Any) -> Any:
        z, ga_p, gp, ga_n, gn, gp_n = self._active(xp, anchor, positive, negative)
        on = xp.astype(z > 0, anchor.dtype)[:, None]
        return on * (ga_p - ga_n), on * (gp - gp_n), -on * gn


@register
class CosineEmbedding(Loss):
    r"""Cosine embedding loss (PyTorch's CosineEmbeddingLoss): 1 − cos for similar pairs, a hinge on cos otherwise.

    - Formula: :math:`\ell = 1 - \cos(x_1, x_2)` if y = 1, :math:`\max(0, \cos(x_1, x_2) - m)`
      if y = −1, with :math:`\cos = x_1\cdot x_2 / \sqrt{(\|x_1\|^2 + \epsilon)(\|x_2\|^2 + \epsilon)}`,
      ε = 1e-12 as in PyTorch.
    - Domains: y_true in {−1, +1} ({0, 1} is mapped to {−1, +1}); x1, x2 (N, dim); margin in [−1, 1].
    - Gradient: ∂cos/∂x1 = x2/√(AB) − cos·x1/A (A, B the two ε-shifted squared norms),
      times −1 (similar) or the hinge's indicator (dissimilar). No Hessian.
    - Estimates: directions, not lengths ("other").
    - Relations: PyTorch ``cosine_embedding_loss(x1, x2, y, margin=0)``; PyTorch suggests
      a margin in [0, 0.5].
    - Reference: PyTorch documentation, CosineEmbeddingLoss.

    >>> import losslab as ll
    >>> print(ll.cosine_embedding([1, -1], [[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]], reduction="none"))
    [1.         0.70710678]
    """

    name = "cosine_embedding"
    family = "embedding"
    aliases = ("cosine_embedding_loss", "CosineEmbeddingLoss")
    description = "1 − cos for similar pairs, max(0, cos − margin) for dissimilar ones."
    formula = r"\begin{cases}1-\cos(x_1,x_2) & y=1\\ \max(0,\cos(x_1,x_2)-m) & y=-1\end{cases}"
    parameters = (Param("margin", 0.0, V.interval_rule(-1.0, 1.0), "cosine below which dissimilar pairs cost nothing"),)
    inputs = ("y_true", "x1", "x2")
    differentiable_inputs = ("x1", "x2")
    event_ndim = 1
    TRAITS = Traits(convex=False, differentiable=False, bounded=True, estimates="other", **_METRIC)

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        return Contrastive._prepare(self, xp, arrays, options)

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        Loss._check_values(self, xp, arrays, options)
        signed_labels(xp, arrays[0])

    def _parts(self, xp: Any, y_true: Any, x1: Any, x2: Any) -> tuple:
        # Rows scaled by s = max(max|x|, 1) first (exact where the eps matters, |x| ≤ 1), so
        # that no square overflows; in those units a = ‖x₁/s₁‖² + ε/s₁², and the gradient in
        # the caller's units is the scaled one divided by s.
        s1, s2 = S.row_scale(xp, x1, axis=1), S.row_scale(xp, x2, axis=1)
        x1, x2 = x1 / s1, x2 / s2
        a = xp.sum(x1 * x1, axis=1, keepdims=True) + COSINE_EMBEDDING_EPS / (s1 * s1)
        b = xp.sum(x2 * x2, axis=1, keepdims=True) + COSINE_EMBEDDING_EPS / (s2 * s2)
        root = xp.sqrt(a) * xp.sqrt(b)
        cos = xp.sum(x1 * x2, axis=1, keepdims=True) / root
        similar = signed_labels(xp, y_true) > 0
        return similar, a, b, root, cos, x1, x2, s1, s2

    def _per_sample(self, xp: Any, y_true: Any, x1: Any, x2: Any) -> Any:
        similar, _, _, _, cos, *_ = self._parts(xp, y_true, x1, x2)
        cos = cos[:, 0]
        return xp.where(similar, 1.0 - cos, xp.maximum(cos - self.margin, 0.0))

    def _gradient(self, xp: Any, y_true: Any, x1: Any, x2: Any) -> Any:
        similar, a, b, root, cos, x1, x2, s1, s2 = self._parts(xp, y_true, x1, x2)
        active = xp.astype(cos[:, 0] > self.margin, x1.dtype)
        coef = xp.where(similar, -xp.ones_like(active), active)[:, None]
        return coef * (x2 / root - cos * x1 / a) / s1, coef * (x1 / root - cos * x2 / b) / s2


@register
class CosineDistance(Loss):
    r"""Cosine distance between predicted and target vectors: 1 − cos(y_pred, y_true), per row.

    - Formula: :math:`\ell = 1 - \frac{\hat y\cdot y}{\lVert\hat y\rVert\,\lVert y\rVert}`, in [0, 2].
    - Domains: y_true, y_pred (N, dim) finite rows, none of them all zero (the direction of a
      zero vector is undefined: a ValueError names the argument and the row). Each row is
      divided by its largest |entry| first, so no norm overflows or underflows.
    - Gradient −(v − cos·u)/‖ŷ‖ with u = ŷ/‖ŷ‖, v = y/‖y‖; Hessian diagonal
      2g_iu_i/‖ŷ‖ + cos(1 − u_i²)/‖ŷ‖² with g = (v − cos·u)/‖ŷ‖.
    - Estimates a direction ("other"): unchanged when a row of y_pred is rescaled by a
      positive number; not convex; its gradient grows as ‖ŷ‖ → 0.
    - Relations: Optax ``cosine_distance(predictions, targets)`` (epsilon=0: the same, where
      Optax gives NaN for a zero row); Keras ``CosineSimilarity`` / ``cosine_similarity`` is
      −cos = cosine_distance − 1 (same gradient), Optax ``cosine_similarity`` is +cos =
      1 − cosine_distance: neither is an alias (PEER_DIFFERENCES). cosine_embedding with
      label +1 is this loss on pairs (with PyTorch's ε inside the norms).
    - Reference: Salton & McGill (1983), Introduction to modern information retrieval
      (cosine similarity).

    >>> import losslab as ll
    >>> print(ll.cosine_distance([[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [0.0, -3.0]], reduction="none"))
    [1. 2.]
    """

    name = "cosine_distance"
    family = "embedding"
    aliases = ("cosine_distance_loss",)
    description = "1 − cos(y_pred, y_true) per row: the angle between prediction and target."
    formula = r"1 - \frac{\hat y\cdot y}{\lVert\hat y\rVert\,\lVert y\rVert}"
    event_ndim = 1
    TRAITS = Traits(task="metric_learning", bounded=True, estimates="other",
                    notes=("scale-invariant in each row of y_pred",))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        dtype = float_dtype(xp, y_true, y_pred)
        y_true, y_pred = xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)
        check_same_rows(y_true, y_pred, "y_true", "y_pred")
        return (y_true, y_pred), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        super()._check_values(xp, arrays, options)
        for name, x in zip(self.inputs, arrays):
            zero = xp.all(x == 0, axis=1)
            if not is_tracing(x) and V.concrete(xp.any(zero)):
                row = int(np.flatnonzero(to_numpy(zero))[0])
                raise ValueError(f"{name} row {row} is all zeros: a zero vector has no direction (cosine undefined)")

    def _parts(self, xp: Any, t: Any, p: Any) -> tuple[Any, Any, Any, Any]:
        """(u, v, cos, ‖ŷ‖): unit rows of y_pred and y_true, their cosine, y_pred's norm."""
        st = xp.max(xp.abs(t), axis=1, keepdims=True)
        sp = xp.max(xp.abs(p), axis=1, keepdims=True)
        t, p = t / st, p / sp
        nt = xp.sqrt(xp.sum(t * t, axis=1, keepdims=True))
        np_ = xp.sqrt(xp.sum(p * p, axis=1, keepdims=True))
        u, v = p / np_, t / nt
        return u, v, xp.sum(u * v, axis=1, keepdims=True), np_ * sp

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return 1.0 - self._parts(xp, y_true, y_pred)[2][:, 0]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        u, v, cos, norm = self._parts(xp, y_true, y_pred)
        return -(v - cos * u) / norm

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        u, v, cos, norm = self._parts(xp, y_true, y_pred)
        g = (v - cos * u) / norm
        return 2.0 * g * u / norm + cos * (1.0 - u * u) / (norm * norm)


# ----------------------------------------------------------------------------- in-batch
class _InBatch(Loss):
    """Losses whose negatives are the other rows of the batch: not separable."""

    event_ndim = 1
    separable = False


@register
class InfoNCE(_InBatch):
    r"""InfoNCE (NT-Xent, one direction): each query must pick its own key among the batch's keys.

    - Formula: rows L2-normalised, :math:`z_{ij} = \hat q_i\cdot\hat k_j / \tau`,
      :math:`\ell_i = -\log\frac{e^{z_{ii}}}{\sum_j e^{z_{ij}}}` (positives on the diagonal,
      the other keys are the negatives).
    - Domains: queries, keys (N, dim), the same shape; temperature > 0.
    - Gradient of Σᵢ cᵢℓᵢ: G = c ⊙ (softmax(z) − I) row-wise, ∂q̂ = G k̂ / τ, ∂k̂ = Gᵀ q̂ / τ,
      then through the normalisation: ∂q = (∂q̂ − q̂(q̂·∂q̂))/‖q‖. No Hessian. Not separable:
      reduction="none" has no gradient.
    - Estimates: a lower bound on the mutual information of the pair, log N − ℓ ("other").
      Unchanged when any row is rescaled (the rows are normalised), down to norms of
      NORM_EPS = 1e-12, below which the norm is floored, as in torch's ``normalize``.
    - Relations: ``cross_entropy(normalize(q) @ normalize(k).T / τ, arange(N))`` in PyTorch;
      Optax ``ntxent`` is the symmetric two-view version; ``clip`` averages both directions.
    - Reference: van den Oord, Li & Vinyals (2018); Chen et al. (2020), SimCLR.

    >>> import losslab as ll
    >>> print(round(float(ll.info_nce([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], temperature=1.0)), 6))
    0.313262
    """

    name = "info_nce"
    family = "embedding"
    aliases = ("infonce", "nt_xent_one_way", "InfoNCE")
    description = "Each query picks its own key among the batch's keys (cosine logits / τ)."
    formula = r"-\log\frac{e^{\hat q_i\cdot\hat k_i/\tau}}{\sum_j e^{\hat q_i\cdot\hat k_j/\tau}}"
    parameters = (Param("temperature", 0.07, V.POSITIVE, "τ: the softmax temperature"),)
    inputs = ("queries", "keys")
    differentiable_inputs = ("queries", "keys")
    TRAITS = Traits(convex=False, estimates="other", **{**_METRIC, "twice_differentiable": True})

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        check_same_rows(arrays[0], arrays[1], self.inputs[0], self.inputs[1])
        return _cast(xp, arrays), options

    def _logits(self, xp: Any, a: Any, b: Any) -> tuple:
        a_hat, a_norm = normalize(xp, a)
        b_hat, b_norm = normalize(xp, b)
        return a_hat, a_norm, b_hat, b_norm, (a_hat @ b_hat.T) / self.temperature

    def _per_sample(self, xp: Any, queries: Any, keys: Any) -> Any:
        z = self._logits(xp, queries, keys)[-1]
        return S.logsumexp(xp, z, axis=1) - xp.sum(z * _eye(xp, z.shape[0], z), axis=1)

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        q_hat, q_norm, k_hat, k_norm, z = self._logits(xp, *arrays)
        eye = _eye(xp, z.shape[0], z)
        total = None
        if value:
            per_sample = S.logsumexp(xp, z, axis=1) - xp.sum(z * eye, axis=1)
            total = _scalar(xp, xp.sum(cotangent * per_sample))
        if not gradient:
            return total, None
        g = cotangent[:, None] * (S.softmax(xp, z, axis=1) - eye)
        return total, self._back(xp, g, q_hat, q_norm, k_hat, k_norm)

    def _back(self, xp, g, a_hat, a_norm, b_hat, b_norm):
        """From ∂/∂z (z = â b̂ᵀ/τ) to the gradients with respect to the raw rows a and b."""
        d_a = normalize_backward(xp, a_hat, a_norm, (g @ b_hat) / self.temperature)
        d_b = normalize_backward(xp, b_hat, b_norm, (g.T @ a_hat) / self.temperature)
        return d_a, d_b


@register
class CLIP(InfoNCE):
    r"""CLIP's symmetric contrastive loss: the mean of image→text and text→image InfoNCE.

    - Formula: rows L2-normalised, :math:`z = \hat x \hat t^\top/\tau`,
      :math:`\ell_i = \tfrac12\big(-\log\mathrm{softmax}(z_{i\cdot})_i - \log\mathrm{softmax}(z_{\cdot i})_i\big)`,
      so the mean over i is ½(CE over rows + CE over columns), as in Radford et al.
    - Domains: image_embeddings, text_embeddings (N, dim), the same shape; temperature > 0.
    - Gradient of Σᵢ cᵢℓᵢ: G = ½[c_i(P − I)] + ½[(Q − I)c_j] with P the row softmax and Q the
      column softmax of z, then as in ``info_nce``. No Hessian; not separable.
    - Estimates: aligned image and text embeddings ("other").
    - Relations: the CLIP pseudo-code ``(cross_entropy(z, arange) + cross_entropy(z.T, arange)) / 2``;
      CLIP learns τ (initialised at 0.07), here it is a parameter.
    - Reference: Radford et al. (2021), Learning transferable visual models from natural language supervision.

    >>> import losslab as ll
    >>> print(round(float(ll.clip([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], temperature=1.0)), 6))
    0.313262
    """

    name = "clip"
    family = "embedding"
    aliases = ("clip_loss", "symmetric_info_nce")
    description = "CLIP: the mean of image→text and text→image InfoNCE over a batch of pairs."
    formula = r"\tfrac12\big(\mathrm{CE}(\hat x\hat t^\top/\tau) + \mathrm{CE}(\hat t\hat x^\top/\tau)\big)"
    inputs = ("image_embeddings", "text_embeddings")
    differentiable_inputs = ("image_embeddings", "text_embeddings")

    def _per_sample(self, xp: Any, image_embeddings: Any, text_embeddings: Any) -> Any:
        z = self._logits(xp, image_embeddings, text_embeddings)[-1]
        diag = xp.sum(z * _eye(xp, z.shape[0], z), axis=1)
        return 0.5 * (S.logsumexp(xp, z, axis=1) + S.logsumexp(xp, z, axis=0)) - diag

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        x_hat, x_norm, t_hat, t_norm, z = self._logits(xp, *arrays)
        eye = _eye(xp, z.shape[0], z)
        total = None
        if value:
            diag = xp.sum(z * eye, axis=1)
            per_sample = 0.5 * (S.logsumexp(xp, z, axis=1) + S.logsumexp(xp, z, axis=0)) - diag
            total = _scalar(xp, xp.sum(cotangent * per_sample))
        if not gradient:
            return total, None
        g = 0.5 * (cotangent[:, None] * (S.softmax(xp, z, axis=1) - eye)
                   + (S.softmax(xp, z, axis=0) - eye) * cotangent[None, :])
        return total, self._back(xp, g, x_hat, x_norm, t_hat, t_norm)


@register
class SupCon(_InBatch):
    r"""Supervised contrastive loss (Khosla et al. 2020, L_out): every same-label row is a positive.

    - Formula: rows L2-normalised, :math:`s_{ij} = z_i\cdot z_j/\tau`, P(i) the other rows
      with i's label, A(i) all rows but i:
      :math:`\ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)} \log\frac{e^{s_{ip}}}{\sum_{a\in A(i)} e^{s_{ia}}}`.
      An anchor with no positive in the batch gets weight 0 (like an ignored sample): it
      neither counts in the mean's denominator nor gives a gradient (the paper's formula
      is 0/0 there).
    - Domains: embeddings (N, dim); labels (N,) integer class labels; temperature > 0.
    - Gradient of Σᵢ cᵢℓᵢ: ∂s_ij = cᵢ(softmax over A(i) of s_i· − [j ∈ P(i)]/|P(i)|),
      ∂z = (∂s + ∂sᵀ) z / τ, then through the normalisation. No Hessian; not separable.
    - Estimates: embeddings clustered by label ("other").
    - Relations: with one positive per anchor (two views, labels = pair ids) it is the
      SimCLR NT-Xent loss. Khosla et al. use τ = 0.1.
    - Reference: Khosla et al. (2020), Supervised contrastive learning.

    >>> import losslab as ll
    >>> emb = [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]]
    >>> print(round(float(ll.supcon(emb, [0, 0, 1, 1], temperature=1.0)), 6))
    0.597808
    """

    name = "supcon"
    family = "embedding"
    aliases = ("supervised_contrastive", "SupConLoss")
    description = "Supervised contrastive: all same-label rows of the batch are positives."
    formula = r"-\frac{1}{|P(i)|}\sum_{p\in P(i)}\log\frac{e^{z_i\cdot z_p/\tau}}{\sum_{a\ne i}e^{z_i\cdot z_a/\tau}}"
    parameters = (Param("temperature", 0.1, V.POSITIVE, "τ: the softmax temperature"),)
    inputs = ("embeddings", "labels")
    differentiable_inputs = ("embeddings",)
    TRAITS = InfoNCE.TRAITS

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        embeddings, labels = arrays
        check_rows(embeddings, "embeddings")
        check_labels(labels, embeddings.shape[0], "labels")
        return (xp.astype(embeddings, float_dtype(xp, embeddings), copy=False), labels), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        V.check_finite(xp, arrays[0], "embeddings")
        labels = arrays[1]
        if xp.isdtype(labels.dtype, "real floating"):
            V.check_finite(xp, labels, "labels")
            if is_tracing(labels):
                V.traced_invalid(xp, labels != xp.round(labels), "labels must be whole-number class labels")
            elif V.concrete(xp.any(labels != xp.round(labels))):
                bad = float(to_numpy(labels)[np.flatnonzero(to_numpy(labels) != np.round(to_numpy(labels)))[0]])
                raise ValueError(f"labels must be whole-number class labels (one per embedding); got {bad:g}")

    def _masks(self, xp: Any, embeddings: Any, labels: Any) -> tuple:
        z_hat, norm = normalize(xp, embeddings)
        s = (z_hat @ z_hat.T) / self.temperature
        n = s.shape[0]
        eye = _eye(xp, n, s)
        same = xp.astype(labels[:, None] == labels[None, :], s.dtype)
        positives = same * (1.0 - eye)
        count = xp.sum(positives, axis=1)
        # The anchor itself is left out of the softmax: its entry becomes −inf. A row without
        # positives counts for nothing; it keeps finite entries (its own s) so that its softmax and
        # log-sum-exp stay finite where every other entry is −inf (a batch of one row).
        s_out = xp.where((eye > 0) & (count > 0)[:, None], xp.full_like(s, -float("inf")), s)
        return z_hat, norm, s, s_out, positives, count

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        embeddings, labels = arrays
        same = xp.astype(labels[:, None] == labels[None, :], embeddings.dtype)
        return xp.astype(xp.sum(same, axis=1) > 1, embeddings.dtype)

    def _per_sample(self, xp: Any, embeddings: Any, labels: Any) -> Any:
        _, _, s, s_out, positives, count = self._masks(xp, embeddings, labels)
        mean_positive = xp.sum(positives * s, axis=1) / xp.maximum(count, 1.0)
        return xp.where(count > 0, S.logsumexp(xp, s_out, axis=1) - mean_positive, xp.zeros_like(count))

    def _weighted_value_and_gradient(self, xp, arrays, options, cotangent, value, gradient):
        embeddings, labels = arrays
        z_hat, norm, s, s_out, positives, count = self._masks(xp, embeddings, labels)
        total = None
        if value:
            total = _scalar(xp, xp.sum(cotangent * self._per_sample(xp, embeddings, labels)))
        if not gradient:
            return total, None
        has = xp.astype(count > 0, s.dtype)
        g = (cotangent * has)[:, None] * (S.softmax(xp, s_out, axis=1) - positives / xp.maximum(count, 1.0)[:, None])
        d_hat = ((g + g.T) @ z_hat) / self.temperature
        return total, normalize_backward(xp, z_hat, norm, d_hat)
