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

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import one_blas_thread, pyplot

TRIPLET_MARGIN = 0.2  # on squared distances of unit-length embeddings (FaceNet)
CONTRASTIVE_MARGIN = 0.5
BATCH_SIZE = 32
MAX_SAME_RATIO_VS_INPUT = 1.0  # the loss must tighten the classes beyond the input space's same/different ratio
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
    title = "Embedding geometry: what triplet and contrastive losses add to the input space"
    claim = (
        "Trained with class labels only, triplet and contrastive losses map 8-D inputs onto a 2-D circle whose"
        " classes are tighter than in the input space (a lower same-class/different-class distance ratio), still"
        " separable (recall@1 at least 0.9), and which keeps the superclass order the inputs already have (classes"
        " of one superclass closer than classes of different ones) without being told the superclasses."
    )
    seed_rule = (
        f"on held-out samples, for both losses: the same/different-class distance ratio is below the input"
        f" space's, recall@1 is at least {MIN_RECALL_AT_1}, and the"
        " sibling/other-superclass distance ratio is below 1"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        epochs = 15 if quick else 40
        data = hierarchical(n_per_class=60 if quick else 100, seed=seed)
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
        for space, g in found.items():
            numbers[space] = {
                **{key: value for key, value in g.items() if key != "class_distances"},
                "same_ratio": g["same_class_distance"] / g["different_class_distance"],
                "sibling_ratio": g["sibling_class_distance"] / g["other_superclass_distance"],
                "class_distances": g["class_distances"].tolist(),
            }
        return Trial(numbers, (embeddings, test.y, superclass, names))

    def checks(self, numbers: dict[str, Any]) -> list[Check]:
        out = []
        for loss in LOSSES:
            out += [
                Check(f"{loss}: same/different ratio ÷ the input's", numbers[loss]["same_ratio"]
                      / numbers["input"]["same_ratio"], "<", MAX_SAME_RATIO_VS_INPUT),
                Check(f"{loss}: recall@1", numbers[loss]["recall_at_1"], ">=", MIN_RECALL_AT_1),
                Check(f"{loss}: sibling/other-superclass ratio", numbers[loss]["sibling_ratio"], "<", 1.0),
            ]
        return out

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        spaces = ("input",) + LOSSES
        mean = {space: {key: float(np.mean([t.numbers[space][key] for t in trials]))
                        for key in ("same_ratio", "sibling_ratio", "recall_at_1")} for space in spaces}
        stronger = {loss: sum(t.numbers[loss]["sibling_ratio"] < t.numbers["input"]["sibling_ratio"] for t in trials)
                    for loss in LOSSES}
        n = len(trials)
        notes = (
            "Mean over the seeds: " + "; ".join(
                f"{space}: same/different {mean[space]['same_ratio']:.2f}, sibling/other {mean[space]['sibling_ratio']:.2f},"
                f" recall@1 {mean[space]['recall_at_1']:.3f}" for space in spaces)
            + ". What the losses add is the first number: tighter classes in two dimensions (the 8-D inputs already"
            f" separate the classes: recall@1 {mean['input']['recall_at_1']:.3f})."
            " The superclass structure is the inputs' (a"
            " sample is its superclass's centre plus its class's offset plus noise): the embedding's sibling/other"
            f" ratio is below the input's in {stronger['triplet']}/{n} seeds for triplet and {stronger['contrastive']}/{n}"
            " for contrastive, so "
            + ("the losses keep the hierarchy the inputs have rather than strengthen it."
               if 2 * (stronger["triplet"] + stronger["contrastive"]) < len(LOSSES) * n else
               "the losses strengthen the hierarchy in at least half of the runs.")
            + " A negative already beyond the"
            " margin costs nothing, so nothing pushes cat away from car once they are apart, while cat and dog, each"
            " other's hardest negatives, are pushed only as far as the margin asks."
        )
        return ([_figure(*trials[0].plot, trials[0].numbers), _ratio_figure(trials)], notes,
                {"mean_over_seeds": mean, "seeds_where_embedding_sibling_ratio_is_below_the_inputs": stronger})


def _ratio_figure(trials: list[TrialResult]) -> Figure:
    plt = pyplot()
    spaces = ("input",) + LOSSES
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for ax, key, label, ref in ((axes[0], "same_ratio", "same-class / different-class distance", None),
                                (axes[1], "sibling_ratio", "sibling / other-superclass class distance", 1.0)):
        for j, space in enumerate(spaces):
            values = [t.numbers[space][key] for t in trials]
            ax.plot(np.full(len(values), j), values, "o", color=f"C{j}", alpha=0.7, ms=7)
            ax.plot([j - 0.25, j + 0.25], [np.mean(values)] * 2, color="k", lw=2)
        if ref is not None:
            ax.axhline(ref, color="gray", ls=":", lw=1.5, label="rule: below 1")
            ax.legend(loc="upper left")
        ax.set_xticks(range(len(spaces)), ["input space", "triplet", "contrastive"])
        ax.set_ylabel(label + " (ratio)")
        ax.set_ylim(0, None)
    axes[0].set_title("classes: what the loss adds (lower is tighter)")
    stronger = sum(t.numbers[loss]["sibling_ratio"] < t.numbers["input"]["sibling_ratio"] for t in trials for loss in LOSSES)
    axes[1].set_title(f"superclasses: lower than the input's in {stronger} of {len(LOSSES) * len(trials)} (loss, seed) runs")
    return Figure.from_matplotlib(
        fig, "embedding_geometry_ratios",
        "Distance ratios on held-out samples, one dot per seed (bar: mean), in the input space and in each"
        " embedding: left, how tight the classes are; right, how close sibling classes are against classes of the"
        " other superclass.",
    )


def _figure(embeddings: dict[str, np.ndarray], y: np.ndarray, superclass: np.ndarray, names: tuple[str, ...],
            numbers: dict[str, Any]) -> Figure:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(embeddings), figsize=(5.2 * len(embeddings), 5.2))
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
                     f"\nrecall@1 {numbers[loss]['recall_at_1']:.3f}")
        ax.set_xlabel("embedding coordinate 1")
        ax.set_ylabel("embedding coordinate 2")
    axes[0].legend(loc="center")
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, "embedding_geometry_2d",
        "Held-out samples of one seed in the learnt 2-D unit-length embedding; circles are animals, triangles"
        " vehicles (superclasses the training never saw).",
    )
