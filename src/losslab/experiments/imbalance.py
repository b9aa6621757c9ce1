"""10. Rare positives among easy negatives: does focal loss remove the easy negatives' gradient, and does it help?

The claim of focal loss (Lin et al. 2017) is about dense detection: a detector scores
~100k candidate boxes, nearly all of them easy background, a few hard negatives near the
objects, and very few positives. Under cross-entropy the easy negatives, each with a small
gradient, together swamp the gradient of the rare hard examples; focal loss's factor
(1 − p_t)^γ removes them. This experiment builds data of that shape and measures both the
mechanism and its effect:

- data (``detection_data``): 2 features, 1% positives in four small blobs on a circle,
  10% of the negatives "hard" (spread around the same blobs), the rest "easy" background
  spread over a large square away from the blobs: a non-linear boundary;
- model: a small MLP (2 → 16 → 1, relu), its output bias started at −log((1 − π)/π) with
  π = 0.01, the prior-probability initialisation of Lin et al.;
- losses, each with the same full-batch Adam run: cross-entropy, α-balanced cross-entropy
  (α = 0.75 on the positives), focal γ = 2 with α = 0.25 (Lin et al.'s pair), focal γ = 2
  without α, and cross-entropy with class-balanced weights (Cui et al. 2019, β = 0.999);
- budgets: the same run read at two step counts (``BUDGETS``; a constant learning rate, so
  the model at the first is the one a run of that length would end with);
- primary metric: held-out average precision, paired per seed (focal minus cross-entropy
  on the same data); secondary: the best F1 over thresholds; mechanism: the share of
  Σ|∂L/∂logit| over the training set that comes from the easy negatives.

The rule below was fixed before the experiment was first run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import losslab as ll
from losslab.train import MLP, Adam

from ._base import Check, Experiment, Figure, Trial, TrialResult, register_experiment
from ._fit import one_blas_thread, pyplot

PRIOR = 0.01  # share of positives, and π of the prior-probability bias initialisation
HARD_SHARE = 0.10  # share of the negatives that are hard (spread around the positive blobs)
CENTRES = 3.0 * np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
POSITIVE_SPREAD, HARD_SPREAD = 0.35, 0.9  # standard deviations around a blob centre
BOX, EASY_CLEARANCE = 8.0, 2.0  # easy negatives: uniform on [−8, 8]², at least 2 from every centre
HIDDEN = 16
INPUT_SCALE = 4.0  # features divided by 4: the box [−8, 8]² becomes [−2, 2]², the scale the MLP's init expects
LEARNING_RATE = 0.01
BUDGETS = (50, 300)  # full-batch Adam steps; quick mode reads the same run at (50, 150)
BUDGETS_QUICK = (50, 150)
N_TRAIN, N_TRAIN_QUICK, N_TEST, N_TEST_QUICK = 10000, 3000, 20000, 10000
CB_BETA = 0.999
GAMMA_SWEEP = (0.0, 0.5, 1.0, 2.0, 5.0)  # the full run's sweep of focal loss's γ (α = 0.25), one seed

#: The focal variant the claim is about (Lin et al.'s γ = 2, α = 0.25) and the baseline.
FOCAL, BASELINE = "focal γ=2, α=0.25", "cross-entropy"
# ---- the verdict rule, fixed before the first run ----
#: mechanism: easy negatives carry at least this share of cross-entropy's summed |∂L/∂logit| ...
MIN_EASY_SHARE_CE = 0.10
#: ... and at most this share of focal loss's, at every budget
MAX_EASY_SHARE_FOCAL = 0.02
#: effect: focal's held-out average precision minus cross-entropy's (same seed) must exceed this, at every budget
MIN_AP_GAIN = 0.0


def detection_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (n, 2), labels (n,) and the kind of each sample: 0 easy negative, 1 hard negative, 2 positive."""
    n_pos = int(round(PRIOR * n))
    n_hard = int(round(HARD_SHARE * (n - n_pos)))
    n_easy = n - n_pos - n_hard
    positives = CENTRES[rng.integers(0, len(CENTRES), n_pos)] + POSITIVE_SPREAD * rng.standard_normal((n_pos, 2))
    hard = CENTRES[rng.integers(0, len(CENTRES), n_hard)] + HARD_SPREAD * rng.standard_normal((n_hard, 2))
    easy = np.empty((0, 2))
    while len(easy) < n_easy:  # rejection sampling: background away from every blob
        candidates = rng.uniform(-BOX, BOX, (2 * n_easy, 2))
        distance = np.min(np.linalg.norm(candidates[:, None, :] - CENTRES[None], axis=-1), axis=1)
        easy = np.vstack([easy, candidates[distance >= EASY_CLEARANCE]])
    X = np.vstack([easy[:n_easy], hard, positives])
    kind = np.r_[np.zeros(n_easy, int), np.ones(n_hard, int), np.full(n_pos, 2)]
    order = rng.permutation(n)
    return X[order], (kind[order] == 2).astype(int), kind[order]


def variants(counts: np.ndarray) -> dict[str, tuple[ll.Loss, np.ndarray | None]]:
    """name -> (loss on logits, per-class weights or None)."""
    ce = ll.get("binary_cross_entropy", from_logits=True)
    return {
        BASELINE: (ce, None),
        "α-balanced CE (α=0.75)": (ll.get("binary_focal", gamma=0.0, alpha=0.75, from_logits=True), None),
        FOCAL: (ll.get("binary_focal", gamma=2.0, alpha=0.25, from_logits=True), None),
        "focal γ=2, no α": (ll.get("binary_focal", gamma=2.0, alpha=None, from_logits=True), None),
        f"class-balanced CE (β={CB_BETA:g})": (ce, ll.class_balanced_weights(counts, beta=CB_BETA)),
    }


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """Σ (R_k − R_{k−1})·P_k over the samples ranked by score (scikit-learn's definition, no interpolation)."""
    order = np.argsort(-scores, kind="stable")
    hits = (y[order] == 1).astype(float)
    precision = np.cumsum(hits) / np.arange(1, len(y) + 1)
    return float(np.sum(precision * hits) / max(hits.sum(), 1.0))


def best_f1(y: np.ndarray, scores: np.ndarray) -> float:
    """The largest F1 over all thresholds (each prefix of the ranking)."""
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(y[order] == 1)
    precision, recall = tp / np.arange(1, len(y) + 1), tp / max(tp[-1], 1)
    f1 = np.where(tp > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    return float(f1.max())


def easy_share(loss: ll.Loss, weights: np.ndarray | None, y: np.ndarray, logits: np.ndarray,
               kind: np.ndarray) -> float:
    """The share of Σᵢ|∂Lᵢ/∂logitᵢ| (with the class weights the loss trains with) from the easy negatives."""
    g = np.abs(loss.gradient(y, logits, reduction="none"))
    if weights is not None:
        g = g * weights[y]
    return float(g[kind == 0].sum() / max(g.sum(), 1e-300))


def minority_weight_ratio(counts: np.ndarray, beta: float) -> float:
    """Class-balanced weight of the minority over the majority's (Cui et al.: 10.5x at beta = 0.999 for 9900:100)."""
    weights = ll.class_balanced_weights(counts, beta=beta)
    return float(weights[1] / weights[0])


def train_and_read(loss: ll.Loss, weights: np.ndarray | None, X: np.ndarray, y: np.ndarray, kind: np.ndarray,
                   X_test: np.ndarray, y_test: np.ndarray, budgets: tuple[int, ...], seed: int) -> dict[int, dict]:
    """One full-batch Adam run; at each budget: test AP, best F1, and the easy negatives' gradient share."""
    model = MLP([X.shape[1], HIDDEN, 1], seed=seed)
    # Lin et al.: the final layer's weights drawn with std 0.01 and its bias −log((1 − π)/π), so that
    # every sample starts at p ≈ π
    model.weights[-1][:] = 0.01 * np.random.default_rng(seed).standard_normal(model.weights[-1].shape)
    model.biases[-1][:] = -np.log((1.0 - PRIOR) / PRIOR)
    optimizer = Adam(LEARNING_RATE)
    optimizer.init(model.parameters, model.penalized)
    w = None if weights is None else weights[y]
    scale = len(y) if w is None else float(w.sum())
    read: dict[int, dict] = {0: {"easy_gradient_share": easy_share(loss, weights, y, model.forward(X)[:, 0], kind)}}
    for step in range(1, max(budgets) + 1):
        logits = model.forward(X)[:, 0]
        g = loss.gradient(y, logits, reduction="none")
        model.backward(((g if w is None else g * w) / scale)[:, None])
        optimizer.update(model.parameters, model.gradients, LEARNING_RATE)
        if step in budgets:
            scores = model.forward(X_test)[:, 0]
            read[step] = {
                "average_precision": average_precision(y_test, scores),
                "best_f1": best_f1(y_test, scores),
                "easy_gradient_share": easy_share(loss, weights, y, model.forward(X)[:, 0], kind),
            }
    return read


@register_experiment
class Imbalance(Experiment):
    name = "imbalance"
    title = "Rare positives among easy negatives: focal loss's mechanism and its effect"
    claim = (
        "On detection-like data (1% positives, most negatives easy background, a few hard negatives near the"
        " positives), the many easy negatives carry a large share of cross-entropy's summed gradient and focal loss"
        " (γ = 2, α = 0.25) removes it, and at the same training budget focal loss reaches a higher held-out average"
        " precision than cross-entropy."
    )
    seed_rule = (
        f"at every budget, easy negatives carry at least {MIN_EASY_SHARE_CE:.0%} of cross-entropy's Σ|∂L/∂logit| and"
        f" at most {MAX_EASY_SHARE_FOCAL:.0%} of focal loss's (γ = 2, α = 0.25), and focal's held-out average precision"
        " exceeds cross-entropy's on the same data"
    )

    def trial(self, quick: bool, seed: int) -> Trial:
        rng = np.random.default_rng(seed)
        X, y, kind = detection_data(N_TRAIN_QUICK if quick else N_TRAIN, rng)
        X_test, y_test, _ = detection_data(N_TEST_QUICK if quick else N_TEST, rng)
        X, X_test = X / INPUT_SCALE, X_test / INPUT_SCALE
        budgets = BUDGETS_QUICK if quick else BUDGETS
        counts = np.bincount(y, minlength=2)
        runs = {}
        with one_blas_thread():
            for label, (loss, weights) in variants(counts).items():
                runs[label] = train_and_read(loss, weights, X, y, kind, X_test, y_test, budgets, seed)
        numbers = {
            "budgets": list(budgets), "n_train": len(y), "train_class_counts": counts.tolist(),
            "class_balanced_minority_weight_ratio": minority_weight_ratio(counts, CB_BETA),
            "runs": {label: {str(step): values for step, values in read.items()} for label, read in runs.items()},
        }
        return Trial(numbers, (X[:3000] * INPUT_SCALE, kind[:3000]))

    def checks(self, numbers: dict) -> list[Check]:
        out = []
        runs = numbers["runs"]
        for b in numbers["budgets"]:
            ce, focal = runs[BASELINE][str(b)], runs[FOCAL][str(b)]
            out += [
                Check(f"easy negatives' share of CE's gradient at {b} steps", ce["easy_gradient_share"], ">=",
                      MIN_EASY_SHARE_CE),
                Check(f"easy negatives' share of focal's gradient at {b} steps", focal["easy_gradient_share"], "<=",
                      MAX_EASY_SHARE_FOCAL),
                Check(f"AP(focal) − AP(CE) at {b} steps", focal["average_precision"] - ce["average_precision"], ">",
                      MIN_AP_GAIN),
            ]
        return out

    def summarize(self, trials: list[TrialResult], quick: bool) -> tuple[list[Figure], str, dict]:
        budgets = trials[0].numbers["budgets"]
        labels = list(trials[0].numbers["runs"])
        paired: dict = {}
        for b in budgets:
            paired[str(b)] = {}
            for label in labels:
                for metric in ("average_precision", "best_f1"):
                    diff = [t.numbers["runs"][label][str(b)][metric] - t.numbers["runs"][BASELINE][str(b)][metric]
                            for t in trials]
                    paired[str(b)].setdefault(label, {})[f"{metric}_minus_ce"] = _mean_ci(diff)
                for metric in ("average_precision", "best_f1", "easy_gradient_share"):
                    paired[str(b)][label][metric] = float(np.mean([t.numbers["runs"][label][str(b)][metric]
                                                                   for t in trials]))
        start_share = {label: float(np.mean([t.numbers["runs"][label]["0"]["easy_gradient_share"] for t in trials]))
                       for label in labels}
        numbers = {"by_budget": paired, "easy_gradient_share_at_start": start_share}
        notes = self._notes(paired, start_share, budgets, len(trials))
        figures = [self._figure(trials, paired, budgets)]
        if not quick:  # the γ sweep of focal loss (α = 0.25), one seed
            sweep = gamma_sweep(trials[0].seed, budgets)
            numbers["gamma_sweep"] = sweep
            figures.append(_gamma_figure(sweep, budgets))
        return figures, notes, numbers

    def _notes(self, paired: dict, start: dict, budgets: list, n: int) -> str:
        parts = [f"Means over {n} seeds. Easy negatives' share of the summed |∂L/∂logit| at the start:"
                 f" cross-entropy {start[BASELINE]:.0%}, focal {start[FOCAL]:.2%}."]
        for b in budgets:
            row = paired[str(b)]
            gains = ", ".join(
                f"{label} {row[label]['average_precision_minus_ce'][0]:+.3f}"
                f" [{row[label]['average_precision_minus_ce'][1]:+.3f}, {row[label]['average_precision_minus_ce'][2]:+.3f}]"
                for label in row if label != BASELINE)
            parts.append(
                f"At {b} steps: cross-entropy AP {row[BASELINE]['average_precision']:.3f}, easy share of its gradient"
                f" {row[BASELINE]['easy_gradient_share']:.0%} (focal {row[FOCAL]['easy_gradient_share']:.2%});"
                f" AP minus cross-entropy's, mean [95% interval]: {gains}.")
        first = paired[str(budgets[0])]
        below = [label for label in first if first[label]["average_precision"] < PRIOR]
        if below:
            shares = ", ".join(f"{label} {start[label]:.2%} → {first[label]['easy_gradient_share']:.0%}" for label in below)
            parts.append(
                f"At {budgets[0]} steps {', '.join(below)} rank worse than chance (average precision below the"
                f" {PRIOR:g} of a random ranking), and the easy negatives' share of their gradient rose from the start:"
                f" {shares}. Their scores on the background rose with those on the positives, so the background"
                " stopped being easy for them.")
        parts.append("Average precision is a ranking measure and does not depend on a threshold, so a loss that only"
                     " moves the decision threshold (class weights) cannot change it; best F1 is read at each model's"
                     " best threshold.")
        return " ".join(parts)

    def table(self, trials: list[TrialResult]) -> list[tuple[str, str]]:
        rows = []
        for b in trials[0].numbers["budgets"]:
            for label in trials[0].numbers["runs"]:
                ap = [t.numbers["runs"][label][str(b)]["average_precision"] for t in trials]
                f1 = [t.numbers["runs"][label][str(b)]["best_f1"] for t in trials]
                rows.append((f"{b} steps, {label}: AP · best F1 (mean over seeds)",
                             f"{np.mean(ap):.3f} · {np.mean(f1):.3f}"))
        return rows

    def _figure(self, trials: list[TrialResult], paired: dict, budgets: list) -> Figure:
        plt = pyplot()
        from matplotlib.ticker import FuncFormatter

        fig = plt.figure(figsize=(11, 10.0), layout="constrained")
        grid = fig.add_gridspec(2, 2, width_ratios=(1, 1.4))
        ax, bx, cx = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, :])
        X, kind = trials[0].plot
        for k, (label, color, size) in enumerate((("easy negatives", "0.75", 4), ("hard negatives", "C0", 6),
                                                   ("positives", "C3", 14))):
            at = kind == k
            ax.scatter(X[at, 0], X[at, 1], s=size, color=color, label=label)
        ax.set_aspect("equal")
        ax.set_xlabel("feature 1 (no unit)")
        ax.set_ylabel("feature 2 (no unit)")
        ax.set_title("training data (3000 samples of one seed)")
        ax.legend(loc="upper right", fontsize=9, markerscale=2, framealpha=0.9)
        labels = list(paired[str(budgets[0])])
        start = {label: float(np.mean([t.numbers["runs"][label]["0"]["easy_gradient_share"] for t in trials]))
                 for label in labels}
        columns = ["start"] + [f"{b} steps" for b in budgets]
        x = np.arange(len(columns))
        width = 0.8 / len(labels)
        for j, label in enumerate(labels):
            shares = [start[label]] + [paired[str(b)][label]["easy_gradient_share"] for b in budgets]
            bx.bar(x + j * width, 100 * np.maximum(shares, 1e-5), width, label=label, color=f"C{j}")
        bx.set_yscale("log")
        bx.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        bx.axhline(100 * MIN_EASY_SHARE_CE, color="k", ls="--", lw=1.2, label=f"rule: CE ≥ {MIN_EASY_SHARE_CE:.0%}")
        bx.axhline(100 * MAX_EASY_SHARE_FOCAL, color="k", ls=":", lw=1.2,
                   label=f"rule: focal ≤ {MAX_EASY_SHARE_FOCAL:.0%}")
        bx.set_xticks(x + 0.4 - width / 2, columns)
        bx.set_ylabel("easy negatives' share of Σ|∂L/∂logit| (%)")
        bx.set_title("the mechanism (mean over seeds, log scale)")
        bx.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
        for j, label in enumerate(labels[1:], 1):
            means = [paired[str(b)][label]["average_precision_minus_ce"] for b in budgets]
            cx.errorbar(np.arange(len(budgets)) + (j - 2.5) * 0.08, [m[0] for m in means],
                        yerr=[[m[0] - m[1] for m in means], [m[2] - m[0] for m in means]],
                        fmt="o", ms=7, capsize=5, lw=1.8, color=f"C{j}", label=label)
        cx.axhline(0.0, color="k", lw=1.2, label="no difference (the rule asks for > 0)")
        cx.set_xticks(np.arange(len(budgets)), [f"{b} steps" for b in budgets])
        cx.set_xlim(-0.5, len(budgets) - 0.5)
        cx.set_ylabel("held-out AP minus cross-entropy's")
        cx.set_title("the effect: average precision minus cross-entropy's on the same seed, mean ± 95% interval")
        cx.legend(fontsize=9, loc="lower left", ncol=2)
        return Figure.from_matplotlib(
            fig, "imbalance",
            "Top left: detection-like data. Top right: share of the summed gradient magnitude that comes from easy"
            " negatives, per loss, at the start and at each budget (log scale; dashed and dotted: the rule's"
            " thresholds). Bottom: each loss's held-out average precision minus cross-entropy's on the same seed.",
        )


def gamma_sweep(seed: int, budgets: Sequence[int]) -> dict:
    """Focal loss (α = 0.25) at each γ of GAMMA_SWEEP, on the data of one seed: AP and easy share per budget."""
    rng = np.random.default_rng(seed)
    X, y, kind = detection_data(N_TRAIN, rng)
    X_test, y_test, _ = detection_data(N_TEST, rng)
    X, X_test = X / INPUT_SCALE, X_test / INPUT_SCALE
    out: dict = {"gamma": list(GAMMA_SWEEP)}
    with one_blas_thread():
        for gamma in GAMMA_SWEEP:
            loss = ll.get("binary_focal", gamma=gamma, alpha=0.25, from_logits=True)
            out[f"{gamma:g}"] = {str(k): v for k, v in
                                 train_and_read(loss, None, X, y, kind, X_test, y_test, tuple(budgets), seed).items()}
    return out


def _gamma_figure(sweep: dict, budgets: Sequence[int]) -> Figure:
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    gammas = sweep["gamma"]
    for k, b in enumerate(budgets):
        ax.plot(gammas, [sweep[f"{g:g}"][str(b)]["average_precision"] for g in gammas], "o-", lw=2, color=f"C{k}",
                label=f"{b} steps")
        bx.plot(gammas, [100 * sweep[f"{g:g}"][str(b)]["easy_gradient_share"] for g in gammas], "o-", lw=2,
                color=f"C{k}", label=f"{b} steps")
    bx.plot(gammas, [100 * sweep[f"{g:g}"]["0"]["easy_gradient_share"] for g in gammas], "o--", lw=2, color="0.4",
            label="at the start")
    ax.axhline(PRIOR, color="gray", ls=":", lw=1.2, label=f"chance ({PRIOR:g})")
    ax.set_xlabel("γ (focusing parameter; α = 0.25)")
    ax.set_ylabel("held-out average precision")
    ax.legend()
    bx.set_xlabel("γ (focusing parameter; α = 0.25)")
    bx.set_ylabel("easy negatives' share of Σ|∂L/∂logit| (%)")
    bx.legend()
    return Figure.from_matplotlib(fig, "imbalance_gamma", "Focal loss (α = 0.25) against γ on one seed's data: held-out"
                                  " average precision (left) and the easy negatives' share of the gradient (right),"
                                  " at each budget; γ = 0 is α-balanced cross-entropy with α = 0.25.")


def _mean_ci(values: list[float]) -> list[float]:
    from ._base import margin_interval

    mean, lo, hi = margin_interval(values)
    return [mean, mean if lo is None else lo, mean if hi is None else hi]
