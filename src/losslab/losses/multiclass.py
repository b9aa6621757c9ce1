"""Multiclass losses over a class axis: y_pred (N, C) of probabilities, logits, log-probabilities
or scores; y_true class indices (N,) or target distributions (N, C) (DESIGN §2).

Each docstring gives, in order: the formula, the domains, the gradient and Hessian (the
diagonal) with respect to y_pred, the statistic the minimiser estimates, the relation to the
peers' conventions, a reference, and an example the tests run.

Shared conventions:

- Index targets and one-hot targets give the same numbers (class weights included: a
  distribution target's weight is Σ_c w_c t_c, the weight of its class when one-hot).
- ``class_weight`` and ``ignore_index`` are sample weights (``_extra_weights``): "mean" is
  Σ w ℓ / Σ w as in PyTorch, and a batch whose every target is ignored gives 0 and a zero
  gradient. ``ignore_index`` applies to index targets only.
- Probabilities exactly 0 or 1 are clipped to [ε, 1 − ε] (ε = finfo(dtype).eps); values
  outside [0, 1] and rows that do not sum to 1 are errors.
- Logits may be −inf (a masked class): such a class has probability 0 and the loss and
  gradient stay exact and finite as long as the true class is finite. Target mass on a
  masked class makes the loss infinite: the reduced loss raises a ValueError naming the row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import array_namespace, as_array, float_dtype, is_numpy, is_tracing, to_numpy
from ..core import Loss, Param, functional, register
from ..traits import REAL, UNIT, Interval, Traits
from ._base import LOGITS_HINT, check_probabilities, check_rows_sum_to_one, clip_probabilities
from ._classes import check_class_indices, check_distribution, is_index_target, one_hot

#: log-probabilities: (−inf, 0].
NONPOSITIVE = Interval(-math.inf, 0.0, False, True)
# ----------------------------------------------------------------------------- parameter rules
def _is_weight_vector(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim == 1 and a.size > 0 and bool(np.all(np.isfinite(a))) and bool(np.all(a >= 0)) and a.sum() > 0


def _is_cost_matrix(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim == 2 and a.shape[0] == a.shape[1] >= 2 and bool(np.all(np.isfinite(a))) and bool(np.all(a >= 0))


CLASS_WEIGHT = V.Rule(
    lambda v: v is None or _is_weight_vector(v),
    "None or a 1-D sequence of finite, non-negative weights, one per class (not all 0)",
)
IGNORE_INDEX = V.Rule(
    lambda v: v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)),
    "None or an integer class index (e.g. -100, PyTorch's default)",
)
COST_MATRIX = V.Rule(
    lambda v: v is None or _is_cost_matrix(v),
    "None (every mistake costs 1) or a square (C, C) matrix of finite, non-negative costs, C >= 2",
)
_FROM_LOGITS = Param("from_logits", False, V.BOOLEAN, "y_pred holds logits, not probabilities")


# ----------------------------------------------------------------------------- the base
class _ClassAxisLoss(Loss):
    """y_pred (N, C); y_true indices (N,) or distributions (N, C).

    ``_kind`` says what y_pred holds: "probabilities" or "logits" (from ``from_logits``),
    "log_probabilities" (nll) or "scores" (multiclass_hinge).
    """

    event_ndim = 1
    #: A softmax makes a dozen NumPy calls per row block: 1 MiB blocks of y_pred amortise
    #: them (on 2 cores, 64 KiB blocks of 1000 classes took 1.5-2x the CPU time per element).
    block_scale = 16
    #: Distribution (soft) targets are allowed; hard-label losses (hinge) set this False.
    soft_targets = True

    @property
    def _kind(self) -> str:
        return "logits" if getattr(self, "from_logits", False) else "probabilities"

    def _n_classes_param(self) -> int | None:
        """The number of classes a parameter fixes (class_weight, cost_matrix), or None."""
        cw = getattr(self, "class_weight", None)
        return None if cw is None else len(np.asarray(cw))

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        y_true, y_pred = arrays
        if y_pred.ndim != 2:
            raise ValueError(
                f"y_pred must have shape (n_samples, n_classes) ({self._kind}); got shape {tuple(y_pred.shape)}"
            )
        n_classes = y_pred.shape[1]
        expected = self._n_classes_param()
        if expected is not None and expected != n_classes:
            what = "class_weight" if getattr(self, "class_weight", None) is not None else "cost_matrix"
            raise ValueError(
                f"{self.name}: {what} is for {expected} classes but y_pred has {n_classes} columns;"
                f" give one entry per class."
            )
        if is_index_target(y_true, y_pred):
            dtype = float_dtype(xp, y_pred)
            return (y_true, xp.astype(y_pred, dtype, copy=False)), options
        dtype = float_dtype(xp, y_true, y_pred)
        return (xp.astype(y_true, dtype, copy=False), xp.astype(y_pred, dtype, copy=False)), options

    # --------------------------------------------------------------- value checks
    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        y_true, y_pred = arrays
        n_classes = y_pred.shape[1]
        if y_true.ndim == 1:
            _check_indices(xp, y_true, n_classes, getattr(self, "ignore_index", None))
        else:
            check_distribution(xp, y_true)
            if not self.soft_targets and not is_tracing(y_true):
                if V.concrete(xp.any((y_true != 0.0) & (y_true != 1.0))):
                    raise ValueError(
                        f"y_true must be class indices or one-hot rows for {self.name} (a margin needs one"
                        " true class); got soft labels."
                    )
        kind = self._kind
        if kind == "logits" and self._fused(xp, y_true):
            return  # the fused NumPy kernel validates the logits with its row maxima
        if kind == "probabilities":
            check_probabilities(xp, y_pred, "y_pred", hint=LOGITS_HINT)
            check_rows_sum_to_one(xp, y_pred, "y_pred")
        elif kind == "logits":
            _check_logits(xp, y_pred)
        elif kind == "log_probabilities":
            _check_log_probabilities(xp, y_pred)
        else:
            V.check_finite(xp, y_pred, "y_pred")

    # --------------------------------------------------------------- targets and weights
    def _valid(self, xp: Any, y_true: Any) -> Any:
        """Rows that count (index targets not equal to ignore_index), or None when all do."""
        ignore = getattr(self, "ignore_index", None)
        if ignore is None or y_true.ndim != 1:
            return None
        return y_true != ignore

    def _nonfinite_reason(self, arrays: tuple, options: dict) -> str | None:
        if self._kind != "logits":
            return None
        arrays = tuple(as_array(a, n) for a, n in zip(arrays, self.inputs))
        xp = array_namespace(*arrays)
        (y_true, z), _ = self._prepare(xp, arrays, dict(options))
        target = to_numpy(self._target_rows(xp, y_true, z))
        smoothing = float(getattr(self, "label_smoothing", 0.0) or 0.0)
        if smoothing > 0:
            target = (1.0 - smoothing) * target + smoothing / target.shape[1]
        hit = (target > 0) & np.isneginf(to_numpy(z))
        if not hit.any():
            return None
        row, col = (int(i) for i in np.argwhere(hit)[0])
        why = " (label_smoothing puts target mass on every class)" if smoothing > 0 else ""
        return (
            f"y_true puts probability on class {col} of row {row}, whose logit is -inf (masked){why}: the loss"
            " is infinite. A masked class must not be a target; drop the mask there or use label_smoothing=0."
        )

    def _target_rows(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        """(N, C) target distributions in y_pred's dtype; ignored rows are all 0."""
        if y_true.ndim == 2:
            return y_true
        t = one_hot(xp, y_true, y_pred.shape[1], y_pred.dtype)
        valid = self._valid(xp, y_true)
        return t if valid is None else t * xp.astype(valid, y_pred.dtype)[:, None]

    def _extra_weights(self, xp: Any, arrays: tuple, options: dict) -> Any:
        y_true, y_pred = arrays
        cw = getattr(self, "class_weight", None)
        valid = self._valid(xp, y_true)
        if cw is None and valid is None:
            return None
        dtype = y_pred.dtype
        if cw is None:
            return xp.astype(valid, dtype)
        w = xp.asarray(np.asarray(cw, dtype=float), device=device(y_pred))
        w = xp.astype(w, dtype)
        if y_true.ndim == 2:
            # A distribution's weight is the expected class weight: w[y] for a one-hot row.
            return xp.sum(y_true * w[None, :], axis=-1)
        if valid is None:
            return xp.take(w, xp.astype(y_true, xp.int64))
        safe = xp.where(valid, xp.astype(y_true, xp.int64), xp.zeros_like(xp.astype(y_true, xp.int64)))
        return xp.take(w, safe) * xp.astype(valid, dtype)

    def _fused(self, xp: Any, y_true: Any) -> bool:
        """Whether the fused NumPy kernel computes this loss (cross_entropy on logits, index targets)."""
        return False

    def _log_probs(self, xp: Any, y_pred: Any) -> Any:
        if self._kind == "logits":
            return S.log_softmax(xp, y_pred)
        return xp.log(clip_probabilities(xp, y_pred))

    def _probs(self, xp: Any, y_pred: Any) -> Any:
        return self._log_probs_and_probs(xp, y_pred)[1]

    def _log_probs_and_probs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        """(log p, p) with one log_softmax for logits (losses that need both)."""
        if self._kind == "logits":
            log_p = S.log_softmax(xp, y_pred)
            return log_p, xp.exp(log_p)
        p = clip_probabilities(xp, y_pred)
        return xp.log(p), p


def _check_indices(xp: Any, y_true: Any, n_classes: int, ignore_index: Any) -> None:
    if is_numpy(xp) and y_true.dtype.kind in "iu" and y_true.size:
        # Fast path for the common case (one pass each for min and max, per row block).
        if y_true.min() >= 0 and y_true.max() < n_classes:
            return
    check_class_indices(xp, y_true, n_classes, ignore_index)


def _check_logits(xp: Any, z: Any) -> None:
    """Finite logits or −inf (a masked class); every row needs one finite logit."""
    if is_tracing(z):
        return
    if is_numpy(xp) and math.isfinite(float(np.add.reduce(z, axis=None))):
        return  # one read: every entry is finite
    V.check_finite(xp, z, "y_pred", allow_neg_inf=True)
    row_max = xp.max(z, axis=-1)
    all_masked = to_numpy(row_max == -math.inf)
    if all_masked.any():
        raise ValueError(
            f"y_pred (logits) must have at least one finite logit per row; row {int(np.argmax(all_masked))}"
            " is all -inf (every class masked)."
        )


def _check_log_probabilities(xp: Any, lp: Any) -> None:
    if is_tracing(lp) or lp.size == 0:
        return
    V.check_finite(xp, lp, "y_pred", allow_neg_inf=True)
    hi = V.concrete(xp.max(lp))
    if hi is not None and hi > 0:
        raise ValueError(
            f"y_pred must hold log-probabilities (<= 0); got max {hi:g}. nll takes log_softmax outputs; for"
            " logits use cross_entropy(from_logits=True)."
        )
    tol = float(xp.finfo(lp.dtype).eps) ** 0.5
    worst = V.concrete(xp.max(xp.abs(xp.sum(xp.exp(lp), axis=-1) - 1.0)))
    if worst is not None and worst > tol:
        raise ValueError(
            f"y_pred rows must be log-probabilities whose exponentials sum to 1; the worst row is off by"
            f" {worst:.3g}. Apply log_softmax, or use cross_entropy(from_logits=True) on raw scores."
        )


_EXP_LIMITS: dict = {}


def _exp_limit(dtype: Any) -> float:
    """log of the largest finite number of ``dtype``: e^x overflows above it."""
    if dtype not in _EXP_LIMITS:
        _EXP_LIMITS[dtype] = math.log(float(np.finfo(dtype).max))
    return _EXP_LIMITS[dtype]


def _log1mexp(xp: Any, lp: Any) -> Any:
    """log(1 − e^{lp}) for lp ≤ 0, accurate on both sides of −log 2 (Mächler 2012).

    lp = 0 (a probability that rounds to 1) is moved to −tiny so that log(0) never runs;
    the true 1 − p is then below ε and every term that uses it is negligible.
    """
    tiny = float(xp.finfo(lp.dtype).smallest_normal)
    lp = xp.minimum(lp, -tiny)
    near_zero = xp.maximum(lp, -S.LOG2)
    far = xp.minimum(lp, -S.LOG2)
    return xp.where(lp > -S.LOG2, xp.log(-xp.expm1(near_zero)), xp.log1p(-xp.exp(far)))


def _linear_in_p(xp: Any, kind: str, y_pred: Any, coef: Any, want: str) -> Any:
    """ℓ = Σ_c coef_c p_c: value, gradient or Hessian diagonal, for probabilities or logits.

    On logits p = softmax(z): ∂ℓ/∂z_k = p_k(coef_k − M), ∂²ℓ/∂z_k² = p_k(1 − 2p_k)(coef_k − M)
    with M = Σ_c p_c coef_c.
    """
    if kind == "logits":
        p = xp.exp(S.log_softmax(xp, y_pred))
    else:
        p = clip_probabilities(xp, y_pred)
    if want == "value":
        return xp.sum(p * coef, axis=-1)
    if kind != "logits":
        return coef if want == "gradient" else xp.zeros_like(p)
    centred = coef - xp.sum(p * coef, axis=-1, keepdims=True)
    return p * centred if want == "gradient" else p * (1.0 - 2.0 * p) * centred


# ----------------------------------------------------------------------------- cross-entropy
@register
class CrossEntropy(_ClassAxisLoss):
    r"""Cross-entropy (log loss) over C classes, from probabilities or logits.

    - Formula: :math:`\ell = -\sum_c t_c \log p_c` with t the target distribution (one-hot for
      an index), smoothed to :math:`t = (1-\varepsilon) t + \varepsilon/C`; from logits z,
      p = softmax(z) and :math:`\ell = \log\sum_c e^{z_c} - \sum_c t_c z_c`.
    - Domains: y_true class indices (N,) or distributions (N, C); y_pred (N, C) probability rows
      (clipped to [ε, 1 − ε], rows must sum to 1) or logits with ``from_logits=True`` (−inf
      allowed for a masked class; with label_smoothing > 0 a masked class receives ε/C of the
      target, so the loss would be infinite: a ValueError says so (reduction="none" holds
      +inf there); smooth over the valid classes with a distribution target instead).
    - Gradient: logits p·Σt − t (= softmax − t); probabilities −t/p. Hessian diagonal: logits
      Σt·p(1 − p); probabilities t/p².
    - Estimates the probability: a strictly proper scoring rule (with no label smoothing and
      no class weights; class weights make the minimiser p ∝ w_c η_c).
    - Relations: PyTorch ``cross_entropy(input, target, weight, ignore_index, label_smoothing)``
      on logits: the same, "mean" = Σ w_y ℓ / Σ w_y; two differences: losslab weights the
      smoothing term by the true class only (PyTorch weights it by each class, pytorch#104776),
      and an all-ignored batch gives 0, not NaN. For soft targets PyTorch puts the weights
      inside the sum and divides "mean" by N; here a soft row's weight is Σ_c w_c t_c and
      "mean" divides by Σ w. Keras ``CategoricalCrossentropy`` / ``SparseCategoricalCrossentropy``
      (which clip to [1e-7, 1 − 1e-7] and renormalise rows; losslab rejects such rows).
      scikit-learn ``log_loss`` (clips to eps, as here). Optax ``softmax_cross_entropy``.
    - Reference: Good (1952), Rational decisions; Bridle (1990), softmax.

    >>> import losslab as ll
    >>> print(ll.cross_entropy([0, 1, 2], [[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]], from_logits=True))
    0.057375629877...
    """

    name = "cross_entropy"
    family = "multiclass"
    aliases = (
        "categorical_crossentropy", "sparse_categorical_crossentropy", "multinomial_log_loss",
    )
    # PyTorch's CrossEntropyLoss and Optax's softmax_cross_entropy take logits.
    preset_aliases = {"CrossEntropyLoss": {"from_logits": True}, "softmax_cross_entropy": {"from_logits": True}}
    description = "Log loss over C classes: the proper scoring rule; index or soft targets."
    formula = r"-\sum_c t_c \log p_c"
    parameters = (
        _FROM_LOGITS,
        Param("label_smoothing", 0.0, V.HALF_OPEN_UNIT, "mix ε of the uniform distribution into the target"),
        Param("class_weight", None, CLASS_WEIGHT, "weight of each class (weights a sample by its true class)"),
        Param("ignore_index", None, IGNORE_INDEX, "index targets equal to this are skipped (weight 0)"),
    )

    def _traits(self) -> Traits:
        proper = self.label_smoothing == 0 and self.class_weight is None
        logits = bool(self.from_logits)
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=True,
            # Smoothing makes every t_c > 0: Hessian diag(t/p²) > 0 in p (logits: shift-invariant).
            strictly_convex=not logits and self.label_smoothing > 0,
            # Class weights move the best prediction to p ∝ w·η, and its argmax with it.
            lipschitz=logits, robust=logits, classification_calibrated=self.class_weight is None, proper=proper,
            estimates="probability" if proper else "other",
        )

    def _smoothed(self, xp: Any, t: Any, y_true: Any) -> Any:
        eps = self.label_smoothing
        if not eps:
            return t
        smooth = (1.0 - eps) * t + eps / t.shape[1]
        valid = self._valid(xp, y_true)
        return smooth if valid is None else smooth * xp.astype(valid, t.dtype)[:, None]

    def _fused(self, xp: Any, y_true: Any) -> bool:
        return is_numpy(xp) and bool(self.from_logits) and y_true.ndim == 1

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._fused(xp, y_true):
            return self._numpy_logits(y_true, y_pred, value=True, gradient=False)[0]
        t = self._smoothed(xp, self._target_rows(xp, y_true, y_pred), y_true)
        log_p = self._log_probs(xp, y_pred)
        # 0·log 0 = 0: a masked class (log p = −inf) with no target mass adds nothing.
        return -xp.sum(t * xp.where(t > 0, log_p, xp.zeros_like(log_p)), axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._fused(xp, y_true):
            return self._numpy_logits(y_true, y_pred, value=False, gradient=True)[1]
        t = self._smoothed(xp, self._target_rows(xp, y_true, y_pred), y_true)
        if self.from_logits:
            return self._probs(xp, y_pred) * xp.sum(t, axis=-1, keepdims=True) - t
        return -t / clip_probabilities(xp, y_pred)

    def _value_and_gradient(self, xp: Any, y_true: Any, y_pred: Any) -> tuple[Any, Any]:
        if self._fused(xp, y_true):
            return self._numpy_logits(y_true, y_pred, value=True, gradient=True)
        return self._per_sample(xp, y_true, y_pred), self._gradient(xp, y_true, y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        if self._fused(xp, y_true):
            _check_logits(xp, y_pred)  # the Hessian does not run the kernel that checks them
        t = self._smoothed(xp, self._target_rows(xp, y_true, y_pred), y_true)
        if self.from_logits:
            p = self._probs(xp, y_pred)
            return xp.sum(t, axis=-1, keepdims=True) * p * (1.0 - p)
        p = clip_probabilities(xp, y_pred)
        return t / (p * p)

    def _numpy_logits(self, y_true: np.ndarray, z: np.ndarray, *, value: bool, gradient: bool) -> tuple:
        """Softmax cross-entropy of one row block with index targets, fused.

        The exponentials are computed once into a block-local buffer that then becomes the
        gradient in place. The row maxima also validate the block (a NaN or +inf makes a
        row maximum non-finite; so does a row of −inf only), so no separate pass checks
        the logits. A row whose maximum m lies in [0, log(max float) − log C − 1] needs no
        shift: e^z cannot overflow its sum and underflows no later than e^{z − m} would;
        when every row of the block is such, the subtraction pass is skipped. For those
        rows Σ e^{z − m} = e^{−m}·Σ e^z is formed in linear space, keeping its relative
        precision. ℓ = (m − z_y) + log Σ e^{z − m}.
        """
        n, n_classes = z.shape
        row_max = z.max(axis=1, keepdims=True)
        low, high = float(row_max.min()), float(row_max.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            _check_logits(np, z)  # raises, naming the bad value
        valid = self._valid(np, y_true)
        labels = y_true.astype(np.intp, copy=False)
        if valid is not None:
            labels = np.where(valid, labels, 0)
        rows = np.arange(n)
        limit = _exp_limit(z.dtype) - math.log(n_classes) - 1.0
        if 0.0 <= low and high <= limit:
            unshifted = None  # every row: e^z
            e = np.exp(z)
        else:
            # Each row decides for itself, so that results never depend on the blocking.
            unshifted = (row_max >= 0.0) & (row_max <= limit)
            e = np.subtract(z, np.where(unshifted, 0.0, row_max))
            np.exp(e, out=e)  # −inf − max → exp(−inf) = 0: a masked class drops out
            unshifted = unshifted[:, 0]
        sums = e.sum(axis=1)
        row_max = row_max[:, 0]
        eps = self.label_smoothing
        loss = None
        if value:
            # log Σ e^{z − m}; unshifted sums are rescaled by e^{−m} first (no cancellation).
            if unshifted is None:
                log_sums = np.log(sums * np.exp(-row_max))
            else:
                log_sums = np.log(np.where(unshifted, sums * np.exp(np.where(unshifted, -row_max, 0.0)), sums))
            loss = row_max - z[rows, labels]
            if eps:
                loss = (1.0 - eps) * loss + eps * (row_max - z.mean(axis=1))
            loss += log_sums
            if valid is not None:
                loss = np.where(valid, loss, 0.0).astype(z.dtype, copy=False)
        grad = None
        if gradient:
            np.reciprocal(sums, out=sums)
            e *= sums[:, None]  # the softmax, in place
            if eps:
                e[rows, labels] -= 1.0 - eps
                e -= eps / n_classes
            else:
                e[rows, labels] -= 1.0
            if valid is not None:
                e *= valid[:, None]
            grad = e
        return loss, grad


@register
class NLL(_ClassAxisLoss):
    r"""Negative log-likelihood of log-probabilities (PyTorch's ``nll_loss``).

    - Formula: :math:`\ell = -\sum_c t_c\,\mathrm{lp}_c` (= −lp_y for an index target), with lp
      the log-probabilities (a log_softmax output).
    - Domains: y_true indices (N,) or distributions (N, C); y_pred (N, C) log-probabilities
      (≤ 0, −inf allowed, rows whose exponentials sum to 1).
    - Gradient −t; Hessian 0 (linear in the log-probabilities).
    - Estimates the probability (it is the log loss, a proper scoring rule).
    - Relations: PyTorch ``nll_loss(input, target, weight, ignore_index)`` (the same; all
      ignored gives 0 here, NaN there); cross_entropy(from_logits=True)(y, z) =
      nll(y, log_softmax(z)).
    - Reference: Fisher (1922), maximum likelihood.

    >>> import losslab as ll, numpy as np
    >>> print(ll.nll([0, 1], np.log([[0.9, 0.1], [0.4, 0.6]])))
    0.30809306971190...
    """

    name = "nll"
    family = "multiclass"
    aliases = ("nll_loss", "NLLLoss", "negative_log_likelihood")
    description = "Negative log-likelihood of log-probabilities (after log_softmax)."
    formula = r"-\sum_c t_c\,\log p_c"
    parameters = (
        Param("class_weight", None, CLASS_WEIGHT, "weight of each class (weights a sample by its true class)"),
        Param("ignore_index", None, IGNORE_INDEX, "index targets equal to this are skipped (weight 0)"),
    )

    @property
    def _kind(self) -> str:
        return "log_probabilities"

    def _traits(self) -> Traits:
        proper = self.class_weight is None
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=NONPOSITIVE, convex=True, lipschitz=True,
            robust=True, classification_calibrated=True, proper=proper,
            estimates="probability" if proper else "other",
            notes=("linear in the log-probabilities",),
        )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        return -xp.sum(t * xp.where(t > 0, y_pred, xp.zeros_like(y_pred)), axis=-1)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return -self._target_rows(xp, y_true, y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


# ----------------------------------------------------------------------------- focal
@register
class Focal(_ClassAxisLoss):
    r"""Focal loss in its softmax form: cross-entropy scaled by (1 − p_c)^γ per class.

    - Formula: :math:`\ell = -\alpha\sum_c t_c (1-p_c)^{\gamma}\log p_c` (= −α(1 − p_y)^γ log p_y
      for an index target).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits
      (``from_logits=True``, −inf allowed). On logits log p = log_softmax(z) and
      (1 − p)^γ = exp(γ·log(1 − e^{log p})), so no logit and no γ < 1 gives NaN.
    - Gradient (logits): with a_c = t_c(1 − p_c)^γ[γ·p_c log p_c/(1 − p_c) − 1],
      ∂ℓ/∂z_k = α(a_k − p_k Σ_c a_c). Probabilities: α t[γ(1 − p)^{γ−1} log p − (1 − p)^γ/p].
      Hessian diagonal: the chain rule once more (see the code; checked against finite
      differences and autograd in the tests).
    - Estimates the probability at γ = 0 (it is α·cross-entropy); for γ > 0 the minimiser is
      a distorted probability (classification-calibrated, not proper), so "other".
    - Relations: Keras ``CategoricalFocalCrossentropy(alpha, gamma)`` (alpha=0.25 there by
      default; None here); focal(gamma=0) = cross_entropy; the binary form is binary_focal.
    - Reference: Lin, Goyal, Girshick, He, Dollár (2017), Focal loss for dense object detection.

    >>> import losslab as ll
    >>> print(round(float(ll.focal([0], [[0.9, 0.05, 0.05]], gamma=2.0)), 6))
    0.001054
    """

    name = "focal"
    family = "multiclass"
    aliases = ("focal_loss", "categorical_focal_crossentropy", "softmax_focal", "CategoricalFocalCrossentropy")
    description = "Softmax focal loss: cross-entropy down-weighting well-classified examples."
    formula = r"-\alpha\sum_c t_c (1-p_c)^{\gamma}\log p_c"
    parameters = (
        Param("gamma", 2.0, V.NONNEGATIVE, "focusing exponent (0 gives cross-entropy)"),
        Param("alpha", None, V.optional(V.interval_rule(0.0, 1.0, False, True)), "a constant factor in (0, 1]"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        ce = self.gamma == 0
        logits = bool(self.from_logits)
        return Traits(
            # −(1 − p)^γ log p is convex in p for every γ ≥ 0, but not in the logits once γ > 0.
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=ce or not logits,
            lipschitz=logits, robust=logits, classification_calibrated=True, proper=ce,
            estimates="probability" if ce else "other",
            notes=() if ce else ("minimiser: a distorted probability (Charoenphakdee et al. 2021)",),
        )

    @property
    def _a(self) -> float:
        return 1.0 if self.alpha is None else float(self.alpha)

    def _logs(self, xp: Any, y_pred: Any) -> tuple[Any, Any]:
        """(log p, log(1 − p)), finite wherever p > 0."""
        if self.from_logits:
            log_p = S.log_softmax(xp, y_pred)
            return log_p, _log1mexp(xp, log_p)
        p = clip_probabilities(xp, y_pred)
        return xp.log(p), xp.log1p(-p)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        log_p, log_1mp = self._logs(xp, y_pred)
        log_p = xp.where(t > 0, log_p, xp.zeros_like(log_p))  # 0·log 0 = 0 for masked classes
        return -self._a * xp.sum(t * xp.exp(self.gamma * log_1mp) * log_p, axis=-1)

    def _pieces(self, xp: Any, y_true: Any, y_pred: Any) -> tuple:
        t = self._target_rows(xp, y_true, y_pred)
        log_p, log_1mp = self._logs(xp, y_pred)
        p = xp.exp(log_p)
        # A masked class (log p = −inf) has p = 0; a finite stand-in keeps 0·(−inf) out.
        log_p = xp.where(log_p > -math.inf, log_p, xp.zeros_like(log_p))
        q_gamma = xp.exp(self.gamma * log_1mp)
        h = log_p * xp.exp(log_p - log_1mp)  # p log p / (1 − p), → −1 as p → 1
        return t, p, log_p, log_1mp, q_gamma, h

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, p, log_p, log_1mp, q_gamma, h = self._pieces(xp, y_true, y_pred)
        g = self.gamma
        if self.from_logits:
            a = t * q_gamma * (g * h - 1.0)
            return self._a * (a - p * xp.sum(a, axis=-1, keepdims=True))
        q_gamma_m1 = xp.exp((g - 1.0) * log_1mp)
        return self._a * t * (g * q_gamma_m1 * log_p - q_gamma / p)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, p, log_p, log_1mp, q_gamma, h = self._pieces(xp, y_true, y_pred)
        g = self.gamma
        if self.from_logits:
            a = t * q_gamma * (g * h - 1.0)
            u = xp.exp(log_p - log_1mp)  # p / (1 − p)
            # v_c = t_c g′(p_c) p_c with g(p) = p f′(p), f(p) = −(1 − p)^γ log p.
            v = g * t * q_gamma * (u * (log_p + 2.0) - (g - 1.0) * u * h)
            # v_k (1 − p_k)², written without the (1 − p)^{γ−2} that overflows as p → 1.
            own = g * t * q_gamma * (p * (1.0 - p) * (log_p + 2.0) - (g - 1.0) * p * p * log_p)
            total_a = xp.sum(a, axis=-1, keepdims=True)
            total_v = xp.sum(v, axis=-1, keepdims=True)
            return self._a * (own - p * (1.0 - p) * total_a + p * p * (total_v - v))
        second = (-g * (g - 1.0) * xp.exp((g - 2.0) * log_1mp) * log_p
                  + 2.0 * g * xp.exp((g - 1.0) * log_1mp) / p + q_gamma / (p * p))
        return self._a * t * second


# ----------------------------------------------------------------------------- hinge
@register
class MulticlassHinge(_ClassAxisLoss):
    r"""Multiclass hinge loss on scores: Weston–Watkins (summed) or Crammer–Singer (max).

    - Formula: with s the scores and y the true class,
      "weston_watkins": :math:`\ell = \sum_{j\ne y}\max(0, m - s_y + s_j)`;
      "crammer_singer": :math:`\ell = \max(0, m - s_y + \max_{j\ne y} s_j)`.
    - Domains: y_true class indices or one-hot rows (hard labels); y_pred (N, C) finite scores;
      margin m > 0; C ≥ 2.
    - Gradient: WW +1 at each violating j, −(number of violations) at y; CS +1 at the
      strongest rival and −1 at y when the margin is violated; 0 elsewhere (subgradients at
      the kinks). Hessian 0.
    - Estimates "other": for more than two classes neither form is classification-calibrated
      (Tewari & Bartlett 2007; Liu 2007); with two classes both reduce to the binary hinge.
    - Relations: PyTorch ``multi_margin_loss(p=1, margin=m)`` is weston_watkins / C (multiply
      by C to convert). Keras ``CategoricalHinge`` and Optax ``multiclass_hinge_loss`` are
      crammer_singer with m = 1 (Keras's for non-negative scores); scikit-learn's multiclass
      ``hinge_loss`` is crammer_singer's mean.
    - Reference: Weston & Watkins (1999); Crammer & Singer (2001).

    >>> import losslab as ll
    >>> print(ll.multiclass_hinge([0], [[1.0, 0.5, -1.0]], reduction="none"))
    [0.5]
    >>> print(ll.multiclass_hinge([0], [[1.0, 0.5, 0.8]], variant="crammer_singer", reduction="none"))
    [0.8]
    """

    name = "multiclass_hinge"
    family = "multiclass"
    # Not PyTorch's multi_margin_loss / MultiMarginLoss: that one divides the sum by C.
    aliases = ("multiclass_svm",)
    preset_aliases = {"categorical_hinge": {"variant": "crammer_singer"}, "CategoricalHinge": {"variant": "crammer_singer"}}
    description = "Multiclass SVM hinge: Weston–Watkins (sum over rivals) or Crammer–Singer (max)."
    formula = r"\sum_{j\ne y}\max(0, m - s_y + s_j)\ \text{or}\ \max(0, m - s_y + \max_{j\ne y}s_j)"
    parameters = (
        Param("margin", 1.0, V.POSITIVE, "the margin the true score must clear"),
        Param("variant", "weston_watkins", V.one_of("weston_watkins", "crammer_singer"), "which multiclass hinge"),
    )
    soft_targets = False
    TRAITS = Traits(
        task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL, convex=True, differentiable=False,
        twice_differentiable=False, lipschitz=True, robust=True, margin_based=True,
        classification_calibrated=False, proper=False, estimates="other",
        notes=("not calibrated for more than two classes (Tewari & Bartlett 2007)",),
    )

    @property
    def _kind(self) -> str:
        return "scores"

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        arrays, options = super()._prepare(xp, arrays, options)
        if arrays[1].shape[1] < 2:
            raise ValueError(
                f"y_pred must have at least 2 classes (columns) for multiclass_hinge; got {arrays[1].shape[1]}"
            )
        return arrays, options

    def _parts(self, xp: Any, y_true: Any, s: Any) -> tuple:
        t = self._target_rows(xp, y_true, s)
        s_true = xp.sum(t * s, axis=-1, keepdims=True)
        rival = t == 0
        if self.variant == "weston_watkins":
            slack = xp.where(rival, self.margin - s_true + s, xp.zeros_like(s))
            return t, slack
        lowest = xp.min(s, axis=-1, keepdims=True) - 1.0
        rivals = xp.where(rival, s, xp.broadcast_to(lowest, s.shape))
        best = xp.max(rivals, axis=-1, keepdims=True)
        slack = self.margin - s_true + best
        return t, (slack, rivals, best)

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, parts = self._parts(xp, y_true, y_pred)
        if self.variant == "weston_watkins":
            return xp.sum(xp.maximum(parts, 0.0), axis=-1)
        return xp.maximum(parts[0], 0.0)[:, 0]

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t, parts = self._parts(xp, y_true, y_pred)
        if self.variant == "weston_watkins":
            active = xp.astype(parts > 0, y_pred.dtype)
            return active - t * xp.sum(active, axis=-1, keepdims=True)
        slack, rivals, best = parts
        active = xp.astype(slack > 0, y_pred.dtype)
        # Rivals tied for the maximum share the subgradient (a convex combination of the
        # tied rivals' gradients): each of k tied rivals gets 1/k, so the directional
        # derivative is right when they all rise together.
        top = xp.astype((rivals == best) & (t == 0), y_pred.dtype)
        top = top / xp.sum(top, axis=-1, keepdims=True)
        return active * (top - t)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return xp.zeros_like(y_pred)


# ----------------------------------------------------------------------------- robust variants
@register
class Poly1(_ClassAxisLoss):
    r"""Poly-1 loss (Leng et al. 2022): cross-entropy plus ε(1 − p_t).

    - Formula: :math:`\ell = -\sum_c t_c\log p_c + \epsilon\,(1 - p_t)`, p_t = Σ_c t_c p_c
      (the probability of the true class for an index target).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits;
      epsilon ≥ −1 (below −1 the loss would reward confident mistakes near p_t = 1).
    - Gradient (logits): p·Σt − t − ε·p(t − p_t); probabilities −t/p − εt. Hessian diagonal
      (logits): Σt·p(1 − p) − ε·p(1 − 2p)(t − p_t); probabilities t/p².
    - Estimates the probability at ε = 0 (cross-entropy); otherwise "other" (ε > 0 pushes
      toward confident predictions, ε < 0 away).
    - Relations: poly1(epsilon=0) = cross_entropy; ε = 2 was best on ImageNet, ε = −1 for detection.
    - Reference: Leng et al. (2022), PolyLoss: a polynomial expansion perspective of
      classification loss functions.

    >>> import losslab as ll
    >>> print(round(float(ll.poly1([0], [[0.5, 0.5]], epsilon=1.0)), 6))
    1.193147
    """

    name = "poly1"
    family = "multiclass"
    aliases = ("poly_1", "polyloss", "poly_loss")
    description = "Cross-entropy plus ε(1 − p_t): a tunable leading polynomial term."
    formula = r"-\sum_c t_c\log p_c + \epsilon(1 - p_t)"
    parameters = (
        Param("epsilon", 1.0, V.Rule(lambda v: V.FINITE.check(v) and v >= -1, "a finite number >= -1"),
              "coefficient of the (1 − p_t) term"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        ce = self.epsilon == 0
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT,
            convex=ce or not logits, lipschitz=logits, robust=logits, classification_calibrated=True,
            proper=ce, estimates="probability" if ce else "other",
        )

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        log_p, p = self._log_probs_and_probs(xp, y_pred)
        ce = -xp.sum(t * xp.where(t > 0, log_p, xp.zeros_like(log_p)), axis=-1)
        p_t = xp.sum(t * p, axis=-1)
        return ce + self.epsilon * (xp.sum(t, axis=-1) - p_t)

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        p = self._probs(xp, y_pred)
        if self.from_logits:
            p_t = xp.sum(t * p, axis=-1, keepdims=True)
            return p * xp.sum(t, axis=-1, keepdims=True) - t - self.epsilon * p * (t - p_t)
        return -t / p - self.epsilon * t

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        p = self._probs(xp, y_pred)
        if self.from_logits:
            p_t = xp.sum(t * p, axis=-1, keepdims=True)
            return xp.sum(t, axis=-1, keepdims=True) * p * (1.0 - p) - self.epsilon * p * (1.0 - 2.0 * p) * (t - p_t)
        return t / (p * p)


@register
class GeneralizedCrossEntropy(_ClassAxisLoss):
    r"""Generalized cross-entropy (Zhang & Sabuncu 2018): the L_q loss (1 − p_y^q)/q.

    - Formula: :math:`\ell = \sum_c t_c\,\frac{1 - p_c^{q}}{q}` (= (1 − p_y^q)/q for an index).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits
      (p^q = exp(q·log_softmax)); 0 < q ≤ 1.
    - Gradient: probabilities −t p^{q−1}; logits −t·P + p·Σ_c t_c P_c with P = p^q. Hessian
      diagonal: probabilities (1 − q) t p^{q−2}; logits −q t P(1 − p) + p(1 − p)T + q p(tP − pT),
      T = Σ_c t_c P_c.
    - Estimates "other": the minimiser is p_c ∝ η_c^{1/(1−q)}, a sharpened probability
      (order-preserving, so classification-calibrated; not proper). Bounded by 1/q, which is
      what makes it robust to noisy labels.
    - Relations: → cross_entropy as q → 0 (the default q = 0.7 is the paper's); q = 1 is
      1 − p_y, half the L1 distance between one-hot and p (MAE on probabilities, up to 2).
    - Reference: Zhang & Sabuncu (2018), Generalized cross entropy loss for training deep
      neural networks with noisy labels.

    >>> import losslab as ll
    >>> print(round(float(ll.generalized_cross_entropy([0], [[0.25, 0.75]], q=0.5)), 6))
    1.0
    """

    name = "generalized_cross_entropy"
    family = "multiclass"
    aliases = ("gce", "lq_loss", "truncated_lq")
    description = "L_q loss (1 − p_y^q)/q: between cross-entropy (q → 0) and MAE (q = 1); noise-robust."
    formula = r"\frac{1 - p_y^{q}}{q}"
    parameters = (
        Param("q", 0.7, V.interval_rule(0.0, 1.0, False, True), "exponent in (0, 1]: 0 → cross-entropy, 1 → MAE"),
        _FROM_LOGITS,
    )

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        # On probabilities: (1 − p^q)/q is convex ((1 − q)p^{q−2} > 0) with gradient −p^{q−1},
        # unbounded as p → 0 unless q = 1; on logits its gradient is bounded, its shape not convex.
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, bounded=True,
            lipschitz=logits or self.q == 1, robust=logits or self.q == 1, classification_calibrated=True,
            proper=False, convex=not logits, estimates="other",
            notes=("minimiser p_c ∝ η_c^{1/(1−q)}",),
        )

    def _powers(self, xp: Any, y_pred: Any) -> Any:
        if self.from_logits:
            return xp.exp(self.q * S.log_softmax(xp, y_pred))
        return clip_probabilities(xp, y_pred) ** self.q

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        return xp.sum(t * (1.0 - self._powers(xp, y_pred)), axis=-1) / self.q

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        power = self._powers(xp, y_pred)
        if self.from_logits:
            p = self._probs(xp, y_pred)
            return -t * power + p * xp.sum(t * power, axis=-1, keepdims=True)
        return -t * power / clip_probabilities(xp, y_pred)

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        power, q = self._powers(xp, y_pred), self.q
        if self.from_logits:
            p = self._probs(xp, y_pred)
            total = xp.sum(t * power, axis=-1, keepdims=True)
            return -q * t * power * (1.0 - p) + p * (1.0 - p) * total + q * p * (t * power - p * total)
        p = clip_probabilities(xp, y_pred)
        return (1.0 - q) * t * power / (p * p)


@register
class SymmetricCrossEntropy(_ClassAxisLoss):
    r"""Symmetric cross-entropy (Wang et al. 2019): α·CE(t, p) + β·CE(p, t), the reverse term
    with log 0 taken as A = −4.

    - Formula: :math:`\ell = -\alpha\sum_c t_c\log p_c - \beta\sum_c p_c\,\max(\log t_c, A)`,
      A = −4; for an index target the reverse term is −A(1 − p_y) = 4(1 − p_y).
    - Domains: y_true indices or distributions; y_pred probability rows (clipped) or logits;
      alpha ≥ 0, beta ≥ 0, not both 0.
    - Gradient: α·CE's gradient plus β times: probabilities −L; logits −p(L − Σ_c p_c L_c),
      L = max(log t, A). Hessian diagonal: α·CE's plus β times −p(1 − 2p)(L − Σ p L) (logits)
      or 0 (probabilities).
    - Estimates "other": the minimiser is order-preserving in η (calibrated) but not η.
    - Relations: alpha=1, beta=0 is cross_entropy; the reverse term alone is 4·(1 − p_y), a
      multiple of MAE on probabilities (noise-robust).
    - Reference: Wang, Ma, Chen, Luo, Yi, Bailey (2019), Symmetric cross entropy for robust
      learning with noisy labels.

    >>> import losslab as ll
    >>> print(round(float(ll.symmetric_cross_entropy([0], [[0.5, 0.5]], alpha=0.1, beta=1.0)), 6))
    2.069315
    """

    name = "symmetric_cross_entropy"
    family = "multiclass"
    aliases = ("sce", "symmetric_ce")
    description = "α·CE + β·reverse CE: cross-entropy made robust to label noise."
    formula = r"-\alpha\sum_c t_c\log p_c - \beta\sum_c p_c\log t_c"
    parameters = (
        Param("alpha", 0.1, V.NONNEGATIVE, "weight of cross-entropy"),
        Param("beta", 1.0, V.NONNEGATIVE, "weight of reverse cross-entropy"),
        _FROM_LOGITS,
    )
    LOG_ZERO = -4.0

    def _check_params(self) -> None:
        if self.alpha == 0 and self.beta == 0:
            raise ValueError("symmetric_cross_entropy: alpha and beta must not both be 0; got alpha=0, beta=0")

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT,
            convex=not logits or self.beta == 0, lipschitz=logits or self.alpha == 0, robust=logits or self.alpha == 0,
            classification_calibrated=True, proper=self.beta == 0,
            estimates="probability" if self.beta == 0 else "other",
        )

    def _reverse_coef(self, xp: Any, t: Any) -> Any:
        floor = math.exp(self.LOG_ZERO)
        safe = xp.where(t > floor, t, xp.ones_like(t))
        return -xp.where(t > floor, xp.log(safe), xp.full_like(t, self.LOG_ZERO))

    def _ce(self) -> CrossEntropy:
        return CrossEntropy(from_logits=self.from_logits)

    def _combine(self, xp: Any, y_true: Any, y_pred: Any, want: str) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        ce = self._ce()
        ce_part = {"value": ce._per_sample, "gradient": ce._gradient, "hessian": ce._hessian}[want](xp, t, y_pred)
        rce = _linear_in_p(xp, self._kind, y_pred, self._reverse_coef(xp, t), want)
        return self.alpha * ce_part + self.beta * rce

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._combine(xp, y_true, y_pred, "value")

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._combine(xp, y_true, y_pred, "gradient")

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return self._combine(xp, y_true, y_pred, "hessian")


@register
class CostSensitive(_ClassAxisLoss):
    r"""Expected misclassification cost: ℓ = Σ_c p_c K[y, c] for a cost matrix K.

    - Formula: :math:`\ell = \sum_k t_k \sum_c K_{kc}\,p_c` (= Σ_c K[y, c] p_c for an index
      target): the expected cost when predicting class c with probability p_c. K[k, c] is the
      cost of predicting c when the truth is k (mistaking a cat for a dog can cost less than
      mistaking it for a tiger). None means 1 − I: the expected 0-1 error 1 − p_y.
    - Domains: y_true indices or distributions; y_pred probability rows or logits; cost_matrix
      (C, C), finite and non-negative.
    - Gradient: probabilities k = Kᵀt (row y of K); logits p(k − Σ_c p_c k_c). Hessian
      diagonal: 0 (probabilities); p(1 − 2p)(k − Σ p k) (logits).
    - Estimates the mode with 0-1 costs (the default); otherwise "other": the minimiser puts
      all mass on the cost-sensitive Bayes decision argmin_c Σ_k η_k K[k, c], not on a probability.
    - Relations: a differentiable surrogate of scikit-learn-style cost-sensitive evaluation
      (Elkan 2001); cost_matrix = 1 − I gives 1 − p_y.
    - Reference: Elkan (2001), The foundations of cost-sensitive learning.

    >>> import losslab as ll
    >>> costs = [[0, 1, 10], [1, 0, 1], [10, 1, 0]]  # cat, dog, tiger
    >>> print(ll.cost_sensitive([0, 0], [[0.8, 0.2, 0.0], [0.8, 0.0, 0.2]], cost_matrix=costs, reduction="none"))
    [0.2 2. ]
    """

    name = "cost_sensitive"
    family = "multiclass"
    aliases = ("expected_cost", "cost_sensitive_loss")
    description = "Expected misclassification cost Σ_c p_c K[y, c] under a cost matrix."
    formula = r"\sum_c K_{y c}\,p_c"
    parameters = (
        Param("cost_matrix", None, COST_MATRIX, "K[true, predicted]; None: every mistake costs 1"),
        _FROM_LOGITS,
    )

    def _n_classes_param(self) -> int | None:
        return None if self.cost_matrix is None else len(np.asarray(self.cost_matrix))

    def _traits(self) -> Traits:
        logits = bool(self.from_logits)
        zero_one = self.cost_matrix is None
        return Traits(
            task="multiclass", y_true_domain=UNIT, y_pred_domain=REAL if logits else UNIT, convex=not logits,
            lipschitz=True, bounded=True, robust=True, classification_calibrated=True if zero_one else None,
            proper=False, estimates="mode" if zero_one else "other",
            notes=("minimiser: one-hot at the cost-sensitive Bayes decision (the mode for 0-1 costs)",),
        )

    def _coef(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        t = self._target_rows(xp, y_true, y_pred)
        n = y_pred.shape[1]
        k = np.ones((n, n)) - np.eye(n) if self.cost_matrix is None else np.asarray(self.cost_matrix, dtype=float)
        k = xp.astype(xp.asarray(k, device=device(y_pred)), y_pred.dtype)
        return t @ k

    def _per_sample(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return _linear_in_p(xp, self._kind, y_pred, self._coef(xp, y_true, y_pred), "value")

    def _gradient(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return _linear_in_p(xp, self._kind, y_pred, self._coef(xp, y_true, y_pred), "gradient")

    def _hessian(self, xp: Any, y_true: Any, y_pred: Any) -> Any:
        return _linear_in_p(xp, self._kind, y_pred, self._coef(xp, y_true, y_pred), "hessian")


# ----------------------------------------------------------------------------- helper
def class_balanced_weights(counts: Any, beta: float = 0.999) -> np.ndarray:
    r"""Class weights from the effective number of samples (Cui et al. 2019).

    :math:`w_c \propto (1-\beta)/(1-\beta^{n_c})`, normalised so that the weights sum to the
    number of classes. β = 0 gives equal weights; β → 1 gives inverse class frequency.
    Pass the result as ``class_weight=`` to cross_entropy (or nll).

    - Domains: counts, one positive count per class; 0 ≤ beta < 1.
    - Reference: Cui, Jia, Lin, Song, Belongie (2019), Class-balanced loss based on effective
      number of samples. For 9900 : 100 samples the minority weight is 10.5x the majority's at
      β = 0.999 and 63.2x at β = 0.9999 (inverse frequency: 99x).

    >>> import losslab as ll
    >>> w = ll.class_balanced_weights([9900, 100], beta=0.999)
    >>> print(round(float(w[1] / w[0]), 1))
    10.5
    """
    try:
        n = np.asarray(counts, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"counts must be a 1-D sequence of class counts; got {type(counts).__name__}") from None
    if n.ndim != 1 or n.size == 0:
        raise ValueError(f"counts must be a 1-D sequence with one count per class; got shape {n.shape}")
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ValueError(f"counts must be finite and positive (a class with no sample has no weight); got {n.tolist()}")
    V.check_param("class_balanced_weights", "beta", beta, V.HALF_OPEN_UNIT)
    # Effective number (1 − β^n)/(1 − β), with expm1: exact as β → 1 where 1 − β^n cancels.
    effective = -np.expm1(n * np.log(beta)) / (1.0 - beta) if beta > 0 else np.ones_like(n)
    weights = 1.0 / effective
    return weights * (n.size / weights.sum())


cross_entropy = functional(CrossEntropy)
nll = functional(NLL)
focal = functional(Focal)
multiclass_hinge = functional(MulticlassHinge)
poly1 = functional(Poly1)
generalized_cross_entropy = functional(GeneralizedCrossEntropy)
symmetric_cross_entropy = functional(SymmetricCrossEntropy)
cost_sensitive = functional(CostSensitive)
