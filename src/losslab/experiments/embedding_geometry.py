"""11. Embedding geometry: triplet and contrastive losses on classes grouped in superclasses.

The data (``losslab.datasets.hierarchical``): four classes, cat and dog (animals) and car
and truck (vehicles), in 8 features; a sample is its superclass's centre + its class's
offset + noise, so cat and dog share features. An EmbeddingNet (8 → 32 → 2, unit length:
points on a circle, which is also the figure) is trained with class labels only, never
the superclasses, under

- triplet: max(0, ‖a − p‖² − ‖a − n‖² + 0.2) on unit-length embeddings, FaceNet's choice,
  over every valid triplet of each mini-batch (``losslab.miners``, miner="all");
- contrastive: ½y·d² + ½(1 − y)·max(0, 0.5 − d)² over every pair of each mini-batch.

Both losses take embeddings, not (y_true, y_pred), so the training loop is written here:
forward, loss gradient with respect to the embeddings, backward, Adam step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import losslab as ll
from losslab.datasets import hierarchical, train_test_split
from losslab.miners import triplet_from_labels
from losslab.train import Adam, EmbeddingNet

from ._base import Experiment, Figure, register_experiment
from ._fit import one_blas_thread, pyplot

TRIPLET_MARGIN = 0.2  # on squared distances of unit-length embeddings (FaceNet)
CONTRASTIVE_MARGIN = 0.5
BATCH_SIZE = 32
MAX_SAME_RATIO = 0.5  # same-class pairs at most half as far apart as different-class pairs
MAX_SIBLING_RATIO = 0.9  # classes of one superclass at least 10% closer than classes of different ones
MIN_RECALL_AT_1 = 0.9
LOSSES = ("triplet", "contrastive")



def embedding_gradient(loss: str, embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """∂(mean loss over the batch's triplets or pairs)/∂embeddings, shape (batch, dim)."""
    if loss == "triplet":
        _, grad = triplet_from_labels(embeddings, labels, margin=TRIPLET_MARGIN, miner="all", squared=True,
                                      return_gradient=True)
        return grad
    i, j = np.triu_indices(len(labels), k=1)
    similar = (labels[i] == labels[j]).astype(float)
    g_i, g_j = ll.get("contrastive", margin=CONTRASTIVE_MARGIN).gradient(similar, embeddings[i], embeddings[j])
    grad = np.zeros_like(embeddings)
    np.add.at(grad, i, g_i)  # each pair's gradients back to the two rows it came from
    np.add.at(grad, j, g_j)
    return grad


def train(loss: str, X: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> EmbeddingNet:
    net = EmbeddingNet(X.shape[1], 2, hidden=(32,), normalize=True, seed=seed)
    optimizer = Adam(0.01)
    optimizer.init(net.parameters, net.penalized)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            net.backward(embedding_gradient(loss, net.forward(X[batch]), y[batch]))
            optimizer.update(net.parameters, net.gradients, optimizer.lr(epoch, epochs))
    return net


def geometry(points: np.ndarray, y: np.ndarray, superclass: np.ndarray) -> dict[str, Any]:
    """Mean distances: same class vs different classes, sibling classes vs the rest; recall@1."""
    d = np.sqrt(np.maximum(np.sum((points[:, None, :] - points[None, :, :]) ** 2, axis=-1), 0.0))
    k = len(superclass)
    between = np.array([[d[np.ix_(y == a, y == b)].mean() for b in range(k)] for a in range(k)])
    same, other = y[:, None] == y[None, :], ~np.eye(len(y), dtype=bool)
    sibling = (superclass[:, None] == superclass[None, :]) & ~np.eye(k, dtype=bool)
    nearest = np.argmin(np.where(other, d, np.inf), axis=1)  # leave-one-out retrieval
    return {
        "same_class_distance": float(d[same & other].mean()),
        "different_class_distance": float(d[~same].mean()),
        "sibling_class_distance": float(between[sibling].mean()),
        "other_superclass_distance": float(between[superclass[:, None] != superclass[None, :]].mean()),
        "class_distances": between,
        "recall_at_1": float(np.mean(y[nearest] == y)),
    }


@register_experiment
class EmbeddingGeometry(Experiment):
    name = "embedding_geometry"
    title = "Embedding geometry: triplet and contrastive losses learn the hierarchy they were never told"
    claim = (
        "Triplet and contrastive embeddings put same-class pairs closer than different-class pairs, and classes that"
        " share a superclass closer than classes that do not (cat–dog closer than cat–car), although the labels"
        " never named the superclasses."
    )
    verdict_rule = (
        f"Supported iff, on held-out samples, for both losses the mean same-class distance is at most"
        f" {MAX_SAME_RATIO} times the mean different-class distance, the mean distance between classes of one"
        f" superclass is at most {MAX_SIBLING_RATIO} times that between classes of different superclasses, and"
        f" recall@1 is at least {MIN_RECALL_AT_1}."
    )

    def compute(self, quick: bool, seed: int) -> tuple[bool, dict[str, Any], list[Figure], str]:
        epochs = 30 if quick else 60
        data = hierarchical(n_per_class=100, seed=seed)
        superclass, names = data.metadata["superclass"], data.target_names
        train_set, test = train_test_split(data, 0.5, seed=seed)
        found = {"input": geometry(test.X, test.y, superclass)}
        embeddings = {}
        with one_blas_thread():
            for loss in LOSSES:
                net = train(loss, train_set.X, train_set.y, seed, epochs)
                embeddings[loss] = net.forward(test.X)
                found[loss] = geometry(embeddings[loss], test.y, superclass)
        numbers: dict[str, Any] = {"classes": list(names), "superclass": superclass.tolist(), "epochs": epochs}
        checks = []
        for space, g in found.items():
            same_ratio = g["same_class_distance"] / g["different_class_distance"]
            sibling_ratio = g["sibling_class_distance"] / g["other_superclass_distance"]
            numbers[space] = {
                **{key: value for key, value in g.items() if key != "class_distances"},
                "same_ratio": same_ratio, "sibling_ratio": sibling_ratio,
                f"{names[0]}_{names[1]}": float(g["class_distances"][0, 1]),
                f"{names[0]}_{names[2]}": float(g["class_distances"][0, 2]),
                "class_distances": g["class_distances"].tolist(),
            }
            if space in LOSSES:
                checks += [same_ratio <= MAX_SAME_RATIO, sibling_ratio <= MAX_SIBLING_RATIO,
                           g["recall_at_1"] >= MIN_RECALL_AT_1]
        notes = " ".join(
            f"{space}: same/different {numbers[space]['same_ratio']:.2f}, sibling/other {numbers[space]['sibling_ratio']:.2f},"
            f" {names[0]}–{names[1]} {numbers[space][f'{names[0]}_{names[1]}']:.2f} vs {names[0]}–{names[2]}"
            f" {numbers[space][f'{names[0]}_{names[2]}']:.2f}, recall@1 {numbers[space]['recall_at_1']:.3f}."
            for space in found
        ) + (
            " The hierarchy is in the inputs by construction; the losses keep it because a negative that is already"
            " beyond the margin costs nothing, so nothing pushes cat away from car once they are apart, while"
            " cat and dog, each other's hardest negatives, are pushed only as far as the margin asks."
        )
        return all(checks), numbers, [_figure(embeddings, test.y, superclass, names, numbers)], notes


def _figure(embeddings: dict[str, np.ndarray], y: np.ndarray, superclass: np.ndarray, names: tuple[str, ...],
            numbers: dict[str, Any]) -> Figure:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(embeddings), figsize=(4.2 * len(embeddings), 4.2))
    markers, colors = ("o", "^"), ("tab:blue", "tab:cyan", "tab:red", "tab:orange")
    circle = np.linspace(0.0, 2.0 * np.pi, 200)
    for ax, (loss, points) in zip(axes, embeddings.items()):
        ax.plot(np.cos(circle), np.sin(circle), color="0.85", lw=1, zorder=0)
        for c, name in enumerate(names):
            at = y == c
            ax.scatter(points[at, 0], points[at, 1], s=14, marker=markers[superclass[c] % 2], color=colors[c % 4],
                       label=name, alpha=0.8)
        ax.set_aspect("equal")
        ax.set_title(f"{loss}: sibling/other distance {numbers[loss]['sibling_ratio']:.2f},"
                     f"\nrecall@1 {numbers[loss]['recall_at_1']:.3f}", fontsize=9)
    axes[0].legend(fontsize=8, loc="center")
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, "embedding_geometry_2d",
        "Held-out samples in the learnt 2-D unit-length embedding; circles are animals, triangles vehicles"
        " (superclasses the training never saw).",
    )
