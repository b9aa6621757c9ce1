"""Sampled softmax objectives for large vocabularies: ``sampled_softmax`` and ``nce``, on the
logits of the true class and K sampled classes with their log sampling probabilities.

Family "multiclass"; a module of its own only to keep each file readable. Each docstring
gives, in order: the formula, the domains, the gradient and Hessian diagonal, the statistic
the minimiser estimates, the relation to the peers' conventions, a reference, and an
example the tests run.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device

from .. import _stable as S
from .. import _validate as V
from .._array import float_dtype, is_tracing
from ..loss import Loss, register
from ..traits import REAL, Traits


# ----------------------------------------------------------------------------- sampled objectives
class _SampledLoss(Loss):
    """Inputs of the sampled objectives: ``(logits, log_q)``, both (N, 1 + K).

    Column 0 holds the true class, columns 1..K the K classes sampled from a proposal Q
    (the caller draws them and gathers their logits, as TensorFlow's candidate samplers
    do); ``log_q`` holds log Q(class) of the same entries. A sampled logit of −inf drops out
    (the way to remove an accidental hit, a sampled class equal to the true one); the true
    class's logit must be finite. Only the logits are differentiated.
    """

    family = "multiclass"
    inputs = ("logits", "log_q")
    differentiable_inputs = ("logits",)
    event_ndim = 1

    def _prepare(self, xp: Any, arrays: tuple, options: dict) -> tuple[tuple, dict]:
        logits, log_q = arrays
        if logits.ndim != 2 or logits.shape[1] < 2:
            raise ValueError(
                f"logits must have shape (n_samples, 1 + n_sampled): the true class's logit in column 0, then"
                f" at least one sampled class; got shape {tuple(logits.shape)}"
            )
        if tuple(log_q.shape) != tuple(logits.shape):
            raise ValueError(
                f"log_q must have the shape of logits, one log proposal probability per entry; got"
                f" {tuple(log_q.shape)} and {tuple(logits.shape)}"
            )
        dtype = float_dtype(xp, logits, log_q)
        return (xp.astype(logits, dtype, copy=False), xp.astype(log_q, dtype, copy=False)), options

    def _check_values(self, xp: Any, arrays: tuple, options: dict) -> None:
        logits, log_q = arrays
        V.check_finite(xp, logits, "logits", allow_neg_inf=True)
        V.check_finite(xp, log_q, "log_q")
        true = logits[:, 0]
        if is_tracing(true):
            V.traced_invalid(xp, true == -math.inf, "logits[:, 0] (the true class) must be finite")
        elif V.concrete(xp.any(true == -math.inf)):
            raise ValueError(
                "logits[:, 0] holds the true class's logit and must be finite; got -inf (only a sampled"
                " class, columns 1.., may be masked)"
            )


@register
class SampledSoftmax(_SampledLoss):
    r"""Sampled softmax (Jean et al. 2015): softmax cross-entropy over the true class and K
    sampled classes, each logit corrected by −log Q of the proposal.

    - Formula: with c_j = z_j − log Q_j (j = 0 the true class, 1..K the sampled ones),
      :math:`\ell = -c_0 + \log\sum_{j=0}^{K} e^{c_j}`.
    - Domains: logits (N, 1 + K), real, the true class in column 0, a sampled entry −inf to
      drop it; log_q (N, 1 + K) finite log proposal probabilities. A constant added to a
      row of log_q changes nothing, so log expected counts (log kQ) give the same loss.
    - Gradient softmax(c) − e₀; Hessian diagonal softmax(c)(1 − softmax(c)).
    - Estimates "other": a biased estimate of the full softmax cross-entropy whose bias
      vanishes as K grows (Bengio & Senécal 2008); with Q uniform and every class sampled it
      is cross_entropy(from_logits=True) with the true class first.
    - Relations: TensorFlow's ``tf.nn.sampled_softmax_loss(weights, biases, labels, inputs,
      num_sampled, num_classes, remove_accidental_hits=True)`` with num_true=1 computes these
      logits itself (inputs·weightsᵀ + biases, minus log of the sampler's expected counts,
      accidental hits masked) and then this loss; here the caller passes the gathered logits
      and log Q. PyTorch has none (pytorch#1362).
    - Reference: Jean, Cho, Memisevic, Bengio (2015), On using very large target vocabulary
      for neural machine translation (ACL); Bengio & Senécal (2008), Adaptive importance
      sampling to accelerate training of a neural probabilistic language model.

    >>> import losslab as ll, numpy as np
    >>> print(round(float(ll.sampled_softmax([[2.0, 1.0, 0.0]], np.log([[0.5, 0.25, 0.25]]))), 6))
    0.696357
    """

    name = "sampled_softmax"
    aliases = ("sampled_softmax_cross_entropy",)
    description = "Softmax cross-entropy over the true and K sampled classes, logits minus log Q."
    formula = r"-c_0 + \log\sum_{j=0}^{K} e^{c_j},\ c_j = z_j - \log Q_j"
    TRAITS = Traits(
        task="multiclass", y_true_domain=REAL, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
        estimates="other", notes=("a biased estimate of full softmax cross-entropy; consistent as K grows",),
    )

    def _parts(self, xp: Any, logits: Any, log_q: Any) -> tuple[Any, Any, Any]:
        log_s, s = S.log_softmax_and_softmax(xp, logits - log_q)
        e0 = xp.astype(xp.arange(logits.shape[1], device=device(logits)) == 0, logits.dtype)
        return log_s, s, e0[None, :]

    def _per_sample(self, xp: Any, logits: Any, log_q: Any) -> Any:
        return -self._parts(xp, logits, log_q)[0][:, 0]

    def _value_and_gradient(self, xp: Any, logits: Any, log_q: Any) -> tuple[Any, Any]:
        log_s, s, e0 = self._parts(xp, logits, log_q)
        return -log_s[:, 0], s - e0

    def _gradient(self, xp: Any, logits: Any, log_q: Any) -> Any:
        return self._value_and_gradient(xp, logits, log_q)[1]

    def _hessian(self, xp: Any, logits: Any, log_q: Any) -> Any:
        s = self._parts(xp, logits, log_q)[1]
        return s * (1.0 - s)


@register
class NCE(_SampledLoss):
    r"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010; Mnih & Teh 2012): the true class
    against K noise samples, by logistic regression on score minus log(K·Q).

    - Formula: with Δ_j = z_j − log Q_j − log K (z the unnormalised log-scores, Q the noise
      distribution, K = number of noise columns),
      :math:`\ell = -\log\sigma(\Delta_0) - \sum_{j=1}^{K}\log(1 - \sigma(\Delta_j))
      = \mathrm{softplus}(-\Delta_0) + \sum_{j\ge1}\mathrm{softplus}(\Delta_j)`.
    - Domains: logits (N, 1 + K) real, the true class in column 0, a noise entry −inf to
      drop it; log_q (N, 1 + K) finite log noise probabilities log Q (not log K·Q: the
      log K is added here).
    - Gradient σ(Δ₀) − 1 on the true class, σ(Δ_j) on each noise sample; Hessian diagonal
      σ(Δ)(1 − σ(Δ)).
    - Estimates the probability: the expected loss is minimised by z = log p_data (self-
      normalised scores, no partition function), for any K (Gutmann & Hyvärinen 2010, Thm. 1).
    - Relations: TensorFlow's ``tf.nn.nce_loss`` subtracts log of the sampler's expected
      counts, which is log K·Q for sampling with replacement, and sums the sigmoid
      cross-entropies: the same; for its default unique sampling pass log_q =
      log(expected count) − log K. Unlike sampled_softmax, a constant added to log_q
      changes the loss.
    - Reference: Gutmann & Hyvärinen (2010), Noise-contrastive estimation: a new estimation
      principle for unnormalized statistical models (AISTATS); Mnih & Teh (2012), A fast and
      simple algorithm for training neural probabilistic language models (ICML), eq. (6).

    >>> import losslab as ll, numpy as np
    >>> print(round(float(ll.nce([[1.0, 0.0]], np.log([[0.5, 0.5]]))), 6))
    1.26746
    """

    name = "nce"
    aliases = ("noise_contrastive_estimation",)
    description = "Noise-contrastive estimation: logistic loss of the true class against K noise samples."
    formula = r"\mathrm{softplus}(-\Delta_0) + \sum_{j\ge1}\mathrm{softplus}(\Delta_j),\ \Delta = z - \log KQ"
    TRAITS = Traits(
        task="multiclass", y_true_domain=REAL, y_pred_domain=REAL, convex=True, lipschitz=True, robust=True,
        estimates="probability", notes=("minimiser: self-normalised log-probabilities (z = log p_data)",),
    )

    def _parts(self, xp: Any, logits: Any, log_q: Any) -> tuple[Any, Any]:
        """(Δ, y): the corrected logits and +1 for the true column, −1 for the noise ones."""
        delta = logits - log_q - math.log(logits.shape[1] - 1)
        sign = 1.0 - 2.0 * xp.astype(xp.arange(logits.shape[1], device=device(logits)) > 0, logits.dtype)
        return delta, sign[None, :]

    def _per_sample(self, xp: Any, logits: Any, log_q: Any) -> Any:
        delta, sign = self._parts(xp, logits, log_q)
        return xp.sum(S.softplus(xp, -sign * delta), axis=-1)

    def _gradient(self, xp: Any, logits: Any, log_q: Any) -> Any:
        delta, sign = self._parts(xp, logits, log_q)
        return -sign * S.sigmoid(xp, -sign * delta)

    def _hessian(self, xp: Any, logits: Any, log_q: Any) -> Any:
        delta, _ = self._parts(xp, logits, log_q)
        return S.sigmoid(xp, delta) * S.sigmoid(xp, -delta)
