"""``fit``: train a NumPy model on any (y_true, y_pred) loss of the catalog (DESIGN §4).

One epoch, for each mini-batch::

    out = model.forward(X_batch)                          # raw scores
    value, grad = loss.value_and_gradient(y_batch, out)   # the catalog's gradient
    model.backward(grad)                                  # fills model.gradients
    grads += λ·∇(L2 part of the penalty)                  # L2 as a gradient
    steps = optimizer.update(params, grads, lr)           # per-coordinate step η
    params = prox_{λ·η·L1}(params)                        # L1 as soft-thresholding: exact zeros

``LBFGS`` runs the same objective through SciPy's L-BFGS-B instead (full batch).

Weights. Every loss the trainer reports is the weighted mean the loss defines, Σcᵢℓᵢ/Σcᵢ
(cᵢ: the sample weight times the loss's own class weight or ignore mask): ``initial_loss``,
the validation loss (with the validation weights) and the epoch loss, which sums Σcℓ and
Σc over the epoch's mini-batches before dividing, so that a batch counts by its weight, not
by its row count. Each step follows the gradient of its mini-batch's weighted mean
Σ_batch cℓ/Σ_batch c, as PyTorch's ``reduction="mean"`` does with class weights
(``cross_entropy(weight=...)`` divides by the batch's total weight). Keras instead divides
Σwℓ by the batch's row count ("sum_over_batch_size", keras-team/keras#19740), so its step
size grows with a batch's total weight; here the size of a step does not depend on the
scale of the weights, and weights multiplied by a constant train the same model.
"""

from __future__ import annotations

import contextlib
import math
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from .._progress import Progress
from ..loss import Loss, LossOverflow, get, one_blas_thread
from ..loss.weights import check_sample_weight
from .. import _validate as V
from .._array import array_namespace
from ..regularizers import L1, L2, ElasticNet, Objective, get_regularizer
from .history import History, TrainingDiverged
from .models import Linear, Model
from .optimizers import LBFGS, Adam, Optimizer
from .schedules import cosine

__all__ = ["fit", "EarlyStopping", "default_optimizer", "prepare_loss", "check_weights", "Divergence"]

_CLASSIFICATION_TASKS = ("binary", "multiclass", "classification")
#: The input layouts fit knows how to feed: targets and predictions, or embeddings of
#: labelled samples (supervised contrastive losses: the model is an EmbeddingNet).
_LAYOUTS = (("y_true", "y_pred"), ("embeddings", "labels"))


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor="auto"`` watches the validation loss when there is validation data, else the
    training loss. With ``restore_best_weights`` the model ends with the weights of its
    best epoch (``History.best_epoch``).
    """

    patience: int = 10
    min_delta: float = 0.0
    monitor: str = "auto"
    restore_best_weights: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be an integer >= 1; got {self.patience!r}")
        if not (isinstance(self.min_delta, (int, float)) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a number >= 0; got {self.min_delta!r}")
        if self.monitor not in ("auto", "val_loss", "train_loss"):
            raise ValueError(f"monitor must be 'auto', 'val_loss' or 'train_loss'; got {self.monitor!r}")


def _early_stopping(spec: Any) -> EarlyStopping | None:
    if spec is None or spec is False:
        return None
    if spec is True:
        return EarlyStopping()
    if isinstance(spec, EarlyStopping):
        return spec
    if isinstance(spec, int):
        return EarlyStopping(patience=spec)
    raise TypeError(f"early_stopping must be None, True, a patience (int) or an EarlyStopping; got {spec!r}")


def prepare_loss(loss: Any) -> Loss:
    """The Loss to train with: a name is built with ``from_logits=True`` / ``log_input=True``
    where the loss has that parameter, since models output raw scores."""
    if isinstance(loss, str):
        built = get(loss)
        raw = {k: True for k in ("from_logits", "log_input") if built.params.get(k) is False}
        return get(loss, **raw) if raw else built
    if not isinstance(loss, Loss) and not (hasattr(loss, "value_and_gradient") and hasattr(loss, "traits")):
        raise TypeError(f"loss must be a Loss, a catalog name or an Objective; got {type(loss).__name__}")
    for key in ("from_logits", "log_input"):
        if loss.params.get(key) is False:
            raise ValueError(
                f"loss {loss!r} takes {'probabilities' if key == 'from_logits' else 'rates'} but models output raw"
                f" scores; build it with {key}=True (ll.get({loss.name!r}, {key}=True)) or pass the name {loss.name!r}."
            )
    return loss


def default_optimizer(model: Model, loss: Loss) -> Optimizer:
    """L-BFGS for a linear model on a convex or differentiable loss; otherwise (MLPs) Adam
    whose step decays along a cosine from 0.01 (a constant step only circles the optimum).

    On a smooth convex loss L-BFGS reaches the optimum to ~1e-8. On a convex loss with
    kinks (mae, hinge, quantile, epsilon_insensitive) it has no guarantee, but it stops
    within ~1e-4 of the optimal objective (measured in tests/test_train.py against a linear
    program; Lewis & Overton 2013 explain why quasi-Newton works on such functions), where
    the same budget of decaying subgradient steps is off by 10-100%.
    """
    traits = loss.traits
    if isinstance(model, Linear) and (traits.convex or traits.differentiable):
        return LBFGS()
    return Adam(lr=cosine(0.01))


def _penalty_parts(regularizer: Any) -> tuple[float, float, Any]:
    """(L1 coefficient, L2 coefficient, other regularizer applied as a gradient)."""
    if regularizer is None:
        return 0.0, 0.0, None
    if isinstance(regularizer, ElasticNet):
        return regularizer.l1_ratio, 1.0 - regularizer.l1_ratio, None
    if isinstance(regularizer, L1):
        return 1.0, 0.0, None
    if isinstance(regularizer, L2):
        return 0.0, 1.0, None
    return 0.0, 0.0, regularizer


def _check_data(X: Any, y: Any, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features); got shape {X.shape}")
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(
            f"{name} and its targets must have the same number of rows; got {len(X)} rows in {name} and"
            f" {y.shape[0] if y.ndim else 'a scalar'} in y"
        )
    if len(X) == 0:
        raise ValueError(f"{name} is empty (0 samples); training needs at least one sample")
    if not np.all(np.isfinite(X)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise ValueError(f"{name} must be finite; got {X[bad]} at index {bad}")
    return X, y


def check_weights(sample_weight: Any, n_samples: int, where: str = "", training: bool = True) -> np.ndarray | None:
    """The losses' ``sample_weight`` rule (``losslab.loss.weights.check_sample_weight``: shape
    (n_samples,), (n_samples, 1) or (), finite, >= 0), then, for training data, the one rule training adds: some
    weight is > 0 (with every weight 0 the loss is 0 whatever the model: nothing to fit).
    ``where`` prefixes the messages (e.g. "validation_data: ")."""
    if sample_weight is None:
        return None
    try:
        # The NumPy namespace is looked up here, not at import: array_api_compat.numpy
        # imports much of NumPy (testing, f2py), about 0.1 s that `import losslab` need not pay.
        xp = array_namespace(np.zeros(0))
        w = np.asarray(check_sample_weight(xp, sample_weight, n_samples, np.float64, "cpu"))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}{exc}") from None
    if training and n_samples and not np.any(w > 0):
        raise ValueError(f"{where}sample_weight is zero for every sample; at least one weight must be > 0")
    return w


def _row_weights(loss: Any, arrays: tuple, pred: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Each row's part of the total weight Σc that the loss's "mean" divides by
    (``Loss.row_weights``). A mini-batch's total is the sum over its rows, so
    Σ_batches (batch mean · batch total) / Σ totals is the epoch's weighted mean."""
    if isinstance(loss, Loss):
        return loss.row_weights(*arrays, sample_weight=w)
    # A wrapper of a loss (the estimators' exp link) is elementwise.
    rows = np.ones(len(pred)) if w is None else w
    return rows * float(math.prod(pred.shape[1:]))


class _Run:
    """One training run's shared state: the objective, the data and the bookkeeping."""

    def __init__(self, model: Model, loss: Loss, regularizer: Any, lam: float, X: np.ndarray, y: np.ndarray, w: Any):
        self.model, self.loss, self.regularizer, self.lam = model, loss, regularizer, lam
        self.X, self.y, self.sample_weight = X, y, w
        self.l1, self.l2, self.other = _penalty_parts(regularizer) if lam > 0 else (0.0, 0.0, None)
        self.classification = loss.traits.task in _CLASSIFICATION_TASKS
        self.embeddings_first = tuple(loss.inputs) == ("embeddings", "labels")

    def _arrays(self, y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (pred, y) if self.embeddings_first else (y, pred)

    def penalized(self) -> list[np.ndarray]:
        return [p for p, pen in zip(self.model.parameters, self.model.penalized) if pen]

    def penalty(self) -> float:
        if self.lam == 0 or self.regularizer is None:
            return 0.0
        return self.lam * self.regularizer.value(self.penalized())

    def predict(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = self.model.forward(X)
        single = y.ndim == 1 and out.ndim == 2 and out.shape[1] == 1 and not self.embeddings_first
        return out[:, 0] if single else out

    def value_and_backward(self, X: np.ndarray, y: np.ndarray, w: Any) -> tuple[float, float, np.ndarray]:
        """Forward, loss, backward: (loss value, gradient norm, predictions); inf when it diverged."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pred = self.predict(X, y)
            if not np.all(np.isfinite(pred)):
                return math.inf, math.inf, pred
            try:
                value, grad = self.loss.value_and_gradient(*self._arrays(y, pred), sample_weight=w)
            except LossOverflow:  # finite predictions so large that the loss overflows: diverged
                return math.inf, math.inf, pred
            value = float(value)
            if not math.isfinite(value) or not np.all(np.isfinite(grad)):
                return math.inf, math.inf, pred
            self.model.backward(np.reshape(grad, (len(X), -1)))
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in self.model.gradients))
        return value, norm, pred

    def add_penalty_gradient(self) -> list[np.ndarray]:
        grads = list(self.model.gradients)
        if self.lam == 0:
            return grads
        for i, (p, pen) in enumerate(zip(self.model.parameters, self.model.penalized)):
            if not pen:
                continue
            if self.l2:
                grads[i] = grads[i] + self.lam * self.l2 * 2.0 * p
            if self.other is not None:
                grads[i] = grads[i] + self.lam * self.other.gradient(p)
        return grads

    def prox(self, steps: list[Any]) -> None:
        if self.l1 == 0:
            return
        for p, pen, step in zip(self.model.parameters, self.model.penalized, steps):
            if pen:
                p[...] = L1().prox(p, self.lam * self.l1 * np.asarray(step))

    def evaluate(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(the objective: the loss's weighted mean + λ·penalty, predictions); inf when it diverged."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            pred = self.predict(X, y)
            if not np.all(np.isfinite(pred)):
                return math.inf, pred
            try:
                return float(self.loss(*self._arrays(y, pred), sample_weight=w)) + self.penalty(), pred
            except LossOverflow:
                return math.inf, pred

    def row_weights(self, pred: np.ndarray) -> np.ndarray:
        """The training rows' parts of the loss's total weight (see ``_row_weights``)."""
        return _row_weights(self.loss, self._arrays(self.y, pred), pred, self.sample_weight)

    def accuracy(self, y: np.ndarray, pred: np.ndarray) -> float | None:
        if not self.classification:
            return None
        if pred.ndim == 1 and y.ndim == 1:  # a binary score: positive class where it is > 0
            truth = y > (0.0 if np.min(y) < 0 else 0.5)
            return float(np.mean((pred > 0) == truth))
        if pred.ndim == 2:
            truth = y if y.ndim == 1 else np.argmax(y, axis=1)
            return float(np.mean(np.argmax(pred, axis=1) == truth))
        return None


def _epoch_text(total: int, logs: dict[str, float]) -> str:
    text = f"epoch {int(logs['epoch']) + 1}/{total} loss {logs['train_loss']:.4g}"
    return text + (f" val {logs['val_loss']:.4g}" if "val_loss" in logs else "")


def fit(
    model: Model,
    loss: Any,
    X: Any,
    y: Any,
    *,
    optimizer: Optimizer | None = None,
    regularizer: Any = None,
    lam: float = 0.0,
    epochs: int = 100,
    batch_size: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    early_stopping: Any = None,
    callbacks: Iterable[Callable[[int, dict], Any]] = (),
    seed: Any = None,
    progress: bool = True,
    sample_weight: Any = None,
) -> History:
    """Train ``model`` in place to minimise mean loss(y, model(X)) + lam·regularizer(weights).

    - ``loss``: a Loss, a catalog name (built with ``from_logits=True``/``log_input=True``
      where it has them: models output raw scores) or an ``Objective`` (then leave
      ``regularizer`` and ``lam`` out); of (y_true, y_pred), or of (embeddings, labels)
      such as supcon (then ``y`` holds the labels and the model is an ``EmbeddingNet``).
    - ``optimizer``: default L-BFGS for a linear model on a convex or differentiable loss,
      else Adam with a cosine-decayed step from 0.01 (``default_optimizer``). ``GD`` and
      ``LBFGS`` are full batch.
    - ``regularizer``: "l1", "l2", "elastic_net" or an instance, on the weights (not the
      biases). L2 is added to the gradient; L1 is a proximal step scaled by the
      optimizer's per-coordinate step, which gives exact zeros.
    - ``batch_size``: None for full batch; mini-batches are reshuffled each epoch with ``seed``
      (by default, a seed derived from the model's own seed, so a seeded model's run repeats).
    - ``sample_weight``: one weight >= 0 per sample (the losses' rule, some weight > 0).
      Every loss reported is the loss's weighted mean; each step follows the gradient of its
      mini-batch's weighted mean.
    - ``validation_data``: (X_val, y_val) or (X_val, y_val, sample_weight_val).
    - ``early_stopping``: None, True (patience 10), a patience, or an ``EarlyStopping``;
      the best weights are restored.
    - ``callbacks``: functions ``callback(epoch, logs)`` called after each epoch with its
      numbers; returning True stops training.
    - ``progress``: a progress bar on long runs when stderr is a terminal.

    Raises ``TrainingDiverged`` (naming the epoch, the last sane loss and the learning rate)
    when the loss or a parameter becomes NaN or inf, or the loss explodes (``Divergence``).

    >>> import numpy as np
    >>> from losslab.train import Linear, fit
    >>> X = np.arange(10.0).reshape(-1, 1); y = 2.1 * X[:, 0] + 1.0
    >>> model = Linear(1, 1, seed=0)
    >>> history = fit(model, "mse", X, y)
    >>> print(np.round(model.W.ravel(), 6), np.round(model.b, 6))
    [2.1] [1.]
    """
    if isinstance(loss, Objective):
        if regularizer is not None or lam:
            raise TypeError(
                "loss is an Objective, which carries its own regularizer and lam; leave regularizer and lam out"
            )
        L, reg, lam = prepare_loss(loss.loss), loss.regularizer, loss.lam
    else:
        L, reg = prepare_loss(loss), get_regularizer(regularizer)
        V.check_param("fit", "lam", lam, V.NONNEGATIVE)
        if lam > 0 and reg is None:
            raise ValueError(f"lam={lam} needs a regularizer ('l1', 'l2' or 'elastic_net'); got None")
        lam = float(lam)
    if tuple(getattr(L, "inputs", ())) not in _LAYOUTS:
        raise ValueError(
            f"fit trains losses of (y_true, y_pred) or (embeddings, labels); {L.name} takes {L.inputs}."
            " Use a plain loop for it (forward, loss.gradient, backward, optimizer.update)."
        )
    if not isinstance(model, Model):
        raise TypeError(f"model must be a losslab.train model (Linear, MLP, EmbeddingNet); got {type(model).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1; got {epochs!r}")
    X, y = _check_data(X, y)
    sample_weight = check_weights(sample_weight, len(X))
    val = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3)):
            raise TypeError(
                f"validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, sample_weight_val);"
                f" got {type(validation_data).__name__}"
                f"{' of length ' + str(len(validation_data)) if isinstance(validation_data, (tuple, list)) else ''}"
            )
        X_val, y_val = _check_data(*validation_data[:2], name="X_val")
        w_val = validation_data[2] if len(validation_data) == 3 else None
        val = (X_val, y_val, check_weights(w_val, len(X_val), "validation_data: ", training=False))
    optimizer = default_optimizer(model, L) if optimizer is None else optimizer
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a losslab.train optimizer (SGD, Adam, ...); got {optimizer!r}")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be None (full batch) or an integer >= 1; got {batch_size!r}")
        if optimizer.full_batch and batch_size < len(X):
            raise ValueError(
                f"{type(optimizer).__name__} is full batch; got batch_size={batch_size}. Use batch_size=None."
            )
    stopper = _early_stopping(early_stopping)
    run = _Run(model, L, reg, lam, X, y, sample_weight)
    history = History(loss=repr(L), optimizer=repr(optimizer))
    history.initial_loss = run.evaluate(X, y, sample_weight)[0]
    # A bar on long runs at a terminal (a log would get a line per epoch).
    with Progress(epochs, "training", enabled=progress and epochs >= 20 and sys.stderr.isatty()) as bar:
        if isinstance(optimizer, LBFGS):
            _fit_lbfgs(run, optimizer, epochs, val, stopper, tuple(callbacks), history, bar)
        else:
            _fit_steps(run, optimizer, epochs, batch_size, val, stopper, tuple(callbacks), seed, history, bar)
    return history


class _Tracker:
    """Early stopping and callbacks, shared by both loops."""

    def __init__(self, run: _Run, stopper: EarlyStopping | None, callbacks: tuple, history: History, has_val: bool):
        self.run, self.stopper, self.callbacks, self.history = run, stopper, callbacks, history
        monitor = "val_loss" if (stopper is None or stopper.monitor == "auto") and has_val else "train_loss"
        if stopper is not None and stopper.monitor != "auto":
            monitor = stopper.monitor
            if monitor == "val_loss" and not has_val:
                raise ValueError("early_stopping monitors 'val_loss' but no validation_data was given")
        self.monitor = monitor
        self.best, self.best_weights, self.wait = math.inf, None, 0

    def end_epoch(self, epoch: int) -> bool:
        """Record, call back; True when training should stop."""
        logs = self.history.last()
        self.history.stopped_epoch = epoch
        current = logs[self.monitor]
        min_delta = self.stopper.min_delta if self.stopper else 0.0
        if current < self.best - min_delta:
            self.best, self.wait = current, 0
            self.history.best_epoch = epoch
            if self.stopper is not None and self.stopper.restore_best_weights:
                self.best_weights = self.run.model.get_weights()
        else:
            self.wait += 1
        stop = any(bool(cb(epoch, dict(logs))) for cb in self.callbacks)
        return stop or (self.stopper is not None and self.wait >= self.stopper.patience)

    def finish(self) -> None:
        if self.best_weights is not None:
            self.run.model.set_weights(self.best_weights)
        elif self.stopper is None:
            self.history.best_epoch = self.history.stopped_epoch


def _log_epoch(
    run: _Run, history: History, train_loss: float, grad_norm: float, lr: Any, train_acc: Any, val: Any
) -> None:
    metrics = {} if train_acc is None else {"accuracy": train_acc}
    val_loss = None
    if val is not None:
        val_loss, val_pred = run.evaluate(*val)
        acc = run.accuracy(val[1], val_pred) if math.isfinite(val_loss) else None
        if acc is not None:
            metrics["val_accuracy"] = acc
    history.log(train_loss, grad_norm, lr, val_loss, **metrics)


#: A run that ends with a loss above this many times its scale (the larger of |starting
#: loss| and |best loss|) has diverged. Healthy runs, early rises and noisy SGD stay within
#: 10-30x of their start.
BLOWUP_FACTOR = 1e4
#: A run whose loss grew at least GROWTH_FACTOR-fold in each of its last GROWTH_EPOCHS
#: epochs, ending above its starting loss, ends diverging too (heading for overflow, as
#: gradient descent past its stable step grows geometrically).
GROWTH_FACTOR = 10.0
GROWTH_EPOCHS = 3


class Divergence:
    """Divergence of one run: NaN or inf at once, an exploded loss at the end of the run.

    ``check(loss)`` after each epoch returns the reason when the loss is NaN or inf (a
    parameter is checked by the trainer). A finite loss, however large, is judged only when
    the run ends (``verdict``): the report's own "learning rate too high" run (an MLP on
    binary cross-entropy by gradient descent at rate 30) grows geometrically to 1e91 over 60
    epochs and then recovers to a loss below its start, its loss and gradient norm growing as
    fast as a least-squares run at rate 50 that never recovers; no rule that sees only the
    epochs so far can tell the two apart, so a finite excursion that comes back is not
    divergence, and one the run ends in is. The scale is the starting loss (before the first
    step; the first epoch's when that is not finite) and the best loss. Losses may be
    negative (log-likelihoods): the rules compare magnitudes, and a run whose scale is
    exactly 0 is only checked for NaN and inf. L-BFGS accepts only steps that lower the
    objective, so there only NaN and inf can trip it.

    >>> d = Divergence(10.0); [d.check(v) for v in (4.0, 6.0, 3.0, 8e5, 1.0)]
    [None, None, None, None, None]
    >>> d.verdict() is None  # the spike came back
    True
    >>> d.check(5e5); d.verdict()[1:]  # ended 5e4 times the start: (epoch, last sane loss, its epoch)
    (5, 1.0, 4)
    """

    def __init__(self, start: float) -> None:
        self.values = [float(start)]  # the starting loss, then one loss per epoch

    def check(self, loss: float) -> str | None:
        self.values.append(float(loss))
        return None if math.isfinite(loss) else "the loss became NaN or inf"

    def last_sane(self, index: int) -> tuple[float, int]:
        """(the finite loss at the low point the rise to values[index] began from, its epoch;
        -1 is the loss before the first step)."""
        v = self.values
        j = index
        while j > 0 and (not math.isfinite(v[j - 1]) or not math.isfinite(v[j]) or v[j - 1] < v[j]):
            j -= 1
        while j > 0 and not math.isfinite(v[j]):
            j -= 1
        return v[j], j - 1

    def verdict(self, final: int | None = None) -> tuple[str, int, float, int] | None:
        """None when the run ends sane, else (reason, epoch it diverged, last sane loss, its epoch).

        ``final``: the epoch whose weights the model ends with (early stopping may restore
        an earlier one); by default the last."""
        v = self.values
        end = len(v) - 1 if final is None else final + 1
        if end < 1 or not math.isfinite(v[end]):
            return None
        finite = [x for x in v[: end + 1] if math.isfinite(x)]
        start = v[0] if math.isfinite(v[0]) else v[1]
        scale = max(abs(start), abs(min(finite)))
        loss = v[end]
        if scale > 0 and abs(loss) > BLOWUP_FACTOR * scale:
            first = end  # the first epoch of the final stretch above the bound
            while first > 1 and math.isfinite(v[first - 1]) and abs(v[first - 1]) > BLOWUP_FACTOR * scale:
                first -= 1
            reason = (
                f"the run ended with a loss of {loss:.4g}, over {BLOWUP_FACTOR:.0e} times its scale {scale:.4g}"
                " (the starting or best loss), a bound it passed at this epoch"
            )
            return (reason, first - 1, *self.last_sane(first))
        if end > GROWTH_EPOCHS and loss > abs(start) > 0:
            recent = v[end - GROWTH_EPOCHS:end + 1]
            if all(a > 0 and b >= GROWTH_FACTOR * a for a, b in zip(recent, recent[1:])):
                reason = (
                    f"the loss grew at least {GROWTH_FACTOR:g}-fold in each of the run's last {GROWTH_EPOCHS}"
                    f" epochs, to {loss:.4g} (it started at {start:.4g})"
                )
                return (reason, end - GROWTH_EPOCHS, *self.last_sane(end - GROWTH_EPOCHS + 1))
        return None


def _diverged(history: History, epoch: int, lr: Any, watch: Divergence, reason: str) -> TrainingDiverged:
    """The error for a NaN or inf at ``epoch`` (the last one run)."""
    last, last_epoch = watch.last_sane(len(watch.values) - 1)
    history.diverged = True
    history.stopped_epoch = epoch
    return TrainingDiverged(epoch, last, lr, history, reason, last_epoch)


def _check_end(history: History, watch: Divergence, final: int | None) -> None:
    """Raise ``TrainingDiverged`` when the run ends with an exploded loss (``Divergence.verdict``)."""
    found = watch.verdict(final)
    if found is None:
        return
    reason, epoch, last, last_epoch = found
    history.diverged = True
    lr = history.lr[epoch] if 0 <= epoch < len(history.lr) and math.isfinite(history.lr[epoch]) else None
    raise TrainingDiverged(epoch, last, lr, history, reason, last_epoch)


def _nonfinite_parameter(model: Model) -> str | None:
    # A sum is finite only if every term is: one pass and no temporary in the usual case.
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(sum(float(np.add.reduce(p, axis=None)) for p in model.parameters)):
            return None
    for i, p in enumerate(model.parameters):
        if not np.all(np.isfinite(p)):
            return f"parameter {i} (shape {p.shape}) became NaN or inf"
    return None


def _fit_steps(run: _Run, optimizer: Optimizer, epochs: int, batch_size: Any, val: Any, stopper: Any,
               callbacks: tuple, seed: Any, history: History, bar: Progress) -> None:
    model, X, y, w = run.model, run.X, run.y, run.sample_weight
    n = len(X)
    # Without seed=, a seeded model's own seed decides the shuffling: the run is reproducible.
    rng = np.random.default_rng(seed if seed is not None else getattr(model, "training_seed", None))
    optimizer.init(model.parameters, model.penalized)
    tracker = _Tracker(run, stopper, callbacks, history, val is not None)
    watch = Divergence(history.initial_loss)
    size = n if batch_size is None else min(batch_size, n)
    # Mini-batches: each row's part of the loss's total weight, to sum the batches' weighted
    # losses Σcℓ = (batch mean)·(batch total) over the epoch and divide once by the epoch's total.
    rows = None if size == n else run.row_weights(run.predict(X, y))
    total_weight = None if rows is None else float(np.sum(rows))
    for epoch in range(epochs):
        lr = optimizer.lr(epoch, epochs)
        order = np.arange(n) if size == n else rng.permutation(n)
        weighted = penalty_total = norm_total = correct = 0.0
        for start in range(0, n, size):
            idx = order[start:start + size]
            Xb, yb, wb = (X, y, w) if size == n else (X[idx], y[idx], None if w is None else w[idx])
            penalty = run.penalty()
            value, norm, pred = run.value_and_backward(Xb, yb, wb)
            if not math.isfinite(value + penalty):
                history.log(math.inf, math.inf, lr)
                watch.check(math.inf)
                raise _diverged(history, epoch, lr, watch, "the loss became NaN or inf")
            acc = run.accuracy(yb, pred)
            correct += 0.0 if acc is None else acc * len(idx)
            with np.errstate(over="ignore", invalid="ignore"):
                steps = optimizer.update(model.parameters, run.add_penalty_gradient(), lr)
                run.prox(steps)
            if rows is None:
                weighted, penalty_total = value, penalty
            else:
                weighted += value * float(np.sum(rows[idx]))
                penalty_total += penalty * len(idx)
            norm_total += norm * len(idx)
        if rows is not None:  # the penalty changes with every step: its mean over the epoch's rows
            weighted = weighted / total_weight if total_weight > 0 else 0.0
            penalty_total /= n
        train_acc = correct / n if run.classification and acc is not None else None
        _log_epoch(run, history, weighted + penalty_total, norm_total / n, lr, train_acc, val)
        bar.advance(_epoch_text(bar.total, history.last()))
        reason = watch.check(history.train_loss[-1]) or _nonfinite_parameter(model)
        if reason is not None:
            raise _diverged(history, epoch, lr, watch, reason)
        if tracker.end_epoch(epoch):
            break
    _check_end(history, watch, history.best_epoch if tracker.best_weights is not None else None)
    tracker.finish()


def _single_blas_thread(small: bool) -> Any:
    """One BLAS thread for small L-BFGS problems: L-BFGS-B's own BLAS calls are on vectors of
    the parameters' length, and threads spinning on them cost 5-10x on a busy machine. The
    loss core's limiter keeps one threadpoolctl controller (~15 µs a limit); a fresh
    ``threadpool_limits`` scans the loaded libraries each time (~10 ms, 209 times in the report)."""
    return one_blas_thread() if small else contextlib.nullcontext()


def _fit_lbfgs(run: _Run, optimizer: LBFGS, epochs: int, val: Any, stopper: Any, callbacks: tuple,
               history: History, bar: Progress) -> None:
    from scipy.optimize import minimize

    model = run.model
    params = model.parameters
    shapes = [p.shape for p in params]
    sizes = [p.size for p in params]
    pen_mask = np.concatenate([np.full(s, pen) for s, pen in zip(sizes, model.penalized)])
    theta0 = np.concatenate([p.ravel() for p in params])
    split = run.l1 > 0
    n_pen = int(pen_mask.sum())
    lam = run.lam

    def unpack(x: np.ndarray) -> np.ndarray:
        if not split:
            return x
        theta = x[: theta0.size].copy()
        theta[pen_mask] = x[theta0.size:theta0.size + n_pen] - x[theta0.size + n_pen:]
        return theta

    def assign(theta: np.ndarray) -> None:
        offset = 0
        for p, shape, size in zip(params, shapes, sizes):
            p[...] = theta[offset:offset + size].reshape(shape)
            offset += size

    cache: dict[str, Any] = {}

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        theta = unpack(x)
        assign(theta)
        value, norm, pred = run.value_and_backward(run.X, run.y, run.sample_weight)
        if not math.isfinite(value):
            cache.update(x=x.copy(), value=math.inf, norm=math.inf, pred=pred)
            return math.inf, np.zeros_like(x)
        grad = np.concatenate([g.ravel() for g in model.gradients])
        w = theta[pen_mask]
        f = value + lam * run.l2 * float(w @ w)
        grad[pen_mask] += lam * run.l2 * 2.0 * w
        if run.other is not None:
            f += lam * run.other.value(w)
            grad[pen_mask] += lam * np.asarray(run.other.gradient(w))
        if split:
            g_pen = grad[pen_mask]
            f += lam * run.l1 * float(np.sum(x[theta0.size:]))
            grad = np.concatenate([np.where(pen_mask, 0.0, grad), g_pen + lam * run.l1, -g_pen + lam * run.l1])
        cache.update(x=x.copy(), value=f, norm=norm, pred=pred)
        return f, grad

    if split:
        w0 = theta0[pen_mask]
        x0 = np.concatenate([np.where(pen_mask, 0.0, theta0), np.maximum(w0, 0.0), np.maximum(-w0, 0.0)])
        bounds = [(0.0, 0.0) if pen else (None, None) for pen in pen_mask] + [(0.0, None)] * (2 * n_pen)
    else:
        x0, bounds = theta0, None
    tracker = _Tracker(run, stopper, callbacks, history, val is not None)
    watch = Divergence(history.initial_loss)
    state = {"epoch": -1}

    def callback(intermediate_result: Any) -> None:
        x = intermediate_result.x
        if "x" not in cache or not np.array_equal(cache["x"], x):
            objective(x)
        assign(unpack(x))
        state["epoch"] += 1
        epoch = state["epoch"]
        if not math.isfinite(cache["value"]):
            watch.check(math.inf)
            raise _diverged(history, epoch, None, watch, "the loss became NaN or inf")
        # the cached predictions are those of x (the model now holds x): no second forward pass
        _log_epoch(run, history, cache["value"], cache["norm"], math.nan, run.accuracy(run.y, cache["pred"]), val)
        bar.advance(_epoch_text(bar.total, history.last()))
        reason = watch.check(cache["value"]) or _nonfinite_parameter(model)
        if reason is not None:
            raise _diverged(history, epoch, None, watch, reason)
        if tracker.end_epoch(epoch):
            raise StopIteration

    with np.errstate(over="ignore", invalid="ignore"), _single_blas_thread(run.X.size < 1 << 20):
        result = minimize(
            objective, x0, jac=True, method="L-BFGS-B", bounds=bounds, callback=callback,
            options={
                "maxiter": epochs, "ftol": optimizer.ftol, "gtol": optimizer.gtol, "maxcor": optimizer.history_size
            },
        )
    theta = unpack(result.x)
    if not np.all(np.isfinite(theta)):
        raise _diverged(history, max(state["epoch"], 0), None, watch, "a parameter became NaN or inf")
    if not math.isfinite(float(result.fun)):
        raise _diverged(history, max(state["epoch"], 0), None, watch, "the loss became NaN or inf")
    assign(theta)
    if not history.train_loss:  # converged before the first iteration (already optimal)
        value, norm, pred = run.value_and_backward(run.X, run.y, run.sample_weight)
        _log_epoch(run, history, value + run.penalty(), norm, math.nan, run.accuracy(run.y, pred), val)
        watch.check(history.train_loss[-1])
        tracker.end_epoch(0)
    _check_end(history, watch, history.best_epoch if tracker.best_weights is not None else None)
    if tracker.best_weights is not None or stopper is None:
        tracker.finish()
