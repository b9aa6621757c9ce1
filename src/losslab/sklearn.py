"""scikit-learn estimators that train on any catalog loss: ``LossRegressor``, ``LossClassifier``.

They wrap ``losslab.train.fit``, so any loss of the catalog works in pipelines,
``cross_val_score`` and ``GridSearchCV``::

    from sklearn.model_selection import GridSearchCV
    from losslab.sklearn import LossRegressor
    GridSearchCV(LossRegressor(), {"loss": ["mse", "mae", "huber"]}).fit(X, y)

Conventions (the docstrings of the classes give the details):

- ``penalty`` with ``alpha``: the objective is mean loss + alpha·R(w) with losslab's
  penalties (l2 = Σw², no ½). Ridge minimises Σ(y − ŷ)² + alpha‖w‖², so under mse our
  alpha is Ridge's alpha / n_samples. The intercept is not penalised.
- ``optimizer="auto"`` (the default) takes L-BFGS for a linear model on a convex or
  differentiable loss and Adam otherwise (``losslab.train.default_optimizer``); every named optimizer decays its learning rate
  along a cosine over ``max_epochs``, so that the defaults converge (DESIGN §4).
- Classification losses are trained on raw scores: a loss with ``from_logits`` is built
  with ``from_logits=True``; poisson is built with ``log_input=True`` and a regression
  loss that needs positive predictions (gamma_deviance, tweedie, msle) gets a log link:
  either way the prediction is exp(score).

Importing this module imports scikit-learn (``pip install 'losslab[sklearn]'``);
``import losslab`` does not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _stable as S
from .loss import Loss, get
from .regularizers import L1, L2, ElasticNet
from .train import MLP, EarlyStopping, Linear, default_optimizer, fit, get_optimizer
from .train.optimizers import LBFGS
from .train.trainer import check_weights
from .train.schedules import cosine
from .traits import REAL

__all__ = ["LossRegressor", "LossClassifier"]

_PENALTIES = (None, "l1", "l2", "elastic_net")
_MODELS = ("linear", "mlp")
_CLASSIFICATION_TASKS = ("binary", "multiclass", "classification")


class _LogLink:
    """A loss of μ = exp(s) seen as a loss of the raw score s: ∂ℓ/∂s = ∂ℓ/∂μ · μ."""

    inputs = ("y_true", "y_pred")

    def __init__(self, loss: Loss) -> None:
        self.inner = loss
        self.name, self.params, self.traits = loss.name, loss.params, loss.traits

    def __call__(self, y_true: Any, score: Any, sample_weight: Any = None) -> Any:
        return self.inner(y_true, np.exp(np.minimum(score, 700.0)), sample_weight=sample_weight)

    def value_and_gradient(self, y_true: Any, score: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        mu = np.exp(np.minimum(score, 700.0))
        value, grad = self.inner.value_and_gradient(y_true, mu, sample_weight=sample_weight)
        return value, grad * mu

    def __repr__(self) -> str:
        return f"exp-link {self.inner!r}"


def _sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """One weight per sample, by the rule the losses and ``fit`` share (a single number
    weights every sample alike, scikit-learn's convention and Keras's)."""
    if sample_weight is None:
        return None
    return np.broadcast_to(check_weights(sample_weight, n_samples), (n_samples,)).copy()


def _check_numeric(X: Any) -> None:
    """Features must be numbers: text such as "0.5" is refused, not parsed behind the user's back."""
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind is None and not hasattr(X, "__array__"):
        kind = np.asarray(X, dtype=object).dtype.kind if isinstance(X, (list, tuple)) else None
        if kind == "O":
            flat = np.asarray(X, dtype=object).ravel()
            kind = "U" if any(isinstance(v, (str, bytes)) for v in flat) else None
    if kind in ("U", "S"):
        raise TypeError("X must hold numbers; it holds text (strings). Convert the columns to numbers first"
                        " (e.g. X.astype(float)) or encode the categories.")


class _LossEstimator(BaseEstimator):
    """What both estimators share: building the loss, penalty, model and optimizer; fitting."""

    _task: str = ""

    # ------------------------------------------------------------------ building blocks
    def _build_loss(self) -> Loss:
        params = dict(self.loss_params or {})
        if isinstance(self.loss, Loss):
            if params:
                raise ValueError("loss_params apply to a loss given by name; got a built Loss and loss_params")
            L = self.loss
        elif isinstance(self.loss, str):
            L = get(self.loss, **params)
            raw = {k: True for k in ("from_logits", "log_input") if k in L.params and k not in params}
            if raw:
                L = get(self.loss, **params, **raw)
        else:
            raise TypeError(f"loss must be a catalog name or a losslab Loss; got {self.loss!r}")
        task = L.traits.task
        if self._task == "regression" and task != "regression":
            raise ValueError(
                f"loss {L.name!r} is a {task} loss; {type(self).__name__} needs a regression loss such as 'mse',"
                " 'mae', 'huber' or 'quantile' (use LossClassifier for classification losses)."
            )
        if self._task == "classification" and task not in _CLASSIFICATION_TASKS:
            raise ValueError(
                f"loss {L.name!r} is a {task} loss; {type(self).__name__} needs a classification loss such as"
                " 'cross_entropy', 'hinge' or 'logistic' (use LossRegressor for regression losses)."
            )
        return L

    def _trainable_loss(self, L: Loss) -> Any:
        domain = L.traits.y_pred_domain
        if domain == REAL or (domain.low == -math.inf and domain.high == math.inf):
            return L
        if self._task == "regression" and domain.low >= 0 and domain.high == math.inf:
            return _LogLink(L)
        raise ValueError(
            f"loss {L!r} takes y_pred in {domain}, but the model outputs raw scores; pick a loss that takes"
            " scores (or one with from_logits=True / log_input=True)."
        )

    def _penalty(self) -> tuple[Any, float]:
        if self.penalty not in _PENALTIES:
            raise ValueError(f"penalty must be None, 'l1', 'l2' or 'elastic_net'; got {self.penalty!r}")
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0; got {self.alpha!r}")
        if self.penalty is None:  # alpha is the strength of the penalty: nothing to scale
            return None, 0.0
        reg = {"l1": L1, "l2": L2}.get(self.penalty)
        return (reg() if reg else ElasticNet(self.l1_ratio)), float(self.alpha)

    def _build_model(self, n_features: int, n_outputs: int, seed: int) -> Any:
        if self.model == "linear":
            return Linear(n_features, n_outputs, seed=seed)
        if self.model == "mlp":
            sizes = self.hidden_layer_sizes
            if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
                sizes = (sizes,)  # one hidden layer, as scikit-learn's MLPs take an int
            try:
                hidden = tuple(sizes)
            except TypeError:
                raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints (one width per hidden"
                                f" layer); got {sizes!r}") from None
            return MLP([n_features, *hidden, n_outputs], activation="relu", seed=seed)
        raise ValueError(f"model must be 'linear' or 'mlp'; got {self.model!r}")

    def _build_optimizer(self, model: Any, L: Any) -> Any:
        rate = self.learning_rate
        if not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0; got {rate!r}")
        name = self.optimizer
        if not isinstance(name, str):
            return get_optimizer(name)
        if name == "auto":
            name = default_optimizer(model, L).name
        opt = get_optimizer(name)
        if isinstance(opt, LBFGS):
            return opt
        return get_optimizer(name, lr=cosine(float(self.learning_rate)))

    def _fit(self, X: np.ndarray, y: np.ndarray, sample_weight: Any, n_outputs: int, loss: Any) -> None:
        epochs = self.max_epochs
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"max_epochs must be an integer >= 1; got {self.max_epochs!r}")
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        model = self._build_model(X.shape[1], n_outputs, seed)
        regularizer, lam = self._penalty()
        optimizer = self._build_optimizer(model, loss)
        validation, stopper = None, None
        if self.early_stopping:
            n_val = max(1, int(round(0.1 * len(X))))
            if len(X) - n_val < 1:
                raise ValueError(f"early_stopping needs at least 2 samples; got {len(X)}")
            order = np.random.default_rng(seed).permutation(len(X))
            val_idx, train_idx = order[:n_val], order[n_val:]
            validation = (X[val_idx], y[val_idx])
            if sample_weight is not None:  # the validation loss is weighted as the training loss is
                validation += (sample_weight[val_idx],)
                sample_weight = sample_weight[train_idx]
            X, y = X[train_idx], y[train_idx]
            stopper = EarlyStopping(patience=10)
        batch = self.batch_size
        if batch is not None and (optimizer.full_batch or batch >= len(X)):
            batch = None
        # A linear model is fitted on centred features, then its intercept moved back: the
        # same optimum (the intercept is not penalised), but far better conditioned when the
        # features sit far from 0; kinked losses (mae, quantile) otherwise stall with the
        # intercept near its start.
        # (The weighted mean, so that weights equal repetitions, as scikit-learn checks.)
        offset = np.zeros(X.shape[1])
        if isinstance(model, Linear) and (sample_weight is None or np.sum(sample_weight) > 0):
            offset = np.average(X, axis=0, weights=sample_weight)
        if validation is not None:
            validation = (validation[0] - offset, *validation[1:])
        self.history_ = fit(
            model, loss, X - offset, y, optimizer=optimizer, regularizer=regularizer, lam=lam,
            epochs=int(self.max_epochs), batch_size=batch, validation_data=validation, early_stopping=stopper,
            seed=seed, progress=bool(self.progress), sample_weight=sample_weight,
        )
        if isinstance(model, Linear):
            model.b[...] = model.b - offset @ model.W
        self.model_ = model
        self.n_iter_ = self.history_.epochs
        for stale in ("coef_", "intercept_"):  # from an earlier fit of another model
            self.__dict__.pop(stale, None)
        if isinstance(model, Linear):
            coef, intercept = model.W.T.copy(), model.b.copy()
            if n_outputs == 1 and self._single_output:
                coef, intercept = coef[0], float(intercept[0])
            self.coef_, self.intercept_ = coef, intercept

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.forward(X)


class LossRegressor(RegressorMixin, _LossEstimator):
    """A regression model (linear or MLP) trained on any regression loss of the catalog.

    Parameters: ``loss`` (a catalog name, default "mse", or a Loss), ``loss_params`` (dict
    of the loss's parameters), ``penalty`` (None, "l1", "l2", "elastic_net") with
    ``alpha`` (mean loss + alpha·penalty; ignored when penalty is None) and ``l1_ratio``, ``model`` ("linear" or "mlp"
    with ``hidden_layer_sizes``), ``optimizer`` ("auto", "lbfgs", "adam", "adamw", "sgd",
    "gd", "rmsprop"), ``learning_rate`` (the start of a cosine decay), ``max_epochs``,
    ``batch_size`` (None: full batch), ``early_stopping`` (hold out 10%, patience 10),
    ``random_state``, ``progress`` (a per-epoch bar on a terminal for fits of 20 epochs or more).

    Attributes after ``fit``: ``coef_``/``intercept_`` (linear model), ``model_``,
    ``history_`` (a losslab History), ``loss_``, ``n_features_in_``, ``n_iter_``.

    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(-1, 1); y = 2.1 * X[:, 0] + 3.0
    >>> reg = LossRegressor(loss="huber").fit(X, y)
    >>> print(round(float(reg.coef_[0]), 4), round(reg.intercept_, 4))
    2.1 3.0
    """

    _task = "regression"

    def __init__(
        self,
        loss: Any = "mse",
        loss_params: dict | None = None,
        penalty: str | None = None,
        alpha: float = 0.0,
        l1_ratio: float = 0.5,
        model: str = "linear",
        hidden_layer_sizes: tuple[int, ...] = (32,),
        optimizer: Any = "auto",
        learning_rate: float = 0.01,
        max_epochs: int = 200,
        batch_size: int | None = None,
        early_stopping: bool = False,
        random_state: Any = None,
        progress: bool = False,
    ) -> None:
        self.loss = loss
        self.loss_params = loss_params
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.progress = progress

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LossRegressor":
        _check_numeric(X)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        sample_weight = _sample_weight(sample_weight, len(X))
        L = self._build_loss()
        self.loss_ = L
        self._single_output = y.ndim == 1
        self._link = self._trainable_loss(L)
        self._fit(X, y, sample_weight, 1 if y.ndim == 1 else y.shape[1], self._link)
        return self

    def predict(self, X: Any) -> np.ndarray:
        scores = self._scores(X)
        if isinstance(self._link, _LogLink) or self.loss_.params.get("log_input"):  # scores are log-rates
            scores = np.exp(np.minimum(scores, 700.0))
        return scores[:, 0] if self._single_output else scores


class LossClassifier(ClassifierMixin, _LossEstimator):
    """A classifier (linear or MLP) trained on any classification loss of the catalog.

    The parameters are those of ``LossRegressor``, with ``loss="cross_entropy"`` by
    default. A multiclass loss trains one score per class. A binary loss (hinge,
    logistic, binary_cross_entropy, ...) trains one score for two classes (positive class
    ``classes_[1]``) and, for more classes, one score per class one-vs-rest (the mean of
    the binary loss over samples and classes), as LinearSVC does.
    ``decision_function`` returns the raw scores; for two classes a single column (> 0
    means ``classes_[1]``; under a multiclass loss the difference of the two scores).
    ``predict_proba`` exists when the loss estimates probabilities through a known link
    (logistic and binary cross-entropy: sigmoid; exponential: sigmoid(2f); modified
    Huber and squared hinge: (clip(f) + 1)/2; cross-entropy: softmax; one-vs-rest
    probabilities are normalised to sum to 1).

    ``class_weight``: None, "balanced" or {class: weight}, multiplied into the sample
    weights as in scikit-learn's classifiers (for imbalanced data; see also focal losses).

    Attributes after ``fit``: ``classes_``, ``coef_``/``intercept_`` (linear model),
    ``model_``, ``history_``, ``loss_``, ``n_features_in_``, ``n_iter_``.

    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array(["no", "no", "yes", "yes"])
    >>> clf = LossClassifier(loss="hinge").fit(X, y)
    >>> clf.predict([[0.2], [2.8]]).tolist()
    ['no', 'yes']
    """

    _task = "classification"

    def __init__(
        self,
        loss: Any = "cross_entropy",
        loss_params: dict | None = None,
        penalty: str | None = None,
        alpha: float = 0.0,
        l1_ratio: float = 0.5,
        model: str = "linear",
        hidden_layer_sizes: tuple[int, ...] = (32,),
        optimizer: Any = "auto",
        learning_rate: float = 0.01,
        max_epochs: int = 200,
        batch_size: int | None = None,
        early_stopping: bool = False,
        random_state: Any = None,
        progress: bool = False,
        class_weight: Any = None,
    ) -> None:
        self.loss = loss
        self.loss_params = loss_params
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.progress = progress
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LossClassifier":
        _check_numeric(X)
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        sample_weight = _sample_weight(sample_weight, len(X))
        if self.class_weight is not None:
            # As scikit-learn's classifiers: a sample's weight times its class's weight
            # ("balanced": n_samples / (n_classes · count of the class)).
            from sklearn.utils.class_weight import compute_sample_weight

            if isinstance(self.class_weight, dict) and any(
                not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0) for w in self.class_weight.values()
            ):
                raise ValueError(f"class_weight must map each class to a finite weight >= 0; got {self.class_weight!r}")
            by_class = compute_sample_weight(self.class_weight, y)
            sample_weight = by_class if sample_weight is None else sample_weight * by_class
        L = self._build_loss()
        self.classes_, encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})"
            )
        binary_loss = L.traits.task == "binary"
        self.loss_ = L
        self._single_output = True
        if binary_loss and n_classes == 2:
            self._layout, target, n_outputs = "binary", encoded.astype(np.float64), 1
        elif binary_loss:  # one-vs-rest: column k is "class k or not", in {0, 1}
            self._layout, n_outputs = "ovr", n_classes
            target = (encoded[:, None] == np.arange(n_classes)[None, :]).astype(np.float64)
        else:
            self._layout, target, n_outputs = "multiclass", encoded.astype(np.int64), n_classes
        self._fit(X, target, sample_weight, n_outputs, self._trainable_loss(L))
        if isinstance(self.model_, Linear):  # (1, p) for one binary score, as scikit-learn's linear classifiers
            coef, intercept = self.model_.W.T.copy(), self.model_.b.copy()
            if self._layout == "multiclass" and n_classes == 2:
                # Two softmax scores: their difference is the binary decision function, as
                # decision_function returns it; so coef_[0] is the weight toward classes_[1].
                coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
            self.coef_, self.intercept_ = coef, intercept
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores: (n,) for two classes (> 0 means classes_[1]), else (n, n_classes)."""
        scores = self._scores(X)
        if self._layout == "binary":
            return scores[:, 0]
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[index]

    def _yields_probabilities(self) -> bool:
        L = getattr(self, "loss_", None) or self._build_loss()
        return L.inverse_link is not None

    @available_if(_yields_probabilities)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities through the loss's inverse link (see the class docstring)."""
        check_is_fitted(self, "model_")
        link = self.loss_.inverse_link
        scores = self._scores(X)
        if self._layout == "binary":
            p = link.inverse(np, scores[:, 0])
            return np.stack([1.0 - p, p], axis=1)
        if self._layout == "ovr":
            p = np.maximum(link.inverse(np, scores), 1e-300)
            return p / p.sum(axis=1, keepdims=True)
        return S.softmax(np, scores)

    @available_if(_yields_probabilities)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy; labels ``fit`` never saw are an error (not silently counted wrong)."""
        check_is_fitted(self, "classes_")
        y = np.asarray(y)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels the classifier never saw in fit: {unseen.tolist()}; it knows"
                f" {self.classes_.tolist()}."
            )
        return super().score(X, y, sample_weight=sample_weight)
