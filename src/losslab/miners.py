"""Triplet miners: from a labelled batch (embeddings, labels) to (anchor, positive, negative) triplets.

- ``"all"``: every valid triplet: a ≠ p with label(p) = label(a), label(n) ≠ label(a).
- ``"batch_hard"`` (Hermans, Beyer & Leibe 2017): for each anchor, its farthest positive
  and its nearest negative; anchors without a positive or a negative are skipped.
- ``"semi_hard"`` (Schroff et al. 2015, FaceNet): for each positive pair (a, p), the
  nearest negative among those farther than the positive but inside the margin,
  d(a, p) < d(a, n) < d(a, p) + margin; pairs with no such negative are skipped.

Distances are those of the triplet loss that will use the triplets (euclidean with
PyTorch's ε, squared, or cosine); the mining itself is not differentiated (indices only).
``triplet_from_labels`` does mining and loss in one call:

>>> import numpy as np, losslab as ll
>>> emb = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 0.0], [3.1, 0.0]])
>>> print(ll.miners.triplet_from_labels(emb, [0, 0, 1, 1], margin=1.0, miner="batch_hard"))
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from array_api_compat import device

from ._array import array_namespace, as_array, to_numpy
from .losses.embedding import PAIRWISE_EPS, Triplet, check_labels, check_rows

__all__ = ["MINERS", "pairwise_distances", "mine_triplets", "triplet_from_labels"]

MINERS = ("all", "batch_hard", "semi_hard")


def pairwise_distances(embeddings: Any, *, distance: str = "euclidean", squared: bool = False) -> np.ndarray:
    """(N, N) NumPy matrix of the triplet loss's distance d(x_i, x_j) (float64, no autograd)."""
    x = np.asarray(to_numpy(embeddings), dtype=np.float64)
    if distance == "cosine":
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
        return 1.0 - unit @ unit.T
    diff = x[:, None, :] - x[None, :, :]
    if squared:
        return np.sum(diff * diff, axis=-1)
    return np.sqrt(np.sum((diff + PAIRWISE_EPS) ** 2, axis=-1))


def mine_triplets(
    embeddings: Any,
    labels: Any,
    *,
    miner: str = "batch_hard",
    margin: float = 1.0,
    distance: str = "euclidean",
    squared: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (anchor, positive, negative) of the mined triplets, each of shape (T,)."""
    if miner not in MINERS:
        raise ValueError(f"miner must be one of {', '.join(map(repr, MINERS))}; got {miner!r}")
    embeddings = as_array(embeddings, "embeddings")
    check_rows(embeddings, "embeddings")
    y = np.asarray(to_numpy(as_array(labels, "labels")))
    check_labels(y, embeddings.shape[0], "labels")
    d = pairwise_distances(embeddings, distance=distance, squared=squared)
    n = y.shape[0]
    same = y[:, None] == y[None, :]
    positive = same & ~np.eye(n, dtype=bool)
    negative = ~same
    if miner == "all":
        a, p, q = np.nonzero(positive[:, :, None] & negative[:, None, :])
        return a, p, q
    if miner == "batch_hard":
        keep = positive.any(axis=1) & negative.any(axis=1)
        anchors = np.nonzero(keep)[0]
        hardest_positive = np.argmax(np.where(positive, d, -np.inf), axis=1)
        hardest_negative = np.argmin(np.where(negative, d, np.inf), axis=1)
        return anchors, hardest_positive[anchors], hardest_negative[anchors]
    a, p = np.nonzero(positive)
    d_ap = d[a, p][:, None]
    d_an = d[a]  # (pairs, N)
    inside = negative[a] & (d_an > d_ap) & (d_an < d_ap + margin)
    found = inside.any(axis=1)
    nearest = np.argmin(np.where(inside, d_an, np.inf), axis=1)
    return a[found], p[found], nearest[found]


def triplet_from_labels(
    embeddings: Any,
    labels: Any,
    *,
    margin: float = 1.0,
    miner: str = "batch_hard",
    distance: str = "euclidean",
    squared: bool = False,
    reduction: str = "mean",
    return_gradient: bool = False,
) -> Any:
    """Mine triplets from (embeddings, labels) and return the triplet loss over them.

    The loss is ``Triplet(margin, distance, squared)`` over the mined triplets, so
    "mean" is the mean over triplets (0 when none is found). On PyTorch or JAX arrays the
    result is differentiable with respect to ``embeddings`` (indexing keeps autograd).
    With ``return_gradient=True`` it returns ``(value, gradient)``, the gradient with
    respect to ``embeddings``, shape (N, dim): each triplet's three gradients added back to
    the rows they came from.
    """
    loss = Triplet(margin=margin, distance=distance, squared=squared)
    embeddings = as_array(embeddings, "embeddings")
    a, p, n = mine_triplets(embeddings, labels, miner=miner, margin=margin, distance=distance, squared=squared)
    xp = array_namespace(embeddings)
    if a.size == 0:
        zero = xp.sum(embeddings * 0.0)
        if reduction == "none":
            zero = xp.zeros((0,), dtype=embeddings.dtype)
        return (zero, xp.zeros_like(embeddings)) if return_gradient else zero

    def rows(index: np.ndarray) -> Any:
        return xp.take(embeddings, xp.asarray(index, device=device(embeddings)), axis=0)

    triplets = (rows(a), rows(p), rows(n))
    if not return_gradient:
        return loss(*triplets, reduction=reduction)
    value, grads = loss.value_and_gradient(*triplets, reduction=reduction)
    # Scatter-add: the one-hot (T, N) matrices carry each triplet's gradient to its rows.
    total = 0.0
    for index, g in zip((a, p, n), grads):
        onehot = xp.asarray(index[:, None] == np.arange(embeddings.shape[0])[None, :], device=device(embeddings))
        total = total + xp.astype(onehot, g.dtype).T @ g
    return value, total
